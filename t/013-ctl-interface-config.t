#!/usr/bin/perl

# apiauth-ctl interface and config.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my $r = $t->ctl('interface', 'list');
is($r->{out}, "no interfaces\n", 'an empty catalog');

$r = $t->ctl('interface', 'add', 'orders', '--url',
    'https://api.example.com/orders', '--app', 'shop');
is($r->{rc}, 0, 'interface add');
like($r->{out}, qr/interface "orders" added/, 'interface add says so');
$r = $t->ctl_json('interface', 'add', 'health', '--url',
    'http://api.example.com/health');
is_deeply($r->{json}, { name => 'health', app => '',
    url => 'http://api.example.com/health' }, 'interface add --json');

$r = $t->ctl('interface', 'list');
like($r->{out}, qr/^NAME\s+APP\s+CALL URL\s+CREATED\nhealth\s+-\s+http:\/\/api\.example\.com\/health\s+\S+Z\norders\s+shop\s+https:\/\/api\.example\.com\/orders\s+\S+Z\n\z/,
    'interface list: a table in name order');

$r = $t->ctl_json('interface', 'list');
is_deeply([map { [$_->{name}, $_->{app}, $_->{url}] } @{ $r->{json}{interfaces} }],
    [['health', '', 'http://api.example.com/health'],
     ['orders', 'shop', 'https://api.example.com/orders']],
    'interface list --json');

$r = $t->ctl('interface', 'remove', 'health');
like($r->{out}, qr/interface "health" removed/, 'interface remove');
is($t->redis('EXISTS', '{apiauth}:interface:health'), 0,
    'interface remove deletes the record');
is_deeply($t->redis('ZRANGE', '{apiauth}:interfaces', 0, -1), ['orders'],
    'and its index entry');

# config

$r = $t->ctl('config', 'show');
like($r->{out}, qr/^max_keys\s+500$/m, 'config show: default max_keys 500');
like($r->{out}, qr/^max_ips\s+50$/m, 'config show: default max_ips 50');
like($r->{out}, qr/^keys\s+0$/m, 'config show: key count');
like($r->{out}, qr/^interfaces\s+1$/m, 'config show: interface count');

$r = $t->ctl('config', 'set', 'max_keys', '1000');
is($r->{out}, "max_keys set to 1000\n", 'config set max_keys');
$r = $t->ctl_json('config', 'set', 'max_ips', '0200');
is_deeply($r->{json}, { max_ips => 200 }, 'config set max_ips --json');
is($t->redis('HGET', '{apiauth}:meta', 'max_ips'), '200',
    'the store keeps the number');
$r = $t->ctl_json('config', 'show');
is($r->{json}{max_keys}, 1000, 'config show --json max_keys');
is($r->{json}{max_ips}, 200, 'config show --json max_ips');
like($r->{json}{master_key_id}, qr/^[0-9a-f]{16}$/, 'config show --json id');

# lowering below the count keeps the keys and refuses growth
$t->create_key('--name', 'a');
$t->create_key('--name', 'b');
$r = $t->ctl('config', 'set', 'max_keys', '1');
is($r->{rc}, 0, 'max_keys below the count is accepted');
like($r->{err}, qr/warning: the store holds 2 keys, more than max_keys 1/,
    'with a warning');
$r = $t->ctl('key', 'create', '--name', 'c');
is($r->{rc}, 2, 'and growth is refused');
is($t->redis('ZCARD', '{apiauth}:keys'), 2, 'the keys stay');

$t->finish;
done_testing;
