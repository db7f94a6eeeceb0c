#!/usr/bin/perl

# Unit test: scopes: lists, "all" and matching (apiauth_scope.c)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Apiauth::Unit;

run_unit('test_scope');
