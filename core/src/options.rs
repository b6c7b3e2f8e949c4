//! Server options: where to listen, how many loops, limits, keepalive, backpressure,
//! origin and subprotocol policy, TLS. Plain data with defaults that suit a public
//! server; every binding fills the same struct.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::RawFd;
use std::time::Duration;

use crate::tls::TlsConfig;

/// Where the server gets its listening socket.
#[derive(Debug)]
pub enum Bind {
    /// Bind and listen on this address (IPv4 or IPv6, e.g. `"127.0.0.1:8080"`, `"[::1]:0"`).
    Addr(String),
    /// Adopt a listener the application already bound (it is set non-blocking).
    Listener(TcpListener),
    /// Adopt a raw listening socket descriptor; the server owns and closes it from now on.
    Fd(RawFd),
}

/// Which request headers stay on the connection after the upgrade.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KeepHeaders {
    /// None (the default): the upgrade hook still sees all of them.
    #[default]
    None,
    /// Every header of the upgrade request.
    All,
    /// Only these (case-insensitive names such as `cookie`, `authorization`).
    Names(Vec<String>),
}

/// What to do when a connection's outbound queue would exceed [`Backpressure::max_buffered`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowConsumerPolicy {
    /// Close the connection with this code (the queued data is discarded). Default: 1008.
    Close(u16),
    /// Drop the message that does not fit (counted in stats as a drop); keep the connection.
    DropNewest,
}

/// Outbound flow control per connection.
#[derive(Debug, Clone)]
pub struct Backpressure {
    /// Most bytes a connection may have queued for sending; beyond it `policy` applies.
    pub max_buffered: usize,
    /// Sends report [`crate::SendStatus::Backpressure`] while more than this is queued, and
    /// the `drain` event fires once the queue falls back to it or below.
    pub drain_threshold: usize,
    pub policy: SlowConsumerPolicy,
}

impl Default for Backpressure {
    fn default() -> Self {
        Backpressure {
            max_buffered: 64 << 20,
            drain_threshold: 64 << 10,
            policy: SlowConsumerPolicy::Close(1008),
        }
    }
}

/// Size and time limits. A frame or message over its limit is closed with 1009; a request
/// head over `max_request_head` is answered 431; a handshake slower than
/// `handshake_timeout` is cut off.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_message_size: usize,
    pub max_frame_size: usize,
    pub max_request_head: usize,
    pub handshake_timeout: Duration,
    /// How long to wait for the peer's close frame after ours before dropping the socket.
    pub close_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 64 << 20,
            max_frame_size: 64 << 20,
            max_request_head: 8 << 10,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// Keepalive: a ping after `ping_interval` of silence, and a close after `idle_timeout`
/// without any traffic from the peer (a pong counts). `None` turns either off.
#[derive(Debug, Clone)]
pub struct Keepalive {
    pub ping_interval: Option<Duration>,
    pub idle_timeout: Option<Duration>,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            ping_interval: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(120)),
        }
    }
}

/// Everything a server is configured with. Start from `Options::default()` (or
/// [`crate::Server::builder`]) and change what you need.
#[derive(Debug)]
#[non_exhaustive]
pub struct Options {
    pub bind: Bind,
    /// Event loops (threads). 0 means one per CPU this process may run on (one when `driven`).
    pub loops: usize,
    /// No loop threads: the application turns each loop from a thread of its own with
    /// [`crate::Server::turn`] when [`crate::Server::loop_fd`] is readable, so handlers run
    /// on that thread without a hand-off (what the Node and Go bindings do).
    pub driven: bool,
    /// Listen backlog when the server binds the socket itself.
    pub backlog: i32,
    /// Set `SO_REUSEPORT` so several processes can serve one port.
    pub reuse_port: bool,
    pub tls: Option<TlsConfig>,
    /// Allowed `Origin` values: exact (`https://app.example`) or with a wildcard
    /// (`https://*.example.com`, `*`). Empty: every origin is allowed. A request that has an
    /// `Origin` header outside the list gets 403 before the upgrade; one without the header
    /// (non-browser clients) is allowed.
    pub origins: Vec<String>,
    /// Subprotocols the server speaks, in preference order.
    pub subprotocols: Vec<String>,
    pub keep_headers: KeepHeaders,
    /// Proxies whose `X-Forwarded-For` / `X-Real-IP` headers are believed for
    /// [`crate::Request::client_ip`].
    pub trusted_proxies: Vec<IpAddr>,
    pub limits: Limits,
    pub keepalive: Keepalive,
    pub backpressure: Backpressure,
    /// permessage-deflate (RFC 7692); disabled by default. See [`crate::CompressionMode`]
    /// for the memory each mode costs.
    pub compression: crate::Compression,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bind: Bind::Addr("127.0.0.1:8080".into()),
            loops: 0,
            driven: false,
            backlog: 1024,
            reuse_port: false,
            tls: None,
            origins: Vec::new(),
            subprotocols: Vec::new(),
            keep_headers: KeepHeaders::None,
            trusted_proxies: Vec::new(),
            limits: Limits::default(),
            keepalive: Keepalive::default(),
            backpressure: Backpressure::default(),
            compression: crate::Compression::default(),
        }
    }
}

impl Options {
    pub(crate) fn loop_count(&self) -> usize {
        if self.loops > 0 {
            return self.loops.min(255);
        }
        if self.driven {
            return 1; // one loop per driving thread is the caller's choice, not the CPU count
        }
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(255)
    }

    pub(crate) fn validate(&self) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::Error::InvalidArgument(m.to_string()));
        if self.limits.max_frame_size == 0 || self.limits.max_message_size == 0 {
            return bad("max_frame_size and max_message_size must be positive");
        }
        if self.limits.max_request_head < 256 {
            return bad("max_request_head must be at least 256 bytes");
        }
        if self.backpressure.drain_threshold > self.backpressure.max_buffered {
            return bad("drain_threshold must not exceed max_buffered");
        }
        if let SlowConsumerPolicy::Close(code) = self.backpressure.policy {
            if !crate::frame::is_sendable_close_code(code) {
                return bad("slow-consumer close code must be 1000-1003, 1007-1014 or 3000-4999");
            }
        }
        self.compression.validate().map_err(|m| crate::Error::InvalidArgument(m.into()))?;
        for p in &self.subprotocols {
            if p.is_empty() || !p.bytes().all(crate::handshake::is_token_byte) {
                return bad("subprotocol names must be non-empty HTTP tokens");
            }
        }
        Ok(())
    }
}

/// The local address a `Bind::Addr` string resolves to.
pub(crate) fn resolve(addr: &str) -> crate::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| crate::Error::InvalidArgument(format!("address {addr:?} resolves to nothing")))
}
