#!/usr/bin/perl

# The Perl signer (t/lib/Apiauth/Sign.pm, for bulk signing in tests and the
# bench) reproduces every reference vector.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Apiauth::Test;
use Apiauth::Sign qw(canonical_request sign_request);

my $file = "$Apiauth::Test::REFERENCE/vectors.json";
open my $f, '<', $file or die "$file: $!\n";
my $vectors = decode_json(do { local $/; <$f> });
ok(@$vectors >= 5, 'the reference has its vectors');

for my $v (@$vectors) {
    my @signed = sort { $a cmp $b }
        keys %{ { map { lc $_->[0] => 1 } @{ $v->{headers} } } };
    is(canonical_request($v->{method}, $v->{target}, $v->{headers},
        \@signed), $v->{canonical_request}, "$v->{name}: canonical request");
    is(sign_request(access_key => $v->{access_key}, secret => $v->{secret},
        method => $v->{method}, target => $v->{target},
        headers => $v->{headers}), $v->{authorization},
        "$v->{name}: Authorization");
}

done_testing;
