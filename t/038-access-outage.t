#!/usr/bin/perl

# Redis down, hung or restarting, and nginx reloaded or stopped, while keys
# change: the change feed's link frozen half-open is replaced; a stream
# trimmed past the feed's place while nginx was cut off makes every cached
# key be fetched again; with stale=, cached keys keep working while Redis
# is stopped, and no longer than that; the feed recovers after SIGSTOP,
# a restart with AOF and -LOADING without a reload; a reload under load
# loses no request and leaks no Redis connection; a graceful stop ends a
# lookup in flight cleanly.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client qw(:DEFAULT tok verdict until_verdict lookups
    feed_clients client_load token_load_wait);
use Apiauth::Relay;

my $t = Apiauth::Test->new;
$t->start_redis(args => ['--appendonly', 'yes']);
$t->init_store;

my $relay = Apiauth::Relay->new($t, 'relay');

sub conf {
    my (%o) = @_;
    return nginx_conf(
        main => 'worker_processes 2;',
        http => 'apiauth_cache zone=keys:1m ' . ($o{cache} // 'ttl=1h') . ';',
        redis => 'apiauth_redis 127.0.0.1:'
            . ($o{via} ? "%%PORT_$o{via}%%" : '%%REDIS_PORT%%')
            . ' connect_timeout=1s timeout=1s;',
        server => <<'EOF');
        location /tok/ { apiauth token; @@BACKEND@@ }
        location /sig/ { apiauth signature; @@BACKEND@@ }
        location = /gif { apiauth token; empty_gif; }
        location = /plain { return 200 "plain\n"; }
EOF
}

sub restart_nginx {
    $t->stop_nginx;
    $t->write_nginx_conf(conf(@_));
    $t->start_nginx;
    # a fresh zone's first feed starts a new generation: cache after it
    $t->wait_feeds(2);
}

my $log0;
sub log_since { substr($t->read_file('error.log'), $log0) }
sub mark_log { $log0 = length $t->read_file('error.log') }

my %k;
$k{$_} = $t->create_key('--name', "key $_")
    for qw(frozen trim1 trim2 stop stopoff stopfirst stopnew stale aof
        loading);

###############################################################################
# the feed's links frozen half-open (a relay that stops forwarding and
# keeps the sockets open): replaced within 4 s, and a change made meanwhile
# is enforced

$t->write_nginx_conf(conf(via => 'relay'));
$t->start_nginx;
$t->wait_feeds(2);
is(verdict(tok($t, $k{frozen})), 'ok', 'a key admitted, now cached');

mark_log();
$relay->freeze('XREAD');
my $t0 = time;
$t->ctl('key', 'disable', $k{frozen}{access_key});
my ($took, $v) = until_verdict($t, $k{frozen}, 'disabled_key', 4);
is($v, 'disabled_key', sprintf 'a change made while the feeds were frozen: '
    . 'enforced %.2fs after the freeze', time - $t0);
ok(time - $t0 < 4, 'within 4 s');
like(log_since(), qr/did not answer in time \(feed link\)/,
    'the frozen link was dropped as dead');
$relay->thaw;

###############################################################################
# the stream trimmed past the feed's place while nginx is cut off from
# Redis: the feed cannot resume, and every cached key is fetched again

is(verdict(tok($t, $k{$_})), 'ok', "key $_ cached") for qw(trim1 trim2);
mark_log();
$relay->cut;
Apiauth::Test::wait_for('nginx to lose Redis', 5, sub {
    log_since() =~ /lost the connection to Redis.*\(feed link\)/ });
$t->ctl('key', 'disable', $k{trim1}{access_key});
$t->ctl('config', 'set', 'max_keys', 1000 + $_) for 1 .. 3;
$t->redis('XTRIM', '{apiauth}:changes', 'MAXLEN', 1);
is(verdict(tok($t, $k{trim2})), 'ok', 'cut off: a cached key is still admitted');
$relay->uncut;
$t0 = time;
($took, $v) = until_verdict($t, $k{trim1}, 'disabled_key', 6);
is($v, 'disabled_key', sprintf 'the change made while cut off is enforced '
    . '(%.2fs after nginx could reach Redis again)', $took);
like(log_since(), qr/cannot resume after entry \d+-\d+.*every cached key is fetched again/,
    'the gap was logged');
my $before = lookups($t);
is(verdict(tok($t, $k{trim2})), 'ok', 'an unchanged key is admitted');
is(lookups($t) - $before, 1, 'after a lookup: the whole cache was dropped');

###############################################################################
# Redis stopped (SIGSTOP) for 5 s, stale=30s: cached keys pass, a disabled
# one stays refused, an uncached one gets 503 within timeout, and a plain
# location does not wait; after SIGCONT the feed comes back

restart_nginx(cache => 'ttl=1s stale=30s');
$t->ctl('key', 'disable', $k{stopoff}{access_key});
is(verdict(tok($t, $k{stop})), 'ok', 'a key cached for a second');
is(verdict(tok($t, $k{stopoff})), 'disabled_key', 'a disabled key cached');

my $redis_pid = $t->{pids}{redis};
kill 'STOP', $redis_pid;
my $first = tok($t, $k{stopfirst});
expect_refused($t, $first, 'store_unavailable', 'Redis stopped: the first '
    . 'uncached key');
ok($first->{elapsed} > 0.8 && $first->{elapsed} < 1.5,
    sprintf 'after the lookup timed out (%.2fs; timeout=1s)',
    $first->{elapsed});
$t0 = time;
my (%seen, %seen_off, @plain);
while (time - $t0 < 5) {
    $seen{ verdict(tok($t, $k{stop})) }++;
    $seen_off{ verdict(tok($t, $k{stopoff})) }++;
    my $p = send_plain($t, target => '/plain');
    push @plain, ($p->{status} // 0) == 200 ? $p->{elapsed} : 99;
    sleep 0.05;
}
my $r = tok($t, $k{stopnew});
kill 'CONT', $redis_pid;

is_deeply(\%seen, { ok => $seen{ok} }, 'Redis stopped for 5 s: the cached '
    . 'key was admitted throughout, past its ttl') or diag(explain \%seen);
is_deeply(\%seen_off, { disabled_key => $seen_off{disabled_key} },
    'and the disabled one refused throughout') or diag(explain \%seen_off);
@plain = sort { $a <=> $b } @plain;
my $p99 = $plain[int(0.99 * $#plain)];
ok($p99 < 0.1, sprintf 'a plain location meanwhile: p99 %.1f ms over %d '
    . 'requests', 1000 * $p99, scalar @plain);
expect_refused($t, $r, 'store_unavailable', 'another uncached key');
ok($r->{elapsed} < 0.5, sprintf 'at once, the link known down (%.2fs)',
    $r->{elapsed});
my @stale = grep { $_->{reason} eq 'ok;stale' } access_log_entries($t);
ok(@stale > 10, sprintf '$apiauth_reason said "ok;stale" (%d requests)',
    scalar @stale);
like($t->read_file('error.log'),
    qr/key "$k{stop}{access_key}" judged by its stale cached record/,
    'the error log said so');

$t->ctl('key', 'disable', $k{stop}{access_key});
($took, $v) = until_verdict($t, $k{stop}, 'disabled_key', 4);
is($v, 'disabled_key', sprintf 'after SIGCONT, a change is enforced '
    . '(%.2fs)', $took);

###############################################################################
# stale=2s: a cached key works while Redis is stopped for 2 s past its
# freshness, then gets store_unavailable

restart_nginx(cache => 'ttl=1s stale=2s');
is(verdict(tok($t, $k{stale})), 'ok', 'a key cached for a second');
kill 'STOP', $redis_pid;
$t0 = time;
sleep 1.5;
$r = tok($t, $k{stale});
my $mid = time - $t0;
is(verdict($r), 'ok', sprintf 'Redis stopped: admitted %.1fs after it was '
    . 'cached (stale)', $mid);
sleep(3.5 - (time - $t0)) if time - $t0 < 3.5;
$r = tok($t, $k{stale});
kill 'CONT', $redis_pid;
expect_refused($t, $r, 'store_unavailable', 'past ttl + stale');

###############################################################################
# Redis restarted, with its AOF: the feed resumes where it was, and a
# change made before nginx is back is enforced

restart_nginx();
is(verdict(tok($t, $k{aof})), 'ok', 'a key cached for an hour');
mark_log();
$t->stop_redis;
$t->redis_close;
Apiauth::Test::wait_for('nginx to lose Redis', 5, sub {
    log_since() =~ /\(feed link\)/ });
$t->start_redis(args => ['--appendonly', 'yes']);
$t->ctl('key', 'disable', $k{aof}{access_key});
($took, $v) = until_verdict($t, $k{aof}, 'disabled_key', 4);
is($v, 'disabled_key', sprintf 'Redis restarted: a change made at once is '
    . 'enforced (%.2fs)', $took);
unlike(log_since(), qr/cannot resume/, 'the feed resumed from the AOF: no gap');

###############################################################################
# Redis restarted and held loading (-LOADING): the feed waits, then resumes

is(verdict(tok($t, $k{loading})), 'ok', 'a key cached');
$t->redis('EVAL', q{for i = 1, 2000 do redis.call('SET', 'pad:' .. i, }
    . q{string.rep('x', 100)) end return 1}, 0);
# into the AOF's base, an RDB file, which key-load-delay slows down
$t->redis('BGREWRITEAOF');
Apiauth::Test::wait_for('the AOF rewrite', 10, sub {
    $t->redis('INFO', 'persistence') =~ /aof_rewrite_in_progress:0/
        && $t->redis('INFO', 'persistence') =~ /aof_rewrite_scheduled:0/ });
mark_log();
$t->stop_redis;
$t->redis_close;
# 10 ms a key: 20 s of loading, answering -LOADING every 80 ms or so
$t->start_redis(args => ['--appendonly', 'yes', '--key-load-delay', '10000',
    '--loading-process-events-interval-bytes', '1024']);
Apiauth::Test::wait_for('nginx to meet -LOADING', 10, sub {
    log_since() =~ /LOADING/ });
$t->redis('CONFIG', 'SET', 'key-load-delay', '0');
Apiauth::Test::wait_for('Redis to load', 20,
    sub { ($t->redis('PING') // '') eq 'PONG' });
$t->ctl('key', 'disable', $k{loading}{access_key});
($took, $v) = until_verdict($t, $k{loading}, 'disabled_key', 4);
is($v, 'disabled_key', sprintf 'loaded: a change is enforced (%.2fs)', $took);
unlike(log_since(), qr/cannot resume/, 'no gap');

###############################################################################
# nginx -s reload during 20,000 signed requests: every one admitted, no
# alert, and the old workers' Redis links closed

my $key = $t->create_key('--name', 'load');
my $port = $t->port('http');
my $load = client_load($t, seconds => 0, request => sub {
    my ($port) = @_;
    # a new signature each time: also after a worker closed the connection
    return signed_request(method => 'GET', target => '/sig/x', port => $port,
        host => "127.0.0.1:$port", key => $key,
        unsigned => [['Connection', 'keep-alive']]);
});
sleep 0.5;
my @old = $t->worker_pids;
$t->reload_nginx;
my %total = %{ token_load_wait($load) };
is($total{200}, 20000, 'a reload under load: 20,000 signed requests, every '
    . 'one admitted') or diag(explain \%total);
is_deeply([grep { $_ ne '200' && $_ ne 'closed and resent' } keys %total], [],
    'no other status') or diag(explain \%total);
Apiauth::Test::wait_for('the old workers to exit', 20, sub {
    !grep { kill 0, $_ } @old });
my @links;
Apiauth::Test::wait_for('two links a worker', 5, sub {
    @links = grep { /cmd=(hmget|hgetall|xread|xrange|xrevrange)\b/ }
        split /\n/, $t->redis('CLIENT', 'LIST');
    @links == 4;
});
is(scalar @links, 4, 'Redis sees two links a worker, none of the old '
    . 'workers\'');

###############################################################################
# nginx -s quit while a lookup is out (held 0.5 s by a relay): the request
# is answered (by nginx itself: the backend's listener closes at once), nginx
# exits, no alert

my $slow = Apiauth::Relay->new($t, 'slow', delay => ['HGETALL', 0.5]);
restart_nginx(via => 'slow');
my $quit = $t->create_key('--name', 'quit');
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
    Proto => 'tcp') or die "connect: $!\n";
print $s build_request('GET', '/gif', [['Host', "127.0.0.1:$port"],
    token_headers($quit)]);
sleep 0.1;
$t0 = time;
my $master = $t->{pids}{nginx};
$t->stop_nginx;
$r = Apiauth::Client::_exchange($s, '');
is($r->{status}, 200, 'nginx -s quit with a lookup in flight: the request '
    . 'is answered');
ok(!kill(0, $master), sprintf 'and nginx exited (%.2fs)', time - $t0);

$t->finish;
done_testing;
