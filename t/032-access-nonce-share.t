#!/usr/bin/perl

# One key must not deny service to the others through the nonce zone.  A
# key that may not call (disabled, expired, off its whitelist) never
# remembers a nonce, and a key that may holds at most a quarter of the
# zone: while each of them in turn sends signed requests with new nonces,
# dated at the far edge of the window so that they live longest, as fast as
# one connection goes and enough to fill a small zone four times over,
# another key's requests keep passing, every one.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client;
use Apiauth::Sign qw(signed_raw);

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my %k;
$k{victim} = $t->create_key('--name', 'victim', '--access-key',
    'Victim000001');
$k{flood} = $t->create_key('--name', 'flood', '--access-key', 'Flood0000001');
$k{flood2} = $t->create_key('--name', 'flood 2', '--access-key',
    'Flood0000002');
$k{disabled} = $t->create_key('--name', 'off', '--access-key', 'Off000000001',
    '--disabled');
$k{expired} = $t->create_key('--name', 'old', '--access-key', 'Old000000001');
$k{offlist} = $t->create_key('--name', 'elsewhere', '--access-key',
    'Else00000001', '--ip', '10.9.9.9');
my $r = $t->ctl('key', 'expire', 'Old000000001', 'now');
die "key expire: $r->{err}" if $r->{rc};
sleep 1.1;

# a 64k zone holds 3,568 entries (t/030), a key at most 892 of them; the
# window is wide enough that no nonce expires, and no request falls out of
# it, while the test runs, however slow the machine
my $ZONE_ENTRIES = 3568;
my $SKEW = 120;

sub conf {
    my ($share) = @_;
    $t->write_nginx_conf(nginx_conf(
        http => "apiauth_nonce zone=small:64k$share;\n"
            . "    apiauth_clock_skew ${SKEW}s;",
        server => "keepalive_requests 1000000;\n"
            . 'location / { apiauth signature; @@BACKEND@@ }'));
}

conf('');
$t->start_nginx;

my $port = $t->port('http');

sub connection {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp') or die "connect: $!\n";
    return $s;
}

my ($fs, $vs) = (connection(), connection());

sub signed {
    my ($key, $nonce, $date) = @_;
    return signed_raw(access_key => $key->{access_key},
        secret => $key->{access_secret}, target => '/share',
        host => "127.0.0.1:$port", nonce => $nonce, date => $date);
}

# $n requests of one key with new nonces on one connection, a request of
# the other key's after every 500th (a modest rate: its own nonces stay
# well within its own share); returns what each side got
sub flood {
    my ($who, $n) = @_;
    my (%got, %victim);
    my $edge = int(time) + $SKEW - 1;
    for my $i (1 .. $n) {
        my $r = keepalive($fs, signed($k{$who},
            sprintf('%s-nonce-%08d', $who, $i), $edge));
        $got{$r->{status} . ' '
            . ($r->{json} ? $r->{json}{reason} : 'backend')}++;
        next if $i % 500;
        my $v = keepalive($vs, signed($k{victim},
            sprintf('victim-%s-nonce-%08d', $who, $i), int time));
        $victim{$v->{status}}++;
    }
    return (\%got, \%victim);
}

my $N = 4 * $ZONE_ENTRIES;

my %expect = (
    disabled => '403 disabled_key',
    expired => '401 expired_key',
    offlist => '403 ip_not_allowed',
);

for my $who (qw(disabled expired offlist)) {
    my ($got, $victim) = flood($who, $N);
    is_deeply($got, { $expect{$who} => $N },
        "$who key: $N signed requests with new nonces, each $expect{$who}");
    is_deeply($victim, { 200 => int($N / 500) },
        "while the $who key floods, every request of another key passes");
}

my $t0 = time;
my ($got, $victim) = flood('flood', $N);
my $secs = time - $t0;
my $admitted = $got->{'200 backend'} // 0;
my $refused = $got->{'503 store_unavailable'} // 0;
diag(sprintf 'a key flooding a 64k zone: %d of %d admitted (%.0f%% of the '
    . 'zone), then refused, in %.1fs', $admitted, $N,
    100 * $admitted / $ZONE_ENTRIES, $secs);
is($admitted + $refused, $N, 'an enabled key flooding: admitted, or 503 '
    . 'store_unavailable, nothing else') or diag(explain $got);
ok($refused > 0, "refused once it holds its share ($refused refusals)");
ok($admitted <= $ZONE_ENTRIES / 4,
    "it never holds more than a quarter of the zone ($admitted entries)");
ok($admitted >= $ZONE_ENTRIES / 8,
    "and gets a fair part of its quarter first ($admitted entries)");
is_deeply($victim, { 200 => int($N / 500) },
    'while it floods, every request of another key passes');

my @logged = grep { /apiauth: key "Flood0000001" holds its share of nonce zone "small":/ }
    split /\n/, $t->read_file('error.log');
ok(@logged >= 1, 'the error log names the key over its share');
ok(@logged <= int($secs) + 2, 'at most once a second (' . scalar(@logged)
    . ' lines)');
ok(!grep({ /is full of live nonces|key "Victim000001" holds its share/ }
        split /\n/, $t->read_file('error.log')),
    'neither the zone nor the other key\'s share was ever full');

# a reload keeps the zone and its nonces, and may give each key more room
my $before = signed($k{victim}, 'victim-before-reload-1', int time);
is(keepalive($vs, $before)->{status}, 200, 'a request admitted before a '
    . 'reload');
close $_ for $fs, $vs;
conf(' share=50%');
$t->reload_nginx;
($fs, $vs) = (connection(), connection());
$r = keepalive($vs, $before);
is($r->{json} && $r->{json}{reason}, 'replayed_nonce',
    'is a replay after it: the zone kept its nonces');

($got, $victim) = flood('flood2', $N);
$admitted = $got->{'200 backend'} // 0;
diag("with share=50%: $admitted of $N admitted");
ok($admitted > $ZONE_ENTRIES / 4 && $admitted <= $ZONE_ENTRIES / 2,
    "after a reload with share=50%, a key holds more than a quarter, at "
    . "most half ($admitted entries)");
is($admitted + ($got->{'503 store_unavailable'} // 0), $N,
    'and is refused past it with 503 store_unavailable');
is_deeply($victim, { 200 => int($N / 500) },
    'while it floods, every request of another key passes');

close $_ for $fs, $vs;
$t->finish;
done_testing;
