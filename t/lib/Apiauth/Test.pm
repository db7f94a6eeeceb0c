package Apiauth::Test;

# A small harness in the spirit of nginx-tests' Test::Nginx: a temporary
# prefix, free loopback ports, a private redis-server and nginx started from
# a config template, always stopped (also when a test dies), and a teardown
# that fails the test on an [alert] in the error log or a sanitizer report.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
our $BUILD = $ENV{APIAUTH_BUILD} || "$ROOT/build";
# known-answer vectors of signatures and secrets (t/data/README.md)
our $DATA = "$ROOT/t/data";
our $SAN = $ENV{APIAUTH_SAN} ? 1 : 0;
our $NGINX = $ENV{APIAUTH_NGINX} || '/usr/sbin/nginx';

my @instances;

sub new {
    my ($class, %opts) = @_;

    my $dir = tempdir('apiauth-test-XXXXXX', TMPDIR => 1,
        CLEANUP => !$ENV{APIAUTH_KEEP});
    chmod 0755, $dir;

    my $self = bless {
        dir => $dir,
        ports => {},
        held => {},
        pids => {},
        finished => 0,
    }, $class;

    $self->{master_key} = "$dir/master.key";
    push @instances, $self;

    die "apiauth-ctl not built at $BUILD/apiauth-ctl: run make\n"
        unless -x "$BUILD/apiauth-ctl";

    return $self;
}

sub dir { $_[0]->{dir} }
sub master_key { $_[0]->{master_key} }

# the 32 bytes of a master key file (the test's own by default)
sub master_bytes {
    my ($self, $path) = @_;
    $path //= $self->{master_key};
    open my $f, '<', $path or die "$path: $!\n";
    (my $hex = do { local $/; <$f> }) =~ s/\s+//g;
    return pack 'H*', $hex;
}

# A free port on 127.0.0.1, held by a listening socket until a server is
# about to bind it.
sub port {
    my ($self, $name) = @_;
    return $self->{ports}{$name} if $self->{ports}{$name};

    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
        LocalPort => 0, Proto => 'tcp', ReuseAddr => 1)
        or die "no free port: $!\n";
    $self->{held}{$name} = $s;
    return $self->{ports}{$name} = $s->sockport;
}

sub release_port {
    my ($self, $name) = @_;
    my $s = delete $self->{held}{$name};
    close $s if $s;
}

# nginx keeps its cycle's memory to exit by design: leaks are checked in
# apiauth-ctl only
sub san_env {
    my ($self, $leaks) = @_;
    return () unless $SAN;
    return (
        ASAN_OPTIONS => "log_path=$self->{dir}/asan:detect_leaks="
            . ($leaks ? 1 : 0) . ":abort_on_error=0:halt_on_error=1",
        UBSAN_OPTIONS => "log_path=$self->{dir}/ubsan:print_stacktrace=1:"
            . "halt_on_error=1",
    );
}

sub spawn {
    my ($self, $name, $env, @cmd) = @_;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        %ENV = (%ENV, %$env);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$self->{dir}/$name.out";
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    $self->{pids}{$name} = $pid;
    return $pid;
}

sub wait_for {
    my ($what, $timeout, $cond) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        return 1 if $cond->();
        sleep 0.05;
    }
    die "timed out waiting for $what\n";
}

###############################################################################
# Redis

sub start_redis {
    my ($self, %opts) = @_;
    my $port = $self->port('redis');
    my $rdir = "$self->{dir}/redis";
    make_path($rdir);

    $self->release_port('redis');
    $self->spawn('redis', {}, 'redis-server', '--port', $port,
        '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', $rdir, '--daemonize', 'no', '--logfile', "$rdir/redis.log",
        @{ $opts{args} || [] });

    # any reply will do: with requirepass, PING answers NOAUTH
    wait_for('redis on port ' . $port, 10, sub {
        my $r = eval { $self->redis('PING') };
        $self->redis_close unless defined $r;
        return defined $r;
    });

    return $port;
}

sub stop_redis {
    my ($self) = @_;
    $self->stop_pid('redis', 'TERM');
}

sub redis_url {
    my ($self) = @_;
    return 'redis://127.0.0.1:' . $self->port('redis') . '/0';
}

# A minimal RESP client: one command, one reply; errors come back as
# { error => '...' }.
sub redis {
    my ($self, @args) = @_;
    my $s = $self->{redis_sock};
    unless ($s && $s->connected) {
        $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => $self->port('redis'), Proto => 'tcp', Timeout => 5)
            or die "cannot connect to redis: $!\n";
        $self->{redis_sock} = $s;
    }
    my $req = '*' . @args . "\r\n";
    $req .= '$' . length($_) . "\r\n$_\r\n" for @args;
    print $s $req or do { delete $self->{redis_sock}; die "redis write\n" };
    my $reply = eval { resp_read($s) };
    unless (defined $reply || !$@) {
        delete $self->{redis_sock};
        die $@;
    }
    return $reply;
}

# Every name and value in the store as text, so that "nothing changed" is
# exact; a hash's fields sorted, as a large one comes back in no fixed order;
# a stream as its entries, IDs included, so that an entry appended shows.
sub dump_store {
    my ($self) = @_;
    my @out;
    for my $k (sort @{ $self->redis('KEYS', '*') }) {
        my $type = $self->redis('TYPE', $k);
        my $v = $type eq 'hash' ? { @{ $self->redis('HGETALL', $k) } }
            : $type eq 'zset' ? $self->redis('ZRANGE', $k, 0, -1, 'WITHSCORES')
            : $type eq 'stream' ? [map { join ' ', $_->[0], @{ $_->[1] } }
                @{ $self->redis('XRANGE', $k, '-', '+') }]
            : $self->redis('GET', $k);
        $v = [map { ($_, $v->{$_}) } sort keys %$v] if ref $v eq 'HASH';
        push @out, "$k $type " . join("\x1f", ref $v ? @$v : $v);
    }
    return join "\n", @out;
}

sub redis_close {
    my ($self) = @_;
    my $s = delete $self->{redis_sock};
    close $s if $s;
}

sub resp_read {
    my ($s) = @_;
    my $line = <$s>;
    die "redis closed the connection\n" unless defined $line;
    $line =~ s/\r\n$//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+';
    return { error => $v } if $t eq '-';
    return $v + 0 if $t eq ':';
    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        while (length($buf) < $v + 2) {
            my $n = read($s, $buf, $v + 2 - length($buf), length($buf));
            die "redis closed the connection\n" unless $n;
        }
        return substr($buf, 0, $v);
    }
    if ($t eq '*') {
        return undef if $v < 0;
        return [ map { resp_read($s) } 1 .. $v ];
    }
    die "bad RESP line: $line\n";
}

# The change stream's entries after the entry $after (all of them without
# it), each [ID, [field, value, ...]].
sub changes {
    my ($self, $after) = @_;
    return $self->redis('XRANGE', '{apiauth}:changes',
        defined $after ? "($after" : '-', '+');
}

# The ID of the change stream's newest entry, undef when it has none.
sub last_change {
    my ($self) = @_;
    my $r = $self->redis('XREVRANGE', '{apiauth}:changes', '+', '-',
        'COUNT', 1);
    return ref $r eq 'ARRAY' && @$r ? $r->[0][0] : undef;
}

###############################################################################
# apiauth-ctl

sub ctl_env {
    my ($self) = @_;
    return (
        APIAUTH_REDIS => $self->redis_url,
        APIAUTH_MASTER_KEY => $self->{master_key},
        $self->san_env(1),
    );
}

# Starts apiauth-ctl in the background (output to files); ctl_wait()
# collects it.  Several may run at once, for the race tests.
sub ctl_spawn {
    my ($self, @args) = @_;
    my %env = ($self->ctl_env, %{ $self->{ctl_env_extra} || {} });
    my $n = ++$self->{ctl_runs};
    my ($out, $err) = ("$self->{dir}/ctl.$n.out", "$self->{dir}/ctl.$n.err");

    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        %ENV = (%ENV, %env);
        delete $ENV{APIAUTH_REDIS_PASSWORD}
            unless $env{APIAUTH_REDIS_PASSWORD};
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out;
        open STDERR, '>', $err;
        exec "$BUILD/apiauth-ctl", @args or POSIX::_exit(127);
    }
    return { pid => $pid, out => $out, err => $err };
}

sub ctl_wait {
    my ($self, $run) = @_;
    waitpid($run->{pid}, 0);
    my $status = $?;
    my %r = (rc => $status >> 8, signal => $status & 127);
    for my $k (qw(out err)) {
        open my $f, '<', $run->{$k} or die "$run->{$k}: $!\n";
        local $/;
        $r{$k} = <$f> // '';
        close $f;
        unlink $run->{$k};
    }
    return \%r;
}

# Runs apiauth-ctl; returns { rc, out, err }.
sub ctl {
    my ($self, @args) = @_;
    return $self->ctl_wait($self->ctl_spawn(@args));
}

# Runs apiauth-ctl --json and decodes its document.
sub ctl_json {
    my ($self, @args) = @_;
    my $r = $self->ctl('--json', @args);
    $r->{json} = eval { decode_json($r->{out}) };
    return $r;
}

# Runs apiauth-ctl expecting a refusal, three checks: exit 2, one line on
# stderr matching $re, and nothing changed in the store; returns the run.
sub ctl_refused {
    my ($self, $args, $re, $name) = @_;
    my $before = $self->dump_store;
    my $r = $self->ctl(@$args);
    is($r->{rc}, 2, "$name: exit 2");
    like($r->{err}, qr/\Aapiauth-ctl: error: [^\n]*$re[^\n]*\n\z/,
        "$name: one line saying why");
    my $after = $self->dump_store;
    ok($after eq $before, "$name: nothing changed") or diag(join "\n",
        map { substr($_, 0, 200) } grep { index("\n$before\n", "\n$_\n") < 0 }
        split /\n/, $after);
    return $r;
}

# init with a fresh master key; dies unless it works.
sub init_store {
    my ($self) = @_;
    my $r = $self->ctl('init');
    die "apiauth-ctl init failed: $r->{err}\n" if $r->{rc};
    return $r;
}

# Creates a key; returns its JSON object (with the secret).
sub create_key {
    my ($self, @args) = @_;
    my $r = $self->ctl_json('key', 'create', @args);
    die "key create failed: $r->{err}\n" if $r->{rc} || !$r->{json};
    return $r->{json};
}

###############################################################################
# nginx

sub module_path { "$BUILD/ngx_http_apiauth_module.so" }

# Placeholders: %%MAIN%% (load_module, pid, error_log, user), %%HTTP%%
# (access log and temp paths inside the prefix), %%PORT%%, %%PORT_name%%,
# %%REDIS_PORT%%, %%PREFIX%%, %%MASTER_KEY%%, %%MODULE%%.
sub write_nginx_conf {
    my ($self, $conf) = @_;
    my $dir = $self->{dir};
    make_path("$dir/logs", "$dir/tmp");

    my $main = "load_module " . module_path() . ";\n"
        . "pid $dir/nginx.pid;\n"
        . "error_log $dir/error.log info;\n"
        . "daemon off;\n";
    # workers run as nobody under root: they could not read the prefix
    $main .= "user root;\n" if $> == 0;

    my $http = "access_log $dir/access.log;\n";
    $http .= "${_}_temp_path $dir/tmp/$_;\n"
        for qw(client_body proxy fastcgi uwsgi scgi);

    $conf =~ s/%%MAIN%%/$main/g;
    $conf =~ s/%%HTTP%%/$http/g;
    $conf =~ s/%%PORT_(\w+)%%/$self->port($1)/ge;
    $conf =~ s/%%PORT%%/$self->port('http')/ge;
    $conf =~ s/%%REDIS_PORT%%/$self->port('redis')/ge;
    $conf =~ s/%%PREFIX%%/$dir/g;
    $conf =~ s/%%MASTER_KEY%%/$self->{master_key}/g;
    $conf =~ s/%%MODULE%%/module_path()/ge;

    open my $f, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!\n";
    print $f $conf;
    close $f;
    return "$dir/nginx.conf";
}

sub nginx_env {
    my ($self) = @_;
    return () unless $SAN;
    # nginx itself is not instrumented: the runtime must come first
    my $asan = `gcc -print-file-name=libasan.so`;
    chomp $asan;
    return (LD_PRELOAD => $asan, $self->san_env);
}

# nginx -t on the current config; returns { rc, out }.
sub nginx_test_config {
    my ($self) = @_;
    my %env = $self->nginx_env;
    local @ENV{keys %env} = values %env;
    my $dir = $self->{dir};
    # its own log: a config meant to fail must not fail the server's checks
    my $out = `$NGINX -t -p $dir/ -c $dir/nginx.conf -e $dir/nginx-t.log 2>&1`;
    return { rc => $? >> 8, out => $out };
}

sub start_nginx {
    my ($self) = @_;
    my $dir = $self->{dir};
    unlink "$dir/nginx.pid";

    my @ports = grep { $_ ne 'redis' } keys %{ $self->{held} };
    $self->release_port($_) for @ports;

    $self->spawn('nginx', { $self->nginx_env }, $NGINX, '-p', "$dir/",
        '-c', "$dir/nginx.conf", '-e', "$dir/error.log");
    $self->{nginx_ran} = 1;

    wait_for('nginx to start', 10, sub {
        my $pid = $self->{pids}{nginx};
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pids}{nginx};
            die "nginx exited at start:\n" . $self->read_file('nginx.out')
                . $self->read_file('error.log');
        }
        return 0 unless -s "$dir/nginx.pid";
        return IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => $self->port('http'), Proto => 'tcp');
    });
    $self->settle_feeds;
}

# Where nginx reads this test's Redis, its workers' change feeds find their
# place before the test goes on: a fresh zone's first feed starts a new
# generation of the cache, which drops what was cached before it, and a
# test expects a settled cache.  Best effort: feeds that cannot connect (a
# wrong password, on purpose) are waited for 2 s at most.
sub settle_feeds {
    my ($self) = @_;
    return 0 unless $self->{pids}{redis};
    my $conf = $self->read_file('nginx.conf');
    my $port = $self->port('redis');
    return 0 unless $conf =~ /apiauth_redis\s+127\.0\.0\.1:$port\b/;
    my ($n) = $conf =~ /^\s*worker_processes\s+(\d+);/m;
    my $end = time + 2;
    while (time < $end) {
        my $list = eval { $self->redis('CLIENT', 'LIST') };
        return 1 if defined $list && !ref $list
            && ($n // 1) <= grep { /\bcmd=xread\b/ } split /\n/, $list;
        sleep 0.05;
    }
    return 0;
}

# nginx's workers, from its master's children
sub worker_pids {
    my ($self) = @_;
    my $master = $self->{pids}{nginx} or return ();
    open my $f, '<', "/proc/$master/task/$master/children" or return ();
    return split ' ', <$f> // '';
}

# A reload, done once every worker of the old configuration has stopped
# taking connections: it logged "gracefully shutting down" or is gone.
sub reload_nginx {
    my ($self) = @_;
    my @old = $self->worker_pids;
    kill 'HUP', $self->{pids}{nginx};
    wait_for('the old workers to stop taking connections', 20, sub {
        my $log = $self->read_file('error.log');
        my %now = map { $_ => 1 } $self->worker_pids;
        return !grep { $now{$_} && $log !~ /$_#\d+: gracefully shutting down/ }
            @old;
    });
    # and the new ones are there
    wait_for('new workers', 20, sub {
        my %old = map { $_ => 1 } @old;
        return grep { !$old{$_} } $self->worker_pids;
    });
}

# Waits until $n change feeds read the stream (a worker's feed, once it
# found its place; the first one in a fresh zone starts a new generation of
# the cache, so a test that counts lookups waits for it)
sub wait_feeds {
    my ($self, $n) = @_;
    wait_for("$n change feed(s)", 10, sub {
        $n <= grep { /\bcmd=xread\b/ } split /\n/, $self->redis('CLIENT', 'LIST');
    });
}

sub stop_nginx {
    my ($self) = @_;
    $self->stop_pid('nginx', 'QUIT');
}

sub stop_pid {
    my ($self, $name, $sig) = @_;
    my $pid = delete $self->{pids}{$name} or return;
    kill $sig, $pid;
    my $end = time + 10;
    while (time < $end) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'TERM', $pid;
    sleep 0.5;
    kill 'KILL', $pid if waitpid($pid, WNOHANG) != $pid;
    waitpid($pid, 0);
}

sub read_file {
    my ($self, $name) = @_;
    open my $f, '<', "$self->{dir}/$name" or return '';
    local $/;
    return <$f>;
}

###############################################################################
# teardown

sub sanitizer_reports {
    my ($self) = @_;
    opendir my $d, $self->{dir} or return ();
    return map { "$self->{dir}/$_" } grep { /^(asan|ubsan)\./ } readdir $d;
}

# Stops everything and fails on an [alert] or [emerg] of nginx, where
# nginx ran, or a sanitizer report.
sub finish {
    my ($self) = @_;
    return if $self->{finished}++;
    $self->stop_nginx;
    $self->stop_redis;
    $self->redis_close;

    if ($self->{nginx_ran}) {
        my $log = $self->read_file('error.log');
        ok(length $log, 'nginx wrote its error log');
        my @bad = grep { /\[(alert|emerg)\]/ } split /\n/, $log;
        ok(!@bad, 'no alert in the error log') or diag(join "\n", @bad);
    }

    my @reports = $self->sanitizer_reports;
    ok(!@reports, 'no sanitizer report')
        or diag(join "\n", map { $self->read_file(substr($_,
            length($self->{dir}) + 1)) } @reports);
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->stop_pid($_, $_ eq 'nginx' ? 'QUIT' : 'TERM')
        for keys %{ $self->{pids} || {} };
}

END {
    local $?;
    for my $t (@instances) {
        $t->stop_pid($_, 'TERM') for keys %{ $t->{pids} || {} };
    }
}

###############################################################################
# call records (docs/records.md)

# The fields of a call record, in the order nginx writes them.
our @CALL_FIELDS = qw(v id t ak name ip method path interface app status
    result reason rt bytes server node);

# Sends commands (each an array ref) in one pipeline, a thousand at a time,
# and returns their replies in order: 50,000 XADDs take a second.
sub redis_pipeline {
    my ($self, @cmds) = @_;
    $self->redis('PING');
    my $s = $self->{redis_sock};
    my @replies;
    while (my @chunk = splice @cmds, 0, 1000) {
        my $req = '';
        for my $c (@chunk) {
            $req .= '*' . @$c . "\r\n";
            $req .= '$' . length($_) . "\r\n$_\r\n" for @$c;
        }
        print $s $req or do { delete $self->{redis_sock}; die "redis write\n" };
        push @replies, resp_read($s) for @chunk;
    }
    return \@replies;
}

# Appends call records to {apiauth}:records, each a hash ref of fields:
# those of @CALL_FIELDS in their order, then any others sorted; a field
# that is not there is not sent.  "_id" is the entry's stream ID (default
# "*").  Returns the stream IDs.
sub add_calls {
    my ($self, @calls) = @_;
    my %known = map { $_ => 1 } @CALL_FIELDS;
    my $r = $self->redis_pipeline(map {
        my $c = $_;
        ['XADD', '{apiauth}:records', $c->{_id} // '*',
            map({ exists $c->{$_} ? ($_, $c->{$_}) : () } @CALL_FIELDS),
            map({ ($_, $c->{$_}) } sort grep { !$known{$_} && $_ ne '_id' }
                keys %$c)]
    } @calls);
    my @bad = grep { ref $_ eq 'HASH' } @$r;
    die "XADD: $bad[0]{error}\n" if @bad;
    return @$r;
}

# A call record with every field, realistic; %set replaces fields (undef
# leaves one out).  Its request id is drawn unless given.
sub call_record {
    my ($self, %set) = @_;
    my %c = (
        v => 1,
        id => join('', map { sprintf '%04x', int rand 65536 } 1 .. 8),
        t => int(time * 1000),
        ak => 'RecordKey0001',
        name => 'Record key',
        ip => '192.0.2.10',
        method => 'GET',
        path => '/api/orders/12345',
        interface => 'orders',
        app => 'shop',
        status => 200,
        result => 'ok',
        reason => 'ok',
        rt => 12,
        bytes => 512,
        server => 'api.example.com',
        node => 'web-1',
    );
    for my $k (keys %set) {
        if (defined $set{$k}) { $c{$k} = $set{$k} } else { delete $c{$k} }
    }
    return \%c;
}

$SIG{INT} = $SIG{TERM} = sub { exit 1 };

1;
