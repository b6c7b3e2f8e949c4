#!/usr/bin/perl
# echo.pl - a websock echo server in Perl (FFI::Platypus over websock.h, pull model).
# Usage: WEBSOCK_LIB=/path/libwebsock.so perl -I. echo.pl [address]
# Prints "READY <port>"; SIGTERM/SIGINT stop it gracefully. Paths: "/shout" answers in
# upper case; every connection is tagged "perl" and "/all <text>" sends to that tag.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Websock;

$| = 1;
my $stop = 0;
$SIG{TERM} = $SIG{INT} = sub { $stop = 1 };
my %path;

my $server = Websock->new(
    address => $ARGV[0] // '127.0.0.1:9003',
    loops   => 1,
    on_open => sub {
        my ($srv, $id, $path) = @_;
        $path{$id} = $path;
        $srv->tag($id, 'perl');
    },
    on_message => sub {
        my ($srv, $id, $data, $is_text) = @_;
        if ($is_text && $data =~ /^\/all (.*)/s) {
            $srv->send_text_by_tag('perl', $1);
        } else {
            $srv->send($id, ($path{$id} // '') eq '/shout' ? uc $data : $data, $is_text);
        }
    },
    on_close => sub {
        my ($srv, $id, $code, $reason) = @_;
        delete $path{$id};
    },
);
print "READY ", $server->port, "\n";
# Signals only set a flag; the stop call happens on this thread between dispatches.
$server->run(sub { if ($stop == 1) { $stop = 2; $_[0]->stop(1000) } });
print STDERR "perl echo: shut down\n";
