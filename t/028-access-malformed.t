#!/usr/bin/perl

# Malformed input never yields a 500, a crash or a hang: garbage and
# mutated Authorization, X-Apiauth-Date, X-Apiauth-Nonce,
# X-Apiauth-Content-SHA256, Bearer and X-Api-Key values, huge headers,
# NUL-free binary bytes, bad percent-encoding.  Garbage credentials that
# reach the module are refused with a JSON 401, with the reason the parser
# gives where one can be told; a mutated Authorization is admitted only
# where it still reads as the same Credential, SignedHeaders and Signature;
# nginx's own limits answer 400; nginx still admits a valid request
# afterwards.

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

my $key = $t->create_key('--name', 'Fuzz target', '--access-key',
    'FuzzKey00001');

$t->write_nginx_conf(nginx_conf(server => <<'EOF'));
        large_client_header_buffers 4 64k;
        location /sig/ { apiauth signature; @@BACKEND@@ }
        location /tok/ { apiauth token; @@BACKEND@@ }
        location /any/ { apiauth any; @@BACKEND@@ }
EOF
$t->start_nginx;

srand(20261123);
my $port = $t->port('http');
my $host = "127.0.0.1:$port";

# random bytes but CR, LF and NUL (nginx ends or refuses a header on them)
sub junk {
    my ($n, $lo) = @_;
    return join '', map { my $c; do { $c = int(rand(256 - ($lo // 1)))
        + ($lo // 1) } while $c == 10 || $c == 13; chr $c } 1 .. $n;
}

# [category, what, raw request, 'refused' (a JSON 401 from the module),
# 'refused:REASON' (and its public reason), 'same' (admitted the first
# time, a replay after), or 'any' (anything but a 500, as long as there
# is an answer)]
my @cases;
sub add_case { push @cases, [@_] }

# a valid signed request to mutate; its nonce is never admitted
my @valid = sign(access_key => $key->{access_key},
    secret => $key->{access_secret}, port => $port, target => '/sig/x?a=1',
    headers => [['X-Tenant', 'acme']]);
my ($auth) = map { $_->[1] } grep { $_->[0] eq 'Authorization' } @valid;
my ($date0) = map { $_->[1] } grep { $_->[0] eq 'X-Apiauth-Date' } @valid;

# what an Authorization reads as (docs/signature.md): its three parameters,
# or undef where it does not parse
sub auth_fields {
    my ($v) = @_;
    $v =~ /\AAPIAUTH-HMAC-SHA256[ \t](.*)\z/s or return undef;
    my %f;
    for my $seg (split /,/, $1, -1) {
        $seg =~ /\A[ \t]*(\w+)=([^, \t]+)[ \t]*\z/ or return undef;
        return undef if exists $f{$1};
        $f{$1} = $2;
    }
    return undef unless join(',', sort keys %f)
        eq 'Credential,Signature,SignedHeaders'
        && $f{Signature} =~ /\A[0-9a-f]{64}\z/;
    return "$f{Credential} $f{SignedHeaders} $f{Signature}";
}
my $fields0 = auth_fields($auth) // die "the valid Authorization: $auth\n";

sub trim { (my $v = shift) =~ s/^[ \t]+|[ \t]+$//g; return $v }

# the public reason of a date in place of the signed one
sub date_reason {
    my $d = trim(shift);
    return 'refused:malformed_credentials' unless $d =~ /\A\d{1,12}\z/;
    return 'refused:clock_skew' if abs($d - time) > 290;
    return $d == $date0 ? 'same' : 'refused:invalid_credentials';
}

# and of a nonce: any well-formed one is not the one signed
sub nonce_reason {
    return trim(shift) =~ /\A[A-Za-z0-9_-]{16,64}\z/
        ? 'refused:invalid_credentials' : 'refused:malformed_credentials';
}

sub with {
    my (%set) = @_;
    my @h = map { [@$_] } @valid;
    for my $n (keys %set) {
        @h = grep { lc $_->[0] ne lc $n } @h;
        push @h, map { [$n, $_] } ref $set{$n} ? @{ $set{$n} } : $set{$n};
    }
    return build_request('GET', '/sig/x?a=1', \@h);
}

# Authorization: fixed garbage
my $A = 'APIAUTH-HMAC-SHA256';
for my $v ('', ' ', $A, "$A ", "$A Credential=", "$A Credential=,,,",
    "$A Credential=FuzzKey00001, SignedHeaders=, Signature=",
    "$A Credential=FuzzKey00001,SignedHeaders=host,Signature=00",
    "$A Signature=" . ('f' x 10000),
    "$A Credential=" . ('A' x 10000) . ', SignedHeaders=host;x-apiauth-date;'
        . 'x-apiauth-nonce, Signature=' . ('0' x 64),
    "$A Credential=FuzzKey00001, SignedHeaders=" . ('a;' x 3000)
        . 'host, Signature=' . ('0' x 64),
    "$A " . (',' x 1000), "$A " . ('=' x 1000), "$A ===,,,   ,=,",
    "$A Credential==FuzzKey00001", "$A Credential=FuzzKey00001=",
    "$A Credential=\x80\xff\xfe\x01, SignedHeaders=\x7f, Signature=\x90",
    "$A\tCredential=FuzzKey00001", lc($A) . ' x', "${A}x Credential=a",
    'APIAUTH-HMAC-SHA', 'APIAUTH-HMAC-SHA256-X Credential=a',
    "$A Credential=FuzzKey00001, Credential=FuzzKey00001",
    "$A Credential=FuzzKey00001, SignedHeaders=host, SignedHeaders=host",
    "$A Unknown=1, Credential=FuzzKey00001", 'Bearer', 'Bearer ',
    'Basic', 'Digest username="x"', junk(50), junk(500, 32),
    "\x80" x 100)
{
    add_case('Authorization', 'garbage ' . substr(unpack('H*', $v), 0, 40),
        with(Authorization => $v), 'refused');
}

# Authorization: random mutations of the valid one: refused, unless they
# only moved white space around its parameters
for my $i (1 .. 150) {
    my $v = $auth;
    my $op = $i % 5;
    my $pos = int rand length $v;
    if ($op == 0) { $v = substr($v, 0, $pos) }
    elsif ($op == 1) { substr($v, $pos, 1) = junk(1) }
    elsif ($op == 2) { substr($v, $pos, 1) = '' }
    elsif ($op == 3) { substr($v, $pos, 0) = junk(1 + int rand 20, 32) }
    else { substr($v, $pos, 0) = substr($v, int(rand length $v),
        int rand 40) }
    my $same = (auth_fields($v) // '') eq $fields0;
    add_case('Authorization', "mutation $i ($op)", with(Authorization => $v),
        $same ? 'same' : 'refused');
}

# the other signed headers
for my $v ('', '-1', '0', '1e9', '0x10', '+1764000000', ' 17640 00000',
    '9' x 30, '1' x 5000, 'NaN', junk(30), '17640000000000000000000000',
    time . junk(3, 32))
{
    add_case('X-Apiauth-Date', 'value ' . substr(unpack('H*', $v), 0, 40),
        with('X-Apiauth-Date' => $v), date_reason($v));
}
for my $v ('', '-', 'a' x 5000, '../../../etc/passwd', "\xc3\xa9" x 10,
    junk(40), 'abc def ghi jkl mno', 'abcdefghijklmnop;q')
{
    add_case('X-Apiauth-Nonce', 'value ' . substr(unpack('H*', $v), 0, 40),
        with('X-Apiauth-Nonce' => $v), nonce_reason($v));
}
for my $v ('', 'zz' x 32, 'a' x 63, 'a' x 65, 'a' x 50000, junk(64),
    'UNSIGNED-PAYLOAD')
{
    # also when well formed: a body hash sent and not signed
    add_case('X-Apiauth-Content-SHA256',
        'value ' . substr(unpack('H*', $v), 0, 40),
        with('X-Apiauth-Content-SHA256' => $v),
        'refused:malformed_credentials');
}
add_case('repeats', '20 X-Apiauth-Nonce headers',
    with('X-Apiauth-Nonce' => [map { "nonce-repeated-$_-0000" } 1 .. 20]),
    'refused');
# (nginx refuses a repeated Authorization itself, with 400)
add_case('repeats', '20 Authorization headers',
    with(Authorization => [($auth) x 20]), 'any');
add_case('repeats', 'an unknown X-Apiauth-Foo, repeated',
    with('X-Apiauth-Foo' => [1, 2]), 'any');
add_case('repeats', '500 X-Tenant headers, signed list unchanged',
    with('X-Tenant' => [('acme') x 500]), 'refused');

# tokens
for my $v ('Bearer ' . junk(80, 32), 'Bearer ' . ('A' x 50000),
    'Bearer ..', 'Bearer .' . ('a' x 64), 'Bearer FuzzKey00001..' . ('a' x 63),
    'Bearer FuzzKey00001.' . ('a' x 64) . '.', 'Bearer ' . junk(64),
    "Bearer FuzzKey00001.\x80" . ('a' x 63), 'Bearer  FuzzKey00001 . aaa')
{
    for my $loc ('/tok/x', '/any/x') {
        add_case('tokens', "Authorization on $loc: "
                . substr(unpack('H*', $v), 0, 40),
            build_request('GET', $loc, [['Host', $host],
                ['Authorization', $v]]), 'refused');
    }
}
for my $v ('', '.', junk(70), 'x' x 60000, 'FuzzKey00001.' . junk(64, 32)) {
    add_case('tokens', 'X-Api-Key ' . substr(unpack('H*', $v), 0, 40),
        build_request('GET', '/tok/x', [['Host', $host], ['X-Api-Key', $v]]),
        'refused');
}

# beyond nginx's own header buffers (64k here): nginx answers, not the
# module; and an invalid header name
add_case('huge', 'an Authorization of 70000 bytes',
    with(Authorization => "$A Credential=" . ('A' x 70000)), 'any');
add_case('huge', 'an X-Apiauth-Nonce of 70000 bytes',
    with('X-Apiauth-Nonce' => 'n' x 70000), 'any');
add_case('huge', 'a header name with binary bytes',
    with("X-Apiauth-\x80\xff" => 'x'), 'any');

# the request line: bad percent-encoding, raw binary bytes
for my $target ('/sig/%zz', '/sig/%', '/sig/x%2', '/sig/%00',
    "/sig/\x80\xff\xfe", '/sig/x?a=%zz&b=%&c=%2', "/sig/x?\x80=\xff",
    '/sig/' . ('%41' x 2000), '/sig/x?' . ('&' x 3000),
    '/tok/%zz?%%%', "/any/\xc3\x28")
{
    add_case('request line', 'target ' . substr(unpack('H*', $target), 0, 40),
        build_request('GET', $target, [['Host', $host],
            ['Authorization', "$A Credential=x"]]), 'any');
}
# signed by the reference with bad percent-encoding in the query
for my $target ('/sig/q?a=%zz&b=%&c=%2', '/sig/q?%=%%&x=%4', '/sig/q?&&=&')
{
    my @h = sign(access_key => $key->{access_key},
        secret => $key->{access_secret}, port => $port, target => $target);
    add_case('request line', "signed $target",
        build_request('GET', $target, \@h), 'any');
}

###############################################################################

my %bad;
my %count;
my $n500 = 0;
my $same = 0;
for my $c (@cases) {
    my ($cat, $what, $raw, $expect) = @$c;
    my $r = http($port, $raw, timeout => 5);
    $count{$cat}++;
    my $status = $r->{status};
    $n500++ if defined $status && $status >= 500;
    my $fine = defined $status && $status < 500;
    my $json = ref $r->{json} eq 'HASH' ? $r->{json} : {};
    my $refused = $fine && $status == 401
        && join(',', sort keys %$json) eq 'error,reason,request_id'
        && $json->{error} eq 'unauthorized';
    if ($fine && $expect =~ /^refused(?::(\w+))?$/) {
        $fine = $refused && (!defined $1 || $json->{reason} eq $1);
    } elsif ($fine && $expect eq 'same') {
        # the signed request itself: admitted once, a replay after
        $fine = $status == 200 || ($refused
            && $json->{reason} eq 'replayed_nonce');
        $same++;
    }
    push @{ $bad{$cat} }, "$what: " . ($status // $r->{error} // '?')
        . ' ' . substr($r->{body} // '', 0, 100) unless $fine;
}

for my $cat (sort keys %count) {
    ok(!$bad{$cat}, "$cat: $count{$cat} malformed requests, each answered, "
        . 'none with 5xx, garbage credentials with a JSON 401')
        or diag(join "\n", @{ $bad{$cat} });
}
is($n500, 0, 'no 5xx at all over ' . scalar(@cases) . ' requests');
diag("$same mutated Authorization headers read as the valid one");

my $r = send_signed($t, key => $key, target => '/sig/after');
expect_ok($t, $r, $key, 'after all that, a valid request is admitted');

$t->finish;
done_testing;
