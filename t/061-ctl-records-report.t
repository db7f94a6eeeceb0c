#!/usr/bin/perl

# apiauth-ctl records report reads the archive: each filter and each
# grouping gives what this test computes on its own from the records it
# sent, percentiles by nearest rank included, as a table, JSON and CSV
# (docs/records.md, "report").

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX qw(ceil strftime);
use Socket qw(AF_INET AF_INET6 inet_pton);
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;

my $dir = $t->dir;
my $db = "$dir/archive.db";

srand 61;

###############################################################################
# the data: 3,000 calls over eight days, none near a boundary a test uses

my $now = int(time * 1000);
my @keys = (['KeyAlpha0001', 'Alpha'], ['KeyBravo0002', 'Bravo'],
    ['KeyCharlie03', "Charlie \xc3\xa9"], ['KeyDelta0004', 'Delta'],
    ['', '']);
my @ifs = ('orders', 'users', 'stock', '');
my @ips = ('10.1.2.3', '10.1.200.4', '10.2.0.9', '192.168.1.20',
    '192.0.2.77', '2001:db8::1', '2001:db8::ff', '2001:db8:1::5',
    '2001:db9::1', '::1', '::ffff:10.1.9.9');
my @outcomes = (['ok', 'ok', 200], ['ok', 'ok', 201], ['ok', 'ok', 404],
    ['ok', 'ok;stale', 200], ['ok', 'ok', 500], ['denied', 'bad_signature',
    401], ['denied', 'ip_not_allowed', 403], ['denied',
    'missing_credentials', 401], ['error', 'store_unavailable', 503]);
my @edges = (15 * 60_000, 2 * 3_600_000, 7 * 86_400_000);

my (@calls, $n);
while (@calls < 3000) {
    my $ago = int rand(8 * 86_400_000);
    next if grep { abs($ago - $_) < 120_000 } @edges;
    my $k = $keys[rand @keys];
    my $o = $outcomes[rand @outcomes];
    push @calls, $t->call_record(
        id => sprintf('%032x', ++$n), t => $now - $ago,
        ak => $k->[0], name => $k->[1], ip => $ips[rand @ips],
        interface => $ifs[rand @ifs], result => $o->[0], reason => $o->[1],
        status => $o->[2], rt => int(rand(rand() < 0.1 ? 5000 : 200)),
        method => (qw(GET POST PUT))[rand 3],
        path => (rand() < 0.05 ? '/api/a,b "q"' : '/api/x/' . int rand 100));
}
# the latency's percentiles need ties and one-record groups too
push @calls, $t->call_record(id => sprintf('%032x', ++$n), t => $now - 5000,
    ak => 'KeyEcho00005', name => 'Echo', interface => 'lonely', rt => 7);

$t->add_calls(@calls);
my $r = $t->ctl('records', 'drain', '--db', $db);
is($r->{rc}, 0, 'the drain archives them') or diag($r->{err});

###############################################################################
# the expected answers, computed here

sub ip_in {
    my ($ip, $net) = @_;
    $ip =~ s/^::ffff:(\d+\.\d+\.\d+\.\d+)$/$1/i;
    my ($addr, $len) = split m{/}, $net;
    my $fam = $addr =~ /:/ ? AF_INET6 : AF_INET;
    return 0 if ($ip =~ /:/ ? AF_INET6 : AF_INET) != $fam;
    my ($a, $b) = (inet_pton($fam, $ip), inet_pton($fam, $addr));
    $len //= 8 * length $b;
    my $bits = unpack('B*', $a) ^ unpack('B*', $b);
    return substr(unpack('B*', $a), 0, $len) eq substr(unpack('B*', $b), 0,
        $len);
}

# the calls a set of filters selects
sub select_calls {
    my (%f) = @_;
    return grep {
        my $c = $_;
        (!defined $f{result} || $c->{result} eq $f{result})
        && (!defined $f{reason} || $c->{reason} eq $f{reason}
            || index($c->{reason}, "$f{reason};") == 0)
        && (!defined $f{key} || $c->{ak} eq $f{key})
        && (!defined $f{interface} || $c->{interface} eq $f{interface})
        && (!defined $f{ip} || ip_in($c->{ip}, $f{ip}))
        && (!defined $f{status} || ($f{status} =~ /^(\d)xx$/
            ? int($c->{status} / 100) == $1 : $c->{status} == $f{status}))
        && (!defined $f{since} || $c->{t} >= $f{since})
        && (!defined $f{until} || $c->{t} < $f{until})
    } @calls;
}

sub ids { join ',', sort map { $_->{id} // $_->{request_id} } @_ }

# report --json --limit 0 with options; its records
sub report {
    my (@args) = @_;
    my $r = $t->ctl_json('records', 'report', '--db', $db, '--limit', 0,
        @args);
    is($r->{rc}, 0, "report @args exits 0") or diag($r->{err});
    return @{ $r->{json}{records} || [] };
}

sub rfc3339 {
    my ($ms) = @_;
    return strftime('%Y-%m-%dT%H:%M:%S', gmtime int($ms / 1000))
        . sprintf('.%03dZ', $ms % 1000);
}

###############################################################################
# filters, each and together

my @cases = (
    [[], {}],
    [['--result', 'ok'], { result => 'ok' }],
    [['--result', 'denied'], { result => 'denied' }],
    [['--result', 'error'], { result => 'error' }],
    [['--reason', 'bad_signature'], { reason => 'bad_signature' }],
    [['--reason', 'ok'], { reason => 'ok' }],
    [['--reason', 'ok;stale'], { reason => 'ok;stale' }],
    [['--key', 'KeyBravo0002'], { key => 'KeyBravo0002' }],
    [['--interface', 'orders'], { interface => 'orders' }],
    [['--ip', '10.1.0.0/16'], { ip => '10.1.0.0/16' }],
    [['--ip', '10.0.0.0/8'], { ip => '10.0.0.0/8' }],
    [['--ip', '192.168.1.20'], { ip => '192.168.1.20' }],
    [['--ip', '2001:db8::/32'], { ip => '2001:db8::/32' }],
    [['--ip', '2001:db8::/48'], { ip => '2001:db8::/48' }],
    [['--ip', '::1'], { ip => '::1' }],
    [['--status', '4xx'], { status => '4xx' }],
    [['--status', '404'], { status => 404 }],
    [['--status', '5xx'], { status => '5xx' }],
    [['--since', '-2h'], { since => $now - 2 * 3_600_000 }],
    [['--since', '-15m'], { since => $now - 15 * 60_000 }],
    [['--since', '-7d', '--until', '-2h'],
        { since => $now - 7 * 86_400_000, until => $now - 2 * 3_600_000 }],
    [['--result', 'denied', '--ip', '2001:db8::/32', '--since', '-7d'],
        { result => 'denied', ip => '2001:db8::/32',
          since => $now - 7 * 86_400_000 }],
    [['--key', 'KeyAlpha0001', '--interface', 'users', '--status', '2xx'],
        { key => 'KeyAlpha0001', interface => 'users', status => '2xx' }],
);

for my $case (@cases) {
    my ($args, $f) = @$case;
    my @want = select_calls(%$f);
    my @got = report(@$args);
    is(scalar @got, scalar @want, "report @$args: " . scalar(@want)
        . ' records');
    ok(ids(@got) eq ids(@want), "report @$args: the very ones");
}
cmp_ok(scalar(select_calls(ip => '10.0.0.0/8')), '>',
    scalar(select_calls(ip => '10.1.0.0/16')), 'the networks differ');

# since and until at a record's own millisecond: since takes it, until not
my @sorted = sort { $a->{t} <=> $b->{t} || $a->{id} cmp $b->{id} } @calls;
my $mid = $sorted[1500]{t};
for my $form (rfc3339($mid), rfc3339($mid) =~ s/Z$/+00:00/r) {
    my @got = report('--since', $form);
    is(scalar @got, scalar(select_calls(since => $mid)),
        "--since $form is inclusive");
    @got = report('--until', $form);
    is(scalar @got, scalar(select_calls(until => $mid)),
        "--until $form is exclusive");
}
my $sec = int($mid / 1000);
is(scalar(report('--since', $sec)), scalar(select_calls(since => $sec * 1000)),
    '--since in unix seconds');

###############################################################################
# the listing: newest first, a default limit, its columns

my @newest = sort { $b->{t} <=> $a->{t} || $b->{id} cmp $a->{id} } @calls;
$r = $t->ctl_json('records', 'report', '--db', $db);
is(scalar @{ $r->{json}{records} }, 100, 'a listing is 100 by default');
ok($r->{json}{more}, 'and says there are more');
is(join(',', map { $_->{request_id} } @{ $r->{json}{records} }),
    join(',', map { $_->{id} } @newest[0 .. 99]), 'the newest, newest first');
my $top = $r->{json}{records}[0];
is($top->{time}, rfc3339($newest[0]{t}), 'time in RFC 3339, UTC, with ms');
is_deeply([sort keys %$top], [sort qw(request_id time time_ms access_key
    key_name ip method path interface app status result reason latency_ms
    bytes server node stream_id)], 'every column in the JSON');
$r = $t->ctl_json('records', 'report', '--db', $db, '--limit', 7);
is(scalar @{ $r->{json}{records} }, 7, '--limit 7');
my $same = $t->ctl('records', 'report', '--db', $db, '--limit', 7,
    '--format', 'json')->{out};
is_deeply(decode_json($same), $r->{json}, '--format json is --json');

my $table = $t->ctl('records', 'report', '--db', $db, '--limit', 5)->{out};
my @lines = split /\n/, $table;
is(scalar @lines, 7, 'a table: headings, 5 rows, a line about the limit');
like($lines[0], qr/^TIME\s+IP\s+KEY\s+INTERFACE\s+STATUS\s+RESULT\s+REASON\s+MS\s+REQUEST$/,
    'the headings');
my $c0 = $newest[0];
like($lines[1], qr/^\Q${\ rfc3339($c0->{t})}\E\s+\Q$c0->{ip}\E\s+/,
    'the newest first, its time and address');
like($lines[1], qr/\s\Q$c0->{rt}\E\s+\Q$c0->{method} $c0->{path}\E$/,
    'its latency and request last');
like($lines[6], qr/^\(the newest 5; --limit N shows more/, 'and the limit');

# CSV: a header, every record, fields quoted as RFC 4180 says
sub csv_fields {
    my ($line) = @_;
    my @f;
    for (;;) {
        if ($line =~ /\G"((?:[^"]|"")*)"/gc) {
            push @f, $1 =~ s/""/"/gr;
        } else {
            $line =~ /\G([^,]*)/gc;
            push @f, $1;
        }
        last unless $line =~ /\G,/gc;
    }
    return @f;
}
my $csv = $t->ctl('records', 'report', '--db', $db, '--format', 'csv',
    '--limit', 0, '--result', 'denied')->{out};
@lines = split /\n/, $csv;
is($lines[0], 'request_id,time,time_ms,access_key,key_name,ip,method,path,'
    . 'interface,app,status,result,reason,latency_ms,bytes,server,node,'
    . 'stream_id', 'CSV: the header');
my @want = select_calls(result => 'denied');
is(scalar @lines - 1, scalar @want, 'CSV: a line per record');
my %by_id = map { $_->{id} => $_ } @calls;
my @bad;
for my $line (@lines[1 .. $#lines]) {
    my @f = csv_fields($line);
    my $c = $by_id{$f[0]};
    push @bad, $line unless $c && @f == 18 && $f[7] eq $c->{path}
        && $f[2] == $c->{t} && $f[13] == $c->{rt} && $f[12] eq $c->{reason};
}
is_deeply(\@bad, [], 'CSV: every line parses, commas and quotes in paths '
    . 'too');
ok(scalar(grep { /"\/api\/a,b ""q"""/ } @lines), 'CSV: a quoted path');

###############################################################################
# --group-by: counts and nearest-rank percentiles per group

sub pct {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return $v[ceil($p * @v / 100) - 1];
}

my %bucket = (
    key => sub { $_[0]{ak} },
    interface => sub { $_[0]{interface} },
    result => sub { $_[0]{result} },
    reason => sub { $_[0]{reason} },
    ip => sub { $_[0]{ip} },
    status => sub { $_[0]{status} },
    minute => sub { strftime('%Y-%m-%dT%H:%M:%SZ',
        gmtime(int($_[0]{t} / 60_000) * 60)) },
    hour => sub { strftime('%Y-%m-%dT%H:%M:%SZ',
        gmtime(int($_[0]{t} / 3_600_000) * 3600)) },
    day => sub { strftime('%Y-%m-%dT%H:%M:%SZ',
        gmtime(int($_[0]{t} / 86_400_000) * 86400)) },
);

for my $by (qw(key interface result reason ip status minute hour day)) {
    for my $filter ([], ['--result', 'ok']) {
        my %g;
        push @{ $g{ $bucket{$by}->($_) } }, $_
            for select_calls(@$filter ? (result => 'ok') : ());
        my %want = map {
            my @c = @{ $g{$_} };
            my @rt = map { $_->{rt} } @c;
            ($_ => join ' ', scalar @c,
                scalar(grep { $_->{result} eq 'ok' } @c),
                scalar(grep { $_->{result} eq 'denied' } @c),
                scalar(grep { $_->{result} eq 'error' } @c),
                pct(50, @rt), pct(95, @rt), pct(99, @rt))
        } keys %g;

        $r = $t->ctl_json('records', 'report', '--db', $db, '--group-by', $by,
            @$filter);
        is($r->{rc}, 0, "--group-by $by @$filter exits 0");
        my %got = map {
            ($_->{$by} => join ' ', @$_{qw(count ok denied error p50_ms p95_ms
                p99_ms)})
        } @{ $r->{json}{groups} };
        is_deeply(\%got, \%want, "--group-by $by @$filter: counts and "
            . "percentiles") or diag(explain(\%got));
    }
}

$r = $t->ctl_json('records', 'report', '--db', $db, '--group-by', 'key');
my ($alpha) = grep { $_->{key} eq 'KeyAlpha0001' } @{ $r->{json}{groups} };
is($alpha->{name}, 'Alpha', 'a key group has its name');
my @counts = map { $_->{count} } @{ $r->{json}{groups} };
is_deeply(\@counts, [sort { $b <=> $a } @counts], 'the largest group first');
$r = $t->ctl_json('records', 'report', '--db', $db, '--group-by', 'day');
my @days = map { $_->{day} } @{ $r->{json}{groups} };
is_deeply(\@days, [sort @days], 'time groups in time order');
is(scalar @days, scalar(keys %{ { map { int($_->{t} / 86_400_000) => 1 }
    @calls } }), 'one a day');
$r = $t->ctl_json('records', 'report', '--db', $db, '--group-by', 'status',
    '--limit', 2);
is(scalar @{ $r->{json}{groups} }, 2, '--limit bounds the groups');
like($r->{json}{groups}[0]{status}, qr/^\d+$/, 'a status is a number');

$table = $t->ctl('records', 'report', '--db', $db, '--group-by', 'key')->{out};
like($table, qr/^KEY\s+NAME\s+COUNT\s+OK\s+DENIED\s+ERROR\s+P50 MS\s+P95 MS\s+P99 MS$/m,
    'a table of groups');
like($table, qr/^KeyEcho00005\s+Echo\s+1\s+1\s+0\s+0\s+7\s+7\s+7$/m,
    'a group of one: every percentile its one latency');
like($table, qr/^-\s+-\s+\d+/m, 'calls without a key: a group of their own');
$csv = $t->ctl('records', 'report', '--db', $db, '--group-by', 'interface',
    '--format', 'csv')->{out};
@lines = split /\n/, $csv;
is($lines[0], 'interface,count,ok,denied,error,p50_ms,p95_ms,p99_ms',
    'CSV of groups: the header');
is(scalar @lines, 6, 'and a line per interface');

###############################################################################
# refusals: exit 2, one line, the archive as it was

my $before = -s $db;
for my $bad (
    [[], qr/needs --db FILE/, 'no --db'],
    [['--db', "$dir/none.db"], qr/no archive "\Q$dir\E\/none.db"/,
        'a missing archive'],
    [['--db', $db, '--format', 'xml'], qr/invalid --format "xml"/, 'xml'],
    [['--db', $db, '--group-by', 'week'], qr/invalid --group-by "week"/,
        'a week'],
    [['--db', $db, '--status', '600'], qr/invalid --status "600"/, '600'],
    [['--db', $db, '--status', '4x'], qr/invalid --status "4x"/, '4x'],
    [['--db', $db, '--ip', '10.0.0.300'], qr/invalid --ip "10.0.0.300"/,
        'a bad address'],
    [['--db', $db, '--ip', '10.0.0.0/33'], qr/invalid --ip/, 'a bad prefix'],
    [['--db', $db, '--since', '15m'], qr/a time ago is written -15m/,
        'a time ahead'],
    [['--db', $db, '--since', 'yesterday'], qr/invalid --since "yesterday"/,
        'yesterday'],
    [['--db', $db, '--since', '-1h', '--until', '-2h'],
        qr/--until must be after --since/, 'until before since'],
    [['--db', $db, '--result', 'maybe'], qr/invalid --result "maybe"/,
        'a result'],
    [['--db', $db, '--reason', 'Bad Sig'], qr/invalid --reason/,
        'a reason'],
    [['--db', $db, '--key', 'short'], qr/invalid accessKey "short"/,
        'a key'],
    [['--db', $db, '--interface', 'a/b'], qr/invalid --interface "a\/b"/,
        'an interface'],
    [['--db', $db, '--limit', '-1'], qr/invalid --limit "-1"/, 'a limit'],
    [['--db', $db, '--json', '--format', 'csv'], qr/contradict/,
        '--json and csv'],
    [['--db', $dir], qr/is not a file/, 'a directory'],
) {
    my ($args, $re, $name) = @$bad;
    $t->ctl_refused(['records', 'report', @$args], $re, $name);
}
is(-s $db, $before, 'the archive is as it was');

$r = $t->ctl_json('records', 'report', '--db', $db, '--format', 'xml');
is_deeply($r->{json}, { error => 'invalid --format "xml": use table, json '
    . 'or csv' }, 'with --json, the error is the document');

###############################################################################
# any SQLite tool reads the archive (docs/records.md's example)

SKIP: {
    skip 'no sqlite3 command', 3 unless `sqlite3 --version 2>/dev/null`;
    my $out = `sqlite3 -separator ' ' $db "SELECT access_key, count(*) FROM records WHERE result = 'denied' AND time_ms >= (strftime('%s', 'now') - 7 * 86400) * 1000 GROUP BY access_key ORDER BY 2 DESC, 1"`;
    my %g;
    $g{$_->{ak}}++ for select_calls(result => 'denied',
        since => $now - 7 * 86_400_000);
    my $want = join '', map { "$_ $g{$_}\n" }
        sort { $g{$b} <=> $g{$a} || $a cmp $b } keys %g;
    is($out, $want, 'sqlite3: denied calls per key over the last week');
    is(`sqlite3 $db 'PRAGMA application_id; PRAGMA user_version'`,
        "1634756961\n1\n", 'application_id and user_version');
    like(`sqlite3 $db 'PRAGMA journal_mode'`, qr/^wal$/, 'WAL');
}

$t->finish;
done_testing;
