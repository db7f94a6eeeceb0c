#!/usr/bin/perl

# Call records: one stream entry per main request apiauth judged, allowed
# or refused, with the fields docs/records.md lists; a refusal answered by
# the JSON body, through an operator's error_page and after a try_files
# redirect each gives exactly one; a location without apiauth_records, or
# without apiauth, gives none.  apiauth_status counts the same requests.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my $key = $t->create_key('--name', 'Records key', '--access-key',
    'RecordKey0001', '--interface', 'orders', '--app', 'shop');
my $other = $t->create_key('--name', 'Other', '--access-key',
    'RecordKey0002', '--interface', 'other');

$t->write_nginx_conf(nginx_conf(
    http => "    apiauth_records_pipeline flush=50ms "
        . "spool=%%PREFIX%%/spool;\n",
    server => <<'EOF2'));
        apiauth_app shop;
        apiauth_records on;
        location /api/ {
            apiauth signature;
            apiauth_interface orders;
            @@BACKEND@@
        }
        location /quiet/ {
            apiauth signature;
            apiauth_interface orders;
            apiauth_records off;
            @@BACKEND@@
        }
        location /ep/ {
            apiauth signature;
            apiauth_interface orders;
            error_page 401 403 = /sorry;
            @@BACKEND@@
        }
        location = /sorry { apiauth off; return 418 "sorry\n"; }
        location /tf/ {
            try_files /nonexistent /api$uri;
        }
        location /mir/ {
            apiauth signature;
            apiauth_interface orders;
            log_subrequest on;
            mirror /mirrored;
            @@BACKEND@@
        }
        location = /mirrored { internal; @@BACKEND@@ }
        location /plain/ { @@BACKEND@@ }
        location = /status { apiauth_status; }
EOF2
$t->start_nginx;

sub records {
    my $r = $t->redis('XRANGE', '{apiauth}:records', '-', '+');
    return [map { { @{ $_->[1] } } } @$r];
}

# waits for the stream to hold n entries, and not more
sub wait_records {
    my ($n, $name) = @_;
    my $got;
    for (1 .. 100) {
        $got = records();
        last if @$got >= $n;
        sleep 0.05;
    }
    sleep 0.2;
    $got = records();
    is(scalar @$got, $n, "$name: $n records") or diag(explain $got);
    return $got;
}

my $t0 = int(time * 1000) - 1;

my $ok = send_signed($t, key => $key, target => '/api/orders/7?secret=x');
is($ok->{status}, 200, 'a signed call passes');
my $got = wait_records(1, 'one allowed call');
my $rec = $got->[0];
my @fields = qw(v id t ak name ip method path interface app status result
    reason rt bytes server node);
is_deeply([map { $_ } @{ $t->redis('XRANGE', '{apiauth}:records', '-', '+')
    ->[0][1] }[map { 2 * $_ } 0 .. $#fields]], \@fields,
    'the fields, in the documented order');
is($rec->{v}, '1', 'format version 1');
like($rec->{id}, qr/^[0-9a-f]{32}$/, 'the request id');
ok($rec->{t} >= $t0 && $rec->{t} <= time * 1000 + 1, 'time in unix ms');
is($rec->{ak}, 'RecordKey0001', 'the accessKey');
is($rec->{name}, 'Records key', 'the key name');
is($rec->{ip}, '127.0.0.1', 'the client address');
is($rec->{method}, 'GET', 'the method');
is($rec->{path}, '/api/orders/7', 'the path without its query');
is($rec->{interface}, 'orders', 'the interface');
is($rec->{app}, 'shop', 'the app');
is($rec->{status}, '200', 'the status');
is($rec->{result}, 'ok', 'result ok');
is($rec->{reason}, 'ok', 'reason ok');
like($rec->{rt}, qr/^\d+$/, 'request time in ms');
ok($rec->{bytes} > 0, 'bytes sent');
is($rec->{server}, 'localhost', 'the server name');
chomp(my $host = `hostname`);
is($rec->{node}, $host, 'the node');

# a refusal with the JSON body
$t->redis('DEL', '{apiauth}:records');
my $bad = send_signed($t, key => { %$key, access_secret => 'f' x 64 },
    target => '/api/x');
is($bad->{status}, 401, 'a wrong signature is refused');
$rec = wait_records(1, 'a refusal')->[0];
is($rec->{result}, 'denied', 'result denied');
is($rec->{reason}, 'bad_signature', 'the exact reason, not the shown one');
is($rec->{status}, '401', 'status 401');
is($rec->{name}, '', 'no key name for an unproven key');
is($rec->{ak}, 'RecordKey0001', 'the accessKey it claimed');

# scope: a key of another interface
$t->redis('DEL', '{apiauth}:records');
is(send_signed($t, key => $other, target => '/api/x')->{status}, 403,
    'out of scope: 403');
$rec = wait_records(1, 'out of scope')->[0];
is_deeply([@$rec{qw(reason status name)}], ['scope_denied', '403', 'Other'],
    'scope_denied, with the name of the proven key');

# missing credentials: no accessKey
$t->redis('DEL', '{apiauth}:records');
send_plain($t, target => '/api/x');
$rec = wait_records(1, 'no credentials')->[0];
is_deeply([@$rec{qw(reason result ak)}], ['missing_credentials', 'denied',
    ''], 'missing_credentials, no accessKey');

# a malformed accessKey is not recorded as given
$t->redis('DEL', '{apiauth}:records');
send_plain($t, target => '/api/x', headers => [['X-Api-Key',
    "bad key\x01.ffff"]]);
$rec = wait_records(1, 'a malformed token')->[0];
is($rec->{ak}, '', 'a malformed accessKey is left out');

# through an operator's error_page: one record, the status sent
$t->redis('DEL', '{apiauth}:records');
my $ep = send_signed($t, key => $other, target => '/ep/x');
is($ep->{status}, 418, 'the error_page answers');
$rec = wait_records(1, 'a refusal through error_page')->[0];
is_deeply([@$rec{qw(reason result status path)}],
    ['scope_denied', 'denied', '418', '/ep/x'],
    'the refusal, with the status the client got');

# after a try_files redirect: judged in /api/, one record
$t->redis('DEL', '{apiauth}:records');
is(send_signed($t, key => $key, target => '/tf/a')->{status}, 200,
    'try_files into a protected location');
is(send_signed($t, key => $other, target => '/tf/b')->{status}, 403,
    'and a refusal there');
$got = wait_records(2, 'two calls through try_files');
is_deeply([map { "$_->{path} $_->{reason} $_->{interface}" } @$got],
    ['/tf/a ok orders', '/tf/b scope_denied orders'],
    'each recorded once, as judged where it landed');

# log_subrequest on, a mirror subrequest: still one record
$t->redis('DEL', '{apiauth}:records');
is(send_signed($t, key => $key, target => '/mir/x')->{status}, 200,
    'a mirrored call');
$rec = wait_records(1, 'log_subrequest on, a mirror')->[0];
is($rec->{path}, '/mir/x', 'the main request\'s record only');

# a client that leaves while its signed body is read: unfinished
$t->redis('DEL', '{apiauth}:records');
{
    my $raw = signed_request(key => $key, method => 'POST',
        target => '/api/upload', port => $t->port('http'),
        host => '127.0.0.1:' . $t->port('http'), body => 'x' x 4000,
        sign_body => 1);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $t->port('http'), Proto => 'tcp') or die "connect: $!\n";
    print $s substr($raw, 0, length($raw) - 2000);
    sleep 0.3;
    close $s;
}
$rec = wait_records(1, 'a body never finished')->[0];
is_deeply([@$rec{qw(result reason path)}], ['error', 'unfinished',
    '/api/upload'], 'recorded as unfinished, not ok');

# no records where they are off, nor where apiauth is off
$t->redis('DEL', '{apiauth}:records');
send_signed($t, key => $key, target => '/quiet/x');
send_plain($t, target => '/plain/x');
send_signed($t, key => $key, target => '/api/last');
$got = wait_records(1, 'records off, apiauth off, then one on');
is($got->[0]{path}, '/api/last', 'only the location with records on');

# apiauth_status: what was sent, in both formats
my $st = http_get_json('/status');
my %req = map { $_ => $st->{requests}{$_}{count} } keys %{ $st->{requests} };
is($req{ok}, 5, 'status: 5 ok (quiet included)');
is($req{unfinished}, 1, 'status: 1 unfinished');
is($req{bad_signature}, 1, 'status: 1 bad_signature');
is($req{scope_denied}, 3, 'status: 3 scope_denied');
is($req{missing_credentials}, 2, 'status: 2 missing_credentials');
is($st->{records}, 11, 'status: 11 records made');
is($st->{records_sent}, 11, 'status: 11 records sent');
is($st->{records_dropped}, 0, 'status: none dropped');
is($st->{records_buffered}, 0, 'status: none buffered');
is($st->{redis}{records}{up}, 1, 'status: the records link is up');
is($st->{redis}{lookups}{up}, 1, 'status: the lookups link is up');

my $prom = send_plain($t, target => '/status?format=prometheus');
is($prom->{status}, 200, 'prometheus format');
like($prom->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
    'its content type');
like($prom->{body}, qr/^apiauth_requests_total\{result="ok",reason="ok"\} 5$/m,
    'requests_total by result and reason');
like($prom->{body}, qr/^apiauth_records_sent_total 11$/m, 'records_sent_total');

# the text format, parsed by Prometheus's own parser (make deps installs it)
{
    my $file = $t->dir . '/metrics.txt';
    write_file($file, $prom->{body});
    # Debian's own python3, where Debian's python3-prometheus-client is
    my $out = `/usr/bin/python3 - '$file' 2>&1 <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
for f in fams:
    for s in f.samples:
        print(f.type, s.name, ",".join("%s=%s" % kv for kv in sorted(s.labels.items())), int(s.value))
PY`;
    is($?, 0, 'prometheus_client parses it') or diag($out);
    like($out, qr/^counter apiauth_requests_total reason=scope_denied,result=denied 3$/m,
        'and reads the counts') or diag($out);
}

is(send_plain($t, target => '/status?format=xml')->{status}, 400,
    'an unknown format: 400');

sub http_get_json {
    my ($target) = @_;
    my $r = send_plain($t, target => $target);
    is($r->{status}, 200, "$target answers");
    like($r->{headers}{'content-type'}, qr{^application/json}, 'as JSON');
    return JSON::PP::decode_json($r->{body});
}

$t->finish;
done_testing();
