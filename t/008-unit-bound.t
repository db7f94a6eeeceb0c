#!/usr/bin/perl

# Unit test: the canonical request's bound on adversarial requests
# (apiauth_sign.c)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Apiauth::Unit;

run_unit('test_bound');
