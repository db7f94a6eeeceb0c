#!/usr/bin/perl

# The repository stands alone: no file refers to a path outside it, so that
# a fresh clone with nothing beside it builds, tests and demonstrates
# itself.  A relative path ("../x") must resolve inside the repository from
# the file that names it and name something there; nothing names the
# workplace's own directories.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Find;
use File::Spec;
use Test::More;
use Apiauth::Test;

my $root = $Apiauth::Test::ROOT;

# strings that look like paths and are data: an attack sent as a header
my %DATA = ('t/028-access-malformed.t' => qr{'\.\./\.\./\.\./etc/passwd'});

# the files of the repository: git's list in a checkout, else the tree
my @files = grep { -f "$root/$_" }
    split /\n/, `git -C '$root' ls-files 2>/dev/null`;
unless (@files) {
    find({ no_chdir => 1, wanted => sub {
        $File::Find::prune = 1 if m{/(?:\.git|build)$};
        push @files, File::Spec->abs2rel($_, $root) if -f;
    } }, $root);
}
ok(@files > 50, scalar(@files) . ' files to read');

my @bad;
for my $file (@files) {
    # this file names what it looks for
    next if $file eq 't/000-standalone.t';

    open my $f, '<:raw', "$root/$file" or next;
    my $text = do { local $/; <$f> };
    next if $text =~ /\0/;    # not text

    my @dir = grep { length } split m{/}, ($file =~ m{^(.*)/} ? $1 : '');
    my $line = 0;
    for (split /\n/, $text) {
        $line++;
        push @bad, "$file:$line names a directory of the workplace: $_"
            if m{(?:^|[^\w.])/work/|\.\./shared\b|\bshared/reference\b};

        next if $DATA{$file} && $_ =~ $DATA{$file};

        # "../" runs that start a path, as in "../x/y" or "'/../../..'";
        # within a path ("/api/x/../y") they are a URL's, not a file's
        while (m{(?<![\w.])(?<!\w/)((?:\.\./)+(?:\.\.(?![\w.]))?)([\w.-]+(?:/[\w.-]+)*)?}g) {
            my ($ups, $rest) = ($1, $2 // '');
            my $n = () = $ups =~ /\.\./g;
            if ($n > @dir) {
                push @bad, "$file:$line leaves the repository: $ups$rest";
                next;
            }
            my $to = join '/', @dir[0 .. $#dir - $n], length $rest ? $rest : ();
            push @bad, "$file:$line names what is not in the repository: "
                . "$ups$rest" unless -e "$root/$to" || $to =~ m{^build(?:/|$)};
        }
    }
}
is_deeply(\@bad, [], 'no file refers to a path outside the repository')
    or diag(join "\n", @bad);

done_testing;
