#!/usr/bin/perl

# apiauth-ctl doctor shows the call records stream: its length and age,
# each consumer group's consumers, pending entries and lag, and warns when
# an entry older than a minute is not read or not acknowledged; no stream
# is fine, records are off (docs/records.md, "doctor").

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my $S = '{apiauth}:records';
my $db = $t->dir . '/archive.db';
my $n = 0;

sub rid { sprintf '%032x', ++$n }

# the doctor's call checks: [status, detail] each
sub calls {
    my ($rc) = @_;
    my $r = $t->ctl_json('doctor');
    is($r->{rc}, $rc // 0, 'doctor exits ' . ($rc // 0)) or diag($r->{err});
    return map { [$_->{check}, $_->{status}, $_->{detail}] }
        grep { $_->{check} =~ /^call / } @{ $r->{json}{checks} };
}

sub drain {
    my $r = $t->ctl('records', 'drain', '--db', $db, @_);
    is($r->{rc}, 0, "drain @_") or diag($r->{err});
}

my @c = calls();
is_deeply(\@c, [['call records', 'ok', "no stream $S: nginx does not "
    . 'record calls here']], 'no stream: ok, records are off');

$t->add_calls(map { $t->call_record(id => rid()) } 1 .. 3);
@c = calls();
is(scalar @c, 1, 'a new stream, no group: one check');
like($c[0][2], qr/^a stream of 3 entries, the oldest \d+s old, 0 consumer groups$/,
    'its length and age');
is($c[0][1], 'ok', 'fresh entries are fine');

# entries older than a minute that nothing reads
my $ms = $t->redis('TIME');
$ms = $ms->[0] * 1000 - 180_000;
$t->redis('DEL', $S);
$t->add_calls(map { $t->call_record(id => rid(), _id => "$ms-$_") } 0 .. 4);
@c = calls();
is($c[0][1], 'warn', 'a three-minute-old stream without a group warns');
like($c[0][2], qr/of 5 entries, the oldest 3m old, and no consumer group: nothing archives it; run "apiauth-ctl records drain --db FILE"/,
    'and says what to run');

$t->redis('XGROUP', 'CREATE', $S, 'archive', '0');
@c = calls();
is_deeply([map { $_->[0] } @c], ['call records', 'call group'],
    'a check per group');
is($c[1][1], 'warn', 'a group that has not read them warns');
like($c[1][2], qr/^"archive": 0 consumers, 0 pending, lag 5, the oldest unread 3m old: is "apiauth-ctl records drain" running\?$/,
    'its lag and the age of what it has not read');

$t->redis('XREADGROUP', 'GROUP', 'archive', 'dead', 'COUNT', 2, 'STREAMS',
    $S, '>');
@c = calls();
like($c[1][2], qr/^"archive": 1 consumer, 2 pending, lag 3, the oldest pending 3m old, the oldest unread 3m old/,
    'pending entries and their age');

my $r = $t->ctl('doctor');
like($r->{out}, qr/^call group\s+warn\s+"archive": 1 consumer, 2 pending/m,
    'in the table for people');

drain('--min-idle', 0);
@c = calls();
is_deeply([map { $_->[1] } @c], ['ok', 'ok'], 'once drained, all is well');
like($c[1][2], qr/^"archive": 2 consumers, 0 pending, lag 0$/,
    'nothing pending, no lag');
like($c[0][2], qr/^a stream of 0 entries, 1 consumer group$/,
    'and the stream trimmed');

# a second group behind, the first up to date
$t->redis('XGROUP', 'CREATE', $S, 'audit', '0');
$t->add_calls(map { $t->call_record(id => rid()) } 1 .. 4);
drain();
@c = calls();
is(scalar @c, 3, 'two groups, two checks');
my ($audit) = grep { $_->[2] =~ /^"audit"/ } @c;
like($audit->[2], qr/^"audit": 0 consumers, 0 pending, lag 4, the oldest unread \d+s old$/,
    'the group behind: its lag');
is($audit->[1], 'ok', 'under a minute behind is fine');

# something else at the stream's name
$t->redis('DEL', $S);
$t->redis('SET', $S, 'x');
@c = calls(1);
is_deeply(\@c, [['call records', 'fail', "$S is a string, not a stream: "
    . 'nginx cannot append call records to it']], 'a string there fails');
$t->redis('DEL', $S);

$t->finish;
done_testing;
