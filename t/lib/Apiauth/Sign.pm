package Apiauth::Sign;

# APIAUTH-HMAC-SHA256 in Perl (core Digest::SHA), for signing many
# requests fast: the bench's pool and the nonce zone test. It follows
# ../shared/reference/sign.py; t/007-perl-signer.t checks it against the
# reference's vectors.

use strict;
use warnings;

use Digest::SHA qw(sha256_hex hmac_sha256_hex);
use Exporter qw(import);

our @EXPORT_OK = qw(canonical_request sign_request signed_raw);

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

1;
