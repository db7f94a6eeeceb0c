#!/usr/bin/perl

# Faults a hostile client or a careless operator found (issue 11), each as
# its attack: an absolute-form request line naming another server than the
# signed Host; expiry at or before 1970, or malformed, written straight
# into Redis; a whitelist at the module's bound; white space around the
# date, nonce and token; an upper-case Signature; credentials that reach
# the upstream; a negative cache that outlived the positive one.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client;
use Apiauth::Sign qw(signed_raw);

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my $key = $t->create_key('--name', 'good', '--access-key', 'GoodKey00001');
my %exp;
for my $v ('0', '-5', 'abc', '', '1970-01-01T00:00:00Z') {
    my $ak = sprintf 'Expiry%06d', scalar keys %exp;
    $exp{$v} = $t->create_key('--name', "expires '$v'", '--access-key', $ak);
    $t->redis('HSET', "{apiauth}:key:$ak", 'expires', $v);
}

# whitelists written straight into Redis: the module's bound, and one more
my @ips = ('127.0.0.1', map { sprintf '10.%d.%d.%d', $_ >> 16,
    ($_ >> 8) & 255, $_ & 255 } 1 .. 1024);
my $wide = $t->create_key('--name', 'wide', '--access-key', 'WideKey00001');
$t->redis('HSET', '{apiauth}:key:WideKey00001', 'ips',
    join(',', @ips[0 .. 1023]));
my $wider = $t->create_key('--name', 'wider', '--access-key',
    'WideKey00002');
$t->redis('HSET', '{apiauth}:key:WideKey00002', 'ips',
    join(',', @ips[0 .. 1024]));

$t->write_nginx_conf(nginx_conf(
    http => "apiauth_cache zone=keys:1m ttl=1s;\n"
        . "    server {\n"
        . "        listen 127.0.0.1:%%PORT_echo%%;\n"
        . "        access_log off;\n"
        . '        location / { return 200 "auth=[$http_authorization] '
        . 'key=[$http_x_api_key] seen=[$http_x_seen]\n"; }' . "\n"
        . "    }",
    server => <<'EOF',
        location /api/ { apiauth any; @@BACKEND@@ }
        location /hide/ {
            apiauth any;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
        }
        location /early/ {
            # read in the rewrite phase, before apiauth, then again
            set $early "$http_authorization$http_x_api_key";
            apiauth any;
            proxy_set_header X-Seen "$http_authorization$http_x_api_key";
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
        }
        location /show/ {
            apiauth any;
            apiauth_hide_credentials off;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
        }
EOF
    servers => <<'EOF'));
    server {
        listen 127.0.0.1:%%PORT%%;
        server_name other.test;
        access_log %%PREFIX%%/apiauth.log apiauth;
        location /api/ {
            apiauth any;
            proxy_pass http://127.0.0.1:%%PORT_backend%%/other/;
        }
    }
EOF
$t->start_nginx;
$t->wait_feeds(1);

my $port = $t->port('http');
my $n = 0;

sub lookups {
    my $info = $t->redis('INFO', 'commandstats');
    return $info =~ /^cmdstat_hgetall:calls=(\d+)/m ? $1 : 0;
}

# an unknown accessKey's absence lives as long as a key (ttl=1s, no
# negative_ttl): asked again after that, both are looked up again; checked
# again at the end, more than a second later
my $probe = $t->create_key('--name', 'probe', '--access-key', 'ProbeKey0001');
my $l0 = lookups();
my $r = send_plain($t, target => '/api/x', headers =>
    [['X-Api-Key', 'NoSuchKey00001.' . ('0' x 64)]]);
expect_refused($t, $r, 'unknown_key', 'an unknown accessKey');
$r = send_plain($t, target => '/api/x',
    headers => [ token_headers($probe, 'x-api-key') ]);
expect_ok($t, $r, $probe, 'a known key');
is(lookups() - $l0, 2, 'both looked up once');
my $probed = time;

# a request of our own signature scheme, as the Perl signer writes it
sub signed {
    my (%a) = @_;
    my $k = $a{key} // $key;
    return signed_raw(access_key => $k->{access_key},
        secret => $k->{access_secret}, target => $a{target} // '/api/x',
        host => $a{host} // "127.0.0.1:$port",
        nonce => sprintf('hostile-nonce-%06d', ++$n), date => $a{date});
}

###############################################################################
# the request line's authority is the host nginx serves

my $raw = signed();
(my $abs = $raw) =~ s{^GET /api/x }{GET http://other.test/api/x };
$r = send_raw($t, $abs);
expect_refused($t, $r, 'malformed_credentials',
    'signed for one Host, the request line naming another server');
like($t->read_file('apiauth.log'), qr/^401 denied malformed_credentials .* \Q$r->{id}\E /m,
    'and refused by that other server');

($abs = signed()) =~ s{^GET /api/x }{GET http://127.0.0.1:$port/api/x };
$r = send_raw($t, $abs);
expect_ok($t, $r, $key, 'an absolute-form request line naming the signed Host');

# a request line longer than client_header_buffer_size (1k) moves to a
# large buffer, and nginx moves the host's pointers but not the port's
my $pad = 'p' x 2000;
($abs = signed(target => "/api/x?pad=$pad"))
    =~ s{^GET /api/x\?}{GET http://127.0.0.1:$port/api/x?};
$r = send_raw($t, $abs);
expect_ok($t, $r, $key, 'an absolute-form request line of 2 KB with a port');

($abs = signed()) =~ s{^GET /api/x }{GET http://127.0.0.1/api/x };
$r = send_raw($t, $abs);
expect_refused($t, $r, 'malformed_credentials',
    'the signed Host with a port, the request line without');

($abs = signed(host => 'Other.Test')) =~ s{^GET /api/x }{GET http://other.TEST/api/x };
$r = send_raw($t, $abs);
is_deeply([$r->{status}, $r->{body}], [200, "backend GET /other/x\n"],
    'signed for the other server, named in either case: served by it');

###############################################################################
# expiry at or before 1970, or malformed: expired, never "never"

for my $v ('0', '-5', 'abc', '', '1970-01-01T00:00:00Z') {
    $r = send_raw($t, signed(key => $exp{$v}));
    expect_refused($t, $r, 'expired_key', "expires \"$v\" in Redis");
}

# malformed: logged once a minute per key, whatever the lookups (ttl=1s)
for (1 .. 8) {
    $r = send_raw($t, signed(key => $exp{'-5'}));
    sleep 0.3;
}
is($r->{status}, 401, 'still expired after lookups again');
my @bad = grep { /apiauth: key "Expiry000001" in Redis has a malformed expiry: refusing it as expired/ }
    split /\n/, $t->read_file('error.log');
is(scalar @bad, 1, 'one error line for a malformed expiry in 2.4 s of lookups');
ok(!grep({ /Expiry000000.*malformed/ } split /\n/, $t->read_file('error.log')),
    'none for "0", a well-formed time in 1970');

###############################################################################
# the whitelist's bound is the module's

$r = send_raw($t, signed(key => $wide));
expect_ok($t, $r, $wide, 'a whitelist of 1024 entries (the bound)');
$r = send_raw($t, signed(key => $wider));
expect_refused($t, $r, 'store_unavailable',
    'a whitelist of 1025 written past the tool: a malformed record');

###############################################################################
# white space around values: spaces and tabs alike

for my $case (
    ['a tab after the date', qr/(X-Apiauth-Date: \d+)/, sub { "$_[0]\t" }],
    ['a tab and a space after the nonce', qr/(X-Apiauth-Nonce: \S+)/,
        sub { "$_[0]\t " }],
    ['a tab before the date', qr/X-Apiauth-Date: (\d+)/,
        sub { "X-Apiauth-Date:\t$_[0]" }],
    ['a tab before the nonce', qr/X-Apiauth-Nonce: (\S+)/,
        sub { "X-Apiauth-Nonce: \t$_[0]" }],
) {
    my ($what, $re, $to) = @$case;
    ($raw = signed()) =~ s/$re/$to->($1)/e or die "no match for $what\n";
    $r = send_raw($t, $raw);
    expect_ok($t, $r, $key, $what);
}

my $tok = "$key->{access_key}.$key->{access_secret}";
$r = send_plain($t, target => '/api/x',
    headers => [['Authorization', "Bearer $tok\t"]]);
expect_ok($t, $r, $key, 'a tab after a Bearer token');
$r = send_plain($t, target => '/api/x',
    headers => [['Authorization', "Bearer \t$tok"]]);
expect_ok($t, $r, $key, 'a tab between Bearer and its token');
$r = send_plain($t, target => '/api/x', headers => [['X-Api-Key', "$tok\t"]]);
expect_ok($t, $r, $key, 'a tab after an X-Api-Key token');

($raw = signed()) =~ s/Signature=([0-9a-f]{64})/'Signature=' . uc $1/e
    or die "no Signature\n";
$r = send_raw($t, $raw);
expect_refused($t, $r, 'malformed_credentials',
    'the right Signature in upper case: hex is lower case');

###############################################################################
# verified credentials do not reach the upstream

$r = send_plain($t, target => '/hide/x', headers => [token_headers($key)]);
is($r->{body}, "auth=[] key=[] seen=[]\n",
    'a Bearer token is not passed upstream');
$r = send_plain($t, target => '/hide/x',
    headers => [token_headers($key, 'x-api-key'),
        ['Authorization', 'Basic dXNlcjpwYXNz']]);
is($r->{body}, "auth=[Basic dXNlcjpwYXNz] key=[] seen=[]\n",
    'an X-Api-Key token is not, another scheme\'s Authorization is');
$r = send_raw($t, signed(target => '/hide/x'));
is($r->{body}, "auth=[] key=[] seen=[]\n",
    'a signature\'s Authorization is not passed upstream');
is(logged($t, $r)->{result}, 'ok', 'and the request was admitted');
$r = send_plain($t, target => '/early/x', headers => [token_headers($key)]);
is($r->{body}, "auth=[] key=[] seen=[]\n",
    '$http_authorization read before apiauth is read again once hidden');
$r = send_plain($t, target => '/early/x',
    headers => [token_headers($key, 'x-api-key')]);
is($r->{body}, "auth=[] key=[] seen=[]\n",
    'and $http_x_api_key');
$r = send_plain($t, target => '/show/x', headers => [token_headers($key)]);
is($r->{body}, "auth=[Bearer $tok] key=[] seen=[]\n",
    'apiauth_hide_credentials off passes it');
$r = send_plain($t, target => '/hide/x', headers =>
    [['X-Api-Key', "$key->{access_key}." . ('0' x 64)]]);
expect_refused($t, $r, 'bad_secret', 'a wrong token is refused, not passed');

###############################################################################
# the negative cache, more than a second later: both looked up again

my $wait = $probed + 1.2 - time;
sleep $wait if $wait > 0;
$l0 = lookups();
$r = send_plain($t, target => '/api/x', headers =>
    [['X-Api-Key', 'NoSuchKey00001.' . ('0' x 64)]]);
expect_refused($t, $r, 'unknown_key', 'the unknown accessKey again');
$r = send_plain($t, target => '/api/x',
    headers => [ token_headers($probe, 'x-api-key') ]);
expect_ok($t, $r, $probe, 'the known key again');
is(lookups() - $l0, 2,
    'both looked up again after ttl: negative_ttl defaults to ttl');

$t->finish;
done_testing;
