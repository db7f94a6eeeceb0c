#!/usr/bin/perl

# apiauth-ctl and text it did not write, bounds it must not pass, expiries
# that cannot mean "never", and secrets that are its own (issue 11):
# - names and descriptions are UTF-8 without controls or bidirectional
#   formatting characters, and refusals do not echo what they refuse;
# - what the store holds is escaped for people and valid in --json, however
#   it got there;
# - max_ips cannot pass the module's bound, nor can a whitelist when the
#   store's max_ips does; nor can a scope list;
# - an expiry is after 1970, and a stored one that is not a time is shown
#   as expired;
# - a command that changes a secret prints the secret of its own change.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Encode ();
use JSON::PP;
use Test::More;
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

# '' when the bytes are UTF-8 without a control (but the newline), DEL, a
# C1 control or a bidirectional formatting character; else what is there
sub unclean {
    my ($bytes) = @_;
    my $s = eval { Encode::decode('UTF-8', $bytes, Encode::FB_CROAK) };
    return 'invalid UTF-8' unless defined $s;
    return sprintf('U+%04X', ord $1)
        if $s =~ /([\x00-\x09\x0b-\x1f\x7f-\x9f\x{061c}\x{200e}\x{200f}\x{202a}-\x{202e}\x{2066}-\x{2069}])/;
    return '';
}

sub refused {
    my ($args, $re, $name) = @_;
    my $r = $t->ctl_refused($args, $re, $name);
    is(unclean($r->{err}), '', "$name: the message shows no raw bad bytes");
    return $r;
}

my $cafe = "Caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x9a\x80";

$t->create_key('--name', 'base', '--access-key', 'BaseKey00001');

###############################################################################
# names and descriptions

my $rule = qr/without control or bidirectional formatting characters/;

my @bad = (
    ["\xff", 'a byte that is never UTF-8'],
    ["a\xc0\xafb", 'an overlong /'],
    ["a\xe6\x9d", 'a truncated sequence'],
    ["a\x9bb", 'a lone continuation byte'],
    ["a\xed\xa0\x80b", 'a surrogate'],
    ["a\xf4\x90\x80\x80b", 'a code point past U+10FFFF'],
    ["a\x1b[31mb", 'an escape (C0)'],
    ["a\x7fb", 'DEL'],
    ["a\xc2\x9b" . '2Jb', 'CSI (C1, U+009B)'],
    ["admin\xe2\x80\xae" . 'gnp.exe', 'RLO (U+202E)'],
    ["a\xe2\x81\xa6b", 'LRI (U+2066)'],
    ["a\xe2\x80\x8fb", 'RLM (U+200F)'],
    ["a\xd8\x9cb", 'ALM (U+061C)'],
);

for my $b (@bad) {
    my ($text, $what) = @$b;
    refused(['key', 'create', '--name', $text],
        qr/invalid key name .*: use 1 to 128 bytes of UTF-8 $rule/,
        "create --name with $what");
    refused(['key', 'create', '--name', 'x', '--description', $text],
        qr/invalid description: use at most 1024 bytes of UTF-8 $rule/,
        "create --description with $what");
    refused(['key', 'rename', 'BaseKey00001', $text], qr/invalid key name/,
        "rename to $what");
    refused(['key', 'describe', 'BaseKey00001', $text],
        qr/invalid description/, "describe with $what");
    refused(['key', 'copy', 'BaseKey00001', '--name', $text],
        qr/invalid key name/, "copy --name with $what");
}

my $r = refused(['key', 'rename', 'BaseKey00001', "x\x1b]0;owned\x07y"],
    qr/invalid key name/, 'rename to a title-setting sequence');
like($r->{err}, qr/"x\\u001b\]0;owned\\u0007y"/,
    'the refused name is quoted escaped');
$r = refused(['--json', 'key', 'rename', 'BaseKey00001', "a\xffb\xe2\x80\xae"],
    qr/invalid key name/, 'rename --json to invalid UTF-8 and RLO');
my $j = eval { decode_json($r->{out}) };
like($j && $j->{error}, qr/^invalid key name "a\x{fffd}b\x{202e}"/,
    '--json: the error is a valid document');

my $k = $t->create_key('--name', $cafe, '--description', "$cafe \xe2\x80\xaf",
    '--access-key', 'CafeKey00001');
is($k->{name}, Encode::decode('UTF-8', $cafe), 'create accepts a name in '
    . 'UTF-8 of 2, 3 and 4 byte characters');
is($t->redis('HGET', '{apiauth}:key:CafeKey00001', 'name'), $cafe,
    'the store keeps its bytes');
$r = $t->ctl('key', 'rename', 'CafeKey00001', "$cafe 2");
is($r->{rc}, 0, 'rename accepts UTF-8');
$r = $t->ctl('key', 'describe', 'CafeKey00001', "\xe2\x81\xaa ok");
is($r->{rc}, 0, 'describe accepts U+206A, next to the bidi controls');
$r = $t->ctl('key', 'copy', 'CafeKey00001', '--name', $cafe,
    '--access-key', 'CafeKey00002');
is($r->{rc}, 0, 'copy --name accepts UTF-8');
$r = $t->ctl('key', 'rename', 'CafeKey00002', "\xc3\xa9" x 64);
is($r->{rc}, 0, 'a name of 128 bytes in 64 characters');
refused(['key', 'rename', 'CafeKey00002', "\xc3\xa9" x 65],
    qr/1 to 128 bytes/, 'a name of 130 bytes in 65 characters');

###############################################################################
# what the store holds, written straight into Redis, escaped for people

sub put_key {
    my ($ak, %f) = @_;
    my %rec = (name => $ak, description => '', salt => '0' x 32,
        status => 'enabled', created => 1764000000, updated => 1764000000,
        apps => '*', interfaces => '*', ips => '', %f);
    $t->redis('HSET', "{apiauth}:key:$ak", %rec);
    $t->redis('ZADD', '{apiauth}:keys', 0, $ak);
}

put_key('EvilKey00001', name => "\x1b[31mred\x1b[0m",
    description => "line\nbreak\x7f", ips => "10.0.0.1,\x1b]0;t\x07");
put_key('EvilKey00002', name => "admin\xe2\x80\xae gnp.exe",
    description => "\xc2\x9b" . '2J');
put_key('EvilKey00003', name => "bad \x9b byte \xff\xfe",
    description => "overlong \xc0\xaf surrogate \xed\xa0\x80 cut \xe6\x9d");
put_key('EvilKey00004', name => 'back\\slash \\u202e');
$t->redis('HSET', '{apiauth}:interface:evil', 'url',
    "https://x.example/\xe2\x80\xae", 'app', "a\x1bb", 'created', 1764000000);
$t->redis('ZADD', '{apiauth}:interfaces', 0, 'evil');

$r = $t->ctl('key', 'list');
is($r->{rc}, 0, 'list of records written straight into Redis');
is(unclean($r->{out}), '', 'list: valid UTF-8, no control, no bidi '
    . 'formatting character');
ok(index($r->{out}, "\x9b") < 0 && index($r->{out}, "\xe2\x80\xae") < 0
    && index($r->{out}, "\x1b") < 0, 'list: no raw 0x9b, RLO or ESC byte');
# (its whitelist holds a control: nginx refuses it, and the list says so)
like($r->{out}, qr/^EvilKey00001\s+\\u001b\[31mred\\u001b\[0m\s+malformed\s/m,
    'list: a C0 control as \u001b');
like($r->{out}, qr/^EvilKey00002\s+admin\\u202e gnp\.exe\s+enabled\s/m,
    'list: RLO as \u202e');
like($r->{out}, qr/^EvilKey00003\s+bad \\x9b byte \\xff\\xfe\s+enabled\s/m,
    'list: a byte that is not UTF-8 as \xNN');
like($r->{out}, qr/^EvilKey00004\s+back\\\\slash \\\\u202e\s+enabled\s/m,
    'list: a backslash as \\\\, so that no text passes for an escape');

# aligned on the escaped text, a column per character
my @lines = map { Encode::decode('UTF-8', $_) } split /\n/, $r->{out};
my ($head) = grep { /^ACCESS KEY/ } @lines;
my @cols = map { /^(.*? )(?:enabled|malformed) / ? length($1) : -1 }
    grep { /^(Cafe|Evil|Base)Key/ } @lines;
is_deeply([sort { $a <=> $b } keys %{ { map { $_ => 1 } @cols } }],
    [index($head, 'STATUS')], 'list: the STATUS column lines up on every '
    . 'row, multibyte and escaped names included');

$r = $t->ctl_json('key', 'list');
ok($r->{json}, 'list --json of those records is valid JSON')
    or diag($r->{out});
is(unclean($r->{out}), '', 'list --json: no raw control or bidi character');
my %by = map { $_->{access_key} => $_ } @{ $r->{json}{keys} || [] };
is($by{EvilKey00001}{name}, "\x1b[31mred\x1b[0m", 'list --json: a C0 '
    . 'control escaped as \u001b decodes back to it');
is($by{EvilKey00001}{description}, "line\nbreak\x7f",
    'list --json: newline and DEL');
is($by{EvilKey00002}{name}, "admin\x{202e} gnp.exe",
    'list --json: RLO escaped decodes back to it');
is($by{EvilKey00002}{description}, "\x{9b}2J", 'list --json: U+009B');
is($by{EvilKey00003}{name}, "bad \x{fffd} byte \x{fffd}\x{fffd}",
    'list --json: each byte that is not UTF-8 is U+FFFD');
is($by{EvilKey00003}{description},
    "overlong \x{fffd}\x{fffd} surrogate \x{fffd}\x{fffd}\x{fffd} cut "
    . "\x{fffd}\x{fffd}", 'list --json: overlong, surrogate and cut '
    . 'sequences are U+FFFD for each byte');
is($by{EvilKey00004}{name}, 'back\\slash \\u202e',
    'list --json: backslashes stay backslashes');

for my $ak (qw(EvilKey00001 EvilKey00002 EvilKey00003 EvilKey00004)) {
    $r = $t->ctl_json('key', 'show', $ak);
    ok($r->{json} && $r->{json}{access_key} eq $ak,
        "show --json $ak is valid JSON") or diag($r->{out});
}

$r = $t->ctl('key', 'show', 'EvilKey00002');
is(unclean($r->{out}), '', 'show: no raw control or bidi character');
like($r->{out}, qr/^name           admin\\u202e gnp\.exe$/m, 'show: the name '
    . 'escaped');
like($r->{out}, qr/^description    \\u009b2J$/m, 'show: the description '
    . 'escaped');
like($r->{out}, qr/^evil\s+a\\u001bb\s+https:\/\/x\.example\/\\u202e$/m,
    'show: call URLs escaped');
$r = $t->ctl('key', 'show', 'EvilKey00003');
like($r->{out}, qr/^description    overlong \\xc0\\xaf surrogate \\xed\\xa0\\x80 cut \\xe6\\x9d$/m,
    'show: each byte that is not UTF-8 as \xNN');

$r = $t->ctl('key', 'ip', 'EvilKey00001', 'list');
is($r->{out}, "10.0.0.1\n\\u001b]0;t\\u0007\n", 'ip list: entries escaped');
$r = $t->ctl_json('key', 'ip', 'EvilKey00001', 'list');
is_deeply($r->{json}{ip_whitelist}, ['10.0.0.1', "\x1b]0;t\x07"],
    'ip list --json: valid JSON');

$r = $t->ctl('interface', 'list');
is(unclean($r->{out}), '', 'interface list: no raw control or bidi '
    . 'character');
like($r->{out}, qr/^evil\s+a\\u001bb\s+https:\/\/x\.example\/\\u202e\s/m,
    'interface list: app and URL escaped');
$r = $t->ctl_json('interface', 'list');
is($r->{json}{interfaces}[0]{url}, "https://x.example/\x{202e}",
    'interface list --json: valid JSON');

for my $ak (qw(EvilKey00001 EvilKey00002 EvilKey00003 EvilKey00004)) {
    $t->redis('DEL', "{apiauth}:key:$ak");
    $t->redis('ZREM', '{apiauth}:keys', $ak);
}

###############################################################################
# one limit, one place: max_ips and the module's bound

refused(['config', 'set', 'max_ips', '5000'],
    qr/invalid max_ips "5000": the module reads at most 1024 whitelist entries; use a number from 1 to 1024/,
    'config set max_ips past the module\'s bound');
refused(['config', 'set', 'max_ips', '1025'], qr/at most 1024/,
    'config set max_ips 1025');
$r = $t->ctl('config', 'set', 'max_ips', '1024');
is($r->{rc}, 0, 'config set max_ips 1024, the bound');
$r = $t->ctl('config', 'show');
is($r->{err}, '', 'config show at the bound: no warning');

# a store that holds more: set before the bound, or straight into Redis
$t->redis('HSET', '{apiauth}:meta', 'max_ips', '5000');

$r = $t->ctl('config', 'show');
is($r->{rc}, 0, 'config show of a max_ips past the bound');
like($r->{out}, qr/^max_ips\s+5000  \(past the module's bound of 1024\)$/m,
    'config show: says it is past the bound');
like($r->{err}, qr/^apiauth-ctl: warning: max_ips 5000 is past the module's bound: no whitelist holds more than 1024 entries/,
    'config show: warns');
$r = $t->ctl_json('config', 'show');
is_deeply([$r->{json}{max_ips}, $r->{json}{max_ips_bound}], [5000, 1024],
    'config show --json: max_ips and the bound');

$r = $t->ctl_json('doctor');
my %c = map { $_->{check} => $_ } @{ $r->{json}{checks} || [] };
is($c{whitelists}{status}, 'warn', 'doctor warns of max_ips past the bound');
like($c{whitelists}{detail}, qr/max_ips 5000 is past the module's bound of 1024 entries: apiauth-ctl lets no whitelist grow past 1024, and nginx reads a key whose whitelist holds more as malformed/,
    'doctor says what apiauth-ctl and nginx do');
is($r->{rc}, 0, 'a warning does not fail the doctor');

sub entries {
    my ($from, $n) = @_;
    return map { sprintf '10.0.%d.%d', int($_ / 256), $_ % 256 }
        $from .. $from + $n - 1;
}

$t->create_key('--name', 'many', '--access-key', 'ManyKey00001');
refused(['key', 'ip', 'ManyKey00001', 'add', entries(0, 1025)],
    qr/a whitelist holds at most 1024 entries, the module's bound, whatever max_ips says/,
    'ip add of 1,025 entries under max_ips 5000');
$r = $t->ctl('key', 'ip', 'ManyKey00001', 'add', entries(0, 1024));
is($r->{rc}, 0, 'ip add of 1,024 entries') or diag($r->{err});
is(scalar(split /,/, $t->redis('HGET', '{apiauth}:key:ManyKey00001', 'ips')),
    1024, 'the whitelist holds 1,024 entries');
refused(['key', 'ip', 'ManyKey00001', 'add', '192.0.2.1'],
    qr/at most 1024 entries, the module's bound/, 'one more entry');
$r = $t->ctl('key', 'ip', 'ManyKey00001', 'add', '10.0.0.7');
is($r->{rc}, 0, 'adding a present entry at the bound is fine');
refused(['key', 'create', '--name', 'x', map { ('--ip', $_) } entries(0, 1025)],
    qr/at most 1024 entries, the module's bound/,
    'create with 1,025 entries');
$r = $t->ctl('key', 'create', '--name', 'x', '--access-key', 'ManyKey00002',
    map { ('--ip', $_) } entries(0, 1024));
is($r->{rc}, 0, 'create with 1,024 entries');

$t->redis('HSET', '{apiauth}:key:ManyKey00002', 'ips',
    join(',', entries(0, 1025)));
refused(['key', 'copy', 'ManyKey00002', '--name', 'c'],
    qr/at most 1024 entries, the module's bound/,
    'copy of a key whose whitelist was written past the bound');

# the store's own limit, below the bound, says to raise it
$t->redis('HSET', '{apiauth}:meta', 'max_ips', '3');
refused(['key', 'ip', 'BaseKey00001', 'add', entries(0, 4)],
    qr/at most max_ips \(3\) entries; raise the limit with "apiauth-ctl config set max_ips N" \(at most 1024\)/,
    'max_ips below the bound');
$t->redis('HSET', '{apiauth}:meta', 'max_ips', '50');

# scope lists

my @apps = map { "app$_" } 1 .. 257;
refused(['key', 'create', '--name', 'x', '--app', join(',', @apps)],
    qr/an app list holds at most 256 names, the module's bound/,
    'create with 257 apps');
refused(['key', 'create', '--name', 'x', map { ('--interface', $_) } @apps],
    qr/an interface list holds at most 256 names, the module's bound/,
    'create with 257 interfaces, one option each');
refused(['key', 'scope', 'BaseKey00001', '--interfaces', join(',', @apps)],
    qr/an interface list holds at most 256 names/, 'scope with 257 names');
$r = $t->ctl_json('key', 'scope', 'BaseKey00001', '--apps',
    join(',', @apps[0 .. 255], 'app1'));
is(scalar @{ $r->{json}{apps} || [] }, 256,
    'scope with 256 names and a repeat: the repeat does not count');
$k = $t->create_key('--name', 'x', '--interface', join(',', @apps[0 .. 255]));
is(scalar @{ $k->{interfaces} }, 256, 'create with 256 interfaces');

###############################################################################
# expiry at or before the epoch

my $after = qr/invalid expiry "[^"]*": use a time after 1970-01-01T00:00:00Z/;
for my $time ('0', '00', '1970-01-01T00:00:00Z', '1969-12-31',
    '1970-01-01T01:00:00+02:00', '1900-01-01T00:00:00Z')
{
    refused(['key', 'expire', 'BaseKey00001', $time], $after,
        "expire $time");
}
refused(['key', 'create', '--name', 'x', '--expires', '0'], $after,
    'create --expires 0');
refused(['key', 'create', '--name', 'x', '--expires', '1969-12-31'], $after,
    'create --expires 1969-12-31');
refused(['key', 'copy', 'BaseKey00001', '--name', 'x', '--expires', '0'],
    $after, 'copy --expires 0');
refused(['key', 'copy', 'BaseKey00001', '--name', 'x', '--expires',
    '1970-01-01T00:00:00Z'], $after, 'copy --expires at the epoch');

$r = $t->ctl_json('key', 'expire', 'BaseKey00001', '1970-01-01T00:00:01Z');
is($r->{rc}, 0, 'expire one second after the epoch');
is_deeply([$r->{json}{expires}, $r->{json}{expired}],
    ['1970-01-01T00:00:01Z', JSON::PP::true], 'which is long expired');
is($t->redis('HGET', '{apiauth}:key:BaseKey00001', 'expires'), '1',
    'the store holds 1');

# what the store holds that is not a time is expired, not never

for my $v ('0', '-5', 'abc', '', ' 5', '5x', '1.5', '9223372036854775808',
    "\x1b[2J")
{
    $t->redis('HSET', '{apiauth}:key:BaseKey00001', 'expires', $v);
    (my $shown = $v) =~ s/\x1b/\\u001b/g;
    my $name = sprintf 'a stored expiry of "%s"', $shown;
    $r = $t->ctl('key', 'show', 'BaseKey00001');
    like($r->{out}, qr/^expires        invalid \("\Q$shown\E"\): treated as expired$/m,
        "show: $name is invalid, treated as expired");
    $r = $t->ctl_json('key', 'show', 'BaseKey00001');
    is_deeply([$r->{json}{expires}, $r->{json}{expired}],
        ['invalid', JSON::PP::true], "show --json: $name");
    $r = $t->ctl_json('key', 'list');
    ($j) = grep { $_->{access_key} eq 'BaseKey00001' }
        @{ $r->{json}{keys} || [] };
    is_deeply([$j->{expires}, $j->{expired}], ['invalid', JSON::PP::true],
        "list --json: $name");
    $r = $t->ctl('key', 'list');
    like($r->{out}, qr/^BaseKey00001\s+base\s+enabled\s+\S+\s+invalid \(expired\)\s/m,
        "list: $name");
}

$t->redis('HSET', '{apiauth}:key:BaseKey00001', 'expires',
    '9223372036854775807');
$r = $t->ctl_json('key', 'show', 'BaseKey00001');
is_deeply([$r->{json}{expires}, $r->{json}{expired}],
    ['9223372036854775807', JSON::PP::false],
    'the largest time nginx reads is a time, far in the future');
$t->redis('HSET', '{apiauth}:key:BaseKey00001', 'expires', '0005');
$r = $t->ctl_json('key', 'show', 'BaseKey00001');
is_deeply([$r->{json}{expires}, $r->{json}{expired}],
    ['1970-01-01T00:00:05Z', JSON::PP::true],
    'a stored expiry with leading zeros is a time');
$t->redis('HDEL', '{apiauth}:key:BaseKey00001', 'expires');
$r = $t->ctl_json('key', 'show', 'BaseKey00001');
is_deeply([$r->{json}{expires}, $r->{json}{expired}],
    [undef, JSON::PP::false], 'only an absent expiry is never');
$r = $t->ctl('key', 'show', 'BaseKey00001');
like($r->{out}, qr/^expires        never$/m, 'show: never');

###############################################################################
# a command that changes a secret prints the secret of its own change

$t->create_key('--name', 'regen', '--access-key', 'RegenKey0001');
my @runs = map { $t->ctl_spawn('--json', 'key', 'regenerate-secret',
    'RegenKey0001') } 1 .. 10;
my @res = map { $t->ctl_wait($_) } @runs;
is(scalar(grep { $_->{rc} == 0 } @res), 10,
    '10 concurrent regenerate-secret runs succeed')
    or diag(join '', map { $_->{err} } @res);
my @printed = map { my $d = eval { decode_json($_->{out}) };
    $d ? $d->{access_secret} : '' } @res;
is(scalar(grep { /^[0-9a-f]{64}$/ } @printed), 10, 'each prints a secret');
is(scalar keys %{ { map { $_ => 1 } @printed } }, 10,
    'the ten secrets are all different');
$r = $t->ctl_json('key', 'show', 'RegenKey0001', '--reveal');
my $current = $r->{json}{access_secret};
is(scalar(grep { $_ eq $current } @printed), 1,
    'the current secret is exactly one of them');

# the module agrees: the current secret works, no other printed one does;
# nginx starts now, as a key's cache is filled at first use

$t->write_nginx_conf(nginx_conf(server => <<'EOF'));
        location / { apiauth token; @@BACKEND@@ }
EOF
$t->start_nginx;

my $key = { access_key => 'RegenKey0001', access_secret => $current,
    name => 'regen' };
$r = send_plain($t, target => '/current', headers => [token_headers($key)]);
expect_ok($t, $r, $key, 'the current secret');
for my $s (grep { $_ ne $current } @printed) {
    $r = send_plain($t, target => '/old', headers => [token_headers({
        access_key => 'RegenKey0001', access_secret => $s })]);
    expect_refused($t, $r, 'bad_secret', 'a secret another run replaced');
}

$t->finish;
done_testing;
