#!/usr/bin/perl

# The access-phase directives: misconfigurations fail nginx -t naming the
# file and line; the smallest config works with default zones; every
# apiauth_redis form (host:port, unix:, db=); the key cache's ttl and
# negative_ttl; apiauth inherited and turned off; and where apiauth is on
# nowhere, nginx behaves as without the module, even with Redis gone.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use Apiauth::Test;
use Apiauth::Client;
use Apiauth::Sign qw(derive_secret);

my $t = Apiauth::Test->new;
my $dir = $t->dir;
my $conf = "$dir/nginx.conf";
$t->start_redis(args => ['--unixsocket', "$dir/redis.sock",
    '--unixsocketperm', '700']);
$t->init_store;

mkdir "$dir/html";
write_file("$dir/html/ok.txt", "static ok\n");
write_file("$dir/bad-hex.key", ('zz' x 32) . "\n");
write_file("$dir/short.key", random_hex(62) . "\n");
write_file("$dir/redis.pw", "pw\n");

my $key = $t->create_key('--name', 'Config key', '--access-key',
    'ConfKey00001');

###############################################################################
# nginx -t refusals: each names the config file and the directive's line

# [what, nginx_conf() options, a text on the offending line (undef: any
# line), a pattern the message must match: it names what is wrong]
my $sig = "location / { apiauth signature; \@\@BACKEND\@\@ }";
my @bad = (
    ['apiauth on without apiauth_redis', { redis => '', server => $sig },
        undef, qr/apiauth_redis/],
    ['an unreadable master key', { master_key => "$dir/no-such.key",
        server => $sig }, 'apiauth_master_key', qr/no-such\.key|master/],
    ['a master key that is not hex', { master_key => "$dir/bad-hex.key",
        server => $sig }, 'apiauth_master_key', qr/bad-hex\.key|master/],
    ['a master key of 62 hex digits', { master_key => "$dir/short.key",
        server => $sig }, 'apiauth_master_key', qr/short\.key|master/],
    ['a bad cache size', { http => 'apiauth_cache zone=keys:abc;',
        server => $sig }, 'apiauth_cache', qr/abc|size/],
    ['a bad nonce zone size', { http => 'apiauth_nonce zone=nonces:12q;',
        server => $sig }, 'apiauth_nonce', qr/12q|size/],
    ['an unknown apiauth_cache parameter',
        { http => 'apiauth_cache zone=keys:1m color=blue;', server => $sig },
        'apiauth_cache', qr/color/],
    ['a bad cache ttl', { http => 'apiauth_cache zone=keys:1m ttl=soon;',
        server => $sig }, 'apiauth_cache', qr/ttl|soon/],
    ['a bad stale time',
        { http => 'apiauth_cache zone=keys:1m stale=later;', server => $sig },
        'apiauth_cache', qr/invalid parameter "stale=later"/],
    ['stale= without a time',
        { http => 'apiauth_cache zone=keys:1m stale=;', server => $sig },
        'apiauth_cache', qr/invalid parameter "stale="/],
    ['a nonce share of 0%', { http => 'apiauth_nonce zone=nonces:1m share=0%;',
        server => $sig }, 'apiauth_nonce', qr/share=0%.*7% to 100%/],
    ['a nonce share of 101%',
        { http => 'apiauth_nonce zone=nonces:1m share=101%;', server => $sig },
        'apiauth_nonce', qr/share=101%/],
    ['a nonce share without %',
        { http => 'apiauth_nonce zone=nonces:1m share=50;', server => $sig },
        'apiauth_nonce', qr/share=50/],
    ['a share for the key cache',
        { http => 'apiauth_cache zone=keys:1m share=50%;', server => $sig },
        'apiauth_cache', qr/share=50%/],
    ['apiauth_cache without a zone', { http => 'apiauth_cache ttl=1s;',
        server => $sig }, 'apiauth_cache', qr/must have "zone" parameter/],
    ['apiauth_nonce without a zone', { http => 'apiauth_nonce share=50%;',
        server => $sig }, 'apiauth_nonce', qr/must have "zone" parameter/],
    ['a zone without a size', { http => 'apiauth_nonce zone=nonces;',
        server => $sig }, 'apiauth_nonce',
        qr/invalid parameter "zone=nonces"/],
    ['a zone without a name', { http => 'apiauth_cache zone=:1m;',
        server => $sig }, 'apiauth_cache', qr/invalid parameter "zone=:1m"/],
    ['a zone too small', { http => 'apiauth_cache zone=keys:4k;',
        server => $sig }, 'apiauth_cache',
        qr/zone "zone=keys:4k" is too small/],
    ['apiauth_cache twice', { http => "apiauth_cache zone=a:1m;\n"
        . 'apiauth_cache zone=b:1m;', server => $sig },
        'apiauth_cache zone=b', qr/is duplicate/],
    ['apiauth_log_level debug',
        { server => 'location / { apiauth signature; '
            . 'apiauth_log_level debug; }' },
        'apiauth_log_level', qr/debug|apiauth_log_level/],
    ['apiauth_hide_credentials maybe',
        { server => 'location / { apiauth signature; '
            . 'apiauth_hide_credentials maybe; }' },
        'apiauth_hide_credentials', qr/maybe|apiauth_hide_credentials/],
    ['an unknown apiauth_redis parameter',
        { redis => 'apiauth_redis 127.0.0.1:%%REDIS_PORT%% foo=bar;',
            server => $sig }, 'apiauth_redis', qr/foo/],
    ['a bad apiauth_redis timeout',
        { redis => 'apiauth_redis 127.0.0.1:%%REDIS_PORT%% timeout=abc;',
            server => $sig }, 'apiauth_redis', qr/timeout|abc/],
    ['a bad apiauth_redis db',
        { redis => 'apiauth_redis 127.0.0.1:%%REDIS_PORT%% db=abc;',
            server => $sig }, 'apiauth_redis', qr/db|abc/],
    ['a bad apiauth_redis port',
        { redis => 'apiauth_redis 127.0.0.1:99999;', server => $sig },
        'apiauth_redis', qr/99999|port/],
    ['apiauth_redis in a server', { server => "apiauth_redis 127.0.0.1:1;\n"
        . $sig }, 'apiauth_redis 127.0.0.1:1;', qr/not allowed here/],
    ['an unknown apiauth mode', { server => 'location / { apiauth maybe; }' },
        'apiauth maybe', qr/maybe|"apiauth"/],
    ['a bad apiauth_replay_protection',
        { server => 'location / { apiauth signature; '
            . 'apiauth_replay_protection maybe; }' },
        'apiauth_replay_protection', qr/maybe|apiauth_replay_protection/],
    ['a bad apiauth_clock_skew',
        { server => 'location / { apiauth signature; '
            . 'apiauth_clock_skew soon; }' }, 'apiauth_clock_skew',
        qr/soon|apiauth_clock_skew/],
    ['an unknown apiauth_records_pipeline parameter',
        { http => 'apiauth_records_pipeline flush=1s colour=red;',
            server => $sig }, 'apiauth_records_pipeline',
        qr/invalid parameter "colour=red"/],
    ['a records buffer under 64k',
        { http => 'apiauth_records_pipeline buffer=4k;', server => $sig },
        'apiauth_records_pipeline', qr/at least 64k/],
    ['a bad records batch',
        { http => 'apiauth_records_pipeline batch=0;', server => $sig },
        'apiauth_records_pipeline', qr/invalid parameter "batch=0"/],
    ['a spool_size under 1m',
        { http => 'apiauth_records_pipeline spool_size=10k;',
            server => $sig }, 'apiauth_records_pipeline', qr/at least 1m/],
    ['apiauth_records_pipeline twice',
        { http => "apiauth_records_pipeline flush=1s;\n"
            . 'apiauth_records_pipeline batch=10;', server => $sig },
        'apiauth_records_pipeline batch', qr/is duplicate/],
    ['apiauth_records_pipeline in a server',
        { server => "apiauth_records_pipeline flush=1s;\n" . $sig },
        'apiauth_records_pipeline', qr/not allowed here/],
    ['a bad apiauth_records',
        { server => 'location / { apiauth signature; apiauth_records yes; }' },
        'apiauth_records', qr/apiauth_records/],
    ['apiauth_status with an argument',
        { server => 'location /s { apiauth_status json; }' },
        'apiauth_status', qr/invalid number of arguments/],
    # assumption: the master key is as necessary as apiauth_redis (the
    # smallest config has both); a default path would not exist here either
    ['apiauth on without apiauth_master_key',
        { master_key => '', server => $sig }, undef,
        qr/apiauth_master_key|master/],
);

for my $case (@bad) {
    my ($what, $opts, $needle, $re) = @$case;
    my $text = nginx_conf(%$opts);
    $text =~ s/^\s*apiauth_master_key ;\n//m;
    $t->write_nginx_conf($text);
    my $r = $t->nginx_test_config;
    my $line = defined $needle ? line_of($t, $needle) : '\d+';
    ok($r->{rc} != 0 && $r->{out} =~ /\Q$conf\E:$line\b/ && $r->{out} =~ $re,
        "nginx -t fails on $what, naming $conf:"
            . (defined $needle ? $line : 'LINE'))
        or diag($r->{out});
}

# and accepts every directive with every parameter

$t->write_nginx_conf(nginx_conf(
    redis => 'apiauth_redis 127.0.0.1:%%REDIS_PORT%% db=0 user=default '
        . "password_file=$dir/redis.pw connect_timeout=500ms timeout=1s;",
    http => 'apiauth_cache zone=apikeys:2m ttl=30s negative_ttl=5s; '
        . 'apiauth_nonce zone=apinonces:2m share=50%; '
        . 'apiauth_clock_skew 120s; apiauth_replay_protection on; '
        . 'apiauth_hide_credentials on; apiauth_records on; '
        . 'apiauth_records_pipeline stream=calls flush=1s batch=100 '
        . "buffer=128k spool=$dir/spool spool_size=2m maxlen=1000000;",
    server => 'apiauth off; location / { apiauth any; apiauth_app $arg_app; '
        . 'apiauth_interface orders; apiauth_clock_skew 60s; '
        . 'apiauth_replay_protection off; apiauth_hide_credentials off; '
        . 'apiauth_log_level notice; apiauth_records off; @@BACKEND@@ } '
        . 'location = /s { apiauth_status; }'));
my $r = $t->nginx_test_config;
is($r->{rc}, 0, 'nginx -t accepts every directive and parameter')
    or diag($r->{out});

$t->write_nginx_conf(<<'EOF');
%%MAIN%%
events {}
http {
    %%HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { apiauth off; }
    }
}
EOF
$r = $t->nginx_test_config;
is($r->{rc}, 0, 'the module loaded with apiauth off only needs no Redis')
    or diag($r->{out});

###############################################################################
# the smallest config: default zones, ttls and skew

$t->write_nginx_conf(<<'EOF');
%%MAIN%%
events {}
http {
    %%HTTP%%
    apiauth_redis 127.0.0.1:%%REDIS_PORT%%;
    apiauth_master_key %%MASTER_KEY%%;
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { apiauth signature; root %%PREFIX%%/html; }
    }
}
EOF
$t->start_nginx;

$r = send_signed($t, key => $key, target => '/ok.txt');
is_deeply([$r->{status}, $r->{body}], [200, "static ok\n"],
    'the smallest config admits a signed request');
$r = send_plain($t, target => '/ok.txt');
my $pub = refusal($r);
ok($pub->{status} == 401 && $pub->{reason} eq 'missing_credentials'
    && ($pub->{request_id} // '') =~ /^[0-9a-f]{32}$/,
    'and refuses one without credentials') or diag(explain $pub);
$t->stop_nginx;

###############################################################################
# apiauth_redis host:port (resolved at config time), the cache's ttls,
# inheritance of apiauth and apiauth off

# localhost resolves to 127.0.0.1 only on the test machines (/etc/hosts);
# Redis listens on 127.0.0.1
$t->write_nginx_conf(nginx_conf(
    redis => 'apiauth_redis localhost:%%REDIS_PORT%% timeout=2s;',
    http => 'apiauth_cache zone=apikeys:1m ttl=1s negative_ttl=1s;',
    server => <<'EOF'));
        apiauth token;
        location /inherit/ { @@BACKEND@@ }
        location /sig/ { apiauth signature; @@BACKEND@@ }
        location /off/ { apiauth off; @@BACKEND@@ }
EOF
$t->start_nginx;

$r = send_plain($t, target => '/inherit/x', headers => [token_headers($key)]);
expect_ok($t, $r, $key, 'apiauth_redis host:port; a location inherits '
    . 'the server\'s apiauth token');
$r = send_plain($t, target => '/inherit/x');
expect_refused($t, $r, 'missing_credentials',
    'the inherited mode refuses no credentials');
$r = send_plain($t, target => '/sig/x', headers => [token_headers($key)]);
expect_refused($t, $r, 'malformed_credentials',
    'a location\'s own apiauth signature overrides the server\'s token');
$r = send_plain($t, target => '/off/x');
is_deeply([$r->{status}, $r->{body}], [200, "backend GET /off/x\n"],
    'apiauth off in a location of a protected server');

# ttl=1s: a change made behind nginx's back (not in the change stream)
# shows only when the cached copy expires; the key cached just before,
# once the feed has its place (a fresh zone's first feed drops the cache)
$t->wait_feeds(1);
$r = send_plain($t, target => '/inherit/w', headers => [token_headers($key)]);
expect_ok($t, $r, $key, 'the key cached');
$t->redis('HSET', '{apiauth}:key:ConfKey00001', 'status', 'disabled');
$r = send_plain($t, target => '/inherit/y', headers => [token_headers($key)]);
expect_ok($t, $r, $key, 'a cached key is used as cached within its ttl');
sleep 1.6;
$r = send_plain($t, target => '/inherit/z', headers => [token_headers($key)]);
expect_refused($t, $r, 'disabled_key', 'after ttl the key is read again');
$t->redis('HSET', '{apiauth}:key:ConfKey00001', 'status', 'enabled');

# negative_ttl=1s: a key written directly to Redis (no announcement) is
# still unknown while its absence is cached, then found
my $neg = { access_key => 'NegCache0001',
    access_secret => 'f' x 64, name => 'Negative' };
$r = send_plain($t, target => '/inherit/n1', headers => [token_headers($neg)]);
expect_refused($t, $r, 'unknown_key', 'an unknown accessKey');
my $salt = random_hex(32);
my $now = time;
$t->redis('HSET', '{apiauth}:key:NegCache0001', 'name', 'Negative',
    'description', '', 'salt', $salt, 'status', 'enabled', 'created', $now,
    'updated', $now, 'apps', '*', 'interfaces', '*', 'ips', '');
$t->redis('ZADD', '{apiauth}:keys', 0, 'NegCache0001');
$neg->{access_secret} = derive_secret($t->master_bytes, 'NegCache0001', $salt);
$r = send_plain($t, target => '/inherit/n2', headers => [token_headers($neg)]);
expect_refused($t, $r, 'unknown_key',
    'its absence is cached for negative_ttl');
sleep 1.6;
$r = send_plain($t, target => '/inherit/n3', headers => [token_headers($neg)]);
expect_ok($t, $r, $neg, 'after negative_ttl the new key is found');
$t->stop_nginx;

###############################################################################
# apiauth_redis unix:/path with db=N

{
    (my $url = $t->redis_url) =~ s{/0$}{/5};
    local $t->{ctl_env_extra} = { APIAUTH_REDIS => $url };
    $r = $t->ctl('init', '--use-existing');
    die "init of db 5: $r->{err}" if $r->{rc};
}
my $key5 = do {
    (my $url = $t->redis_url) =~ s{/0$}{/5};
    local $t->{ctl_env_extra} = { APIAUTH_REDIS => $url };
    $t->create_key('--name', 'Db five', '--access-key', 'DbFiveKey001');
};

# nginx with a token location, Redis found as "redis" says
sub token_nginx {
    my ($redis) = @_;
    $t->write_nginx_conf(nginx_conf(redis => $redis,
        server => 'location / { apiauth token; @@BACKEND@@ }'));
    $t->start_nginx;
}

token_nginx('apiauth_redis unix:%%PREFIX%%/redis.sock db=5 timeout=2s;');
$r = send_plain($t, target => '/db5', headers => [token_headers($key5)]);
expect_ok($t, $r, $key5, 'apiauth_redis unix:/path db=5 reads database 5');
$r = send_plain($t, target => '/db0', headers => [token_headers($key)]);
expect_refused($t, $r, 'unknown_key', 'a key of database 0 is not there');
$t->stop_nginx;

# "UNIX:" is a unix socket, as nginx itself reads addresses
token_nginx('apiauth_redis UNIX:%%PREFIX%%/redis.sock;');
$r = send_plain($t, target => '/u', headers => [token_headers($key)]);
expect_ok($t, $r, $key, 'apiauth_redis UNIX:/path');
$t->stop_nginx;

###############################################################################
# apiauth on nowhere: the module stays out of the way, Redis or not

$t->write_nginx_conf(nginx_conf(server => <<'EOF'));
        location /static/ { alias %%PREFIX%%/html/; }
        location /proxy/ { @@BACKEND@@ }
EOF
$t->start_nginx;

my @garbage = (['Authorization', 'APIAUTH-HMAC-SHA256 garbage'],
    ['X-Apiauth-Date', 'yesterday'], ['X-Apiauth-Nonce', '!'],
    ['X-Api-Key', 'nope']);
for my $round ('Redis up', 'Redis stopped') {
    $r = send_plain($t, target => '/static/ok.txt', headers => \@garbage);
    is_deeply([$r->{status}, $r->{body},
            join(',', sort map { $_->[0] } @{ $r->{header_list} || [] })],
        [200, "static ok\n", 'accept-ranges,connection,content-length,'
            . 'content-type,date,etag,last-modified,server'],
        "no apiauth anywhere, $round: a static file with nginx's own "
            . 'headers, credentials-like headers ignored');
    $r = send_plain($t, method => 'POST', target => '/proxy/x?y=1',
        headers => \@garbage, body => 'data');
    is_deeply([$r->{status}, $r->{body}], [200, "backend POST /proxy/x?y=1\n"],
        "no apiauth anywhere, $round: a proxied POST");
    $t->stop_redis if $round eq 'Redis up';
}

$t->finish;
done_testing;
