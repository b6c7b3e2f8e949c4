//! The application's side of the server: the `Handler` trait with its events, and the
//! small value types they carry. Handlers run on the event-loop threads, so they must be
//! quick; anything slow belongs on another thread, which can still send through the
//! `Server` handle.

use std::any::Any;

use crate::conn_ctx::Conn;
use crate::id::ConnId;
use crate::request::Request;

/// One complete message (fragments are joined before delivery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

impl<'a> Message<'a> {
    pub fn as_bytes(&self) -> &'a [u8] {
        match *self {
            Message::Text(s) => s.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }
}

/// Why a connection ended. Every `open` is followed by exactly one `close` that carries one
/// of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseKind {
    /// The peer sent a close frame (its code is in [`CloseInfo::code`], 1005 when it gave none).
    Peer,
    /// The application closed it (`close`, `close_by_tag`).
    Local,
    /// The TCP connection ended without a closing handshake (EOF, reset): code 1006.
    Abnormal,
    /// No traffic within the idle timeout (a vanished or half-open peer): code 1006.
    Timeout,
    /// The peer broke the protocol; we closed with 1002, 1007 or 1009.
    ProtocolError,
    /// Its outbound queue passed the backpressure limit under the `Close` policy.
    SlowConsumer,
    /// The server shut down: code 1001.
    Shutdown,
}

impl CloseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseKind::Peer => "peer",
            CloseKind::Local => "local",
            CloseKind::Abnormal => "abnormal",
            CloseKind::Timeout => "timeout",
            CloseKind::ProtocolError => "protocol_error",
            CloseKind::SlowConsumer => "slow_consumer",
            CloseKind::Shutdown => "shutdown",
        }
    }
}

/// What the `close` event reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    pub code: u16,
    pub reason: String,
    pub kind: CloseKind,
}

/// A plain HTTP response: a rejected upgrade, or the answer of [`Handler::on_http`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse { status, headers: Vec::new(), body: body.into() }
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> HttpResponse {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The answer to an upgrade request that passed the protocol checks.
#[derive(Default)]
pub struct Accept {
    /// Override the negotiated subprotocol (must be one the client offered; ignored otherwise).
    pub subprotocol: Option<String>,
    /// Extra response headers (e.g. `Set-Cookie`).
    pub headers: Vec<(String, String)>,
    /// Attached to the connection; reachable through [`Conn::user_data`].
    pub user_data: Option<Box<dyn Any + Send>>,
}

impl std::fmt::Debug for Accept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accept")
            .field("subprotocol", &self.subprotocol)
            .field("headers", &self.headers)
            .field("user_data", &self.user_data.is_some())
            .finish()
    }
}

/// The decision of [`Handler::on_upgrade`].
#[derive(Debug)]
pub enum Upgrade {
    Accept(Accept),
    /// Answer with this response instead of upgrading (e.g. 401, 403).
    Reject(HttpResponse),
    /// Decide later, from any thread, with [`crate::Server::accept_upgrade`] or
    /// [`crate::Server::reject_upgrade`] (bindings whose hooks run elsewhere use this).
    /// The handshake timeout keeps running meanwhile.
    Defer,
}

impl Upgrade {
    pub fn accept() -> Upgrade {
        Upgrade::Accept(Accept::default())
    }

    pub fn reject(status: u16, body: impl Into<Vec<u8>>) -> Upgrade {
        Upgrade::Reject(HttpResponse::new(status, body))
    }
}

/// What a send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Written or queued; the queue is below the drain threshold.
    Queued,
    /// Queued, but the queue is above the drain threshold: wait for `drain` before sending more.
    Backpressure,
    /// Not queued: the connection is over its limit and the policy drops (or it is closing).
    Dropped,
}

/// The application's event handler. Every method has a default, so implement only what
/// you need. Methods run on the loop thread that owns the connection; a slow method delays
/// every connection of that loop.
pub trait Handler: Send + Sync + 'static {
    /// A valid WebSocket upgrade request arrived (origin and protocol checks passed).
    fn on_upgrade(&self, _id: ConnId, _request: &Request) -> Upgrade {
        Upgrade::accept()
    }

    /// A request that is not a WebSocket upgrade. The default answers 426.
    fn on_http(&self, _request: &Request) -> HttpResponse {
        HttpResponse::new(426, "this is a WebSocket endpoint\n")
            .header("Sec-WebSocket-Version", "13")
            .header("Upgrade", "websocket")
    }

    /// The connection is open; it may be sent to and tagged from now on.
    fn on_open(&self, _conn: &mut Conn<'_>) {}

    /// A whole message arrived. The data is borrowed only for this call.
    fn on_message(&self, _conn: &mut Conn<'_>, _message: Message<'_>) {}

    /// The outbound queue fell back to the drain threshold after a send reported
    /// [`SendStatus::Backpressure`].
    fn on_drain(&self, _conn: &mut Conn<'_>) {}

    /// The connection ended; sends on it now fail. Called exactly once per `on_open`.
    fn on_close(&self, _conn: &mut Conn<'_>, _info: &CloseInfo) {}

    /// A loop finished one turn (it is about to wait for the network). Called on each loop
    /// thread after the events of the turn; handlers that batch work (the event queue of
    /// the bindings) hand it over here.
    fn on_turn_end(&self) {}

    /// The server has shut down: every loop has ended and every close event was delivered.
    /// Called once, on the thread of the last loop to end.
    fn on_shutdown(&self) {}
}

/// A shared handler is a handler: keep an `Arc` to read its state from other threads.
impl<H: Handler> Handler for std::sync::Arc<H> {
    fn on_upgrade(&self, id: ConnId, request: &Request) -> Upgrade {
        (**self).on_upgrade(id, request)
    }
    fn on_http(&self, request: &Request) -> HttpResponse {
        (**self).on_http(request)
    }
    fn on_open(&self, conn: &mut Conn<'_>) {
        (**self).on_open(conn)
    }
    fn on_message(&self, conn: &mut Conn<'_>, message: Message<'_>) {
        (**self).on_message(conn, message)
    }
    fn on_drain(&self, conn: &mut Conn<'_>) {
        (**self).on_drain(conn)
    }
    fn on_close(&self, conn: &mut Conn<'_>, info: &CloseInfo) {
        (**self).on_close(conn, info)
    }
    fn on_turn_end(&self) {
        (**self).on_turn_end()
    }
    fn on_shutdown(&self) {
        (**self).on_shutdown()
    }
}
