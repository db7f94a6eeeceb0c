package Apiauth::Client;

# The client side of the access-phase tests: raw HTTP/1.1 over IPv4 and
# IPv6 sockets, requests signed in-process (Apiauth::Sign), the
# fields the tests log with $apiauth_* variables, the JSON refusal body, a
# config skeleton, and forked clients that start together.

use strict;
use warnings;

use Exporter qw(import);
use IO::Select;
use IO::Socket::INET;
use IO::Socket::IP;
use JSON::PP;
use POSIX ();
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes qw(sleep time);

use Apiauth::Sign qw(signed_headers);
use Apiauth::Test;

our @EXPORT = qw(
    http http6 keepalive parse_response build_request sign signed_request
    send_signed send_plain send_raw resend token_headers
    access_log_entries logged line_of refusal expect_refused expect_ok
    nginx_conf parallel_http fresh_second random_hex write_file
);

# for the files that follow key changes from outside: on request, as
# older files have subs of these names
our @EXPORT_OK = qw(tok verdict until_verdict lookups feed_clients
    client_load token_load token_load_wait record_ids served_ids spool_files
    all_recorded all_archived);

# Every test logs these fields; X-Test-Id (never signed) ties a request to
# its line.
our $LOG_FORMAT = q{log_format apiauth '$status $apiauth_result }
    . q{$apiauth_reason $apiauth_access_key "$apiauth_key_name" }
    . q{$request_uri $request_id $http_x_test_id $pid';};

my $seq = 0;

###############################################################################
# raw HTTP

sub parse_response {
    my ($buf) = @_;
    my %r = (raw => $buf, headers => {}, header_list => []);
    my $end = index($buf, "\r\n\r\n");
    unless (length $buf && $end >= 0) {
        $r{error} = length $buf ? 'incomplete response' : 'no response';
        return \%r;
    }
    my ($head, $body) = (substr($buf, 0, $end), substr($buf, $end + 4));
    my ($line, @lines) = split /\r\n/, $head;
    unless ($line =~ m{^HTTP/\d\.\d (\d{3})}) {
        $r{error} = "bad status line: $line";
        return \%r;
    }
    $r{status} = $1;
    for (@lines) {
        my ($n, $v) = /^([^:]+):[ \t]*(.*?)[ \t]*$/ or next;
        $n = lc $n;
        push @{ $r{header_list} }, [$n, $v];
        if (!exists $r{headers}{$n}) {
            $r{headers}{$n} = $v;
        } elsif (ref $r{headers}{$n}) {
            push @{ $r{headers}{$n} }, $v;
        } else {
            $r{headers}{$n} = [ $r{headers}{$n}, $v ];
        }
    }
    if (lc($r{headers}{'transfer-encoding'} // '') eq 'chunked') {
        my $out = '';
        while ($body =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($body, 0, $n);
            substr($body, 0, $n + 2) = '';
        }
        $body = $out;
    }
    $r{body} = $body;
    if (($r{headers}{'content-type'} // '') =~ m{^application/json}) {
        $r{json} = eval { decode_json($body) };
    }
    return \%r;
}

sub _exchange {
    my ($s, $raw, %o) = @_;
    my $timeout = $o{timeout} // 10;
    my $t0 = time;
    unless ($s) {
        return { error => "connect: $@ $!", elapsed => 0 };
    }
    $s->autoflush(1);
    binmode $s;
    my $off = 0;
    local $SIG{PIPE} = 'IGNORE';
    while ($off < length $raw) {
        my $n = syswrite($s, $raw, length($raw) - $off, $off);
        last unless $n;    # nginx may answer and close before all is sent
        $off += $n;
    }
    my $buf = '';
    my $sel = IO::Select->new($s);
    while (1) {
        my $left = $timeout - (time - $t0);
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    close $s;
    my $r = parse_response($buf);
    $r->{elapsed} = time - $t0;
    return $r;
}

# http($port, $raw, host => '127.0.0.1', timeout => 10): one request on its
# own connection; { status, headers (lower-cased, an array when repeated),
# header_list, body, json, elapsed } or { error }.
sub http {
    my ($port, $raw, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $o{host} // '127.0.0.1',
        PeerPort => $port, Proto => 'tcp', Timeout => 5);
    return _exchange($s, $raw, %o);
}

# keepalive($socket, $raw): one request on a connection kept open for the
# next, its response read to the end of its Content-Length; parsed as by
# http().
sub keepalive {
    my ($s, $raw) = @_;
    print $s $raw;
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) {
        sysread($s, $buf, 4096, length $buf) or die "connection closed\n";
    }
    my $end = index($buf, "\r\n\r\n") + 4;
    my ($len) = substr($buf, 0, $end) =~ /^Content-Length:[ \t]*(\d+)/mi;
    while (length($buf) < $end + ($len // 0)) {
        sysread($s, $buf, $end + $len - length $buf, length $buf)
            or die "connection closed\n";
    }
    return parse_response($buf);
}

# The same over IPv6 (::1 unless host is given).
sub http6 {
    my ($port, $raw, %o) = @_;
    my $s = IO::Socket::IP->new(PeerHost => $o{host} // '::1',
        PeerPort => $port, Type => SOCK_STREAM, Timeout => 5);
    return _exchange($s, $raw, %o);
}

# A raw HTTP/1.1 request; Connection: close unless a Connection header is
# given.  Headers are [name, value] pairs, sent in order, as they are.
sub build_request {
    my ($method, $target, $headers, $body) = @_;
    my $raw = "$method $target HTTP/1.1\r\n";
    my $conn = 0;
    for (@$headers) {
        $raw .= "$_->[0]: $_->[1]\r\n";
        $conn = 1 if lc $_->[0] eq 'connection';
    }
    $raw .= 'Content-Length: ' . length($body) . "\r\n"
        if defined $body && !grep { lc $_->[0] eq 'content-length' } @$headers;
    $raw .= "Connection: close\r\n" unless $conn;
    return $raw . "\r\n" . ($body // '');
}

###############################################################################
# signing

# sign(access_key, secret, url | port+target [+ host], method, headers =>
# [[n, v]...] (signed), body, sign_body, date, nonce): the headers to send,
# as [name, value], Authorization last (Apiauth::Sign::signed_headers)
sub sign {
    my (%a) = @_;
    my $url = $a{url} // do {
        my $host = $a{host} // "127.0.0.1:$a{port}";
        "http://$host$a{target}";
    };
    return signed_headers(access_key => $a{access_key}, secret => $a{secret},
        url => $url, method => $a{method} // 'GET', headers => $a{headers},
        body => $a{body}, sign_body => $a{sign_body}, date => $a{date},
        nonce => $a{nonce});
}

# signed_request(method, target, port, key => {access_key, access_secret}
# (or access_key, secret), headers (signed), unsigned (added after
# signing), body, sign_body, date, nonce, host, send_method, send_target,
# edit => sub { $headers }): the raw request.  send_method and send_target
# send another method or target than the one signed; edit may change the
# signed headers before they are sent.
sub signed_request {
    my (%a) = @_;
    my $method = $a{method} // 'GET';
    my @h = sign(
        access_key => $a{key} ? $a{key}{access_key} : $a{access_key},
        secret => $a{key} ? $a{key}{access_secret} : $a{secret},
        method => $method, port => $a{port}, target => $a{target},
        host => $a{host}, url => $a{url}, headers => $a{headers},
        body => $a{body}, sign_body => $a{sign_body}, date => $a{date},
        nonce => $a{nonce});
    $a{edit}->(\@h) if $a{edit};
    return build_request($a{send_method} // $method,
        $a{send_target} // $a{target}, [@h, @{ $a{unsigned} || [] }],
        $a{body});
}

sub _send {
    my ($t, $a, $raw_cb) = @_;
    my $port = $a->{port} // $t->port('http');
    my $id = "r$$-" . ++$seq;
    my $raw = $raw_cb->($port, ['X-Test-Id', $id]);
    my $r = $a->{v6} ? http6($port, $raw, %{ $a->{http} || {} })
        : http($port, $raw, %{ $a->{http} || {} });
    $r->{id} = $id;
    $r->{request} = $raw;
    return $r;
}

# send_signed($t, key => ..., target => ..., ...): signs (signed_request's
# arguments), sends with an X-Test-Id; port defaults to the http port, v6
# => 1 sends over ::1 (and signs Host [::1]:port).
sub send_signed {
    my ($t, %a) = @_;
    return _send($t, \%a, sub {
        my ($port, $id) = @_;
        my $host = $a{host} // ($a{v6} ? "[::1]:$port" : "127.0.0.1:$port");
        return signed_request(%a, port => $port, host => $host,
            unsigned => [@{ $a{unsigned} || [] }, $id]);
    });
}

# resend($t, $r, port => ..., v6 => ...): the same raw request again (the
# same signed headers, to the same place unless told), under a new
# X-Test-Id, which is never signed.
sub resend {
    my ($t, $old, %a) = @_;
    return _send($t, \%a, sub {
        my ($port, $id) = @_;
        (my $raw = $old->{request}) =~ s/^X-Test-Id: \S+\r$/X-Test-Id: $id->[1]/m;
        return $raw;
    });
}

# send_plain($t, method, target, headers => [[n, v]...], body, host): a
# request with exactly these headers (Host defaults to 127.0.0.1:port).
sub send_plain {
    my ($t, %a) = @_;
    return _send($t, \%a, sub {
        my ($port, $id) = @_;
        my @h = @{ $a{headers} || [] };
        unshift @h, ['Host', $a{host} // "127.0.0.1:$port"]
            unless $a{no_host} || grep { lc $_->[0] eq 'host' } @h;
        return build_request($a{method} // 'GET', $a{target} // '/',
            [@h, $id], $a{body});
    });
}

# send_raw($t, $raw, port => ...): a request as it is (from Apiauth::Sign's
# signed_raw, say, edited), with an X-Test-Id added after its last header,
# and Connection: close unless it has a Connection header.
sub send_raw {
    my ($t, $raw, %a) = @_;
    return _send($t, \%a, sub {
        my ($port, $id) = @_;
        my ($head, $body) = split /\r\n\r\n/, $raw, 2;
        $head .= "\r\n$id->[0]: $id->[1]";
        $head .= "\r\nConnection: close" unless $head =~ /^Connection:/mi;
        return "$head\r\n\r\n" . ($body // '');
    });
}

# Authorization: Bearer AK.SECRET
sub token_headers {
    my ($key, $how) = @_;
    my $tok = "$key->{access_key}.$key->{access_secret}";
    return $how && $how eq 'x-api-key' ? (['X-Api-Key', $tok])
        : (['Authorization', "Bearer $tok"]);
}

###############################################################################
# the access log

# Every line of apiauth.log as { status, result, reason, access_key,
# key_name, uri, request_id, id, pid }; "-" (an empty variable) stays "-".
sub access_log_entries {
    my ($t, $file) = @_;
    my @e;
    for (split /\n/, $t->read_file($file // 'apiauth.log')) {
        my @f = /^(\d{3}) (\S+) (\S+) (\S+) "(.*)" (\S+) (\S+) (\S+) (\d+)$/
            or next;
        my %e;
        @e{qw(status result reason access_key key_name uri request_id id
            pid)} = @f;
        push @e, \%e;
    }
    return @e;
}

# The log entry of a response (by its X-Test-Id), waiting for it a little:
# the line is written when nginx finalises the request.  {} when there is
# none (nor is one waited for when nothing answered).
sub logged {
    my ($t, $r) = @_;
    my $end = time + (defined $r->{status} ? 1.5 : 0);
    while (1) {
        my @m = grep { $_->{id} eq $r->{id} } access_log_entries($t);
        return $m[-1] if @m;
        return {} if time > $end;
        sleep 0.05;
    }
}

###############################################################################
# key changes, seen from outside

# A token request for $key (to /tok/x unless $target is given).
sub tok {
    my ($t, $key, $target) = @_;
    return send_plain($t, target => $target // '/tok/x',
        headers => [token_headers($key)]);
}

# What a response says of its key: "ok" for the backend's 200, else the
# public reason.
sub verdict {
    my ($r) = @_;
    return 'ok' if ($r->{status} // 0) == 200 && ($r->{body} // '') =~ /^backend/;
    return ref $r->{json} eq 'HASH' ? $r->{json}{reason} // '?'
        : 'no answer: ' . ($r->{error} // $r->{status} // '');
}

# Asks for $key every 10 ms until the verdict is $want, or $secs pass:
# (the seconds it took, the last verdict).
sub until_verdict {
    my ($t, $key, $want, $secs) = @_;
    my $t0 = time;
    my $v;
    while (1) {
        $v = verdict(tok($t, $key));
        last if $v eq $want || time - $t0 > $secs;
        sleep 0.01;
    }
    return (time - $t0, $v);
}

# Redis's count of the lookups (HGETALL) it answered.
sub lookups {
    my ($t) = @_;
    my ($line) = grep { /^cmdstat_hgetall:/ }
        split /\r\n/, $t->redis('INFO', 'commandstats');
    return $line && $line =~ /calls=(\d+)/ ? $1 : 0;
}

# The change feeds reading the stream now, as CLIENT LIST lines.
sub feed_clients {
    my ($t) = @_;
    return grep { /cmd=xread/ } split /\n/, $t->redis('CLIENT', 'LIST');
}

###############################################################################
# expectations

my %ERROR = (401 => 'unauthorized', 403 => 'forbidden',
    429 => 'too_many_requests', 503 => 'service_unavailable');
my %PUBLIC = (unknown_key => 'invalid_credentials',
    bad_signature => 'invalid_credentials',
    bad_secret => 'invalid_credentials',
    wrong_algorithm => 'invalid_credentials');
our %STATUS = (missing_credentials => 401, malformed_credentials => 401,
    clock_skew => 401, unknown_key => 401, bad_signature => 401,
    bad_secret => 401, replayed_nonce => 401, expired_key => 401,
    disabled_key => 403, ip_not_allowed => 403, scope_denied => 403,
    rate_limited => 429, quota_exceeded => 429, store_unavailable => 503,
    expired_token => 401, token_not_yet_valid => 401, wrong_algorithm => 401,
    bad_claims => 401);

# What a refusal looks like from outside, as one structure to compare.
sub refusal {
    my ($r) = @_;
    my $j = $r->{json};
    my %s = (
        status => $r->{status},
        content_type => $r->{headers}{'content-type'},
        body_keys => ref $j eq 'HASH' ? join(',', sort keys %$j)
            : "not a JSON object: " . ($r->{body} // $r->{error} // ''),
    );
    if (ref $j eq 'HASH') {
        $s{$_} = $j->{$_} for qw(error reason request_id);
    }
    $s{www_authenticate} = $r->{headers}{'www-authenticate'}
        if ($r->{status} // 0) == 401;
    return \%s;
}

# Two checks: the public refusal (status, JSON body, its three keys, the
# public reason, request_id = the logged $request_id, WWW-Authenticate on
# 401) and the logged exact reason with $apiauth_result.
sub expect_refused {
    my ($t, $r, $reason, $what) = @_;
    my $status = $STATUS{$reason} or die "unknown reason $reason\n";
    my $log = logged($t, $r);
    my %want = (
        status => $status,
        content_type => 'application/json',
        body_keys => 'error,reason,request_id',
        error => $ERROR{$status},
        reason => $PUBLIC{$reason} // $reason,
        request_id => $log->{request_id} // 'a logged $request_id',
    );
    $want{www_authenticate} = 'APIAUTH-HMAC-SHA256' if $status == 401;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = is_deeply(refusal($r), \%want, "$what: $status "
        . ($PUBLIC{$reason} // $reason));
    my $got = { map { $_ => $log->{$_} } qw(status result reason) };
    $ok &= is_deeply($got, { status => $status, reason => $reason,
        result => $status == 503 ? 'error' : 'denied' },
        "$what: logged as $reason");
    diag("request:\n$r->{request}\nresponse:\n" . ($r->{raw} // '')) unless $ok;
    return $ok;
}

# Two checks: admitted (the backend answered, 200) and logged as ok with
# the key's accessKey (and name, when given).
sub expect_ok {
    my ($t, $r, $key, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = is_deeply({ status => $r->{status},
            backend => ($r->{body} // '') =~ /^backend / ? 1 : 0 },
        { status => 200, backend => 1 }, "$what: admitted");
    my $log = logged($t, $r);
    my %want = (result => 'ok', status => 200,
        access_key => $key->{access_key});
    $want{key_name} = $key->{name} if defined $key->{name};
    $ok &= is_deeply({ map { $_ => $log->{$_} } keys %want }, \%want,
        "$what: logged as ok for $key->{access_key}");
    diag("request:\n$r->{request}\nresponse:\n" . ($r->{raw} // $r->{error} // ''))
        unless $ok;
    return $ok;
}

###############################################################################
# config

# The usual config: %%MAIN%%, the apiauth log format and log, apiauth_redis
# (redis => ... replaces the line), the master key, a backend server (on
# %%PORT_backend%%, answering "backend METHOD URI") and the server under
# test on %%PORT%% (listen => ... replaces the listen line) with
# `server => '...'` inside.  In the text, @@BACKEND@@ is a proxy_pass to the
# backend; protected content always comes from it, as `return` would
# answer in the rewrite phase, before any access check.
sub nginx_conf {
    my (%o) = @_;
    my $redis = $o{redis}
        // 'apiauth_redis 127.0.0.1:%%REDIS_PORT%% timeout=2s;';
    my $listen = $o{listen} // 'listen 127.0.0.1:%%PORT%%;';
    my $conf = '%%MAIN%%' . "\n" . ($o{main} // '') . "\n"
        . "events { worker_connections 1024; }\n"
        . "http {\n"
        . "    %%HTTP%%\n"
        . "    $LOG_FORMAT\n"
        . "    access_log %%PREFIX%%/apiauth.log apiauth;\n"
        . "    $redis\n"
        . "    apiauth_master_key " . ($o{master_key} // '%%MASTER_KEY%%')
        . ";\n"
        . ($o{http} // '') . "\n"
        . "    server {\n"
        . "        listen 127.0.0.1:%%PORT_backend%%;\n"
        . "        access_log off;\n"
        . '        location / { return 200 "backend $request_method '
        . '$request_uri\n"; }' . "\n"
        . "    }\n"
        . "    server {\n"
        . "        $listen\n"
        . "        server_name localhost;\n"
        . ($o{server} // '') . "\n"
        . "    }\n"
        . ($o{servers} // '') . "\n"
        . "}\n";
    $conf =~ s/\@\@BACKEND\@\@/proxy_pass http:\/\/127.0.0.1:%%PORT_backend%%;/g;
    return $conf;
}

# The 1-based line of the written nginx.conf that first contains $needle.
sub line_of {
    my ($t, $needle) = @_;
    my @l = split /\n/, $t->read_file('nginx.conf');
    for (0 .. $#l) {
        return $_ + 1 if index($l[$_], $needle) >= 0;
    }
    die "no line with $needle in nginx.conf\n";
}

###############################################################################
# load

# client_load($t, request => sub { raw }, clients => 4, n => 5000,
# seconds => 10): forked clients, each sending n requests (each made anew
# by the sub, in the child: its own random seed) on a keep-alive
# connection, paced over the seconds (0: at once); a connection a worker
# closes (a reload) is made again and the request made and sent again; a
# client that cannot connect stops.  Returns a handle for token_load_wait.
sub client_load {
    my ($t, %o) = @_;
    my $port = $o{port} // $t->port('http');
    my @kids;
    for my $c (1 .. ($o{clients} // 4)) {
        pipe(my $rd, my $wr) or die "pipe: $!\n";
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            close $rd;
            local $SIG{PIPE} = 'IGNORE';
            # nonces of its own, not the parent's sequence nor a sibling's
            open my $ur, '<', '/dev/urandom' or die "urandom: $!\n";
            read $ur, my $seed, 4;
            srand(unpack 'L', $seed);
            my (%status, $s);
            my $t0 = time;
            my $n = $o{n} // 5000;
            my $secs = $o{seconds} // 10;
            REQUEST: for my $i (1 .. $n) {
                my $d = $t0 + $secs * $i / $n - time;
                sleep $d if $d > 0;
                for my $try (1 .. 5) {
                    $s ||= IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                        PeerPort => $port, Proto => 'tcp');
                    # nginx is gone (quit): the load ends
                    unless ($s) {
                        $status{"connect: $!"}++;
                        last REQUEST;
                    }
                    my $res = eval { keepalive($s, $o{request}->($port)) };
                    if ($res) {
                        $status{ $res->{status} }++;
                        undef $s if ($res->{headers}{connection} // '')
                            eq 'close';
                        last;
                    }
                    undef $s;
                    $status{'closed and resent'}++;
                    sleep 0.05;
                }
            }
            print $wr join(';', map { "$_=$status{$_}" } sort keys %status);
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    return \@kids;
}

# token_load($t, key => $key, target => '/api/x', ...): client_load of one
# token request, the same each time
sub token_load {
    my ($t, %o) = @_;
    my $port = $o{port} // $t->port('http');
    my $raw = build_request('GET', $o{target},
        [['Host', "127.0.0.1:$port"], token_headers($o{key}),
         ['Connection', 'keep-alive']]);
    return client_load($t, %o, request => sub { $raw });
}

# the statuses the load's clients got, summed: { 200 => n, ... }
sub token_load_wait {
    my ($kids) = @_;
    my %total;
    for (@$kids) {
        my ($pid, $fh) = @$_;
        local $/;
        my $out = <$fh> // '';
        waitpid($pid, 0);
        for (split /;/, $out) {
            my ($st, $n) = split /=/;
            $total{$st} += $n;
        }
    }
    return \%total;
}

###############################################################################
# call records

# The stream's records whose path starts with $prefix: { request id =>
# entries }, and how many entries.
sub record_ids {
    my ($t, $prefix) = @_;
    my (%ids, $n);
    my $start = '-';
    $n = 0;
    while (1) {
        my $r = $t->redis('XRANGE', '{apiauth}:records', $start, '+',
            'COUNT', 5000);
        last unless ref $r eq 'ARRAY' && @$r;
        for (@$r) {
            my %f = @{ $_->[1] };
            next unless index($f{path}, $prefix) == 0;
            $ids{ $f{id} }++;
            $n++;
        }
        $start = '(' . $r->[-1][0];
    }
    return (\%ids, $n);
}

# The requests nginx logged under $prefix: { request id => status }.
sub served_ids {
    my ($t, $prefix) = @_;
    return { map { $_->{request_id} => $_->{status} }
        grep { index($_->{uri}, $prefix) == 0 } access_log_entries($t) };
}

sub spool_files {
    my ($dir) = @_;
    opendir my $d, $dir or return ();
    return grep { /\.spool$/ } readdir $d;
}

# all_recorded($t, prefix => '/api/x', n => 20000, spool => $dir, name =>
# '...', once => 1, settled => sub { ... }): waits (30 s at most) until
# every request nginx served under the prefix is in the stream, the spools
# are empty and settled says so; then checks that n were served, each is
# in the stream (exactly once with once), nothing else is, and no spool
# file is left.  Returns the entries' count.
sub all_recorded {
    my ($t, %o) = @_;
    my ($ids, $entries, $served);
    my $name = $o{name};
    for (1 .. 150) {
        $served = served_ids($t, $o{prefix});
        ($ids, $entries) = record_ids($t, $o{prefix});
        last if keys %$ids >= keys %$served && !spool_files($o{spool})
            && (!$o{settled} || $o{settled}->());
        sleep 0.2;
    }
    is(scalar(keys %$served), $o{n}, "$name: $o{n} requests served");
    same_ids($ids, $served, "$name: every one in the stream", $o{once});
    is_deeply([spool_files($o{spool})], [], "$name: the spools are empty");
    return ($entries, $served);
}

# all_archived($t, $db, $prefix, $name): drains the stream into the archive
# $db (apiauth-ctl records drain), then checks that every request nginx
# served under the prefix is there exactly once, and nothing else is.
sub all_archived {
    my ($t, $db, $prefix, $name) = @_;
    my $d = $t->ctl('records', 'drain', '--db', $db);
    is($d->{rc}, 0, "$name: the drain exits 0") or diag($d->{err});
    my $r = $t->ctl_json('records', 'report', '--db', $db, '--limit', 0);
    my %rows;
    $rows{ $_->{request_id} }++
        for grep { index($_->{path}, $prefix) == 0 }
            @{ $r->{json}{records} || [] };
    my $served = served_ids($t, $prefix);
    is(scalar(keys %rows), scalar(keys %$served), sprintf
        '%s: %d requests served, %d archived', $name, scalar(keys %$served),
        scalar(keys %rows));
    same_ids(\%rows, $served, "$name: every one archived", 1);
}

# the request ids of $got (id => times) are those of $want, none missing,
# none more; with $once, each once
sub same_ids {
    my ($got, $want, $name, $once) = @_;
    my @missing = grep { !$got->{$_} } keys %$want;
    my @extra = grep { !$want->{$_} } keys %$got;
    is(scalar @missing, 0, $name)
        or diag("missing: @missing[0 .. ($#missing > 4 ? 4 : $#missing)]");
    is(scalar @extra, 0, "$name, and nothing else");
    is(scalar(grep { $_ > 1 } values %$got), 0, "$name, each once")
        if $once;
}

###############################################################################
# misc

# Forked clients that connect first, say so, then all send at once (a
# barrier pipe), each on its own connection.  jobs: [{ port, raw, v6 }];
# returns the responses in order ({ status, body, json, elapsed } or
# { error }).
sub parallel_http {
    my (@jobs) = @_;
    pipe(my $bar_r, my $bar_w) or die "pipe: $!\n";
    pipe(my $ready_r, my $ready_w) or die "pipe: $!\n";
    my @kids;
    for my $j (@jobs) {
        pipe(my $res_r, my $res_w) or die "pipe: $!\n";
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            close $bar_w;
            close $res_r;
            close $ready_r;
            my $s = $j->{v6}
                ? IO::Socket::IP->new(PeerHost => '::1',
                    PeerPort => $j->{port}, Type => SOCK_STREAM)
                : IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                    PeerPort => $j->{port}, Proto => 'tcp');
            syswrite $ready_w, 'r';
            close $ready_w;
            my $x = <$bar_r>;    # EOF when the parent lets everyone go
            my $r = _exchange($s, $j->{raw});
            delete $r->{raw};
            print $res_w encode_json($r);
            close $res_w;
            POSIX::_exit(0);    # never the parent's END blocks
        }
        close $res_w;
        push @kids, [$pid, $res_r];
    }
    close $bar_r;
    close $ready_w;

    # every one connected (or failed to), however slow the machine
    my $ready = '';
    1 while length $ready < @jobs
        && sysread($ready_r, $ready, @jobs - length $ready, length $ready);
    close $ready_r;
    close $bar_w;
    my @res;
    for (@kids) {
        my ($pid, $fh) = @$_;
        local $/;
        my $json = <$fh>;
        close $fh;
        waitpid($pid, 0);
        push @res, eval { decode_json($json) } // { error => 'client died' };
    }
    return @res;
}

# Waits until a new second has just begun, so that a date computed now is
# the second nginx reads when the request arrives a few ms later.
sub fresh_second {
    my $f = time - int(time);
    sleep(1.02 - $f) if $f > 0.4;
    return int(time);
}

sub random_hex {
    my ($n) = @_;
    return join '', map { sprintf '%x', int rand 16 } 1 .. $n;
}

sub write_file {
    my ($path, $text) = @_;
    open my $f, '>', $path or die "$path: $!\n";
    binmode $f;
    print $f $text;
    close $f;
}

1;
