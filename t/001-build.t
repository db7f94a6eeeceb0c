#!/usr/bin/perl

# The module loads into Debian's nginx; apiauth-ctl answers --help and
# --version on every object and command.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Apiauth::Test;

my $t = Apiauth::Test->new;

ok(-f Apiauth::Test::module_path(), 'module built');

$t->write_nginx_conf(<<'EOF');
%%MAIN%%
events {}
http {
    %%HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "ok\n"; }
    }
}
EOF

my $r = $t->nginx_test_config;
is($r->{rc}, 0, 'nginx -t passes with load_module') or diag($r->{out});
like($r->{out}, qr/test is successful/, 'nginx -t says successful');

$r = $t->ctl('--version');
is($r->{rc}, 0, '--version exits 0');
like($r->{out}, qr/^apiauth-ctl \d+\.\d+\.\d+$/m, '--version prints one');

$r = $t->ctl('--json', 'version');
like($r->{out}, qr/^\{"version":"\d+\.\d+\.\d+"\}$/m, 'version --json');

for my $cmd ([], ['key'], ['interface'], ['config'], ['init'], ['doctor'],
    map({ ['key', $_] } qw(create list show rename describe set-access-key
        regenerate-secret enable disable delete copy scope ip expire)),
    map({ ['interface', $_] } qw(add list remove)),
    map({ ['config', $_] } qw(show set)))
{
    my $name = join ' ', @$cmd;
    $r = $t->ctl(@$cmd, '--help');
    is($r->{rc}, 0, "'$name --help' exits 0");
    like($r->{out}, qr/^usage: apiauth-ctl/m, "'$name --help' shows usage");
    is($r->{err}, '', "'$name --help' is quiet on stderr");
}

$r = $t->ctl;
is($r->{rc}, 2, 'no object is a usage error');

$r = $t->ctl('frobnicate');
is($r->{rc}, 2, 'an unknown object is a usage error');
like($r->{err}, qr/^apiauth-ctl: error: unknown object "frobnicate"/,
    'an unknown object is named');

# exact names only: a prefix never picks delete or disable
for my $cmd (qw(del dis d)) {
    $r = $t->ctl('key', $cmd, 'AK1234567890');
    is($r->{rc}, 2, "'key $cmd' is not a prefix of a command");
    like($r->{err}, qr/unknown command "key $cmd"/, "'key $cmd' named");
}

$r = $t->ctl('key', 'list', '--bogus');
is($r->{rc}, 2, 'an unknown option is a usage error');
like($r->{err}, qr/unknown option "--bogus"/, 'the unknown option is named');

$r = $t->ctl('key', 'create', '--name');
is($r->{rc}, 2, 'a missing option value is a usage error');
like($r->{err}, qr/option "--name" needs a value/, 'it says which option');

$t->finish;
done_testing;
