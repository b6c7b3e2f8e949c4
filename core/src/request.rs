//! What the application learns about the upgrade request: path, query, headers,
//! negotiated subprotocol, peer address. The upgrade hook sees every header; the
//! connection keeps only those named by `Options::keep_headers` for its lifetime.

use std::net::{IpAddr, SocketAddr};

/// The HTTP request that opened (or tried to open) a connection.
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) method: Box<str>,
    /// `path?query` as sent.
    pub(crate) target: Box<str>,
    pub(crate) path_len: usize,
    /// Header names are lower-case; values are as sent (trimmed), in request order.
    pub(crate) headers: Vec<(Box<str>, Box<str>)>,
    pub(crate) subprotocol: Option<Box<str>>,
    /// The `Sec-WebSocket-Extensions` value of our 101 answer, if any.
    pub(crate) extensions: Option<Box<str>>,
    pub(crate) remote_addr: SocketAddr,
    pub(crate) client_ip: IpAddr,
}

impl Request {
    /// The method (`GET` for every upgrade; any method reaches the HTTP handler).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, e.g. `/chat/room1` (not decoded).
    pub fn path(&self) -> &str {
        &self.target[..self.path_len]
    }

    /// The query without the `?`, or `""` when there is none (not decoded).
    pub fn query(&self) -> &str {
        self.target.get(self.path_len + 1..).unwrap_or("")
    }

    /// The request target as sent: path plus `?query`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &**v)
    }

    /// All headers available: every one in the upgrade hook, the kept ones afterwards.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (&**n, &**v))
    }

    /// The value of one cookie from the `Cookie` header(s).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| &**n == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The subprotocol chosen for the connection, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The extensions the server agreed to (the `Sec-WebSocket-Extensions` value of its 101
    /// answer, e.g. `permessage-deflate; server_no_context_takeover`), if any.
    pub fn extensions(&self) -> Option<&str> {
        self.extensions.as_deref()
    }

    /// Was permessage-deflate negotiated for this connection?
    pub fn permessage_deflate(&self) -> bool {
        self.extensions.as_deref().is_some_and(|e| e.starts_with("permessage-deflate"))
    }

    /// The subprotocols the client offered, in its order.
    pub fn offered_subprotocols(&self) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(|(n, _)| &**n == "sec-websocket-protocol")
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// The TCP peer address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// The client's address: the peer, or what a trusted proxy says it forwarded for.
    pub fn client_ip(&self) -> IpAddr {
        self.client_ip
    }
}
