#!/usr/bin/perl

# key list pages through the index: every key once, in order, across pages;
# Redis lost half-way through a --json list gives one error document, not
# half a list followed by it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;
$t->ctl('config', 'set', 'max_keys', '5000');

# 1,234 keys written in the layout apiauth-ctl uses, more than two pages
my $n = 1234;
for my $i (1 .. $n) {
    my $ak = sprintf 'PageKey%05d', $i;
    $t->redis('HSET', "{apiauth}:key:$ak", 'name', "k$i", 'description', '',
        'salt', sprintf('%032x', $i), 'status', $i % 3 ? 'enabled' : 'disabled',
        'created', 1764000000, 'updated', 1764000000, 'apps', '*',
        'interfaces', '*', 'ips', '');
    $t->redis('ZADD', '{apiauth}:keys', 0, $ak);
}

my $r = $t->ctl_json('key', 'list');
is($r->{rc}, 0, 'list of many keys');
is($r->{json}{count}, $n, 'every key is listed');
my @aks = map { $_->{access_key} } @{ $r->{json}{keys} };
is_deeply(\@aks, [map { sprintf 'PageKey%05d', $_ } 1 .. $n],
    'once each, in order');

$r = $t->ctl_json('key', 'list', '--status', 'disabled');
is($r->{json}{count}, int($n / 3), 'the status filter spans pages');

$r = $t->ctl('key', 'list');
my @rows = grep { /^PageKey/ } split /\n/, $r->{out};
is(scalar @rows, $n, 'the table has a row per key');

# many more pages (written by one script), so that Redis can be killed
# while the list is under way: once apiauth-ctl asked for its second page
$t->redis('EVAL', <<'EOF', 0);
for i = 1, 100000 do
  local ak = string.format('ZPageKey%07d', i)
  redis.call('HSET', '{apiauth}:key:' .. ak, 'name', 'z' .. i,
             'description', '', 'salt', string.format('%032x', i),
             'status', 'enabled', 'created', '1764000000',
             'updated', '1764000000', 'apps', '*', 'interfaces', '*',
             'ips', '')
  redis.call('ZADD', '{apiauth}:keys', 0, ak)
end
return 1
EOF

sub pages {
    my $info = $t->redis('INFO', 'commandstats');
    return $info =~ /^cmdstat_zrangebylex:calls=(\d+)/m ? $1 : 0;
}

my $p0 = pages();
my $run = $t->ctl_spawn('--json', 'key', 'list');
Apiauth::Test::wait_for('the second page', 10, sub { pages() >= $p0 + 2 });
kill 'KILL', $t->{pids}{redis};
delete $t->{pids}{redis};
$t->redis_close;
$r = $t->ctl_wait($run);
is($r->{rc}, 1, 'Redis lost during a --json key list: exit 1');
my $doc = eval { decode_json($r->{out}) };
is_deeply([sort keys %{ $doc // {} }], ['error'],
    'stdout is one document, the error alone, no half list')
    or diag(substr($r->{out}, 0, 300));
like($r->{err}, qr/\Aapiauth-ctl: error: lost the connection to Redis/,
    'and stderr says what happened');

$t->finish;
done_testing;
