#!/usr/bin/perl

# apiauth-ctl refusals: bad input and requests the store must refuse get one
# stderr line, exit 2, and change nothing in Redis.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

sub refused {
    $t->ctl_refused(@_);
}

$t->create_key('--name', 'base', '--access-key', 'BaseKey00001', '--ip',
    '10.0.0.1');

# formats

my $rule = qr/use 8 to 32 letters or digits/;
refused(['key', 'create', '--name', 'x', '--access-key', 'Short7X'], $rule,
    'accessKey of 7');
refused(['key', 'create', '--name', 'x', '--access-key', 'A' x 33], $rule,
    'accessKey of 33');
refused(['key', 'create', '--name', 'x', '--access-key', 'bad-key-123'],
    qr/invalid accessKey "bad-key-123": $rule/, 'accessKey with a dash');
refused(['key', 'create', '--name', 'x', '--access-key', "caf\xc3\xa9Key1"],
    $rule, 'accessKey with non-ASCII');
refused(['key', 'show', 'a b c d e f'], $rule, 'show of a bad accessKey');
refused(['key', 'create', '--name', ''], qr/invalid key name/, 'empty name');
refused(['key', 'create', '--name', "a\tb"],
    qr/without control or bidirectional formatting characters/,
    'name with a tab');
refused(['key', 'create', '--name', 'n' x 129], qr/1 to 128 bytes/,
    'name of 129 bytes');
refused(['key', 'create', '--name', 'x', '--description', 'd' x 1025],
    qr/at most 1024 bytes/, 'description of 1025 bytes');
refused(['key', 'create'], qr/needs --name NAME/, 'create without --name');
refused(['key', 'create', '--name', 'x', '--app', 'bad name'],
    qr/invalid app name "bad name": use 1 to 64 of/, 'app with a space');
refused(['key', 'create', '--name', 'x', '--app', 'a' x 65],
    qr/invalid app name/, 'app of 65 characters');
refused(['key', 'create', '--name', 'x', '--app', 'a,,b'],
    qr/invalid app list/, 'app list with an empty name');
refused(['key', 'create', '--name', 'x', '--app', 'all,shop'],
    qr/"all" app cannot be mixed with names/, 'all mixed with names');
refused(['key', 'create', '--name', 'x', '--interface', 'or/ders'],
    qr/invalid interface name/, 'interface with a slash');
refused(['key', 'scope', 'BaseKey00001', '--apps', ''],
    qr/invalid app list/, 'scope with an empty list');
refused(['key', 'scope', 'BaseKey00001'], qr/needs --apps or --interfaces/,
    'scope with nothing to set');
refused(['key', 'list', '--status', 'on'], qr/invalid status "on"/,
    'list --status on');
refused(['key', 'set-access-key', 'BaseKey00001', 'BaseKey00001'],
    qr/the new accessKey is the old one/, 'set-access-key to itself');
refused(['key', 'rename', 'BaseKey00001'], qr/takes two arguments/,
    'rename without a name');

for my $time ('tomorrow', '2026-02-30', '2026-13-01', '12x', '-5d',
    '2026-01-01T25:00:00Z', '2026-01-01T10:00:00')
{
    refused(['key', 'create', '--name', 'x', '--expires', $time],
        qr/invalid time "\Q$time\E"/, "TIME $time");
}
refused(['key', 'expire', 'BaseKey00001', 'soon'], qr/invalid time "soon"/,
    'expire soon');

# whitelist entries: any invalid one refuses the whole change

for my $e ('', '*', '256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4.5',
    '1.2.3.4/33', '1.2.3.*/24', '2001:db8::/129', 'fe80::1%eth0', 'host.name',
    '1.2.3.4 ', '::g')
{
    refused(['key', 'ip', 'BaseKey00001', 'add', '10.0.0.2', $e],
        qr/invalid whitelist entry "\Q$e\E": use an IPv4 address/,
        "whitelist entry '$e'");
}
refused(['key', 'create', '--name', 'x', '--ip', '10.0.0.1', '--ip', '300.0.0.1'],
    qr/invalid whitelist entry "300\.0\.0\.1"/, 'create with a bad entry');
refused(['key', 'ip', 'BaseKey00001', 'remove', '10.9.9.9'],
    qr/"10\.9\.9\.9" is not in the whitelist/, 'removing an absent entry');
refused(['key', 'ip', 'BaseKey00001', 'add'], qr/takes one or more entries/,
    'ip add of nothing');
refused(['key', 'ip', 'BaseKey00001', 'clear', '1.2.3.4'],
    qr/takes no entries/, 'ip clear with entries');
refused(['key', 'ip', 'BaseKey00001', 'flush'],
    qr/unknown command "key ip flush"/, 'unknown ip command');

# unknown keys

for my $cmd (['show'], ['rename', 'n'], ['describe', 'd'],
    ['set-access-key', 'OtherKey0001'], ['regenerate-secret'], ['enable'],
    ['disable'], ['delete'], ['copy', '--name', 'c'], ['scope', '--apps', 'a'],
    ['ip', 'add', '1.2.3.4'], ['ip', 'list'], ['expire', 'never'])
{
    my ($c, @rest) = @$cmd;
    refused(['key', $c, 'NoSuchKey001', @rest],
        qr/no key with accessKey "NoSuchKey001"/, "$c of an unknown key");
}

# existing keys

refused(['key', 'create', '--name', 'x', '--access-key', 'BaseKey00001'],
    qr/a key with accessKey "BaseKey00001" exists already/, 'create twice');
$t->create_key('--name', 'other', '--access-key', 'OtherKey0001');
refused(['key', 'set-access-key', 'BaseKey00001', 'OtherKey0001'],
    qr/"OtherKey0001" exists already/, 'set-access-key onto a key');
refused(['key', 'copy', 'BaseKey00001', '--name', 'c', '--access-key',
    'OtherKey0001'], qr/"OtherKey0001" exists already/, 'copy onto a key');

# limits

my $r = $t->ctl('config', 'set', 'max_keys', '3');
is($r->{rc}, 0, 'config set max_keys');
$t->create_key('--name', 'third');
refused(['key', 'create', '--name', 'fourth'],
    qr/holds max_keys \(3\) keys already; raise the limit/, 'past max_keys');
refused(['key', 'copy', 'BaseKey00001', '--name', 'c'],
    qr/max_keys \(3\)/, 'copy past max_keys');
$t->ctl('config', 'set', 'max_keys', '500');

$t->ctl('config', 'set', 'max_ips', '3');
$t->ctl('key', 'ip', 'BaseKey00001', 'add', '10.0.0.2', '10.0.0.3');
refused(['key', 'ip', 'BaseKey00001', 'add', '10.0.0.4'],
    qr/at most max_ips \(3\) entries; raise the limit/, 'past max_ips');
$r = $t->ctl('key', 'ip', 'BaseKey00001', 'add', '10.0.0.3');
is($r->{rc}, 0, 'adding a present entry at the limit is fine');
refused(['key', 'create', '--name', 'x', '--ip', '1.1.1.1', '--ip', '1.1.1.2',
    '--ip', '1.1.1.3', '--ip', '1.1.1.4'], qr/max_ips \(3\)/,
    'create past max_ips');

# config

refused(['config', 'set', 'max_things', '3'], qr/unknown setting "max_things"/,
    'unknown setting');
for my $v ('0', 'ten', '10000000000') {
    refused(['config', 'set', 'max_keys', $v], qr/invalid max_keys "\Q$v\E"/,
        "max_keys $v");
}
refused(['config', 'set', 'max_keys', '-1'], qr/unknown option "-1"/,
    'max_keys -1 reads as an option');

# interfaces

$t->ctl('interface', 'add', 'orders', '--url', 'https://x.example/orders');
refused(['interface', 'add', 'orders', '--url', 'https://x.example/o2'],
    qr/an interface named "orders" exists already/, 'interface added twice');
refused(['interface', 'remove', 'nosuch'], qr/no interface named "nosuch"/,
    'removing an unknown interface');
refused(['interface', 'add', 'x'], qr/needs --url URL/, 'interface without URL');
refused(['interface', 'add', 'x', '--url', 'ftp://x.example/'],
    qr/invalid URL "ftp:\/\/x\.example\/"/, 'interface with an ftp URL');
refused(['interface', 'add', 'x', '--url', 'https://x.example/a b'],
    qr/no spaces or control characters/, 'interface URL with a space');
refused(['interface', 'add', 'bad name', '--url', 'https://x.example/'],
    qr/invalid interface name "bad name"/, 'interface with a bad name');
refused(['interface', 'add', 'x', '--url', 'https://x.example/', '--app',
    'a b'], qr/invalid app name "a b"/, 'interface with a bad app');

# Redis URLs

for my $url ('http://127.0.0.1:6379', 'redis://127.0.0.1:0/0',
    'redis://127.0.0.1:99999', 'redis://127.0.0.1:6379/x', 'unix:relative')
{
    refused(['--redis', $url, 'key', 'list'], qr/invalid Redis URL/,
        "Redis URL $url");
}

$t->finish;
done_testing;
