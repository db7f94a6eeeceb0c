#!/usr/bin/perl

# Every change appends one entry to the change stream {apiauth}:changes,
# naming the accessKeys it touched, in the same script that makes it; a
# refused change and a read append nothing; the stream is trimmed to about
# 100,000 entries (docs/keys.md, "The change stream and schema 2").

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;

sub generation { $t->redis('HGET', '{apiauth}:meta', 'generation') // 0 }

# runs a change; exactly one new entry, with exactly these fields
sub appends {
    my ($args, $fields, $name) = @_;
    my ($last, $gen) = ($t->last_change, generation());
    my $len = $t->redis('XLEN', '{apiauth}:changes');
    my $r = $t->ctl(@$args);
    is($r->{rc}, 0, "$name succeeds") or diag($r->{err});
    my $new = $t->changes($last);
    is(scalar @$new, 1, "$name appends one entry");
    is_deeply($new->[0][1], $fields, "$name: op @$fields[1 .. $#$fields]");
    is($t->redis('XLEN', '{apiauth}:changes'), $len + 1,
        "$name: the entries before it stay");
    is(generation(), $gen + 1, "$name bumps the generation");
}

# runs a command that must append nothing
sub appends_nothing {
    my ($args, $rc, $name) = @_;
    my ($last, $gen) = ($t->last_change, generation());
    my $len = $t->redis('XLEN', '{apiauth}:changes');
    my $r = $t->ctl(@$args);
    is($r->{rc}, $rc, "$name: exit $rc") or diag($r->{err});
    is($t->last_change, $last, "$name appends nothing");
    is($t->redis('XLEN', '{apiauth}:changes'), $len,
        "$name: the stream's length is the same");
    is(generation(), $gen, "$name: the generation is the same");
}

my $ak = 'ChangeKey001';

appends(['init'], [op => 'init'], 'init');
is($t->redis('TYPE', '{apiauth}:changes'), 'stream',
    '{apiauth}:changes is a stream');
appends(['key', 'create', '--name', 'a', '--access-key', $ak],
    [op => 'key.create', ak => $ak], 'key create');
appends(['key', 'rename', $ak, 'b'], [op => 'key.rename', ak => $ak],
    'key rename');
appends(['key', 'describe', $ak, 'd'], [op => 'key.describe', ak => $ak],
    'key describe');
appends(['key', 'disable', $ak], [op => 'key.disable', ak => $ak],
    'key disable');
appends(['key', 'enable', $ak], [op => 'key.enable', ak => $ak],
    'key enable');
appends(['key', 'regenerate-secret', $ak],
    [op => 'key.regenerate-secret', ak => $ak], 'key regenerate-secret');
appends(['key', 'scope', $ak, '--apps', 'x'], [op => 'key.scope', ak => $ak],
    'key scope --apps');
appends(['key', 'scope', $ak, '--interfaces', 'i', '--apps', 'all'],
    [op => 'key.scope', ak => $ak], 'key scope of both dimensions');
appends(['key', 'ip', $ak, 'add', '10.0.0.1', '10.0.0.2'],
    [op => 'key.ip', ak => $ak], 'key ip add');
appends(['key', 'ip', $ak, 'remove', '10.0.0.1'],
    [op => 'key.ip', ak => $ak], 'key ip remove');
appends(['key', 'ip', $ak, 'clear'], [op => 'key.ip', ak => $ak],
    'key ip clear');
appends(['key', 'expire', $ak, '1d'], [op => 'key.expire', ak => $ak],
    'key expire');
appends(['key', 'expire', $ak, 'never'], [op => 'key.expire', ak => $ak],
    'key expire never');
appends(['key', 'set-access-key', $ak, 'ChangeKey002'],
    [op => 'key.set-access-key', old => $ak, new => 'ChangeKey002'],
    'key set-access-key names the old and the new accessKey');
appends(['key', 'copy', 'ChangeKey002', '--name', 'c', '--access-key',
    'ChangeKey003'], [op => 'key.copy', ak => 'ChangeKey003'],
    'key copy names the new key');
appends(['key', 'disable', 'ChangeKey003'],
    [op => 'key.disable', ak => 'ChangeKey003'], 'key disable before delete');
appends(['key', 'delete', 'ChangeKey003'],
    [op => 'key.delete', ak => 'ChangeKey003'], 'key delete');
appends(['interface', 'add', 'i', '--url', 'https://x.example/i'],
    [op => 'interface.add'], 'interface add');
appends(['interface', 'remove', 'i'], [op => 'interface.remove'],
    'interface remove');
appends(['config', 'set', 'max_ips', '10'], [op => 'config.set'],
    'config set max_ips');
appends(['config', 'set', 'max_keys', '400'], [op => 'config.set'],
    'config set max_keys');

# every entry so far, in order: the stream is the history of the changes
my @ops = map { $_->[1][1] } @{ $t->changes };
is(scalar @ops, 22, 'one entry per change, 22 in all');
is($ops[0], 'init', 'the first is init');
is($ops[-1], 'config.set', 'the last is the last change');

# refused changes append nothing: bad input (refused before Redis), an
# unknown key, an existing accessKey, an enabled key, an absent entry, a
# limit, an unknown interface (refused by the scripts)

appends_nothing(['key', 'ip', 'ChangeKey002', 'add', 'nonsense'], 2,
    'a refused ip add (invalid entry)');
appends_nothing(['key', 'create', '--name', "x\ty"], 2,
    'a refused create (invalid name)');
appends_nothing(['config', 'set', 'max_ips', '5000'], 2,
    'a refused config set (past the bound)');
appends_nothing(['key', 'rename', 'NoSuchKey001', 'n'], 2,
    'a rename of an unknown key');
appends_nothing(['key', 'set-access-key', 'NoSuchKey001', 'NoSuchKey002'], 2,
    'a set-access-key of an unknown key');
appends_nothing(['key', 'create', '--name', 'x', '--access-key',
    'ChangeKey002'], 2, 'a create of an existing accessKey');
appends_nothing(['key', 'copy', 'ChangeKey002', '--name', 'x',
    '--access-key', 'ChangeKey002'], 2, 'a copy onto an existing accessKey');
appends_nothing(['key', 'delete', 'ChangeKey002'], 2,
    'a delete of an enabled key');
appends_nothing(['key', 'ip', 'ChangeKey002', 'remove', '10.9.9.9'], 2,
    'a removal of an absent entry');
appends_nothing(['interface', 'remove', 'nosuch'], 2,
    'a removal of an unknown interface');
$t->ctl('config', 'set', 'max_ips', '1');
appends_nothing(['key', 'ip', 'ChangeKey002', 'add', '10.0.0.5', '10.0.0.6'],
    2, 'an ip add past max_ips');
$t->ctl('config', 'set', 'max_ips', '50');

# reads append nothing

appends_nothing(['key', 'list'], 0, 'key list');
appends_nothing(['key', 'show', 'ChangeKey002'], 0, 'key show');
appends_nothing(['key', 'ip', 'ChangeKey002', 'list'], 0, 'key ip list');
appends_nothing(['interface', 'list'], 0, 'interface list');
appends_nothing(['config', 'show'], 0, 'config show');
appends_nothing(['doctor'], 0, 'doctor');
appends_nothing(['upgrade'], 0, 'upgrade of a store of schema 2');

# MAXLEN ~ 100000: a stream past it is trimmed by the next change, to whole
# nodes of at most 100 entries (stream-node-max-entries)

is($t->redis('CONFIG', 'GET', 'stream-node-max-entries')->[1], 100,
    'the stream nodes hold 100 entries');
$t->redis('EVAL', "for i = 1, tonumber(ARGV[1]) do "
    . "redis.call('XADD', KEYS[1], '*', 'op', 'filler') end return 1",
    1, '{apiauth}:changes', 100_250);
my $len = $t->redis('XLEN', '{apiauth}:changes');
cmp_ok($len, '>', 100_000 + 2 * 100, "a stream of $len entries");
my $last = $t->last_change;
my $r = $t->ctl('key', 'rename', 'ChangeKey002', 'trimmed');
is($r->{rc}, 0, 'a change past MAXLEN succeeds') or diag($r->{err});
is_deeply([map { $_->[1] } @{ $t->changes($last) }],
    [[op => 'key.rename', ak => 'ChangeKey002']],
    'it appends its entry, the newest');
$len = $t->redis('XLEN', '{apiauth}:changes');
cmp_ok($len, '>=', 100_000, "it trims the stream to no fewer than 100,000 "
    . "entries ($len)");
cmp_ok($len, '<=', 100_000 + 100, 'and at most one node more');
is($t->redis('XRANGE', '{apiauth}:changes', '-', '+', 'COUNT', 1)->[0][1][1],
    'filler', 'the oldest entries went first');

$t->finish;
done_testing;
