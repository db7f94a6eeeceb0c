#!/usr/bin/perl

# Call records across reloads and quits: nginx -s reload during 20,000
# requests, and nginx -s quit during a load, lose none (what a worker has
# not sent at exit goes to its spool, which a later worker replays); with
# Redis stopped, two reloads while slow requests keep old workers alive,
# then Redis started: each request is in the stream exactly once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client qw(:DEFAULT token_load token_load_wait served_ids
    all_recorded all_archived);

my $t = Apiauth::Test->new;
$t->start_redis(args => ['--appendonly', 'yes']);
$t->init_store;

my $key = $t->create_key('--name', 'Reloads', '--access-key',
    'ReloadKey0001');
my $spool = $t->dir . '/spool';

mkdir $t->dir . '/html';
mkdir $t->dir . '/html/slow';
write_file($t->dir . '/html/slow/big', 'x' x 8192);

$t->write_nginx_conf(nginx_conf(
    main => 'worker_processes 2;',
    redis => 'apiauth_redis 127.0.0.1:%%REDIS_PORT%% timeout=1s;',
    http => "    apiauth_records_pipeline flush=50ms spool=$spool;\n",
    server => <<'EOF2'));
        root %%PREFIX%%/html;
        apiauth token;
        apiauth_records on;
        location /api/ { empty_gif; }
        location /slow/ { limit_rate 2k; }
        location = /status { apiauth off; apiauth_status; }
EOF2
$t->start_nginx;

is(send_plain($t, target => '/api/warm', headers => [token_headers($key)])
    ->{status}, 200, 'the key cached');

###############################################################################
# nginx -s reload during 20,000 requests

my $load = token_load($t, key => $key, target => '/api/reload', n => 5000,
    seconds => 8);
sleep 3;
$t->reload_nginx;
my $got = token_load_wait($load);
is($got->{200}, 20000, 'a reload under load: every request answered 200')
    or diag(explain $got);
all_recorded($t, prefix => '/api/reload', n => 20000, spool => $spool,
    name => 'a reload under load');

###############################################################################
# nginx -s quit during a load: what the workers held is spooled at exit,
# and replayed by the next nginx's workers

$load = token_load($t, key => $key, target => '/api/quit', n => 1000,
    seconds => 4);
sleep 1.5;
$t->stop_nginx;
token_load_wait($load);
my $served = keys %{ served_ids($t, '/api/quit') };
ok($served > 100, "nginx -s quit under load: $served requests served first");
$t->start_nginx;
all_recorded($t, prefix => '/api/quit', n => $served, spool => $spool,
    name => 'nginx -s quit under load');
is(send_plain($t, target => '/api/warm', headers => [token_headers($key)])
    ->{status}, 200, 'the key cached again');
unlike($t->read_file('error.log'), qr/\[alert\]/, 'no alert');

###############################################################################
# Redis stopped; two reloads, each while a slow request keeps an old worker
# alive; Redis started: each request recorded exactly once

sub slow_start {
    my $port = $t->port('http');
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp') or die "connect: $!\n";
    print $s build_request('GET', '/slow/big', [['Host', "127.0.0.1:$port"],
        token_headers($key)]);
    return $s;
}

sub some {
    my ($tag) = @_;
    for my $i (1 .. 50) {
        my $r = send_plain($t, target => "/api/down/$tag$i",
            headers => [token_headers($key)]);
        die "status $r->{status}\n" unless $r->{status} == 200;
    }
}

$t->stop_redis;
$t->redis_close;
some('a');
my $s1 = slow_start();
sleep 0.3;
$t->reload_nginx;
some('b');
my $s2 = slow_start();
sleep 0.3;
$t->reload_nginx;
some('c');
my @bodies = map { Apiauth::Client::_exchange($_, '', timeout => 15) }
    $s1, $s2;
is_deeply([map { $_->{status} } @bodies], [200, 200],
    'the slow requests of old workers finish');
$t->start_redis(args => ['--appendonly', 'yes']);
all_recorded($t, prefix => '/api/down/', n => 150, spool => $spool,
    name => 'Redis away, two reloads', once => 1);
all_recorded($t, prefix => '/slow/', n => 2, spool => $spool,
    name => 'the old workers\' slow requests', once => 1);

# and drained: each request of the test archived exactly once
all_archived($t, $t->dir . '/archive.db', '/', 'the archive');

$t->finish;
done_testing();
