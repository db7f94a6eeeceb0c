#!/usr/bin/perl

# Internal redirects after the access phase (try_files, index, error_page,
# X-Accel-Redirect) into a second protected location: the verified identity
# survives, the request is not verified again (its nonce is not seen
# twice), and the second location's scope still applies.  A request that
# was never verified is checked where it lands.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my $ab = $t->create_key('--name', 'A and B', '--access-key', 'RedirAB00001',
    '--interface', 'ifa,ifb');
my $a = $t->create_key('--name', 'A only', '--access-key', 'RedirA000001',
    '--interface', 'ifa');
my $b = $t->create_key('--name', 'B only', '--access-key', 'RedirB000001',
    '--interface', 'ifb');

mkdir $t->dir . '/html';
mkdir $t->dir . '/html/ix';
write_file($t->dir . '/html/ix/index.html', "index page\n");

# The second location tells which key it saw.
my $seen = 'add_header X-Seen-Key $apiauth_access_key always;';
$t->write_nginx_conf(nginx_conf(server => <<"EOF", servers => <<'EOF2'));
        root %%PREFIX%%/html;
        location /ta/ {
            apiauth signature;
            apiauth_interface ifa;
            try_files /nonexistent /tb\$uri;
        }
        location /tb/ {
            apiauth signature;
            apiauth_interface ifb;
            $seen
            \@\@BACKEND\@\@
        }
        location = /ix/ {
            apiauth signature;
            apiauth_interface ifa;
            index index.html;
        }
        location /ix/ {
            apiauth signature;
            apiauth_interface ifb;
            $seen
        }
        location /xa/ {
            apiauth signature;
            apiauth_interface ifa;
            proxy_pass http://127.0.0.1:%%PORT_accel%%;
        }
        location /internal/ {
            internal;
            apiauth signature;
            apiauth_interface ifb;
            $seen
            \@\@BACKEND\@\@
        }
        location /ep/ {
            apiauth signature;
            apiauth_interface ifa;
            proxy_intercept_errors on;
            error_page 404 = /tb/from-error-page;
            proxy_pass http://127.0.0.1:%%PORT_accel%%;
        }
        location /open/ {
            try_files /nonexistent /tb\$uri;
        }
        location /ra/ {
            apiauth signature;
            apiauth_interface ifa;
            apiauth_replay_protection off;
            try_files /nonexistent /tb\$uri;
        }
EOF
    server {
        listen 127.0.0.1:%%PORT_accel%%;
        access_log off;
        location /xa/ {
            add_header X-Accel-Redirect /internal/file;
            return 200 "not this\n";
        }
        location /ep/ { return 404; }
    }
EOF2
$t->start_nginx;

# [how, target, the backend's URI after the redirect (undef: the index
# page)]
my @ways = (
    ['try_files', '/ta/x', '/tb/ta/x'],
    ['index', '/ix/', undef],
    ['X-Accel-Redirect', '/xa/x', '/internal/file'],
    ['error_page', '/ep/x', '/tb/from-error-page'],
);

for my $w (@ways) {
    my ($how, $target, $uri) = @$w;

    my $r = send_signed($t, key => $ab, target => $target);
    my $log = logged($t, $r);
    is_deeply({ status => $r->{status}, body => $r->{body},
            seen => $r->{headers}{'x-seen-key'}, result => $log->{result},
            logged_key => $log->{access_key} },
        { status => 200,
            body => defined $uri ? "backend GET $uri\n" : "index page\n",
            seen => $ab->{access_key}, result => 'ok',
            logged_key => $ab->{access_key} },
        "$how into a second protected location: admitted once, the "
            . 'identity survives, the nonce is not replayed')
        or diag($r->{raw});

    $r = send_signed($t, key => $a, target => $target);
    expect_refused($t, $r, 'scope_denied',
        "$how: a key of interface ifa only is refused by ifb's location");

    $r = send_signed($t, key => $b, target => $target);
    expect_refused($t, $r, 'scope_denied',
        "$how: a key of ifb only is refused by the first location");

    $r = send_plain($t, target => $target);
    expect_refused($t, $r, 'missing_credentials',
        "$how: no credentials, refused before any redirect");
}

# never verified before the redirect: checked where it lands
my $r = send_plain($t, target => '/open/x');
expect_refused($t, $r, 'missing_credentials',
    'try_files from an open location into a protected one checks there');
$r = send_signed($t, key => $b, target => '/open/x');
is_deeply([$r->{status}, $r->{body}, $r->{headers}{'x-seen-key'}],
    [200, "backend GET /tb/open/x\n", $b->{access_key}],
    'and admits a valid key of its scope');
$r = send_signed($t, key => $a, target => '/open/x');
expect_refused($t, $r, 'scope_denied',
    'and refuses a key out of its scope');

# verified where replay protection is off, then redirected to where it is
# on: the nonce is remembered there, once
$r = send_signed($t, key => $ab, target => '/ra/x');
is_deeply([$r->{status}, $r->{body}, $r->{headers}{'x-seen-key'}],
    [200, "backend GET /tb/ra/x\n", $ab->{access_key}],
    'try_files from a location without replay protection into one with it '
    . 'admits a new nonce');
expect_refused($t, resend($t, $r), 'replayed_nonce',
    'and remembers it there: the same request again is a replay');
$r = send_signed($t, key => $ab, target => '/ra/x');
is($r->{status}, 200, 'while another nonce by the same way is admitted');

$t->finish;
done_testing;
