#!/usr/bin/perl

# Every reason code: its status, the JSON body (error, public reason,
# request_id = $request_id), WWW-Authenticate on 401, the exact reason in
# $apiauth_reason and $apiauth_result in the access log; the order the
# checks are made in; an operator's error_page wins over the JSON body; an
# upstream's own 401/403 passes untouched; satisfy any admits a request
# that another access module allows, and leaves a location's own 403 page
# alone; refusals reach a slow reader in full.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my @scope = ('--app', 'shop', '--interface', 'orders');
my %k;
$k{good} = $t->create_key('--name', 'Good one', '--access-key',
    'GoodKey00001', @scope);
$k{good2} = $t->create_key('--name', 'Good two', '--access-key',
    'GoodKey00002', @scope);
$k{disabled} = $t->create_key('--name', 'Off', '--access-key',
    'OffKey000001', @scope, '--disabled');
$k{expired} = $t->create_key('--name', 'Old', '--access-key',
    'OldKey000001', @scope);
$k{ip} = $t->create_key('--name', 'Elsewhere', '--access-key',
    'IpKey0000001', @scope, '--ip', '10.0.0.1');
$k{scope} = $t->create_key('--name', 'Users only', '--access-key',
    'ScopeKey0001', '--app', 'shop', '--interface', 'users');
# two failed checks at once, for the order
$k{dis_exp} = $t->create_key('--name', 'Off and old', '--access-key',
    'DisExp000001', @scope, '--disabled');
$k{exp_ip} = $t->create_key('--name', 'Old elsewhere', '--access-key',
    'ExpIp0000001', @scope, '--ip', '10.0.0.1');
$k{ip_scope} = $t->create_key('--name', 'Elsewhere users', '--access-key',
    'IpScope00001', '--ip', '10.0.0.1', '--interface', 'users');
$k{unseen} = $t->create_key('--name', 'Never asked', '--access-key',
    'Unseen000001', @scope);
for (qw(expired dis_exp exp_ip)) {
    my $r = $t->ctl('key', 'expire', $k{$_}{access_key}, 'now');
    die "key expire: $r->{err}" if $r->{rc};
}
sleep 1.1;    # expired means now is past the expiry

mkdir $t->dir . '/html';
mkdir $t->dir . '/html/noindex';
write_file($t->dir . '/html/denied.html', "operator's own page\n");

$t->write_nginx_conf(nginx_conf(server => <<'EOF', servers => <<'EOF2'));
        apiauth_app shop;
        apiauth_interface orders;
        location /api/ { apiauth signature; @@BACKEND@@ }
        location /tok/ { apiauth token; @@BACKEND@@ }
        location /custom/ {
            apiauth signature;
            error_page 401 403 /denied.html;
            @@BACKEND@@
        }
        location = /denied.html { apiauth off; root %%PREFIX%%/html; }
        location /up/ {
            apiauth signature;
            proxy_pass http://127.0.0.1:%%PORT_up%%;
        }
        location /satisfy/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            apiauth signature;
            @@BACKEND@@
        }
        location /satisfy-deny/ {
            satisfy any;
            deny all;
            apiauth signature;
            @@BACKEND@@
        }
EOF
    server {
        listen 127.0.0.1:%%PORT_up%%;
        access_log off;
        location /up/401 {
            add_header WWW-Authenticate 'Basic realm="upstream"' always;
            return 401 "upstream says no\n";
        }
        location /up/403 { return 403 "upstream forbids\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_slow%% sndbuf=4k;
        access_log %%PREFIX%%/apiauth.log apiauth;
        send_timeout 3s;
        keepalive_requests 1000;
        location /api/ { apiauth token; @@BACKEND@@ }
        location /any/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            apiauth token;
            alias %%PREFIX%%/html/;
        }
    }
EOF2
$t->start_nginx;

sub signed {
    my ($key, %a) = @_;
    return send_signed($t, key => $key, target => '/api/orders', %a);
}

###############################################################################
# each reason code

my $r = signed($k{good});
expect_ok($t, $r, $k{good}, 'a valid signed request, key name logged');

$r = send_plain($t, target => '/api/orders');
expect_refused($t, $r, 'missing_credentials', 'no Authorization');

$r = send_plain($t, target => '/api/orders',
    headers => [['Authorization', 'APIAUTH-HMAC-SHA256 nonsense']]);
expect_refused($t, $r, 'malformed_credentials', 'a broken Authorization');

$r = signed($k{good}, date => time - 1000);
expect_refused($t, $r, 'clock_skew', 'a date 1000s ago');

$r = signed({ access_key => 'NoSuchKey0001', access_secret => 'a' x 64 });
expect_refused($t, $r, 'unknown_key', 'an unknown accessKey');

$r = signed({ access_key => $k{good}{access_key}, access_secret => 'a' x 64 });
expect_refused($t, $r, 'bad_signature', 'a signature with a wrong secret');

$r = send_plain($t, target => '/tok/orders', headers => [['Authorization',
    "Bearer $k{good}{access_key}." . ('a' x 64)]]);
expect_refused($t, $r, 'bad_secret', 'a token with a wrong secret');

$r = signed($k{good}, nonce => 'replay-me-0000000001');
expect_ok($t, $r, $k{good}, 'a signed request');
$r = resend($t, $r);
expect_refused($t, $r, 'replayed_nonce', 'the same signed request again');

$r = signed($k{expired});
expect_refused($t, $r, 'expired_key', 'an expired key');

$r = signed($k{disabled});
expect_refused($t, $r, 'disabled_key', 'a disabled key');

$r = signed($k{ip});
expect_refused($t, $r, 'ip_not_allowed', 'a caller off the whitelist');

$r = signed($k{scope});
expect_refused($t, $r, 'scope_denied', 'a key without the interface');

###############################################################################
# the order of the checks

$r = signed({ access_key => 'NoSuchKey0002', access_secret => 'a' x 64 },
    nonce => 'short', date => time - 1000);
expect_refused($t, $r, 'malformed_credentials',
    'syntax before clock skew (bad nonce, old date)');
$r = signed({ access_key => 'NoSuchKey0003', access_secret => 'a' x 64 },
    date => time - 1000);
expect_refused($t, $r, 'clock_skew',
    'clock skew before the key lookup (unknown key, old date)');
$r = signed({ access_key => $k{disabled}{access_key},
    access_secret => 'a' x 64 });
expect_refused($t, $r, 'bad_signature',
    'a disabled key with a wrong signature: bad_signature first');
$r = send_plain($t, target => '/tok/orders', headers => [['Authorization',
    "Bearer $k{ip_scope}{access_key}." . ('a' x 64)]]);
expect_refused($t, $r, 'bad_secret',
    'a key off the whitelist and scope with a wrong secret: bad_secret');

$r = signed($k{good2}, nonce => 'order-nonce-000000001');
expect_ok($t, $r, $k{good2}, 'a signed request (for the forged one after)');
$r = signed({ access_key => $k{good2}{access_key}, access_secret => 'b' x 64 },
    nonce => 'order-nonce-000000001');
expect_refused($t, $r, 'bad_signature',
    'a forged request with a used nonce: bad_signature before replay');

# a nonce is remembered for an admitted request only: a disabled key's
# request stays disabled_key however often it is sent, and fills nothing
$r = signed($k{disabled}, nonce => 'disabled-nonce-00001');
expect_refused($t, $r, 'disabled_key', 'a disabled key, first time');
$r = resend($t, $r);
expect_refused($t, $r, 'disabled_key',
    'the same request of a disabled key again: disabled, its nonce unseen');

$r = signed($k{dis_exp});
expect_refused($t, $r, 'disabled_key', 'disabled and expired: disabled_key');
$r = signed($k{exp_ip});
expect_refused($t, $r, 'expired_key',
    'expired and off the whitelist: expired_key');
$r = signed($k{ip_scope});
expect_refused($t, $r, 'ip_not_allowed',
    'off the whitelist and out of scope: ip_not_allowed');

###############################################################################
# an operator's error_page wins

$r = send_plain($t, target => '/custom/x');
is_deeply([$r->{status}, $r->{body}], [401, "operator's own page\n"],
    'error_page 401: the operator\'s page, status kept');
is(logged($t, $r)->{reason}, 'missing_credentials',
    'and $apiauth_reason is still logged');
$r = signed($k{disabled}, target => '/custom/x');
is_deeply([$r->{status}, $r->{body}], [403, "operator's own page\n"],
    'error_page 403: the operator\'s page, status kept');
$r = signed($k{good}, target => '/custom/x');
expect_ok($t, $r, $k{good}, 'a valid request where error_page is set');

###############################################################################
# an upstream's own 401 and 403 are never rewritten

$r = signed($k{good}, target => '/up/401');
is_deeply({ status => $r->{status}, body => $r->{body},
        www => $r->{headers}{'www-authenticate'},
        type => $r->{headers}{'content-type'} },
    { status => 401, body => "upstream says no\n",
        www => 'Basic realm="upstream"', type => 'text/plain' },
    'an upstream\'s 401 passes through untouched');
is(logged($t, $r)->{result}, 'ok', 'the request itself was admitted');
$r = signed($k{good}, target => '/up/403');
is_deeply([$r->{status}, $r->{body}, $r->{headers}{'content-type'}],
    [403, "upstream forbids\n", 'text/plain'],
    'an upstream\'s 403 passes through untouched');

###############################################################################
# satisfy any

$r = send_plain($t, target => '/satisfy/x');
is_deeply([$r->{status}, $r->{body}], [200, "backend GET /satisfy/x\n"],
    'satisfy any with allow 127.0.0.1: no credentials needed');
$r = send_plain($t, target => '/satisfy-deny/x');
expect_refused($t, $r, 'missing_credentials',
    'satisfy any with deny all: the module\'s 401');
$r = signed($k{good}, target => '/satisfy-deny/x');
expect_ok($t, $r, $k{good}, 'satisfy any with deny all: a valid request');

# allow admits a refused request; the location's own 403 (a directory
# without an index) is nginx's page, not ours
$r = send_plain($t, port => $t->port('slow'), target => '/any/noindex/',
    headers => [token_headers($k{disabled})]);
is($r->{status}, 403, 'satisfy any: a directory without index is 403');
like($r->{headers}{'content-type'} // '', qr{^text/html},
    'satisfy any: the location\'s own 403 page is nginx\'s, not the JSON');

###############################################################################
# refusals to a slow reader: every one arrives, none waits for send_timeout

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
    PeerPort => $t->port('slow'), Proto => 'tcp') or die;
my $n = 300;
print $s "GET /api/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" x $n;
sleep 0.5;    # the client reads nothing meanwhile: a slow reader
my ($buf, $t0) = ('', Time::HiRes::time());
my $sel = IO::Select->new($s);
while (Time::HiRes::time() - $t0 < 6) {
    last unless $sel->can_read(1);
    my $got = sysread($s, $buf, 65536, length $buf);
    last unless $got;
    last if (() = $buf =~ /\{"error":"unauthorized"/g) == $n;
}
close $s;
is(scalar(() = $buf =~ /\{"error":"unauthorized","reason":"missing_credentials"/g),
    $n, "$n pipelined refusals to a slow reader all arrive");
ok(Time::HiRes::time() - $t0 < 3, 'before send_timeout');

###############################################################################
# store_unavailable, and the clock checked before any lookup

$t->stop_redis;
$r = signed($k{unseen});
expect_refused($t, $r, 'store_unavailable',
    'a key never looked up, Redis stopped');
$r = signed($k{unseen}, date => time - 1000);
expect_refused($t, $r, 'clock_skew',
    'an old date with Redis stopped: clock_skew, no lookup');

$t->finish;
done_testing;
