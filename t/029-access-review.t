#!/usr/bin/perl

# Regressions found in review: a refusal overruled by satisfy any leaves a
# location's own 403 alone; refusals reach a slow reader in full; a
# redirect into a location with replay protection remembers the nonce;
# only workers talk to Redis; a record without its whitelist is refused;
# "UNIX:" addresses work.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
my $dir = $t->dir;
$t->start_redis(args => ['--unixsocket', "$dir/redis.sock",
    '--unixsocketperm', '700']);
$t->init_store;

my $key = $t->create_key('--name', 'review', '--access-key', 'ReviewKey001');
my $off = $t->create_key('--name', 'disabled', '--access-key', 'ReviewOff001',
    '--disabled');
mkdir "$dir/html";
mkdir "$dir/html/noindex";
mkdir "$dir/cache";

$t->write_nginx_conf(nginx_conf(
    main => 'worker_processes 2;',
    http => "proxy_cache_path $dir/cache keys_zone=c:1m;",
    listen => 'listen 127.0.0.1:%%PORT%% sndbuf=4k;',
    server => <<'EOF'));
        send_timeout 3s;
        keepalive_requests 1000;

        location /any/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            apiauth token;
            alias %%PREFIX%%/html/;
        }

        location /open/ {
            apiauth signature;
            apiauth_replay_protection off;
            try_files /nonexistent @strict;
        }

        location @strict {
            apiauth signature;
            @@BACKEND@@
        }

        location /api/ {
            apiauth token;
            @@BACKEND@@
        }

        location /sig/ {
            apiauth signature;
            @@BACKEND@@
        }
EOF
$t->start_nginx;

# satisfy any: allow admits a refused request; the location's own 403 (a
# directory without an index) is nginx's page, not ours

my $r = send_plain($t, target => '/any/noindex/',
    headers => [token_headers($off)]);
is($r->{status}, 403, 'satisfy any: a directory without index is 403');
like($r->{headers}{'content-type'} // '', qr{^text/html},
    'satisfy any: the location\'s own 403 page is nginx\'s, not the JSON');

# refusals to a slow reader: every one arrives, none waits for send_timeout

my $port = $t->port('http');
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
    Proto => 'tcp') or die;
my $n = 300;
my $req = "GET /api/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
print $s $req x $n;
sleep 0.5;
my ($buf, $t0) = ('', time);
my $sel = IO::Select->new($s);
while (time - $t0 < 6) {
    last unless $sel->can_read(1);
    my $got = sysread($s, $buf, 65536, length $buf);
    last unless $got;
    last if (() = $buf =~ /\{"error":"unauthorized"/g) == $n;
}
close $s;
is(scalar(() = $buf =~ /\{"error":"unauthorized","reason":"missing_credentials"/g),
    $n, "$n pipelined refusals to a slow reader all arrive");
ok(time - $t0 < 3, 'before send_timeout');

# a signed request admitted where replay protection is off, redirected by
# try_files into a location where it is on: the nonce is remembered there

my $raw = signed_request(key => $key, target => '/open/x', port => $port,
    host => "127.0.0.1:$port", nonce => 'review-nonce-0000001');
my $first = http($port, $raw);
is($first->{status}, 200, 'a signed request through try_files is admitted');
my $again = http($port, $raw);
is($again->{status}, 401, 'its copy is refused where replay protection is on');
is(parse_json($again), 'replayed_nonce', 'as replayed_nonce');

# only workers talk to Redis: not the cache manager, not the cache loader

my @conns;
eval {
    Apiauth::Test::wait_for('the workers\' Redis connections', 10, sub {
        @conns = grep { /\bcmd=(hget|hgetall)\b/ }
            split /\n/, $t->redis('CLIENT', 'LIST');
        return @conns >= 2;
    });
};
is(scalar @conns, 2, 'two workers, two Redis connections, with a proxy cache');

# a record without its whitelist is malformed: refused, and not cached

my $ips = $t->create_key('--name', 'ips', '--access-key', 'ReviewIps001',
    '--ip', '10.9.9.9');
$t->redis('HDEL', '{apiauth}:key:ReviewIps001', 'ips');
$r = send_plain($t, target => '/api/y', headers => [token_headers($ips)]);
expect_refused($t, $r, 'store_unavailable',
    'a record without its whitelist field');
like($t->read_file('error.log'),
    qr/apiauth: key "ReviewIps001" in Redis is malformed: refusing it/,
    'the error log says which key is malformed');
$t->redis('HSET', '{apiauth}:key:ReviewIps001', 'ips', '');
$r = send_plain($t, target => '/api/y', headers => [token_headers($ips)]);
expect_ok($t, $r, $ips, 'the repaired record, at once: nothing was cached');

# X-Apiauth-Content-SHA256 is 64 lowercase hex digits or malformed; long
# signed headers are hashed whole (the canonical request's buffer holds
# what its bound says)

for my $bad ('abc', 'F' x 64, 'f' x 8100) {
    $r = send_signed($t, key => $key, target => '/sig/hash',
        headers => [['X-Apiauth-Content-SHA256', $bad]]);
    expect_refused($t, $r, 'malformed_credentials',
        'a body hash of ' . length($bad) . ' "' . substr($bad, 0, 1) . '"s');
}

$r = send_signed($t, key => $key, target => '/sig/pad?a&b&c',
    headers => [['X-Pad', 'p' . ' ' x 7000 . 'q'], ['X-Pad', 'r' x 7000],
        ['X-Apiauth-Content-SHA256', 'e3b0c44298fc1c149afbf4c8996fb924'
            . '27ae41e4649b934ca495991b7852b855']]);
expect_ok($t, $r, $key, 'long repeated signed headers and a query of '
    . 'parts without "="');

# more headers than the worker's array of 128: a signed header repeated
# after 140 others is read there too (and its value counts)

sub late_header {
    my ($late_value) = @_;
    return send_signed($t, key => $key, target => '/sig/many',
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

$t->stop_nginx;

# "UNIX:" is a unix socket, as nginx itself reads addresses

$t->write_nginx_conf(nginx_conf(
    redis => 'apiauth_redis UNIX:%%PREFIX%%/redis.sock;',
    server => 'location / { apiauth token; @@BACKEND@@ }'));
$t->start_nginx;
$r = send_plain($t, target => '/u', headers => [token_headers($key)]);
expect_ok($t, $r, $key, 'apiauth_redis UNIX:/path');

$t->finish;
done_testing;

sub parse_json {
    my ($res) = @_;
    return $res->{json} ? $res->{json}{reason} : undef;
}
