#!/usr/bin/perl

# nginx and Redis: lookups are asynchronous (200 requests parked on a
# stopped Redis do not slow a plain location, and all get 503 after the
# lookup timeout); a stopped Redis gives uncached keys 503 at once and a
# restarted one works again without reload; error replies (LOADING,
# NOAUTH, a wrong password) are store_unavailable and never cached;
# password_file and user=; a master key whose id is not the store's.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client;
use Apiauth::Sign qw(key_id);

my $t = Apiauth::Test->new;
my $dir = $t->dir;
$t->start_redis;
$t->init_store;

my %k;
for (qw(warm recover down restart loading noauth late wrongpw rightpw user
    mismatch ips stale noxread))
{
    $k{$_} = $t->create_key('--name', "key $_", '--access-key',
        sprintf('%sKey0001', ucfirst));
}

my $conf = sub {
    my ($redis_params, %o) = @_;
    return nginx_conf(
        main => 'worker_processes 1;',
        redis => "apiauth_redis 127.0.0.1:%%REDIS_PORT%% connect_timeout=1s "
            . "timeout=2s $redis_params;",
        %o,
        server => <<'EOF');
        location /tok/ { apiauth token; @@BACKEND@@ }
        location = /plain { return 200 "plain\n"; }
EOF
};

# nginx again, with another configuration
sub restart_nginx {
    $t->stop_nginx;
    $t->write_nginx_conf($conf->(@_));
    $t->start_nginx;
}

sub tok {
    my ($key, $path) = @_;
    return send_plain($t, target => $path // '/tok/x',
        headers => [token_headers($key)]);
}

# Asks until a request is admitted (or $secs pass); the last response.
sub until_admitted {
    my ($key, $secs, $seen) = @_;
    my $end = time + $secs;
    while (1) {
        my $r = tok($key);
        $seen->{ $r->{status} // 'none' }++ if $seen;
        return $r if ($r->{status} // 0) == 200 || time > $end;
        sleep 0.1;
    }
}

$t->write_nginx_conf($conf->(''));
$t->start_nginx;
# a fresh zone's first feed starts a new generation: cache after it
$t->wait_feeds(1);

my $r = tok($k{warm});
expect_ok($t, $r, $k{warm}, 'a key looked up (and now cached)');

# a record without its whitelist is malformed: refused, and not cached
$t->redis('HDEL', '{apiauth}:key:IpsKey0001', 'ips');
$r = tok($k{ips});
expect_refused($t, $r, 'store_unavailable',
    'a record without its whitelist field');
like($t->read_file('error.log'),
    qr/apiauth: key "IpsKey0001" in Redis is malformed: refusing it/,
    'the error log says which key is malformed');
$t->redis('HSET', '{apiauth}:key:IpsKey0001', 'ips', '');
$r = tok($k{ips});
expect_ok($t, $r, $k{ips}, 'the repaired record, at once: nothing was cached');

# every other field a record cannot do without, malformed or gone
my $bad = 0;
for my $c (['status', 'maybe'], ['status', undef], ['salt', 'xyz'],
    ['salt', 'AB' x 16], ['salt', undef], ['apps', 'bad name!'],
    ['apps', ''], ['interfaces', 'a,,b'], ['interfaces', undef],
    ['ips', '300.1.1.1'], ['ips', '10.0.0.1,nonsense'],
    ['name', 'n' x 129])
{
    my ($field, $value) = @$c;
    my $ak = sprintf 'BadField%04d', ++$bad;
    my $key = $t->create_key('--name', "bad $field", '--access-key', $ak);
    defined $value
        ? $t->redis('HSET', "{apiauth}:key:$ak", $field, $value)
        : $t->redis('HDEL', "{apiauth}:key:$ak", $field);
    my $what = defined $value ? "$field \"" . substr($value, 0, 20) . '"'
        : "no $field";
    $r = tok($key);
    expect_refused($t, $r, 'store_unavailable', "a record with $what");
    like($t->read_file('error.log'),
        qr/apiauth: key "$ak" in Redis is malformed: refusing it/,
        "$what: logged");
}

###############################################################################
# Redis stopped (SIGSTOP): 200 parked lookups, a plain location unhurt

my $redis_pid = $t->{pids}{redis};
kill 'STOP', $redis_pid;

my $port = $t->port('http');
my @parked;
my $t0 = time;
for my $i (1 .. 200) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp') or die "connect: $!\n";
    $s->autoflush(1);
    my $ak = sprintf 'Parked%06d', $i;
    print $s build_request('GET', '/tok/parked', [['Host', "127.0.0.1:$port"],
        ['Authorization', "Bearer $ak." . random_hex(64)],
        ['X-Test-Id', "parked-$$-$i"]]);
    push @parked, { s => $s, buf => '' };
}

# meanwhile, a plain location, one request after the other
my $lat_pid = open(my $lat_fh, '-|') // die "fork: $!\n";
if ($lat_pid == 0) {
    close $_->{s} for @parked;
    my @l;
    my $end = time + 2.5;
    while (time < $end) {
        my $r = http($port, build_request('GET', '/plain',
            [['Host', "127.0.0.1:$port"]]), timeout => 3);
        push @l, sprintf '%d %.6f', $r->{status} // 0, $r->{elapsed};
    }
    print "$_\n" for @l;
    POSIX::_exit(0);
}

my $sel = IO::Select->new(map { $_->{s} } @parked);
my %by_sock = map { ($_->{s} => $_) } @parked;
while ($sel->count && time - $t0 < 8) {
    for my $s ($sel->can_read(0.5)) {
        my $p = $by_sock{$s};
        my $n = sysread($s, $p->{buf}, 65536, length $p->{buf});
        next if $n;
        $p->{done} = time - $t0;
        $sel->remove($s);
        close $s;
    }
}
my @lat = map { [split] } <$lat_fh>;
close $lat_fh;
kill 'CONT', $redis_pid;

my %answers;
for my $p (@parked) {
    my $res = parse_response($p->{buf});
    $answers{ ($res->{status} // 'none') . ' '
        . ($res->{json} ? $res->{json}{reason} // '-' : '-') }++;
}
is_deeply(\%answers, { '503 store_unavailable' => 200 },
    '200 lookups parked on a stopped Redis all get 503 store_unavailable');
my ($slowest) = sort { $b <=> $a } map { $_->{done} // 99 } @parked;
ok($slowest <= 4, sprintf 'all within 4s with timeout=2s (slowest %.2fs)',
    $slowest);
my @logged = grep { $_->{id} =~ /^parked-$$-/ } access_log_entries($t);
is(scalar(grep { $_->{result} eq 'error' && $_->{reason} eq 'store_unavailable'
    } @logged), 200, 'all 200 logged as error, store_unavailable');

my @times = sort { $a <=> $b } map { $_->[1] } @lat;
my $p99 = @times ? $times[int(0.99 * $#times + 0.5)] : 99;
ok(@times >= 10 && !grep({ $_->[0] != 200 } @lat),
    scalar(@times) . ' requests to a plain location meanwhile, all 200');
ok($p99 < 0.1, sprintf 'their p99 latency is under 100 ms (%.1f ms)',
    $p99 * 1000);

# SIGCONT: the lookups work again (a key never looked up)
$r = until_admitted($k{recover}, 5);
expect_ok($t, $r, $k{recover}, 'after SIGCONT, a new lookup succeeds');

# stop Redis with its data saved, for a restart on the same port
sub redis_down {
    $t->redis('SAVE');
    $t->stop_redis;
    $t->redis_close;
}

###############################################################################
# Redis down (stopped), then restarted on the same port with the same data

redis_down();

$r = tok($k{warm});
expect_ok($t, $r, $k{warm}, 'Redis down: a cached key is still admitted');
$r = tok($k{down});
expect_refused($t, $r, 'store_unavailable', 'Redis down: an uncached key');
ok($r->{elapsed} < 1, sprintf 'at once (%.2fs), not after the timeout',
    $r->{elapsed});

$t->start_redis;
my %seen;
$r = until_admitted($k{down}, 5, \%seen);
expect_ok($t, $r, $k{down}, 'Redis restarted: the key refused while it was '
    . 'down is admitted, without reload (errors are not cached)');
ok(!$seen{401}, 'never refused as unknown meanwhile')
    or diag(explain \%seen);
$r = tok($k{restart});
expect_ok($t, $r, $k{restart}, 'Redis restarted: another new lookup');

###############################################################################
# -LOADING: Redis restarted while it loads its data, held loading (a tenth
# of a second a key, 2,000 keys) until the test lets it finish

$t->redis('EVAL', q{for i = 1, 2000 do redis.call('SET', 'pad:' .. i, }
    . q{string.rep('x', 100)) end return 1}, 0);
redis_down();
$t->start_redis(args => ['--key-load-delay', '100000',
    '--loading-process-events-interval-bytes', '1024']);
my $ping = $t->redis('PING');
like(ref $ping ? $ping->{error} : $ping, qr/^LOADING/,
    'Redis restarted, loading its data');
$r = tok($k{loading});
expect_refused($t, $r, 'store_unavailable', 'a lookup answered -LOADING');
$ping = $t->redis('PING');
like(ref $ping ? $ping->{error} : $ping, qr/^LOADING/,
    'Redis was loading all the while');

# CONFIG is served while loading: it finishes at once
$t->redis('CONFIG', 'SET', 'key-load-delay', '0');
Apiauth::Test::wait_for('Redis to load', 20,
    sub { ($t->redis('PING') // '') eq 'PONG' });
%seen = ();
$r = until_admitted($k{loading}, 3, \%seen);
expect_ok($t, $r, $k{loading}, 'loaded: the same key is admitted '
    . '(-LOADING was not cached)');

###############################################################################
# a cached key past its ttl, Redis down: looked up, and refused

restart_nginx('', http => 'apiauth_cache zone=short:1m ttl=1s;');
$t->wait_feeds(1);
$r = tok($k{stale});
expect_ok($t, $r, $k{stale}, 'a key looked up, cached for a second');
redis_down();
$r = tok($k{stale});
expect_ok($t, $r, $k{stale}, 'Redis down, within the ttl: from the cache');
sleep 1.5;
$r = tok($k{stale});
expect_refused($t, $r, 'store_unavailable',
    'Redis down, past the ttl: looked up, unavailable');
$t->start_redis;
$r = until_admitted($k{stale}, 5);
expect_ok($t, $r, $k{stale}, 'Redis back: admitted again');
restart_nginx('');

###############################################################################
# -NOAUTH: requirepass set after nginx connected

$t->redis('CONFIG', 'SET', 'requirepass', 'late-pw');
# the harness's connection stays authenticated; nginx's must reconnect
$t->redis('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
$t->redis('CLIENT', 'KILL', 'TYPE', 'pubsub');
$r = tok($k{noauth});
expect_refused($t, $r, 'store_unavailable',
    'requirepass set after start: NOAUTH is store_unavailable');
$t->redis('CONFIG', 'SET', 'requirepass', '');
%seen = ();
$r = until_admitted($k{noauth}, 5, \%seen);
expect_ok($t, $r, $k{noauth},
    'requirepass removed: the same key is admitted (NOAUTH was not cached)');
ok(!$seen{401}, 'never refused as unknown meanwhile')
    or diag(explain \%seen);

###############################################################################
# password_file and user=

$t->redis('CONFIG', 'SET', 'requirepass', 'late-pw');
$t->redis('ACL', 'SETUSER', 'nginxuser', 'on', '>user-pw', '~*', '&*',
    '+@all');
write_file("$dir/wrong.pw", "not-the-password\n");
write_file("$dir/right.pw", "late-pw\n");
write_file("$dir/user.pw", "user-pw\n");

restart_nginx("password_file=$dir/wrong.pw");
$r = tok($k{wrongpw});
expect_refused($t, $r, 'store_unavailable', 'a wrong password_file');

restart_nginx("password_file=$dir/right.pw");
$r = until_admitted($k{wrongpw}, 3);
expect_ok($t, $r, $k{wrongpw}, 'the right password_file');

restart_nginx("user=nginxuser password_file=$dir/user.pw");
$r = until_admitted($k{user}, 3);
expect_ok($t, $r, $k{user}, 'user= with its password_file (an ACL user)');

# a user that may not read the change stream: keys are served, and the
# refusal is logged after 1 s, 2 s, 4 s... (not every second)
$t->redis('ACL', 'SETUSER', 'noxread', 'on', '>nx-pw', '~*', '&*', '+@all',
    '-xread');
write_file("$dir/nx.pw", "nx-pw\n");
my $log0 = length $t->read_file('error.log');
restart_nginx("user=noxread password_file=$dir/nx.pw");
my $started = time;
$r = until_admitted($k{noxread}, 3);
expect_ok($t, $r, $k{noxread}, 'a user that may not XREAD: keys are served');
sleep(4.5 - (time - $started)) if time - $started < 4.5;
my @nox = grep { /refused XREAD of the change feed: NOPERM/ }
    split /\n/, substr($t->read_file('error.log'), $log0);
ok(@nox >= 2 && @nox <= 3, sprintf 'its feed refused %d times in 4.5 s: '
    . 'tried again after 1 s, then 2 s, ...', scalar @nox)
    or diag(join "\n", @nox);

###############################################################################
# a master key other than the store's

my $other_key = "$dir/other-master.key";
write_file($other_key, random_hex(64) . "\n");
my $store_id = key_id($t->master_bytes);
my $other_id = key_id($t->master_bytes($other_key));
like("$store_id $other_id", qr/^[0-9a-f]{16} [0-9a-f]{16}$/,
    'the two master key ids, as docs/keys.md computes them');

restart_nginx("password_file=$dir/right.pw",
    master_key => $other_key);
$r = tok($k{mismatch});
expect_refused($t, $r, 'store_unavailable',
    'nginx with another master key than the store\'s');
my $log = '';
for (1 .. 40) {
    $log = $t->read_file('error.log');
    last if $log =~ /\Q$other_id\E/ && $log =~ /\Q$store_id\E/;
    sleep 0.1;
}
ok($log =~ /\Q$other_id\E/ && $log =~ /\Q$store_id\E/,
    "error.log names both ids ($other_id, $store_id)")
    or diag(join "\n", grep { /master|key id/i } split /\n/, $log);

###############################################################################
# only workers talk to Redis: not the cache manager, not the cache loader

$t->stop_nginx;
mkdir "$dir/cache";
# (Redis wants the password of the earlier part by now)
$t->write_nginx_conf(nginx_conf(main => 'worker_processes 2;',
    redis => 'apiauth_redis 127.0.0.1:%%REDIS_PORT%% '
        . "password_file=$dir/right.pw;",
    http => "proxy_cache_path $dir/cache keys_zone=c:1m;",
    server => 'location / { apiauth token; @@BACKEND@@ }'));
$t->start_nginx;
my @conns;
eval {
    Apiauth::Test::wait_for('the workers\' Redis connections', 10, sub {
        @conns = grep { /\bcmd=(hmget|hgetall|xread)\b/ }
            split /\n/, $t->redis('CLIENT', 'LIST');
        return (grep { /cmd=xread/ } @conns) >= 2;
    });
};
is(scalar @conns, 4, 'two workers, each with a link for lookups and one '
    . 'for the change feed, with a proxy cache')
    or diag(join "\n", @conns);

$t->finish;
done_testing;
