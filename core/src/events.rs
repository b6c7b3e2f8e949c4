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
    /// Threads blocked in `wait` (the condition variable is notified only for them).
    waiters: usize,
}

/// A queue of events with a readiness descriptor.
pub struct EventQueue {
    inner: Mutex<Inner>,
    cond: Condvar,
    /// `reader` is what callers poll; `writer` is written when the queue becomes non-empty.
    reader: UnixStream,
    writer: UnixStream,
    upgrade_hook: bool,
    /// Write the readiness byte (false for a queue drained right after each driven turn).
    signal: bool,
}

impl EventQueue {
    /// `upgrade_hook`: defer every upgrade to the queue's consumer (an `Upgrade` event).
    pub fn new(upgrade_hook: bool) -> std::io::Result<Arc<EventQueue>> {
        Self::make(upgrade_hook, true)
    }

    /// A queue for a driven server ([`crate::Server::turn`]): its events are produced
    /// during `turn` on the consumer's own thread, which drains them right after, so the
    /// readiness descriptor is never written (two syscalls per turn saved); poll the
    /// loop's descriptor instead. [`EventQueue::wait`] still works.
    pub fn for_driven(upgrade_hook: bool) -> std::io::Result<Arc<EventQueue>> {
        Self::make(upgrade_hook, false)
    }

    fn make(upgrade_hook: bool, signal: bool) -> std::io::Result<Arc<EventQueue>> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        Ok(Arc::new(EventQueue {
            inner: Mutex::new(Inner { events: VecDeque::new(), signalled: false, finished: false, waiters: 0 }),
            cond: Condvar::new(),
            reader,
            writer,
            upgrade_hook,
            signal,
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
        self.push_all(std::iter::once(ev));
    }

    /// Queues a batch with one lock and at most one wake-up.
    fn push_all(&self, evs: impl IntoIterator<Item = Event>) {
        let mut g = self.inner.lock().unwrap();
        let was_empty = g.events.is_empty();
        for ev in evs {
            if matches!(ev, Event::Shutdown) {
                g.finished = true;
            }
            g.events.push_back(ev);
        }
        if g.events.is_empty() {
            return;
        }
        if !g.signalled && self.signal {
            g.signalled = true;
            let _ = (&self.writer).write(&[1]);
        }
        let wake = was_empty && g.waiters > 0;
        drop(g);
        if wake {
            self.cond.notify_all();
        }
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
            let now = Instant::now();
            if end.is_some_and(|end| now >= end) {
                return false;
            }
            g.waiters += 1;
            g = match end {
                None => self.cond.wait(g).unwrap(),
                Some(end) => self.cond.wait_timeout(g, end - now).unwrap().0,
            };
            g.waiters -= 1;
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

thread_local! {
    /// Events of the current loop turn, handed to the queue together when the turn ends.
    /// A thread runs one turn at a time (a loop thread, or a driver turning its loops one
    /// after another) and every turn ends with `on_turn_end`, so one staging list per
    /// thread is unambiguous.
    static STAGED: std::cell::RefCell<Vec<Event>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A turn with more events than this hands them over early (bounded staging memory).
const STAGE_LIMIT: usize = 1024;

/// The [`Handler`] that feeds an [`EventQueue`].
///
/// Events are staged on the loop thread and queued once per loop turn: one lock and one
/// wake-up of the consuming thread per turn, not per event. Waking the consumer for the
/// first event of a turn would let it take the CPU from the loop in the middle of the
/// turn (measured through the C binding: 179k context switches in 2 s of echo, and 1.5x
/// the CPU per message of staging per turn).
pub struct QueueHandler {
    queue: Arc<EventQueue>,
}

impl QueueHandler {
    fn stage(&self, ev: Event) {
        // A close event is never handed over early: it is staged inside `on_close`, before
        // the loop marks the id unknown, and a consumer must not see it before that.
        let may_flush = !matches!(ev, Event::Close { .. });
        let full = STAGED.with(|s| {
            let mut s = s.borrow_mut();
            s.push(ev);
            s.len() >= STAGE_LIMIT
        });
        if full && may_flush {
            self.on_turn_end();
        }
    }
}

impl Handler for QueueHandler {
    fn on_turn_end(&self) {
        let evs = STAGED.with(|s| std::mem::take(&mut *s.borrow_mut()));
        if !evs.is_empty() {
            self.queue.push_all(evs);
        }
    }

    fn on_upgrade(&self, id: ConnId, request: &Request) -> Upgrade {
        if !self.queue.upgrade_hook {
            return Upgrade::accept();
        }
        self.stage(Event::Upgrade { id, request: Arc::new(request.clone()) });
        Upgrade::Defer
    }

    fn on_open(&self, conn: &mut Conn<'_>) {
        let request = conn.request_arc().expect("open connections have a request");
        self.stage(Event::Open { id: conn.id(), request });
    }

    fn on_message(&self, conn: &mut Conn<'_>, message: Message<'_>) {
        let text = message.is_text();
        self.stage(Event::Message { id: conn.id(), data: message.as_bytes().to_vec(), text });
    }

    fn on_drain(&self, conn: &mut Conn<'_>) {
        self.stage(Event::Drain { id: conn.id() });
    }

    fn on_close(&self, conn: &mut Conn<'_>, info: &CloseInfo) {
        self.stage(Event::Close { id: conn.id(), code: info.code, reason: info.reason.clone(), kind: info.kind });
    }

    fn on_shutdown(&self) {
        self.on_turn_end();
        self.queue.push(Event::Shutdown);
    }
}
