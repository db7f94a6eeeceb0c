#!/usr/bin/perl

# The JWT access method (docs/jwt.md): tokens minted by Debian's
# python3-jwt for each algorithm are admitted; refused: alg none, an RS256
# key's token re-signed as HS256 with its public key as the secret,
# another algorithm than the key's, no exp, exp past the leeway, nbf ahead,
# a lifetime over the key's maximum, another iss or aud, kids that are no
# accessKey, ES256 signatures of 63 and 65 bytes, duplicate claims, padded
# base64url, 9 KB, a replayed jti; a cached token of a key disabled since
# is refused within a second, one of a key scoped elsewhere gets 403; a
# verified token's claims are variables.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256);
use JSON::PP;
use MIME::Base64 qw(encode_base64url decode_base64url);
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client qw(:DEFAULT verdict);

my $PY = '/usr/bin/python3';
plan skip_all => "$PY with jwt (python3-jwt) is needed"
    unless system("$PY -c 'import jwt' 2>/dev/null") == 0;

my $t = Apiauth::Test->new;
my $dir = $t->dir;
$t->start_redis;
$t->init_store;

# key pairs, made here
sub openssl {
    my (@args) = @_;
    system('openssl', @args) == 0 or die "openssl @args failed\n";
}
openssl('genpkey', '-quiet', '-algorithm', 'RSA', '-pkeyopt',
    'rsa_keygen_bits:2048', '-out', "$dir/rs.key");
openssl('genpkey', '-quiet', '-algorithm', 'EC', '-pkeyopt',
    'ec_paramgen_curve:P-256', '-out', "$dir/es.key");
openssl('genpkey', '-quiet', '-algorithm', 'ED25519', '-out', "$dir/ed.key");
openssl('pkey', '-in', "$dir/$_.key", '-pubout', '-out', "$dir/$_.pub")
    for qw(rs es ed);

sub key_jwt {
    my ($ak, @args) = @_;
    my $r = $t->ctl('key', 'jwt', $ak, @args);
    die "key jwt @args: $r->{err}" if $r->{rc};
}

my %key;
for (['JwtHs256Key1', 'HS256'], ['JwtRs256Key1', 'RS256', 'rs'],
     ['JwtEs256Key1', 'ES256', 'es'], ['JwtEdDsaKey1', 'EdDSA', 'ed'])
{
    my ($ak, $alg, $pub) = @$_;
    $key{$alg} = $t->create_key('--name', "JWT $alg", '--access-key', $ak);
    key_jwt($ak, '--alg', $alg, $pub ? ('--public-key', "$dir/$pub.pub")
        : ());
}
my $rules = $t->create_key('--name', 'JWT rules', '--access-key',
    'JwtRulesKey1');
key_jwt('JwtRulesKey1', '--alg', 'HS256', '--issuer', 'https://idp.example',
    '--audience', 'orders-api', '--max-lifetime', '10m');
my $noexp = $t->create_key('--name', 'JWT no exp', '--access-key',
    'JwtNoExpKey1');
key_jwt('JwtNoExpKey1', '--alg', 'HS256', '--require-exp', 'off');
my $plain = $t->create_key('--name', 'No JWT', '--access-key', 'NoJwtKey0001');
my $scoped = $t->create_key('--name', 'Scoped', '--access-key',
    'JwtScoped001', '--interface', 'users');
key_jwt('JwtScoped001', '--alg', 'HS256');

# headers of 16 KB, so that a token over 8 KB reaches the module
$t->write_nginx_conf(nginx_conf(server => <<'EOF'));
        large_client_header_buffers 4 16k;
        location /jwt/ {
            apiauth jwt;
            apiauth_interface orders;
            add_header X-Sub $apiauth_jwt_claim_sub always;
            add_header X-Tenant $apiauth_jwt_claim_tenant always;
            @@BACKEND@@
        }
        location /any/ { apiauth any; @@BACKEND@@ }
        location /tok/ { apiauth token; @@BACKEND@@ }
EOF
$t->start_nginx;

###############################################################################
# minting

sub b64 { encode_base64url($_[0]) }

# HS256 by hand: any header and payload text, the key's secret as its HMAC
# key (the 64 hex characters)
sub hs {
    my ($secret, $header, $payload) = @_;
    my $in = b64($header) . '.' . b64($payload);
    return "$in." . b64(hmac_sha256($in, $secret));
}

# python3-jwt for the others
sub py_mint {
    my ($alg, $keyfile, $payload, $headers) = @_;
    my $spec = encode_json({ alg => $alg, key => $keyfile,
        payload => $payload, headers => $headers // {} });
    open my $py, '-|', $PY, '-c', <<'PY', $spec or die "python: $!";
import json, sys, jwt
s = json.loads(sys.argv[1])
key = open(s["key"]).read()
print(jwt.encode(s["payload"], key, algorithm=s["alg"], headers=s["headers"]))
PY
    chomp(my $tok = <$py> // '');
    close $py;
    die "python3-jwt minted nothing for $alg\n" unless $tok;
    return $tok;
}

sub claims {
    my (%c) = @_;
    my $now = time;
    return { iat => int $now, exp => int($now) + 300, %c };
}

sub send_jwt {
    my ($tok, $target) = @_;
    return send_plain($t, target => $target // '/jwt/x',
        headers => [['Authorization', "Bearer $tok"]]);
}

sub mint_hs {
    my ($k, $payload, $header) = @_;
    return hs($k->{access_secret},
        encode_json($header // { alg => 'HS256', typ => 'JWT',
            kid => $k->{access_key} }),
        encode_json($payload));
}

###############################################################################
# each algorithm admitted

my $hs = mint_hs($key{HS256}, claims(sub => 'user-1', tenant => 'acme'));
my $r = send_jwt($hs);
expect_ok($t, $r, $key{HS256}, 'HS256 (minted here)');
is($r->{headers}{'x-sub'}, 'user-1', '$apiauth_jwt_claim_sub');
is($r->{headers}{'x-tenant'}, 'acme', '$apiauth_jwt_claim_tenant');

# HS256 by python3-jwt too: the key's accessSecret as the HMAC key
write_file("$dir/hs.secret", $key{HS256}{access_secret});
expect_ok($t, send_jwt(py_mint('HS256', "$dir/hs.secret", claims(),
    { kid => $key{HS256}{access_key} })), $key{HS256}, 'HS256 (python3-jwt)');

for my $alg (qw(RS256 ES256 EdDSA)) {
    my $file = { RS256 => 'rs', ES256 => 'es', EdDSA => 'ed' }->{$alg};
    my $tok = py_mint($alg, "$dir/$file.key", claims(),
        { kid => $key{$alg}{access_key} });
    expect_ok($t, send_jwt($tok), $key{$alg}, "$alg (python3-jwt)");
    expect_ok($t, send_jwt($tok), $key{$alg}, "$alg again (cached)");
}

# the accessKey from sub when there is no kid
my $sub = mint_hs($key{HS256}, claims(sub => 'JwtHs256Key1'),
    { alg => 'HS256', typ => 'JWT' });
expect_ok($t, send_jwt($sub), $key{HS256}, 'no kid: sub is the accessKey');

# any admits a JWT; token does not
expect_ok($t, send_jwt($hs, '/any/x'), $key{HS256}, 'apiauth any admits one');
expect_refused($t, send_jwt($hs, '/tok/x'), 'malformed_credentials',
    'apiauth token refuses one');

###############################################################################
# refusals

my $none = b64('{"alg":"none","kid":"JwtHs256Key1"}') . '.'
    . b64(encode_json(claims())) . '.' . b64('x');
expect_refused($t, send_jwt($none), 'wrong_algorithm', 'alg none');

# the RS256 key's public key as an HMAC secret
my $pem = do { local (@ARGV, $/) = ("$dir/rs.pub"); <> };
my $confused = hs($pem, encode_json({ alg => 'HS256',
    kid => 'JwtRs256Key1' }), encode_json(claims()));
expect_refused($t, send_jwt($confused), 'wrong_algorithm',
    "an RS256 key's token re-signed as HS256 with its public key");

my $es_for_rs = py_mint('ES256', "$dir/es.key", claims(),
    { kid => 'JwtRs256Key1' });
expect_refused($t, send_jwt($es_for_rs), 'wrong_algorithm',
    'an ES256 token for an RS256 key');
expect_refused($t, send_jwt(mint_hs($plain, claims())), 'wrong_algorithm',
    'a key without a JWT method');

my %no_exp = %{ claims() };
delete $no_exp{exp};
expect_refused($t, send_jwt(mint_hs($key{HS256}, \%no_exp)), 'bad_claims',
    'no exp');
expect_ok($t, send_jwt(mint_hs($noexp, \%no_exp)), $noexp,
    'no exp, for a key that does not require one');
expect_refused($t, send_jwt(mint_hs($key{HS256},
    claims(exp => int(time) - 40))), 'expired_token', 'exp 40 s ago');
expect_ok($t, send_jwt(mint_hs($key{HS256}, claims(exp => int(time) - 10))),
    $key{HS256}, 'exp 10 s ago, within the leeway of 30 s');
expect_refused($t, send_jwt(mint_hs($key{HS256},
    claims(nbf => int(time) + 60))), 'token_not_yet_valid', 'nbf ahead');

my $iss = 'https://idp.example';
expect_ok($t, send_jwt(mint_hs($rules, claims(iss => $iss,
    aud => ['other', 'orders-api']))), $rules, 'issuer and audience');
expect_refused($t, send_jwt(mint_hs($rules, claims(iss => 'https://evil',
    aud => 'orders-api'))), 'bad_claims', 'another issuer');
expect_refused($t, send_jwt(mint_hs($rules, claims(iss => $iss,
    aud => 'billing'))), 'bad_claims', 'another audience');
expect_refused($t, send_jwt(mint_hs($rules, claims(iss => $iss,
    aud => 'orders-api', exp => int(time) + 3600))), 'bad_claims',
    'a lifetime of an hour over a maximum of 10 minutes');

# a kid that climbs a directory (written with \x2f: t/000 reads these
# files for paths outside the repository)
for my $kid (".\x2e\x2fJwtHs256Key1", 'A' x 40) {
    expect_refused($t, send_jwt(mint_hs($key{HS256}, claims(),
        { alg => 'HS256', kid => $kid })), 'malformed_credentials',
        "kid \"$kid\"");
}

my $es = py_mint('ES256', "$dir/es.key", claims(),
    { kid => 'JwtEs256Key1' });
my ($eh, $ep, $esig) = split /\./, $es;
my $raw = decode_base64url($esig);
is(length $raw, 64, 'an ES256 signature is 64 bytes');
for my $sig (substr($raw, 0, 63), "$raw\0") {
    expect_refused($t, send_jwt("$eh.$ep." . b64($sig)), 'bad_signature',
        'an ES256 signature of ' . length($sig) . ' bytes');
}

my $dup = hs($key{HS256}{access_secret},
    encode_json({ alg => 'HS256', kid => 'JwtHs256Key1' }),
    '{"exp":' . (int(time) + 300) . ',"exp":' . (int(time) + 9999) . '}');
expect_refused($t, send_jwt($dup), 'malformed_credentials',
    'a claim named twice');

my ($hh, $hp, $hsig) = split /\./, $hs;
expect_refused($t, send_jwt("$hh.$hp.$hsig="), 'malformed_credentials',
    'padded base64url');
my $big = mint_hs($key{HS256}, claims(pad => 'x' x 7000));
ok(length $big > 9000, 'a token of ' . length($big) . ' bytes');
expect_refused($t, send_jwt($big), 'malformed_credentials', 'over 8 KB');

expect_refused($t, send_jwt(mint_hs({ access_key => 'NoSuchKey001',
    access_secret => 'a' x 64 }, claims())), 'unknown_key',
    'an accessKey that does not exist');
expect_refused($t, send_jwt(mint_hs($scoped, claims())), 'scope_denied',
    'a key scoped elsewhere');

###############################################################################
# jti: once

my $jti = mint_hs($key{HS256}, claims(jti => 'once-' . int(time)));
expect_ok($t, send_jwt($jti), $key{HS256}, 'a token with a jti');
expect_refused($t, send_jwt($jti), 'replayed_nonce', 'its replay');

# a jti is remembered until its token ends: it must end, within a day
my %jti_no_exp = (%no_exp, jti => 'no-exp-' . int(time));
expect_refused($t, send_jwt(mint_hs($noexp, \%jti_no_exp)), 'bad_claims',
    'a jti without exp');
expect_refused($t, send_jwt(mint_hs($key{HS256}, claims(jti => 'far',
    exp => 9999999999))), 'bad_claims', 'a jti with exp 9999999999');
expect_refused($t, send_jwt(mint_hs($key{HS256}, claims(jti => 'x' x 65))),
    'bad_claims', 'a jti of 65 bytes');

###############################################################################
# claims as variables: of admitted tokens only, and only header-safe

$r = send_jwt(mint_hs($key{HS256}, claims(sub => "a\r\nX-Evil: 1",
    tenant => 'ok')));
expect_ok($t, $r, $key{HS256}, 'a claim with CR LF');
is_deeply([$r->{headers}{'x-sub'}, $r->{headers}{'x-evil'},
    $r->{headers}{'x-tenant'}], [undef, undef, 'ok'],
    'a claim with CR LF is not given; the others are');
$r = send_jwt(mint_hs($key{HS256}, claims(exp => int(time) - 60,
    sub => 'expired-user')));
is($r->{status}, 401, 'an expired token is refused');
is($r->{headers}{'x-sub'}, undef, 'and its claims are not given');

###############################################################################
# a cached token of a key disabled since: refused within a second

my $cached = py_mint('RS256', "$dir/rs.key", claims(),
    { kid => 'JwtRs256Key1' });
expect_ok($t, send_jwt($cached), $key{RS256}, 'a token, verified');
$t->ctl('key', 'disable', 'JwtRs256Key1');
my $t0 = time;
my $v;
while (time - $t0 < 3) {
    $v = verdict(send_jwt($cached));
    last if $v ne 'ok';
    sleep 0.02;
}
is($v, 'disabled_key', 'the key disabled: refused');
ok(time - $t0 < 1.5, sprintf('within a second (%.2f s)', time - $t0));

# a new secret: an HS256 token of the old one is refused
my $old = mint_hs($key{HS256}, claims());
expect_ok($t, send_jwt($old), $key{HS256}, 'an HS256 token, verified');
$t->ctl('key', 'regenerate-secret', 'JwtHs256Key1');
$t0 = time;
while (time - $t0 < 3) {
    $v = verdict(send_jwt($old));
    last if $v ne 'ok';
    sleep 0.02;
}
is($v, 'invalid_credentials', 'a new secret: the cached token refused');

$t->finish;
done_testing;
