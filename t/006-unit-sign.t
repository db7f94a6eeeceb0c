#!/usr/bin/perl

# Unit test: the request signature against every vector of the reference's
# vectors.json (apiauth_sign.c)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Apiauth::Unit;

run_unit('test_sign');
