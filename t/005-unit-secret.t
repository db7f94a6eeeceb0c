#!/usr/bin/perl

# Unit test: secret derivation and master key ids against every entry of the
# reference's secret-vectors.json (apiauth_secret.c)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Apiauth::Unit;

run_unit('test_secret');
