#!/usr/bin/perl

# The change feed against the store's schema and stream: a schema-1 store
# is served and said to be old, and "apiauth-ctl upgrade" while nginx runs
# turns the feed on; a schema the module does not know is refused; entry
# IDs past 2^63 are read; an accessKey an entry names is dropped from the
# cache whoever wrote the entry.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use Apiauth::Test;
use Apiauth::Client qw(:DEFAULT tok verdict until_verdict lookups
    feed_clients);

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my %k;
$k{$_} = $t->create_key('--name', "key $_") for qw(old up ids hand new);

my $conf = nginx_conf(
    main => 'worker_processes 1;',
    http => 'apiauth_cache zone=keys:1m ttl=1h;',
    server => 'location /tok/ { apiauth token; @@BACKEND@@ }');

###############################################################################
# a store of schema 1 (made by an older apiauth-ctl: no stream)

$t->redis('HSET', '{apiauth}:meta', 'schema', 1);
$t->redis('DEL', '{apiauth}:changes');
$t->write_nginx_conf($conf);
$t->start_nginx;
$t->wait_feeds(1);

is(verdict(tok($t, $k{old})), 'ok', 'schema 1: keys are served');
like($t->read_file('error.log'), qr/\[warn\] .*the key store at "[^"]+" has schema 1, without a change feed: key changes reach nginx only as cached keys age \(ttl\); run "apiauth-ctl upgrade"/,
    'and the error log says the store is old, and what to run');

# upgraded while nginx serves: the feed reads the upgrade, and every key
# is looked up again; changes are enforced from then on
is(verdict(tok($t, $k{up})), 'ok', 'a key cached');
my $c = $t->ctl('upgrade');
is($c->{rc}, 0, 'apiauth-ctl upgrade, nginx running') or diag($c->{err});
my $before = lookups($t);
my ($took, $v);
my $t0 = time;
1 while lookups($t) == $before && verdict(tok($t, $k{up})) eq 'ok'
    && time - $t0 < 2 && sleep 0.02;
ok(lookups($t) > $before, sprintf 'the upgrade dropped every cached key '
    . '(looked up again after %.3fs)', time - $t0);
$t->ctl('key', 'disable', $k{up}{access_key});
($took, $v) = until_verdict($t, $k{up}, 'disabled_key', 1);
is($v, 'disabled_key', sprintf 'then a change is enforced within a second '
    . '(%.3fs)', $took);

###############################################################################
# entry IDs past 2^63 (ngx_atoof() stops at 2^63 - 1): the feed reads them

is(verdict(tok($t, $k{ids})), 'ok', 'a key cached');
my $top = $t->last_change;
my ($ms) = $top =~ /^(\d+)-/;
# a minute ahead: the entries made after it follow it, its seq + 1, ...
my $big = ($ms + 60000) . '-9223372036854775900';
my $id = $t->redis('XADD', '{apiauth}:changes', $big, 'op', 'key.disable',
    'ak', $k{ids}{access_key});
is($id, $big, "an entry with ID $big, written by hand");
$t->redis('HSET', "{apiauth}:key:$k{ids}{access_key}", 'status', 'disabled');
($took, $v) = until_verdict($t, $k{ids}, 'disabled_key', 1);
is($v, 'disabled_key', sprintf 'its key dropped from the cache (%.3fs)',
    $took);
$t->ctl('key', 'disable', $k{hand}{access_key});
($took, $v) = until_verdict($t, $k{hand}, 'disabled_key', 1);
is($v, 'disabled_key', 'the next change, after it, enforced too: the feed '
    . 'goes on');
is($t->last_change, ($ms + 60000) . '-9223372036854775901',
    '(whose ID came after the big one, past 2^63 too)');

###############################################################################
# a schema the module does not know: refused, fail closed

$t->stop_nginx;
$t->redis('HSET', '{apiauth}:meta', 'schema', 3);
$t->start_nginx;
my $r = tok($t, $k{new});
expect_refused($t, $r, 'store_unavailable', 'schema 3: a key not cached');
Apiauth::Test::wait_for('the refusal in the log', 5, sub {
    $t->read_file('error.log') =~ /has schema 3, which this module \(schema 2\) cannot read: upgrade ngx_http_apiauth_module/ });
pass('the error log says the module is older than the store');
$t->redis('HSET', '{apiauth}:meta', 'schema', 2);

$t->finish;
done_testing;
