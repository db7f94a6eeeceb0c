#!/usr/bin/perl

# Cache economics: unknown accessKeys hold at most a quarter of the cache
# zone and never push real keys out; concurrent misses for one key make one
# Redis lookup per worker; signed requests waiting for lookups keep their
# own headers.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;
$t->ctl('config', 'set', 'max_keys', 5000);

my $master = pack 'H*', do {
    (my $m = $t->read_file('master.key')) =~ s/\s+//g;
    $m;
};

# 1,000 keys, written in the layout apiauth-ctl uses
my @keys;
for my $i (1 .. 1000) {
    my $ak = sprintf 'RealKey%05d', $i;
    my $salt = sprintf '%032x', $i;
    $t->redis('HSET', "{apiauth}:key:$ak", 'name', "real $i",
        'description', '', 'salt', $salt, 'status', 'enabled',
        'created', 1764000000, 'updated', 1764000000, 'apps', '*',
        'interfaces', '*', 'ips', '');
    $t->redis('ZADD', '{apiauth}:keys', 0, $ak);
    push @keys, [$ak, hmac_sha256_hex("apiauth-secret-v1\0$ak\0$salt",
        $master)];
}

sub lookups {
    my ($line) = grep { /^cmdstat_hgetall:/ }
        split /\r\n/, $t->redis('INFO', 'commandstats');
    return $line && $line =~ /calls=(\d+)/ ? $1 : 0;
}

# a 1m zone holds the 1,000 keys; 10,000 unknown accessKeys would fill it
# many times over if they were not kept to their quarter
$t->write_nginx_conf(nginx_conf(
    main => 'worker_processes 2;',
    http => 'apiauth_cache zone=keys:1m ttl=10m negative_ttl=10m;',
    server => "keepalive_requests 100000;\n"
        . 'location / { apiauth token; @@BACKEND@@ }'));
$t->start_nginx;
$t->wait_feeds(2);

my $port = $t->port('http');
my $s;

# one keepalive connection; returns the status
sub call {
    my ($token) = @_;
    $s //= IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp') or die;
    return keepalive($s, "GET /c HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . "Authorization: Bearer $token\r\n\r\n")->{status};
}

my $n0 = lookups();
my %st;
$st{ call("$_->[0].$_->[1]") }++ for @keys;
is_deeply(\%st, { 200 => 1000 }, '1,000 real keys admitted');
my $n1 = lookups();
is($n1 - $n0, 1000, 'warming the cache took one lookup a key, one after '
    . 'the other on one connection');

%st = ();
$st{ call(sprintf('Unknown%013d.%s', $_, random_hex(64))) }++
    for 1 .. 10000;
is_deeply(\%st, { 401 => 10000 }, '10,000 unknown accessKeys refused');
my $n2 = lookups();
is($n2 - $n1, 10000, '10,000 unknown accessKeys made one lookup each');

%st = ();
$st{ call("$_->[0].$_->[1]") }++ for @keys;
is_deeply(\%st, { 200 => 1000 }, 'the real keys are admitted still');
is(lookups() - $n2, 0, 'and every one of them was a cache hit');

# the quarter is a bound, not a wish: the same flood again, and again no
# real key is lost
$st{ call(sprintf('Flood%015d.%s', $_, random_hex(64))) }++ for 1 .. 3000;
my $n3 = lookups();
$st{ call("$_->[0].$_->[1]") }++ for @keys;
is(lookups() - $n3, 0, 'after another flood, still all hits');
close $s;
undef $s;

# the zone outlives a reload: the new workers find the keys the old ones
# cached, the last unknown ones included
$t->reload_nginx;
my $n3r = lookups();
%st = ();
$st{ call("$_->[0].$_->[1]") }++ for @keys;
$st{ call(sprintf('Flood%015d.%s', $_, random_hex(64))) }++
    for 2901 .. 3000;
is_deeply(\%st, { 200 => 1000, 401 => 100 },
    'after a reload, the real keys are admitted and the unknown refused');
is(lookups() - $n3r, 0, 'with no lookup: the cache was kept across the '
    . 'reload');
close $s;

# 100 concurrent first requests for one key, 2 workers, Redis paused so
# that they all arrive before it answers: one lookup per worker at most

my $key = $keys[0];
$t->redis('HSET', '{apiauth}:key:Concurrent01', 'name', 'concurrent',
    'description', '', 'salt', 'ab' x 16, 'status', 'enabled',
    'created', 1764000000, 'updated', 1764000000, 'apps', '*',
    'interfaces', '*', 'ips', '');
my $secret = hmac_sha256_hex("apiauth-secret-v1\0Concurrent01\0" . 'ab' x 16,
    $master);

my $n4 = lookups();
my $redis_pid = $t->{pids}{redis};
kill 'STOP', $redis_pid;
my $raw = "GET /c HTTP/1.1\r\nHost: 127.0.0.1:$port\r\n"
    . "Authorization: Bearer Concurrent01.$secret\r\nConnection: close\r\n\r\n";
my $resume = time + 0.5;
my $pid = fork // die;
if ($pid == 0) {
    sleep $resume - time;
    kill 'CONT', $redis_pid;
    POSIX::_exit(0);
}
my @res = parallel_http(map { { port => $port, raw => $raw } } 1 .. 100);
waitpid $pid, 0;
kill 'CONT', $redis_pid;

my %by;
$by{ $_->{status} // 'none' }++ for @res;
is_deeply(\%by, { 200 => 100 }, '100 concurrent first requests admitted');
my $made = lookups() - $n4;
ok($made >= 1 && $made <= 2,
    "they made one lookup per worker at most ($made for 2 workers)");

$t->stop_nginx;

# signed requests that wait for a lookup keep their own headers: one worker
# parses the others' while the first ones wait (the parser's array is the
# worker's, reused by the next request)

$t->write_nginx_conf(nginx_conf(
    server => 'location / { apiauth signature; @@BACKEND@@ }'));
$t->start_nginx;

my (@signers, @jobs);
for my $i (1 .. 3) {
    my $ak = sprintf 'Waiting%05d', $i;
    my $salt = sprintf '%032x', 100 + $i;
    $t->redis('HSET', "{apiauth}:key:$ak", 'name', "waiting $i",
        'description', '', 'salt', $salt, 'status', 'enabled',
        'created', 1764000000, 'updated', 1764000000, 'apps', '*',
        'interfaces', '*', 'ips', '');
    push @signers, { access_key => $ak, access_secret =>
        hmac_sha256_hex("apiauth-secret-v1\0$ak\0$salt", $master) };
}

# two requests per key, each its own nonce and path
for my $i (0 .. 5) {
    push @jobs, { port => $port, raw => signed_request(
        key => $signers[$i % 3], target => "/wait/$i", port => $port,
        unsigned => [['Connection', 'close']]) };
}

my $n5 = lookups();
kill 'STOP', $redis_pid;
$resume = time + 0.5;
$pid = fork // die;
if ($pid == 0) {
    sleep $resume - time;
    kill 'CONT', $redis_pid;
    POSIX::_exit(0);
}
@res = parallel_http(@jobs);
waitpid $pid, 0;
kill 'CONT', $redis_pid;

%by = ();
$by{ $_->{status} // 'none' }++ for @res;
is_deeply(\%by, { 200 => 6 }, 'six signed requests that waited for their '
    . 'keys together are admitted')
    or diag(join ' ', map { $_->{json} ? $_->{json}{reason} : '-' } @res);
ok(lookups() - $n5 >= 3, 'they waited for lookups (' . (lookups() - $n5)
    . ')');

$t->finish;
done_testing;
