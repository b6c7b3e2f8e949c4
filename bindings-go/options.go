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
	// origin and subprotocol checks, before the 101 is sent: return nil to accept,
	// Reject(status) to answer with that HTTP status (400-599), or any other error for
	// 403. r has every request header (cookies, tokens). It runs on the Serve goroutine
	// between events, so keep it quick; the handshake timeout keeps running meanwhile.
	CheckUpgrade func(r *Request) error

	// Loops is the number of event-loop threads; 0 = one per CPU.
	Loops int
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
