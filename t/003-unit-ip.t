#!/usr/bin/perl

# Unit test: IP whitelist entries: parsing, canonical texts, matching and
# lists (apiauth_ip.c)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Apiauth::Unit;

run_unit('test_ip');
