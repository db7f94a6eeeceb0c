#!/usr/bin/perl

# With error_log at debug (Debian's nginx is built --with-debug), the module
# says at each step why a request was admitted or refused and where it
# waits: credentials read, the cache, a lookup sent and answered, the wait
# and the wake, the nonce, the decision.  A refusal is logged at
# apiauth_log_level (info by default), as limit_req logs at its own.

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

my $key = $t->create_key('--name', 'debug', '--access-key', 'DebugKey0001');

$t->write_nginx_conf(nginx_conf(
    main => 'error_log %%PREFIX%%/debug.log debug;',
    server => 'location / { apiauth any; @@BACKEND@@ }'
        . ' location /loud/ { apiauth any; apiauth_log_level warn;'
        . ' @@BACKEND@@ }'));
$t->start_nginx;

# the lines of one request: its connection's, in order
sub steps {
    my ($r) = @_;
    my $log = $t->read_file('debug.log');
    my ($conn) = $log =~ /\*(\d+) http header: "X-Test-Id: \Q$r->{id}\E"/
        or return ();
    return map { /\*$conn (apiauth.*?)(?:, client:|$)/ ? $1 : () }
        split /\n/, $log;
}

sub steps_are {
    my ($r, $want, $name) = @_;
    is_deeply([steps($r)], $want, $name) or diag(explain [steps($r)]);
}

my $r = send_plain($t, target => '/a', headers => [token_headers($key)]);
is($r->{status}, 200, 'a token request, its key not cached yet');
steps_are($r, [
    'apiauth handler, state 0',
    'apiauth: token credentials of "DebugKey0001": ok',
    'apiauth: key "DebugKey0001" not cached',
    'apiauth: waiting for the lookup of "DebugKey0001"',
    'apiauth: the lookup answered, resuming',
    'apiauth handler, state 2',
    'apiauth: "Authorization" hidden from the upstream',
    'apiauth: "DebugKey0001" ok here',
], 'its steps: read, not cached, waiting, woken, admitted, its token hidden');
like($t->read_file('debug.log'),
    qr/apiauth lookup: HGETALL of "DebugKey0001" sent.*apiauth lookup: "DebugKey0001" found/s,
    'the lookup, sent and answered');

$r = send_signed($t, key => $key, target => '/b');
is($r->{status}, 200, 'a signed request, its key cached');
steps_are($r, [
    'apiauth handler, state 0',
    'apiauth: signature credentials of "DebugKey0001": ok',
    'apiauth: key "DebugKey0001" cached',
    'apiauth: nonce remembered',
    'apiauth: "Authorization" hidden from the upstream',
    'apiauth: "DebugKey0001" ok here',
], 'its steps: read, cached, the nonce remembered, admitted');

$r = resend($t, $r);
is_deeply([(steps($r))[-4 .. -1]], [
    'apiauth: nonce seen before',
    'apiauth: "Authorization" hidden from the upstream',
    'apiauth: "DebugKey0001" replayed_nonce here',
    'apiauth: replayed_nonce for access key "DebugKey0001"',
], 'a replay: the nonce seen before, the exact reason, the refusal')
    or diag(explain [steps($r)]);

$r = send_plain($t, target => '/c');
steps_are($r, [
    'apiauth handler, state 0',
    'apiauth: no credentials of "": missing_credentials',
    'apiauth: "" missing_credentials here',
    'apiauth: missing_credentials for access key ""',
], 'no credentials: why, at once, then the refusal at info');

my @refusals = grep { /apiauth: missing_credentials for access key/ }
    split /\n/, $t->read_file('error.log');
like($refusals[-1], qr/\[info\] .*request: "GET \/c /,
    'a refusal at info by default');
$r = send_plain($t, target => '/loud/x');
is($r->{status}, 401, 'a refusal where apiauth_log_level is warn');
@refusals = grep { /apiauth: missing_credentials for access key/ }
    split /\n/, $t->read_file('error.log');
like($refusals[-1], qr/\[warn\] .*request: "GET \/loud\/x /,
    'is logged at warn');

$t->finish;
done_testing;
