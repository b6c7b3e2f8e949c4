//! `Conn`: the view of one connection that handlers receive. It writes straight into
//! the connection's queue (or the loop's cork buffer), so sends made inside a handler cost
//! no lock and leave in the same syscall as the loop's other writes for that connection.

use std::any::Any;
use std::sync::Arc;

use crate::conn::{Connection, State};
use crate::error::{Error, Result};
use crate::event_loop::LoopIo;
use crate::frame;
use crate::handler::{CloseKind, Message, SendStatus};
use crate::id::ConnId;
use crate::request::Request;
use crate::server::Server;

/// One connection, borrowed for the duration of a handler call.
pub struct Conn<'a> {
    pub(crate) id: ConnId,
    pub(crate) c: &'a mut Connection,
    pub(crate) io: &'a mut LoopIo,
}

impl Conn<'_> {
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The server, to reach other connections or tags.
    pub fn server(&self) -> &Server {
        &self.io.server
    }

    /// Is the connection open for sending (not closing or closed)?
    pub fn is_open(&self) -> bool {
        self.c.state == State::Open
    }

    pub fn send_text(&mut self, text: &str) -> SendStatus {
        self.io.send_frame(self.id, self.c, frame::OP_TEXT, text.as_bytes())
    }

    pub fn send_binary(&mut self, data: &[u8]) -> SendStatus {
        self.io.send_frame(self.id, self.c, frame::OP_BINARY, data)
    }

    pub fn send(&mut self, msg: Message<'_>) -> SendStatus {
        let op = if msg.is_text() { frame::OP_TEXT } else { frame::OP_BINARY };
        self.io.send_frame(self.id, self.c, op, msg.as_bytes())
    }

    /// Sends a ping; the payload is cut to 125 bytes.
    pub fn ping(&mut self, payload: &[u8]) -> SendStatus {
        self.io.send_frame(self.id, self.c, frame::OP_PING, &payload[..payload.len().min(125)])
    }

    /// Starts the closing handshake.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<()> {
        crate::server::check_close_code(code)?;
        if self.c.state != State::Open {
            return Err(Error::UnknownConnection);
        }
        self.io.start_close(self.id, self.c, code, reason, CloseKind::Local);
        Ok(())
    }

    /// Adds a tag (see [`Server::tag`]).
    pub fn tag(&mut self, tag: &str) -> Result<bool> {
        self.io.server.tag(self.id, tag)
    }

    pub fn untag(&mut self, tag: &str) -> Result<bool> {
        self.io.server.untag(self.id, tag)
    }

    pub fn tags(&self) -> Vec<String> {
        self.io.server.tags(self.id).unwrap_or_default()
    }

    /// Bytes queued and not yet written.
    pub fn buffered_amount(&self) -> usize {
        self.c.buffered() + if self.io.corked == Some(self.id.slot()) { self.io.cork.len() } else { 0 }
    }

    /// The upgrade request (kept headers only).
    pub fn request(&self) -> Option<&Request> {
        self.c.request.as_deref()
    }

    /// The upgrade request as a shared handle (bindings hand it to other threads).
    pub fn request_arc(&self) -> Option<Arc<Request>> {
        self.c.request.clone()
    }

    /// Was permessage-deflate negotiated for this connection?
    pub fn permessage_deflate(&self) -> bool {
        self.c.deflate.is_some()
    }

    pub fn subprotocol(&self) -> Option<&str> {
        self.c.request.as_deref().and_then(Request::subprotocol)
    }

    pub fn remote_addr(&self) -> Option<std::net::SocketAddr> {
        self.c.request.as_deref().map(Request::remote_addr)
    }

    pub fn user_data(&self) -> Option<&(dyn Any + Send)> {
        self.c.user_data.as_deref()
    }

    pub fn user_data_mut(&mut self) -> Option<&mut (dyn Any + Send)> {
        self.c.user_data.as_deref_mut()
    }

    pub fn set_user_data(&mut self, data: Option<Box<dyn Any + Send>>) -> Option<Box<dyn Any + Send>> {
        std::mem::replace(&mut self.c.user_data, data)
    }
}
