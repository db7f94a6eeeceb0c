#!/usr/bin/perl

# apiauth-ctl policy (create, list, show, update, delete), key policy and
# key usage (docs/apiauth-ctl.md, docs/policies.md, docs/keys.md):
# - the text form ("limits") each option of create gives, in the policy's
#   hash and in --json;
# - refusals: exit 2, one stderr line, nothing changed in Redis;
# - update changes what is given, keeps the rest, and rewrites the limits
#   of every key that uses the policy, naming them in its change entry;
# - a key's policy fields and the policy's set of keys, kept by key policy,
#   key copy, key delete and key set-access-key (with the key's usage);
# - delete refused while keys use the policy, naming ten at most;
# - key usage and key show: what a key used, from hand-written rate and
#   quota counts, against periods and GCRA tokens computed here on Redis's
#   clock;
# - --help of each command.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX qw(floor strftime);
use Test::More;
use Time::HiRes qw(sleep);
use Time::Local qw(timegm);
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

###############################################################################
# helpers

sub policy_limits { $t->redis('HGET', "{apiauth}:policy:$_[0]", 'limits') }
sub key_field { $t->redis('HGET', "{apiauth}:key:$_[0]", $_[1]) }
sub key_exists { $t->redis('HEXISTS', "{apiauth}:key:$_[0]", $_[1]) }
sub policy_keys {
    [sort @{ $t->redis('SMEMBERS', "{apiauth}:policy-keys:$_[0]") }]
}
sub in_policy { $t->redis('SISMEMBER', "{apiauth}:policy-keys:$_[0]", $_[1]) }

# JSON booleans as 1 and 0, so that a document compares with is_deeply
sub plain {
    my ($v) = @_;
    return [map { plain($_) } @$v] if ref $v eq 'ARRAY';
    return { map { ($_ => plain($v->{$_})) } keys %$v } if ref $v eq 'HASH';
    return $v ? 1 : 0 if JSON::PP::is_bool($v);
    return $v;
}

# Every name and value in the store, sets and strings included (the
# harness's dump_store reads a set with GET), with the TTLs of the usage
# counts: "nothing changed" is exact.
sub dump_all {
    my @out;
    for my $k (sort @{ $t->redis('KEYS', '*') }) {
        my $type = $t->redis('TYPE', $k);
        my @v = $type eq 'hash' ? do {
                my %h = @{ $t->redis('HGETALL', $k) };
                map { "$_=$h{$_}" } sort keys %h;
            }
            : $type eq 'set' ? sort @{ $t->redis('SMEMBERS', $k) }
            : $type eq 'zset' ? @{ $t->redis('ZRANGE', $k, 0, -1, 'WITHSCORES') }
            : $type eq 'stream' ? map { join ' ', $_->[0], @{ $_->[1] } }
                @{ $t->redis('XRANGE', $k, '-', '+') }
            : $type eq 'string' ? $t->redis('GET', $k)
            : die "unexpected $type at $k\n";
        push @v, 'ttl=' . ($t->redis('PTTL', $k) > 0 ? 'yes' : 'no');
        push @out, join "\x1f", $k, $type, @v;
    }
    return join "\n", @out;
}

# a refusal: exit 2, one line on stderr saying why, nothing on stdout,
# nothing changed in Redis
sub refused {
    my ($args, $re, $name) = @_;
    my $before = dump_all();
    my $r = $t->ctl(@$args);
    is($r->{rc}, 2, "$name: exit 2");
    like($r->{err}, qr/\Aapiauth-ctl: error: [^\n]*$re[^\n]*\n\z/,
        "$name: one line saying why") or diag($r->{err});
    if (grep { $_ eq '--json' } @$args) {
        my $doc = eval { decode_json($r->{out}) } || {};
        is_deeply([keys %$doc], ['error'], "$name: stdout holds the error");
    } else {
        is($r->{out}, '', "$name: nothing on stdout");
    }
    my $after = dump_all();
    ok($after eq $before, "$name: nothing changed") or diag(join "\n",
        grep { index("\n$before\n", "\n$_\n") < 0 } split /\n/, $after);
    return $r;
}

# a change: exit 0 and exactly one new change entry, with these fields;
# returns the run, its --json document decoded
sub change {
    my ($args, $fields, $name) = @_;
    my $last = $t->last_change;
    my $r = $t->ctl(@$args);
    is($r->{rc}, 0, "$name: exit 0") or diag($r->{err});
    is_deeply([map { $_->[1] } @{ $t->changes($last) }], [$fields],
        "$name: change entry @$fields");
    $r->{json} = eval { decode_json($r->{out}) } if $r->{out} =~ /^[{\[]/;
    return $r;
}

sub key_policy {
    my ($ak, $name) = @_;
    return change(['key', 'policy', $ak, $name], [op => 'key.policy',
        ak => $ak], "key policy $ak $name");
}

sub redis_now_us {
    my $r = $t->redis('TIME');
    return $r->[0] * 1_000_000 + $r->[1];
}

sub rfc3339 { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(floor($_[0] / 1000))) }

# The quota period holding $now_ms (unix ms) at the offset $off (seconds):
# a calendar day, a week from Monday, a month, or ('fixed', $len) whole
# periods of $len seconds; unix ms, computed with gmtime and timegm.
sub period {
    my ($now_ms, $kind, $off, $len) = @_;
    my $local = floor($now_ms / 1000) + $off;
    my ($s, $e);
    if ($kind eq 'fixed') {
        $s = floor($local / $len) * $len - $off;
        $e = $s + $len;
    } else {
        my ($mday, $mon, $year, $wday) = (gmtime $local)[3 .. 6];
        $year += 1900;
        my $midnight = timegm(0, 0, 0, $mday, $mon, $year);
        if ($kind eq 'day') {
            $s = $midnight - $off;
            $e = $s + 86400;
        } elsif ($kind eq 'week') {
            $s = $midnight - (($wday + 6) % 7) * 86400 - $off;
            $e = $s + 7 * 86400;
        } else {
            $s = timegm(0, 0, 0, 1, $mon, $year) - $off;
            $e = timegm(0, 0, 0, 1, ($mon + 1) % 12, $year + ($mon == 11))
                - $off;
        }
    }
    return ($s * 1000, $e * 1000);
}

# the period holding now on Redis's clock, not about to end
sub current_period {
    my (@how) = @_;
    while (1) {
        my $now = floor(redis_now_us() / 1000);
        my ($s, $e) = period($now, @how);
        return ($s, $e) if $e - $now > 5000;
        sleep(($e - $now) / 1000 + 0.1);
    }
}

# the tokens a GCRA of interval $T and burst $b holds at $now with its TAT
sub gcra_available {
    my ($now, $tat, $T, $b) = @_;
    $tat = $now if $tat < $now;
    my $n = floor(($now + ($b - 1) * $T + $T - $tat) / $T);
    return $n < 0 ? 0 : $n > $b ? $b : $n;
}

sub usage_json {
    my ($ak) = @_;
    my $r = $t->ctl_json('key', 'usage', $ak);
    is($r->{rc}, 0, "key usage $ak") or diag($r->{err});
    return $r->{json};
}

###############################################################################
# policy list of no policies

my $r = $t->ctl('policy', 'list');
is($r->{rc}, 0, 'policy list of none');
is($r->{out}, "no policies\n", 'policy list says there are none');
$r = $t->ctl_json('policy', 'list');
is_deeply($r->{json}, [], 'policy list --json of none: []');

###############################################################################
# 1. policy create, each option form

# name, options, the text form, and what --json shows
my @created = (
    ['r1', ['--rate', '100/s'], 'rate=100/s burst=100 dry_run=0',
        { rate => '100/s', burst => 100, quota => undef }],
    ['r2', ['--rate', '30/min', '--burst', '5'],
        'rate=30/min burst=5 dry_run=0', { rate => '30/min', burst => 5 }],
    ['r3', ['--rate', '7200/h'], 'rate=7200/h burst=7200 dry_run=0',
        { rate => '7200/h', burst => 7200 }],
    ['rmax', ['--rate', '1000000/s', '--burst', '1000000'],
        'rate=1000000/s burst=1000000 dry_run=0',
        { rate => '1000000/s', burst => 1000000 }],
    ['q.day', ['--quota', '1000/day'],
        'quota=1000/day offset=+00:00 anchor=calendar dry_run=0',
        { quota => '1000/day', rate => undef, burst => undef }],
    ['q_week', ['--quota', '5000/week', '--utc-offset', '-05:30'],
        'quota=5000/week offset=-05:30 anchor=calendar dry_run=0',
        { quota => '5000/week', utc_offset => '-05:30' }],
    ['gold', ['--rate', '100/s', '--burst', '50', '--quota', '1000000/month',
        '--utc-offset', '+08:00'],
        'rate=100/s burst=50 quota=1000000/month offset=+08:00 '
        . 'anchor=calendar dry_run=0',
        { rate => '100/s', burst => 50, quota => '1000000/month',
          utc_offset => '+08:00' }],
    ['q-7d', ['--quota', '700/7d', '--anchor', 'first-use'],
        'quota=700/7d offset=+00:00 anchor=first-use dry_run=0',
        { quota => '700/7d', anchor => 'first-use' }],
    ['q12h', ['--quota', '120/12h', '--dry-run'],
        'quota=120/12h offset=+00:00 anchor=calendar dry_run=1',
        { quota => '120/12h', dry_run => 1 }],
    ['q15m', ['--quota', '10/15m', '--anchor', 'calendar', '--utc-offset',
        '+14:00'],
        'quota=10/15m offset=+14:00 anchor=calendar dry_run=0',
        { quota => '10/15m', utc_offset => '+14:00' }],
    # a period is written in the largest unit that divides it
    ['q24h', ['--quota', '100/24h'],
        'quota=100/1d offset=+00:00 anchor=calendar dry_run=0',
        { quota => '100/1d' }],
    ['q120m', ['--quota', '100/120m'],
        'quota=100/2h offset=+00:00 anchor=calendar dry_run=0',
        { quota => '100/2h' }],
    ['q90m', ['--quota', '100/90m'],
        'quota=100/90m offset=+00:00 anchor=calendar dry_run=0',
        { quota => '100/90m' }],
    ['qmax', ['--quota', '1000000000000/366d', '--utc-offset', '-14:00'],
        'quota=1000000000000/366d offset=-14:00 anchor=calendar dry_run=0',
        { quota => '1000000000000/366d', utc_offset => '-14:00' }],
    ['both', ['--rate', '5/s', '--quota', '10/8784h', '--dry-run',
        '--anchor', 'first-use', '--utc-offset', '+01:00'],
        'rate=5/s burst=5 quota=10/366d offset=+01:00 anchor=first-use '
        . 'dry_run=1',
        { rate => '5/s', burst => 5, quota => '10/366d',
          utc_offset => '+01:00', anchor => 'first-use', dry_run => 1 }],
    ['m' x 64, ['--quota', '1/527040m'],
        'quota=1/366d offset=+00:00 anchor=calendar dry_run=0',
        { quota => '1/366d' }],
);

my %LIMITS;
my $i = 0;
for my $c (@created) {
    my ($name, $opts, $text, $want) = @$c;
    my %want = (name => $name, rate => undef, burst => undef, quota => undef,
        utc_offset => '+00:00', anchor => 'calendar', dry_run => 0, %$want);
    # every other one with --json, the others as text
    my $json = $i++ % 2;
    $r = change([$json ? '--json' : (), 'policy', 'create', $name, @$opts],
        [op => 'policy.create'], "create $name @$opts");
    if ($json) {
        is_deeply(plain($r->{json}), \%want, "create $name --json");
    } else {
        is($r->{out}, "policy \"$name\" created: $text\n",
            "create $name says its limits");
    }
    is(policy_limits($name), $text, "create $name: stored limits $text");
    is($t->redis('ZSCORE', '{apiauth}:policies', $name), 0,
        "create $name: in {apiauth}:policies");
    my $h = { @{ $t->redis('HGETALL', "{apiauth}:policy:$name") } };
    is_deeply([sort keys %$h], [qw(created limits updated)],
        "create $name: the hash holds limits, created, updated");
    like($h->{created}, qr/^[1-9][0-9]{9}$/, "create $name: created is unix s");
    is($t->redis('EXISTS', "{apiauth}:policy-keys:$name"), 0,
        "create $name: no key uses it");
    my $s = $t->ctl_json('policy', 'show', $name);
    my $p = plain($s->{json}{policy});
    delete @$p{qw(created updated keys)};
    is_deeply($p, \%want, "show $name --json: the same policy");
    $LIMITS{$name} = $text;
}

# what only a quota uses is refused without one
refused(['policy', 'create', 'rate.only', '--rate', '10/s',
    '--utc-offset', '+08:00'],
    qr/--utc-offset applies to a quota \(--quota\)/,
    'create with a rate and --utc-offset');
refused(['policy', 'create', 'rate.only', '--rate', '10/s',
    '--anchor', 'first-use'],
    qr/--anchor applies to a quota \(--quota\)/,
    'create with a rate and --anchor');
$r = change(['policy', 'create', 'rate.only', '--rate', '10/s'],
    [op => 'policy.create'], 'create with a rate alone');
is(policy_limits('rate.only'), 'rate=10/s burst=10 dry_run=0',
    'a policy without a quota has no offset or anchor');

###############################################################################
# 2. refusals: exit 2, one line, nothing changed

for my $rate ('0/s', '1000001/s', '10/sec', '010/s', '10', '/s', '10/S',
    '-1/s', ' 10/s', '10/s ', 'none')
{
    refused(['policy', 'create', 'x', '--rate', $rate],
        qr/invalid rate "\Q$rate\E": use N\/s, N\/min or N\/h/,
        "create --rate '$rate'");
}
for my $burst ('0', '1000001', 'x', '-1', '05x') {
    refused(['policy', 'create', 'x', '--rate', '10/s', '--burst', $burst],
        qr/invalid burst "\Q$burst\E"/, "create --burst '$burst'");
}
for my $quota ('50/0d', '50/367d', '50/8785h', '50/527041m', '50/year',
    '0/day', '1000000000001/day', '50/d', '50/07d', '50', '50/Day', 'none')
{
    refused(['policy', 'create', 'x', '--quota', $quota],
        qr/invalid quota "\Q$quota\E": use N\/day, N\/week, N\/month/,
        "create --quota '$quota'");
}
for my $off ('+14:01', '-14:01', '08:00', '+8:00', '+08:60', '+0800',
    '+15:00', 'Z', '+08:00:00')
{
    refused(['policy', 'create', 'x', '--quota', '5/day', '--utc-offset',
        $off], qr/invalid UTC offset "\Q$off\E": use \+HH:MM or -HH:MM/,
        "create --utc-offset '$off'");
}
refused(['policy', 'create', 'x', '--quota', '5/day', '--anchor', 'first'],
    qr/invalid anchor "first": use calendar or first-use/, 'create --anchor');
refused(['policy', 'create', 'x', '--burst', '5'],
    qr/--burst needs a rate/, '--burst without --rate');
refused(['policy', 'create', 'x', '--quota', '5/day', '--burst', '5'],
    qr/--burst needs a rate/, '--burst with a quota only');
refused(['policy', 'create', 'x'],
    qr/a policy limits something: give --rate, --quota or both/,
    'create with no --rate nor --quota');
refused(['policy', 'create', 'x', '--dry-run', '--utc-offset', '+01:00'],
    qr/a policy limits something/, 'create of options without a limit');
refused(['policy', 'create', 'x', '--rate', '10/s', '--no-dry-run'],
    qr/--no-dry-run is for "policy update"/, 'create --no-dry-run');
refused(['policy', 'create', 'none', '--rate', '10/s'],
    qr/invalid policy name "none": use 1 to 64 of .*, not "none"/,
    'create of "none"');
for my $name ('bad name', 'a/b', 'n' x 65, '', "caf\xc3\xa9", 'a:b') {
    refused(['policy', 'create', $name, '--rate', '10/s'],
        qr/invalid policy name/, "create of name '$name'");
}
refused(['policy', 'create', '--rate', '10/s'], qr/takes one NAME/,
    'create without a name');
refused(['policy', 'create', 'x', 'y', '--rate', '10/s'], qr/takes one NAME/,
    'create of two names');
refused(['policy', 'create', 'gold', '--rate', '1/s'],
    qr/a policy named "gold" exists already/, 'create twice');
is(policy_limits('gold'), $LIMITS{gold}, 'the first one stays');
for my $cmd (['update', '--rate', '1/s'], ['show'], ['delete']) {
    my ($c, @rest) = @$cmd;
    refused(['policy', $c, 'nosuch', @rest], qr/no policy named "nosuch"/,
        "$c of a missing policy");
    refused(['policy', $c, 'none', @rest], qr/invalid policy name "none"/,
        "$c of \"none\"");
}
refused(['policy', 'frobnicate'], qr/unknown command "policy frobnicate"/,
    'an unknown policy command');
refused(['policy', 'list', 'x'], qr/"policy list" takes no arguments/,
    'list with an argument');
$r = refused(['--json', 'policy', 'create', 'gold', '--rate', '1/s'],
    qr/exists already/, 'create twice --json');

# refused updates
refused(['policy', 'update', 'q.day', '--quota', 'none'],
    qr/a policy limits something/, 'update removing the only limit');
refused(['policy', 'update', 'gold', '--rate', 'none', '--quota', 'none'],
    qr/a policy limits something/, 'update removing both limits');
refused(['policy', 'update', 'r1', '--rate', 'none'],
    qr/a policy limits something/, 'update removing the only rate');
refused(['policy', 'update', 'q.day', '--burst', '5'],
    qr/--burst needs a rate/, 'update --burst of a policy without a rate');
refused(['policy', 'update', 'gold', '--rate', 'none', '--burst', '5'],
    qr/--burst needs a rate/, 'update --rate none --burst');
refused(['policy', 'update', 'gold', '--rate', '0/min'],
    qr/invalid rate "0\/min"/, 'update with a bad rate');
refused(['policy', 'update', 'gold', '--quota', '5/0h'],
    qr/invalid quota "5\/0h"/, 'update with a bad quota');
refused(['policy', 'update', 'gold', '--utc-offset', '+14:30'],
    qr/invalid UTC offset "\+14:30"/, 'update with a bad offset');

###############################################################################
# 4. key policy

my @aks = map { sprintf 'PolicyKey%03d', $_ } 1 .. 4;
$t->create_key('--name', "k$_", '--access-key', $_) for @aks;
my ($A, $B, $C, $D) = @aks;

$r = key_policy($A, 'gold');
is($r->{out}, "key \"$A\" has policy \"gold\"\n", 'key policy says so');
is(key_field($A, 'policy'), 'gold', 'the key holds the policy\'s name');
is(key_field($A, 'limits'), $LIMITS{gold}, 'and its limits');
is_deeply(policy_keys('gold'), [$A], 'the policy\'s set holds the key');

$r = change(['--json', 'key', 'policy', $B, 'gold'],
    [op => 'key.policy', ak => $B], 'key policy --json');
is_deeply($r->{json}, { access_key => $B, policy => 'gold' },
    'key policy --json: access_key and policy');
key_policy($C, 'gold');
key_policy($D, 'r2');
is_deeply(policy_keys('gold'), [$A, $B, $C], 'three keys use gold');

# the same policy again: one member still
key_policy($C, 'gold');
is_deeply(policy_keys('gold'), [$A, $B, $C], 'giving it again changes nothing');

# switching moves the membership
key_policy($C, 'r1');
is(key_field($C, 'policy'), 'r1', 'switched: the new name');
is(key_field($C, 'limits'), $LIMITS{r1}, 'switched: the new limits');
is(in_policy('gold', $C), 0, 'switched: out of the old policy\'s set');
is_deeply(policy_keys('r1'), [$C], 'switched: in the new one\'s');

# none
$r = key_policy($C, 'none');
is($r->{out}, "key \"$C\" has no policy: no limits\n", 'key policy none says so');
is(key_exists($C, 'policy'), 0, 'none: no policy field');
is(key_exists($C, 'limits'), 0, 'none: no limits field');
is($t->redis('EXISTS', '{apiauth}:policy-keys:r1'), 0,
    'none: out of the set (r1 has no keys left)');
$r = change(['--json', 'key', 'policy', $C, 'none'],
    [op => 'key.policy', ak => $C], 'key policy none of a key without one');
is_deeply(plain($r->{json}), { access_key => $C, policy => undef },
    'key policy none --json: policy null');

refused(['key', 'policy', $A, 'nosuch'], qr/no policy named "nosuch"/,
    'key policy of an unknown policy');
refused(['key', 'policy', 'NoSuchKey001', 'gold'],
    qr/no key with accessKey "NoSuchKey001"/, 'key policy of an unknown key');
refused(['key', 'policy', $A, 'bad name'], qr/invalid policy name "bad name"/,
    'key policy with a bad name');
refused(['key', 'policy', 'bad-key', 'gold'], qr/invalid accessKey "bad-key"/,
    'key policy with a bad accessKey');
refused(['key', 'policy', $A], qr/"key policy" takes an accessKey and a policy/,
    'key policy without a policy');
is(key_field($A, 'policy'), 'gold', 'a refused change leaves the key\'s policy');

###############################################################################
# 6. policy list and policy show

$r = $t->ctl('policy', 'list');
is($r->{rc}, 0, 'policy list');
my @lines = split /\n/, $r->{out};
like($lines[0], qr/^NAME +RATE +BURST +QUOTA +PERIODS +DRY RUN +KEYS$/,
    'policy list: headings');
my @names = map { (split ' ', $_)[0] } @lines[1 .. $#lines];
my @all = sort(map({ $_->[0] } @created), 'rate.only');
is_deeply(\@names, \@all, 'policy list: one row a policy, by name');
like($r->{out}, qr/^gold +100\/s +50 +1000000\/month +\+08:00 +no +2$/m,
    'policy list: a row with a rate and a quota (gold, 2 keys)');
like($r->{out}, qr/^r1 +100\/s +100 +- +- +no +0$/m,
    'policy list: a rate only');
like($r->{out}, qr/^r2 +30\/min +5 +- +- +no +1$/m,
    'policy list: a rate only, with a key');
like($r->{out}, qr/^q12h +- +- +120\/12h +\+00:00 +yes +0$/m,
    'policy list: a quota only, dry run');
like($r->{out}, qr/^q-7d +- +- +700\/7d +first use +no +0$/m,
    'policy list: a first-use quota');
my ($w) = $r->{out} =~ /^(NAME +)RATE/;
ok(!grep({ !/^\S+ {2,}/ || length((/^(\S+ +)/)[0]) != length $w }
    @lines[1 .. $#lines]), 'policy list: the columns are aligned');

$r = $t->ctl_json('policy', 'list');
is(ref $r->{json}, 'ARRAY', 'policy list --json is an array');
is_deeply([map { $_->{name} } @{ $r->{json} }], \@all,
    'policy list --json: every policy, by name');
my %listed = map { ($_->{name} => $_) } @{ $r->{json} };
is($listed{gold}{keys}, 2, 'policy list --json: keys of gold');
is($listed{r2}{keys}, 1, 'policy list --json: keys of r2');
is($listed{r1}{keys}, 0, 'policy list --json: keys of r1');
is($listed{gold}{burst}, 50, 'policy list --json: the burst');
is($listed{gold}{quota}, '1000000/month', 'policy list --json: the quota');
like($listed{gold}{created}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    'policy list --json: created in RFC 3339');

$r = $t->ctl_json('policy', 'show', 'gold');
is_deeply($r->{json}{access_keys}, [$A, $B],
    'policy show --json: access_keys, sorted');
is($r->{json}{policy}{keys}, 2, 'policy show --json: the count');
is(plain($r->{json}{policy}{dry_run}), 0, 'policy show --json: dry_run');
$r = $t->ctl('policy', 'show', 'gold');
like($r->{out}, qr/^name +gold$/m, 'policy show: the name');
like($r->{out}, qr/^rate +100\/s, burst 50$/m, 'policy show: the rate');
like($r->{out}, qr/^quota +1000000\/month, from the calendar at UTC\+08:00$/m,
    'policy show: the quota');
like($r->{out}, qr/^keys +2\n  \Q$A\E\n  \Q$B\E\n\z/m,
    'policy show: the keys, one a line');
$r = $t->ctl('policy', 'show', 'q.day');
like($r->{out}, qr/^rate +none$/m, 'policy show: no rate');
$r = $t->ctl_json('policy', 'show', 'r1');
is_deeply($r->{json}{access_keys}, [], 'policy show --json of no keys: []');

###############################################################################
# 3. policy update

sub update {
    my ($name, $opts, $text, $aks, $what) = @_;
    my $r = change(['policy', 'update', $name, @$opts],
        [op => 'policy.update', map { (ak => $_) } sort @$aks],
        "update $name $what");
    is($r->{out}, "policy \"$name\" updated: $text\n", "update $name says so");
    is(policy_limits($name), $text, "update $name $what: $text");
    is(key_field($_, 'limits'), $text, "update $name $what: key $_ has it")
        for @$aks;
    $LIMITS{$name} = $text;
}

update('gold', ['--quota', 'none'], 'rate=100/s burst=50 dry_run=0',
    [$A, $B], '--quota none keeps the rate and burst');
update('gold', ['--quota', '500/week', '--utc-offset', '+02:00'],
    'rate=100/s burst=50 quota=500/week offset=+02:00 anchor=calendar '
    . 'dry_run=0', [$A, $B], 'adds a quota');
update('gold', ['--rate', 'none'],
    'quota=500/week offset=+02:00 anchor=calendar dry_run=0', [$A, $B],
    '--rate none keeps the quota');
update('gold', ['--rate', '20/min', '--burst', '3'],
    'rate=20/min burst=3 quota=500/week offset=+02:00 anchor=calendar '
    . 'dry_run=0', [$A, $B], 'adds a rate');
update('gold', ['--burst', '7'],
    'rate=20/min burst=7 quota=500/week offset=+02:00 anchor=calendar '
    . 'dry_run=0', [$A, $B], '--burst keeps the rate');
update('gold', ['--dry-run'],
    'rate=20/min burst=7 quota=500/week offset=+02:00 anchor=calendar '
    . 'dry_run=1', [$A, $B], '--dry-run');
update('gold', ['--anchor', 'first-use', '--utc-offset', '-03:00'],
    'rate=20/min burst=7 quota=500/week offset=-03:00 anchor=first-use '
    . 'dry_run=1', [$A, $B], '--anchor, --utc-offset keep the dry run');
update('gold', ['--no-dry-run'],
    'rate=20/min burst=7 quota=500/week offset=-03:00 anchor=first-use '
    . 'dry_run=0', [$A, $B], '--no-dry-run');
update('gold', ['--quota', '1000000/month', '--utc-offset', '+08:00',
    '--anchor', 'calendar', '--rate', '100/s', '--burst', '50'],
    'rate=100/s burst=50 quota=1000000/month offset=+08:00 anchor=calendar '
    . 'dry_run=0', [$A, $B], 'of everything');
update('r1', ['--rate', '50/s', '--burst', '60'],
    'rate=50/s burst=60 dry_run=0', [], 'of a policy no key uses');
is(key_field($D, 'limits'), $LIMITS{r2},
    'a key of another policy keeps its limits');

# the rate alone: "update changes what is given and keeps the rest", but
# the burst is the rate's N unless given (docs/apiauth-ctl.md, "policy")
$r = $t->ctl('policy', 'update', 'gold', '--rate', '200/s');
is(policy_limits('gold'), 'rate=200/s burst=50 quota=1000000/month '
    . 'offset=+08:00 anchor=calendar dry_run=0',
    'update --rate alone keeps the burst');
$t->ctl('policy', 'update', 'gold', '--rate', '100/s', '--burst', '50');
is(policy_limits('gold'), $LIMITS{gold}, 'gold is back as it was');

###############################################################################
# 5. policy delete

$r = refused(['policy', 'delete', 'gold'],
    qr/the policy is used by 2 key\(s\): \Q$A,$B\E; give them another policy first \("apiauth-ctl key policy AK NAME\|none"\)/,
    'delete of a policy 2 keys use');

my @many = map { sprintf 'ManyKey%05d', $_ } 1 .. 12;
for my $ak (@many) {
    $t->create_key('--name', $ak, '--access-key', $ak);
    my $k = $t->ctl('key', 'policy', $ak, 'q-7d');
    die "key policy $ak: $k->{err}" if $k->{rc};
}
is_deeply(policy_keys('q-7d'), \@many, 'twelve keys use q-7d');
my $ten = join ',', @many[0 .. 9];
$r = refused(['policy', 'delete', 'q-7d'],
    qr/the policy is used by 12 key\(s\): \Q$ten\E, \.\.\.; give them/,
    'delete of a policy 12 keys use names the first ten');
unlike($r->{err}, qr/\Q$many[10]\E|\Q$many[11]\E/, 'and not the others');
$r = $t->ctl('--json', 'policy', 'delete', 'q-7d');
is(decode_json($r->{out})->{error}, $r->{err} =~ s/^apiauth-ctl: error: |\n$//gr,
    'delete --json: the same message as {"error"}');

for my $ak (@many) {
    my $k = $t->ctl('key', 'policy', $ak, 'none');
    die "key policy $ak none: $k->{err}" if $k->{rc};
}
$r = change(['policy', 'delete', 'q-7d'], [op => 'policy.delete'],
    'delete of a policy no key uses any more');
is($r->{out}, "policy \"q-7d\" deleted\n", 'delete says so');
is($t->redis('EXISTS', '{apiauth}:policy:q-7d'), 0, 'its hash is gone');
is($t->redis('EXISTS', '{apiauth}:policy-keys:q-7d'), 0, 'its set is gone');
is($t->redis('ZSCORE', '{apiauth}:policies', 'q-7d'), undef,
    'it is out of {apiauth}:policies');
$r = $t->ctl_json('policy', 'list');
ok(!grep({ $_->{name} eq 'q-7d' } @{ $r->{json} }),
    'it is not in policy list --json');
$r = $t->ctl('policy', 'list');
unlike($r->{out}, qr/^q-7d /m, 'nor in policy list');
refused(['key', 'policy', $A, 'q-7d'], qr/no policy named "q-7d"/,
    'a deleted policy cannot be given');
$r = change(['--json', 'policy', 'delete', 'q90m'], [op => 'policy.delete'],
    'delete --json');
is_deeply(plain($r->{json}), { name => 'q90m', deleted => 1 },
    'delete --json: name and deleted');

###############################################################################
# 7. key copy, key delete, key set-access-key keep the set and the usage

my $src = 'SourceKey001';
$t->create_key('--name', 'src', '--access-key', $src);
key_policy($src, 'q.day');
my $now_ms = floor(redis_now_us() / 1000);
$t->redis('SET', "{apiauth}:rate:$src", $now_ms * 1000 + 5_000_000, 'PX',
    60000);
$t->redis('HSET', "{apiauth}:quota:$src", 'start', $now_ms - 1000, 'end',
    $now_ms + 3_600_000, 'used', 7);
$t->redis('PEXPIRE', "{apiauth}:quota:$src", 3_660_000);
my $tat = $t->redis('GET', "{apiauth}:rate:$src");
my $quota = { @{ $t->redis('HGETALL', "{apiauth}:quota:$src") } };

$r = change(['key', 'copy', $src, '--name', 'copy', '--access-key',
    'CopyKey00001'], [op => 'key.copy', ak => 'CopyKey00001'], 'key copy');
is(key_field('CopyKey00001', 'policy'), 'q.day', 'the copy has the policy');
is(key_field('CopyKey00001', 'limits'), $LIMITS{'q.day'},
    'and its limits');
is_deeply(policy_keys('q.day'), [sort $src, 'CopyKey00001'],
    'the copy is in the policy\'s set');
is($t->redis('EXISTS', '{apiauth}:rate:CopyKey00001',
    '{apiauth}:quota:CopyKey00001'), 0, 'the copy has a usage of its own');
$r = $t->ctl_json('key', 'copy', $C, '--name', 'nocopy', '--access-key',
    'CopyKey00002');
is($r->{rc}, 0, 'key copy of a key without a policy');
is(key_exists('CopyKey00002', 'policy') + key_exists('CopyKey00002', 'limits'),
    0, 'the copy has no policy');

# set-access-key: the membership and the usage move
my $moved = 'MovedKey0001';
change(['key', 'set-access-key', $src, $moved],
    [op => 'key.set-access-key', old => $src, new => $moved],
    'key set-access-key');
is(in_policy('q.day', $src), 0, 'the old accessKey is out of the set');
is(in_policy('q.day', $moved), 1, 'the new one is in');
is(key_field($moved, 'limits'), $LIMITS{'q.day'}, 'the key keeps its limits');
is($t->redis('GET', "{apiauth}:rate:$moved"), $tat,
    'the rate\'s TAT moved to the new accessKey');
is_deeply({ @{ $t->redis('HGETALL', "{apiauth}:quota:$moved") } }, $quota,
    'the quota\'s hash moved to the new accessKey');
cmp_ok($t->redis('PTTL', "{apiauth}:quota:$moved"), '>', 3_000_000,
    'with its expiry');
is($t->redis('EXISTS', "{apiauth}:rate:$src", "{apiauth}:quota:$src"), 0,
    'nothing is left under the old accessKey');

# a usage left under the new accessKey is not the key's
$t->redis('SET', '{apiauth}:rate:CopyKey00009', $now_ms * 1000 + 9_000_000);
$t->redis('HSET', '{apiauth}:quota:CopyKey00009', 'start', 1, 'end', 2,
    'used', 99);
change(['key', 'set-access-key', 'CopyKey00001', 'CopyKey00009'],
    [op => 'key.set-access-key', old => 'CopyKey00001', new => 'CopyKey00009'],
    'key set-access-key onto stale usage');
is($t->redis('EXISTS', '{apiauth}:rate:CopyKey00009',
    '{apiauth}:quota:CopyKey00009'), 0,
    'a key without usage leaves none under its new accessKey');
is_deeply(policy_keys('q.day'), [sort 'CopyKey00009', $moved],
    'the set holds the new accessKeys');

# delete: out of the set, and its usage goes
$t->redis('SET', '{apiauth}:rate:CopyKey00009', $now_ms * 1000 + 9_000_000);
$t->ctl('key', 'disable', $moved);
change(['key', 'delete', $moved], [op => 'key.delete', ak => $moved],
    'key delete');
is_deeply(policy_keys('q.day'), ['CopyKey00009'],
    'a deleted key is out of the set');
is($t->redis('EXISTS', "{apiauth}:rate:$moved", "{apiauth}:quota:$moved"), 0,
    'its rate and quota counts are gone');
ok(defined $t->redis('GET', '{apiauth}:rate:CopyKey00009'),
    'another key\'s count stays');
$t->ctl('key', 'disable', 'CopyKey00009');
change(['key', 'delete', 'CopyKey00009'],
    [op => 'key.delete', ak => 'CopyKey00009'], 'key delete of the last one');
is($t->redis('EXISTS', '{apiauth}:policy-keys:q.day'), 0,
    'the set of a policy no key uses is gone');
change(['policy', 'delete', 'q.day'], [op => 'policy.delete'],
    'a policy whose keys were deleted can be deleted');

###############################################################################
# 8. key usage and key show

# without a policy
my $U = 'UsageKey0001';
$t->create_key('--name', 'usage', '--access-key', $U);
my $j = usage_json($U);
ok(exists $j->{policy} && !defined $j->{policy}, 'no policy: policy null');
ok(exists $j->{usage} && !defined $j->{usage}, 'no policy: usage null');
is($j->{access_key}, $U, 'key usage --json: access_key');
$r = $t->ctl('key', 'usage', $U);
is($r->{out}, "access key     $U\npolicy         none (no limits)\n",
    'key usage without a policy');
$r = $t->ctl_json('key', 'show', $U);
ok(exists $r->{json}{policy} && !defined $r->{json}{policy},
    'key show --json: policy null');
ok(exists $r->{json}{usage} && !defined $r->{json}{usage},
    'key show --json: usage null');
$r = $t->ctl('key', 'show', $U);
like($r->{out}, qr/^policy +none \(no limits\)$/m, 'key show: no policy');
unlike($r->{out}, qr/^(rate|quota) /m, 'key show: no usage');
refused(['key', 'usage', 'NoSuchKey001'],
    qr/no key with accessKey "NoSuchKey001"/, 'key usage of an unknown key');

# calendar quotas: a count of the current period is what was used, one of
# an old period counts nothing
my @calendar = (
    ['u.day', ['--quota', '100/day'], '100/day', ['day', 0]],
    ['u.month', ['--quota', '1000/month', '--utc-offset', '+08:00'],
        '1000/month', ['month', 8 * 3600]],
    ['u.week', ['--quota', '70/week', '--utc-offset', '-05:30'], '70/week',
        ['week', -(5 * 3600 + 30 * 60)]],
    ['u.12h', ['--quota', '12/12h'], '12/12h', ['fixed', 0, 12 * 3600]],
    ['u.2d', ['--quota', '20/2d', '--utc-offset', '+03:00'], '20/2d',
        ['fixed', 3 * 3600, 2 * 86400]],
);
for my $c (@calendar) {
    my ($name, $opts, $limit, $how) = @$c;
    my ($n) = $limit =~ /^(\d+)/;
    $t->ctl('policy', 'create', $name, @$opts);
    key_policy($U, $name);
    my ($s, $e) = current_period(@$how);
    $t->redis('DEL', "{apiauth}:quota:$U");
    $t->redis('HSET', "{apiauth}:quota:$U", 'start', $s, 'end', $e,
        'used', 7);
    my $want = { dry_run => 0, rate => undef, quota => { limit => $limit,
        used => 7, remaining => $n - 7, period_start => rfc3339($s),
        period_end => rfc3339($e) } };
    $j = usage_json($U);
    is($j->{policy}, $name, "$name: key usage --json names the policy");
    is_deeply(plain($j->{usage}), $want,
        "$name: used 7 in the period from " . rfc3339($s));
    $r = $t->ctl_json('key', 'show', $U);
    is_deeply(plain($r->{json}{usage}), $want, "$name: key show --json");
    is($r->{json}{policy}, $name, "$name: key show --json: policy");
    $r = $t->ctl('key', 'usage', $U);
    like($r->{out}, qr/^quota +\Q$limit\E: 7 used, ${\ ($n - 7)} remaining, from \Q${\ rfc3339($s)}\E to \Q${\ rfc3339($e)}\E$/m,
        "$name: key usage");

    # the period before: nothing used in this one
    $t->redis('HSET', "{apiauth}:quota:$U", 'start', $s - ($e - $s),
        'end', $s, 'used', 5);
    $j = usage_json($U);
    is_deeply(plain($j->{usage}{quota}), { %{ $want->{quota} }, used => 0,
        remaining => $n }, "$name: a count of an old period is not used");

    # used past the quota (a quota lowered): nothing remains
    $t->redis('HSET', "{apiauth}:quota:$U", 'start', $s, 'end', $e,
        'used', $n + 5);
    $j = usage_json($U);
    is($j->{usage}{quota}{used}, $n + 5, "$name: used past the quota");
    is($j->{usage}{quota}{remaining}, 0, "$name: none remaining");
}

# a first-use quota: no period before the first request
$t->ctl('policy', 'create', 'u.first', '--quota', '10/1h', '--anchor',
    'first-use');
key_policy($U, 'u.first');
$t->redis('DEL', "{apiauth}:quota:$U");
$j = usage_json($U);
is_deeply(plain($j->{usage}{quota}), { limit => '10/1h', used => 0,
    remaining => 10, period_start => undef, period_end => undef },
    'first use, no count: no period, all remaining');
$r = $t->ctl('key', 'usage', $U);
like($r->{out}, qr/^quota +10\/1h: 10 remaining; the period starts with the next request$/m,
    'key usage: the period starts with the next request');
$now_ms = floor(redis_now_us() / 1000);
my ($s, $e) = ($now_ms - 60_000, $now_ms + 3_540_000);
$t->redis('HSET', "{apiauth}:quota:$U", 'start', $s, 'end', $e, 'used', 4);
$j = usage_json($U);
is_deeply(plain($j->{usage}{quota}), { limit => '10/1h', used => 4,
    remaining => 6, period_start => rfc3339($s), period_end => rfc3339($e) },
    'first use, a running period: its count and bounds');
$t->redis('HSET', "{apiauth}:quota:$U", 'start', $now_ms - 7_200_000, 'end',
    $now_ms - 3_600_000, 'used', 9);
$j = usage_json($U);
is_deeply(plain($j->{usage}{quota}), { limit => '10/1h', used => 0,
    remaining => 10, period_start => undef, period_end => undef },
    'first use, a period that ended: no period, all remaining');
$t->redis('DEL', "{apiauth}:quota:$U");

# rates: the tokens a request could take now, from the TAT in Redis; the
# expected value is computed at Redis's time before and after the run
sub rate_case {
    my ($name, $T, $b, $ahead, $what) = @_;
    my $before = redis_now_us();
    if (defined $ahead) {
        $t->redis('SET', "{apiauth}:rate:$U", $before + $ahead);
    } else {
        $t->redis('DEL', "{apiauth}:rate:$U");
    }
    my $tat = defined $ahead ? $before + $ahead : 0;
    my $j = usage_json($U);
    my $after = redis_now_us();
    my ($lo, $hi) = map { gcra_available($_, $tat, $T, $b) } $before, $after;
    my $got = $j->{usage}{rate}{available};
    ok(defined $got && $got >= $lo && $got <= $hi,
        "$name: $what: available $got, expected $lo..$hi")
        or diag(explain $j);
    return $j;
}

$t->ctl('policy', 'create', 'u.slow', '--rate', '10/min', '--burst', '4');
key_policy($U, 'u.slow');
my $T = 6_000_000;    # 60 s / 10, in us
$j = rate_case('10/min burst 4', $T, 4, undef, 'no TAT');
is_deeply(plain($j->{usage}), { dry_run => 0, quota => undef,
    rate => { limit => '10/min', burst => 4, available => 4 } },
    '10/min burst 4, no TAT: the whole burst');
$j = rate_case('10/min burst 4', $T, 4, 2.5 * $T, 'TAT 2.5 T ahead');
is($j->{usage}{rate}{available}, 1, 'TAT 2.5 T ahead: 1 token');
$j = rate_case('10/min burst 4', $T, 4, 1.5 * $T, 'TAT 1.5 T ahead');
is($j->{usage}{rate}{available}, 2, 'TAT 1.5 T ahead: 2 tokens');
$j = rate_case('10/min burst 4', $T, 4, 4 * $T - 1_000_000,
    'TAT just short of tau + T ahead');
is($j->{usage}{rate}{available}, 0, 'TAT at tau + T ahead less 1 s: none');
$j = rate_case('10/min burst 4', $T, 4, -$T, 'TAT in the past');
is($j->{usage}{rate}{available}, 4, 'TAT in the past: the whole burst');
$t->redis('SET', "{apiauth}:rate:$U", redis_now_us() + 2.5 * $T);
$r = $t->ctl('key', 'usage', $U);
like($r->{out}, qr/^rate +10\/min, burst 4: 1 available now$/m,
    'key usage: the rate line');
$r = $t->ctl_json('key', 'show', $U);
is($r->{json}{usage}{rate}{available}, 1, 'key show --json: the same tokens');
$r = $t->ctl('key', 'show', $U);
like($r->{out}, qr/^policy +u\.slow\nrate +10\/min, burst 4: 1 available now$/m,
    'key show: the policy and the rate line');

# a TAT further ahead than tau + T, as a burst lowered by policy update
# leaves it: no token (nginx's lease grants none), not the whole burst
$t->redis('SET', "{apiauth}:rate:$U", redis_now_us() + 10 * $T);
$j = usage_json($U);
is($j->{usage}{rate}{available}, 0, 'TAT 10 T ahead: no token');

$t->ctl('policy', 'create', 'u.fast', '--rate', '10/s', '--burst', '4');
key_policy($U, 'u.fast');
rate_case('10/s burst 4', 100_000, 4, 200_000, 'TAT 2 T ahead');

# a rate and a quota, dry run
$t->ctl('policy', 'create', 'u.both', '--rate', '10/min', '--burst', '4',
    '--quota', '100/day', '--dry-run');
key_policy($U, 'u.both');
($s, $e) = current_period('day', 0);
$t->redis('SET', "{apiauth}:rate:$U", redis_now_us() + 2.5 * $T);
$t->redis('HSET', "{apiauth}:quota:$U", 'start', $s, 'end', $e, 'used', 30);
$j = usage_json($U);
is_deeply(plain($j), { access_key => $U, policy => 'u.both', usage => {
    dry_run => 1,
    rate => { limit => '10/min', burst => 4, available => 1 },
    quota => { limit => '100/day', used => 30, remaining => 70,
        period_start => rfc3339($s), period_end => rfc3339($e) } } },
    'a rate and a quota, dry run: key usage --json whole');
$r = $t->ctl('key', 'usage', $U);
like($r->{out}, qr/^dry run +yes: nothing is refused$/m,
    'key usage: dry run');

# policy update reaches key usage at once
change(['policy', 'update', 'u.both', '--quota', '50/day'],
    [op => 'policy.update', ak => $U], 'update of the key\'s policy');
$j = usage_json($U);
is($j->{usage}{quota}{remaining}, 20, 'a lower quota applies to what was used');

###############################################################################
# 9. --help

for my $cmd (['policy'], ['policy', 'create'], ['policy', 'update'],
    ['policy', 'list'], ['policy', 'show'], ['policy', 'delete'],
    ['key', 'policy'], ['key', 'usage'])
{
    my $r = $t->ctl(@$cmd, '--help');
    is($r->{rc}, 0, "@$cmd --help: exit 0");
    is($r->{err}, '', "@$cmd --help: nothing on stderr");
    like($r->{out}, qr/\Ausage: apiauth-ctl \Q@$cmd\E /,
        "@$cmd --help: the usage on stdout");
}
$r = $t->ctl('policy', 'create', '--help');
like($r->{out}, qr/--rate RATE.*--burst N.*--quota QUOTA.*--utc-offset.*--anchor calendar\|first-use.*--dry-run/s,
    'policy create --help: its options');
$r = $t->ctl('policy', 'update', '--help');
like($r->{out}, qr/--rate RATE\|none.*--quota QUOTA\|none.*--no-dry-run/s,
    'policy update --help: none and --no-dry-run');
$r = $t->ctl('key', 'policy', '--help');
like($r->{out}, qr/^usage: apiauth-ctl key policy AK NAME\|none/,
    'key policy --help');
$r = $t->ctl('key', '--help');
like($r->{out}, qr/^ +policy AK NAME\|none/m, 'key --help lists key policy');
like($r->{out}, qr/^ +usage AK/m, 'key --help lists key usage');
$r = $t->ctl('--help');
like($r->{out}, qr/^ +policy +rate limits and quotas/m,
    'apiauth-ctl --help lists policy');

$t->finish;
done_testing;
