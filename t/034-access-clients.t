#!/usr/bin/perl

# The clients of docs/clients sign requests nginx admits: the shell one
# (curl and openssl, under dash and bash) and the Python one (a GET with a
# query, a POST with a body).  The shell client never puts the secret on a
# command line, where ps shows it to every local user, nor in the
# environment of the programs it runs: shims of openssl and curl record
# every argument and variable they are given.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX ();
use Test::More;
use Apiauth::Test;
use Apiauth::Client;

my $t = Apiauth::Test->new;
$t->start_redis;
$t->init_store;

my $key = $t->create_key('--name', 'clients', '--access-key', 'Clients00001');
my $secret = $key->{access_secret};

$t->write_nginx_conf(nginx_conf(server =>
    'location /api/ { apiauth signature; @@BACKEND@@ }'));
$t->start_nginx;

my $port = $t->port('http');
my $docs = "$Apiauth::Test::ROOT/docs/clients";
my $dir = $t->dir;
my $log = "$dir/shims.log";

# openssl and curl as shims that record, then run the real program
mkdir "$dir/shims";
for my $prog (qw(openssl curl)) {
    my ($real) = grep { -x } map { "$_/$prog" } split /:/, $ENV{PATH};
    die "no $prog in PATH\n" unless $real;
    write_file("$dir/shims/$prog", <<"EOF");
#!/bin/sh
{ echo "argv: $prog \$*"; env | sed 's/^/env: /'; } >> $log
exec $real "\$@"
EOF
    chmod 0755, "$dir/shims/$prog";
}

sub run {
    my (%env) = @_;
    my @cmd = @{ delete $env{cmd} };
    local @ENV{keys %env} = values %env;
    my $pid = open(my $out, '-|') // die "fork: $!\n";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    local $/;
    my $text = <$out>;
    close $out;
    return ($? >> 8, $text);
}

my $url = "http://127.0.0.1:$port/api/orders?page=2&size=10";

for my $shell (qw(dash bash)) {
    unlink $log;
    my ($rc, $out) = run(cmd => [$shell, "$docs/apiauth-curl.sh", $url],
        PATH => "$dir/shims:$ENV{PATH}", APIAUTH_ACCESS_KEY => 'Clients00001',
        APIAUTH_SECRET => $secret);
    is_deeply([$rc, $out], [0, "backend GET /api/orders?page=2&size=10\n"],
        "apiauth-curl.sh under $shell: a signed GET with a query, admitted");

    my $calls = $t->read_file('shims.log');
    like($calls, qr/^argv: openssl dgst -sha256 -binary$/m,
        "under $shell: openssl computed the HMAC's inner hash");
    like($calls, qr/^argv: curl /m, "under $shell: curl sent it");
    ok(index($calls, $secret) < 0,
        "under $shell: the secret is in no argument and no environment of "
        . 'the programs it ran');
}

my ($rc, $out) = run(cmd => ['dash', "$docs/apiauth-curl.sh", $url],
    APIAUTH_ACCESS_KEY => 'Clients00001', APIAUTH_SECRET => 'f' x 64);
like($out, qr/"reason":"invalid_credentials"/,
    'apiauth-curl.sh with a wrong secret: refused');
($rc, $out) = run(cmd => ['dash', "$docs/apiauth-curl.sh", $url],
    APIAUTH_ACCESS_KEY => 'Clients00001', APIAUTH_SECRET => 'F' x 64);
is_deeply([$rc, $out], [2, "apiauth-curl.sh: APIAUTH_SECRET is not lower-case "
    . "hex\n"], 'apiauth-curl.sh with a malformed secret: exit 2, says why');

($rc, $out) = run(cmd => ['python3', "$docs/apiauth_client.py", 'GET', $url],
    APIAUTH_ACCESS_KEY => 'Clients00001', APIAUTH_SECRET => $secret);
is($out, "200\nbackend GET /api/orders?page=2&size=10\n\n",
    'apiauth_client.py: a signed GET with a query, admitted');
($rc, $out) = run(cmd => ['python3', "$docs/apiauth_client.py", 'POST',
    "http://127.0.0.1:$port/api/orders", '{"item":"book"}'],
    APIAUTH_ACCESS_KEY => 'Clients00001', APIAUTH_SECRET => $secret);
is($out, "200\nbackend POST /api/orders\n\n",
    'apiauth_client.py: a POST with its body hash signed, admitted');

$t->finish;
done_testing;
