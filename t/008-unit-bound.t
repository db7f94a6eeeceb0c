#!/usr/bin/perl

# Unit test: the canonical request's bound holds for adversarial requests
# (t/unit/test_bound.c prints the TAP).

use strict;
use warnings;

use Cwd qw(abs_path);
use FindBin;

my $repo = abs_path("$FindBin::Bin/..");
my $build = $ENV{APIAUTH_BUILD} || "$repo/build";
my $bin = "$build/unit/test_bound";

unless (-f $bin && -x _) {
    print "Bail out! $bin is missing: run `make unit`\n";
    exit 255;
}

exec { $bin } $bin or print "Bail out! cannot run $bin: $!\n";

exit 255;
