#!/usr/bin/perl

# apiauth signature: nginx with the module admits every known-answer
# vector of t/data as it is sent (re-signed with a key of the store: the
# string to sign names no key); requests signed in the vectors' shapes pass
# (query sorting and normalisation, a signed body hash, repeated and folded
# headers, an encoded slash and plus, Host and path exactly as sent);
# tampering with each signed element fails, with
# bad_signature or, for broken syntax, malformed_credentials; an unsigned
# extra header passes; the clock skew window holds at its edges.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP;
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my $key = $t->create_key('--name', 'Signer', '--access-key', 'SignKey00001');
my $other = $t->create_key('--name', 'Other', '--access-key', 'SignKey00002');

$t->write_nginx_conf(nginx_conf(server => <<'EOF', servers => <<'EOF2'));
        location /api/ { apiauth signature; @@BACKEND@@ }
        location /files/ { apiauth signature; @@BACKEND@@ }
        location /skew/ {
            apiauth signature;
            apiauth_clock_skew 60s;
            @@BACKEND@@
        }
EOF
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name api.example.com files.example.com;
        access_log %%PREFIX%%/apiauth.log apiauth;
        # the vectors are dated 2025-11-24
        apiauth_clock_skew 3650d;
        location / { apiauth signature; @@BACKEND@@ }
    }
EOF2
$t->start_nginx;

###############################################################################
# the module against the known-answer vectors, through nginx: each sent
# with its headers and body as they are, its Authorization made with a key
# of the store over the vector's own string to sign

my $file = "$Apiauth::Test::DATA/vectors.json";
open my $vf, '<:raw', $file or die "$file: $!\n";
my $vectors = JSON::PP->new->decode(do { local $/; <$vf> });
close $vf;

for my $v (@$vectors) {
    my ($signed) = $v->{authorization} =~ /SignedHeaders=([^,]+)/;
    my $auth = "APIAUTH-HMAC-SHA256 Credential=$key->{access_key}, "
        . "SignedHeaders=$signed, Signature="
        . hmac_sha256_hex($v->{string_to_sign}, $key->{access_secret});
    my $r = send_raw($t, build_request($v->{method}, $v->{target},
        [@{ $v->{headers} }, ['Authorization', $auth]], $v->{body}));
    expect_ok($t, $r, $key, "vector $v->{name}");
}

###############################################################################
# valid requests in the vectors' shapes

my $r = send_signed($t, key => $key, target => '/api/orders');
expect_ok($t, $r, $key, 'a signed GET');
is($r->{body}, "backend GET /api/orders\n", 'the backend got the request');

$r = send_signed($t, key => $key,
    target => '/api/orders/%7e42?b=2&a=%7a&a=1&flag&%2a=x&empty=');
expect_ok($t, $r, $key, 'query sorted and normalised, %7e in the path');

$r = send_signed($t, key => $key, method => 'POST', target => '/api/orders',
    headers => [['Content-Type', 'application/json']],
    body => '{"item":"book","qty":2}', sign_body => 1);
expect_ok($t, $r, $key, 'a POST with X-Apiauth-Content-SHA256');
like($r->{request}, qr/^X-Apiauth-Content-SHA256: [0-9a-f]{64}\r$/m,
    '(the POST carried the body hash)');

$r = send_signed($t, key => $key, method => 'POST', target => '/api/orders',
    body => 'unsigned body');
expect_ok($t, $r, $key, 'a POST with an unsigned body (UNSIGNED-PAYLOAD)');

$r = send_signed($t, key => $key, method => 'PUT', target => '/api/users/7',
    headers => [['X-Tenant', 'acme corp'], ['X-Tenant', 'beta']],
    edit => sub {
        for (@{ $_[0] }) {
            $_->[1] = "acme \t  corp" if $_->[1] eq 'acme corp';
        }
    });
expect_ok($t, $r, $key, 'repeated X-Tenant signed, inner white space folded');

$r = send_signed($t, key => $key, method => 'DELETE',
    target => '/files/a%2fb/c+d?q=a+b&r=%2F');
expect_ok($t, $r, $key, 'an encoded slash and a plus, in path and query');

$r = send_signed($t, key => $key, target => '/api/host',
    host => 'API.Example.COM:' . $t->port('http'));
expect_ok($t, $r, $key, 'host is the Host header exactly as sent');

$r = send_signed($t, key => $key, target => '/api/x/../orders//7');
expect_ok($t, $r, $key, 'the raw path of the request line is signed, '
    . 'not the normalised URI');

$r = send_signed($t, key => $key, target => '/api/orders',
    unsigned => [['X-Unsigned', 'anything'], ['User-Agent', 'test/1.0']]);
expect_ok($t, $r, $key, 'headers added after signing, unsigned, pass');

$r = send_signed($t, key => $key, target => '/api/orders',
    nonce => 'A' x 16);
expect_ok($t, $r, $key, 'a nonce of 16 characters');
$r = send_signed($t, key => $key, target => '/api/orders',
    nonce => join('', 'a' .. 'z', 'A' .. 'Z', '0' .. '9', '_', '-'));
expect_ok($t, $r, $key, 'a nonce of 64 characters of every allowed kind');

###############################################################################
# tampering: each signed element

sub edit_auth {
    my ($f) = @_;
    return sub { $f->($_->[1]) for grep { $_->[0] eq 'Authorization' }
        @{ $_[0] } };
}
sub set_header {
    my ($name, $value) = @_;
    return sub { $_->[1] = $value for grep { lc $_->[0] eq lc $name }
        @{ $_[0] } };
}
sub drop_header {
    my ($name) = @_;
    return sub { @{ $_[0] } = grep { lc $_->[0] ne lc $name } @{ $_[0] } };
}
sub repeat_header {
    my ($name, $value) = @_;
    return sub {
        my ($h) = grep { lc $_->[0] eq lc $name } @{ $_[0] };
        push @{ $_[0] }, [$h->[0], $value // $h->[1]];
    };
}

my %base = (key => $key, target => '/api/orders?a=1',
    headers => [['X-Tenant', 'acme']]);

my @tamper = (
    ['the method', 'bad_signature', send_method => 'DELETE'],
    ['the path', 'bad_signature', send_target => '/api/orderz?a=1'],
    ['a query value', 'bad_signature', send_target => '/api/orders?a=2'],
    ['an added query parameter', 'bad_signature',
        send_target => '/api/orders?a=1&b=2'],
    ['a dropped query parameter', 'bad_signature',
        send_target => '/api/orders'],
    ['a signed header\'s value', 'bad_signature',
        edit => set_header('X-Tenant', 'evil')],
    ['the Host header', 'bad_signature',
        edit => set_header('Host', 'localhost:' . $t->port('http'))],
    ['the date (one second later)', 'bad_signature',
        date => time, edit => set_header('X-Apiauth-Date', time + 1)],
    ['the nonce', 'bad_signature',
        edit => set_header('X-Apiauth-Nonce', 'another-nonce-0123456')],
    ['SignedHeaders without a sent header', 'bad_signature',
        edit => edit_auth(sub { $_[0] =~ s/;x-tenant// })],
    ['the signature\'s last hex digit', 'bad_signature',
        edit => edit_auth(sub {
            $_[0] =~ s/([0-9a-f])$/$1 eq '0' ? '1' : '0'/e })],
    ['the Credential (another existing key)', 'bad_signature',
        edit => edit_auth(sub { $_[0] =~ s/SignKey00001/SignKey00002/ })],
    ['SignedHeaders without host', 'malformed_credentials',
        edit => edit_auth(sub { $_[0] =~ s/=host;/=/ })],
    ['SignedHeaders without x-apiauth-nonce', 'malformed_credentials',
        edit => edit_auth(sub { $_[0] =~ s/;x-apiauth-nonce// })],
    ['SignedHeaders without x-apiauth-date', 'malformed_credentials',
        edit => edit_auth(sub { $_[0] =~ s/;x-apiauth-date// })],
    ['SignedHeaders naming a header not sent', 'malformed_credentials',
        edit => edit_auth(sub { $_[0] =~ s/;x-tenant/;x-tenant;x-zzz/ })],
    ['SignedHeaders out of order', 'malformed_credentials',
        edit => edit_auth(sub {
            $_[0] =~ s/x-apiauth-date;x-apiauth-nonce/x-apiauth-nonce;x-apiauth-date/ })],
    ['SignedHeaders with a duplicate', 'malformed_credentials',
        edit => edit_auth(sub { $_[0] =~ s/;x-tenant/;x-tenant;x-tenant/ })],
    ['SignedHeaders naming authorization', 'malformed_credentials',
        edit => edit_auth(sub { $_[0] =~ s/=host;/=authorization;host;/ })],
    ['a signed header not sent', 'malformed_credentials',
        edit => drop_header('X-Tenant')],
    ['X-Apiauth-Date not sent', 'malformed_credentials',
        edit => drop_header('X-Apiauth-Date')],
    ['a signature of 63 hex digits', 'malformed_credentials',
        edit => edit_auth(sub { $_[0] =~ s/[0-9a-f]$// })],
    ['a signature with a non-hex digit', 'malformed_credentials',
        edit => edit_auth(sub { $_[0] =~ s/[0-9a-f]$/g/ })],
    ['another algorithm', 'malformed_credentials',
        edit => edit_auth(sub { $_[0] =~ s/^APIAUTH-HMAC-SHA256/APIAUTH-HMAC-SHA512/ })],
    ['X-Apiauth-Nonce repeated (same value)', 'malformed_credentials',
        edit => repeat_header('X-Apiauth-Nonce')],
    ['X-Apiauth-Date repeated (same value)', 'malformed_credentials',
        edit => repeat_header('X-Apiauth-Date')],
    ['a nonce of 15 characters', 'malformed_credentials', nonce => 'n' x 15],
    ['a nonce of 65 characters', 'malformed_credentials', nonce => 'n' x 65],
    ['a nonce with a dot', 'malformed_credentials',
        nonce => 'abcdefgh.ijklmnop'],
    ['a fractional date', 'malformed_credentials', date => time . '.5'],
    ['a date that is not a number', 'malformed_credentials',
        date => 'yesterday'],
);
for my $c (@tamper) {
    my ($what, $reason, %a) = @$c;
    $r = send_signed($t, %base, %a);
    expect_refused($t, $r, $reason, "tampered: $what");
}

# nginx (1.22) itself refuses a repeated Authorization ("client sent
# duplicate header line") with 400 before any module runs: the spec's
# "malformed" cannot apply, but it must not get through either
$r = send_signed($t, %base, edit => repeat_header('Authorization'));
is($r->{status}, 400,
    'Authorization repeated: refused by nginx itself with 400');

# the body hash: changed after signing, or sent without being signed
my %post = (key => $key, method => 'POST', target => '/api/orders',
    body => '{"qty":2}', sign_body => 1);
$r = send_signed($t, %post,
    edit => set_header('X-Apiauth-Content-SHA256', 'a' x 64));
expect_refused($t, $r, 'bad_signature', 'tampered: the body hash header');
$r = send_signed($t, %post, sign_body => 0,
    unsigned => [['X-Apiauth-Content-SHA256',
        Digest::SHA::sha256_hex('{"qty":2}')]]);
expect_refused($t, $r, 'malformed_credentials',
    'X-Apiauth-Content-SHA256 sent but not signed');
$r = send_signed($t, %post,
    edit => repeat_header('X-Apiauth-Content-SHA256'));
expect_refused($t, $r, 'malformed_credentials',
    'X-Apiauth-Content-SHA256 repeated');

###############################################################################
# X-Apiauth-Content-SHA256 is 64 lowercase hex digits or malformed; long
# signed headers are hashed whole (the canonical request's buffer holds
# what its bound says)

for my $bad ('abc', 'F' x 64, 'f' x 8100) {
    $r = send_signed($t, key => $key, target => '/api/hash',
        headers => [['X-Apiauth-Content-SHA256', $bad]]);
    expect_refused($t, $r, 'malformed_credentials',
        'a body hash of ' . length($bad) . ' "' . substr($bad, 0, 1) . '"s');
}

$r = send_signed($t, key => $key, target => '/api/pad?a&b&c',
    headers => [['X-Pad', 'p' . ' ' x 7000 . 'q'], ['X-Pad', 'r' x 7000],
        ['X-Apiauth-Content-SHA256', 'e3b0c44298fc1c149afbf4c8996fb924'
            . '27ae41e4649b934ca495991b7852b855']]);
expect_ok($t, $r, $key, 'long repeated signed headers and a query of '
    . 'parts without "="');

# more headers than the worker's array of 128: a signed header repeated
# after 140 others is read there too (and its value counts)

sub late_header {
    my ($late_value) = @_;
    return send_signed($t, key => $key, target => '/api/many',
        headers => [['X-Tenant', 'early'], ['X-Tenant', 'late']],
        edit => sub {
            my ($h) = @_;
            my ($i) = grep { $h->[$_][1] eq 'late' } 0 .. $#$h;
            my ($late) = splice @$h, $i, 1;
            push @$h, (map { ["X-Pad-$_", 'p'] } 1 .. 140),
                [$late->[0], $late_value];
        });
}

expect_ok($t, late_header('late'), $key,
    'a signed header after 140 others');
expect_refused($t, late_header('changed'), 'bad_signature',
    'a changed value after 140 others');

###############################################################################
# the clock skew window (60s in /skew/, the default 300s in /api/), to the
# second at its edges

for my $c ([-59, 'ok'], [59, 'ok'], [-60, 'ok'], [60, 'ok'],
    [-61, 'clock_skew'], [61, 'clock_skew'])
{
    my ($d, $want) = @$c;
    my $now = fresh_second();
    $r = send_signed($t, key => $key, target => '/skew/x',
        date => $now + $d);
    my $what = sprintf 'apiauth_clock_skew 60s, date now%+d', $d;
    $want eq 'ok' ? expect_ok($t, $r, $key, $what)
        : expect_refused($t, $r, $want, $what);
}
for my $c ([-299, 'ok'], [299, 'ok'], [-300, 'ok'], [300, 'ok'],
    [-301, 'clock_skew'], [301, 'clock_skew'])
{
    my ($d, $want) = @$c;
    my $now = fresh_second();
    $r = send_signed($t, key => $key, target => '/api/skew',
        date => $now + $d);
    my $what = sprintf 'default skew 300s, date now%+d', $d;
    $want eq 'ok' ? expect_ok($t, $r, $key, $what)
        : expect_refused($t, $r, $want, $what);
}

$t->finish;
done_testing;
