//! # websock
//!
//! A lean RFC 6455 WebSocket server: a pool of event loops (one thread each, mio
//! readiness, slab-stored connection slots), tags with send-by-tag that encodes a frame
//! once for every receiver, sends and closes that are safe from any thread, keepalive,
//! backpressure, TLS through rustls, graceful shutdown.
//!
//! ```no_run
//! use websock::{Conn, Handler, Message, Server};
//!
//! struct Echo;
//! impl Handler for Echo {
//!     fn on_message(&self, conn: &mut Conn<'_>, msg: Message<'_>) {
//!         conn.send(msg);
//!     }
//! }
//!
//! let server = Server::builder().listen("127.0.0.1:9001").start(Echo).unwrap();
//! server.wait();
//! ```
//!
//! Threading: handlers run on loop threads; a [`Server`] handle works from any thread.
//! Every `on_open` is followed by exactly one `on_close`.

mod conn;
mod deflate;
mod driven;
mod conn_ctx;
mod error;
mod event_loop;
mod frame;
mod handler;
mod handshake;
mod id;
mod options;
mod outbound;
mod request;
mod server;
mod slot_table;
mod stats;
mod tags;
mod tls;
mod utf8;
pub mod events;

pub use conn_ctx::Conn;
pub use deflate::{Compression, CompressionMode};
pub use driven::Turn;
pub use error::{Error, Result};
pub use handler::{Accept, CloseInfo, CloseKind, Handler, HttpResponse, Message, SendStatus, Upgrade};
pub use id::ConnId;
pub use options::{Backpressure, Bind, KeepHeaders, Keepalive, Limits, Options, SlowConsumerPolicy};
pub use request::Request;
pub use server::{Builder, Server};
pub use stats::{LoopStats, Stats};
pub use tls::TlsConfig;
