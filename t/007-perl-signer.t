#!/usr/bin/perl

# The Perl signer (t/lib/Apiauth/Sign.pm), with which every test and the
# bench sign, reproduces every known-answer vector of t/data: canonical
# request, Authorization, the headers it sends, and the accessSecret and
# master key id of each secret vector.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Apiauth::Test;
use Apiauth::Sign qw(canonical_request sign_request signed_headers
    derive_secret key_id);

# JSON strings as bytes: a vector's non-ASCII values are UTF-8 as sent
sub load {
    my ($name) = @_;
    my $file = "$Apiauth::Test::DATA/$name";
    open my $f, '<:raw', $file or die "$file: $!\n";
    return JSON::PP->new->decode(do { local $/; <$f> });
}

my $vectors = load('vectors.json');
ok(@$vectors >= 10, 'the vectors are there (' . @$vectors . ')');

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

# signed_headers, as the tests send requests: the simple GET's headers
my ($simple) = grep { $_->{name} eq 'simple-get' } @$vectors;
is_deeply([signed_headers(access_key => 'AK1234567890',
        secret => 'secret-for-vectors-only',
        url => 'http://api.example.com/api/orders', date => '1764000000',
        nonce => '0123456789abcdef')],
    [@{ $simple->{headers} }, ['Authorization', $simple->{authorization}]],
    'signed_headers: Host, date, nonce and Authorization of simple-get');

my ($post) = grep { $_->{name} eq 'post-with-body-hash' } @$vectors;
my %h = map { lc $_->[0] => $_->[1] } signed_headers(
    access_key => 'AK1234567890', secret => 'secret-for-vectors-only',
    method => 'POST', url => 'http://api.example.com/api/orders',
    headers => [['Content-Type', ' application/json ']],
    body => $post->{body}, sign_body => 1, date => '1764000000',
    nonce => 'abcdefabcdef0123');
is($h{authorization}, $post->{authorization},
    'signed_headers: a body hash and an extra header, trimmed, as '
    . 'post-with-body-hash');

for my $s (@{ load('secret-vectors.json') }) {
    (my $hex = $s->{master_key_file}) =~ s/\s+//g;
    my $master = pack 'H*', $hex;
    is(derive_secret($master, $s->{access_key}, $s->{salt}),
        $s->{access_secret}, "accessSecret of $s->{access_key}");
    is(key_id($master), $s->{master_key_id}, "master key id $s->{master_key_id}");
}

done_testing;
