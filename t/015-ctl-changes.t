#!/usr/bin/perl

# Every change is announced on {apiauth}:changes, naming the accessKeys it
# touched, by the same script that makes it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::INET;
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;
$t->start_redis;

my $sub = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
    PeerPort => $t->port('redis'), Proto => 'tcp') or die;
print $sub "*2\r\n\$9\r\nSUBSCRIBE\r\n\$17\r\n{apiauth}:changes\r\n";
Apiauth::Test::resp_read($sub);

sub next_message {
    my $sel = IO::Select->new($sub);
    return undef unless $sel->can_read(5);
    my $m = Apiauth::Test::resp_read($sub);
    return $m->[2];
}

sub announces {
    my ($args, $expect, $name) = @_;
    my $gen = $t->redis('HGET', '{apiauth}:meta', 'generation') // 0;
    my $r = $t->ctl(@$args);
    is($r->{rc}, 0, "$name succeeds") or diag($r->{err});
    is(next_message(), $expect, "$name is announced");
    is($t->redis('HGET', '{apiauth}:meta', 'generation'), $gen + 1,
        "$name bumps the generation");
}

announces(['init'], 'init', 'init');
announces(['key', 'create', '--name', 'a', '--access-key', 'ChangeKey001'],
    'key.create ChangeKey001', 'key create');
announces(['key', 'rename', 'ChangeKey001', 'b'], 'key.rename ChangeKey001',
    'key rename');
announces(['key', 'describe', 'ChangeKey001', 'd'],
    'key.describe ChangeKey001', 'key describe');
announces(['key', 'disable', 'ChangeKey001'], 'key.disable ChangeKey001',
    'key disable');
announces(['key', 'enable', 'ChangeKey001'], 'key.enable ChangeKey001',
    'key enable');
announces(['key', 'regenerate-secret', 'ChangeKey001'],
    'key.regenerate-secret ChangeKey001', 'key regenerate-secret');
announces(['key', 'scope', 'ChangeKey001', '--apps', 'x'],
    'key.scope ChangeKey001', 'key scope');
announces(['key', 'ip', 'ChangeKey001', 'add', '10.0.0.1'],
    'key.ip ChangeKey001', 'key ip add');
announces(['key', 'ip', 'ChangeKey001', 'remove', '10.0.0.1'],
    'key.ip ChangeKey001', 'key ip remove');
announces(['key', 'ip', 'ChangeKey001', 'clear'], 'key.ip ChangeKey001',
    'key ip clear');
announces(['key', 'expire', 'ChangeKey001', '1d'], 'key.expire ChangeKey001',
    'key expire');
announces(['key', 'set-access-key', 'ChangeKey001', 'ChangeKey002'],
    'key.set-access-key ChangeKey001 ChangeKey002',
    'key set-access-key names both accessKeys');
announces(['key', 'copy', 'ChangeKey002', '--name', 'c', '--access-key',
    'ChangeKey003'], 'key.copy ChangeKey003', 'key copy');
announces(['key', 'disable', 'ChangeKey003'], 'key.disable ChangeKey003',
    'key disable before delete');
announces(['key', 'delete', 'ChangeKey003'], 'key.delete ChangeKey003',
    'key delete');
announces(['interface', 'add', 'i', '--url', 'https://x.example/i'],
    'interface.add', 'interface add');
announces(['interface', 'remove', 'i'], 'interface.remove', 'interface remove');
announces(['config', 'set', 'max_ips', '10'], 'config.set', 'config set');

# a refused change is not announced
my $r = $t->ctl('key', 'delete', 'ChangeKey002');
is($r->{rc}, 2, 'a refused delete');
$r = $t->ctl('key', 'ip', 'ChangeKey002', 'add', 'nonsense');
is($r->{rc}, 2, 'a refused ip add');
$t->ctl('key', 'rename', 'ChangeKey002', 'after');
is(next_message(), 'key.rename ChangeKey002',
    'refused changes published nothing: the next message is the next change');

# read-only commands announce nothing
$t->ctl('key', 'list');
$t->ctl('key', 'show', 'ChangeKey002');
$t->ctl('config', 'show');
$t->ctl('doctor');
ok(!IO::Select->new($sub)->can_read(0.3), 'reads announce nothing');

close $sub;
$t->finish;
done_testing;
