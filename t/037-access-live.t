#!/usr/bin/perl

# Live key changes: with keys cached for an hour and two workers, every
# kind of change made with apiauth-ctl is enforced by nginx within a second,
# through the change stream; a change that races a lookup of its key is
# never lost; the feed's link, killed, comes back and applies what changed
# meanwhile; a reload resumes the feed where the old workers stopped.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client qw(:DEFAULT tok verdict until_verdict lookups
    feed_clients);

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;
$t->ctl('interface', 'add', 'orders', '--url', '/orders', '--app', 'shop');

$t->write_nginx_conf(nginx_conf(
    main => 'worker_processes 2;',
    http => 'apiauth_cache zone=keys:1m ttl=1h;',
    redis => 'apiauth_redis 127.0.0.1:%%REDIS_PORT%% timeout=1s;',
    server => <<'EOF'));
        location /tok/ {
            apiauth token;
            apiauth_app shop;
            apiauth_interface orders;
            @@BACKEND@@
        }
EOF
$t->start_nginx;

sub key {
    my ($name, @args) = @_;
    return $t->create_key('--name', $name, '--app', 'shop', '--interface',
        'orders', @args);
}

sub warm {
    my ($key, $what) = @_;
    my $r = tok($t, $key);
    expect_ok($t, $r, $key, "$what: admitted, now cached");
}

my @took;

# Each change enforced within a second: the change is made, then requests
# are asked until they see it.
sub enforced {
    my ($what, $key, $want, @change) = @_;
    my $c = $t->ctl(@change);
    is($c->{rc}, 0, "$what: apiauth-ctl " . join(' ', @change))
        or diag($c->{err});
    my ($took, $v) = until_verdict($t, $key, $want, 1);
    # ten more requests, which the two workers share, see it too
    my $wrong = grep { $_ ne $want } map { verdict(tok($t, $key)) } 1 .. 10;
    push @took, $took;
    is($v, $want, sprintf '%s: %s within a second (%.3fs)', $what, $want,
        $took);
    is($wrong, 0, "$what: and on every request after it");
}

###############################################################################
# each kind of change

my %k;
$k{$_} = key("key $_") for qw(disable delete rekey regen scope ips expire);

warm($k{$_}, "key $_") for sort keys %k;

enforced('disable', $k{disable}, 'disabled_key',
    'key', 'disable', $k{disable}{access_key});
enforced('enable', $k{disable}, 'ok',
    'key', 'enable', $k{disable}{access_key});

$t->ctl('key', 'disable', $k{delete}{access_key});
until_verdict($t, $k{delete}, 'disabled_key', 1);
enforced('delete', $k{delete}, 'invalid_credentials',
    'key', 'delete', $k{delete}{access_key});

warm($k{rekey}, 'before set-access-key');
my $r = tok($t, { access_key => 'MovedKey0001',
    access_secret => $k{rekey}{access_secret} });
is(verdict($r), 'invalid_credentials', 'the new accessKey is unknown, and '
    . 'cached so');
my $m = $t->ctl_json('key', 'set-access-key', $k{rekey}{access_key},
    'MovedKey0001');
is($m->{rc}, 0, 'set-access-key') or diag($m->{err});
my ($took, $v) = until_verdict($t, $k{rekey}, 'invalid_credentials', 1);
push @took, $took;
is($v, 'invalid_credentials', sprintf 'set-access-key: the old accessKey '
    . 'refused within a second (%.3fs)', $took);
my %moved = (access_key => 'MovedKey0001',
    access_secret => $m->{json}{access_secret});
($took, $v) = until_verdict($t, \%moved, 'ok', 1);
is($v, 'ok', sprintf 'set-access-key: the new one admitted within a second '
    . '(%.3fs): its "unknown" was dropped too', $took);

my $c = $t->ctl_json('key', 'regenerate-secret', $k{regen}{access_key});
my ($took2, $v2) = until_verdict($t, $k{regen}, 'invalid_credentials', 1);
push @took, $took2;
is($v2, 'invalid_credentials', sprintf 'regenerate-secret: the old secret '
    . 'refused within a second (%.3fs)', $took2);
my %regen = (%{ $k{regen} }, access_secret => $c->{json}{access_secret});
($took, $v) = until_verdict($t, \%regen, 'ok', 1);
is($v, 'ok', 'regenerate-secret: the new secret admitted');

enforced('scope', $k{scope}, 'scope_denied',
    'key', 'scope', $k{scope}{access_key}, '--apps', 'crm');
enforced('whitelist', $k{ips}, 'ip_not_allowed',
    'key', 'ip', $k{ips}{access_key}, 'add', '192.0.2.1');
enforced('whitelist cleared', $k{ips}, 'ok',
    'key', 'ip', $k{ips}{access_key}, 'clear');
enforced('expire', $k{expire}, 'expired_key',
    'key', 'expire', $k{expire}{access_key}, 'now');
enforced('expire never', $k{expire}, 'ok',
    'key', 'expire', $k{expire}{access_key}, 'never');

###############################################################################
# the feed's links killed: they come back and apply what changed meanwhile

$k{kill} = key('key kill');
warm($k{kill}, 'before the feed is killed');

$t->wait_feeds(2);
my $log0 = length $t->read_file('error.log');
for (feed_clients($t)) {
    my ($id) = /\bid=(\d+)/;
    $t->redis('CLIENT', 'KILL', 'ID', $id);
}
$t->ctl('key', 'disable', $k{kill}{access_key});
my $t0 = time;
Apiauth::Test::wait_for('the feeds to reconnect', 5, sub {
    substr($t->read_file('error.log'), $log0)
        =~ /connected to Redis at .* \(feed link\)/ });
my $reconnected = time - $t0;
($took, $v) = until_verdict($t, $k{kill}, 'disabled_key', 3);
is($v, 'disabled_key', sprintf 'a change made while the feed was down is '
    . 'enforced %.3fs after it reconnected (%.3fs)', $took, $reconnected);
like(substr($t->read_file('error.log'), $log0),
    qr/lost the connection to Redis at .* \(feed link\)/,
    'the lost link was logged');

###############################################################################
# a reload between two changes: the new workers resume where the old ones
# stopped, without fetching every key again

$k{r1} = key('key reload one');
$k{r2} = key('key reload two');
$k{r3} = key('key reload three');
warm($k{$_}, "key $_") for qw(r1 r2 r3);
enforced('before the reload', $k{r1}, 'disabled_key',
    'key', 'disable', $k{r1}{access_key});
$log0 = length $t->read_file('error.log');
$t->reload_nginx;
Apiauth::Test::wait_for('the new workers\' feeds', 5,
    sub { feed_clients($t) == 2 });
my $before = lookups($t);
enforced('after the reload', $k{r2}, 'disabled_key',
    'key', 'disable', $k{r2}{access_key});
is(verdict(tok($t, $k{r3})), 'ok', 'an unchanged key is still admitted');
is(lookups($t) - $before, 1, 'and it came from the cache: one lookup, of the '
    . 'changed key');
unlike(substr($t->read_file('error.log'), $log0), qr/cannot resume/,
    'the feed resumed: no gap');

###############################################################################
# a change racing a lookup of its key: through a relay that holds Redis's
# answers to lookups back for 600 ms, each key's first lookup is answered
# (enabled) before the disable and arrives after the feed applied it; the
# answer is not cached then, and the change holds

use Apiauth::Relay;
# 600 ms: apiauth-ctl, slower under SAN=1 on a busy host, disables the key
# well within it
my $relay = Apiauth::Relay->new($t, 'relay', delay => ['HGETALL', 0.6]);
$t->stop_nginx;
$t->write_nginx_conf(nginx_conf(
    main => 'worker_processes 2;',
    http => 'apiauth_cache zone=keys:1m ttl=1h;',
    redis => 'apiauth_redis 127.0.0.1:%%PORT_relay%% timeout=1s;',
    server => <<'EOF'));
        location /tok/ { apiauth token; @@BACKEND@@ }
EOF
$t->start_nginx;
$t->wait_feeds(2);

# odd rounds ask again only once the first lookup's answer is in, so that
# only the cache can remember it; even rounds ask while it is still out, so
# that the new request could join it
my $rounds = 20;
my (@lost, @joined, $early);
my $port = $t->port('http');
for my $i (1 .. $rounds) {
    my $key = $t->create_key('--name', "race $i");
    # a request that makes nginx look the key up, left in flight
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp') or die "connect: $!\n";
    print $s build_request('GET', '/tok/x', [['Host', "127.0.0.1:$port"],
        token_headers($key)]);
    my $t0 = time;
    $t->ctl('key', 'disable', $key->{access_key});
    # the disable must be in the stream before the lookup's answer arrives
    $early++ if time - $t0 > 0.5;
    if ($i % 2 == 0) {
        my $after = verdict(tok($t, $key));
        push @joined, "$i: $after" if $after ne 'disabled_key';
    }
    my $first = Apiauth::Client::_exchange($s, '');
    my ($tk, $vv) = until_verdict($t, $key, 'disabled_key', 1.5);
    push @lost, "$i: first $first->{status}, then $vv" if $vv ne 'disabled_key';
}
is_deeply(\@lost, [], "a disable racing the key's first lookup: enforced in "
    . "each of $rounds rounds (the answer from before it not cached)");
is_deeply(\@joined, [], 'a request made after the disable, while the '
    . 'lookup from before it was out, did not take its answer');
ok(!$early, 'and each disable was made while the lookup was out');

diag(sprintf 'changes enforced in %.1f ms at most, %.1f ms median',
    1000 * (sort { $b <=> $a } @took)[0],
    1000 * (sort { $a <=> $b } @took)[@took / 2]);

$t->finish;
done_testing;
