#!/usr/bin/perl

# The nonce zone's capacity: a 64k zone remembers about 16 bytes per nonce;
# full of live nonces, it refuses signed requests with 503 store_unavailable
# and says so in the error log at most once a second, rather than forget a
# nonce; once the nonces expire it takes new ones.  "Full" is per nonce:
# each may live in two buckets of sixteen, so a zone that refuses nearly
# every new nonce may still find room for an odd one; what must never
# happen is a refusal other than 503 store_unavailable, or a forgotten one.
# The zone's own capacity, so without each key's share (share=100%; the
# share is t/032-access-nonce-share.t's), sixteen keys taking turns.

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

my @keys = map { $t->create_key('--name', "nonces $_", '--access-key',
    sprintf('NonceKey%04d', $_)) } 1 .. 16;
my $key = $keys[0];
my $ZONE = 65536;

$t->write_nginx_conf(nginx_conf(
    http => "apiauth_nonce zone=small:64k share=100%;\n"
        . "    apiauth_clock_skew 10s;",
    server => "keepalive_requests 100000;\n"
        . 'location / { apiauth signature; @@BACKEND@@ }'));
$t->start_nginx;

my $port = $t->port('http');
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
    Proto => 'tcp') or die;
my $n = 0;

# one keepalive connection; returns the response
sub call {
    my ($nonce, $date, $k) = @_;
    $k //= $key;
    return keepalive($s, signed_raw(access_key => $k->{access_key},
        secret => $k->{access_secret}, target => '/n',
        host => "127.0.0.1:$port", nonce => $nonce, date => $date));
}

my $date = int time;
my ($ok, $first_full, $run, %statuses, %reasons) = (0, undef, 0);
my $t0 = time;
for my $i (1 .. 8000) {
    my $r = call(sprintf('fill-nonce-%08d', $i), $date, $keys[$i % 16]);
    my $st = $r->{status};
    $statuses{$st}++;
    if ($st == 503) {
        $first_full //= $ok;
        $reasons{$r->{json} ? $r->{json}{reason} : $r->{body}}++;
    }
    $ok++ if $st == 200;
    $run = $st == 503 ? $run + 1 : 0;
    last if $run == 200;
}
my $took = time - $t0;

ok(defined $first_full, 'a full zone refuses with 503')
    or diag(explain \%statuses);
is(join(',', sort keys %statuses), '200,503', 'only 200s and 503s');
is($run, 200, 'until it refuses 200 new nonces in a row');
is(join(',', sort keys %reasons), 'store_unavailable',
    'every refusal is store_unavailable') or diag(explain \%reasons);
diag(sprintf '64k zone: first refusal after %d nonces (%.1f bytes each), '
    . 'full at %d (%.1f bytes each), in %.1fs', $first_full // 0,
    $ZONE / ($first_full || 1), $ok, $ZONE / ($ok || 1), $took);
ok($first_full >= 2800, "the first refusal comes late: after $first_full "
    . 'nonces, about 20 bytes of zone each');
ok($ok >= 3200 && $ok <= $ZONE / 16,
    "full at 16 bytes of zone per nonce, plus overhead: $ok in 64k");

my @logged = grep { /apiauth: nonce zone "small" is full of live nonces/ }
    split /\n/, $t->read_file('error.log');
ok(@logged >= 1, 'the error log says the nonce zone is full');
ok(@logged <= int($took) + 2, 'at most once a second (' . scalar(@logged)
    . ' lines in ' . sprintf('%.1f', $took) . 's)');

# a replay of a remembered nonce is still a replay, full or not (asked at
# once: the fill's date must still be within the window, however slow the
# machine is with what follows)
my $r = call('fill-nonce-00000001', $date, $keys[1]);
is($r->{status}, 401, 'a remembered nonce is still refused');
is($r->{json} && $r->{json}{reason}, 'replayed_nonce', 'as replayed');

# fresh nonces with the current date: nearly all refused (after 200
# refusals in a row, well under one in ten finds room)
my (%fresh, %fresh_reasons);
for my $i (1 .. 40) {
    my $r = call(sprintf('fresh-nonce-%08d', $i), int time);
    $fresh{$r->{status}}++;
    $fresh_reasons{$r->{json} ? $r->{json}{reason} : 'none'}++
        if $r->{status} == 503;
}
ok(($fresh{503} // 0) >= 30, 'still full for fresh nonces: '
    . ($fresh{503} // 0) . ' of 40 refused') or diag(explain \%fresh);
ok(!(grep { $_ != 200 && $_ != 503 } keys %fresh),
    'the others taken, nothing else');
is(join(',', sort keys %fresh_reasons), 'store_unavailable',
    'as store_unavailable');

# the nonces live until their date plus the skew, and a second more
# (workers read the clock each on its own): then the zone takes more
my $wait = $date + 12 - time;
sleep $wait if $wait > 0;
$r = http($port, signed_request(key => $key, target => '/later',
    port => $port, host => "127.0.0.1:$port"));
is($r->{status}, 200, 'after the nonces expired, a new nonce is taken');

close $s;
$t->finish;
done_testing;
