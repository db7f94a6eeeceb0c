#!/usr/bin/perl

# Call records while Redis is away: stopped (and started again from its
# AOF) for 5 s, then frozen with SIGSTOP for 5 s, each during 20,000
# requests: every request served is in the stream afterwards (once or
# more: a batch that timed out may be sent again), the spools are empty,
# and the drain archives each request exactly once.  A spool with a torn last record
# is replayed without it, the loss counted; a full spool drops records and
# counts each one.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Compress::Zlib qw(crc32);
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client qw(:DEFAULT token_load token_load_wait record_ids
    spool_files all_recorded all_archived);

my $t = Apiauth::Test->new;
$t->start_redis(args => ['--appendonly', 'yes']);
$t->init_store;

my $key = $t->create_key('--name', 'Outage', '--access-key',
    'OutageKey0001');
my $spool = $t->dir . '/spool';

sub conf {
    my ($pipeline) = @_;
    $t->write_nginx_conf(nginx_conf(
        main => 'worker_processes 2;',
        redis => 'apiauth_redis 127.0.0.1:%%REDIS_PORT%% timeout=1s;',
        http => "    apiauth_records_pipeline flush=50ms spool=$spool "
            . "$pipeline;\n",
        server => <<'EOF2'));
        location /api/ {
            apiauth token;
            apiauth_records on;
            empty_gif;
        }
        location = /status { apiauth_status; }
EOF2
}

conf('');
$t->start_nginx;

sub status {
    my $r = send_plain($t, target => '/status');
    return JSON::PP::decode_json($r->{body});
}

# every request served is in the stream, nothing else is, and no worker
# holds a record
sub all_served_recorded {
    my ($prefix, $name) = @_;
    my ($entries, $served) = all_recorded($t, prefix => $prefix, n => 20000,
        spool => $spool, name => $name,
        settled => sub { status()->{records_buffered} == 0 });
    is(scalar(grep { $_ ne '200' } values %$served), 0,
        "$name: every one admitted");
    cmp_ok($entries, '>=', 20000, "$name: $entries entries");
}

is(send_plain($t, target => '/api/warm', headers => [token_headers($key)])
    ->{status}, 200, 'the key cached');

###############################################################################
# Redis stopped for 5 s, and started again from its AOF

my $load = token_load($t, key => $key, target => '/api/stop', n => 5000,
    seconds => 10);
sleep 2;
$t->stop_redis;
$t->redis_close;
sleep 5;
$t->start_redis(args => ['--appendonly', 'yes']);
my $got = token_load_wait($load);
is($got->{200}, 20000, 'Redis stopped: every request answered 200')
    or diag(explain $got);
ok(status()->{records_spooled} > 0, 'records were spooled');
all_served_recorded('/api/stop', 'Redis stopped for 5 s');
like($t->read_file('error.log'), qr/replaying \d+ bytes of call records/,
    'the spool was replayed');

###############################################################################
# Redis frozen (SIGSTOP) for 5 s: batches time out, go to the spool

my $spooled = status()->{records_spooled};
$load = token_load($t, key => $key, target => '/api/frozen', n => 5000,
    seconds => 10);
sleep 2;
kill 'STOP', $t->{pids}{redis};
sleep 5;
kill 'CONT', $t->{pids}{redis};
$got = token_load_wait($load);
is($got->{200}, 20000, 'Redis frozen: every request answered 200')
    or diag(explain $got);
ok(status()->{records_spooled} > $spooled, 'records were spooled');
all_served_recorded('/api/frozen', 'Redis frozen for 5 s');

# the stream drained into an archive: each request served once
all_archived($t, $t->dir . '/archive.db', '/api/', 'the archive');

###############################################################################
# a spool file left with a frame that is no record, three records and a
# torn last one: three replayed, two lost

sub frame {
    my (%f) = @_;
    my @names = qw(v id t ak name ip method path interface app status result
        reason rt bytes server node);
    my $payload = join '', map { my $v = $f{$_} // ''; pack('S', length $v)
        . $v } @names;
    return pack('LLL', 0x31525041, length $payload, crc32($payload))
        . $payload;
}

my $dropped = status()->{records_dropped};
my $file = "$spool/records-99999999-0.spool";
open my $f, '>', "$file.tmp" or die $!;
# first a frame whose checksum holds but which is no record (3 fields)
{
    my $payload = join '', map { pack('S', length $_) . $_ } qw(1 x y);
    print $f pack('LLL', 0x31525041, length $payload, crc32($payload)),
        $payload;
}
for my $i (1 .. 4) {
    my $fr = frame(v => 1, id => sprintf('%032x', 0xabc0 + $i),
        t => int(time * 1000), path => '/api/torn', result => 'ok',
        reason => 'ok', status => 200);
    print $f $i < 4 ? $fr : substr($fr, 0, 30);
}
close $f;
rename "$file.tmp", $file or die $!;
my $ids;
Apiauth::Test::wait_for('the torn spool to be replayed', 15, sub {
    ($ids) = record_ids($t, '/api/torn');
    keys %$ids == 3 && !-e $file });
is(scalar keys %$ids, 3, 'a spool with a frame that is no record and a torn '
    . 'end: its three whole records replayed');
ok(!-e $file, 'and the file removed');
is(status()->{records_dropped}, $dropped + 2, 'the two others counted lost');
like($t->read_file('error.log'), qr/2 call records torn or damaged in the spool/,
    'and logged');

###############################################################################
# a full spool (1m a worker) while Redis is away: every drop counted

$t->stop_nginx;
conf('spool_size=1m');
$t->start_nginx;
is(send_plain($t, target => '/api/warm', headers => [token_headers($key)])
    ->{status}, 200, 'the key cached');
$dropped = status()->{records_dropped};
$t->stop_redis;
$t->redis_close;
$got = token_load_wait(token_load($t, key => $key, target => '/api/full',
    n => 4000, seconds => 4));
is($got->{200}, 16000, 'Redis away: 16,000 requests answered');
$t->start_redis(args => ['--appendonly', 'yes']);
my $lost;
Apiauth::Test::wait_for('the spools to be replayed', 30, sub {
    !spool_files($spool) && status()->{records_buffered} == 0 });
($ids) = record_ids($t, '/api/full');
$lost = status()->{records_dropped} - $dropped;
ok($lost > 0, "the spools filled: $lost records dropped");
is(keys(%$ids) + $lost, 16000, 'the records in the stream and those '
    . 'dropped make every request served');
like($t->read_file('error.log'), qr/call records dropped: the spool is full/,
    'the drops logged');

###############################################################################
# stream= and maxlen=: records go to that stream, trimmed; spool=off: while
# Redis is away every record is dropped, and counted

$t->stop_nginx;
# quoted: nginx reads a bare "{" as a block
conf('"stream={apiauth}:calls" maxlen=100 spool=off');
$t->start_nginx;
$t->redis('DEL', '{apiauth}:calls');
my $len0 = $t->redis('XLEN', '{apiauth}:records');
for my $i (1 .. 300) {
    send_plain($t, target => "/api/trim$i", headers => [token_headers($key)]);
}
Apiauth::Test::wait_for('the records', 10, sub {
    status()->{records_buffered} == 0 });
my $calls = $t->redis('XLEN', '{apiauth}:calls');
ok($calls >= 100 && $calls < 300, "stream= and maxlen=100: $calls of 300 "
    . 'records kept in {apiauth}:calls');
is($t->redis('XLEN', '{apiauth}:records'), $len0,
    'none in {apiauth}:records');
$dropped = status()->{records_dropped};
$t->stop_redis;
$t->redis_close;
for my $i (1 .. 50) {
    send_plain($t, target => "/api/off$i", headers => [token_headers($key)]);
}
Apiauth::Test::wait_for('the drops', 10, sub {
    status()->{records_dropped} - $dropped == 50 });
is(status()->{records_dropped} - $dropped, 50,
    'spool=off, Redis away: 50 records dropped, each counted');
is_deeply([spool_files($spool)], [], 'and nothing spooled');
like($t->read_file('error.log'),
    qr/call records dropped: Redis did not take them and the spool is off/,
    'the drops logged');
$t->start_redis(args => ['--appendonly', 'yes']);

$t->finish;
done_testing();
