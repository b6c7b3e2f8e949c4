# Websock.pm - a thin Perl wrapper over websock.h with FFI::Platypus.
#
# Uses the pull model only: callbacks (Platypus closures) are invoked from
# websock_server_dispatch(), which this module calls on the Perl thread when the
# server's event fd is readable (IO::Select), so no closure ever runs on a foreign
# thread. Sends, tags and stop are plain calls. Load libwebsock.so from $WEBSOCK_LIB,
# or from the system's library path.
package Websock;
use strict;
use warnings;
use FFI::Platypus 2.00;
use FFI::Platypus::Buffer qw(buffer_to_scalar);
use IO::Select;
use IO::Handle;

my $ffi = FFI::Platypus->new(api => 2);
$ffi->lib($ENV{WEBSOCK_LIB} // $ffi->find_lib(lib => 'websock'));

# websock_result codes used here (the header's enum); the name comes from websock_result_str.
use constant { OK => 0, TIMEOUT => 9010 };

$ffi->type('(opaque,opaque,uint64,opaque)->void'                     => 'open_cb');
$ffi->type('(opaque,opaque,uint64,opaque,size_t,uint8)->void'        => 'message_cb');
$ffi->type('(opaque,opaque,uint64,uint16,opaque,size_t,sint32)->void' => 'close_cb');
$ffi->type('(opaque,opaque)->void'                                    => 'shutdown_cb');

$ffi->attach(websock_result_str            => ['uint32'] => 'string');
$ffi->attach(websock_last_error_message    => [] => 'string');
$ffi->attach(websock_options_new           => [] => 'opaque');
$ffi->attach(websock_options_free          => ['opaque'] => 'void');
$ffi->attach(websock_options_set_address   => ['opaque', 'string'] => 'uint32');
$ffi->attach(websock_options_set_loops     => ['opaque', 'size_t'] => 'uint32');
$ffi->attach(websock_server_new            => ['opaque', 'string', 'opaque', 'opaque', 'opaque*'] => 'uint32');
$ffi->attach(websock_server_free           => ['opaque'] => 'void');
$ffi->attach(websock_server_event_fd       => ['opaque', 'int*'] => 'uint32');
$ffi->attach(websock_server_dispatch       => ['opaque', 'size_t', 'size_t*'] => 'uint32');
$ffi->attach(websock_server_is_finished    => ['opaque', 'uint8*'] => 'uint32');
$ffi->attach(websock_server_stop           => ['opaque', 'uint32'] => 'uint32');
$ffi->attach(websock_server_local_port     => ['opaque', 'uint16*'] => 'uint32');
$ffi->attach(websock_send                  => ['opaque', 'uint64', 'string', 'size_t', 'uint8'] => 'uint32');
$ffi->attach(websock_tag                   => ['opaque', 'uint64', 'string'] => 'uint32');
$ffi->attach(websock_send_text_by_tag      => ['opaque', 'string', 'string'] => 'uint32');
$ffi->attach(websock_close                 => ['opaque', 'uint64', 'uint16', 'string'] => 'uint32');
$ffi->attach(websock_request_path          => ['opaque', 'opaque*', 'size_t*'] => 'uint32');

sub _check {
    my ($rc, $what) = @_;
    die sprintf("%s: %s (%s)\n", $what, websock_result_str($rc), websock_last_error_message()) if $rc != OK;
}

# Websock->new(address => '127.0.0.1:0', loops => 1,
#              on_open => sub { my ($srv, $id, $path) = @_ },
#              on_message => sub { my ($srv, $id, $data, $is_text) = @_ },
#              on_close => sub { my ($srv, $id, $code, $reason) = @_ })
sub new {
    my ($class, %args) = @_;
    my $self = bless { args => \%args }, $class;
    my $opts = websock_options_new() or die "websock_options_new failed\n";
    _check(websock_options_set_address($opts, $args{address} // '127.0.0.1:8080'), 'address');
    _check(websock_options_set_loops($opts, $args{loops} // 0), 'loops');

    # The closures must outlive the server: they are kept in $self.
    $self->{closures} = [
        $ffi->closure(sub {
            my (undef, undef, $id, $req) = @_;
            my ($p, $n);
            my $path = websock_request_path($req, \$p, \$n) == OK ? buffer_to_scalar($p, $n) : '';
            $args{on_open}->($self, $id, $path) if $args{on_open};
        }),
        $ffi->closure(sub {
            my (undef, undef, $id, $data, $len, $is_text) = @_;
            $args{on_message}->($self, $id, buffer_to_scalar($data, $len), $is_text) if $args{on_message};
        }),
        $ffi->closure(sub {
            my (undef, undef, $id, $code, $reason, $len) = @_;
            $args{on_close}->($self, $id, $code, buffer_to_scalar($reason, $len)) if $args{on_close};
        }),
        $ffi->closure(sub { $self->{finished} = 1 }),
    ];
    my ($open, $msg, $close, $shut) = @{ $self->{closures} };
    # struct websock_callbacks: on_upgrade, on_open, on_message, on_drain, on_close, on_shutdown
    my $cbs = pack('Q6', 0,
        $ffi->cast(open_cb => 'opaque', $open), $ffi->cast(message_cb => 'opaque', $msg), 0,
        $ffi->cast(close_cb => 'opaque', $close), $ffi->cast(shutdown_cb => 'opaque', $shut));
    my $srv;
    my $rc = websock_server_new($opts, $cbs, undef, undef, \$srv);
    websock_options_free($opts);
    _check($rc, 'websock_server_new');
    $self->{srv} = $srv;
    return $self;
}

sub port {
    my ($self) = @_;
    my $port;
    _check(websock_server_local_port($self->{srv}, \$port), 'local_port');
    return $port;
}

sub send {
    my ($self, $id, $data, $is_text) = @_;
    return websock_send($self->{srv}, $id, $data, length($data), $is_text ? 1 : 0);
}
sub send_text_by_tag { my ($self, $tag, $text) = @_; websock_send_text_by_tag($self->{srv}, $tag, $text) }
sub tag   { my ($self, $id, $tag) = @_; websock_tag($self->{srv}, $id, $tag) }
sub close { my ($self, $id, $code, $reason) = @_; websock_close($self->{srv}, $id, $code, $reason) }
sub stop  { my ($self, $ms) = @_; websock_server_stop($self->{srv}, $ms // 1000) }

# The pump: wait for the event fd with IO::Select, dispatch a batch, repeat until the
# server has shut down. `$tick` (optional) runs between waits (e.g. to check a flag).
sub run {
    my ($self, $tick) = @_;
    my $fd;
    _check(websock_server_event_fd($self->{srv}, \$fd), 'event_fd');
    # A duplicate of the server's descriptor: readiness is shared, and closing the
    # duplicate when $fh goes away leaves the server's own descriptor alone.
    open(my $fh, '<&', $fd) or die "dup $fd: $!\n";
    my $sel = IO::Select->new($fh);
    until ($self->{finished}) {
        $sel->can_read(0.2);
        my $n;
        _check(websock_server_dispatch($self->{srv}, 256, \$n), 'dispatch');
        $tick->($self) if $tick;
    }
    return;
}

sub DESTROY {
    my ($self) = @_;
    websock_server_free($self->{srv}) if $self->{srv};
    $self->{srv} = undef;
}

1;
