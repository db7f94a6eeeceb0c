package Apiauth::Sign;

# APIAUTH-HMAC-SHA256 in Perl (core Digest::SHA), as docs/signature.md
# describes it: every test and the bench sign in-process with it, and
# derive secrets and the master key id (docs/keys.md) with it.
# t/007-perl-signer.t checks it against the known-answer vectors of t/data.
# Strings are bytes: a header value's UTF-8 is signed as sent.

use strict;
use warnings;

use Digest::SHA qw(sha256_hex hmac_sha256_hex);
use Exporter qw(import);

our @EXPORT_OK = qw(canonical_request sign_request signed_raw
    signed_headers derive_secret key_id);

my %UNRESERVED = map { $_ => 1 } ('A' .. 'Z', 'a' .. 'z', '0' .. '9',
    '-', '.', '_', '~');

sub normalise {
    my ($s) = @_;
    $s =~ s{%([0-9A-Fa-f]{2})}{
        my $c = chr hex $1;
        $UNRESERVED{$c} ? $c : '%' . uc $1
    }ge;
    return $s;
}

sub fold {
    my ($v) = @_;
    $v =~ s/^[ \t]+|[ \t]+$//g;
    $v =~ s/[ \t]+/ /g;
    return $v;
}

# headers: [[name, value], ...] as sent; signed: lower-case names
sub canonical_request {
    my ($method, $target, $headers, $signed) = @_;
    my ($path, $query) = split /\?/, $target, 2;
    $query //= '';
    my @pairs = sort { $a->[0] cmp $b->[0] || $a->[1] cmp $b->[1] }
        map { my ($n, $v) = split /=/, $_, 2; [normalise($n), normalise($v // '')] }
        grep { length } split /&/, $query;
    my @lines;
    for my $h (@$signed) {
        push @lines, "$h:" . join ',',
            map { fold($_->[1]) } grep { lc $_->[0] eq $h } @$headers;
    }
    my ($payload) = map { fold($_->[1]) }
        grep { lc $_->[0] eq 'x-apiauth-content-sha256' } @$headers;
    return join "\n", $method, normalise($path),
        join('&', map { "$_->[0]=$_->[1]" } @pairs), join("\n", @lines),
        join(';', @$signed), $payload // 'UNSIGNED-PAYLOAD';
}

# returns the Authorization value
sub sign_request {
    my (%a) = @_;
    my @signed = sort { $a cmp $b }
        keys %{ { map { lc $_->[0] => 1 } @{ $a{headers} } } };
    my ($date) = map { $_->[1] } grep { lc $_->[0] eq 'x-apiauth-date' }
        @{ $a{headers} };
    my ($nonce) = map { $_->[1] } grep { lc $_->[0] eq 'x-apiauth-nonce' }
        @{ $a{headers} };
    my $creq = canonical_request($a{method}, $a{target}, $a{headers},
        \@signed);
    my $sts = join "\n", 'APIAUTH-HMAC-SHA256', $date, $nonce,
        sha256_hex($creq);
    return "APIAUTH-HMAC-SHA256 Credential=$a{access_key}, SignedHeaders="
        . join(';', @signed) . ', Signature='
        . hmac_sha256_hex($sts, $a{secret});
}

# a whole HTTP/1.1 request, signed
sub signed_raw {
    my (%a) = @_;
    my @h = (['Host', $a{host}], ['X-Apiauth-Date', $a{date} // int time],
        ['X-Apiauth-Nonce', $a{nonce}]);
    my $auth = sign_request(%a, method => $a{method} // 'GET',
        headers => \@h);
    return ($a{method} // 'GET') . " $a{target} HTTP/1.1\r\n"
        . join('', map { "$_->[0]: $_->[1]\r\n" } @h)
        . "Authorization: $auth\r\n\r\n";
}

# signed_headers(access_key, secret, method, url (http://host[:port]/path?q),
# headers => [[n, v]...] (extra, signed), body, sign_body, date, nonce): the
# headers to send, in this order: Host, X-Apiauth-Date, X-Apiauth-Nonce, the
# extra ones, X-Apiauth-Content-SHA256 (with sign_body), Authorization
sub signed_headers {
    my (%a) = @_;
    my ($host, $target) = $a{url} =~ m{^\w+://(?:[^/@]*@)?([^/?]+)([/?].*)?$}
        or die "signed_headers: not a URL: $a{url}\n";
    $target //= '/';
    $target = "/$target" if $target =~ /^\?/;
    my $date = $a{date} // time;
    my $nonce = $a{nonce} // join '', map { sprintf '%02x', rand 256 } 1 .. 16;
    # extra headers as "Name: value" lines give them: trimmed
    my @h = (['Host', $host], ['X-Apiauth-Date', $date],
        ['X-Apiauth-Nonce', $nonce],
        map { [ map { s/^\s+|\s+$//gr } @$_ ] } @{ $a{headers} || [] });
    push @h, ['X-Apiauth-Content-SHA256', sha256_hex($a{body})]
        if defined $a{body} && $a{sign_body};
    my $auth = sign_request(access_key => $a{access_key},
        secret => $a{secret}, method => $a{method} // 'GET',
        target => $target, headers => \@h);
    return (@h, ['Authorization', $auth]);
}

# the accessSecret the key store derives: hex(HMAC-SHA256(master,
# "apiauth-secret-v1" NUL accessKey NUL salt)), master as its 32 bytes
sub derive_secret {
    my ($master, $access_key, $salt) = @_;
    return hmac_sha256_hex("apiauth-secret-v1\0$access_key\0$salt", $master);
}

# the master key id: the first 16 hex digits of HMAC-SHA256(master,
# "apiauth-key-id-v1")
sub key_id {
    my ($master) = @_;
    return substr(hmac_sha256_hex('apiauth-key-id-v1', $master), 0, 16);
}

1;
