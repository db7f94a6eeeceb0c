#!/usr/bin/perl

# How apiauth-ctl reaches Redis: passwords (never needed on the command
# line), ACL users, databases and unix sockets.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;
my $sock = $t->dir . '/redis.sock';
$t->start_redis(args => ['--requirepass', 'S3cret-pw', '--unixsocket', $sock,
    '--unixsocketperm', '700']);
$t->redis('AUTH', 'S3cret-pw');

my $r = $t->ctl('doctor');
is($r->{rc}, 1, 'without a password the store is refused');
like($r->{err}, qr/\Aapiauth-ctl: error: Redis at 127\.0\.0\.1:\d+ refused \S+: NOAUTH/,
    'one line naming the address and what Redis said');

{
    local $t->{ctl_env_extra} = { APIAUTH_REDIS_PASSWORD => 'S3cret-pw' };
    $r = $t->ctl('init');
    is($r->{rc}, 0, 'APIAUTH_REDIS_PASSWORD') or diag($r->{err});
}

open my $f, '>', $t->dir . '/pw' or die;
print $f "S3cret-pw\n";
close $f;
$r = $t->ctl('--redis-password-file', $t->dir . '/pw', 'key', 'create',
    '--name', 'a', '--access-key', 'PwKey0000001');
is($r->{rc}, 0, '--redis-password-file') or diag($r->{err});
is($r->{err}, '', 'with no warning');

$r = $t->ctl('--redis-password-file', $t->dir . '/nope', 'key', 'list');
is($r->{rc}, 2, 'an unreadable password file is refused');
like($r->{err}, qr/cannot read Redis password file/, 'and named');

(my $url = $t->redis_url) =~ s{//}{//:S3cret-pw@};
$r = $t->ctl('--redis', $url, 'key', 'list');
is($r->{rc}, 0, 'a password in the URL works');
like($r->{err}, qr/warning: a password in the Redis URL shows in "ps"/,
    'but warns');

# an ACL user
$t->redis('ACL', 'SETUSER', 'ops', 'on', '>ops-pw', '~*', '&*', '+@all');
($url = $t->redis_url) =~ s{//}{//ops@};
{
    local $t->{ctl_env_extra} = { APIAUTH_REDIS_PASSWORD => 'ops-pw' };
    $r = $t->ctl('--redis', $url, 'key', 'show', 'PwKey0000001');
    is($r->{rc}, 0, 'redis://user@host with APIAUTH_REDIS_PASSWORD')
        or diag($r->{err});
}
$r = $t->ctl('--redis', $url, 'key', 'list');
is($r->{rc}, 2, 'a user without a password is a usage error');
like($r->{err}, qr/Redis user "ops" needs a password/, 'it says so');

# a unix socket and another database
{
    local $t->{ctl_env_extra} = { APIAUTH_REDIS_PASSWORD => 'S3cret-pw' };
    $r = $t->ctl('--redis', "unix:$sock", 'key', 'show', 'PwKey0000001');
    is($r->{rc}, 0, 'unix:/path') or diag($r->{err});
    $r = $t->ctl('--redis', "unix:$sock?db=3", 'key', 'list');
    is($r->{rc}, 1, 'unix:/path?db=3 is another, uninitialised store');
    like($r->{err}, qr/the key store at unix:\Q$sock\E is not initialised/,
        'named by its socket');
    (my $db5 = $t->redis_url) =~ s{/0$}{/5};
    $r = $t->ctl('--redis', $db5, '--master-key', $t->dir . '/m5', 'init');
    is($r->{rc}, 0, 'init of database 5 with its own master key');
    $t->redis('SELECT', 5);
    ok($t->redis('HGET', '{apiauth}:meta', 'master_key_id'),
        'database 5 holds its store');
    $t->redis('SELECT', 0);
}

$t->finish;
done_testing;
