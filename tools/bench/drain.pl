#!/usr/bin/perl

# apiauth-ctl records drain: how fast it archives and how large the archive
# grows.  Starts a private Redis (t/lib/Apiauth/Test.pm), appends N
# realistic call records (default 200,000) to {apiauth}:records, drains
# them into a new archive and prints records/s and the archive's bytes per
# record (the file after the drain's last checkpoint, with its -wal and
# -shm if any are left), then times a report over them.  The figures in
# docs/records.md, "Performance", come from here.
#
#   APIAUTH_BUILD=build perl tools/bench/drain.pl [--records N] [--batch N]
#       [--runs N]

use strict;
use warnings;

use File::Basename qw(dirname);
use FindBin;
# the repository's t/lib, two directories up
use lib dirname(dirname($FindBin::Bin)) . '/t/lib';
use Getopt::Long;
use JSON::PP;
use Time::HiRes qw(time);
use Apiauth::Test;

my %o = (records => 200_000, runs => 3);
GetOptions(\%o, 'records=i', 'batch=i', 'runs=i')
    or die "usage: $0 [--records N] [--batch N] [--runs N]\n";

my $t = Apiauth::Test->new;
$t->start_redis;
$t->redis('CONFIG', 'SET', 'save', '');

my @ifs = qw(orders users stock payments invoices search shipping auth
    catalog reports);
my @keys = map { sprintf 'PartnerKey%04d', $_ } 1 .. 50;
my @reasons = (('ok') x 90, ('ok;stale') x 2, ('bad_signature') x 3,
    ('ip_not_allowed') x 2, ('missing_credentials') x 2,
    'store_unavailable');
my %status = (ok => [200, 200, 200, 201, 204, 404], bad_signature => [401],
    ip_not_allowed => [403], missing_credentials => [401],
    store_unavailable => [503]);
my $n = 0;

# one call as nginx records it: a key of 50, an interface of 10, a
# partner's address (v4, a tenth v6), a latency with a long tail
sub call {
    my $t0 = shift;
    my $reason = $reasons[rand @reasons];
    my $k = rand() < 0.02 ? '' : $keys[rand @keys];
    my $if = $ifs[rand @ifs];
    my $result = $reason =~ /^ok/ ? 'ok'
        : $reason eq 'store_unavailable' ? 'error' : 'denied';
    my $s = $status{$reason =~ s/;.*//r};
    $n++;
    return {
        v => 1,
        id => join('', map { sprintf '%08x', int rand 2**32 } 1 .. 4),
        t => $t0 + $n,
        ak => $k,
        name => $k ? "Partner $k" : '',
        ip => rand() < 0.1
            ? sprintf('2001:db8:%x::%x', rand 65536, rand 65536)
            : sprintf('203.0.%d.%d', rand 256, 1 + rand 254),
        method => rand() < 0.8 ? 'GET' : 'POST',
        path => "/api/v1/$if/" . int(rand 1_000_000),
        interface => $if,
        app => $if =~ /^(orders|payments|invoices|shipping)$/ ? 'shop'
            : 'crm',
        status => $s->[rand @$s],
        result => $result,
        reason => $reason,
        rt => int(exp(rand(7))),
        bytes => int(200 + rand 20_000),
        server => 'api.example.com',
        node => 'web-' . (1 + int rand 4),
    };
}

sub fill {
    my $t0 = int(time * 1000) - 3_600_000;
    my $start = time;
    for (my $i = 0; $i < $o{records}; $i += 1000) {
        my $m = $o{records} - $i < 1000 ? $o{records} - $i : 1000;
        $t->add_calls(map { call($t0) } 1 .. $m);
    }
    return time - $start;
}

sub size {
    my ($db) = @_;
    my $s = 0;
    $s += -s $_ // 0 for grep { -e } $db, "$db-wal", "$db-shm";
    return $s;
}

printf "apiauth-ctl records drain: %d records, batch %s, %d runs\n",
    $o{records}, $o{batch} // 'default', $o{runs};
printf "%-5s %8s %10s %8s %10s %10s %14s\n", 'run', 'seconds',
    'records/s', 'cpu s', 'rec/cpu s', 'bytes/rec', 'archive bytes';

my @rates;
my $db;
for my $run (1 .. $o{runs}) {
    $t->redis('DEL', '{apiauth}:records');
    my $fill = fill();
    $db = $t->dir . "/bench-$run.db";
    my $start = time;
    my @cpu = (times)[2, 3];
    my $r = $t->ctl('--json', 'records', 'drain', '--db', $db,
        $o{batch} ? ('--batch', $o{batch}) : ());
    my $secs = time - $start;
    my @cpu2 = (times)[2, 3];
    my $cpu = $cpu2[0] + $cpu2[1] - $cpu[0] - $cpu[1];
    die "drain failed: $r->{err}" if $r->{rc};
    my $j = decode_json($r->{out});
    die "drain archived $j->{archived} of $o{records}\n"
        if $j->{archived} != $o{records};
    my $bytes = size($db);
    push @rates, $o{records} / $secs;
    printf "%-5d %8.2f %10.0f %8.2f %10.0f %10.1f %14d\n", $run, $secs,
        $o{records} / $secs, $cpu, $o{records} / ($cpu || 0.01),
        $bytes / $o{records}, $bytes;
}

@rates = sort { $a <=> $b } @rates;
printf "median %.0f records/s (goal: 50000)\n", $rates[$#rates / 2];

# a report over them all: counts and percentiles per interface
for my $by (qw(interface key)) {
    my $start = time;
    my $r = $t->ctl('--json', 'records', 'report', '--db', $db, '--group-by',
        $by);
    die "report failed: $r->{err}" if $r->{rc};
    printf "report --group-by %s over %d records: %.2f s\n", $by,
        $o{records}, time - $start;
}
my $start = time;
my $r = $t->ctl('--json', 'records', 'report', '--db', $db, '--key',
    $keys[0], '--since', '-2h');
printf "report --key K --since -2h (the newest 100 of %d): %.2f s\n",
    $o{records} / 50, time - $start;

$t->stop_redis;
