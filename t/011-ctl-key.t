#!/usr/bin/perl

# apiauth-ctl key: every command, human and --json output.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;
use Apiauth::Sign qw(derive_secret);

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my $mk = $t->master_key;

sub derive {
    my ($ak) = @_;
    my $salt = $t->redis('HGET', "{apiauth}:key:$ak", 'salt');
    return derive_secret($t->master_bytes, $ak, $salt);
}

# create

my $r = $t->ctl('key', 'create', '--name', 'Partner A');
is($r->{rc}, 0, 'create with a name only') or diag($r->{err});
my ($ak) = $r->{out} =~ /^access key\s+(\S+)$/m;
my ($secret) = $r->{out} =~ /^access secret\s+(\S+)$/m;
like($ak, qr/^[A-Za-z0-9]{20}$/, 'a drawn accessKey has 20 letters and digits');
like($secret, qr/^[0-9a-f]{64}$/, 'the secret is printed, 64 hex characters');
is($secret, derive($ak), 'the secret is the reference derivation');
like($r->{out}, qr/^apps\s+all$/m, 'no --app: all apps');
like($r->{out}, qr/^interfaces\s+all$/m, 'no --interface: all interfaces');
like($r->{out}, qr/^ip whitelist\s+any address$/m, 'no --ip: any address');
like($r->{out}, qr/^status\s+enabled$/m, 'enabled by default');

my %seen = ($ak => 1);
for (1 .. 5) {
    my $k = $t->create_key('--name', "n$_");
    $seen{ $k->{access_key} }++;
}
is(scalar keys %seen, 6, 'drawn accessKeys differ');

my $k = $t->create_key('--name', 'Shop backend', '--access-key', 'ShopKey0001',
    '--description', 'orders and users', '--app', 'shop', '--app', 'crm,shop',
    '--interface', 'orders', '--ip', '10.1.2.3/8', '--ip', '192.168.1.*',
    '--ip', '2001:DB8::/32', '--ip', '10.0.0.0/8', '--expires',
    '2030-01-02T03:04:05Z', '--disabled');
is($k->{access_key}, 'ShopKey0001', 'create --access-key');
is($k->{name}, 'Shop backend', 'create --name');
is($k->{description}, 'orders and users', 'create --description');
is_deeply($k->{apps}, ['shop', 'crm'], 'create --app, repeated and listed');
is_deeply($k->{interfaces}, ['orders'], 'create --interface');
is_deeply($k->{ip_whitelist}, ['10.0.0.0/8', '192.168.1.*', '2001:db8::/32'],
    'create --ip: canonical entries, no repeats');
is($k->{expires}, '2030-01-02T03:04:05Z', 'create --expires RFC 3339');
is($k->{status}, 'disabled', 'create --disabled');
is($k->{access_secret}, derive('ShopKey0001'), 'create --json shows the secret');

my $now = time;
$k = $t->create_key('--name', 'rel', '--expires', '30d');
my $exp = $t->redis('HGET', "{apiauth}:key:$k->{access_key}", 'expires');
ok(abs($exp - ($now + 30 * 86400)) <= 2, 'create --expires 30d');
$k = $t->create_key('--name', 'unix', '--expires', '1900000000');
is($k->{expires}, '2030-03-17T17:46:40Z', 'create --expires unix seconds');
$k = $t->create_key('--name', 'offset', '--expires', '2030-01-02T05:04:05+02:00');
is($k->{expires}, '2030-01-02T03:04:05Z', 'create --expires with an offset');

# show

$r = $t->ctl('key', 'show', 'ShopKey0001');
is($r->{rc}, 0, 'show');
my $masked = substr(derive('ShopKey0001'), 0, 4) . '*' x 12;
like($r->{out}, qr/^access secret\s+\Q$masked\E\s/m, 'show masks the secret');
unlike($r->{out}, qr/\Q${\ derive('ShopKey0001')}\E/, 'show never prints it');
like($r->{out}, qr/^description\s+orders and users$/m, 'show: description');
like($r->{out}, qr/^expires\s+2030-01-02T03:04:05Z$/m, 'show: expiry');

$r = $t->ctl('key', 'show', 'ShopKey0001', '--reveal');
like($r->{out}, qr/^access secret\s+${\ derive('ShopKey0001')}$/m,
    'show --reveal shows the secret');

# list

$r = $t->ctl('key', 'list');
is($r->{rc}, 0, 'list');
like($r->{out}, qr/^ACCESS KEY\s+NAME\s+STATUS\s+SECRET/m, 'list has headings');
like($r->{out}, qr/^ShopKey0001\s+Shop backend\s+disabled\s+\Q$masked\E\s+2030-01-02T03:04:05Z\s+shop,crm\s+orders\s+3$/m,
    'list: one aligned row per key, secret masked');
unlike($r->{out}, qr/[0-9a-f]{64}/, 'list shows no secret');

$r = $t->ctl_json('key', 'list');
is($r->{json}{count}, 10, 'list --json counts every key');
my @aks = map { $_->{access_key} } @{ $r->{json}{keys} };
is_deeply(\@aks, [sort @aks], 'list is in accessKey order');

$r = $t->ctl_json('key', 'list', '--status', 'disabled');
is_deeply([map { $_->{access_key} } @{ $r->{json}{keys} }], ['ShopKey0001'],
    'list --status disabled');
$r = $t->ctl_json('key', 'list', '--status', 'enabled');
is($r->{json}{count}, 9, 'list --status enabled');

# rename, describe

$r = $t->ctl('key', 'rename', 'ShopKey0001', 'Shop v2');
is($r->{rc}, 0, 'rename');
is($t->redis('HGET', '{apiauth}:key:ShopKey0001', 'name'), 'Shop v2',
    'rename changes the name');
$r = $t->ctl_json('key', 'describe', 'ShopKey0001', 'new text');
is($r->{json}{description}, 'new text', 'describe --json shows the key');

# enable, disable

$r = $t->ctl('key', 'enable', 'ShopKey0001');
like($r->{out}, qr/key "ShopKey0001" enabled/, 'enable');
is($t->redis('HGET', '{apiauth}:key:ShopKey0001', 'status'), 'enabled',
    'enable sets the status');
$r = $t->ctl('key', 'disable', 'ShopKey0001');
is($t->redis('HGET', '{apiauth}:key:ShopKey0001', 'status'), 'disabled',
    'disable sets the status');

# regenerate-secret: new salt, new secret

my $old_salt = $t->redis('HGET', '{apiauth}:key:ShopKey0001', 'salt');
my $old_secret = derive('ShopKey0001');
$r = $t->ctl_json('key', 'regenerate-secret', 'ShopKey0001');
is($r->{rc}, 0, 'regenerate-secret');
isnt($t->redis('HGET', '{apiauth}:key:ShopKey0001', 'salt'), $old_salt,
    'regenerate-secret draws a new salt');
isnt($r->{json}{access_secret}, $old_secret, 'the secret changes');
is($r->{json}{access_secret}, derive('ShopKey0001'),
    'the new secret is the derivation with the new salt');

# set-access-key: old key gone, new secret

$r = $t->ctl_json('key', 'set-access-key', 'ShopKey0001', 'ShopKey0002');
is($r->{rc}, 0, 'set-access-key') or diag($r->{err});
is($r->{json}{access_key}, 'ShopKey0002', 'set-access-key shows the new key');
is($r->{json}{access_secret}, derive('ShopKey0002'), 'and its new secret');
is($r->{json}{name}, 'Shop v2', 'the rest of the key moves along');
is_deeply($r->{json}{ip_whitelist}, ['10.0.0.0/8', '192.168.1.*',
    '2001:db8::/32'], 'the whitelist moves along');
is($t->redis('EXISTS', '{apiauth}:key:ShopKey0001'), 0,
    'the old accessKey is gone');
is($t->redis('ZSCORE', '{apiauth}:keys', 'ShopKey0001'), undef,
    'and out of the index');
ok(defined $t->redis('ZSCORE', '{apiauth}:keys', 'ShopKey0002'),
    'the new one is in the index');
$r = $t->ctl('key', 'show', 'ShopKey0001');
is($r->{rc}, 2, 'the old accessKey is unknown');

# copy: own accessKey and secret, same description, scopes, whitelist

$r = $t->ctl_json('key', 'copy', 'ShopKey0002', '--name', 'Shop copy');
is($r->{rc}, 0, 'copy') or diag($r->{err});
my $c = $r->{json};
isnt($c->{access_key}, 'ShopKey0002', 'copy has its own accessKey');
is($c->{access_secret}, derive($c->{access_key}), 'and its own secret');
is($c->{name}, 'Shop copy', 'copy --name');
is($c->{description}, 'new text', 'copy keeps the description');
is_deeply($c->{apps}, ['shop', 'crm'], 'copy keeps the apps');
is_deeply($c->{interfaces}, ['orders'], 'copy keeps the interfaces');
is_deeply($c->{ip_whitelist}, ['10.0.0.0/8', '192.168.1.*', '2001:db8::/32'],
    'copy keeps the whitelist');
is($c->{status}, 'enabled', 'a copy is enabled unless --disabled');
$r = $t->ctl_json('key', 'copy', 'ShopKey0002', '--name', 'c2',
    '--access-key', 'CopyKey0001', '--disabled');
is($r->{json}{access_key}, 'CopyKey0001', 'copy --access-key');
is($r->{json}{status}, 'disabled', 'copy --disabled');

# scope

$r = $t->ctl_json('key', 'scope', 'CopyKey0001', '--apps', 'all');
is($r->{json}{apps}, 'all', 'scope --apps all');
is_deeply($r->{json}{interfaces}, ['orders'], 'scope leaves the other alone');
$r = $t->ctl_json('key', 'scope', 'CopyKey0001', '--interfaces', 'a,b',
    '--apps', 'x');
is_deeply($r->{json}{interfaces}, ['a', 'b'], 'scope --interfaces list');
is_deeply($r->{json}{apps}, ['x'], 'scope --apps list');
is($t->redis('HGET', '{apiauth}:key:CopyKey0001', 'interfaces'), 'a,b',
    'the store keeps a comma-separated list');
$r = $t->ctl_json('key', 'scope', 'CopyKey0001', '--interfaces', 'all');
is($t->redis('HGET', '{apiauth}:key:CopyKey0001', 'interfaces'), '*',
    'the store keeps all as *');

# ip

$r = $t->ctl('key', 'ip', 'CopyKey0001', 'list');
like($r->{out}, qr/\A10\.0\.0\.0\/8\n192\.168\.1\.\*\n2001:db8::\/32\n\z/,
    'ip list: one entry per line');
$r = $t->ctl_json('key', 'ip', 'CopyKey0001', 'add', '::ffff:172.16.0.1',
    '172.16.0.0/12', '10.*.*.*', '::1');
is_deeply($r->{json}{ip_whitelist}, ['10.0.0.0/8', '192.168.1.*',
    '2001:db8::/32', '172.16.0.1', '172.16.0.0/12', '10.*.*.*', '::1'],
    'ip add: each form, mapped IPv6 as IPv4');
$r = $t->ctl_json('key', 'ip', 'CopyKey0001', 'add', '172.16.0.1');
is(scalar @{ $r->{json}{ip_whitelist} }, 7, 'ip add of a present entry is a no-op');
$r = $t->ctl_json('key', 'ip', 'CopyKey0001', 'remove', '10.1.0.0/8',
    '::1');
is_deeply($r->{json}{ip_whitelist}, ['192.168.1.*', '2001:db8::/32',
    '172.16.0.1', '172.16.0.0/12', '10.*.*.*'],
    'ip remove: entries match in canonical form');
$r = $t->ctl('key', 'ip', 'CopyKey0001', 'clear');
is($r->{rc}, 0, 'ip clear');
like($r->{out}, qr/empty whitelist, any address may call/, 'ip clear says so');
is($t->redis('HGET', '{apiauth}:key:CopyKey0001', 'ips'), '',
    'ip clear empties the whitelist');

# expire

$r = $t->ctl_json('key', 'expire', 'CopyKey0001', '2031-05-06');
is($r->{json}{expires}, '2031-05-06T00:00:00Z', 'expire with a date');
$r = $t->ctl_json('key', 'expire', 'CopyKey0001', 'now');
is($r->{json}{expired}, JSON::PP::true, 'expire now: expired');
$r = $t->ctl('key', 'show', 'CopyKey0001');
like($r->{out}, qr/^expires\s+\S+ \(expired\)$/m, 'show marks an expired key');
$r = $t->ctl_json('key', 'expire', 'CopyKey0001', 'never');
is($r->{json}{expires}, undef, 'expire never');
is($t->redis('HEXISTS', '{apiauth}:key:CopyKey0001', 'expires'), 0,
    'expire never removes the field');

# delete

$t->ctl('key', 'enable', 'ShopKey0002');
$r = $t->ctl('key', 'delete', 'ShopKey0002');
is($r->{rc}, 2, 'delete of an enabled key is refused');
like($r->{err}, qr/key "ShopKey0002" is enabled; disable it/,
    'it says to disable it first');
is($t->redis('EXISTS', '{apiauth}:key:ShopKey0002'), 1, 'the key stays');
$t->ctl('key', 'disable', 'ShopKey0002');
$r = $t->ctl('key', 'delete', 'ShopKey0002');
is($r->{rc}, 0, 'delete of a disabled key');
like($r->{out}, qr/key "ShopKey0002" deleted/, 'delete says so');
is($t->redis('EXISTS', '{apiauth}:key:ShopKey0002'), 0, 'the key is gone');
is($t->redis('ZSCORE', '{apiauth}:keys', 'ShopKey0002'), undef,
    'and out of the index');

# show: call URLs of the catalog entries the key may call

$t->ctl('interface', 'add', 'orders', '--url', 'https://api.example.com/orders',
    '--app', 'shop');
$t->ctl('interface', 'add', 'users', '--url', 'https://api.example.com/users',
    '--app', 'crm');
$t->ctl('interface', 'add', 'health', '--url', 'https://api.example.com/health');
$k = $t->create_key('--name', 'scoped', '--access-key', 'Scoped000001',
    '--app', 'shop');
$r = $t->ctl_json('key', 'show', 'Scoped000001');
is_deeply([map { $_->{interface} } @{ $r->{json}{call_urls} }], ['orders'],
    'call URLs: only interfaces of the key\'s apps');
is($r->{json}{call_urls}[0]{url}, 'https://api.example.com/orders',
    'call URLs: the URL');
$t->ctl('key', 'scope', 'Scoped000001', '--apps', 'all', '--interfaces',
    'users,health');
$r = $t->ctl('key', 'show', 'Scoped000001');
like($r->{out}, qr/^health\s+-\s+https:\/\/api\.example\.com\/health$/m,
    'call URLs: an interface without app, for a key of all apps');
like($r->{out}, qr/^users\s+crm\s+https:\/\/api\.example\.com\/users$/m,
    'call URLs: a listed interface');
unlike($r->{out}, qr/^orders/m, 'call URLs: not an interface off the list');

# a record nginx would refuse (written behind the tool's back) is shown
# whole, with why; the doctor finds it among all keys
$t->create_key('--name', 'broken', '--access-key', 'Broken000001');
$t->redis('HDEL', '{apiauth}:key:Broken000001', 'ips');
$r = $t->ctl('key', 'show', 'Broken000001');
like($r->{out}, qr/^nginx\s+refuses it \(store_unavailable\): it has no ips field/m,
    'key show: nginx refuses the record, and why');
$r = $t->ctl_json('key', 'show', 'Broken000001');
like($r->{json}{nginx_refuses} // '', qr/no ips field/,
    'key show --json: nginx_refuses says why');
$r = $t->ctl_json('key', 'show', 'Scoped000001');
ok(exists $r->{json}{nginx_refuses} && !defined $r->{json}{nginx_refuses},
    'and is null for a record nginx reads');
$r = $t->ctl('key', 'list');
like($r->{out}, qr/^Broken000001\s+broken\s+malformed\s/m,
    'key list: its status is malformed');
$r = $t->ctl_json('doctor');
my ($records) = grep { $_->{check} eq 'records' } @{ $r->{json}{checks} };
is($records->{status}, 'warn', 'doctor: the records check warns');
like($records->{detail}, qr/nginx refuses 1 of \d+ keys .*"Broken000001": it has no ips field/,
    'naming the key and why');

$t->finish;
done_testing;
