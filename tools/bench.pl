#!/usr/bin/perl

# make bench: worker CPU per request of apiauth locations against plain ones.
#
# nginx runs one worker pinned to CPU 0 (worker_cpu_affinity), wrk one
# thread pinned to CPU 1, 50 keepalive connections.  Each apiauth row has
# a plain twin that gets the same bytes (but one letter of the Host
# header, which picks the plain server), and one wrk run sends both:
# periods of 500 ms by the wall clock alternate between the twin and the
# row (tools/bench/alternate.lua).  The bench samples the worker's CPU time
# (nanoseconds on the CPU, from /proc/<worker>/schedstat) and nginx's
# request count (stub_status) 50 ms after each period starts and 50 ms
# before it ends: microseconds of worker CPU per request, for the row and
# its twin, a few hundred milliseconds apart on the same connections.
# Each pair of periods gives a ratio, and the row's ratio is the median of
# its pairs, so that a burst of the shared host's load does not decide it.
# Three rounds, and the medians.  Any non-2xx answer fails the bench.
#
# Two parts time the change feed with two workers and no pinning: "feed",
# how long after apiauth-ctl disables a cached key nginx first refuses it
# (asked back to back from the tool's exit), and "idle", what the feed's
# blocked reads cost workers that serve nothing, against the same nginx
# without the module.
#
# Environment: APIAUTH_BUILD (build dir), BENCH_ROUNDS (3), BENCH_PAIRS
# (40 paced, a fifth of that flat out), BENCH_PERIOD_MS (500), BENCH_SCALE_KEYS
# (1000000), BENCH_HOT_KEYS (100000), BENCH_PARTS (pairs,timing,nodes,scale,
# feed,idle; add "harness" for a row without apiauth against its twin: the
# harness's own bias), BENCH_TIMING_REQUESTS (5000 of each kind),
# BENCH_FEED_CHANGES (100 keys, each disabled once), BENCH_IDLE_SECS (10
# with the module, as many without), BENCH_PACE_MS (2),
# BENCH_PERF=1 (perf records the worker through
# each paced run, and each row gets a report of what it spends more on, per
# request, than its twin, from the samples of the counted periods).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
use MIME::Base64 qw(encode_base64url);
use IO::Socket::INET;
use POSIX qw(ceil floor);
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(CLOCK_MONOTONIC clock_gettime sleep time);
use Apiauth::Test;
use Apiauth::Client qw(nginx_conf build_request token_headers http
    client_load token_load_wait);
use Apiauth::Sign qw(sign_request signed_headers signed_raw);

my $ROUNDS = $ENV{BENCH_ROUNDS} // 3;
my $PAIRS = $ENV{BENCH_PAIRS} // 40;
my $PERIOD = $ENV{BENCH_PERIOD_MS} // 500;
my $GUARD = 0.05;
my $WARMUP = 1;
my $SCALE = $ENV{BENCH_SCALE_KEYS} // 1_000_000;
my $HOT = $ENV{BENCH_HOT_KEYS} // 100_000;
my $CONNS = 50;
my $PERF = $ENV{BENCH_PERF};
my $PACE = $ENV{BENCH_PACE_MS} // 2;
my $PARTS = $ENV{BENCH_PARTS} // 'pairs,timing,nodes,scale,feed,idle';
my $TIMING = $ENV{BENCH_TIMING_REQUESTS} // 5000;
my $CHANGES = $ENV{BENCH_FEED_CHANGES} // 100;
my $IDLE = $ENV{BENCH_IDLE_SECS} // 10;

my $t = Apiauth::Test->new;
my $dir = $t->dir;
$t->start_redis;
system('taskset', '-pc', '1', $t->{pids}{redis}) == 0
    or die "taskset failed\n";
$t->init_store;
$t->ctl('config', 'set', 'max_keys', $SCALE + 1000);

# every check on: a whitelist, scopes by app and interface, an expiry;
# sixteen such keys share the rows with a new nonce each, as one key holds
# at most a quarter of the nonce zone and a run signs more than that
my @KEYS = map { $t->create_key('--name', "bench $_", '--access-key',
    sprintf('BenchKey%04d', $_), '--app', 'shop', '--interface', 'orders',
    '--ip', '10.0.0.0/8', '--ip', '127.0.0.1', '--expires', '30d') } 1 .. 16;
my $AK = $KEYS[0]{access_key};
my $SECRET = $KEYS[0]{access_secret};

# a key like the others with a policy it never reaches: its rows cost the
# leases, never a refusal
$t->ctl('policy', 'create', 'bench', '--rate', '1000000/s', '--burst',
    '1000000', '--quota', '1000000000000/day');
my $POLICY_KEY = $t->create_key('--name', 'bench policy', '--access-key',
    'BenchPolicy01', '--app', 'shop', '--interface', 'orders', '--ip',
    '10.0.0.0/8', '--ip', '127.0.0.1', '--expires', '30d');
$t->ctl('key', 'policy', 'BenchPolicy01', 'bench');

# a 4 KiB JSON body for the POST rows
my $BODY = '{"items":[' . join(',', map { sprintf '{"sku":"%08d"}', $_ }
    1 .. 200);
$BODY .= ' ' x (4096 - 2 - length $BODY) . ']}';

# a key of each JWT algorithm and a token of each, valid for a day: the
# rows repeat one token, as a client does until it expires, so nginx
# verifies it once a minute (the verified-token cache)
my %JWT;
for my $alg (qw(HS256 RS256 ES256)) {
    my $ak = "BenchJwt$alg";
    my $k = $t->create_key('--name', "bench $alg", '--access-key', $ak,
        '--app', 'shop', '--interface', 'orders');
    my @pub;
    if ($alg ne 'HS256') {
        system('openssl', 'genpkey', '-quiet', '-algorithm',
            $alg eq 'RS256' ? ('RSA', '-pkeyopt', 'rsa_keygen_bits:2048')
                            : ('EC', '-pkeyopt', 'ec_paramgen_curve:P-256'),
            '-out', "$dir/$alg.key") == 0
            and system('openssl', 'pkey', '-in', "$dir/$alg.key", '-pubout',
                '-out', "$dir/$alg.pub") == 0
            or die "openssl failed\n";
        @pub = ('--public-key', "$dir/$alg.pub");
    }
    $t->ctl('key', 'jwt', $ak, '--alg', $alg, @pub);
    $JWT{$alg} = jwt_token($alg, $ak, $k->{access_secret});
    write_file("$dir/jwt-$alg.req", "GET /jwt/orders HTTP/1.1\r\n"
        . "Host: a.bench\r\nAuthorization: Bearer $JWT{$alg}\r\n\r\n");
}

my ($port, $status) = map { $t->port($_) } qw(http status);

write_conf('64m');
$t->start_nginx;
my $worker = worker_pid();

printf "# %s, %d CPUs, nginx %s, %s\n", cpu_model(), scalar cpus(),
    nginx_version(), scalar localtime;
printf "# worker %d pinned to CPU 0, wrk pinned to CPU 1, %d connections; "
    . "rows alternate with their twins every %d ms in one wrk run, %d ms "
    . "at each end of a period not counted\n", $worker, $CONNS, $PERIOD,
    $GUARD * 1000;

my $lua = "$FindBin::Bin/bench";

# every row sends the requests of a file with the same wrk script, so that
# wrk costs the same in every row; each apiauth row (server a.bench) has a
# plain twin (server p.bench, "location / { empty_gif; }") that gets the
# same bytes but one letter of the Host header, and the two alternate
write_file("$dir/bare.req", "GET /plain/orders HTTP/1.1\r\n"
    . "Host: p.bench\r\n\r\n");
write_file("$dir/token.req", "GET /token/orders HTTP/1.1\r\n"
    . "Host: a.bench\r\nAuthorization: Bearer $AK.$SECRET\r\n\r\n");
write_file("$dir/records.req", "GET /records/orders HTTP/1.1\r\n"
    . "Host: a.bench\r\nAuthorization: Bearer $AK.$SECRET\r\n\r\n");
write_file("$dir/off.req", "GET /off/orders HTTP/1.1\r\n"
    . "Host: a.bench\r\nAuthorization: Bearer $AK.$SECRET\r\n\r\n");
write_file("$dir/policy.req", "GET /token/orders HTTP/1.1\r\n"
    . "Host: a.bench\r\nAuthorization: Bearer "
    . "$POLICY_KEY->{access_key}.$POLICY_KEY->{access_secret}\r\n\r\n");

# limits judged in the summary besides the ratios: name, value, limit
my (%runs, @failures, $rate, @limits, @leases);

for my $round ($PARTS =~ /pairs/ ? (1 .. $ROUNDS) : ()) {
    print "\n# round $round\n";
    printf "%-44s %10s %12s\n", 'row', 'req/s', 'CPU us/req';

    my $bare = row('plain location, a bare request', 'bare.req');

    # the harness itself: the apiauth server's location without apiauth
    # against the plain server, identical work but for the Host letter
    pair('plain location, the same requests', 'no apiauth (the harness)',
        sub { 'off.req' }, undef, 'paced') if $PARTS =~ /harness/;

    my ($pt, $tk) = pair('plain location, token requests', 'token',
        sub { 'token.req' }, 1.10);
    ratio($tk, $bare);

    # the same token requests where each becomes a call record: what the
    # records add, as a share of the plain twin, is this ratio less the
    # token row's
    pair('plain location, token requests (records)', 'token, call records on',
        sub { 'records.req' });
    push @{ $runs{'ratio: call records on, less the token row (of plain)'} },
        { ratio => last_ratio('token, call records on',
                       'plain location, token requests (records)')
                   - last_ratio('token', 'plain location, token requests'),
          target => 0.10 };

    # the same token requests of a key with a policy it never reaches:
    # what the policy adds, as a share of the plain twin, is this ratio
    # less the token row's; and the Redis commands it costs
    my ($evals, $used) = (evals(), policy_used());
    pair('plain location, token requests (policy)', 'token, a policy',
        sub { 'policy.req' });
    push @{ $runs{'ratio: a policy, less the token row (of plain)'} },
        { ratio => last_ratio('token, a policy',
                       'plain location, token requests (policy)')
                   - last_ratio('token', 'plain location, token requests'),
          target => 0.05 };
    # leases (EVAL) per 1,000 of the key's requests, as its quota counts
    # them (tokens leased and not yet spent with them)
    push @leases, 1000 * (evals() - $evals)
        / ((policy_used() - $used) || 1);

    # the same JWT again and again, verified once a minute
    for my $alg (qw(HS256 RS256 ES256)) {
        pair("plain location, JWT requests ($alg)", "JWT $alg (cached)",
            sub { "jwt-$alg.req" }, 1.25);
    }

    # signed now: its date must stay within the window for the whole run
    my ($pf, $s1) = pair('plain location, a signed request',
        'signature, replay protection off', sub {
            write_file("$dir/fixed.req", signed_raw(access_key => $AK,
                secret => $SECRET, target => '/noreplay/orders',
                host => 'a.bench', nonce => 'bench-fixed-nonce-0001',
                date => int time));
            return 'fixed.req';
        }, 1.25);
    ratio($s1, $bare);

    # each request its own nonce: a fresh pool for every run, as large as
    # the run can send in its apiauth periods; the twin gets the same
    # requests and ignores the nonces
    my ($ps, $s2) = pair('plain location, signed requests, new nonces',
        'signature, defaults (a new nonce each)', sub {
            my ($n) = @_;
            make_pool("$dir/pool.req", $n);
            return 'pool.req';
        }, 1.25);
    ratio($s2, $bare);

    # a POST of a signed 4 KiB body, read and hashed at each request (its
    # nonce fixed, replay protection off), against the same POST to the
    # plain twin, whose body nginx reads and drops
    my ($pb, $s3) = pair('plain location, a 4 KiB POST',
        'signed 4 KiB body, replay protection off', sub {
            my @h = signed_headers(access_key => $AK, secret => $SECRET,
                url => 'http://a.bench/body/orders', method => 'POST',
                body => $BODY, sign_body => 1,
                nonce => 'bench-body-nonce-0001', date => int time);
            write_file("$dir/body.req", "POST /body/orders HTTP/1.1\r\n"
                . join('', map { "$_->[0]: $_->[1]\r\n" } @h)
                . 'Content-Length: ' . length($BODY) . "\r\n\r\n$BODY");
            return 'body.req';
        }, 1.30);
    ratio($s3, $bare);
}

if (@leases) {
    push @limits, ['leases (EVAL) per 1,000 requests of a hot key',
        median(@leases), 10];
}

timing() if $PARTS =~ /timing/;
nodes() if $PARTS =~ /nodes/;
scale() if $PARTS =~ /scale/;
# after scale: its key list counts the keys, and these add some
feed() if $PARTS =~ /feed/;
idle() if $PARTS =~ /idle/;

summary();

$t->finish;
Test::More::done_testing();

if (@failures) {
    print "\nFAILED:\n", map { "  $_\n" } @failures;
    exit 1;
}

print "\nall targets met\n";
exit 0;

###############################################################################

sub write_conf {
    my ($cache, $extra) = @_;
    $extra //= '';
    $t->write_nginx_conf(<<"EOF");
%%MAIN%%
worker_processes 1;
worker_cpu_affinity 01;
events { worker_connections 4096; }
http {
    %%HTTP%%
    access_log off;
    keepalive_requests 1000000;
    apiauth_redis 127.0.0.1:%%REDIS_PORT%%;
    apiauth_master_key %%MASTER_KEY%%;
    apiauth_cache zone=bench_cache:$cache ttl=10m;
    # Redis keeps the newest 100,000 records: a run makes millions
    apiauth_records_pipeline spool=$dir/spool maxlen=100000;
    $extra

    server {
        listen 127.0.0.1:%%PORT%%;
        server_name a.bench;
        apiauth_app shop;
        apiauth_interface orders;

        location /sig/ { apiauth signature; empty_gif; }
        location /noreplay/ {
            apiauth signature;
            apiauth_replay_protection off;
            empty_gif;
        }
        location /token/ { apiauth token; empty_gif; }
        location /jwt/ { apiauth jwt; empty_gif; }
        location /records/ {
            apiauth token;
            apiauth_records on;
            empty_gif;
        }
        location /off/ { empty_gif; }
        location /body/ {
            apiauth signature;
            apiauth_replay_protection off;
            empty_gif;
        }

        # empty_gif answers a POST 405: a 200 for the body rows
        error_page 405 =200 \@posted;
        location \@posted { return 200; }
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        server_name p.bench;
        location / { empty_gif; }
        error_page 405 =200 \@posted;
        location \@posted { return 200; }
    }

    server {
        listen 127.0.0.1:%%PORT_status%%;
        location / { stub_status; }
    }
}
EOF
}

# a JWT for a day: HS256 signed here with the key's secret, the others by
# Debian's python3-jwt with the key made for it
sub jwt_token {
    my ($alg, $ak, $secret) = @_;
    my $claims = sprintf '{"sub":"%s","iat":%d,"exp":%d}', $ak, time,
        time + 86400;
    if ($alg eq 'HS256') {
        my $in = encode_base64url('{"alg":"HS256","typ":"JWT"}') . '.'
            . encode_base64url($claims);
        return "$in." . encode_base64url(hmac_sha256($in, $secret));
    }
    open my $py, '-|', '/usr/bin/python3', '-c',
        'import sys, json, jwt; print(jwt.encode(json.loads(sys.argv[1]), '
        . 'open(sys.argv[2]).read(), algorithm=sys.argv[3]))',
        $claims, "$dir/$alg.key", $alg or die "python3: $!\n";
    chomp(my $tok = <$py> // '');
    close $py;
    die "python3-jwt made no $alg token\n" unless $tok;
    return $tok;
}

# what the policy's key has used of its quota, as Redis counts it
sub policy_used {
    my $r = $t->ctl_json('key', 'usage', 'BenchPolicy01');
    return $r->{json}{usage}{quota}{used} // 0;
}

# EVAL calls Redis has run: the leases
sub evals {
    my $info = $t->redis('INFO', 'commandstats');
    return $info =~ /^cmdstat_eval:calls=(\d+)/m ? $1 : 0;
}

# a quota of 1,000 on two nodes (this nginx and a second one on the same
# Redis), 8 clients sending 2,400 requests at once, then one at a time
# until both refuse: what was admitted, which must be exactly 1,000
sub nodes {
    print "\n# a quota of 1,000 on two nodes\n";
    $t->ctl('policy', 'create', 'nodes', '--quota', '1000/day');
    my $key = $t->create_key('--name', 'bench nodes', '--access-key',
        'BenchNodes01', '--app', 'shop', '--interface', 'orders');
    $t->ctl('key', 'policy', 'BenchNodes01', 'nodes');

    my $t2 = Apiauth::Test->new;
    $t2->{master_key} = $t->master_key;
    $t2->{ports}{redis} = $t->port('redis');
    $t2->write_nginx_conf(nginx_conf(main => 'worker_processes 2;',
        server => "        location /token/ { apiauth token; "
            . "apiauth_app shop; apiauth_interface orders; "
            . "\@\@BACKEND\@\@ }\n"));
    $t2->start_nginx;

    my @ports = ($port, $t2->port('http'));
    my $raw = sub {
        my ($p) = @_;
        my $host = $p == $port ? 'a.bench' : 'localhost';
        return build_request('GET', '/token/orders', [['Host', $host],
            token_headers($key), ['Connection', 'keep-alive']]);
    };
    my @kids = map {
        my $p = $_;
        @{ client_load($t, port => $p, clients => 4, n => 300, seconds => 0,
            request => sub { $raw->($p) }) }
    } @ports;
    my $got = token_load_wait(\@kids);
    my $admitted = $got->{200} // 0;
    my ($i, $refused, $since) = (0, 0, undef);
    while ($refused < 20 || time - $since < 1.6) {
        my $p = $ports[$i++ % 2];
        my $r = http($p, build_request('GET', '/token/orders',
            [['Host', $p == $port ? 'a.bench' : 'localhost'],
             token_headers($key)]));
        if (($r->{status} // 0) == 200) {
            $admitted++;
            ($refused, $since) = (0, undef);
        } else {
            $since //= time;
            $refused++;
        }
        last if $i > 5000;
        sleep 0.002;
    }
    $t2->finish;
    printf "admitted %d of a quota of 1,000 (2,400 requests at once, then "
        . "%d one at a time)\n", $admitted, $i;
    push @failures, "two nodes admitted $admitted of a quota of 1,000"
        unless $admitted == 1000;
}

sub worker_pid {
    my $master = $t->{pids}{nginx};
    for (1 .. 50) {
        open my $f, '<', "/proc/$master/task/$master/children" or die $!;
        my ($pid) = split ' ', <$f> // '';
        return $pid if $pid;
        sleep 0.1;
    }
    die "no nginx worker\n";
}

# nanoseconds the worker ran, user and kernel: stat's utime and stime
# count 10 ms ticks, 2% of a slice's CPU time
sub cpu_ns {
    open my $f, '<', "/proc/$worker/schedstat" or die "worker $worker: $!\n";
    my ($ns) = split ' ', <$f>;
    return $ns;
}

sub requests {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $status, Proto => 'tcp') or die "stub_status: $!\n";
    print $s "GET / HTTP/1.0\r\n\r\n";
    local $/;
    my $r = <$s>;
    return $r =~ /^\s*\d+\s+\d+\s+(\d+)\s*$/m ? $1 : die "stub_status?\n";
}

sub wrk_failed {
    my ($out, $what) = @_;
    return unless $out =~ /Non-2xx or 3xx responses: (\d+)/
        || $out !~ /Requests\/sec/ || $out =~ /Socket errors/;
    push @failures, "wrk saw errors or non-2xx answers ($what):\n$out";
}

# one wrk run of one file: the worker's CPU time and the requests served
# after a warm-up
sub slice {
    my ($file) = @_;
    my $measure = 2;
    open my $wrk, '-|', 'taskset', '-c', '1', 'wrk', '-t1', "-c$CONNS",
        '-d' . ($WARMUP + $measure + 1) . 's', '-s', "$lua/pool.lua",
        "http://127.0.0.1:$port/", "$dir/$file" or die "wrk: $!\n";

    sleep $WARMUP;
    my ($c0, $r0, $t0) = (cpu_ns(), requests(), time);
    sleep $measure;
    my ($c1, $r1, $t1) = (cpu_ns(), requests(), time);

    wrk_failed(do { local $/; <$wrk> }, $file);
    close $wrk;

    # the stub_status request itself counts once
    return ($c1 - $c0, $r1 - $r0 - 1, $t1 - $t0);
}

sub row_result {
    my ($name, $ns, $reqs, $secs) = @_;
    if ($reqs <= 0 || $secs <= 0) {
        push @failures, "$name: no requests served";
        ($reqs, $secs) = (1, 1);
    }
    my %r = (name => $name, rps => $reqs / $secs, us => $ns / 1000 / $reqs);
    push @{ $runs{$name} }, \%r;
    printf "%-44s %10.0f %12.2f\n", $name, $r{rps}, $r{us};
    return \%r;
}

sub row {
    my ($name, $file) = @_;
    return row_result($name, slice($file));
}

sub sleep_until {
    my ($when) = @_;
    my $d = $when - time;
    sleep $d if $d > 0;
}

# a run's length: the warm-up, up to two periods until an even one, the
# pairs, and a second to spare
sub run_secs {
    my ($pairs) = @_;
    return $WARMUP + (2 * $pairs + 2) * $PERIOD / 1000 + 1;
}

# one wrk run, a row and its twin in alternating periods (twin in the even
# ones): per period, the worker's CPU time and the requests it served,
# sampled after a guard at both ends so that no request of the other side
# is counted; with a perf file, samples of the worker through the run
sub alternate {
    my ($file, $pace, $pairs, $perf, $other) = @_;
    my $p = $PERIOD / 1000;
    my $run = run_secs($pairs);

    open my $wrk, '-|', 'taskset', '-c', '1', 'wrk', '-t1', "-c$CONNS",
        '-d' . ceil($run) . 's', '-s', "$lua/alternate.lua",
        "http://127.0.0.1:$port/", "$dir/$file", $PERIOD, $pace,
        $other ? ("$dir/$other") : () or die "wrk: $!\n";

    # wrk reads its files before its clock starts: the warm-up starts
    # with the first answers
    my $r0 = requests();
    for (1 .. 600) {
        last if requests() > $r0 + 100;
        sleep 0.05;
    }
    my $k = ceil((time + $WARMUP) / $p);
    $k++ if $k % 2;

    # perf through the whole run: its samples are sorted into the periods
    my $rec;
    if ($perf) {
        open $rec, '-|', 'perf', 'record', '-q', '-k', 'realtime', '-F',
            '2000', '-p', $worker, '-o', $perf, '--', 'sleep',
            $k * $p + 2 * $pairs * $p + 0.5 - time
            or die "perf: $!\n";
    }

    my (@twin, @row);
    for my $i (0 .. 2 * $pairs - 1) {
        my $start = ($k + $i) * $p;
        sleep_until($start + $GUARD);
        my ($c0, $r0, $t0) = (cpu_ns(), requests(), time);
        sleep_until($start + $p - $GUARD);
        my ($c1, $r1, $t1) = (cpu_ns(), requests(), time);
        # the stub_status request itself counts once
        push @{ $i % 2 ? \@row : \@twin },
            { ns => $c1 - $c0, reqs => $r1 - $r0 - 1, secs => $t1 - $t0,
              from => $t0, to => $t1 };
    }

    if ($rec) {
        local $/;
        <$rec>;
        close $rec;
    }
    wrk_failed(do { local $/; <$wrk> }, $file);
    close $wrk;

    return (\@twin, \@row);
}

sub sum_periods {
    my ($name, $periods) = @_;
    my @s = (0, 0, 0);
    for my $x (@$periods) {
        $s[0] += $x->{ns};
        $s[1] += $x->{reqs};
        $s[2] += $x->{secs};
    }
    return row_result($name, @s);
}

# a period without requests (wrk stalled) gives no pair, and fails the run
sub pair_ratios {
    my ($twin, $row) = @_;
    my @r;
    for my $i (0 .. $#$row) {
        my ($tw, $rw) = ($twin->[$i], $row->[$i]);
        if ($tw->{reqs} <= 0 || $rw->{reqs} <= 0 || $tw->{ns} <= 0) {
            push @failures, "period pair $i served no requests";
            next;
        }
        push @r, ($rw->{ns} / $rw->{reqs}) / ($tw->{ns} / $tw->{reqs});
    }
    return @r;
}

# a plain twin and an apiauth row in one run; paced (the targets), then
# flat out (for the record, a fifth as many pairs)
sub pair {
    my ($plain_name, $name, $file_for, $target, $only) = @_;
    my ($pr, $ar);

    for my $pace ($only ? ($PACE) : ($PACE, 0)) {
        my $tag = $pace ? " (paced)" : " (flat out)";
        my $pairs = $pace ? $PAIRS : int(($PAIRS + 4) / 5);
        my $secs = run_secs($pairs);

        # requests the apiauth periods can take: a pace of P ms over 50
        # connections caps the rate; flat out, the previous pair's
        # apiauth row bounds this one's
        my $n = int(($pace ? $CONNS * 1000 / $PACE
                           : ($rate // 100_000) * 1.3) * ($secs / 2 + 1));
        my $file = $file_for->($n);
        my $perf = $PERF && $pace && "$dir/perf.data";

        my ($twin, $row) = alternate($file, $pace, $pairs, $perf);

        my $p1 = sum_periods($plain_name . $tag, $twin);
        my $a1 = sum_periods($name . $tag, $row);
        ratio($a1, $p1, $pace ? $target : undef, [ pair_ratios($twin, $row) ]);
        perf_diff($perf, $twin, $row) if $perf;
        ($pr, $ar) = ($p1, $a1) if $pace;
        $rate = $a1->{rps} unless $pace;
    }

    return ($pr, $ar);
}

# microseconds per request by symbol, from the samples in the periods
sub perf_costs {
    my ($samples, $periods) = @_;
    my (%us, $reqs);
    $reqs += $_->{reqs} for @$periods;
    for my $s (@$samples) {
        my ($t, $key) = @$s;
        next unless grep { $t >= $_->{from} && $t < $_->{to} } @$periods;
        # 2000 samples a second of the worker's CPU
        $us{$key} += 1 / 2000 * 1e6;
    }
    $us{$_} /= $reqs for keys %us;
    return \%us;
}

sub perf_diff {
    my ($file, $twin, $row) = @_;
    my @samples;
    for (`perf script -i $file -F time,ip,sym,dso 2>/dev/null`) {
        next unless /^\s*([\d.]+):\s+[0-9a-f]+\s+(.+?)\s+\((\S+)\)\s*$/;
        my ($t, $sym, $dso) = ($1, $2, $3);
        $dso =~ s{.*/}{};
        push @samples, [ $t, "$dso $sym" ];
    }
    my ($plain_us, $api_us) = (perf_costs(\@samples, $twin),
                               perf_costs(\@samples, $row));
    my %k = map { $_ => 1 } keys %$plain_us, keys %$api_us;
    my @d = sort { $b->[0] <=> $a->[0] }
        map { [ ($api_us->{$_} // 0) - ($plain_us->{$_} // 0), $_ ] }
        keys %k;
    my %sum;
    for my $side ([plain => $plain_us], [apiauth => $api_us]) {
        for my $k (keys %{ $side->[1] }) {
            my $where = $k =~ /^\[kernel/ ? 'kernel' : 'user';
            $sum{"$side->[0] $where"} += $side->[1]{$k};
        }
    }
    printf "    per request, from the samples: plain %.2f us (user %.2f, kernel "
        . "%.2f), apiauth %.2f us (user %.2f, kernel %.2f)\n",
        map { $_ // 0 } $sum{'plain user'} + $sum{'plain kernel'},
        $sum{'plain user'}, $sum{'plain kernel'},
        $sum{'apiauth user'} + $sum{'apiauth kernel'},
        $sum{'apiauth user'}, $sum{'apiauth kernel'};
    printf "    %+.3f us  %s\n", @$_
        for grep { defined && abs $_->[0] >= 0.02 } @d[0 .. 24];
}

# a target makes a ratio count; without one it is printed for the record
# the median of the pairs' ratios where there are pairs, else the ratio of
# the rows' figures
sub ratio {
    my ($row, $base, $target, $pairs) = @_;
    my $x = $pairs ? median(@$pairs) : $row->{us} / $base->{us};
    my $name = "$row->{name} / $base->{name}";
    push @{ $runs{"ratio: $name"} }, { ratio => $x, target => $target };
    printf "  %-68s %6.3f%s%s\n", $name, $x,
        $pairs ? sprintf('  (pairs %s)', join ' ',
                         map { sprintf '%.2f', $_ } sort { $a <=> $b } @$pairs)
               : '',
        $target ? sprintf('  (target <= %.2f)', $target) : '';
}

# the paced median ratio of a row's last pair with its twin (a row may
# also have a ratio to the bare row: not that one)
sub last_ratio {
    my ($name, $twin) = @_;
    my $key = "ratio: $name (paced) / $twin (paced)";
    die "no ratio for $name\n" unless $runs{$key};
    return $runs{$key}[-1]{ratio};
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return 0 unless @v;
    return $v[floor($#v / 2)] if @v % 2;
    return ($v[$#v / 2 - 0.5] + $v[$#v / 2 + 0.5]) / 2;
}

sub summary {
    print "\n# medians of $ROUNDS rounds\n";
    printf "%-44s %10s %12s\n", 'row', 'req/s', 'CPU us/req';
    for my $name (grep { !/^ratio/ } sort keys %runs) {
        my @r = @{ $runs{$name} };
        printf "%-44s %10.0f %12.2f\n", $name, median(map { $_->{rps} } @r),
            median(map { $_->{us} } @r);
    }
    print "\n";
    for my $name (grep { /^ratio/ } sort keys %runs) {
        my @r = @{ $runs{$name} };
        my $m = median(map { $_->{ratio} } @r);
        my $target = $r[0]{target};
        my $ok = !$target || $m <= $target;
        printf "  %-68s %6.3f%s\n", substr($name, 7), $m,
            $target ? sprintf('  <= %.2f %s', $target, $ok ? 'ok' : 'MISSED')
                    : '';
        push @failures, sprintf('%s: median ratio %.3f > %.2f',
            substr($name, 7), $m, $target) unless $ok;
    }
    for (@limits) {
        my ($name, $v, $limit) = @$_;
        my $ok = $v < $limit;
        printf "  %-68s %6.1f  < %g %s\n", $name, $v, $limit,
            $ok ? 'ok' : 'MISSED';
        push @failures, sprintf('%s: %.1f, not under %g', $name, $v, $limit)
            unless $ok;
    }
}

# requests for /sig/orders, each with its own nonce, of the keys in turn
sub make_pool {
    my ($file, $n) = @_;
    my $date = int time;
    open my $f, '>', $file or die "$file: $!\n";
    for my $i (1 .. $n) {
        my $k = $KEYS[$i % @KEYS];
        print $f signed_raw(access_key => $k->{access_key},
            secret => $k->{access_secret}, target => "/sig/orders",
            host => "a.bench", nonce => sprintf('bench%011d%06d', $date, $i),
            date => $date);
    }
    close $f;
}

sub write_file {
    my ($file, $data) = @_;
    open my $f, '>', $file or die "$file: $!\n";
    print $f $data;
    close $f;
}

sub cpus {
    open my $f, '<', '/proc/cpuinfo' or return ();
    return grep { /^processor/ } <$f>;
}

sub cpu_model {
    open my $f, '<', '/proc/cpuinfo' or return 'unknown CPU';
    for (<$f>) { return $1 if /^model name\s*:\s*(.*)$/ }
    return 'unknown CPU';
}

sub nginx_version {
    my $v = `$Apiauth::Test::NGINX -v 2>&1`;
    return $v =~ m{nginx/(\S+)} ? $1 : '?';
}

###############################################################################
# timing: whether an accessKey exists must not show in the response time

# a signed request with 16 large signed headers, of a key and a secret
sub big_signed {
    my ($ak, $secret, $date) = @_;
    my @h = (['Host', 'a.bench'], ['X-Apiauth-Date', $date],
        ['X-Apiauth-Nonce', 'timing-nonce-00000001'],
        map { [sprintf('X-Pad-%02d', $_), chr(96 + $_) x 1000] } 1 .. 16);
    my $auth = sign_request(access_key => $ak, secret => $secret,
        method => 'GET', target => '/sig/orders', headers => \@h);
    return "GET /sig/orders HTTP/1.1\r\n"
        . join('', map { "$_->[0]: $_->[1]\r\n" } @h)
        . "Authorization: $auth\r\n\r\n";
}

# seconds for one request on a kept connection, its status, and the
# response
sub round_trip {
    my ($s, $raw) = @_;
    my $t0 = clock_gettime(CLOCK_MONOTONIC);
    print $s $raw;
    my $buf = '';
    until ($buf =~ /\r\n\r\n/ && length($buf) >= index($buf, "\r\n\r\n")
           + 4 + ($buf =~ /Content-Length: (\d+)/i ? $1 : 0))
    {
        sysread($s, $buf, 4096, length $buf) or die "closed\n";
    }
    my $secs = clock_gettime(CLOCK_MONOTONIC) - $t0;
    my ($status) = $buf =~ m{^HTTP/1\.1 (\d+)};
    return ($secs, $status, $buf);
}

# a known key with a wrong secret (bad_signature) and an accessKey that
# does not exist (unknown_key), both cached, in turn on one connection, and
# the known one again as a third kind: the difference between the two
# known kinds is the noise the other difference is judged against
sub timing {
    my $date = int time;
    my %req = (
        known => big_signed($AK, 'f' x 64, $date),
        unknown => big_signed('NoSuchKey001', 'f' x 64, $date),
    );
    $req{again} = $req{known};

    print "\n# timing: cached known key (wrong signature) against cached "
        . "unknown accessKey, 16 signed headers of 1000 bytes, $TIMING "
        . "requests each in turn on one connection\n";

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp') or die "connect: $!\n";
    # a request of several segments: without it, Nagle waits for an ACK
    # that the server delays, 40 ms a request
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1) or die "TCP_NODELAY: $!\n";
    my %lat;
    for my $i (0 .. $TIMING + 50) {
        for my $kind (qw(known unknown again)) {
            my ($secs, $status) = round_trip($s, $req{$kind});
            push @failures, "timing: $kind answered $status, not 401"
                unless $status == 401;
            # the first ones fill the cache and warm up
            push @{ $lat{$kind} }, $secs if $i > 50;
        }
    }
    close $s;

    my %m = map { $_ => 1e6 * median(@{ $lat{$_} }) } keys %lat;
    my $noise = abs($m{again} - $m{known});
    my $diff = $m{unknown} - $m{known};
    printf "median us: known %.1f, unknown %.1f, known again %.1f\n",
        $m{known}, $m{unknown}, $m{again};
    printf "unknown - known: %+.1f us (%+.1f%%); known again - known "
        . "(the noise): %+.1f us\n", $diff, 100 * $diff / $m{known},
        $m{again} - $m{known};

    # the goal is within the noise; a difference past twice the noise and
    # past 2% of a request is a finding
    push @failures, sprintf('timing: an unknown accessKey answers %+.1f us '
        . 'apart from a known one (noise %.1f us)', $diff, $noise)
        if abs($diff) > 2 * $noise && abs($diff) > 0.02 * $m{known};
}

###############################################################################
# scale: a million keys in Redis, a hundred thousand of them hot

sub redis_info {
    my ($section, $field) = @_;
    my $info = $t->redis('INFO', $section);
    return $info =~ /^\Q$field\E:(\S+)/m ? $1 : undef;
}

sub lookups {
    my $info = $t->redis('INFO', 'commandstats');
    return $info =~ /^cmdstat_hgetall:calls=(\d+)/m ? $1 : 0;
}

sub master_bytes {
    (my $m = $t->read_file('master.key')) =~ s/\s+//g;
    return pack 'H*', $m;
}

# the scale part's keys, or another part's under its own prefix
sub scale_ak { sprintf '%s%07d', $_[1] // 'Scale', $_[0] }
sub scale_salt { sprintf '%032x', $_[0] }

sub scale_secret {
    my ($master, $i, $prefix) = @_;
    return hmac_sha256_hex("apiauth-secret-v1\0" . scale_ak($i, $prefix)
        . "\0" . scale_salt($i), $master);
}

# the layout apiauth-ctl writes (docs/keys.md), pipelined into redis-cli
sub load_keys {
    my ($n, $prefix) = @_;
    open my $pipe, '|-', 'redis-cli', '-p', $t->port('redis'), '--pipe'
        or die "redis-cli: $!\n";
    my $cmd = sub {
        my $r = '*' . @_ . "\r\n";
        $r .= '$' . length($_) . "\r\n$_\r\n" for @_;
        return $r;
    };
    for my $i (1 .. $n) {
        my $ak = scale_ak($i, $prefix);
        print $pipe $cmd->('HSET', "{apiauth}:key:$ak", 'name',
            lc($prefix // 'scale') . " $i",
            'description', '', 'salt', scale_salt($i), 'status', 'enabled',
            'created', '1764000000', 'updated', '1764000000', 'apps', '*',
            'interfaces', '*', 'ips', ''),
            $cmd->('ZADD', '{apiauth}:keys', '0', $ak);
    }
    close $pipe or die "redis-cli --pipe failed\n";
}

sub token_file {
    my ($file, $master, @ids) = @_;
    open my $f, '>', "$dir/$file" or die;
    print $f "GET /token/orders HTTP/1.1\r\nHost: a.bench\r\n"
        . 'Authorization: Bearer ' . scale_ak($_) . '.'
        . scale_secret($master, $_) . "\r\n\r\n" for @ids;
    close $f;
}

sub percentile {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return $v[int($p / 100 * $#v + 0.5)];
}

# sequential requests on one keepalive connection; seconds each
sub timed_requests {
    my ($master, @ids) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp') or die;
    my @lat;
    for my $i (@ids) {
        my $t0 = time;
        print $s "GET /token/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            . 'Authorization: Bearer ' . scale_ak($i) . '.'
            . scale_secret($master, $i) . "\r\n\r\n";
        my $buf = '';
        until ($buf =~ /\r\n\r\n/ && length($buf) >= index($buf, "\r\n\r\n")
               + 4 + ($buf =~ /Content-Length: (\d+)/i ? $1 : 0))
        {
            sysread($s, $buf, 4096, length $buf) or die "closed\n";
        }
        push @lat, time - $t0;
        push @failures, "request for key $i: " . substr($buf, 0, 12)
            unless $buf =~ /^HTTP\/1\.1 200/;
    }
    close $s;
    return @lat;
}

sub scale {
    my $master = master_bytes();

    print "\n# scale: $SCALE keys in Redis, $HOT of them hot\n";

    my $mem0 = redis_info('memory', 'used_memory');
    my $t0 = time;
    load_keys($SCALE);
    my $mem1 = redis_info('memory', 'used_memory');
    printf "loaded %d keys in %.1fs; Redis memory %.0f bytes per key\n",
        $SCALE, time - $t0, ($mem1 - $mem0) / $SCALE;

    # key list pages: under a 256 MB address space limit, every key once
    $t0 = time;
    my $cmd = "ulimit -v 262144; $Apiauth::Test::BUILD/apiauth-ctl --redis "
        . $t->redis_url . " --master-key $dir/master.key --json key list "
        . '| tail -c 64';
    my $out = `$cmd`;
    my ($count) = $out =~ /"count":(\d+)/;
    printf "apiauth-ctl key list: %s keys in %.1fs under ulimit -v 262144\n",
        $count // 'FAILED', time - $t0;
    push @failures, 'key list did not page through every key in 256 MB'
        unless ($count // 0) == $SCALE + @KEYS;

    # cache-miss latency: keys never asked for, one after the other
    my @miss = timed_requests($master, $HOT + 1 .. $HOT + 2000);
    my @hit = timed_requests($master, $HOT + 1 .. $HOT + 2000);
    printf "latency, cache miss (Redis on loopback): p50 %.0f us, p99 %.0f "
        . "us; cache hit: p50 %.0f us, p99 %.0f us\n",
        1e6 * percentile(50, @miss), 1e6 * percentile(99, @miss),
        1e6 * percentile(50, @hit), 1e6 * percentile(99, @hit);

    # hot keys: as fast as with ten; every one a cache hit once warm
    token_file('hot.req', $master, 1 .. $HOT);
    token_file('ten.req', $master, map { 1 + $_ % 10 } 1 .. $HOT);

    # warmed flat out: a paced run (about 20,000 a second) may end before
    # the last of 100,000 keys was asked once
    slice('hot.req');
    my $n0 = lookups();
    for my $round (1 .. $ROUNDS) {
        my ($ten, $hot) = alternate('hot.req', $PACE, $PAIRS, undef,
                                    'ten.req');
        my $a = sum_periods('token, 10 keys (paced)', $ten);
        my $b = sum_periods("token, $HOT hot keys of $SCALE (paced)", $hot);
        ratio($b, $a, undef, [ pair_ratios($ten, $hot) ]);
    }
    my $n1 = lookups();
    printf "lookups while the hot keys were measured: %d\n", $n1 - $n0;
    push @failures, "hot keys caused " . ($n1 - $n0) . " lookups"
        if $n1 - $n0;

    capacity();
}

# bytes of shared memory per cached key and per nonce, measured: a 1m
# cache zone filled with keys, then asked again from the most recent one
# back (LRU: the hits are what fits); a 1m nonce zone filled until it
# refuses
# requests of a nonce pool sent until the zone refuses them: how many passed
sub remembered {
    my ($file) = @_;
    my $cmd = "taskset -c 1 wrk -t1 -c10 -d8s -s $lua/pool.lua "
        . "http://127.0.0.1:$port/ $dir/$file 2>&1";
    my $out = `$cmd`;
    my ($all) = $out =~ /(\d+) requests in/;
    my ($bad) = $out =~ /Non-2xx or 3xx responses: (\d+)/;
    return ($all // 0) - ($bad // 0);
}

sub capacity {
    my $master = master_bytes();

    $t->stop_nginx;
    write_conf('1m', 'apiauth_nonce zone=small_nonce:1m;');
    $t->start_nginx;
    $worker = worker_pid();

    my @ids = ($SCALE - 5999 .. $SCALE);
    timed_requests($master, @ids);
    my ($hits, $n0) = (0, lookups());
    for my $i (reverse @ids) {
        timed_requests($master, $i);
        last if lookups() != $n0;
        $hits++;
    }
    printf "cache zone 1m: %d keys cached, %.0f bytes of zone per key\n",
        $hits, 1048576 / ($hits || 1);

    # sixteen keys in turn fill the zone (one key holds a quarter of it);
    # then one key alone, its share
    my $date = int time;
    my @keys = map { [ scale_ak($_), scale_secret($master, $_) ] } 1 .. 16;
    open my $f, '>', "$dir/fill.req" or die;
    print $f signed_raw(access_key => $keys[$_ % 16][0],
        secret => $keys[$_ % 16][1], target => "/sig/orders",
        host => "a.bench", nonce => sprintf('fill%011d%07d', $date, $_),
        date => $date)
        for 1 .. 80_000;
    close $f;
    open $f, '>', "$dir/share.req" or die;
    print $f signed_raw(access_key => $AK, secret => $SECRET,
        target => "/sig/orders", host => "a.bench",
        nonce => sprintf('share%011d%07d', $date, $_), date => $date)
        for 1 .. 40_000;
    close $f;

    my $ok = remembered('fill.req');
    printf "nonce zone 1m: %d nonces of 16 keys remembered until it refused, "
        . "%.1f bytes of zone per nonce\n", $ok, 1048576 / ($ok || 1);

    $t->stop_nginx;
    $t->start_nginx;
    $worker = worker_pid();
    $ok = remembered('share.req');
    printf "nonce zone 1m: %d nonces of one key remembered until it was "
        . "refused, its share: %.1f%% of the entries\n", $ok,
        100 * $ok * 16 / 1048576;

    # wrk's own connections end with the run; no more to measure
    @failures = grep { !/wrk saw errors/ || !/fill/ } @failures;
}

###############################################################################
# feed: how soon nginx enforces a change made with apiauth-ctl, and what
# the change feed costs workers that serve nothing

# two workers and an hour's cache, so that only the feed can end a cached
# key; with $plain, the same nginx without the module and its directives
sub write_feed_conf {
    my ($plain) = @_;
    my $apiauth = $plain ? '' : <<'EOF';
    apiauth_redis 127.0.0.1:%%REDIS_PORT%%;
    apiauth_master_key %%MASTER_KEY%%;
    apiauth_cache zone=feed_cache:16m ttl=1h;
EOF
    my $token = $plain ? '' : 'apiauth token;';
    my $conf = $t->write_nginx_conf(<<"EOF");
%%MAIN%%
worker_processes 2;
events { worker_connections 1024; }
http {
    %%HTTP%%
    access_log off;
    keepalive_requests 1000000;
$apiauth
    server {
        listen 127.0.0.1:%%PORT%%;
        location /token/ { $token empty_gif; }
    }
}
EOF
    return unless $plain;
    my $text = $t->read_file('nginx.conf');
    $text =~ s/^load_module .*\n//m or die "no load_module in $conf\n";
    write_file($conf, $text);
}

# nginx of write_feed_conf() in place of the running one; its workers,
# once both of them read the stream (with the module: a fresh zone's first
# feed starts a new generation of the cache, which must come before the
# keys are cached)
sub start_feed_nginx {
    my ($plain) = @_;
    $t->stop_nginx;
    write_feed_conf($plain);
    $t->start_nginx;
    my @w;
    Apiauth::Test::wait_for('two nginx workers', 10,
        sub { (@w = $t->worker_pids) == 2 });
    $t->wait_feeds(2) unless $plain;
    return @w;
}

sub connect_http {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp') or die "connect: $!\n";
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1) or die "TCP_NODELAY: $!\n";
    return $s;
}

# apiauth-ctl as an operator runs it, a process of its own: when it was
# started and when it had exited, by the monotonic clock; any failure ends
# the bench
sub run_ctl {
    my (@args) = @_;
    my %env = $t->ctl_env;
    my $t0 = clock_gettime(CLOCK_MONOTONIC);
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        @ENV{keys %env} = values %env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', "$dir/ctl.err";
        exec "$Apiauth::Test::BUILD/apiauth-ctl", @args or POSIX::_exit(127);
    }
    waitpid($pid, 0) == $pid or die "waitpid: $!\n";
    my $t1 = clock_gettime(CLOCK_MONOTONIC);
    die "apiauth-ctl @args: exit " . ($? >> 8) . ', signal ' . ($? & 127)
        . ': ' . $t->read_file('ctl.err') if $?;
    return ($t0, $t1);
}

# each key cached, then disabled with apiauth-ctl and asked for back to
# back on a keepalive connection (opened before, and admitted once on it)
# until the first refusal: the time from the tool's exit to that refusal's
# response.  Before each change, the floor of the method: the same key's
# first answer (admitted, from the cache) after a run of the tool that
# changes nothing (key show), which costs what any run costs the bench (its
# fork's copy-on-write faults among them) and the host (a wake-up).
sub feed {
    my $master = master_bytes();
    my @keys = map { [ scale_ak($_, 'Feed'),
        "GET /token/orders HTTP/1.1\r\nHost: a.bench\r\nAuthorization: "
        . 'Bearer ' . scale_ak($_, 'Feed') . '.'
        . scale_secret($master, $_, 'Feed') . "\r\n\r\n" ] } 1 .. $CHANGES;

    print "\n# feed: $CHANGES keys cached (ttl=1h) by nginx of 2 workers, "
        . "each disabled with apiauth-ctl, then asked for back to back on a "
        . "keepalive connection until refused\n";

    load_keys($CHANGES, 'Feed');
    start_feed_nginx();

    # warm: each key looked up once, and then from the cache only
    for my $pass (1, 2) {
        my $n0 = lookups();
        my $s = connect_http();
        for my $k (@keys) {
            my (undef, $status) = round_trip($s, $k->[1]);
            die "feed: $k->[0] answered $status while warming\n"
                unless $status == 200;
        }
        close $s;
        my $n = lookups() - $n0;
        die "feed: $n lookups of $CHANGES keys in warming pass $pass\n"
            if $n != ($pass == 1 ? $CHANGES : 0);
    }

    my (@lat, @tool, @asked, @floor);
    for my $k (@keys) {
        my $s = connect_http();
        my (undef, $status) = round_trip($s, $k->[1]);
        die "feed: $k->[0] answered $status before its change\n"
            unless $status == 200;

        my (undef, $s1) = run_ctl('key', 'show', $k->[0]);
        (undef, $status) = round_trip($s, $k->[1]);
        push @floor, clock_gettime(CLOCK_MONOTONIC) - $s1;
        die "feed: $k->[0] answered $status after key show\n"
            unless $status == 200;

        my ($t0, $t1) = run_ctl('key', 'disable', $k->[0]);
        my ($n, $t2) = (0);
        while (1) {
            my (undef, $status, $buf) = round_trip($s, $k->[1]);
            $t2 = clock_gettime(CLOCK_MONOTONIC);
            $n++;
            if ($status == 403) {
                die "feed: $k->[0] refused, but not as disabled:\n$buf\n"
                    unless $buf =~ /disabled_key/;
                last;
            }
            die "feed: $k->[0] answered $status after its change:\n$buf\n"
                unless $status == 200;
            die "feed: $k->[0] still admitted 5 s after it was disabled\n"
                if $t2 - $t1 > 5;
        }
        close $s;
        push @lat, $t2 - $t1;
        push @tool, $t1 - $t0;
        push @asked, $n;
    }

    my ($p50, $p99, $max) = map { 1000 * percentile($_, @lat) } 50, 99, 100;
    printf "invalidation, apiauth-ctl's exit to the first refusal: p50 %.1f "
        . "ms, p99 %.1f ms, max %.1f ms  (target p99 < 50 ms)\n",
        $p50, $p99, $max;
    printf "the floor, a cached key's first answer after apiauth-ctl key "
        . "show: p50 %.1f ms, p99 %.1f ms\n", 1000 * percentile(50, @floor),
        1000 * percentile(99, @floor);
    printf "apiauth-ctl key disable itself (fork to exit): p50 %.1f ms; "
        . "requests until the refusal: p50 %d, max %d\n",
        1000 * percentile(50, @tool), percentile(50, @asked),
        percentile(100, @asked);
    push @limits, [ 'feed: invalidation p99, ms (apiauth-ctl exit to refusal)',
        $p99, 50 ];
}

sub xreads {
    my $info = $t->redis('INFO', 'commandstats');
    return $info =~ /^cmdstat_xread:calls=(\d+)/m ? $1 : 0;
}

sub redis_cpu {
    return redis_info('cpu', 'used_cpu_sys')
        + redis_info('cpu', 'used_cpu_user');
}

# nanoseconds a process ran and the times it was put on a CPU (its
# wake-ups, for a process that sleeps between them)
sub sched {
    my ($pid) = @_;
    open my $f, '<', "/proc/$pid/schedstat" or die "worker $pid: $!\n";
    my ($ns, undef, $slices) = split ' ', <$f>;
    return ($ns, $slices);
}

# nginx of two workers and no traffic, with the module (each worker's
# feed blocked in XREAD, answered every second) and without it: each
# worker's CPU time over the window and its wake-ups, Redis's CPU time,
# and the XREADs it served.  Beside nginx without the module, for scale, a
# process that does nothing but sleep a second at a time: what waking up
# once a second costs on this host.
sub idle {
    print "\n# idle: nginx of 2 workers, no traffic for ${IDLE}s, with "
        . "apiauth (the feed reading) and without the module\n";
    printf "%-30s %26s %12s %12s %10s\n", 'nginx', 'worker CPU us/s',
        'wake-ups/s', 'Redis us/s', 'XREAD/s';

    my (%mean, $sleeper);
    for my $plain (0, 1) {
        my @w = start_feed_nginx($plain);
        # stopped with the harness's processes if the bench dies, and
        # done by itself a little after the window anyway
        if ($plain) {
            $sleeper = fork // die "fork: $!\n";
            exec 'perl', '-e', 'select undef, undef, undef, 1 for 1 .. shift',
                $IDLE + 3 or POSIX::_exit(127) unless $sleeper;
            $t->{pids}{sleeper} = $sleeper;
        }
        sleep 1;
        my $s0 = $plain && [ sched($sleeper) ];
        my @c0 = map { [ sched($_) ] } @w;
        my ($r0, $x0, $w0) = (redis_cpu(), xreads(),
                              clock_gettime(CLOCK_MONOTONIC));
        sleep $IDLE;
        my @c1 = map { [ sched($_) ] } @w;
        my ($r1, $x1, $w1) = (redis_cpu(), xreads(),
                              clock_gettime(CLOCK_MONOTONIC));
        my $s1 = $plain && [ sched($sleeper) ];
        my $secs = $w1 - $w0;

        my @us = map { ($c1[$_][0] - $c0[$_][0]) / 1000 / $secs } 0 .. $#w;
        my $mean = 0;
        $mean += $_ / @us for @us;
        $mean{$plain} = $mean;
        my $wakes = 0;
        $wakes += ($c1[$_][1] - $c0[$_][1]) / $secs / @w for 0 .. $#w;
        printf "%-30s %26s %12.1f %12.1f %10.2f\n",
            $plain ? 'without the module' : 'apiauth, the feed reading',
            sprintf('%s (mean %.1f)',
                join(' ', map { sprintf '%.1f', $_ } @us), $mean),
            $wakes, ($r1 - $r0) * 1e6 / $secs, ($x1 - $x0) / $secs;
        if ($plain) {
            $t->stop_pid('sleeper', 'TERM');
            printf "%-30s %26.1f %12.1f %12s %10s\n",
                'a process sleeping 1s at a time',
                ($s1->[0] - $s0->[0]) / 1000 / $secs,
                ($s1->[1] - $s0->[1]) / $secs, '-', '-';
        }
        die "idle: XREADs without the module\n" if $plain && $x1 != $x0;
        die "idle: no XREAD with the module\n" if !$plain && $x1 == $x0;
    }
    printf "the feed's idle cost: %+.1f us of CPU a second per worker\n",
        $mean{0} - $mean{1};
}
