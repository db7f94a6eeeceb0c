package Apiauth::Relay;

# A TCP relay between nginx and Redis, in a child process, that a test can
# make misbehave: hold back Redis's answers on the links that sent a given
# command, freeze the links that sent one (no byte passes either way, the
# sockets stay open: a half-open peer), or cut nginx off (every link closed
# and new ones refused).
#
#   my $relay = Apiauth::Relay->new($t, 'relay', delay => ['HGETALL', 0.3]);
#   $relay->freeze('XREAD');   # until $relay->thaw
#   $relay->cut;               # until $relay->uncut
#
# It listens on $t->port($name) and forwards to $t->port('redis'); a
# control pipe carries the test's orders.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time);

sub new {
    my ($class, $t, $name, %o) = @_;
    my $port = $t->port($name);
    $t->release_port($name);
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $port, Listen => 64, ReuseAddr => 1, Proto => 'tcp')
        or die "relay: cannot listen on $port: $!\n";
    pipe(my $ctl_r, my $ctl_w) or die "pipe: $!\n";
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        # not the test's handlers, which would tear the test down from here
        $SIG{$_} = 'DEFAULT' for qw(INT TERM PIPE);
        close $ctl_w;
        eval { _run($listen, $ctl_r, $t->port('redis'), \%o) };
        POSIX::_exit(0);
    }
    close $listen;
    close $ctl_r;
    $ctl_w->autoflush(1);
    $t->{pids}{$name} = $pid;
    return bless { t => $t, name => $name, ctl => $ctl_w }, $class;
}

sub _order {
    my ($self, $line) = @_;
    print { $self->{ctl} } "$line\n";
}

sub freeze { $_[0]->_order("freeze $_[1]") }
sub thaw   { $_[0]->_order('thaw') }
sub cut    { $_[0]->_order('cut') }
sub uncut  { $_[0]->_order('uncut') }

sub stop {
    my ($self) = @_;
    $self->{t}->stop_pid($self->{name}, 'KILL');
}

# One select loop.  A link is [client, server, seen commands, queue of
# [due, bytes] towards the client].
sub _run {
    my ($listen, $ctl, $redis_port, $o) = @_;
    my ($delay_cmd, $delay) = @{ $o->{delay} || [] };
    my (%links, %frozen, $cut);
    my $sel = IO::Select->new($listen, $ctl);
    my $drop = sub {
        my ($l) = @_;
        delete $frozen{$l};
        for (@$l[0, 1]) {
            $sel->remove($_);
            delete $links{ fileno($_) // -1 };
            close $_;
        }
    };
    my $ctl_buf = '';
    while (1) {
        my $now = time;
        my $wait = 0.5;
        for my $l (values %links) {
            next unless @{ $l->[3] };
            my $left = $l->[3][0][0] - $now;
            $wait = $left < $wait ? ($left > 0 ? $left : 0) : $wait;
        }
        for my $fh ($sel->can_read($wait)) {
            if ($fh == $ctl) {
                sysread($ctl, $ctl_buf, 4096, length $ctl_buf) or return;
                while ($ctl_buf =~ s/^(.*)\n//) {
                    my ($cmd, $arg) = split ' ', $1;
                    if ($cmd eq 'freeze') {
                        # the links that sent it so far; their bytes wait in
                        # the kernel, unread
                        for my $l (values %links) {
                            next if $frozen{$l} || index($l->[2], $arg) < 0;
                            $frozen{$l} = $l;
                            $sel->remove(@$l[0, 1]);
                        }
                    }
                    elsif ($cmd eq 'thaw') {
                        $sel->add(@$_[0, 1]) for values %frozen;
                        %frozen = ();
                    }
                    elsif ($cmd eq 'cut') {
                        $cut = 1;
                        my %seen;
                        $drop->($_) for grep { !$seen{$_}++ } values %links;
                    }
                    elsif ($cmd eq 'uncut') { $cut = 0 }
                }
                next;
            }
            if ($fh == $listen) {
                my $c = $listen->accept or next;
                if ($cut) { close $c; next }
                my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                    PeerPort => $redis_port, Proto => 'tcp');
                unless ($s) { close $c; next }
                my $l = [$c, $s, '', []];
                $links{ fileno $c } = $links{ fileno $s } = $l;
                $sel->add($c, $s);
                next;
            }
            # (a socket closed with its peer earlier in this round is gone)
            my $l = defined fileno($fh) && $links{ fileno $fh } or next;
            my $n = sysread($fh, my $buf, 65536);
            unless ($n) { $drop->($l); next }
            if ($fh == $l->[0]) {
                $l->[2] .= uc $buf if length $l->[2] < 4096;
                syswrite($l->[1], $buf);
            } else {
                my $due = defined $delay_cmd && index($l->[2], $delay_cmd) >= 0
                    ? time + $delay : 0;
                push @{ $l->[3] }, [$due, $buf];
            }
        }
        # what is due goes to the client, in order
        my %seen;
        for my $l (grep { !$seen{$_}++ } values %links) {
            next if $frozen{$l};
            while (@{ $l->[3] } && $l->[3][0][0] <= time) {
                my $b = shift @{ $l->[3] };
                syswrite($l->[0], $b->[1]);
            }
        }
    }
}

1;
