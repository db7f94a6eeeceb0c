#!/usr/bin/perl

# Unit tests of IP whitelist entries: parsing, canonical texts, matching and
# lists (apiauth_ip.c).
#
# The C program test_ip (t/unit/test_ip.c, built by `make unit`)
# prints the TAP itself: this wrapper finds it and exec()s it, so that its
# TAP is this test's.  APIAUTH_BUILD names the build directory (default:
# build/ in the repository); APIAUTH_REFERENCE the reference directory,
# handed over as argv[1] (default: ../shared/reference beside the
# repository).

use strict;
use warnings;

use Cwd qw(abs_path);
use FindBin;

my $repo = abs_path("$FindBin::Bin/..");
my $build = $ENV{APIAUTH_BUILD} || "$repo/build";
my $reference = $ENV{APIAUTH_REFERENCE} || "$repo/../shared/reference";
my $bin = "$build/unit/test_ip";

# a missing binary is a broken build, never a reason to skip

unless (-f $bin && -x _) {
    print "Bail out! $bin is missing: run `make unit`"
        . " (or set APIAUTH_BUILD to the build directory)\n";
    exit 255;
}

exec { $bin } $bin, $reference
    or print "Bail out! cannot run $bin: $!\n";

exit 255;
