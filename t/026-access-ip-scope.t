#!/usr/bin/perl

# The IP whitelist and the scopes.  Every whitelist form (IPv4, CIDR, *
# octets, IPv6, IPv6 prefix, lists, empty) against callers over IPv4
# (127.0.0.1), IPv6 (::1) and an IPv4-mapped IPv6 peer (::ffff:127.0.0.1);
# every combination of a key's apps (all or a list) and interfaces (all or
# a list) with a location that sets apiauth_app, apiauth_interface, both or
# neither; variables in apiauth_interface and apiauth_app.  The whitelist
# reads $remote_addr only: X-Forwarded-For counts where realip trusts its
# sender, never by itself; a caller over a unix socket has no address a
# whitelist could name.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::UNIX;
use Test::More;
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

# The mapped peer: a dual-stack socket (ipv6only=off) bound to the mapped
# loopback address.  nginx sees a caller that connects to 127.0.0.1 on it
# as ::ffff:127.0.0.1, without listening on anything but loopback (checked
# below through /whoami).
$t->write_nginx_conf(nginx_conf(
    listen => 'listen 127.0.0.1:%%PORT%%; listen [::1]:%%PORT%%; '
        . 'listen [::ffff:127.0.0.1]:%%PORT_mapped%% ipv6only=off;',
    server => <<'EOF'));
        location = /whoami { return 200 "$remote_addr"; }
        location /ip/ { apiauth signature; @@BACKEND@@ }
        location /s/none/ { apiauth signature; @@BACKEND@@ }
        location /s/app/ { apiauth signature; apiauth_app shop; @@BACKEND@@ }
        location /s/if/ {
            apiauth signature;
            apiauth_interface orders;
            @@BACKEND@@
        }
        location /s/both/ {
            apiauth signature;
            apiauth_app shop;
            apiauth_interface orders;
            @@BACKEND@@
        }
        location ~ ^/v/(\w+)$ {
            apiauth signature;
            apiauth_interface $1;
            apiauth_app $arg_app;
            @@BACKEND@@
        }
EOF

###############################################################################
# the whitelist

# [entries, admitted over IPv4, over IPv6, from the mapped peer]
my @ips = (
    [[], 1, 1, 1],
    [['127.0.0.1'], 1, 0, 1],
    [['127.0.0.2'], 0, 0, 0],
    [['127.0.0.0/8'], 1, 0, 1],
    [['10.0.0.0/8'], 0, 0, 0],
    [['127.0.0.*'], 1, 0, 1],
    [['127.*.*.*'], 1, 0, 1],
    [['127.0.1.*'], 0, 0, 0],
    [['::1'], 0, 1, 0],
    [['::1/128'], 0, 1, 0],
    [['::/96'], 0, 1, 0],
    [['2001:db8::/32'], 0, 0, 0],
    [['::ffff:127.0.0.1'], 1, 0, 1],
    [['10.0.0.1', '127.0.0.1'], 1, 0, 1],
    [['10.0.0.1', '::1'], 0, 1, 0],
);
my $n = 0;
for my $c (@ips) {
    $c->[4] = $t->create_key('--name',
        'ip ' . (join(',', @{ $c->[0] }) || 'any'),
        '--access-key', sprintf('IpForm%06d', ++$n),
        map { ('--ip', $_) } @{ $c->[0] });
}

my %scope_keys = (
    all => [],
    app => ['--app', 'shop'],
    if => ['--interface', 'orders'],
    both => ['--app', 'shop', '--interface', 'orders'],
    other => ['--app', 'crm', '--interface', 'users'],
    multi => ['--app', 'crm,shop', '--interface', 'users,orders'],
);
my %sk;
for (sort keys %scope_keys) {
    $sk{$_} = $t->create_key('--name', "scope $_", '--access-key',
        sprintf('Scope%s00001', ucfirst), @{ $scope_keys{$_} });
}

$t->start_nginx;

my $r = send_plain($t, target => '/whoami', port => $t->port('mapped'));
is($r->{body}, '::ffff:127.0.0.1',
    'the mapped listener shows its callers as ::ffff:127.0.0.1');
$r = send_plain($t, target => '/whoami', v6 => 1, host => '[::1]');
is($r->{body}, '::1', 'the IPv6 listener shows ::1');

for my $c (@ips) {
    my ($entries, $v4, $v6, $mapped, $key) = @$c;
    my $list = @$entries ? join(',', @$entries) : 'empty';
    for my $via (['IPv4', $v4, {}], ['IPv6 ::1', $v6, { v6 => 1 }],
        ['mapped ::ffff:127.0.0.1', $mapped,
            { port => $t->port('mapped') }])
    {
        my ($name, $want, $how) = @$via;
        $r = send_signed($t, key => $key, target => '/ip/x', %$how);
        my $what = "whitelist $list, caller over $name";
        $want ? expect_ok($t, $r, $key, $what)
            : expect_refused($t, $r, 'ip_not_allowed', $what);
    }
}

###############################################################################
# scope: key apps/interfaces x what the location sets

my %loc = (none => [undef, undef], app => ['shop', undef],
    if => [undef, 'orders'], both => ['shop', 'orders']);

sub admits {
    my ($key_opts, $want_app, $want_if) = @_;
    my %k = (apps => '*', interfaces => '*');
    for (my $i = 0; $i < @$key_opts; $i += 2) {
        $k{ $key_opts->[$i] eq '--app' ? 'apps' : 'interfaces' }
            = $key_opts->[$i + 1];
    }
    for ([$k{apps}, $want_app], [$k{interfaces}, $want_if]) {
        my ($has, $want) = @$_;
        next if $has eq '*';
        # a dimension the location leaves unset admits only keys of all
        return 0 unless defined $want && grep { $_ eq $want } split /,/, $has;
    }
    return 1;
}

for my $l (sort keys %loc) {
    for my $k (sort keys %sk) {
        my $want = admits($scope_keys{$k}, @{ $loc{$l} });
        $r = send_signed($t, key => $sk{$k}, target => "/s/$l/x");
        my $what = sprintf 'key of apps %s, interfaces %s; location with %s',
            map({ my $o = $_; my %h = @{ $scope_keys{$k} };
                $h{$o} // 'all' } '--app', '--interface'),
            $l eq 'none' ? 'neither app nor interface'
                : $l eq 'both' ? 'app shop and interface orders'
                : $l eq 'app' ? 'app shop only' : 'interface orders only';
        $want ? expect_ok($t, $r, $sk{$k}, $what)
            : expect_refused($t, $r, 'scope_denied', $what);
    }
}

###############################################################################
# variables: apiauth_interface $1, apiauth_app $arg_app

for my $c (['both', '/v/orders?app=shop', 1],
    ['both', '/v/users?app=shop', 0],
    ['both', '/v/orders?app=crm', 0],
    ['multi', '/v/users?app=crm', 1],
    ['if', '/v/orders?app=any', 1],
    ['if', '/v/users?app=any', 0])
{
    my ($k, $target, $want) = @$c;
    $r = send_signed($t, key => $sk{$k}, target => $target);
    my $what = "apiauth_interface \$1, apiauth_app \$arg_app: $target, "
        . "key $sk{$k}{name}";
    $want ? expect_ok($t, $r, $sk{$k}, $what)
        : expect_refused($t, $r, 'scope_denied', $what);
}

###############################################################################
# X-Forwarded-For, with and without realip; a unix socket

$t->stop_nginx;
my $far = $t->create_key('--name', 'far', '--access-key', 'FarKey000001',
    '--ip', '10.1.2.3');
my $near = $t->create_key('--name', 'near', '--access-key', 'NearKey00001',
    '--ip', '127.0.0.1');
my $anywhere = $t->create_key('--name', 'anywhere', '--access-key',
    'AnyWhere0001');
$t->write_nginx_conf(nginx_conf(
    listen => 'listen 127.0.0.1:%%PORT%%; listen unix:%%PREFIX%%/http.sock;',
    server => <<'EOF'));
        location /plain/ { apiauth token; @@BACKEND@@ }
        location /trusted/ {
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Forwarded-For;
            apiauth token;
            @@BACKEND@@
        }
        location /untrusted/ {
            set_real_ip_from 10.0.0.0/8;
            real_ip_header X-Forwarded-For;
            apiauth token;
            @@BACKEND@@
        }
EOF
$t->start_nginx;

sub xff {
    my ($key, $path, $xff) = @_;
    return send_plain($t, target => $path, headers => [token_headers($key),
        ['X-Forwarded-For', $xff]]);
}

$r = xff($far, '/plain/x', '10.1.2.3');
expect_refused($t, $r, 'ip_not_allowed',
    'X-Forwarded-For naming a whitelisted address, without realip: ignored');
$r = xff($near, '/plain/x', '10.9.9.9');
expect_ok($t, $r, $near, 'without realip, the peer\'s own address counts');
$r = xff($far, '/trusted/x', '10.1.2.3');
expect_ok($t, $r, $far, 'with realip trusting the peer: its '
    . 'X-Forwarded-For is the caller');
$r = xff($near, '/trusted/x', '10.1.2.3');
expect_refused($t, $r, 'ip_not_allowed',
    'and the peer\'s own address no longer counts');
$r = xff($far, '/untrusted/x', '10.1.2.3');
expect_refused($t, $r, 'ip_not_allowed',
    'with realip trusting other proxies only: ignored');

# over the unix socket
sub over_unix {
    my ($key) = @_;
    my $id = "unix-$key->{access_key}";
    my $s = IO::Socket::UNIX->new(Peer => $t->dir . '/http.sock')
        or die "unix socket: $!\n";
    my $r = Apiauth::Client::_exchange($s, build_request('GET', '/plain/u',
        [['Host', 'localhost'], token_headers($key), ['X-Test-Id', $id]]));
    $r->{id} = $id;
    return $r;
}
$r = over_unix($near);
expect_refused($t, $r, 'ip_not_allowed',
    'over a unix socket, a key with a whitelist: no address to match');
$r = over_unix($anywhere);
expect_ok($t, $r, $anywhere, 'over a unix socket, a key without one');

$t->finish;
done_testing;
