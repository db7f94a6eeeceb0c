#!/usr/bin/perl

# Policies on one node (docs/policies.md): a quota admits exactly its
# count, then 429 quota_exceeded with Retry-After to the period's end; a
# rate admits its burst, then refuses with rate_limited; refused requests
# spend nothing; the quota's minute periods reset at their boundary; a
# lowered policy applies within a second, none lifts the limits; dry run
# refuses nothing and counts; both header styles; a hot key costs leases,
# not a Redis command a request; Redis stopped (SIGSTOP) under local, open
# and closed, and the quota spent meanwhile paid back.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(ceil floor);
use Test::More;
use Time::HiRes qw(sleep time);
use Time::Local ();
use Apiauth::Test;
use Apiauth::Client qw(:DEFAULT tok verdict);

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my %keys;
sub key_with {
    my ($ak, $policy, @create) = @_;
    $keys{$ak} = $t->create_key('--name', "Key $ak", '--access-key', $ak,
        @create);
    if ($policy) {
        my $r = $t->ctl('key', 'policy', $ak, $policy);
        die "key policy: $r->{err}" if $r->{rc};
    }
    return $keys{$ak};
}

sub policy {
    my (@args) = @_;
    my $r = $t->ctl('policy', @args);
    die "policy @args: $r->{err}" if $r->{rc};
}

policy('create', 'five', '--quota', '5/day');
policy('create', 'minute', '--quota', '3/1m');
policy('create', 'rate', '--rate', '5/s', '--burst', '2');
policy('create', 'three', '--quota', '3/day');
policy('create', 'hundred', '--quota', '100/day');
policy('create', 'dry', '--quota', '2/day', '--dry-run');
policy('create', 'hot', '--quota', '1000000/day');
policy('create', 'hdr', '--rate', '10/s', '--burst', '10', '--quota',
    '1000/day');
policy('create', 'away', '--quota', '6/day');
policy('create', 'stop', '--quota', '1000/day');

my $five = key_with('QuotaKey0001', 'five');
my $minute = key_with('MinuteKey001', 'minute');
my $rate = key_with('RateKey00001', 'rate');
my $three = key_with('ThreeKey0001', 'three', '--interface', 'orders');
my $hundred = key_with('HundredKey01', 'hundred');
my $dry = key_with('DryRunKey001', 'dry');
my $hot = key_with('HotKey000001', 'hot');
my $hdr = key_with('HeaderKey001', 'hdr');
my $none = key_with('NoPolicy0001', undef);
my $stop = key_with('StopKey00001', 'stop');
my %away = map { $_ => key_with("Away${_}Key01", 'away') }
    qw(Local Open Closed);

$t->write_nginx_conf(nginx_conf(
    main => 'worker_processes 2;',
    redis => 'apiauth_redis 127.0.0.1:%%REDIS_PORT%% timeout=300ms;',
    http => "    apiauth_limits zone=limits:1m nodes=2;\n"
        . "    apiauth_records_pipeline flush=50ms spool=%%PREFIX%%/spool;\n",
    server => <<'EOF'));
        location /tok/ { apiauth token; @@BACKEND@@ }
        location /rec/ { apiauth token; apiauth_records on; @@BACKEND@@ }
        location /orders/ {
            apiauth token;
            apiauth_interface orders;
            @@BACKEND@@
        }
        location /users/ {
            apiauth token;
            apiauth_interface users;
            @@BACKEND@@
        }
        location /legacy/ {
            apiauth token;
            apiauth_ratelimit_headers legacy;
            @@BACKEND@@
        }
        location /draft/ {
            apiauth token;
            apiauth_ratelimit_headers draft;
            @@BACKEND@@
        }
        location /local/ {
            apiauth token;
            apiauth_limits_store_error local;
            @@BACKEND@@
        }
        location /open/ {
            apiauth token;
            apiauth_limits_store_error open;
            @@BACKEND@@
        }
        location /closed/ {
            apiauth token;
            apiauth_limits_store_error closed;
            @@BACKEND@@
        }
        location = /status { apiauth_status; }
EOF
$t->start_nginx;

# Redis's clock, in ms: the periods are on it
sub redis_ms {
    my $r = $t->redis('TIME');
    return $r->[0] * 1000 + int($r->[1] / 1000);
}

sub usage {
    my ($ak) = @_;
    my $r = $t->ctl_json('key', 'usage', $ak);
    die "key usage: $r->{err}" if $r->{rc};
    return $r->{json}{usage};
}

sub verdicts {
    my ($key, $n, $target) = @_;
    return [map { verdict(tok($t, $key, $target)) } 1 .. $n];
}

###############################################################################
# a minute's quota: spent now, its reset checked at the end of the file

my $m = verdicts($minute, 4);
is_deeply($m, [qw(ok ok ok quota_exceeded)],
    'a quota of 3 a minute: 3 admitted, the 4th refused');
my $minute_end = usage('MinuteKey001')->{quota}{period_end};

###############################################################################
# a quota: exactly its count, then 429 with Retry-After to the period's end

my @r = map { tok($t, $five, '/rec/x') } 1 .. 7;
is_deeply([map { $_->{status} } @r], [200, 200, 200, 200, 200, 429, 429],
    'a quota of 5 a day: 5 admitted, then 429');
expect_refused($t, $r[5], 'quota_exceeded', 'the 6th');
my $day_end = (floor(redis_ms() / 86_400_000) + 1) * 86_400;
my $ra = $r[5]{headers}{'retry-after'} // 'none';
ok($ra =~ /^\d+$/ && abs($ra - ($day_end - time)) <= 2,
    "Retry-After is the seconds to the day's end ($ra)");
is(usage('QuotaKey0001')->{quota}{used}, 5, 'Redis counts 5 used');

# the refusals are call records with their reason
my @recs;
for (1 .. 40) {
    @recs = map { { @{ $_->[1] } } }
        @{ $t->redis('XRANGE', '{apiauth}:records', '-', '+') };
    last if @recs >= 7;
    sleep 0.05;
}
# (two workers' records interleave in the stream)
is_deeply([sort map { "$_->{status} $_->{result} $_->{reason}" } @recs],
    [('200 ok ok') x 5, ('429 denied quota_exceeded') x 2],
    'each call is a record, the refusals with quota_exceeded');

###############################################################################
# refused requests spend nothing

# out of scope, wrong secret, unknown: none of them spends the quota of 3
is(tok($t, $three, '/users/x')->{status}, 403, 'out of scope: 403');
is(tok($t, { %$three, access_secret => 'e' x 64 }, '/orders/x')->{status},
    401, 'a wrong secret: 401');
is_deeply(verdicts($three, 4, '/orders/x'),
    [qw(ok ok ok quota_exceeded)],
    'then the quota of 3 is whole: 3 admitted');

###############################################################################
# a rate: the burst at once, then refused; a second later it admits again

my $rv = verdicts($rate, 6);
is_deeply([@$rv[0, 1]], [qw(ok ok)], 'a rate of 5/s, burst 2: 2 at once');
my $refused = grep { $_ eq 'rate_limited' } @$rv;
ok($refused >= 3, "then refused ($refused of the next 4)")
    or diag(explain $rv);
my $lim = tok($t, $rate);
if ($lim->{status} == 429) {
    expect_refused($t, $lim, 'rate_limited', 'a refusal by the rate');
    is($lim->{headers}{'retry-after'}, '1', 'Retry-After 1 (at least 1)');
} else {
    pass('admitted between refusals') for 1 .. 3;
}
sleep 1.1;
is(verdict(tok($t, $rate)), 'ok', 'a second later, admitted again');

###############################################################################
# a policy lowered mid-period applies within a second; none lifts it

is_deeply(verdicts($hundred, 10), [('ok') x 10], '10 of 100 used');
my $t0 = time;
policy('update', 'hundred', '--quota', '8/day');
my $v;
while (time - $t0 < 3) {
    $v = verdict(tok($t, $hundred));
    last if $v eq 'quota_exceeded';
    sleep 0.02;
}
my $took = time - $t0;
is($v, 'quota_exceeded', 'lowered to 8: refused, as 10 are used');
ok($took < 1.5, sprintf('within a second of the change (%.2f s)', $took));
$t->ctl('key', 'policy', 'HundredKey01', 'none');
$t0 = time;
while (time - $t0 < 3) {
    $v = verdict(tok($t, $hundred));
    last if $v eq 'ok';
    sleep 0.02;
}
is($v, 'ok', 'policy none: no limit');

is(tok($t, $none)->{headers}{'retry-after'}, undef,
    'a key without a policy: no limit headers');

###############################################################################
# dry run: nothing refused, what would be is logged and counted

is_deeply(verdicts($dry, 4), [('ok') x 4], 'dry run: all 4 admitted');
my $notices = () = $t->read_file('error.log')
    =~ /quota_exceeded for access key "DryRunKey001" \(dry run: admitted\)/g;
is($notices, 2, 'the 2 it would refuse are logged');
my $st = decode_json(send_plain($t, target => '/status')->{body});
is($st->{dry_run_refusals}, 2, 'and counted in apiauth_status')
    or diag(explain $st);

###############################################################################
# headers

my $h1 = tok($t, $hdr, '/legacy/x');
my $h2 = tok($t, $hdr, '/legacy/x');
is_deeply([map { $_->{headers}{'x-ratelimit-limit'} } $h1, $h2],
    [1000, 1000], 'legacy: X-RateLimit-Limit is the quota');
ok($h2->{headers}{'x-ratelimit-remaining'} <= 998
    && $h2->{headers}{'x-ratelimit-remaining'} >= 990,
    "X-RateLimit-Remaining counts down ("
    . ($h2->{headers}{'x-ratelimit-remaining'} // 'none') . ')');
my $reset = $h2->{headers}{'x-ratelimit-reset'} // -1;
ok(abs($reset - ($day_end - time)) <= 2,
    "X-RateLimit-Reset: the seconds to the period's end ($reset)");
is($h1->{headers}{ratelimit}, undef, 'no draft headers in legacy style');

my $d = tok($t, $hdr, '/draft/x');
is($d->{headers}{'ratelimit-policy'},
    '"rate";q=10;w=1, "quota";q=1000;w=86400',
    'draft: RateLimit-Policy lists both limits');
like($d->{headers}{ratelimit} // '', qr/^"quota";r=(\d+);t=(\d+)$/,
    'draft: RateLimit of the quota');
my ($left) = ($d->{headers}{ratelimit} // '') =~ /r=(\d+)/;
ok(defined $left && $left <= 997 && $left >= 980, "r is what is left ("
    . ($left // 'none') . ')');
is($d->{headers}{'x-ratelimit-limit'}, undef, 'no legacy headers in draft');

###############################################################################
# a hot key: leases, not a Redis command a request

tok($t, $hot);
my $before = commandstats();
my $raw = build_request('GET', '/tok/x', [['Host', 'localhost'],
    token_headers($hot), ['Connection', 'keep-alive']]);
my %hot;
# nginx closes a connection after keepalive_requests (1000)
for (1 .. 20) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $t->port('http'), Proto => 'tcp') or die "connect: $!";
    $hot{ keepalive($s, $raw)->{status} }++ for 1 .. 500;
    close $s;
}
my $after = commandstats();
is_deeply(\%hot, { 200 => 10_000 }, '10,000 requests of a hot key admitted');
my %delta = map { $_ => ($after->{$_} // 0) - ($before->{$_} // 0) }
    keys %$after;
my $evals = $delta{eval} // 0;
ok($evals > 0 && $evals <= 500,
    "leases: $evals EVALs for 10,000 requests");
# commandstats counts the commands a script runs too: one TIME each
is($delta{time} // 0, $evals, 'each lease one script, on Redis\'s clock');
is($delta{hgetall} // 0, 0, 'no lookup: the key stays cached');
# what else ran: the scripts' own commands, the feed, the tests' INFO
my $script = qr/^(?:eval|time|get|set|del|hmget|hset|pexpireat)$/;
my @other = grep { $delta{$_} && $_ !~ $script
    && !/^(?:info|xread|xreadgroup|xadd)$/ } keys %delta;
is_deeply(\@other, [], 'nothing else') or diag(explain \%delta);
ok(usage('HotKey000001')->{quota}{used} >= 10_001, 'Redis counts them all');

sub commandstats {
    my $info = $t->redis('INFO', 'commandstats');
    return { $info =~ /^cmdstat_(\w+):calls=(\d+)/mg };
}

###############################################################################
# Redis frozen: the held tokens first, then local, open or closed

# each key: looked up and cached, and its next lease prefetched
for my $mode (qw(Local Open Closed)) {
    is(verdict(tok($t, $away{$mode}, '/' . lc($mode) . '/x')), 'ok',
        "$mode: cached and leased");
}
sleep 0.3;
kill 'STOP', $t->{pids}{redis};
my %got;
for my $mode (qw(Local Open Closed)) {
    $got{$mode} = verdicts($away{$mode}, $mode eq 'Open' ? 6 : 5,
        '/' . lc($mode) . '/x');
}
kill 'CONT', $t->{pids}{redis};

# the quota is 6: 1 spent, 1 held; a node's share is 6/2 = 3
is_deeply($got{Local}, [qw(ok ok ok ok quota_exceeded)],
    'local: the held token, then the share of 3, then refused');
is_deeply($got{Open}, [('ok') x 6], 'open: admitted, past the quota');
is_deeply($got{Closed}, ['ok', ('store_unavailable') x 4],
    'closed: the held token, then 503');

# the quota spent meanwhile is paid: 1 + 1 + 3 (local), 1 + 1 + 5 (open:
# past the quota, and paid whole)
my %used;
for (1 .. 60) {
    %used = map { $_ => usage("Away${_}Key01")->{quota}{used} } qw(Local Open);
    last if $used{Local} == 5 && $used{Open} == 7;
    sleep 0.1;
}
is_deeply(\%used, { Local => 5, Open => 7 },
    'the quota admitted while Redis was away is paid back');
is(verdict(tok($t, $away{Open}, '/open/x')), 'quota_exceeded',
    'open: back on Redis, the quota is used up');
is(verdict(tok($t, $away{Local}, '/local/x')), 'ok',
    'local: back on Redis, the last of the quota');
is(verdict(tok($t, $away{Local}, '/local/x')), 'quota_exceeded',
    'and then refused');

###############################################################################
# the minute's period: a new one admits again

my ($y, $mo, $dd, $hh, $mi, $ss) = $minute_end =~
    /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z$/;
my $end = Time::Local::timegm($ss, $mi, $hh, $dd, $mo - 1, $y);
is($end % 60, 0, 'a minute period ends on a minute');
my $wait = $end - redis_ms() / 1000;
is(verdict(tok($t, $minute)), 'quota_exceeded', 'refused until then')
    if $wait > 0.3;
sleep $wait + 0.3 if $wait + 0.3 > 0;
is_deeply(verdicts($minute, 4), [qw(ok ok ok quota_exceeded)],
    'the next minute: 3 admitted again');

###############################################################################
# nginx stops: what it holds goes back

is_deeply(verdicts($stop, 50), [('ok') x 50], '50 requests of a key');
my $held = usage('StopKey00001')->{quota}{used} - 50;
ok($held > 0, "the node holds $held tokens more");
$t->stop_nginx;
is(usage('StopKey00001')->{quota}{used}, 50,
    'nginx stopped: they are given back, Redis counts the 50 spent');
like($t->read_file('error.log'),
    qr/the tokens and debts of \d+ keys given back to Redis at exit/,
    'and the master says so');

$t->finish;
done_testing;
