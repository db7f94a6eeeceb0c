#!/usr/bin/perl

# The lease script (ngx_http_apiauth_lease.c), run in a private Redis as
# nginx sends it: grants within the GCRA and the quota, on Redis's clock;
# rate tokens given back free only the time still ahead of their lease;
# quota given back and debts count in their own period only; a lease that
# asks nothing never grants a negative count; one past its deadline
# changes nothing; calendar periods at an offset and first-use periods.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(floor);
use Test::More;
use Time::HiRes qw(sleep);
use Time::Local qw(timegm);
use Apiauth::Test;

# the script, from the C string it is in
my $src = do {
    my $f = "$FindBin::Bin/../ngx_http_apiauth_module/ngx_http_apiauth_lease.c";
    open my $fh, '<', $f or die "$f: $!\n";
    local $/;
    <$fh>;
};
my ($body) = $src =~ /ngx_http_apiauth_lease_script\[\] =\n(.*?);\n/s
    or die "no lease script in ngx_http_apiauth_lease.c\n";
my $script = join '', map {
    my ($s) = /^\s*"(.*)"\s*$/ or die "not a string line: $_\n";
    $s =~ s/\\n/\n/g;
    $s =~ s/\\(["\\'])/$1/g;
    $s;
} split /\n/, $body;
like($script, qr/redis\.call\('TIME'\)/, 'the script, read from its C string');

my $t = Apiauth::Test->new;
$t->start_redis;

my $T = 100_000;          # 10/s
my $TAU = 9 * $T;         # burst 10
my $DAY = 86_400;

# lease(want => ..., ...): the eight numbers the script answers
sub lease {
    my (%a) = @_;
    my $k = $a{key} // 'K';
    my @argv = ($a{want} // 0, $a{T} // 0, $a{tau} // 0, $a{Q} // 0,
        $a{kind} // 'fixed', $a{plen} // $DAY, $a{off} // 0,
        $a{anchor} // 'calendar', $a{back} // 0, $a{back_window} // 0,
        $a{debt} // 0, $a{debt_window} // 0, $a{deadline} // 0,
        $a{back_tat} // 0, $a{back_last} // 0);
    my $r = $t->redis('EVAL', $script, 2, "{apiauth}:rate:$k",
        "{apiauth}:quota:$k", @argv);
    die "script: $r" unless ref $r eq 'ARRAY';
    my %r;
    @r{qw(granted blocked wait used start end now tat)} = @$r;
    return \%r;
}

sub now_us {
    my $r = $t->redis('TIME');
    return $r->[0] * 1_000_000 + $r->[1];
}

sub rate_tat { $t->redis('GET', "{apiauth}:rate:$_[0]") }

###############################################################################
# the rate: a burst of 10, then one every T

my $r = lease(want => 5, T => $T, tau => $TAU);
is($r->{granted}, 5, 'a burst of 10: 5 granted');
$r = lease(want => 10, T => $T, tau => $TAU);
is($r->{granted}, 5, 'then the other 5 of the burst');
$r = lease(want => 1, T => $T, tau => $TAU);
is_deeply([@$r{qw(granted blocked)}], [0, 1], 'then none: the rate');
ok($r->{wait} >= 1 && $r->{wait} <= 100, "wait $r->{wait} ms, at most T");
ok($r->{tat} >= $r->{now} * 1000 + 900_000, 'the TAT answered');

# rate tokens given back: only the time still ahead of their lease
my $now = now_us();
$t->redis('SET', '{apiauth}:rate:P', $now + 1_000_000);
$r = lease(key => 'P', T => $T, tau => $TAU, back => 5, back_last => 5,
    back_tat => $now - 100_000);
is(rate_tat('P'), $now + 1_000_000,
    'tokens of a lease whose time has passed free nothing');
$r = lease(key => 'P', want => 10, T => $T, tau => $TAU);
is($r->{granted}, 0, 'so nothing more is granted');

$now = now_us();
$t->redis('SET', '{apiauth}:rate:F', $now + 1_000_000);
$r = lease(key => 'F', T => $T, tau => $TAU, back => 5, back_last => 5,
    back_tat => $now + 1_000_000);
is(rate_tat('F'), $now + 500_000, '5 tokens ahead of now: 5 T freed');

$now = now_us();
$t->redis('SET', '{apiauth}:rate:L', $now + 1_000_000);
$r = lease(key => 'L', T => $T, tau => $TAU, back => 5, back_last => 2,
    back_tat => $now + 1_000_000);
is(rate_tat('L'), $now + 800_000,
    'no more than the last lease held: 2 T freed');

$now = now_us();
$t->redis('SET', '{apiauth}:rate:H', $now + 1_000_000);
$r = lease(key => 'H', T => $T, tau => $TAU, back => 5, back_last => 5,
    back_tat => $now + 200_000);
# (the time ahead is measured when the script runs, a little later)
my $h = rate_tat('H') - ($now + 800_000);
ok($h >= 0 && $h < 5000, "a lease 2 T ahead of now: 2 T freed of 5 ($h us "
    . 'later)');

# the reviewer's case: A takes 5 at 0, B takes 10 at 0.6 s, A gives its 5
# back at 1.0 s: B then gets 4, as B + D / T allows 14 in [0.6, 1.0]
$now = now_us();
my $s0 = $now - 1_000_000;
$t->redis('SET', '{apiauth}:rate:R', $s0 + 600_000 + 10 * $T);
my $a_tat = $s0 + 5 * $T;
$r = lease(key => 'R', want => 10, T => $T, tau => $TAU, back => 5,
    back_last => 5, back_tat => $a_tat);
ok($r->{granted} <= 4 && $r->{granted} >= 3,
    "A's past tokens given back: B gets $r->{granted}, not 9");

###############################################################################
# the quota: a calendar day

$r = lease(key => 'Q', want => 2, Q => 3);
is($r->{granted}, 2, 'a quota of 3: 2 granted');
my $day0 = floor($r->{now} / 86_400_000) * 86_400_000;
is_deeply([@$r{qw(start end used)}], [$day0, $day0 + 86_400_000, 2],
    "the day's period, 2 used");
$r = lease(key => 'Q', want => 2, Q => 3);
is($r->{granted}, 1, 'then the last one');
$r = lease(key => 'Q', want => 1, Q => 3);
is_deeply([@$r{qw(granted blocked)}], [0, 2], 'then none: the quota');
is($r->{wait}, $r->{end} - $r->{now}, 'wait: to the end of the day');

# a debt past the quota, sent without asking for tokens: none granted, the
# debt counted whole
$r = lease(key => 'Q', Q => 3, debt => 2, debt_window => $day0);
is_deeply([@$r{qw(granted blocked used)}], [0, 0, 5],
    'a debt of 2 past the quota: used 5, nothing granted, nothing negative');
$r = lease(key => 'Q', Q => 3, back => 1, back_window => $day0);
is($r->{used}, 4, 'a token given back in its period: used 4');
$r = lease(key => 'Q', Q => 3, back => 1, back_window => $day0 - 86_400_000);
is($r->{used}, 4, "one of yesterday's: nothing");
$r = lease(key => 'Q', Q => 3, debt => 3, debt_window => $day0 - 86_400_000);
is($r->{used}, 4, "a debt of yesterday: not charged today");
$r = lease(key => 'Q', want => 1, Q => 10);
is_deeply([@$r{qw(granted used)}], [1, 5],
    'a quota raised to 10 applies to what was used');

# a lease past its deadline changes nothing
my $before = $t->redis('HGETALL', '{apiauth}:quota:Q');
$r = lease(key => 'Q', want => 5, Q => 10, deadline => $r->{now} - 1,
    debt => 3, debt_window => $day0);
is_deeply([@$r{qw(granted blocked)}], [0, 3], 'past its deadline: refused');
is_deeply($t->redis('HGETALL', '{apiauth}:quota:Q'), $before,
    'and nothing changed');
$r = lease(key => 'Q', want => 1, Q => 10, deadline => $r->{now} + 5000);
is($r->{granted}, 1, 'before its deadline: granted');

###############################################################################
# calendar periods at an offset

sub ms_utc { timegm($_[5] // 0, $_[4] // 0, $_[3] // 0, $_[2], $_[1] - 1,
    $_[0]) * 1000 }

$r = lease(key => 'M', want => 1, Q => 5, kind => 'month', plen => 0,
    off => 8 * 3600);
my @l = gmtime($r->{now} / 1000 + 8 * 3600);
my ($y, $m) = ($l[5] + 1900, $l[4] + 1);
my ($ny, $nm) = $m == 12 ? ($y + 1, 1) : ($y, $m + 1);
is_deeply([@$r{qw(start end)}],
    [ms_utc($y, $m, 1) - 8 * 3_600_000, ms_utc($ny, $nm, 1) - 8 * 3_600_000],
    "a month at +08:00: from the 1st, 00:00 local ($y-$m)");

$r = lease(key => 'W', want => 1, Q => 5, kind => 'week', plen => 7 * $DAY,
    off => -5 * 3600);
@l = gmtime(($r->{start} + 0) / 1000 - 5 * 3600);
is_deeply([$l[6], $l[2], $l[1]], [1, 0, 0],
    'a week at -05:00: from Monday, 00:00 local');
ok($r->{end} - $r->{start} == 7 * 86_400_000
    && $r->{start} <= $r->{now} && $r->{now} < $r->{end},
    'seven days, now in them');

$r = lease(key => 'N', want => 1, Q => 5, plen => 15 * 60);
is($r->{start} % 900_000, 0, '15 minutes from the hour');

###############################################################################
# first-use periods

$r = lease(key => 'U', want => 1, Q => 5, plen => 3600,
    anchor => 'first-use');
is_deeply([$r->{end} - $r->{start}, $r->{start} <= $r->{now} ? 1 : 0,
    $r->{now} - $r->{start} < 50 ? 1 : 0], [3_600_000, 1, 1],
    'first use: an hour from now');
my $start = $r->{start};
$r = lease(key => 'U', want => 1, Q => 5, plen => 3600,
    anchor => 'first-use');
is_deeply([@$r{qw(start used)}], [$start, 2], 'the same period after');
$t->redis('HSET', '{apiauth}:quota:U', 'end', $r->{now} - 1);
sleep 0.01;
$r = lease(key => 'U', want => 1, Q => 5, plen => 3600,
    anchor => 'first-use');
ok($r->{start} > $start && $r->{used} == 1, 'ended: a new one, from now');
$r = lease(key => 'V', Q => 5, plen => 3600, anchor => 'first-use', back => 1,
    back_window => 1);
is_deeply([@$r{qw(start end used)}], [0, 0, 0],
    'a give-back opens no period');
is($t->redis('EXISTS', '{apiauth}:quota:V'), 0, 'and writes nothing');

###############################################################################
# nginx's Redis user as docs/operations.md gives it may lease

my $ops = do {
    my $f = "$FindBin::Bin/../docs/operations.md";
    open my $fh, '<', $f or die "$f: $!\n";
    local $/;
    <$fh>;
};
my ($acl) = $ops =~ /^    ACL SETUSER nginx (.*)$/m
    or die "no ACL line for nginx in docs/operations.md\n";
$t->redis('ACL', 'SETUSER', 'nginx', split ' ', $acl);
$t->redis('ACL', 'SETUSER', 'nginx', '>lease-pw');
my @argv = (1, $T, $TAU, 5, 'fixed', $DAY, 0, 'calendar', 0, 0, 0, 0, 0, 0,
    0);
open my $cli, '-|', 'redis-cli', '-p', $t->port('redis'), '--no-auth-warning',
    '--user', 'nginx', '--pass', 'lease-pw', 'EVAL', $script, 2,
    '{apiauth}:rate:ACL', '{apiauth}:quota:ACL', @argv
    or die "redis-cli: $!\n";
my $out = do { local $/; <$cli> } // '';
close $cli;
# granted 1, blocked 0, wait 0, used 1
like($out, qr/\A1\n0\n0\n1\n/, "the documented user's lease: 1 granted")
    or diag("redis-cli said: $out");

$t->finish;
done_testing;
