// Options: where to listen and how the server behaves. Plain data with the library's
// defaults for every zero value, so websock.Options{Addr: ":8080"} is a complete config.

package websock

import (
	"log"
	"net"
	"time"
)

// Options configures a server. The zero value of every field means "library default".
type Options struct {
	// Where to listen: set exactly one of Addr, Listener, FD. With none set the server
	// listens on 127.0.0.1:8080. Addr is "host:port" ("127.0.0.1:0" picks a free port;
	// see Server.Addr).
	Addr string
	// Listener serves on a TCP listener the application already bound. The server
	// takes a duplicate of its descriptor; the application may close its own copy.
	Listener net.Listener
	// FD serves on a raw listening socket descriptor, which the server then owns and
	// closes. Zero means unset (use Listener for a socket on descriptor 0).
	FD int

	// TLS serves wss:// when set.
	TLS *TLSConfig

	// Origins allowed in the Origin header: exact ("https://app.example") or with a
	// wildcard ("https://*.example.com", "*"). Empty allows every origin. A request
	// whose Origin is not allowed gets HTTP 403 before the upgrade; requests without
	// an Origin header (non-browser clients) are allowed.
	Origins []string
	// Subprotocols the server speaks, in preference order.
	Subprotocols []string
	// KeepHeaders names request headers (case-insensitive, e.g. "Cookie") that stay
	// available through Conn.Request() after the upgrade; "*" keeps all of them.
	// CheckUpgrade always sees every header.
	KeepHeaders []string
	// TrustedProxies are proxy IPs whose X-Forwarded-For / X-Real-IP is believed for
	// Request.ClientIP.
	TrustedProxies []string

	// CheckUpgrade, when set, decides every upgrade request that passed the protocol,
	// origin and subprotocol checks, before the 101 is sent. Return (nil, nil) to
	// accept; an *Accept to accept with response headers (Set-Cookie), a subprotocol of
	// your choice or a Value for the connection; a *RejectError (or Reject(status)) to
	// answer with that HTTP status, headers and body; any other error answers 403.
	// r has every request header (cookies, tokens).
	//
	// Each call runs on a goroutine of its own while the request waits, so a slow check
	// (a database, an auth service) delays only that upgrade, never the events of other
	// connections; calls may run concurrently with each other and with the handler.
	// HandshakeTimeout bounds the wait: a later answer finds the connection gone. A
	// panic is logged and answered with 500.
	CheckUpgrade func(r *Request) (*Accept, error)

	// Compression enables permessage-deflate (RFC 7692) when the client offers it
	// (browsers do); nil declines every offer. See Compression for the memory each
	// mode costs.
	Compression *Compression

	// Loops is the number of event loops. 0 or 1 (the default): one loop, driven by
	// the goroutine running Serve, which waits for the loop's descriptor (poll(2) in a
	// cgo call) and then reads, runs the handlers and writes in one pass (no thread
	// hand-off per message). More than 1: that many loop threads (as with Threaded),
	// whose events Serve's goroutine pulls in batches; handlers still run one at a time
	// on Serve's goroutine, but parsing, writing and by-tag fan-out run in parallel.
	Loops int
	// Threaded runs the event loop(s) on threads of their own even with one loop
	// (implied when Loops > 1). A server that is not threaded accepts TCP connections
	// into the backlog before Serve runs but answers their handshakes only once Serve
	// (or Shutdown) turns the loop.
	Threaded bool
	// Backlog of the listening socket when the server binds it (0 = 1024).
	Backlog int
	// ReusePort sets SO_REUSEPORT so several processes can serve one port.
	ReusePort bool

	// Limits: MaxMessageSize is the largest message after joining fragments,
	// MaxFrameSize the largest single frame (both 0 = 64 MiB; over them the connection
	// is closed with 1009). MaxRequestHead limits the HTTP request head (0 = 8 KiB).
	MaxMessageSize int
	MaxFrameSize   int
	MaxRequestHead int
	// HandshakeTimeout bounds the whole handshake including CheckUpgrade (0 = 10 s);
	// CloseTimeout is how long to wait for the peer's close frame after ours (0 = 5 s).
	HandshakeTimeout time.Duration
	CloseTimeout     time.Duration

	// Keepalive: a ping after PingInterval of silence (0 = 30 s), and a close after
	// IdleTimeout without traffic from the peer (0 = 120 s). Negative turns either off.
	PingInterval time.Duration
	IdleTimeout  time.Duration

	// Backpressure: a connection may queue at most MaxBuffered bytes (0 = 64 MiB);
	// past it SlowConsumer applies. Watch Conn.BufferedAmount while producing fast, and
	// resume when OnDrain reports the queue fell back to DrainThreshold (0 = 64 KiB).
	MaxBuffered    int
	DrainThreshold int
	// SlowConsumer: what happens to a connection over MaxBuffered. The zero value
	// closes it with 1008.
	SlowConsumer SlowConsumerPolicy

	// ErrorLog receives handler panics (recovered; the connection is closed with 1011)
	// and CheckUpgrade panics (answered 500). Nil logs through the log package.
	ErrorLog *log.Logger

	// ShutdownTimeout is the grace period when Serve's context is canceled (0 = 5 s);
	// Shutdown takes its deadline from its own context.
	ShutdownTimeout time.Duration
}

// TLSConfig holds a PEM certificate chain (leaf first) and private key, either as
// files or in memory.
type TLSConfig struct {
	CertFile, KeyFile string
	CertPEM, KeyPEM   []byte
}

// SlowConsumerPolicy says what to do with a connection whose outbound queue would
// pass Options.MaxBuffered.
type SlowConsumerPolicy struct {
	// DropNewest drops the message that does not fit and keeps the connection.
	DropNewest bool
	// CloseCode closes the connection with this code when DropNewest is false
	// (0 = 1008, policy violation).
	CloseCode int
}

// CompressionMode selects how permessage-deflate keeps its compression window.
type CompressionMode int

const (
	// CompressionShared (the zero value): no window is kept between messages (the
	// answer carries server_no_context_takeover and client_no_context_takeover). An
	// idle connection holds no compression memory; each event loop keeps one compressor
	// per window size in use (~270 KB) and one decompressor (~45 KB), and a SendByTag or
	// Broadcast is compressed once for all receivers.
	CompressionShared CompressionMode = iota
	// CompressionDedicated: each connection keeps its context between messages with a
	// window of 2^WindowBits bytes: better ratios for streams of similar messages, at up
	// to 2 × 2^WindowBits bytes per connection. Past MaxDedicated connections
	// (server-wide) new ones are negotiated as shared.
	CompressionDedicated
	// CompressionDisabled declines every offer, like a nil Options.Compression.
	CompressionDisabled
)

func (m CompressionMode) String() string {
	switch m {
	case CompressionShared:
		return "shared"
	case CompressionDedicated:
		return "dedicated"
	case CompressionDisabled:
		return "disabled"
	}
	return "unknown"
}

// Compression holds the permessage-deflate settings (the same as the C API's
// websock_options_set_compression* and Python's websock.Compression):
//
//	Options{Compression: &websock.Compression{Mode: websock.CompressionDedicated,
//		WindowBits: 12, Threshold: 1024, Level: 1, MaxDedicated: 10000}}
//
// Zero values keep the library defaults.
type Compression struct {
	Mode CompressionMode
	// WindowBits (9..15) sizes the dedicated window; required with
	// CompressionDedicated, ignored otherwise.
	WindowBits int
	// Threshold: messages shorter than this many bytes go uncompressed (0 = 1024;
	// negative compresses every message).
	Threshold int
	// Level is the compression level on zlib's scale, 1 (fastest) to 9
	// (smallest); 0 = 1. For 4 KiB of JSON level 1 takes ~6 µs and leaves 28 %
	// of the bytes, level 6 ~24 µs and 16 %.
	Level int
	// MaxDedicated caps the connections holding a dedicated context at once (0 =
	// 10000; negative = none, every connection shared).
	MaxDedicated int
}

// driven reports whether Serve's goroutine turns the (one) event loop itself.
func (o *Options) driven() bool { return !o.Threaded && o.Loops <= 1 }
