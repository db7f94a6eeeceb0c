#!/usr/bin/perl

# apiauth token and any: "Authorization: Bearer AK.SECRET" or "X-Api-Key:
# AK.SECRET"; missing, malformed, wrong and unknown tokens; each mode
# refuses the other mode's credentials as the implementer decided; any
# takes either.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my $key = $t->create_key('--name', 'Token user', '--access-key',
    'TokKey000001');
my $off = $t->create_key('--name', 'Token off', '--access-key',
    'TokKey000002', '--disabled');

$t->write_nginx_conf(nginx_conf(server => <<'EOF'));
        location /tok/ { apiauth token; @@BACKEND@@ }
        location /any/ { apiauth any; @@BACKEND@@ }
        location /sig/ { apiauth signature; @@BACKEND@@ }
EOF
$t->start_nginx;

my $ak = $key->{access_key};
my $secret = $key->{access_secret};
(my $wrong = $secret) =~ s/^(.)/$1 eq 'a' ? 'b' : 'a'/e;

sub tok {
    my ($target, @h) = @_;
    return send_plain($t, target => $target, headers => \@h);
}

###############################################################################
# token: the two ways, and no replay protection (there is no nonce)

my $r = tok('/tok/a', token_headers($key));
expect_ok($t, $r, $key, 'token via Authorization: Bearer');
$r = tok('/tok/a', token_headers($key));
expect_ok($t, $r, $key, 'the same Bearer token again (tokens have no nonce)');
$r = tok('/tok/b', token_headers($key, 'x-api-key'));
expect_ok($t, $r, $key, 'token via X-Api-Key');
$r = send_plain($t, method => 'POST', target => '/tok/c',
    headers => [token_headers($key)], body => 'payload');
expect_ok($t, $r, $key, 'a POST with a Bearer token');

###############################################################################
# token refusals

my @cases = (
    ['neither Authorization nor X-Api-Key', 'missing_credentials'],
    ['a wrong secret (Bearer)', 'bad_secret',
        ['Authorization', "Bearer $ak.$wrong"]],
    ['a wrong secret (X-Api-Key)', 'bad_secret', ['X-Api-Key', "$ak.$wrong"]],
    ['the secret in upper case: hex is lower case', 'malformed_credentials',
        ['Authorization', "Bearer $ak." . uc $secret]],
    ['an unknown accessKey', 'unknown_key',
        ['Authorization', 'Bearer NoSuchKey0001.' . ('0' x 64)]],
    ['both Bearer and X-Api-Key, both right', 'malformed_credentials',
        token_headers($key), token_headers($key, 'x-api-key')],
    ['a secret of 3 characters', 'malformed_credentials',
        ['Authorization', "Bearer $ak.abc"]],
    ['a secret of 63 hex digits', 'malformed_credentials',
        ['Authorization', "Bearer $ak." . substr($secret, 1)]],
    ['a secret of 65 hex digits', 'malformed_credentials',
        ['Authorization', "Bearer $ak.${secret}0"]],
    ['a secret of 64 non-hex characters', 'malformed_credentials',
        ['Authorization', "Bearer $ak." . ('g' x 64)]],
    ['an X-Api-Key secret of 63 hex digits', 'malformed_credentials',
        ['X-Api-Key', "$ak." . substr($secret, 1)]],
    ['an empty secret', 'malformed_credentials',
        ['Authorization', "Bearer $ak."]],
    ['no dot between accessKey and secret', 'malformed_credentials',
        ['Authorization', "Bearer $ak$secret"]],
    ['Bearer without a token', 'malformed_credentials',
        ['Authorization', 'Bearer']],
    ['an empty X-Api-Key', 'malformed_credentials', ['X-Api-Key', '']],
    # assumption: in token mode an Authorization of another scheme is
    # malformed, as a non-APIAUTH scheme is in signature mode
    ['Authorization: Basic', 'malformed_credentials',
        ['Authorization', 'Basic dXNlcjpwYXNz']],
    ['a signature Authorization', 'malformed_credentials',
        sign(access_key => $ak, secret => $secret,
            port => $t->port('http'), target => '/tok/d')],
);
for my $c (@cases) {
    my ($what, $reason, @h) = @$c;
    expect_refused($t, tok('/tok/d', @h), $reason, "token mode, $what");
}

# nginx (1.22) refuses a repeated Authorization itself, 400, before any
# module runs
$r = tok('/tok/d', token_headers($key), token_headers($key));
is($r->{status}, 400, 'token mode, Authorization: Bearer repeated: nginx '
    . 'refuses the duplicate header line with 400');

# disabled: judged after the credentials hold
$r = tok('/tok/e', token_headers($off));
expect_refused($t, $r, 'disabled_key', 'token mode, a disabled key');
$r = tok('/tok/e', ['Authorization', "Bearer $off->{access_key}." . ('0' x 64)]);
expect_refused($t, $r, 'bad_secret',
    'token mode, a disabled key with a wrong secret is bad_secret first');

###############################################################################
# signature mode refuses tokens

$r = tok('/sig/a', token_headers($key));
expect_refused($t, $r, 'malformed_credentials',
    'signature mode, Authorization: Bearer');
$r = tok('/sig/a', token_headers($key, 'x-api-key'));
expect_refused($t, $r, 'missing_credentials',
    'signature mode, X-Api-Key only (no Authorization)');
$r = tok('/sig/a', ['Authorization', 'Basic dXNlcjpwYXNz']);
expect_refused($t, $r, 'malformed_credentials',
    'signature mode, Authorization: Basic');

###############################################################################
# any: either kind

$r = send_signed($t, key => $key, target => '/any/sig');
expect_ok($t, $r, $key, 'any mode, a signed request');
$r = resend($t, $r);
expect_refused($t, $r, 'replayed_nonce', 'any mode, a signed request replayed');
$r = tok('/any/bearer', token_headers($key));
expect_ok($t, $r, $key, 'any mode, a Bearer token');
$r = tok('/any/xkey', token_headers($key, 'x-api-key'));
expect_ok($t, $r, $key, 'any mode, an X-Api-Key token');
$r = tok('/any/none');
expect_refused($t, $r, 'missing_credentials', 'any mode, no credentials');
$r = tok('/any/bad', ['Authorization', "Bearer $ak.$wrong"]);
expect_refused($t, $r, 'bad_secret', 'any mode, a wrong token secret');
$r = tok('/any/bad', ['Authorization', "Bearer $ak.xyz"]);
expect_refused($t, $r, 'malformed_credentials', 'any mode, a malformed token');
$r = send_signed($t, access_key => $ak, secret => $wrong, target => '/any/bad');
expect_refused($t, $r, 'bad_signature',
    'any mode, a request signed with a wrong secret');
$r = tok('/any/bad', ['Authorization', 'APIAUTH-HMAC-SHA256 Credential=x']);
expect_refused($t, $r, 'malformed_credentials',
    'any mode, a broken signature Authorization');

$t->finish;
done_testing;
