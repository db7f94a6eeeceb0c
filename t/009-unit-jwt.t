#!/usr/bin/perl

# Unit test: JSON Web Tokens: RFC 7515 and RFC 8037 vectors, the strict
# reader's refusals, the pinned algorithm, the claims (apiauth_jwt.c)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Apiauth::Unit;

run_unit('test_jwt');
