#!/usr/bin/perl

# Secrets are derived from the master key and never stored: nothing in Redis
# holds a secret, nor the master key.

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

sub dump_values {
    my ($db) = @_;
    $t->redis('SELECT', $db // 0);
    my $all = '';
    for my $k (@{ $t->redis('KEYS', '*') }) {
        my $type = $t->redis('TYPE', $k);
        my $v = $type eq 'hash' ? $t->redis('HGETALL', $k)
            : $type eq 'zset' ? $t->redis('ZRANGE', $k, 0, -1)
            : $type eq 'string' ? [$t->redis('GET', $k)]
            : $type eq 'stream' ? [map { ($_->[0], @{ $_->[1] }) }
                @{ $t->redis('XRANGE', $k, '-', '+') }]
            : die "unexpected type $type of $k";
        $all .= join("\n", $k, @$v) . "\n";
        # DUMP covers the encoding, whatever it is
        $all .= $t->redis('DUMP', $k) . "\n";
    }
    $t->redis('SELECT', 0);
    return $all;
}

my @secrets;
for my $i (1 .. 5) {
    my $k = $t->create_key('--name', "k$i", '--ip', "10.0.0.$i");
    push @secrets, $k->{access_secret};
}
my $k = $t->create_key('--name', 'x', '--access-key', 'SameKey00001');
push @secrets, $k->{access_secret};
my $r = $t->ctl_json('key', 'regenerate-secret', 'SameKey00001');
push @secrets, $r->{json}{access_secret};
$r = $t->ctl_json('key', 'set-access-key', 'SameKey00001', 'SameKey00002');
push @secrets, $r->{json}{access_secret};
$r = $t->ctl_json('key', 'copy', 'SameKey00002', '--name', 'copy');
push @secrets, $r->{json}{access_secret};
$r = $t->ctl_json('key', 'show', 'SameKey00002', '--reveal');
is($r->{json}{access_secret}, $secrets[-2], 'show --reveal re-derives it');

my $dump = dump_values();
my $master = $t->read_file('master.key');
chomp $master;
ok(length $dump > 1000, 'the dump has the store in it');
is(scalar(grep { index($dump, $_) >= 0 } @secrets), 0,
    'no secret appears in any Redis value');
is(index(lc $dump, $master), -1, 'the master key does not appear either');
is(scalar(grep { index($dump, substr($_, 0, 16)) >= 0 } @secrets), 0,
    'nor any secret\'s first 16 characters');

# the same accessKey with a new salt gives a new secret

$t->ctl('key', 'disable', 'SameKey00002');
$t->ctl('key', 'delete', 'SameKey00002');
$k = $t->create_key('--name', 'again', '--access-key', 'SameKey00002');
isnt($k->{access_secret}, $secrets[-2],
    'the same accessKey created again has a new secret');

# another master key gives other secrets for the same accessKey and salt

my $salt = $t->redis('HGET', '{apiauth}:key:SameKey00002', 'salt');
open my $f, '>', "$mk.2" or die;
print $f "0f" x 32, "\n";
close $f;
chmod 0600, "$mk.2";

my $url1 = $t->redis_url;
(my $url2 = $url1) =~ s{/0$}{/1};
$r = $t->ctl('--redis', $url2, '--master-key', "$mk.2", 'init',
    '--use-existing');
is($r->{rc}, 0, 'a second store with another master key') or diag($r->{err});
# the same record, byte for byte, in the second store
my $rec = $t->redis('HGETALL', '{apiauth}:key:SameKey00002');
$t->redis('SELECT', 1);
$t->redis('HSET', '{apiauth}:key:SameKey00002', @$rec);
$t->redis('ZADD', '{apiauth}:keys', 0, 'SameKey00002');
$t->redis('SELECT', 0);
$r = $t->ctl_json('--redis', $url2, '--master-key', "$mk.2", 'key', 'show',
    'SameKey00002', '--reveal');
my $other = $r->{json}{access_secret};
like($other, qr/^[0-9a-f]{64}$/, 'the other store derives a secret');
isnt($other, $k->{access_secret}, 'another master key, another secret');
is($other, derive_secret($t->master_bytes("$mk.2"), 'SameKey00002', $salt),
    'and it is the derivation of docs/keys.md under that key');

$t->finish;
done_testing;
