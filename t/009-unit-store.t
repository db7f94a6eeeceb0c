#!/usr/bin/perl

# Unit test: the one reader of a key record (apiauth_store.c)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Apiauth::Unit;

run_unit('test_store');
