#!/usr/bin/perl

# Racing apiauth-ctl processes cannot lose a change, break a limit, or leave
# an index entry without its key.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

$t->create_key('--name', 'racer', '--access-key', 'RaceKey00001');

# 20 concurrent "key ip add" of different entries: all land

my @runs = map { $t->ctl_spawn('key', 'ip', 'RaceKey00001', 'add',
    "10.0.0.$_") } 1 .. 20;
my @res = map { $t->ctl_wait($_) } @runs;
is(scalar(grep { $_->{rc} == 0 } @res), 20, '20 concurrent ip adds succeed')
    or diag(join '', map { $_->{err} } @res);
my %ips = map { $_ => 1 } split /,/,
    $t->redis('HGET', '{apiauth}:key:RaceKey00001', 'ips');
is_deeply([sort { (split /\./, $a)[3] <=> (split /\./, $b)[3] } keys %ips],
    [map { "10.0.0.$_" } 1 .. 20], 'all 20 entries are in the whitelist');

# concurrent removes and adds, then a check of the count
@runs = ((map { $t->ctl_spawn('key', 'ip', 'RaceKey00001', 'remove',
    "10.0.0.$_") } 1 .. 10),
    (map { $t->ctl_spawn('key', 'ip', 'RaceKey00001', 'add', "10.0.1.$_") }
        1 .. 10));
@res = map { $t->ctl_wait($_) } @runs;
is(scalar(grep { $_->{rc} == 0 } @res), 20, '20 concurrent adds and removes');
my @now = split /,/, $t->redis('HGET', '{apiauth}:key:RaceKey00001', 'ips');
is(scalar @now, 20, 'the whitelist has exactly the expected entries');
ok(!grep({ /^10\.0\.0\.([1-9]|10)$/ } @now), 'every removed entry is gone');

# concurrent creates never exceed max_keys

$t->ctl('config', 'set', 'max_keys', '10');
@runs = map { $t->ctl_spawn('key', 'create', '--name', "c$_") } 1 .. 30;
@res = map { $t->ctl_wait($_) } @runs;
my $ok = grep { $_->{rc} == 0 } @res;
is($ok, 9, '30 concurrent creates: exactly the 9 free places are taken');
is(scalar(grep { $_->{rc} == 2 && $_->{err} =~ /max_keys \(10\)/ } @res), 21,
    'the other 21 are refused at the limit');
is($t->redis('ZCARD', '{apiauth}:keys'), 10, 'the store holds max_keys keys');

# concurrent set-access-key, copy, delete, disable: no orphans either way

$t->ctl('config', 'set', 'max_keys', '100');
my @keys = grep { $_ ne 'RaceKey00001' }
    @{ $t->redis('ZRANGE', '{apiauth}:keys', 0, -1) };
$t->ctl('key', 'disable', $_) for @keys[0 .. 4];
my $i = 0;
@runs = ((map { $t->ctl_spawn('key', 'delete', $_) } @keys[0 .. 4]),
    (map { $t->ctl_spawn('key', 'set-access-key', $_, sprintf('Moved%07d',
        ++$i)) } @keys[5 .. 8]),
    (map { $t->ctl_spawn('key', 'copy', 'RaceKey00001', '--name', "cp$_") }
        1 .. 10),
    (map { $t->ctl_spawn('key', 'set-access-key', $keys[0], "Gone$_" . 'x' x 6)
        } 1 .. 3));
@res = map { $t->ctl_wait($_) } @runs;
is(scalar(grep { $_->{rc} == 0 } @res), 19,
    'deletes, renames and copies succeed; renames of deleted keys do not');

my $index = $t->redis('ZRANGE', '{apiauth}:keys', 0, -1);
my @orphans = grep { !$t->redis('EXISTS', "{apiauth}:key:$_") } @$index;
is_deeply(\@orphans, [], 'no index entry without its key');
my @unindexed = grep { !defined $t->redis('ZSCORE', '{apiauth}:keys',
    substr($_, length '{apiauth}:key:')) }
    @{ $t->redis('KEYS', '{apiauth}:key:*') };
is_deeply(\@unindexed, [], 'no key without its index entry');
# a rename of $keys[0] may beat its delete: count the deletes that won
my $deleted = grep { $_->{rc} == 0 } @res[0 .. 4];
ok($deleted == 5 || $deleted == 4, 'each delete wins unless its rename did');
is(scalar @$index, 1 + 9 - $deleted + 10, 'the count adds up');

$t->finish;
done_testing;
