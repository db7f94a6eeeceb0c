#!/usr/bin/perl

# Unit test: SipHash-2-4 for the shared memory tables (apiauth_hash.c)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Apiauth::Unit;

run_unit('test_hash');
