#!/usr/bin/perl

# key list pages through the index: every key once, in order, across pages.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
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

$t->finish;
done_testing;
