#!/usr/bin/perl

# apiauth-ctl records drain moves the call records of {apiauth}:records
# into an SQLite archive: every entry exactly once, whatever is replayed,
# killed or run in parallel; what cannot be archived by its request id is
# kept as a reject; the stream is trimmed of what every consumer group has
# read and acknowledged, no more (docs/records.md, "drain").

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Encode ();
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;

my $S = '{apiauth}:records';
my $dir = $t->dir;
my $n = 0;

sub drain {
    my ($db, @args) = @_;
    my $r = $t->ctl_json('records', 'drain', '--db', $db, @args);
    is($r->{rc}, 0, "drain @args exits 0") or diag($r->{err});
    return $r->{json} || {};
}

# every archived record, by request id, through report
sub archived {
    my ($db) = @_;
    my $r = $t->ctl_json('records', 'report', '--db', $db, '--limit', 0);
    die "report: $r->{err}" if $r->{rc};
    return { map { $_->{request_id} => $_ } @{ $r->{json}{records} } };
}

sub pending {
    my ($group) = @_;
    my $p = $t->redis('XPENDING', $S, $group);
    return ref $p eq 'ARRAY' ? $p->[0] : -1;
}

# unique request ids: a counter, so no two tests share one
sub rid { sprintf '%032x', ++$n }

###############################################################################
# help and refusals: nothing made, nothing changed

for my $cmd (['records'], map { ['records', $_] } qw(drain report tail)) {
    my $r = $t->ctl(@$cmd, '--help');
    is($r->{rc}, 0, "'@$cmd --help' exits 0");
    like($r->{out}, qr/^usage: apiauth-ctl records/m,
        "'@$cmd --help' shows usage");
}

$t->ctl_refused(['records', 'drain'], qr/needs --db FILE/, 'no --db');
$t->ctl_refused(['records', 'drain', '--db', "$dir/x.db", '--batch', 0],
    qr/invalid --batch "0"/, '--batch 0');
$t->ctl_refused(['records', 'drain', '--db', "$dir/x.db", '--min-idle',
    '1d'], qr/invalid --min-idle "1d"/, '--min-idle 1d');
$t->ctl_refused(['records', 'drain', '--db', "$dir/x.db", '--group',
    'a b'], qr/invalid --group "a b"/, 'a group with a space');
$t->ctl_refused(['records', 'drain', '--db', "$dir/x.db", '--frob'],
    qr/unknown option "--frob"/, 'an unknown option');
$t->ctl_refused(['records', 'drain', '--db', "$dir/x.db", 'extra'],
    qr/unexpected argument "extra"/, 'an argument');
$t->ctl_refused(['records', 'nosuch'], qr/unknown command "records nosuch"/,
    'an unknown command');
ok(!-e "$dir/x.db", 'no archive made by a refused drain');

# a file that is not an archive is refused and left as it was
open my $f, '>', "$dir/notes.txt" or die;
print $f "not a database, but a file of notes\n" x 100;
close $f;
my $size = -s "$dir/notes.txt";
$t->ctl_refused(['records', 'drain', '--db', "$dir/notes.txt"],
    qr/"\Q$dir\E\/notes.txt" is not an SQLite database/,
    'a file that is not SQLite');
is(-s "$dir/notes.txt", $size, 'the file is as it was');
ok(!-e "$dir/notes.txt-wal", 'and has no WAL');
$t->ctl_refused(['records', 'drain', '--db', $dir], qr/is not a file/,
    'a directory');

SKIP: {
    skip 'no sqlite3 command', 4 unless `sqlite3 --version 2>/dev/null`;
    system('sqlite3', "$dir/other.db",
        'CREATE TABLE records (x); INSERT INTO records VALUES (1)');
    $t->ctl_refused(['records', 'drain', '--db', "$dir/other.db"],
        qr/"\Q$dir\E\/other.db" is not a records archive/,
        'an SQLite file of something else');
    is(`sqlite3 $dir/other.db 'SELECT count(*) FROM sqlite_master'`, "1\n",
        'which keeps its one table');
}

###############################################################################
# every field in its column; nothing left in the stream

my @calls = (
    $t->call_record(id => rid()),
    $t->call_record(id => rid(), ak => '', name => '', ip => '2001:db8::7',
        method => 'POST', path => '/api/a,b "quoted"', interface => '',
        app => '', status => 401, result => 'denied',
        reason => 'missing_credentials', rt => 0, bytes => 0),
    $t->call_record(id => rid(), reason => 'ok;stale', name => "Caf\xc3\xa9",
        status => 503, result => 'error', rt => 3001, bytes => 12345678901),
    $t->call_record(id => rid(), extra => 'ignored', another => 'too'),
    map({ $t->call_record(id => rid(), ip => "10.0.0.$_", rt => $_) } 1 .. 16),
);
$t->add_calls(@calls);

my $db = "$dir/archive.db";
my $j = drain($db);
is_deeply([@$j{qw(archived duplicates rejects acked trimmed)}],
    [20, 0, 0, 20, 20], 'drain archives, acknowledges and trims 20 entries');
ok(-f $db, 'the archive is made');
is($t->redis('XLEN', $S), 0, 'the stream is empty');
is(pending('archive'), 0, 'nothing is pending');

my $rows = archived($db);
is(scalar keys %$rows, 20, '20 records archived');
my %col = (id => 'request_id', t => 'time_ms', ak => 'access_key',
    name => 'key_name', rt => 'latency_ms');
my @wrong;
for my $c (@calls) {
    my $row = $rows->{$c->{id}} or do { push @wrong, "$c->{id} missing"; next };
    for my $k (grep { $_ ne 'v' } @Apiauth::Test::CALL_FIELDS) {
        my $v = $row->{$col{$k} // $k};
        $v = Encode::encode('UTF-8', $v) if $k eq 'name';
        push @wrong, "$c->{id} $k: $v, not $c->{$k}" if $v ne $c->{$k};
    }
}
is_deeply(\@wrong, [], 'every field is in its column, as sent');
like($rows->{$calls[0]{id}}{stream_id}, qr/^\d+-\d+$/,
    'each with the stream ID it had');

$j = drain($db);
is_deeply([@$j{qw(archived duplicates rejects acked)}], [0, 0, 0, 0],
    'a drain with nothing to do does nothing');

###############################################################################
# a request id archived once, however often it comes

my $dup = $t->call_record(id => rid());
$t->add_calls($dup, $dup, { %$dup, rt => 999 });
$j = drain($db);
is_deeply([@$j{qw(archived duplicates acked)}], [1, 2, 3],
    'the same request id three times: one record, two duplicates');
$rows = archived($db);
is($rows->{$dup->{id}}{latency_ms}, 12, 'the first of them is kept');
is(scalar keys %$rows, 21, '21 records now');

###############################################################################
# what cannot be archived by its request id: counted, kept, acknowledged

$t->add_calls(
    $t->call_record(id => undef),
    $t->call_record(id => rid(), v => 2),
    $t->call_record(id => 'not-hex'),
    $t->call_record(id => rid(), v => undef),
    $t->call_record(id => rid(), t => 'yesterday'),
    $t->call_record(id => rid(), status => ''),
    $t->call_record(id => rid()),
);
my $r = $t->ctl_json('records', 'drain', '--db', $db);
is($r->{rc}, 0, 'a drain with rejects exits 0');
is_deeply([@{ $r->{json} }{qw(archived rejects acked trimmed)}], [1, 6, 7, 7],
    'six rejects, one record; all seven acknowledged and trimmed');
like($r->{err}, qr/^apiauth-ctl: warning: 6 entries .* rejects table$/m,
    'the rejects are said on stderr');
is(scalar keys %{ archived($db) }, 22, 'a reject is not a record');

SKIP: {
    skip 'no sqlite3 command', 2 unless `sqlite3 --version 2>/dev/null`;
    my @rej = split /\n/, `sqlite3 $db 'SELECT why, fields FROM rejects ORDER BY stream_id'`;
    is(scalar @rej, 6, 'the rejects table holds six');
    like($rej[1], qr/^a version \(v\) other than 1\|\{"v":"2","id":"[0-9a-f]{32}","t":"\d+"/,
        'each with why and its fields as JSON');
}

###############################################################################
# a consumer's own pending entries, and those of a dead one

my @mine = map { $t->call_record(id => rid()) } 1 .. 10;
$t->add_calls(@mine);
$t->redis('XREADGROUP', 'GROUP', 'archive', 'me', 'COUNT', 10, 'STREAMS', $S,
    '>');
is(pending('archive'), 10, "10 entries pending for consumer 'me'");
$j = drain($db, '--consumer', 'me', '--batch', 3);
is($j->{archived}, 10, "a drain as 'me' archives its own pending entries");
is(pending('archive'), 0, 'none is pending');

my @dead = map { $t->call_record(id => rid()) } 1 .. 100;
$t->add_calls(@dead);
$t->redis('XREADGROUP', 'GROUP', 'archive', 'dead', 'COUNT', 100, 'STREAMS',
    $S, '>');
$j = drain($db);
is($j->{archived}, 0, "the dead consumer's entries are left for 60s");
is(pending('archive'), 100, 'they are still pending');
is($t->redis('XLEN', $S), 100, 'and not trimmed');
sleep 1.1;
$j = drain($db, '--min-idle', '1s', '--batch', 7);
is($j->{archived}, 100, '--min-idle 1s claims them and archives them');
is(pending('archive'), 0, 'none is pending');
is($t->redis('XLEN', $S), 0, 'all trimmed');

###############################################################################
# the trim spares what another group has not read and acknowledged

$t->redis('XGROUP', 'CREATE', $S, 'other', '$');
my @ids = $t->add_calls(map { $t->call_record(id => rid()) } 1 .. 10);
$j = drain($db);
is($j->{archived}, 10, 'a drain with another group archives all 10');
is($t->redis('XLEN', $S), 10, 'and trims none: the other group read none');

$t->redis('XREADGROUP', 'GROUP', 'other', 'o', 'COUNT', 5, 'STREAMS', $S,
    '>');
$t->redis('XACK', $S, 'other', @ids[0 .. 2]);
$j = drain($db);
is($j->{trimmed}, 3, 'the three it acknowledged go');
is_deeply([map { $_->[0] } @{ $t->redis('XRANGE', $S, '-', '+') }],
    [@ids[3 .. 9]], 'its oldest pending entry is the first kept');

$t->redis('XACK', $S, 'other', @ids[3, 4]);
$j = drain($db);
is($j->{trimmed}, 2, 'once it acknowledges the two others, they go');
is($t->redis('XLEN', $S), 5, 'what it has not read stays');
$t->redis('XGROUP', 'DESTROY', $S, 'other');
drain($db);
is($t->redis('XLEN', $S), 0, 'with the group gone, the rest goes');

###############################################################################
# kill -9 at random moments, then a rerun: each record exactly once

my $N = 50_000;
my %sent;
my @big = map { my $c = $t->call_record(id => rid(), rt => $_ % 1000,
    ip => '10.' . ($_ % 250) . '.0.1'); $sent{$c->{id}} = 1; $c } 1 .. $N;
my $t0 = time;
$t->add_calls(@big);
note(sprintf "%d entries sent in %.1f s", $N, time - $t0);
undef @big;

my $kdb = "$dir/killed.db";
my $killed = 0;
for my $i (1 .. 4) {
    my $run = $t->ctl_spawn('records', 'drain', '--db', $kdb, '--batch',
        500 + int rand 1000);
    # its output files are there once it is past the fork
    Apiauth::Test::wait_for('the drain to start', 10, sub { -e $run->{err} });
    sleep(0.05 + rand($Apiauth::Test::SAN ? 1.5 : 0.4));
    $killed++ if kill 'KILL', $run->{pid};
    $t->ctl_wait($run);
}
my $left = $t->redis('XLEN', $S);
note("$killed drains killed, $left entries left in the stream");
$j = drain($kdb);
my $sum = 0;
my $groups = $t->ctl_json('records', 'report', '--db', $kdb, '--group-by',
    'result')->{json}{groups};
$sum += $_->{count} for @$groups;
is($sum, $N, "after $killed kills and a rerun, $N records, no more");
my $csv = $t->ctl('records', 'report', '--db', $kdb, '--format', 'csv',
    '--limit', 0)->{out};
my %got;
my $lines = 0;
for (split /\n/, $csv) {
    next if $lines++ == 0;
    $got{substr($_, 0, 32)}++;
}
is(scalar(grep { $got{$_} != 1 } keys %got), 0, 'each request id once');
is(scalar(grep { !$got{$_} } keys %sent), 0, 'none lost');
is($t->redis('XLEN', $S), 0, 'the stream is trimmed');
is(pending('archive'), 0, 'nothing is pending');

###############################################################################
# drains in parallel, consumers of one group: none lost, none twice

my $P = 20_000;
$t->add_calls(map { $t->call_record(id => rid()) } 1 .. $P);
my $pdb = "$dir/parallel.db";
my @runs = map { $t->ctl_spawn('--json', 'records', 'drain', '--db', $pdb,
    '--consumer', "c$_", '--batch', 300) } 1 .. 3;
my @res = map { $t->ctl_wait($_) } @runs;
is_deeply([map { $_->{rc} } @res], [0, 0, 0], 'three drains exit 0')
    or diag(join "\n", map { $_->{err} } @res);
my @sums = map { decode_json($_->{out}) } @res;
my ($arch, $dups) = (0, 0);
$arch += $_->{archived} for @sums;
$dups += $_->{duplicates} for @sums;
is($arch, $P, "together they archive $P")
    or diag(join ' ', map { $_->{archived} } @sums);
is($dups, 0, 'none twice');
$sum = 0;
$sum += $_->{count} for @{ $t->ctl_json('records', 'report', '--db', $pdb,
    '--group-by', 'result')->{json}{groups} };
is($sum, $P, "the archive holds $P records");
is($t->redis('XLEN', $S), 0, 'the stream is trimmed');

###############################################################################
# --follow: a service that archives as entries come, until SIGTERM

my $fdb = "$dir/follow.db";
my $run = $t->ctl_spawn('--json', 'records', 'drain', '--db', $fdb,
    '--follow');
sleep 0.3;
$t->add_calls(map { $t->call_record(id => rid()) } 1 .. 5);
Apiauth::Test::wait_for('the follower to archive 5', 10, sub {
    my $r = $t->ctl_json('records', 'report', '--db', $fdb);
    return !$r->{rc} && @{ $r->{json}{records} } == 5;
});
$t->add_calls(map { $t->call_record(id => rid()) } 1 .. 3);
Apiauth::Test::wait_for('the follower to archive 3 more', 10, sub {
    my $r = $t->ctl_json('records', 'report', '--db', $fdb);
    return !$r->{rc} && @{ $r->{json}{records} } == 8;
});
ok(kill('TERM', $run->{pid}), 'SIGTERM to the follower');
$r = $t->ctl_wait($run);
is($r->{rc}, 0, 'it exits 0');
is(decode_json($r->{out})->{archived}, 8, 'its summary says 8 archived');
is($t->redis('XLEN', $S), 0, 'the stream is trimmed');

###############################################################################
# --stream: where nginx's apiauth_records names another stream

my @other = map { $t->call_record(id => rid()) } 1 .. 4;
for my $c (@other) {
    $t->redis('XADD', 'calls:staging', '*',
        map { ($_, $c->{$_}) } @Apiauth::Test::CALL_FIELDS);
}
$t->add_calls($t->call_record(id => rid()));
$j = drain("$dir/staging.db", '--stream', 'calls:staging');
is($j->{archived}, 4, '--stream calls:staging archives its 4');
is($t->redis('XLEN', 'calls:staging'), 0, 'and trims it');
is($t->redis('XLEN', $S), 1, 'the default stream is left alone');
is_deeply([sort keys %{ archived("$dir/staging.db") }],
    [sort map { $_->{id} } @other], 'the very records');
$t->ctl_refused(['records', 'drain', '--db', "$dir/x.db", '--stream',
    "a\tb"], qr/invalid --stream "a\\u0009b"/, 'a stream name with a tab');
drain($db);

###############################################################################
# a stream name that holds something else

$t->redis('SET', $S, 'x');
$r = $t->ctl('records', 'drain', '--db', $db);
is($r->{rc}, 1, 'a records name that is not a stream: exit 1');
like($r->{err}, qr/\Aapiauth-ctl: error: cannot make the consumer group .*WRONGTYPE[^\n]*\n\z/,
    'saying why, on one line');
$t->redis('DEL', $S);

$t->finish;
done_testing;
