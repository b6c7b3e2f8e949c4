//! The pull model for bindings: a [`Handler`] that turns events into a queue, and a
//! descriptor that becomes readable while the queue holds events. Python, Node, Go, C and
//! Perl drain it in batches on a thread their runtime owns, so foreign code never runs on
//! a loop thread and one crossing carries many events.
//!
//! Readiness protocol: the descriptor (one end of a socket pair) holds one byte while the
//! queue is non-empty. `drain` takes events and, when it leaves the queue empty, reads
//! the byte back. Poll it for readability (asyncio `add_reader`, libuv, epoll), or block
//! in [`EventQueue::wait`].

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::conn_ctx::Conn;
use crate::handler::{CloseInfo, CloseKind, Handler, Message, Upgrade};
use crate::id::ConnId;
use crate::request::Request;

/// One event, owned (it outlives the loop's buffers).
#[derive(Debug, Clone)]
pub enum Event {
    /// Only when the queue was made with an upgrade hook: decide with
    /// [`crate::Server::accept_upgrade`] / [`crate::Server::reject_upgrade`].
    Upgrade { id: ConnId, request: Arc<Request> },
    Open { id: ConnId, request: Arc<Request> },
    Message { id: ConnId, data: Vec<u8>, text: bool },
    Drain { id: ConnId },
    Close { id: ConnId, code: u16, reason: String, kind: CloseKind },
    /// The server has shut down; no event follows.
    Shutdown,
}

struct Inner {
    events: VecDeque<Event>,
    signalled: bool,
    finished: bool,
}

/// A queue of events with a readiness descriptor.
pub struct EventQueue {
    inner: Mutex<Inner>,
    cond: Condvar,
    /// `reader` is what callers poll; `writer` is written when the queue becomes non-empty.
    reader: UnixStream,
    writer: UnixStream,
    upgrade_hook: bool,
}

impl EventQueue {
    /// `upgrade_hook`: defer every upgrade to the queue's consumer (an `Upgrade` event).
    pub fn new(upgrade_hook: bool) -> std::io::Result<Arc<EventQueue>> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        Ok(Arc::new(EventQueue {
            inner: Mutex::new(Inner { events: VecDeque::new(), signalled: false, finished: false }),
            cond: Condvar::new(),
            reader,
            writer,
            upgrade_hook,
        }))
    }

    /// The handler to start a server with.
    pub fn handler(self: &Arc<Self>) -> QueueHandler {
        QueueHandler { queue: self.clone() }
    }

    /// Readable while events are queued. Owned by the queue: do not close it.
    pub fn fd(&self) -> RawFd {
        self.reader.as_raw_fd()
    }

    fn push(&self, ev: Event) {
        let mut g = self.inner.lock().unwrap();
        if matches!(ev, Event::Shutdown) {
            g.finished = true;
        }
        g.events.push_back(ev);
        if !g.signalled {
            g.signalled = true;
            let _ = (&self.writer).write(&[1]);
        }
        drop(g);
        self.cond.notify_one();
    }

    /// Moves up to `max` queued events into `out`; returns how many. Never blocks.
    pub fn drain(&self, max: usize, out: &mut Vec<Event>) -> usize {
        let mut g = self.inner.lock().unwrap();
        let n = g.events.len().min(max);
        out.extend(g.events.drain(..n));
        if g.events.is_empty() && g.signalled {
            g.signalled = false;
            let mut b = [0u8; 8];
            let _ = (&self.reader).read(&mut b);
        }
        n
    }

    /// Blocks until an event is queued (true) or `timeout` passes (false).
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let end = timeout.map(|t| Instant::now() + t);
        let mut g = self.inner.lock().unwrap();
        while g.events.is_empty() {
            match end {
                None => g = self.cond.wait(g).unwrap(),
                Some(end) => {
                    let now = Instant::now();
                    if now >= end {
                        return false;
                    }
                    g = self.cond.wait_timeout(g, end - now).unwrap().0;
                }
            }
        }
        true
    }

    /// Has the `Shutdown` event been queued?
    pub fn is_finished(&self) -> bool {
        self.inner.lock().unwrap().finished
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The [`Handler`] that feeds an [`EventQueue`].
pub struct QueueHandler {
    queue: Arc<EventQueue>,
}

impl Handler for QueueHandler {
    fn on_upgrade(&self, id: ConnId, request: &Request) -> Upgrade {
        if !self.queue.upgrade_hook {
            return Upgrade::accept();
        }
        self.queue.push(Event::Upgrade { id, request: Arc::new(request.clone()) });
        Upgrade::Defer
    }

    fn on_open(&self, conn: &mut Conn<'_>) {
        let request = conn.request_arc().expect("open connections have a request");
        self.queue.push(Event::Open { id: conn.id(), request });
    }

    fn on_message(&self, conn: &mut Conn<'_>, message: Message<'_>) {
        let text = message.is_text();
        self.queue.push(Event::Message { id: conn.id(), data: message.as_bytes().to_vec(), text });
    }

    fn on_drain(&self, conn: &mut Conn<'_>) {
        self.queue.push(Event::Drain { id: conn.id() });
    }

    fn on_close(&self, conn: &mut Conn<'_>, info: &CloseInfo) {
        self.queue.push(Event::Close { id: conn.id(), code: info.code, reason: info.reason.clone(), kind: info.kind });
    }

    fn on_shutdown(&self) {
        self.queue.push(Event::Shutdown);
    }
}
