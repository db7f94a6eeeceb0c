#!/usr/bin/perl

# Unit test: key formats: accessKeys, names, descriptions, salts
# (apiauth_key.c)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Apiauth::Unit;

run_unit('test_key');
