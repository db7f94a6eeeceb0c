#!/usr/bin/perl

# apiauth-ctl init and doctor: the master key file, its id in Redis, and a
# Redis that keeps data.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;
use Apiauth::Sign qw(key_id);

my $t = Apiauth::Test->new;
$t->start_redis;

my $mk = $t->master_key;

# before init

my $r = $t->ctl('key', 'list');
is($r->{rc}, 1, 'a command before init fails') or diag($r->{err});
like($r->{err}, qr/cannot read master key/, 'it says the master key is missing');

open my $f, '>', "$mk.other" or die;
print $f "ab" x 32, "\n";
close $f;
$r = $t->ctl('--master-key', "$mk.other", 'key', 'list');
is($r->{rc}, 1, 'an uninitialised store is refused');
like($r->{err}, qr/not initialised; run "apiauth-ctl init"/,
    'it says to run init');

# init

$r = $t->ctl('init');
is($r->{rc}, 0, 'init succeeds') or diag($r->{err});
like($r->{out}, qr/initialised the key store at 127\.0\.0\.1:\d+/,
    'init names the store');
ok(-f $mk, 'master key file created');
is((stat $mk)[2] & 07777, 0600, 'master key file is mode 0600');
like($t->read_file('master.key'), qr/\A[0-9a-f]{64}\n\z/,
    'master key file holds 64 hex characters and a newline');
like($r->{err}, qr/warning: persistence: appendonly is no/,
    'init warns about a Redis without appendonly');

my $id = key_id($t->master_bytes);
is($t->redis('HGET', '{apiauth}:meta', 'master_key_id'), $id,
    'the master key id in Redis is the one docs/keys.md computes');
like($r->{out}, qr/\(id $id\)/, 'init prints the id');

my $before = $t->read_file('master.key');
$r = $t->ctl('init');
is($r->{rc}, 2, 'a second init refuses');
like($r->{err}, qr/master key ".*" exists; refusing to overwrite it/,
    'it refuses to overwrite the file');
is($t->read_file('master.key'), $before, 'the master key file is unchanged');

$r = $t->ctl('init', '--use-existing');
is($r->{rc}, 0, 'init --use-existing with the same key is fine');
like($r->{out}, qr/initialised already/, 'and says so');

# another master key: every command refuses, naming both ids

my $other = key_id($t->master_bytes("$mk.other"));
for my $cmd (['key', 'list'], ['key', 'create', '--name', 'x'],
    ['config', 'show'], ['interface', 'list'])
{
    $r = $t->ctl('--master-key', "$mk.other", @$cmd);
    is($r->{rc}, 1, "'@$cmd' refuses another master key");
    like($r->{err}, qr/master key mismatch: ".*" has id $other, the key store at \S+ was initialised with id $id/,
        "'@$cmd' names both ids");
}

$r = $t->ctl('--master-key', "$mk.other", 'init', '--use-existing');
is($r->{rc}, 1, 'init --use-existing with another key refuses');
like($r->{err}, qr/id $id/, 'naming the store id');

# init of a fresh file against an initialised store leaves no file behind

$r = $t->ctl('--master-key', "$mk.new", 'init');
is($r->{rc}, 1, 'a new master key for an initialised store is refused');
like($r->{err}, qr/initialised already, with master key id $id/,
    'it names the id in use');
ok(!-e "$mk.new", 'no new master key file is left behind');

# nor when the store refuses the change itself: a user that may read, not
# run scripts, on a database not initialised yet
$t->redis('ACL', 'SETUSER', 'reader', 'on', '>reader-pw', '~*', '+hget',
    '+ping', '+info', '+select', '+auth', '+config|get');
{
    (my $url = $t->redis_url) =~ s{//}{//reader@};
    $url =~ s{/0$}{/3};
    local $t->{ctl_env_extra} = { APIAUTH_REDIS => $url,
        APIAUTH_REDIS_PASSWORD => 'reader-pw' };
    $r = $t->ctl('--master-key', "$mk.refused", 'init');
}
is($r->{rc}, 1, 'init where the store refuses the script: exit 1');
like($r->{err}, qr/NOPERM|refused/, 'saying what Redis said');
ok(!-e "$mk.refused", 'and the master key file it made is gone');

# the key id is checked inside the change too (the script), not only before
$t->redis('HSET', '{apiauth}:meta', 'master_key_id', '0000000000000000');
$r = $t->ctl('key', 'create', '--name', 'x');
is($r->{rc}, 1, 'a store re-initialised under us is refused');
$t->redis('HSET', '{apiauth}:meta', 'master_key_id', $id);

# doctor

$r = $t->ctl('doctor');
is($r->{rc}, 0, 'doctor passes on a fresh store') or diag($r->{out});
like($r->{out}, qr/^redis\s+ok\s+reachable at 127\.0\.0\.1:\d+/m,
    'doctor: reachable');
like($r->{out}, qr/^version\s+ok\s+Redis \d+\.\d+/m, 'doctor: version');
like($r->{out}, qr/^persistence\s+warn\s+appendonly is no.*appendonly yes/m,
    'doctor: says to turn appendonly on');
like($r->{out}, qr/^eviction\s+ok\s+maxmemory-policy noeviction/m,
    'doctor: noeviction is fine');
like($r->{out}, qr/^master key\s+ok\s+id $id matches/m,
    'doctor: master key id matches');
like($r->{out}, qr/^keys\s+ok\s+0 of max_keys 500/m, 'doctor: key count');
like($r->{out}, qr/^interfaces\s+ok\s+0/m, 'doctor: interface count');

$t->redis('CONFIG', 'SET', 'appendonly', 'yes');
$t->redis('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
$r = $t->ctl_json('doctor');
is($r->{rc}, 1, 'doctor fails on an evicting Redis');
my %c = map { $_->{check} => $_ } @{ $r->{json}{checks} || [] };
is($c{persistence}{status}, 'ok', 'doctor --json: appendonly yes is ok');
is($c{eviction}{status}, 'fail', 'doctor --json: allkeys-lru fails');
like($c{eviction}{detail}, qr/noeviction/, 'doctor --json: says what to set');
is($r->{json}{ok}, JSON::PP::false, 'doctor --json: ok is false');
$t->redis('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');

$r = $t->ctl('--master-key', "$mk.other", 'doctor');
is($r->{rc}, 1, 'doctor fails on a master key mismatch');
like($r->{out}, qr/^master key\s+FAIL\s+.*has id $other, the key store was initialised with id $id/m,
    'doctor names both ids');

# a user without CONFIG: "could not check"
$t->redis('ACL', 'SETUSER', 'limited', 'on', '>pw', '~*', '&*', '+@all',
    '-config');
{
    local $t->{ctl_env_extra} = { APIAUTH_REDIS_PASSWORD => 'pw' };
    local $t->{redis_url_user} = 1;
    my $url = $t->redis_url;
    $url =~ s{//}{//limited@};
    $r = $t->ctl('--redis', $url, 'doctor');
}
is($r->{rc}, 0, 'doctor without CONFIG still runs') or diag($r->{err});
like($r->{out}, qr/^persistence\s+could not check\s+CONFIG GET is not allowed/m,
    'doctor: could not check persistence');
like($r->{out}, qr/^eviction\s+could not check/m,
    'doctor: could not check eviction');

# unreachable Redis: one line naming the address, exit 1

$r = $t->ctl('--redis', 'redis://127.0.0.1:1/0', 'doctor');
is($r->{rc}, 1, 'an unreachable Redis is a runtime failure');
like($r->{err}, qr/\Aapiauth-ctl: error: cannot connect to Redis at 127\.0\.0\.1:1: .*\n\z/,
    'one stderr line naming the address');

$r = $t->ctl('--json', '--redis', 'redis://127.0.0.1:1/0', 'key', 'list');
like($r->{out}, qr/^\{"error":"cannot connect to Redis at 127\.0\.0\.1:1/,
    'with --json the error is a JSON document too');

$t->finish;
done_testing;
