#!/usr/bin/perl

# apiauth-ctl records tail shows the newest call records of the stream,
# filtered, without consuming them; --follow shows each new one as it
# comes (docs/records.md, "tail").

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;

my $S = '{apiauth}:records';
my $n = 0;

sub rid { sprintf '%032x', ++$n }

my $r = $t->ctl('records', 'tail');
is($r->{rc}, 0, 'tail of no stream exits 0') or diag($r->{err});
like($r->{out}, qr/\ATIME\s+IP\s+KEY\s+INTERFACE\s+STATUS\s+RESULT\s+REASON\s+MS\s+REQUEST\n\z/,
    'and prints the headings alone');
is($t->redis('EXISTS', $S), 0, 'and makes no stream');

my @ips = ('10.0.0.1', '10.9.0.1', '2001:db8::1', '2001:db8:ffff::1');
my @out = (['ok', 'ok', 200], ['ok', 'ok;stale', 200],
    ['denied', 'bad_signature', 401], ['error', 'store_unavailable', 503]);
my @calls = map {
    my $o = $out[$_ % 4];
    $t->call_record(id => rid(), ip => $ips[int($_ / 4) % 4],
        result => $o->[0], reason => $o->[1], status => $o->[2],
        ak => $_ % 3 ? 'TailKey00001' : 'TailKey00002',
        interface => $_ % 5 ? 'orders' : 'users', path => "/api/call/$_",
        rt => $_)
} 0 .. 59;
my @ids = $t->add_calls(@calls);
# one the drain would reject is still shown
push @ids, $t->add_calls({ v => 2, path => '/v2', t => 1 });

sub tail_json {
    my (@args) = @_;
    my $r = $t->ctl_json('records', 'tail', @args);
    is($r->{rc}, 0, "tail @args exits 0") or diag($r->{err});
    return @{ $r->{json}{records} || [] };
}

my @got = tail_json();
is(scalar @got, 10, 'tail: the newest 10');
is_deeply([map { $_->{stream_id} } @got], [@ids[-10 .. -1]],
    'oldest first, the newest last');
is($got[-1]{path}, '/v2', 'an entry of another version is shown too');
is($got[-1]{request_id}, '', 'with what it has');
is($got[-2]{path}, '/api/call/59', 'fields as sent');
is($got[-2]{latency_ms}, 59, 'numbers as numbers');

@got = tail_json('--count', 100);
is(scalar @got, 61, '--count 100 of 61: all');

# filters, against what this test sent
my %f = (
    '--result denied' => sub { $_[0]{result} eq 'denied' },
    '--reason ok' => sub { $_[0]{reason} =~ /^ok(;|$)/ },
    '--reason ok;stale' => sub { $_[0]{reason} eq 'ok;stale' },
    '--key TailKey00002' => sub { $_[0]{ak} eq 'TailKey00002' },
    '--interface users' => sub { $_[0]{interface} eq 'users' },
    '--ip 10.0.0.0/16' => sub { $_[0]{ip} eq '10.0.0.1' },
    '--ip 2001:db8::/48' => sub { $_[0]{ip} eq '2001:db8::1' },
    '--ip 2001:db8::/32' => sub { $_[0]{ip} =~ /^2001:db8:/ },
    '--status 5xx' => sub { $_[0]{status} >= 500 },
    '--status 401' => sub { $_[0]{status} == 401 },
);
for my $args (sort keys %f) {
    my @want = grep { $f{$args}->($_) } @calls;
    @got = tail_json(split(/ /, $args), '--count', 1000);
    is(join(',', map { $_->{request_id} } @got),
        join(',', map { $_->{id} } @want), "tail $args: "
        . scalar(@want) . ' calls');
}
@got = tail_json('--result', 'denied', '--count', 3);
is_deeply([map { $_->{request_id} } @got],
    [map { $_->{id} } (grep { $_->{result} eq 'denied' } @calls)[-3 .. -1]],
    'the newest 3 that pass, however far back');

# a line per call for people
$r = $t->ctl('records', 'tail', '--count', 3, '--key', 'TailKey00002');
my @lines = split /\n/, $r->{out};
is(scalar @lines, 4, 'headings and three lines');
like($lines[3], qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\s+\S+\s+TailKey00002\s+\S+\s+\d+\s+\w+\s+\S+\s+\d+\s+GET \/api\/call\/57$/,
    'time, address, key, interface, status, result, reason, ms, request');

is($t->redis('XLEN', $S), 61, 'nothing consumed');
is_deeply($t->redis('XINFO', 'GROUPS', $S), [], 'no consumer group');

# --follow: what comes after, as it comes
my $run = $t->ctl_spawn('records', 'tail', '--follow', '--count', 0,
    '--reason', 'bad_signature');
# the headings come once it has read where the stream is
Apiauth::Test::wait_for('tail --follow to start', 10, sub {
    $t->read_file(substr($run->{out}, length($t->dir) + 1)) =~ /^TIME/;
});
$t->add_calls($t->call_record(id => rid(), path => '/not/shown'),
    $t->call_record(id => rid(), path => '/shown/1', result => 'denied',
        reason => 'bad_signature', status => 401));
Apiauth::Test::wait_for('tail --follow to show the call', 10, sub {
    -s $run->{out} && $t->read_file(substr($run->{out},
        length($t->dir) + 1)) =~ m{/shown/1};
});
$t->add_calls($t->call_record(id => rid(), path => '/shown/2',
    reason => 'bad_signature'));
Apiauth::Test::wait_for('the next one', 10, sub {
    $t->read_file(substr($run->{out}, length($t->dir) + 1)) =~ m{/shown/2};
});
kill 'TERM', $run->{pid};
$r = $t->ctl_wait($run);
is($r->{rc}, 0, 'tail --follow ends on SIGTERM, exit 0');
@lines = split /\n/, $r->{out};
is(scalar @lines, 3, 'headings and the two calls that pass');
like($lines[1], qr{ GET /shown/1$}, 'the first');
unlike($r->{out}, qr{/not/shown}, 'not the one that does not pass');

$run = $t->ctl_spawn('--json', 'records', 'tail', '--follow', '--count', 2);
Apiauth::Test::wait_for('the first two lines', 10, sub {
    (() = $t->read_file(substr($run->{out}, length($t->dir) + 1))
        =~ /\n/g) == 2;
});
$t->add_calls($t->call_record(id => rid(), path => '/json/1'));
Apiauth::Test::wait_for('the third line', 10, sub {
    $t->read_file(substr($run->{out}, length($t->dir) + 1)) =~ m{/json/1};
});
kill 'TERM', $run->{pid};
$r = $t->ctl_wait($run);
@lines = split /\n/, $r->{out};
is(scalar @lines, 3, '--follow --json: a document a line');
is_deeply([map { eval { decode_json($_)->{path} } } @lines],
    ['/shown/1', '/shown/2', '/json/1'], 'each one call');

# --stream: another stream than nginx's default
$t->redis('XADD', 'calls:staging', '*',
    map { ($_, $calls[0]{$_}) } @Apiauth::Test::CALL_FIELDS);
@got = tail_json('--stream', 'calls:staging');
is_deeply([map { $_->{request_id} } @got], [$calls[0]{id}],
    '--stream calls:staging: its one call');

# refusals
$t->ctl_refused(['records', 'tail', '--count', 'x'], qr/invalid --count "x"/,
    'a count');
$t->ctl_refused(['records', 'tail', '--status', 'abc'],
    qr/invalid --status "abc"/, 'a status');
$t->ctl_refused(['records', 'tail', '--ip', '1.2.3'], qr/invalid --ip "1.2.3"/,
    'an address');
$t->ctl_refused(['records', 'tail', '--since', '-1h'],
    qr/unknown option "--since"/, 'tail takes no time');
$t->ctl_refused(['records', 'tail', 'more'], qr/unexpected argument "more"/,
    'an argument');

$t->finish;
done_testing;
