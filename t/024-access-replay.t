#!/usr/bin/perl

# Replay protection: a nonce is used once per accessKey on this nginx node,
# across locations and worker processes; 50 parallel copies of one signed
# request against 4 workers admit exactly one; a forged request does not
# burn the nonce it carries; apiauth_replay_protection off admits repeats;
# a reload keeps the nonces, and one that widens the window keeps them as
# long as the new window accepts their requests.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my $key = $t->create_key('--name', 'Replayer', '--access-key', 'ReplKey00001');
my $key2 = $t->create_key('--name', 'Second', '--access-key', 'ReplKey00002');
my $race = $t->create_key('--name', 'Racer', '--access-key', 'ReplKey00003');

sub conf {
    my ($http) = @_;
    $t->write_nginx_conf(nginx_conf(
        main => 'worker_processes 4;',
        listen => 'listen 127.0.0.1:%%PORT%% reuseport;',
        http => $http // '',
        server => <<'EOF'));
        location /api/ { apiauth signature; @@BACKEND@@ }
        location /api2/ { apiauth signature; @@BACKEND@@ }
        location /norepl/ {
            apiauth signature;
            apiauth_replay_protection off;
            @@BACKEND@@
        }
EOF
}

conf();
$t->start_nginx;

###############################################################################
# once per accessKey and nonce

my $r = send_signed($t, key => $key, target => '/api/a',
    nonce => 'nonce-once-00000001');
expect_ok($t, $r, $key, 'a signed request');
my $first = $r;
$r = resend($t, $first);
expect_refused($t, $r, 'replayed_nonce', 'the same request again');
$r = resend($t, $first);
expect_refused($t, $r, 'replayed_nonce', 'and a third time');
$r = send_signed($t, key => $key, target => '/api/other?x=1',
    nonce => 'nonce-once-00000001');
expect_refused($t, $r, 'replayed_nonce',
    'another request, correctly signed, with the used nonce');
$r = send_signed($t, key => $key, target => '/api2/a',
    nonce => 'nonce-once-00000001');
expect_refused($t, $r, 'replayed_nonce',
    'the used nonce in another protected location');
$r = send_signed($t, key => $key2, target => '/api/a',
    nonce => 'nonce-once-00000001');
expect_ok($t, $r, $key2, 'the same nonce with another accessKey');

###############################################################################
# a forged request does not burn its nonce

$r = send_signed($t, access_key => $key->{access_key}, secret => 'c' x 64,
    target => '/api/f', nonce => 'nonce-forged-0000001');
expect_refused($t, $r, 'bad_signature', 'a forged request with a fresh nonce');
$r = send_signed($t, key => $key, target => '/api/f',
    nonce => 'nonce-forged-0000001');
expect_ok($t, $r, $key, 'the genuine request with the same nonce after it');
$r = resend($t, $r);
expect_refused($t, $r, 'replayed_nonce', 'which then is used');

# a refusal for the clock does not burn it either
$r = send_signed($t, key => $key, target => '/api/g',
    nonce => 'nonce-skewed-0000001', date => time - 1000);
expect_refused($t, $r, 'clock_skew', 'an old request with a fresh nonce');
$r = send_signed($t, key => $key, target => '/api/g',
    nonce => 'nonce-skewed-0000001');
expect_ok($t, $r, $key, 'a current request with that nonce');

###############################################################################
# apiauth_replay_protection off

$r = send_signed($t, key => $key, target => '/norepl/a');
expect_ok($t, $r, $key, 'replay protection off: a request');
$r = resend($t, $r);
expect_ok($t, $r, $key, 'replay protection off: the same request again');

###############################################################################
# 50 parallel copies against 4 workers: exactly one passes

# the key is not cached yet: the copies also wait on its lookup together
my $raw = signed_request(key => $race, target => '/api/race',
    port => $t->port('http'), host => '127.0.0.1:' . $t->port('http'),
    nonce => 'nonce-race-00000001',
    unsigned => [['X-Test-Id', "race-$$"]]);
my @res = parallel_http(map { { port => $t->port('http'), raw => $raw } }
    1 .. 50);
my %by;
$by{ ($_->{status} // 'none') . ' ' . ($_->{json} ? $_->{json}{reason}
    : '-') }++ for @res;
is_deeply(\%by, { '200 -' => 1, '401 replayed_nonce' => 49 },
    '50 parallel copies: one admitted, 49 replayed_nonce');

my @lines;
for (1 .. 40) {
    @lines = grep { $_->{id} eq "race-$$" } access_log_entries($t);
    last if @lines >= 50;
    select undef, undef, undef, 0.05;
}
my $ok = grep { $_->{status} == 200 && $_->{result} eq 'ok' } @lines;
my $replayed = grep { $_->{status} == 401 && $_->{result} eq 'denied'
    && $_->{reason} eq 'replayed_nonce' } @lines;
is_deeply([$ok, $replayed, scalar @lines], [1, 49, 50],
    'the log agrees: one ok, 49 replayed_nonce');
my %pids = map { $_->{pid} => 1 } @lines;
ok(keys %pids > 1, 'the copies were served by ' . keys(%pids)
    . ' worker processes');

###############################################################################
# reloads: a zone of its own, first with a 5 s window, then 30 s

conf("apiauth_nonce zone=widen:1m;\n    apiauth_clock_skew 5s;");
$t->reload_nginx;
my $now = fresh_second();
my $old = send_signed($t, key => $key, target => '/api/old', date => $now - 4);
expect_ok($t, $old, $key, 'a request dated 4 s ago, in a 5 s window');
my $new = send_signed($t, key => $key, target => '/api/new');
expect_ok($t, $new, $key, 'a request dated now');

conf("apiauth_nonce zone=widen:1m;\n    apiauth_clock_skew 30s;");
$t->reload_nginx;
expect_refused($t, resend($t, $new), 'replayed_nonce',
    'after a reload, the request dated now again: the zone kept its nonce');

# past the old window (and its second more), inside the new one
my $wait = $now - 4 + 5 + 3 - time;
sleep $wait if $wait > 0;
expect_refused($t, resend($t, $old), 'replayed_nonce',
    'the request dated past the old window, inside the widened one: still '
    . 'a replay, as the zone keeps nonces for its widest window');

$t->finish;
done_testing;
