#!/usr/bin/perl

# Unit test: policies: their forms, the GCRA and the quota periods (apiauth_policy.c)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Apiauth::Unit;

run_unit('test_policy');
