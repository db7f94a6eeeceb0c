#!/usr/bin/perl

# What an operator looks up is documented: every directive and variable of
# the module in docs/directives.md, every reason code in docs/errors.md,
# every object and key command of apiauth-ctl in docs/apiauth-ctl.md, read
# from the sources so that a new one cannot go undocumented.

use strict;
use warnings;

use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";

sub slurp {
    my ($path) = @_;
    open my $f, '<', "$root/$path" or die "$path: $!\n";
    local $/;
    return <$f>;
}

my $module = slurp('ngx_http_apiauth_module/ngx_http_apiauth_module.c');
my $directives = slurp('docs/directives.md');
my $errors = slurp('docs/errors.md');
my $ctl_doc = slurp('docs/apiauth-ctl.md');

# directives: the commands table; each has a "## name" heading (alone or
# with others: "## apiauth_app, apiauth_interface")
my ($commands) = $module =~ /ngx_http_apiauth_commands\[\] = \{(.*?)ngx_null_command/s
    or die "no commands table\n";
my @directives = $commands =~ /ngx_string\("(\w+)"\)/g;
ok(@directives >= 12, scalar(@directives) . ' directives in the table');
my %headed = map { $_ => 1 } map { split /,\s*/ }
    $directives =~ /^## (.+)$/mg;
for my $d (@directives) {
    ok($headed{$d}, "directive $d has its section in docs/directives.md");
    # a Syntax line, or a line of it ("             apiauth_interface name;")
    like($directives, qr/^    (?:Syntax:|       ) +\Q$d\E\b/m,
        "and its Syntax line");
}

# variables: the variables table; each in the Variables table
my ($vars) = $module =~ /ngx_http_apiauth_vars\[\] = \{(.*?)ngx_http_null_variable/s
    or die "no variables table\n";
for my $v ($vars =~ /ngx_string\("(\w+)"\)/g) {
    like($directives, qr/^\| `\$\Q$v\E` \|/m,
        "variable \$$v in docs/directives.md's table");
}

# reason codes: every one but ok in the errors table, with its status
my ($reasons) = $module =~ /ngx_http_apiauth_reasons\[\] = \{(.*?)\};/s
    or die "no reasons table\n";
# 0: a code of records only, never sent
my %status = (NGX_HTTP_UNAUTHORIZED => 401, NGX_HTTP_FORBIDDEN => 403,
    NGX_HTTP_TOO_MANY_REQUESTS => 429, NGX_HTTP_SERVICE_UNAVAILABLE => 503,
    0 => '-');
my $n = 0;
while ($reasons =~ /ngx_http_apiauth_reason\("(\w*)",\s*"\w*",\s*(\w+),/g) {
    my ($code, $st) = ($1, $2);
    next if $code eq '' || $code eq 'ok';
    $n++;
    like($errors, qr/^\| `\Q$code\E`[^|]*\| \Q$status{$st}\E \|/m,
        "reason $code ($status{$st}) in docs/errors.md's table");
}
ok($n >= 14, "$n reason codes");

# apiauth-ctl: its objects, and the key commands its help lists
my $main = slurp('tools/main.c');
my ($objects) = $main =~ /ctl_objects\[\] = \{(.*?)\{ NULL/s
    or die "no objects table\n";
for my $o ($objects =~ /\{ "(\w+)"/g) {
    next if $o eq 'version';
    like($ctl_doc, qr/^## \Q$o\E$/m, "apiauth-ctl $o in docs/apiauth-ctl.md");
}
my $key = slurp('tools/key.c');
my ($key_cmds) = $key =~ /key_cmds\[\] = \{(.*?)\{ NULL/s
    or die "no key commands table\n";
my %key_headed = map { $_ => 1 } map { split /,\s*/ }
    $ctl_doc =~ /^### (key [\w-]+(?:, key [\w-]+)*)$/mg;
for my $c ($key_cmds =~ /\{ "([\w-]+)"/g) {
    ok($key_headed{"key $c"}, "apiauth-ctl key $c in docs/apiauth-ctl.md");
}

done_testing;
