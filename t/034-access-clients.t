#!/usr/bin/perl

# The clients of docs/clients reproduce t/data's known-answer vectors (the
# Python one every vector, the shell one those of the GETs it signs) and
# sign requests nginx admits: the shell one (curl and openssl, under dash
# and bash) and the Python one (a GET with a query, a POST with a body,
# and --headers for another program to send).  The shell client never puts
# the secret on a command line, where ps shows it to every local user, nor
# in the environment of the programs it runs: shims of openssl and curl
# record every argument and variable they are given.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
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

write_file("$dir/order.json", '{"item":"book","qty":2}');
my ($rc, $out) = run(cmd => ['dash', "$docs/apiauth-curl.sh",
    "http://127.0.0.1:$port/api/orders"],
    APIAUTH_ACCESS_KEY => 'Clients00001', APIAUTH_SECRET => $secret,
    APIAUTH_BODY_FILE => "$dir/order.json");
is_deeply([$rc, $out], [0, "backend POST /api/orders\n"],
    'apiauth-curl.sh with APIAUTH_BODY_FILE: a POST with its body hash '
    . 'signed, admitted');
($rc, $out) = run(cmd => ['dash', "$docs/apiauth-curl.sh", $url],
    APIAUTH_ACCESS_KEY => 'Clients00001', APIAUTH_SECRET => $secret,
    APIAUTH_BODY_FILE => "$dir/no-such-file");
is_deeply([$rc, $out], [2, "apiauth-curl.sh: cannot read APIAUTH_BODY_FILE "
    . "\"$dir/no-such-file\"\n"], 'apiauth-curl.sh with a body file it '
    . 'cannot read: exit 2, says why');

($rc, $out) = run(cmd => ['dash', "$docs/apiauth-curl.sh", $url],
    APIAUTH_ACCESS_KEY => 'Clients00001', APIAUTH_SECRET => 'f' x 64);
like($out, qr/"reason":"invalid_credentials"/,
    'apiauth-curl.sh with a wrong secret: refused');
($rc, $out) = run(cmd => ['dash', "$docs/apiauth-curl.sh", $url],
    APIAUTH_ACCESS_KEY => 'Clients00001', APIAUTH_SECRET => 'f' x 65);
is_deeply([$rc, $out], [2, "apiauth-curl.sh: APIAUTH_SECRET is longer than "
    . "64 characters\n"], 'apiauth-curl.sh with a secret too long: exit 2, '
    . 'says why');
($rc, $out) = run(cmd => ['dash', "$docs/apiauth-curl.sh", $url],
    APIAUTH_ACCESS_KEY => 'Clients00001', APIAUTH_SECRET => "caf\xc3\xa9");
is_deeply([$rc, $out], [2, "apiauth-curl.sh: APIAUTH_SECRET is not printable "
    . "ASCII\n"], 'apiauth-curl.sh with a secret not ASCII: exit 2');

($rc, $out) = run(cmd => ['python3', "$docs/apiauth_client.py", 'GET', $url],
    APIAUTH_ACCESS_KEY => 'Clients00001', APIAUTH_SECRET => $secret);
is($out, "200\nbackend GET /api/orders?page=2&size=10\n\n",
    'apiauth_client.py: a signed GET with a query, admitted');
($rc, $out) = run(cmd => ['python3', "$docs/apiauth_client.py", 'POST',
    "http://127.0.0.1:$port/api/orders", '{"item":"book"}'],
    APIAUTH_ACCESS_KEY => 'Clients00001', APIAUTH_SECRET => $secret);
is($out, "200\nbackend POST /api/orders\n\n",
    'apiauth_client.py: a POST with its body hash signed, admitted');

($rc, $out) = run(cmd => ['python3', "$docs/apiauth_client.py", '--headers',
    'GET', $url], APIAUTH_ACCESS_KEY => 'Clients00001',
    APIAUTH_SECRET => $secret);
my @h = map { /^([^:]+): (.*)$/ ? [$1, $2] : () } split /\n/, $out;
is(join(',', map { $_->[0] } @h),
    'Host,X-Apiauth-Date,X-Apiauth-Nonce,Authorization',
    'apiauth_client.py --headers: the signed headers, sent nowhere');
my $raw = build_request('GET', '/api/orders?page=2&size=10', [@h]);
my $r = send_raw($t, $raw);
expect_ok($t, $r, $key, 'sent by another program: admitted');
$r = send_raw($t, $raw);
expect_refused($t, $r, 'replayed_nonce', 'and sent again: a replay');

###############################################################################
# the known-answer vectors

my $file = "$Apiauth::Test::DATA/vectors.json";
open my $vf, '<:raw', $file or die "$file: $!\n";
my $vectors = JSON::PP->new->decode(do { local $/; <$vf> });
close $vf;

# the Python client's signer over every vector, in one run
($rc, $out) = run(cmd => ['python3', '-c', <<'EOF', $docs, $file]);
import json, sys
sys.path.insert(0, sys.argv[1])
import apiauth_client
for v in json.load(open(sys.argv[2], encoding="utf-8")):
    print(v["name"], apiauth_client.authorization(
        v["access_key"], v["secret"], v["method"], v["target"], v["headers"]))
EOF
my %py = map { /^(\S+) (.*)$/ ? ($1, $2) : () } split /\n/, $out;
is($py{ $_->{name} }, $_->{authorization},
    "apiauth_client.py reproduces vector $_->{name}") for @$vectors;

# the shell client over the requests it signs (host, date and nonce, and a
# body's hash), through a curl that prints what it was given
write_file("$dir/shims/print/curl", "#!/bin/sh\nprintf '%s\\n' \"\$@\"\n")
    if mkdir "$dir/shims/print";
chmod 0755, "$dir/shims/print/curl";
my %shell_signs = map { $_ => 1 } qw(host x-apiauth-date x-apiauth-nonce
    x-apiauth-content-sha256);
for my $v (grep { my $v = $_;
        !grep { !$shell_signs{ lc $_->[0] } } @{ $v->{headers} } } @$vectors)
{
    my %vh = map { lc $_->[0] => $_->[1] } @{ $v->{headers} };
    my %body = (APIAUTH_METHOD => $v->{method});
    if (defined $v->{body}) {
        write_file("$dir/vector.body", $v->{body});
        $body{APIAUTH_BODY_FILE} = "$dir/vector.body";
    }
    my ($rc, $out) = run(cmd => ['dash', "$docs/apiauth-curl.sh",
        "http://$vh{host}$v->{target}"],
        PATH => "$dir/shims/print:$ENV{PATH}",
        APIAUTH_ACCESS_KEY => $v->{access_key},
        APIAUTH_SECRET => $v->{secret}, APIAUTH_DATE => $vh{'x-apiauth-date'},
        APIAUTH_NONCE => $vh{'x-apiauth-nonce'}, %body);
    my ($auth) = $out =~ /^Authorization: (.*)$/m;
    is($auth, $v->{authorization},
        "apiauth-curl.sh reproduces vector $v->{name}");
}

$t->finish;
done_testing;
