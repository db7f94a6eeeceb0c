#!/usr/bin/perl

# apiauth-ctl key jwt (docs/apiauth-ctl.md, docs/jwt.md), with keys made
# here by openssl:
# - each algorithm and each option stored exactly in the key's record, the
#   method replaced whole (what is not given is removed), "off" removing
#   the six fields, each change one entry "op key.jwt ak AK";
# - refusals: public keys of the wrong type, size or curve, private keys,
#   two blocks, text around the block, garbage, a file over 4096 bytes,
#   --public-key with HS256 or without it, unknown algorithms, bad
#   lifetimes, issuers, audiences: exit 2, one stderr line, nothing changed;
# - --json and its fingerprint, against openssl's SHA-256 of the DER;
# - key show (text and JSON), key copy, and a record nginx reads without
#   refusal; a public key written straight into Redis that does not load
#   shown with why, as nginx refuses the key's tokens (not the key);
# - --help.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my $dir = $t->dir;

###############################################################################
# helpers

# openssl, its progress dots and notes kept off the test's output
sub openssl {
    my (@args) = @_;
    open my $saved, '>&', \*STDERR or die "dup: $!\n";
    open STDERR, '>', '/dev/null' or die "/dev/null: $!\n";
    my $rc = system('openssl', @args);
    open STDERR, '>&', $saved or die "dup: $!\n";
    $rc == 0 or die "openssl @args failed\n";
}

sub slurp {
    my ($path) = @_;
    open my $f, '<:raw', $path or die "$path: $!\n";
    local $/;
    return <$f>;
}

sub spew {
    my ($path, $text) = @_;
    open my $f, '>:raw', $path or die "$path: $!\n";
    print $f $text;
    close $f;
    return $path;
}

sub trim { my ($s) = @_; $s =~ s/\A\s+|\s+\z//g; return $s }

# lower-case hex SHA-256 of the public key's DER, as openssl computes it
sub fingerprint {
    my ($pub) = @_;
    my $out = `openssl pkey -pubin -in '$pub' -outform DER | sha256sum`;
    my ($fp) = $out =~ /^([0-9a-f]{64})\b/ or die "no fingerprint of $pub\n";
    return $fp;
}

# the key's JWT fields as stored
sub jwt_fields {
    my ($ak) = @_;
    my %h = @{ $t->redis('HGETALL', "{apiauth}:key:$ak") };
    return { map { ($_ => $h{$_}) } grep { /^jwt_/ } keys %h };
}

# JSON booleans as 1 and 0, so that a document compares with is_deeply
sub plain {
    my ($v) = @_;
    return [map { plain($_) } @$v] if ref $v eq 'ARRAY';
    return { map { ($_ => plain($v->{$_})) } keys %$v } if ref $v eq 'HASH';
    return $v ? 1 : 0 if JSON::PP::is_bool($v);
    return $v;
}

# a refusal: exit 2, one line on stderr saying why, nothing on stdout (the
# error document with --json), nothing changed in Redis
sub refused {
    my ($args, $re, $name) = @_;
    my $before = $t->dump_store;
    my $r = $t->ctl(@$args);
    is($r->{rc}, 2, "$name: exit 2");
    like($r->{err}, qr/\Aapiauth-ctl: error: [^\n]*$re[^\n]*\n\z/,
        "$name: one line saying why") or diag($r->{err});
    if (grep { $_ eq '--json' } @$args) {
        my $doc = eval { decode_json($r->{out}) } || {};
        is_deeply([keys %$doc], ['error'], "$name: stdout holds the error");
    } else {
        is($r->{out}, '', "$name: nothing on stdout");
    }
    ok($t->dump_store eq $before, "$name: nothing changed");
    return $r;
}

# a change: exit 0 and exactly one new change entry "op key.jwt ak AK";
# returns the run, its --json document decoded
sub change {
    my ($args, $ak, $name) = @_;
    my $last = $t->last_change;
    my $r = $t->ctl(@$args);
    is($r->{rc}, 0, "$name: exit 0") or diag($r->{err});
    is_deeply([map { $_->[1] } @{ $t->changes($last) }],
        [[op => 'key.jwt', ak => $ak]], "$name: change entry op key.jwt");
    $r->{json} = eval { decode_json($r->{out}) } if $r->{out} =~ /^\{/;
    return $r;
}

sub jwt { my ($ak, @args) = @_; return ['key', 'jwt', $ak, @args] }

# an RSA public key of a random odd modulus of $bytes bytes (its top byte
# 0xff) and the exponent of bytes $e, as DER built here: sizes and
# exponents that openssl does not make
sub der_len {
    my ($n) = @_;
    return chr($n) if $n < 128;
    my $b = '';
    while ($n) { $b = chr($n & 255) . $b; $n >>= 8 }
    return chr(0x80 | length $b) . $b;
}
sub tlv { my ($tag, $v) = @_; return chr($tag) . der_len(length $v) . $v }
sub rsa_pem {
    my ($bytes, $e) = @_;
    my $n = "\xff" . join('', map { chr int rand 256 } 3 .. $bytes)
        . chr(2 * int(rand 128) + 1);
    my $rsa = tlv(0x30, tlv(2, "\0$n") . tlv(2, $e));
    my $der = tlv(0x30, tlv(0x30, tlv(6, pack('H*', '2a864886f70d010101'))
        . "\x05\0") . tlv(3, "\0$rsa"));
    my $b64 = encode_base64($der, '');
    return "-----BEGIN PUBLIC KEY-----\n"
        . join('', map { "$_\n" } $b64 =~ /(.{1,64})/g)
        . "-----END PUBLIC KEY-----\n";
}

###############################################################################
# keys made by openssl

my $k = "$dir/keys";
mkdir $k or die "$k: $!\n";

openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048',
    '-out', "$k/rsa.key");
openssl('pkey', '-in', "$k/rsa.key", '-pubout', '-out', "$k/rsa.pub");
openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024',
    '-out', "$k/rsa1024.key");
openssl('pkey', '-in', "$k/rsa1024.key", '-pubout', '-out', "$k/rsa1024.pub");
openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out',
    "$k/es.key");
openssl('ec', '-in', "$k/es.key", '-pubout', '-out', "$k/es.pub");
openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384',
    '-out', "$k/p384.key");
openssl('pkey', '-in', "$k/p384.key", '-pubout', '-out', "$k/p384.pub");
openssl('genpkey', '-algorithm', 'ED25519', '-out', "$k/ed.key");
openssl('pkey', '-in', "$k/ed.key", '-pubout', '-out', "$k/ed.pub");
openssl('genpkey', '-algorithm', 'ED448', '-out', "$k/ed448.key");
openssl('pkey', '-in', "$k/ed448.key", '-pubout', '-out', "$k/ed448.pub");
openssl('ecparam', '-name', 'prime256v1', '-param_enc', 'explicit', '-genkey',
    '-noout', '-out', "$k/explicit.key");
openssl('ec', '-in', "$k/explicit.key", '-param_enc', 'explicit', '-pubout',
    '-out', "$k/explicit.pub");
openssl('genpkey', '-algorithm', 'EC', '-pkeyopt',
    'ec_paramgen_curve:secp256k1', '-out', "$k/k1.key");
openssl('pkey', '-in', "$k/k1.key", '-pubout', '-out', "$k/k1.pub");
openssl('genpkey', '-algorithm', 'X25519', '-out', "$k/x25519.key");
openssl('pkey', '-in', "$k/x25519.key", '-pubout', '-out', "$k/x25519.pub");
openssl('genpkey', '-algorithm', 'RSA-PSS', '-pkeyopt',
    'rsa_keygen_bits:2048', '-out', "$k/pss.key");
openssl('pkey', '-in', "$k/pss.key", '-pubout', '-out', "$k/pss.pub");
openssl('rsa', '-in', "$k/rsa.key", '-RSAPublicKey_out', '-out',
    "$k/pkcs1.pub");
openssl('req', '-x509', '-key', "$k/es.key", '-subj', '/CN=jwt', '-days', 1,
    '-out', "$k/es.crt");

my %pem = map { ($_ => slurp("$k/$_.pub")) } qw(rsa rsa1024 es p384 ed ed448);
my %fp = map { ($_ => fingerprint("$k/$_.pub")) } qw(rsa es ed);

like($pem{$_}, qr/\A-----BEGIN PUBLIC KEY-----\n/, "openssl made $_.pub")
    for sort keys %pem;

# accepted: white space around the block (stored trimmed), CRLF lines
my $spaced = spew("$k/spaced.pub", "\n\n  \t$pem{es}\n\n  \n");
my $crlf_text = $pem{ed} =~ s/\n/\r\n/gr;
my $crlf = spew("$k/crlf.pub", $crlf_text);

# refused
my $two = spew("$k/two.pub", $pem{es} . $pem{ed});
my $twice = spew("$k/twice.pub", $pem{es} . "\n" . $pem{es});
my $before = spew("$k/before.pub", "my key:\n" . $pem{es});
my $after = spew("$k/after.pub", $pem{es} . "that was my key\n");
my $garbage = spew("$k/garbage.pub", "this is not a key\n");
my $empty = spew("$k/empty.pub", "\n  \n");
my $big = spew("$k/big.pub", $pem{es} . (' ' x (5000 - length $pem{es})));
my $header = spew("$k/header.pub",
    $pem{es} =~ s/\n/\nProc-Type: 4,ENCRYPTED\n/r);
my $broken = spew("$k/broken.pub", $pem{es} =~ s/M/!/r);
my $bad_b64 = spew("$k/bad_b64.pub",
    $pem{es} =~ s/(\n)[A-Za-z]{8}/$1AAAAAAAA/r);
my $nul = spew("$k/nul.pub", $pem{es} . "\0");
is(-s $big, 5000, 'a 5000-byte file');
my $e1 = spew("$k/e1.pub", rsa_pem(256, "\x01"));
my $e2 = spew("$k/e2.pub", rsa_pem(256, "\x02"));
my $e3 = spew("$k/e3.pub", rsa_pem(256, "\x03"));
my $e33 = spew("$k/e33.pub", rsa_pem(256, "\x01\0\0\0\x01"));
my $rsa4096 = spew("$k/rsa4096.pub", rsa_pem(512, "\x01\0\x01"));
my $rsa4104 = spew("$k/rsa4104.pub", rsa_pem(513, "\x01\0\x01"));
like(`openssl pkey -pubin -in '$rsa4104' -noout -text 2>&1`,
    qr/Public-Key: \(4104 bit\)/, 'openssl reads the 4104-bit key made here');

###############################################################################
# each algorithm, stored exactly

my $ak = 'JwtKey0001';
$t->create_key('--name', 'jwt', '--access-key', $ak);

is_deeply(jwt_fields($ak), {}, 'a new key has no JWT method');
my $r = $t->ctl('key', 'show', $ak);
like($r->{out}, qr/^jwt {12}none$/m, 'key show: jwt none');
$r = $t->ctl_json('key', 'show', $ak);
ok(exists $r->{json}{jwt} && !defined $r->{json}{jwt},
    'key show --json: "jwt": null');

$r = change(jwt($ak, '--alg', 'HS256'), $ak, 'HS256');
is_deeply(jwt_fields($ak), { jwt_alg => 'HS256', jwt_require_exp => 'on' },
    'HS256: jwt_alg and jwt_require_exp on, nothing else');
is($r->{out}, "key \"$ak\": jwt HS256 (HMAC with the access secret), "
    . "any issuer, any audience, any lifetime, exp required\n",
    'HS256: the line says so');

$r = change(jwt($ak, '--alg', 'RS256', '--public-key', "$k/rsa.pub"), $ak,
    'RS256');
is_deeply(jwt_fields($ak), { jwt_alg => 'RS256',
    jwt_public_key => trim($pem{rsa}), jwt_require_exp => 'on' },
    'RS256: the PEM stored as read, trimmed');
is($r->{out}, "key \"$ak\": jwt RS256, key sha256:$fp{rsa}, any issuer, "
    . "any audience, any lifetime, exp required\n",
    'RS256: the line has the fingerprint');

$r = change(jwt($ak, '--alg', 'ES256', '--public-key', "$k/es.pub"), $ak,
    'ES256');
is_deeply(jwt_fields($ak), { jwt_alg => 'ES256',
    jwt_public_key => trim($pem{es}), jwt_require_exp => 'on' },
    'ES256 stored');

$r = change(jwt($ak, '--alg', 'EdDSA', '--public-key', "$k/ed.pub"), $ak,
    'EdDSA');
is_deeply(jwt_fields($ak), { jwt_alg => 'EdDSA',
    jwt_public_key => trim($pem{ed}), jwt_require_exp => 'on' },
    'EdDSA stored');

change(jwt($ak, '--alg', 'RS256', '--public-key', $rsa4096), $ak,
    'RS256, 4096 bits');
change(jwt($ak, '--alg', 'RS256', '--public-key', $e3), $ak,
    'RS256, exponent 3');
is(jwt_fields($ak)->{jwt_public_key}, trim(slurp($e3)), 'stored');

change(jwt($ak, '--alg', 'ES256', '--public-key', $spaced), $ak,
    'ES256, white space around the PEM');
is(jwt_fields($ak)->{jwt_public_key}, trim($pem{es}),
    'white space around the block is not stored');

change(jwt($ak, '--alg', 'EdDSA', '--public-key', $crlf), $ak,
    'EdDSA, CRLF lines');
is(jwt_fields($ak)->{jwt_public_key}, trim($crlf_text),
    'CRLF lines stored as read');

# every option
$r = change(jwt($ak, '--json', '--alg', 'ES256', '--public-key',
    "$k/es.pub", '--issuer', 'https://idp.example.com/', '--audience',
    'orders-api', '--max-lifetime', '1h', '--require-exp', 'off'), $ak,
    'ES256 with every option');
is_deeply(jwt_fields($ak), { jwt_alg => 'ES256',
    jwt_public_key => trim($pem{es}),
    jwt_issuer => 'https://idp.example.com/', jwt_audience => 'orders-api',
    jwt_max_lifetime => '3600', jwt_require_exp => 'off' },
    'every option stored');
is_deeply(plain($r->{json}), { access_key => $ak, jwt => { alg => 'ES256',
    public_key_fingerprint => $fp{es}, public_key_error => undef,
    issuer => 'https://idp.example.com/', audience => 'orders-api',
    max_lifetime => 3600, require_exp => 0 } },
    '--json: the method, the fingerprint openssl computes');

# replaced whole: what is not given now is removed
change(jwt($ak, '--alg', 'ES256', '--public-key', "$k/es.pub",
    '--audience', 'users-api'), $ak, 'ES256 again, an audience only');
is_deeply(jwt_fields($ak), { jwt_alg => 'ES256',
    jwt_public_key => trim($pem{es}), jwt_audience => 'users-api',
    jwt_require_exp => 'on' },
    'the issuer, lifetime and require_exp off set before are gone');

# lifetimes
for my $l (['30s', 30], ['15m', 900], ['12h', 43200], ['7d', 604800],
    ['2w', 1209600], ['3600', 3600], ['1s', 1], ['9999999999', 9999999999],
    ['9999999999s', 9999999999], ['166666666m', 9999999960])
{
    $r = change(jwt($ak, '--json', '--alg', 'HS256', '--max-lifetime',
        $l->[0]), $ak, "--max-lifetime $l->[0]");
    is(jwt_fields($ak)->{jwt_max_lifetime}, $l->[1],
        "--max-lifetime $l->[0] stored as $l->[1] seconds");
    is($r->{json}{jwt}{max_lifetime}, $l->[1], '--json says so');
}

change(jwt($ak, '--alg', 'HS256', '--require-exp', 'on'), $ak,
    '--require-exp on');
is(jwt_fields($ak)->{jwt_require_exp}, 'on', 'require_exp on stored');

# replacing ES256 by HS256 removes the public key
change(jwt($ak, '--alg', 'ES256', '--public-key', "$k/es.pub", '--issuer',
    'idp', '--max-lifetime', '5m'), $ak, 'ES256 with an issuer');
$r = change(jwt($ak, '--json', '--alg', 'HS256'), $ak, 'ES256 -> HS256');
is_deeply(jwt_fields($ak), { jwt_alg => 'HS256', jwt_require_exp => 'on' },
    'HS256 replaced ES256: no public key, issuer or lifetime left');
is_deeply(plain($r->{json}), { access_key => $ak, jwt => { alg => 'HS256',
    public_key_fingerprint => undef, public_key_error => undef,
    issuer => undef, audience => undef, max_lifetime => undef,
    require_exp => 1 } }, '--json: HS256 has no fingerprint');

###############################################################################
# refusals: exit 2, one line, nothing changed

change(jwt($ak, '--alg', 'ES256', '--public-key', "$k/es.pub", '--issuer',
    'idp', '--audience', 'api', '--max-lifetime', '1h'), $ak,
    'ES256 before the refusals');
my $set = jwt_fields($ak);

my @pk = ('--public-key');
for my $c (
    [['RS256', "$k/rsa1024.pub"], qr/an RSA key of 1024 bits: RS256 needs 2048/,
        'RSA 1024 for RS256'],
    [['ES256', "$k/p384.pub"], qr/an EC key on secp384r1: ES256 needs P-256/,
        'P-384 for ES256'],
    [['ES256', "$k/rsa.pub"], qr/an RSA key: ES256 needs an EC key on P-256/,
        'an RSA key for ES256'],
    [['RS256', "$k/es.pub"], qr/an EC key: RS256 needs an RSA key/,
        'an EC key for RS256'],
    [['EdDSA', "$k/ed448.pub"], qr/an Ed448 key: EdDSA takes Ed25519/,
        'Ed448 for EdDSA'],
    [['EdDSA', "$k/es.pub"], qr/an EC key: EdDSA needs an Ed25519 key/,
        'an EC key for EdDSA'],
    [['ES256', "$k/ed.pub"], qr/an Ed25519 key: ES256 needs/,
        'an Ed25519 key for ES256'],
    [['ES256', "$k/explicit.pub"], qr/explicit curve parameters/,
        'P-256 with explicit parameters for ES256'],
    [['ES256', "$k/k1.pub"], qr/an EC key on secp256k1: ES256 needs P-256/,
        'secp256k1 for ES256'],
    [['EdDSA', "$k/x25519.pub"], qr/an X25519 key: EdDSA needs an Ed25519/,
        'X25519 for EdDSA'],
    [['RS256', "$k/pss.pub"], qr/an RSA-PSS key: RS256 needs an RSA key/,
        'an RSA-PSS key for RS256'],
    [['RS256', "$k/pkcs1.pub"], qr/a PKCS#1 RSA public key/,
        'a PKCS#1 RSA public key for RS256'],
    [['RS256', $e1], qr/public exponent/, 'RSA with exponent 1'],
    [['RS256', $e2], qr/public exponent/, 'RSA with exponent 2'],
    [['RS256', $rsa4104], qr/more than 4096 bits/, 'RSA of 4104 bits'],
    [['RS256', $e33], qr/public exponent/, 'RSA with an exponent of 33 bits'],
    [['RS256', "$k/rsa.key"], qr/a private key/, 'an RSA private key'],
    [['ES256', "$k/es.key"], qr/a private key/, 'an EC private key (SEC1)'],
    [['EdDSA', "$k/ed.key"], qr/a private key/, 'an Ed25519 private key'],
    [['ES256', "$k/es.crt"], qr/a certificate/, 'a certificate'],
    [['ES256', $two], qr/more than one PEM block/, 'two PEM blocks'],
    [['ES256', $twice], qr/more than one PEM block/, 'the same block twice'],
    [['ES256', $before], qr/text before the PEM block/, 'text before'],
    [['ES256', $after], qr/text after the PEM block/, 'text after'],
    [['ES256', $garbage], qr/not a PEM public key/, 'garbage'],
    [['ES256', $empty], qr/is empty/, 'an empty file'],
    [['ES256', $big], qr/longer than 4096 bytes/, 'a 5000-byte file'],
    [['ES256', $header], qr/headers/, 'a PEM block with headers'],
    [['ES256', $broken], qr/not base64/, 'a character outside base64'],
    [['ES256', $bad_b64], qr/cannot read/, 'base64 of no key'],
    [['ES256', $nul], qr/text after the PEM block/, 'a NUL after the block'],
    [['ES256', "$k/none.pub"], qr/cannot open the public key/,
        'a file that is not there'],
    [['ES256', $k], qr/cannot read the public key/, 'a directory'],
    )
{
    my ($args, $re, $name) = @$c;
    refused(jwt($ak, '--alg', $args->[0], @pk, $args->[1]), $re, $name);
}

refused(jwt($ak, '--json', '--alg', 'RS256', @pk, "$k/rsa1024.pub"),
    qr/1024 bits/, 'RSA 1024 for RS256, --json');
refused(jwt($ak, '--alg', 'HS256', @pk, "$k/es.pub"),
    qr/HS256 takes no --public-key/, '--public-key with HS256');
refused(jwt($ak, '--alg', 'RS256'), qr/RS256 needs --public-key FILE/,
    'RS256 without --public-key');
refused(jwt($ak, '--alg', 'ES256'), qr/ES256 needs --public-key FILE/,
    'ES256 without --public-key');
refused(jwt($ak, '--alg', 'EdDSA', '--issuer', 'x'),
    qr/EdDSA needs --public-key FILE/, 'EdDSA without --public-key');
refused(jwt($ak, '--issuer', 'x'), qr/needs --alg/, 'no --alg');
refused(jwt($ak), qr/needs --alg/, 'nothing but the accessKey');

for my $alg ('none', 'None', 'HS512', 'RS384', 'ES512', 'PS256', 'es256',
    'hs256', 'eddsa', 'Ed25519', '')
{
    refused(jwt($ak, '--alg', $alg), qr/unknown algorithm "\Q$alg\E"/,
        "--alg \"$alg\"");
}

for my $l ('0', '0s', '00', '-5', '+5', '1.5h', '10y', '15 m', ' 15m', '',
    's', '1hh', 'h1', '10000000000', '1666666667m', '16535w', '1e3', 'never',
    'now', '2026-12-31T00:00:00Z')
{
    refused(jwt($ak, '--alg', 'HS256', '--max-lifetime', $l),
        qr/invalid --max-lifetime/, "--max-lifetime \"$l\"");
}

for my $e ('maybe', 'yes', 'ON', 'true', '1', '') {
    refused(jwt($ak, '--alg', 'HS256', '--require-exp', $e),
        qr/invalid --require-exp/, "--require-exp \"$e\"");
}

for my $opt ('--issuer', '--audience') {
    for my $c (['', 'empty'], ['a b', 'a space'], ["a\tb", 'a tab'],
        ["a\x01b", 'a control character'], ["a\x7fb", 'DEL'],
        ["caf\xc3\xa9", 'non-ASCII'], ['x' x 257, '257 bytes'])
    {
        refused(jwt($ak, '--alg', 'HS256', $opt, $c->[0]),
            qr/invalid \Q$opt\E/, "$opt: $c->[1]");
    }
}

refused(jwt($ak, '--alg', 'HS256', '--issuer', 'a', '--issuer', 'b'),
    qr/--issuer is given twice/, '--issuer twice');
refused(jwt($ak, '--alg', 'HS256', '--alg', 'RS256'),
    qr/--alg is given twice/, '--alg twice');
refused(jwt($ak, 'off', '--alg', 'HS256'), qr/takes no other option/,
    'off with --alg');
refused(jwt($ak, 'on'), qr/unexpected argument "on"/, 'on');
refused(jwt($ak, 'off', 'now'), qr/takes one accessKey/,
    'two arguments after the accessKey');
refused(['key', 'jwt'], qr/takes one accessKey/, 'no accessKey');
refused(jwt('NoSuchKey1', '--alg', 'HS256'),
    qr/no key with accessKey "NoSuchKey1"/, 'an unknown key');
refused(jwt('NoSuchKey1', 'off'), qr/no key with accessKey "NoSuchKey1"/,
    'off on an unknown key');
refused(jwt('bad key', '--alg', 'HS256'), qr/invalid accessKey/,
    'an invalid accessKey');
refused(jwt($ak, '--alg', 'HS256', '--bogus'), qr/unknown option "--bogus"/,
    'an unknown option');

is_deeply(jwt_fields($ak), $set, 'after the refusals the method is as set');

# the longest issuer and audience, and every printable character
my $long = 'i' x 256;
my $printable = join '', map { chr } 0x21 .. 0x7e;
change(jwt($ak, '--alg', 'HS256', '--issuer', $long, '--audience',
    $printable), $ak, 'a 256-byte issuer, every printable character');
is(jwt_fields($ak)->{jwt_issuer}, $long, 'issuer stored');
is(jwt_fields($ak)->{jwt_audience}, $printable, 'audience stored');

###############################################################################
# key show: text and JSON; the record as nginx reads it

change(jwt($ak, '--alg', 'ES256', '--public-key', "$k/es.pub", '--issuer',
    'https://idp.example.com/', '--audience', 'orders', '--max-lifetime',
    '3600'), $ak, 'ES256 for key show');

$r = $t->ctl('key', 'show', $ak);
is($r->{rc}, 0, 'key show: exit 0');
my $line = 'jwt' . (' ' x 12) . "ES256, key sha256:$fp{es}, issuer "
    . 'https://idp.example.com/, audience orders, max lifetime 3600 s, exp '
    . 'required';
like($r->{out}, qr/^\Q$line\E$/m, 'key show: the jwt line');
unlike($r->{out}, qr/^nginx/m, 'key show: nginx reads the record');

$r = $t->ctl_json('key', 'show', $ak);
is_deeply(plain($r->{json}{jwt}), { alg => 'ES256',
    public_key_fingerprint => $fp{es}, public_key_error => undef,
    issuer => 'https://idp.example.com/', audience => 'orders',
    max_lifetime => 3600, require_exp => 1 }, 'key show --json: "jwt"');
is($r->{json}{nginx_refuses}, undef, 'key show --json: nginx_refuses null');

for my $c (['HS256'], ['RS256', "$k/rsa.pub"], ['EdDSA', "$k/ed.pub"]) {
    change(jwt($ak, '--alg', $c->[0], ($c->[1] ? (@pk, $c->[1]) : ()),
        '--require-exp', 'off'), $ak, "$c->[0] for key show");
    $r = $t->ctl_json('key', 'show', $ak);
    is($r->{json}{nginx_refuses}, undef, "$c->[0]: nginx reads the record");
    is($r->{json}{jwt}{alg}, $c->[0], "$c->[0]: key show --json alg");
    ok(!$r->{json}{jwt}{require_exp}, "$c->[0]: require_exp false");
}
$line = 'jwt' . (' ' x 12) . "EdDSA, key sha256:$fp{ed}, any issuer, "
    . 'any audience, any lifetime, exp not required';
like($t->ctl('key', 'show', $ak)->{out}, qr/^\Q$line\E$/m,
    'key show: EdDSA, nothing else set');

$r = $t->ctl('key', 'list');
like($r->{out}, qr/^\Q$ak\E\s+jwt\s+enabled\b/m,
    'key list: the key is not malformed');

###############################################################################
# key copy copies the method

change(jwt($ak, '--alg', 'ES256', '--public-key', "$k/es.pub", '--issuer',
    'idp', '--audience', 'api', '--max-lifetime', '2h', '--require-exp',
    'off'), $ak, 'ES256 for key copy');
$r = $t->ctl_json('key', 'copy', $ak, '--name', 'copy', '--access-key',
    'JwtCopy0001');
is($r->{rc}, 0, 'key copy: exit 0') or diag($r->{err});
is_deeply(jwt_fields('JwtCopy0001'), jwt_fields($ak),
    'key copy: the six fields copied');
is_deeply(plain($r->{json}{jwt}), plain($t->ctl_json('key', 'show',
    $ak)->{json}{jwt}), 'key copy --json: the same method');
$r = $t->ctl('key', 'show', 'JwtCopy0001');
like($r->{out}, qr/^jwt {12}ES256, key sha256:$fp{es}, /m,
    'key show of the copy: the same public key');

my $plain_ak = 'JwtPlain001';
$t->create_key('--name', 'plain', '--access-key', $plain_ak);
$r = $t->ctl('key', 'copy', $plain_ak, '--name', 'copy', '--access-key',
    'JwtPlainCopy1');
is($r->{rc}, 0, 'key copy of a key without a method: exit 0');
is_deeply(jwt_fields('JwtPlainCopy1'), {}, 'the copy has none either');

###############################################################################
# off

$r = change(jwt($ak, 'off'), $ak, 'off');
is_deeply(jwt_fields($ak), {}, 'off: the six fields removed');
is($r->{out}, "key \"$ak\": jwt none\n", 'off: the line says so');
like($t->ctl('key', 'show', $ak)->{out}, qr/^jwt {12}none$/m,
    'key show: jwt none');

$r = change(jwt($ak, '--json', 'off'), $ak, 'off again, --json');
is_deeply($r->{json}, { access_key => $ak, jwt => undef },
    'off --json: "jwt": null');

my %rec = @{ $t->redis('HGETALL', "{apiauth}:key:$ak") };
ok($rec{salt} && $rec{status} && !grep({ /^jwt_/ } keys %rec),
    'off keeps the rest of the record');

###############################################################################
# records written straight into Redis

# a public key that does not load: only the loader sees it
change(jwt($ak, '--alg', 'RS256', '--public-key', "$k/rsa.pub"), $ak,
    'RS256 before writing straight into Redis');
$t->redis('HSET', "{apiauth}:key:$ak", 'jwt_public_key', trim($pem{rsa1024}));
$r = $t->ctl('key', 'show', $ak);
$line = 'jwt' . (' ' x 12) . 'RS256, public key unreadable, any issuer, '
    . 'any audience, any lifetime, exp required';
like($r->{out}, qr/^\Q$line\E$/m, 'a 1024-bit key in the store: unreadable');
$line = 'nginx' . (' ' x 10) . 'refuses its tokens (store_unavailable): the '
    . 'public key does not load: an RSA key of 1024 bits: RS256 needs 2048 or '
    . 'more';
like($r->{out}, qr/^\Q$line\E$/m, 'key show: nginx refuses its tokens, why');
unlike($r->{out}, qr/^nginx +refuses it /m,
    'but not the key: its signed requests still pass');
$r = $t->ctl_json('key', 'show', $ak);
is($r->{json}{nginx_refuses}, undef, '--json: nginx_refuses null');
like($r->{json}{jwt}{public_key_error}, qr/1024 bits: RS256 needs 2048/,
    '--json: public_key_error says why');
is($r->{json}{jwt}{public_key_fingerprint}, undef, '--json: no fingerprint');

# what the record reader refuses
$t->redis('HSET', "{apiauth}:key:$ak", 'jwt_alg', 'HS512');
$r = $t->ctl('key', 'show', $ak);
like($r->{out}, qr/^jwt {12}HS512, /m, 'an unknown alg shown as stored');
like($r->{out}, qr/^nginx {10}refuses it .*JWT method/m,
    'and nginx refuses it');

$t->redis('HSET', "{apiauth}:key:$ak", 'jwt_alg', 'HS256',
    'jwt_require_exp', "y\e[2J");
$r = $t->ctl('key', 'show', $ak);
like($r->{out}, qr/require_exp "y\\u001b\[2J"$/m,
    'a stored require_exp shown escaped');
like($r->{out}, qr/^nginx {10}refuses it .*JWT method/m,
    'and nginx refuses it');

change(jwt($ak, 'off'), $ak, 'off clears what was written straight');
is_deeply(jwt_fields($ak), {}, 'nothing left');

###############################################################################
# --help

$r = $t->ctl('key', 'jwt', '--help');
is($r->{rc}, 0, 'key jwt --help: exit 0');
like($r->{out},
    qr/\Ausage: apiauth-ctl key jwt AK --alg HS256\|RS256\|ES256\|EdDSA/,
    'key jwt --help: the usage');
like($r->{out}, qr/^\s+apiauth-ctl key jwt AK off/m, 'and off');
like($t->ctl('key', '--help')->{out}, qr/^  jwt AK --alg /m,
    'key --help lists jwt');

$t->finish;

done_testing;
