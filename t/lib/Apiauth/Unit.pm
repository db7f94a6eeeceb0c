package Apiauth::Unit;

# Runs a C unit test (t/unit/NAME.c, built by `make unit`) in place of the
# calling .t file, so that its TAP is the test's: APIAUTH_BUILD names the
# build directory; t/data, the known-answer vectors, is handed over as
# argv[1].  A missing binary is a broken build, never a reason to skip.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Exporter qw(import);

our @EXPORT = qw(run_unit);

sub run_unit {
    my ($name) = @_;
    my $repo = abs_path(dirname(__FILE__) . '/../../..');
    my $build = $ENV{APIAUTH_BUILD} || "$repo/build";
    my $data = "$repo/t/data";
    my $bin = "$build/unit/$name";

    unless (-f $bin && -x _) {
        print "Bail out! $bin is missing: run `make unit`"
            . " (or set APIAUTH_BUILD to the build directory)\n";
        exit 255;
    }

    exec { $bin } $bin, $data
        or print "Bail out! cannot run $bin: $!\n";

    exit 255;
}

1;
