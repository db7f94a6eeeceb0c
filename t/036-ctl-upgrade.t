#!/usr/bin/perl

# Schema 2 and apiauth-ctl upgrade: init writes schema 2; the change
# commands refuse a store of another schema; doctor flags it; upgrade
# migrates a store of schema 1 in one script (schema 2, one "upgrade" entry
# on the change stream, key records untouched) and changes nothing on a
# store of schema 2; a store newer than the tool is refused by both
# (docs/keys.md, "The change stream and schema 2").

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;

my $meta = '{apiauth}:meta';
my $changes = '{apiauth}:changes';

$t->init_store;
is($t->redis('HGET', $meta, 'schema'), '2', 'init writes schema 2');
is_deeply([map { $_->[1] } @{ $t->changes }], [[op => 'init']],
    'init makes the change stream with its entry');

my $ak = 'UpgradeKey01';
$t->create_key('--name', 'kept', '--access-key', $ak, '--ip', '10.0.0.0/8');
$t->ctl('interface', 'add', 'orders', '--url', 'https://x.example/orders');

# the key records and the catalog, without meta and the stream
sub records {
    join "\n", grep { !/^\{apiauth\}:(?:meta|changes) / }
        split /\n/, $t->dump_store;
}

# a store of schema 1, as apiauth-ctl made it before the change stream
sub make_schema_1 {
    $t->redis('HSET', $meta, 'schema', '1');
    $t->redis('DEL', $changes);
}

# a change command refused with exit 1, one line matching $re, nothing
# changed
sub refused {
    my ($args, $re, $name) = @_;
    my $before = $t->dump_store;
    my $r = $t->ctl(@$args);
    is($r->{rc}, 1, "$name: exit 1");
    like($r->{err}, qr/\Aapiauth-ctl: error: [^\n]*$re[^\n]*\n\z/,
        "$name: one line saying why");
    ok($t->dump_store eq $before, "$name: nothing changed");
    return $r;
}

my $records = records();

###############################################################################
# schema 1

make_schema_1();

my $old = qr/the key store at 127\.0\.0\.1:\d+ has schema 1; run "apiauth-ctl upgrade"/;
for my $cmd (['key', 'create', '--name', 'x'], ['key', 'rename', $ak, 'n'],
    ['key', 'disable', $ak], ['key', 'ip', $ak, 'add', '10.1.1.1'],
    ['key', 'set-access-key', $ak, 'UpgradeKey02'],
    ['key', 'copy', $ak, '--name', 'c'], ['interface', 'remove', 'orders'],
    ['config', 'set', 'max_keys', '10'])
{
    refused($cmd, $old, "'@$cmd[0, 1]' on a store of schema 1");
}
ok(!$t->redis('EXISTS', $changes), 'no change stream was made');

my $r = $t->ctl_json('key', 'rename', $ak, 'n');
is($r->{rc}, 1, '--json: exit 1');
like($r->{json}{error}, $old, '--json: the error document says to upgrade');

$r = $t->ctl('key', 'show', $ak);
is($r->{rc}, 0, 'reads still work on a store of schema 1');

$r = $t->ctl('doctor');
is($r->{rc}, 1, 'doctor fails on a store of schema 1');
like($r->{out}, qr/^schema\s+FAIL\s+schema 1: run "apiauth-ctl upgrade"$/m,
    'doctor says to run upgrade');
like($r->{out},
    qr/^changes\s+ok\s+no change stream yet: "apiauth-ctl upgrade" makes it$/m,
    'doctor: no change stream yet');

$r = $t->ctl_json('doctor');
my %c = map { $_->{check} => $_ } @{ $r->{json}{checks} || [] };
is($c{schema}{status}, 'fail', 'doctor --json: schema fails');
is($r->{json}{ok}, JSON::PP::false, 'doctor --json: ok is false');

my $before = $t->dump_store;
$r = $t->ctl('init', '--use-existing');
is($r->{rc}, 0, 'init --use-existing of a store of schema 1: exit 0');
like($r->{err},
    qr/^apiauth-ctl: warning: schema: schema 1: run "apiauth-ctl upgrade"$/m,
    'its checks warn that the store needs an upgrade');
ok($t->dump_store eq $before, 'and it changes nothing');

# a name in the way of the stream: upgrade refuses before it writes

$t->redis('SET', $changes, 'in the way');
refused(['upgrade'], qr/holds a string at "\{apiauth\}:changes", the name of its change stream: .*rename or delete it/,
    'upgrade with a string at the stream\'s name');
is($t->redis('HGET', $meta, 'schema'), '1', 'the schema stays 1');
$r = $t->ctl('doctor');
like($r->{out}, qr/^changes\s+FAIL\s+\{apiauth\}:changes is a string, not a stream/m,
    'doctor flags the string at the stream\'s name');
$t->redis('DEL', $changes);

# upgrade

my $gen = $t->redis('HGET', $meta, 'generation');
$r = $t->ctl('upgrade');
is($r->{rc}, 0, 'upgrade of a store of schema 1: exit 0') or diag($r->{err});
like($r->{out}, qr/\Aupgraded the key store at 127\.0\.0\.1:\d+ from schema 1 to schema 2\n\z/,
    'it says what it did');
is($t->redis('HGET', $meta, 'schema'), '2', 'the store has schema 2');
is($t->redis('TYPE', $changes), 'stream', 'the change stream is made');
is_deeply([map { $_->[1] } @{ $t->changes }], [[op => 'upgrade']],
    'with one entry, op upgrade');
is($t->redis('HGET', $meta, 'generation'), $gen + 1,
    'the generation is bumped');
ok(records() eq $records, 'the key records and the catalog are untouched');

$r = $t->ctl('doctor');
is($r->{rc}, 0, 'doctor passes after the upgrade') or diag($r->{out});
like($r->{out}, qr/^schema\s+ok\s+schema 2$/m, 'doctor: schema 2');
like($r->{out}, qr/^changes\s+ok\s+a stream of 1 entry, the newest \d+-\d+ \(trimmed to about 100000\)$/m,
    'doctor: the stream and its length');

$r = $t->ctl('key', 'rename', $ak, 'renamed');
is($r->{rc}, 0, 'changes work after the upgrade') or diag($r->{err});
is($t->redis('XLEN', $changes), 2, 'and append to the stream');

# a second upgrade changes nothing

$before = $t->dump_store;
$r = $t->ctl('upgrade');
is($r->{rc}, 0, 'a second upgrade: exit 0');
like($r->{out}, qr/\Athe key store at 127\.0\.0\.1:\d+ has schema 2 already\n\z/,
    'it says the store has schema 2 already');
ok($t->dump_store eq $before, 'it changes nothing, appends nothing');

$r = $t->ctl_json('upgrade');
is($r->{rc}, 0, 'upgrade --json of a store of schema 2');
is_deeply($r->{json}, { schema => 2, upgraded => JSON::PP::false, from => 2 },
    'upgrade --json: {"schema":2,"upgraded":false,"from":2}');
ok($t->dump_store eq $before, 'still nothing changed');

# --json of an upgrade; a stream that is there is kept

$t->redis('HSET', $meta, 'schema', '1');
my $last = $t->last_change;
$r = $t->ctl_json('upgrade');
is($r->{rc}, 0, 'upgrade --json of a store of schema 1');
is_deeply($r->{json}, { schema => 2, upgraded => JSON::PP::true, from => 1 },
    'upgrade --json: {"schema":2,"upgraded":true,"from":1}');
is_deeply([map { $_->[1] } @{ $t->changes($last) }], [[op => 'upgrade']],
    'a stream that is there gets the upgrade entry');
is($t->redis('XLEN', $changes), 3, 'after the entries it had');

# no schema at all

$t->redis('HDEL', $meta, 'schema');
refused(['key', 'enable', $ak],
    qr/the key store at \S+ has no schema; run "apiauth-ctl upgrade"/,
    'a store without a schema');
$r = $t->ctl('doctor');
like($r->{out}, qr/^schema\s+FAIL\s+no schema: run "apiauth-ctl upgrade"$/m,
    'doctor: no schema');
$r = $t->ctl_json('upgrade');
is_deeply($r->{json}, { schema => 2, upgraded => JSON::PP::true,
    from => undef }, 'upgrade --json from no schema: "from":null');

# a store newer than the tool

$t->redis('HSET', $meta, 'schema', '3');
my $new = qr/the key store at 127\.0\.0\.1:\d+ has schema 3, newer than this apiauth-ctl \(2\): upgrade apiauth-ctl/;
refused(['key', 'rename', $ak, 'n'], $new, 'a change of a store of schema 3');
refused(['interface', 'add', 'x', '--url', 'https://x.example/x'], $new,
    'an interface add to a store of schema 3');
refused(['upgrade'], $new, 'upgrade of a store of schema 3');
$r = $t->ctl_json('upgrade');
like($r->{json}{error}, $new, 'upgrade --json: the error document');
$r = $t->ctl('doctor');
is($r->{rc}, 1, 'doctor fails on a store of schema 3');
like($r->{out}, qr/^schema\s+FAIL\s+schema 3 is newer than this apiauth-ctl \(2\): upgrade apiauth-ctl$/m,
    'doctor says to upgrade apiauth-ctl');

$t->redis('HSET', $meta, 'schema', 'two');
refused(['upgrade'], qr/has schema "two", which is not a schema \(this apiauth-ctl knows 2\)/,
    'upgrade of a store whose schema is not a number');
$t->redis('HSET', $meta, 'schema', '2');

# what upgrade needs: an initialised store, its master key

{
    (my $url = $t->redis_url) =~ s{/0$}{/5};
    local $t->{ctl_env_extra} = { APIAUTH_REDIS => $url };
    $r = $t->ctl('upgrade');
}
is($r->{rc}, 1, 'upgrade of a store not initialised: exit 1');
like($r->{err}, qr/\Aapiauth-ctl: error: the key store at \S+ is not initialised; run "apiauth-ctl init"\n\z/,
    'it says to run init');

open my $f, '>', $t->master_key . '.other' or die;
print $f 'cd' x 32, "\n";
close $f;
chmod 0600, $t->master_key . '.other';
refused(['--master-key', $t->master_key . '.other', 'upgrade'],
    qr/master key mismatch/, 'upgrade with another master key');

# usage

$r = $t->ctl('upgrade', '--help');
is($r->{rc}, 0, 'upgrade --help: exit 0');
like($r->{out}, qr/\Ausage: apiauth-ctl upgrade \[--json\]\n/,
    'upgrade --help: its usage');
$r = $t->ctl('--help');
like($r->{out}, qr/^  upgrade\s+migrate the key store/m,
    'apiauth-ctl --help lists upgrade');
$r = $t->ctl('upgrade', 'now');
is($r->{rc}, 2, 'upgrade takes no arguments: exit 2');
like($r->{err}, qr/"upgrade" takes no arguments/, 'and says so');

$t->finish;
done_testing;
