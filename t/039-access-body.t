#!/usr/bin/perl

# Signed bodies (apiauth_body_hash): a body that does not hash to its signed
# X-Apiauth-Content-SHA256 is refused (body_hash_mismatch), in memory, in a
# temp file or chunked; with require, a body must be signed
# (unsigned_body); the body reaches the backend unchanged; a refused
# request's body is never read, and Expect: 100-continue gets no 100.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;
my $key = $t->create_key('--name', 'bodies');

# A backend that answers with the SHA-256 and length of the body it got.
my $echo_port = $t->port('echo');
$t->release_port('echo');
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
    LocalPort => $echo_port, Listen => 16, ReuseAddr => 1, Proto => 'tcp')
    or die "echo: $!\n";
my $echo = fork // die "fork: $!\n";
if ($echo == 0) {
    $SIG{$_} = 'DEFAULT' for qw(INT TERM);
    while (my $c = $listen->accept) {
        my $buf = '';
        sysread($c, $buf, 65536, length $buf) or last
            while index($buf, "\r\n\r\n") < 0;
        my $end = index($buf, "\r\n\r\n") + 4;
        my ($len) = substr($buf, 0, $end) =~ /^Content-Length:\s*(\d+)/mi;
        $len //= 0;
        sysread($c, $buf, 65536, length $buf) or last
            while length($buf) < $end + $len;
        my $body = substr($buf, $end, $len);
        my $out = 'sha256=' . sha256_hex($body) . ' len=' . length($body);
        print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($out)
            . "\r\nConnection: close\r\n\r\n$out";
        close $c;
    }
    POSIX::_exit(0);
}
close $listen;
$t->{pids}{echo} = $echo;

$t->write_nginx_conf(nginx_conf(
    main => 'worker_processes 1;',
    http => "client_body_buffer_size 16k;\nclient_max_body_size 16m;",
    server => <<'EOF'));
        location /sig/ {
            apiauth signature;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
        }
        location /req/ {
            apiauth signature;
            apiauth_body_hash require;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
        }
        location /off/ {
            apiauth signature;
            apiauth_body_hash off;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
        }
        location /tok/ {
            apiauth token;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
        }
        location /small/ {
            apiauth signature;
            client_max_body_size 1k;
            error_page 413 400 /err;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
        }
        location /skew/ {
            apiauth signature;
            apiauth_clock_skew 1s;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
        }
        location = /err {
            apiauth signature;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
        }
EOF
$t->start_nginx;
my $port = $t->port('http');

# The signed headers of a POST of $signed (hashed when $hash), sent with
# $body (what is sent may differ from what was signed).
sub post {
    my (%a) = @_;
    my @h = sign(access_key => $key->{access_key},
        secret => $a{secret} // $key->{access_secret}, method => 'POST',
        port => $port, target => $a{target}, body => $a{signed},
        sign_body => $a{hash} // 1,
        headers => $a{headers});
    return @h;
}

sub send_post {
    my (%a) = @_;
    my $body = $a{body} // $a{signed};
    my @h = post(%a);
    my $raw = build_request('POST', $a{target}, [@h, ['X-Test-Id', 'b']],
        $body);
    my $r = http($port, $raw, timeout => 20);
    $r->{request} = substr($raw, 0, 2000);
    return $r;
}

sub verdict {
    my ($r) = @_;
    return 'ok ' . $r->{body} if ($r->{status} // 0) == 200;
    return ref $r->{json} eq 'HASH' ? $r->{json}{reason} // '?'
        : 'no answer: ' . ($r->{error} // $r->{status} // '');
}

my $doc = '{"order":42,"items":["book","pen"]}';
my $echoed = 'ok sha256=' . sha256_hex($doc) . ' len=' . length($doc);

###############################################################################
# in memory

is(verdict(send_post(target => '/sig/a', signed => $doc)), $echoed,
    'a signed body that matches: admitted, the backend got it unchanged');
is(verdict(send_post(target => '/sig/a', signed => $doc,
    body => '{"order":43,"items":["book","pen"]}')), 'body_hash_mismatch',
    'a body changed after signing: body_hash_mismatch');
is(verdict(send_post(target => '/sig/a', signed => $doc, body => '')),
    'body_hash_mismatch', 'the body dropped: body_hash_mismatch');
is(verdict(send_post(target => '/sig/a', signed => '')),
    'ok sha256=' . sha256_hex('') . ' len=0',
    'an empty body signed as empty: admitted');
is(verdict(send_post(target => '/sig/a', signed => $doc, hash => 0)),
    $echoed, 'verify: an unsigned body (UNSIGNED-PAYLOAD) is admitted');

my @h = post(target => '/sig/a', signed => $doc, hash => 0,
    headers => [['X-Apiauth-Content-SHA256', 'UNSIGNED-PAYLOAD']]);
my $r = http($port, build_request('POST', '/sig/a', \@h, $doc));
is(verdict($r), $echoed, 'verify: X-Apiauth-Content-SHA256: '
    . 'UNSIGNED-PAYLOAD, signed, is admitted');
@h = post(target => '/req/a', signed => $doc, hash => 0,
    headers => [['X-Apiauth-Content-SHA256', 'UNSIGNED-PAYLOAD']]);
$r = http($port, build_request('POST', '/req/a', \@h, $doc));
is(verdict($r), 'unsigned_body', 'require: UNSIGNED-PAYLOAD refused');

my $once = build_request('POST', '/sig/a', [post(target => '/sig/a',
    signed => $doc)], $doc);
is(verdict(http($port, $once)), $echoed, 'a signed POST');
is(verdict(http($port, $once)), 'replayed_nonce',
    'the same signed POST again: replayed_nonce, before its body is read');

$r = send_post(target => '/sig/a', signed => $doc,
    secret => 'f' x 64, body => $doc);
is(verdict($r), 'invalid_credentials', 'a wrong secret: refused before the '
    . 'body is read');

# a body sent after the headers (nginx waits for it, not in the first
# read): read and hashed as it arrives, not where the headers were
for my $case (['the same body', $doc, $echoed],
    ['another body', '{"order":43,"items":["book","pen"]}',
        'body_hash_mismatch'])
{
    my ($what, $sent, $want) = @$case;
    my @hh = post(target => '/sig/later', signed => $doc);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $port, Proto => 'tcp') or die "connect: $!\n";
    print $s "POST /sig/later HTTP/1.1\r\n"
        . join('', map { "$_->[0]: $_->[1]\r\n" } @hh)
        . 'Content-Length: ' . length($sent) . "\r\nConnection: close\r\n\r\n";
    sleep 0.2;
    print $s $sent;
    is(verdict(Apiauth::Client::_exchange($s, '', timeout => 5)), $want,
        "a body sent 0.2 s after its headers, $what: $want");
}

# an upload that takes longer than the window: judged when it began, not
# again once its body is in
{
    my @hh = post(target => '/skew/up', signed => $doc);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $port, Proto => 'tcp') or die "connect: $!\n";
    print $s "POST /skew/up HTTP/1.1\r\n"
        . join('', map { "$_->[0]: $_->[1]\r\n" } @hh)
        . 'Content-Length: ' . length($doc) . "\r\nConnection: close\r\n\r\n"
        . substr($doc, 0, 10);
    sleep 2.5;
    print $s substr($doc, 10);
    is(verdict(Apiauth::Client::_exchange($s, '', timeout => 5)), $echoed,
        'apiauth_clock_skew 1s, a body that took 2.5 s: admitted');
}

###############################################################################
# require, off, token

is(verdict(send_post(target => '/req/a', signed => $doc, hash => 0)),
    'unsigned_body', 'require: a body without a signed hash: unsigned_body');
is(verdict(send_post(target => '/req/a', signed => $doc)), $echoed,
    'require: a signed body: admitted');
is(verdict(send_post(target => '/req/a', signed => $doc, body => 'x')),
    'body_hash_mismatch', 'require: a mismatch');
@h = sign(access_key => $key->{access_key}, secret => $key->{access_secret},
    method => 'GET', port => $port, target => '/req/a');
is(verdict(http($port, build_request('GET', '/req/a', \@h))),
    'ok sha256=' . sha256_hex('') . ' len=0',
    'require: a GET without a body needs no hash');
is(verdict(send_post(target => '/off/a', signed => $doc, body => 'other')),
    'ok sha256=' . sha256_hex('other') . ' len=5',
    'off: the body is not checked');
$r = http($port, build_request('POST', '/tok/a', [['Host', "127.0.0.1:$port"],
    token_headers($key), ['X-Apiauth-Content-SHA256', 'a' x 64]], $doc));
is(verdict($r), $echoed, 'token mode: bodies are not checked');

###############################################################################
# a 5 MB body, spooled to a temp file

my $big = join '', map { sprintf "%07d\n", $_ } 1 .. 655360;    # 5 MiB
my $log0 = length $t->read_file('error.log');
is(verdict(send_post(target => '/sig/big', signed => $big)),
    'ok sha256=' . sha256_hex($big) . ' len=' . length($big),
    'a 5 MB signed body: admitted, the backend got it unchanged');
like(substr($t->read_file('error.log'), $log0),
    qr/a client request body is buffered to a temporary file/,
    '(it went through a temp file)');
(my $bad = $big) =~ s/0000042/0000043/;
is(verdict(send_post(target => '/sig/big', signed => $big, body => $bad)),
    'body_hash_mismatch', 'a 5 MB body with one byte changed: '
    . 'body_hash_mismatch');

###############################################################################
# chunked

sub chunked {
    my ($body, $size) = @_;
    my $out = '';
    for (my $i = 0; $i < length $body; $i += $size) {
        my $c = substr($body, $i, $size);
        $out .= sprintf("%x\r\n", length $c) . $c . "\r\n";
    }
    return $out . "0\r\n\r\n";
}

sub send_chunked {
    my ($target, $signed, $sent) = @_;
    my @h = post(target => $target, signed => $signed);
    my $raw = "POST $target HTTP/1.1\r\n"
        . join('', map { "$_->[0]: $_->[1]\r\n" } @h)
        . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        . chunked($sent, 1000);
    return http($port, $raw, timeout => 20);
}

is(verdict(send_chunked('/sig/c', $doc, $doc)), $echoed,
    'a chunked signed body: admitted, the backend got it whole');
is(verdict(send_chunked('/sig/c', $doc, "$doc ")), 'body_hash_mismatch',
    'a chunked body with a byte added: body_hash_mismatch');
my $mid = substr($big, 0, 100_000);
is(verdict(send_chunked('/sig/c', $mid, $mid)),
    'ok sha256=' . sha256_hex($mid) . ' len=' . length($mid),
    'a 100 KB chunked body (past the buffer): admitted');
is(verdict(send_chunked('/req/c', '', '')),
    'ok sha256=' . sha256_hex('') . ' len=0',
    'require: an empty chunked body, signed as empty');

# a chunked body too large for its location (413), sent by error_page to
# another apiauth location: the body was never read whole, nor admitted
$r = send_chunked('/small/c', $mid, $mid);
is(verdict($r), 'body_hash_mismatch', 'a chunked body past '
    . 'client_max_body_size, error_page to an apiauth location: refused');
ok(($r->{elapsed} // 99) < 5, sprintf 'at once (%.2fs), not left waiting',
    $r->{elapsed} // 99);
like($t->read_file('error.log'), qr/the body of "\Q$key->{access_key}\E" could not be read/,
    'the error log says so');

# the same with the chunk that goes past the limit sent later, once nginx
# waits for it: the read fails in its own event, after the access phase
@h = post(target => '/small/late', signed => 'x' x 3000);
my $late = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
    Proto => 'tcp') or die "connect: $!\n";
print $late "POST /small/late HTTP/1.1\r\n"
    . join('', map { "$_->[0]: $_->[1]\r\n" } @h)
    . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    . sprintf("%x\r\n", 500) . ('x' x 500) . "\r\n";
sleep 0.3;
print $late sprintf("%x\r\n", 2500) . ('x' x 2500) . "\r\n0\r\n\r\n";
$r = Apiauth::Client::_exchange($late, '', timeout => 5);
is(verdict($r), 'body_hash_mismatch', 'the limit passed by a later chunk: '
    . 'refused too, at once');

###############################################################################
# Expect: 100-continue with a wrong signature and a large body announced:
# 401 at once, no 100 Continue, and the body is never asked for

@h = post(target => '/sig/e', signed => $big, secret => '0' x 64);
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
    Proto => 'tcp') or die "connect: $!\n";
print $s "POST /sig/e HTTP/1.1\r\n"
    . join('', map { "$_->[0]: $_->[1]\r\n" } @h)
    . 'Content-Length: ' . length($big) . "\r\n"
    . "Expect: 100-continue\r\nConnection: close\r\n\r\n";
my $got = '';
my $sel = IO::Select->new($s);
while ($sel->can_read(5)) {
    sysread($s, $got, 65536, length $got) or last;
}
close $s;
like($got, qr{\AHTTP/1\.1 401 }, 'Expect: 100-continue, wrong secret: 401 '
    . 'at once, without the body');
unlike($got, qr/100 Continue/, 'and no 100 Continue');

@h = post(target => '/sig/e', signed => $doc);
$s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
    Proto => 'tcp') or die "connect: $!\n";
print $s "POST /sig/e HTTP/1.1\r\n"
    . join('', map { "$_->[0]: $_->[1]\r\n" } @h)
    . 'Content-Length: ' . length($doc) . "\r\n"
    . "Expect: 100-continue\r\nConnection: close\r\n\r\n";
$got = '';
sysread($s, $got, 65536) if IO::Select->new($s)->can_read(5);
like($got, qr{\AHTTP/1\.1 100 Continue\r\n\r\n\z},
    'Expect: 100-continue, admitted: 100 Continue, then the body is read');
print $s $doc;
$got = '';
$sel = IO::Select->new($s);
while ($sel->can_read(5)) {
    sysread($s, $got, 65536, length $got) or last;
}
like($got, qr{\AHTTP/1\.1 200 .*\Q@{[substr $echoed, 3]}\E}s,
    'and the request is admitted');

###############################################################################
# nginx -t

$t->write_nginx_conf(nginx_conf(server =>
    'location / { apiauth signature; apiauth_body_hash maybe; }'));
my $c = $t->nginx_test_config;
my $line = line_of($t, 'apiauth_body_hash maybe');
like($c->{out}, qr/invalid value "maybe" in \S+nginx\.conf:$line$/m,
    'nginx -t: an unknown apiauth_body_hash value, with file:line');

$t->finish;
done_testing;
