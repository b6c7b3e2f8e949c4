//! One event loop: a thread with a mio poll, the slots of the connections it owns, a
//! scratch buffer all of them read into, and a cork buffer for the replies made while
//! one connection's input is processed.
//!
//! A turn: wait for readiness (or the next timer sweep); read each ready connection into
//! the scratch buffer and run its frames through the handler; write what the handler
//! sent for it in one syscall (the cork); apply commands from other threads; flush every
//! connection that got queued data (one `writev` each); publish counters. Control frames
//! are answered in the same turn they arrive, never behind application work.

use std::io::{self, Write};
use std::net::Shutdown;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use crate::conn::*;
use crate::conn_ctx::Conn;
use crate::deflate::{self, LoopCodec, SharedMessage};
use crate::frame;
use crate::handler::{Accept, CloseInfo, CloseKind, Handler, HttpResponse, Message, SendStatus, Upgrade};
use crate::handshake::{self, Parsed};
use crate::id::ConnId;
use crate::options::SlowConsumerPolicy;
use crate::server::{Command, LOCAL, Server, Shared};
use crate::stats::LoopStats;

pub(crate) const WAKER: Token = Token(usize::MAX - 1);
const LISTENER: Token = Token(usize::MAX - 2);
/// Per-loop read buffer. Frames up to this size are parsed in place, without a copy.
const SCRATCH: usize = 64 << 10;
/// Slots are stored in pages so that growth never moves (or doubles) the whole table.
const PAGE: usize = 1024;
/// Reads per connection per turn before others get their chance.
const READS_PER_TURN: usize = 16;
/// Most bytes read straight into one large frame per read call.
const DIRECT_CHUNK: usize = 256 << 10;
/// Cork buffers that grew past this are given back after use.
const CORK_KEEP: usize = 256 << 10;

/// What a handler's `Conn` needs from the loop: the cork, the flush list, counters.
pub(crate) struct LoopIo {
    pub idx: usize,
    pub server: Server,
    pub cork: Vec<u8>,
    /// The slot whose input is being processed: its sends go to `cork`.
    pub corked: Option<u32>,
    pub dirty: Vec<u32>,
    pub stats: LoopStats,
    /// Milliseconds since the loop started (wraps after 49 days; compared with wrapping_sub).
    pub now: u32,
    /// permessage-deflate (de)compressors shared by this loop's connections, when enabled.
    pub codec: Option<LoopCodec>,
    /// Where compressed messages are inflated (kept between messages unless it grew large).
    pub inflated: Vec<u8>,
}

/// Bytes to queue for a connection.
enum Out<'a> {
    Frame(u8, &'a [u8]),
    Owned(Vec<u8>),
    Shared(Bytes),
    /// A tag send or broadcast: resolved per receiver into a shared frame (compressed or
    /// not, as the receiver negotiated).
    Message(&'a SharedMessage),
}

impl Out<'_> {
    /// Bytes it adds to a queue at most (before compression).
    fn len(&self) -> usize {
        match self {
            Out::Frame(_, p) => header_len(p.len()) + p.len(),
            Out::Owned(v) => v.len(),
            Out::Shared(b) => b.len(),
            Out::Message(m) => m.plain_len(),
        }
    }
}

fn header_len(n: usize) -> usize {
    if n < 126 { 2 } else if n <= 0xFFFF { 4 } else { 10 }
}

impl LoopIo {
    fn mark_dirty(&mut self, slot: u32, c: &mut Connection) {
        if c.flags & F_DIRTY == 0 {
            c.flags |= F_DIRTY;
            self.dirty.push(slot);
        }
    }

    /// Queues bytes without any policy (handshake responses, close frames, pongs).
    fn queue_raw(&mut self, slot: u32, c: &mut Connection, out: Out<'_>) {
        if self.corked == Some(slot) && c.out.is_none() && c.tls.is_none() {
            match out {
                Out::Frame(op, p) => frame::encode_into(&mut self.cork, op, p),
                Out::Owned(v) => self.cork.extend_from_slice(&v),
                Out::Shared(b) => self.cork.extend_from_slice(&b),
                Out::Message(_) => unreachable!("enqueue resolves messages per receiver"),
            }
            return;
        }
        match out {
            Out::Frame(op, p) => {
                let mut h = [0u8; frame::MAX_HEADER];
                let n = frame::encode_header(&mut h, op, p.len());
                c.out().push_frame(&h[..n], p);
            }
            Out::Owned(v) => c.out().push_owned(v),
            Out::Shared(b) => c.out().push_shared(b),
            Out::Message(_) => unreachable!("enqueue resolves messages per receiver"),
        }
        self.mark_dirty(slot, c);
    }

    fn queued(&self, slot: u32, c: &Connection) -> usize {
        c.buffered() + if self.corked == Some(slot) { self.cork.len() } else { 0 }
    }

    /// Queues an application message (or ping) under the backpressure policy.
    fn enqueue(&mut self, id: ConnId, c: &mut Connection, out: Out<'_>) -> SendStatus {
        if c.state != State::Open {
            return SendStatus::Dropped;
        }
        let slot = id.slot();
        let bp = &self.server.options().backpressure;
        let (max, threshold, policy) = (bp.max_buffered, bp.drain_threshold, bp.policy);
        let queued = self.queued(slot, c);
        let n = out.len();
        // An empty queue always takes one message, however large: otherwise a message over
        // the limit could never be sent at all.
        if queued > 0 && queued + n > max {
            match policy {
                SlowConsumerPolicy::DropNewest => {
                    self.stats.dropped += 1;
                }
                SlowConsumerPolicy::Close(code) => {
                    // What is queued will never be read in time: drop it and say why.
                    c.out = None;
                    if self.corked == Some(slot) {
                        self.cork.clear();
                    }
                    self.fail(id, c, code, "slow consumer", CloseKind::SlowConsumer);
                }
            }
            return SendStatus::Dropped;
        }
        let is_data = !matches!(out, Out::Frame(frame::OP_PING, _));
        // Compress only what will be sent: a dropped message must not advance a context.
        let compressed;
        let out = match (out, self.codec.as_mut(), c.deflate.as_deref_mut()) {
            (Out::Frame(op, p), Some(codec), Some(st)) if is_data => match codec.compress(st, p) {
                Some(z) => {
                    compressed = deflate::encode_compressed(op, z);
                    codec.trim();
                    Out::Owned(compressed)
                }
                None => Out::Frame(op, p),
            },
            (Out::Message(m), codec, st) => match codec {
                Some(codec) => Out::Shared(m.frame_for(st, codec)),
                None => Out::Shared(m.plain_frame()),
            },
            (out, _, _) => out,
        };
        self.queue_raw(slot, c, out);
        if is_data {
            self.stats.messages_out += 1;
        }
        if queued + n > threshold {
            c.flags |= F_WANT_DRAIN;
            SendStatus::Backpressure
        } else {
            SendStatus::Queued
        }
    }

    pub(crate) fn send_frame(&mut self, id: ConnId, c: &mut Connection, op: u8, payload: &[u8]) -> SendStatus {
        self.enqueue(id, c, Out::Frame(op, payload))
    }

    /// Starts the closing handshake (we speak first).
    pub(crate) fn start_close(&mut self, id: ConnId, c: &mut Connection, code: u16, reason: &str, kind: CloseKind) {
        if c.state != State::Open {
            return;
        }
        self.queue_raw(id.slot(), c, Out::Frame(frame::OP_CLOSE, &frame::close_payload(code, reason)));
        c.close = Some(Box::new(CloseInfo { code, reason: reason.to_string(), kind }));
        c.state = State::Closing;
        c.since = self.now;
        c.frag = None;
    }

    /// Fails the connection: send a close frame with `code` (unless one went out already),
    /// stop reading, close once it is written.
    pub(crate) fn fail(&mut self, id: ConnId, c: &mut Connection, code: u16, reason: &str, kind: CloseKind) {
        if kind == CloseKind::ProtocolError {
            self.stats.protocol_errors += 1;
        }
        if c.state == State::Open {
            self.queue_raw(id.slot(), c, Out::Frame(frame::OP_CLOSE, &frame::close_payload(code, reason)));
        }
        if matches!(c.state, State::Open | State::Closing) {
            c.close = Some(Box::new(CloseInfo { code, reason: reason.to_string(), kind }));
        }
        c.state = State::Flushing;
        c.since = self.now;
        c.frag = None;
        c.inbuf = None;
        self.mark_dirty(id.slot(), c);
    }

    /// Answers a request with a plain HTTP response and closes after it.
    fn respond(&mut self, slot: u32, c: &mut Connection, resp: &HttpResponse, head_only: bool) {
        let mut v = Vec::with_capacity(128 + resp.body.len());
        handshake::write_response(&mut v, resp, head_only);
        self.queue_raw(slot, c, Out::Owned(v));
        c.state = State::Flushing;
        c.since = self.now;
        c.inbuf = None;
        self.mark_dirty(slot, c);
    }
}

/// Runs handler code; a panic is caught and reported, never allowed to kill the loop.
fn guard<R>(what: &str, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            eprintln!("websock: handler panicked in {what}: {msg}");
            None
        }
    }
}

pub(crate) struct Loop {
    io: LoopIo,
    shared: Arc<Shared>,
    handler: Arc<dyn Handler>,
    poll: Poll,
    listener: Option<TcpListener>,
    pages: Vec<Box<[Option<Connection>]>>,
    free: Vec<u32>,
    scratch: Box<[u8]>,
    commands: Vec<Command>,
    /// Connections whose input was not exhausted this turn (edge-triggered readiness
    /// will not report them again).
    again: Vec<u32>,
    accept_pending: bool,
    /// Readiness events of one turn (kept to reuse the buffer).
    events: Events,
    /// The last poll filled `events`: more may be ready, so the next turn must not wait.
    events_full: bool,
    epoch: Instant,
    shutdown_at: Option<u32>,
    tick: u32,
    next_sweep: u32,
    /// Open connections closed so far (the open count is `opened - closed`).
    closed: u64,
}

impl Loop {
    pub fn new(idx: usize, shared: Arc<Shared>, poll: Poll, mut listener: Option<TcpListener>) -> io::Result<Loop> {
        if let Some(l) = listener.as_mut() {
            poll.registry().register(l, LISTENER, Interest::READABLE)?;
        }
        let o = &shared.opts;
        // Sweep often enough for the shortest timeout to be honoured within a quarter of it.
        let mut shortest = o.limits.handshake_timeout.min(o.limits.close_timeout);
        for d in [o.keepalive.ping_interval, o.keepalive.idle_timeout].into_iter().flatten() {
            shortest = shortest.min(d);
        }
        let tick = (shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)).as_millis() as u32;
        Ok(Loop {
            io: LoopIo {
                idx,
                server: Server { shared: shared.clone() },
                cork: Vec::with_capacity(SCRATCH),
                corked: None,
                dirty: Vec::new(),
                stats: LoopStats::default(),
                now: 0,
                codec: shared.opts.compression.enabled().then(|| LoopCodec::new(&shared.opts.compression)),
                inflated: Vec::new(),
            },
            handler: shared.handler.clone(),
            shared,
            poll,
            listener,
            pages: Vec::new(),
            free: Vec::new(),
            scratch: vec![0u8; SCRATCH].into_boxed_slice(),
            commands: Vec::new(),
            again: Vec::new(),
            accept_pending: false,
            events: Events::with_capacity(1024),
            events_full: false,
            epoch: Instant::now(),
            shutdown_at: None,
            tick,
            next_sweep: tick,
            closed: 0,
        })
    }

    fn clock(&self) -> u32 {
        self.epoch.elapsed().as_millis() as u32
    }

    fn me(&self) -> &crate::server::LoopShared {
        &self.shared.loops[self.io.idx]
    }

    /// Runs the loop on its own thread until the server has shut down.
    pub fn run(mut self) {
        loop {
            let wait = self.next_wait();
            if !self.turn(wait) {
                break;
            }
        }
        self.finish();
    }

    /// How long the loop may wait for readiness before its next turn is due: zero while
    /// work is left over (edge-triggered readiness will not announce it again), else the
    /// time to the next timer sweep (at most a second).
    pub fn next_wait(&self) -> Duration {
        let now = self.clock();
        // A sweep already due (the clock passed it during the turn) means at once, not a
        // wrapped-around difference.
        let due = now.wrapping_sub(self.next_sweep) < u32::MAX / 2;
        let busy = self.accept_pending || !self.again.is_empty() || self.events_full || due;
        let ms = if busy { 0 } else { self.next_sweep.wrapping_sub(now).min(1000) };
        Duration::from_millis(ms as u64)
    }

    /// One turn: wait up to `wait` for readiness, then read, run handlers, apply commands,
    /// write, sweep timers when due, publish counters. False once the loop has ended
    /// (shutdown complete, or the poll failed); then call [`Loop::finish`].
    pub fn turn(&mut self, wait: Duration) -> bool {
        if self.shared.opts.driven {
            // Commands queued while the driver held wake-ups (the replies to the last
            // turn's events) come first, before new input, and end the hold. They run
            // with the current time (close and shutdown deadlines start from it), and
            // are written at once: written after this turn's reads, every reply would
            // wait for a whole batch of input, and the peers, idle meanwhile, would each
            // need a wake-up (perf: the wake path was 9.1 % of a Node echo's CPU, 5.2 %
            // for uWS.js, which writes each reply right after its read).
            self.io.now = self.clock();
            self.apply_remote();
            self.flush_dirty();
        }
        let mut events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
            if e.kind() != io::ErrorKind::Interrupted {
                eprintln!("websock: loop {} poll failed: {e}", self.io.idx);
                self.events = events;
                return false;
            }
        }
        self.io.now = self.clock();
        let mut n = 0;
        for ev in events.iter() {
            n += 1;
            match ev.token() {
                WAKER => self.apply_remote(),
                LISTENER => self.accept(),
                Token(slot) => {
                    let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
                    self.on_ready(slot as u32, readable, ev.is_writable());
                }
            }
        }
        // A full batch may have left ready descriptors behind in the kernel.
        self.events_full = n == events.capacity();
        self.events = events;
        if self.accept_pending {
            self.accept();
        }
        for slot in std::mem::take(&mut self.again) {
            self.on_ready(slot, true, false);
        }
        self.apply_local();
        self.flush_dirty();
        if self.io.now.wrapping_sub(self.next_sweep) < u32::MAX / 2 {
            self.sweep();
            self.next_sweep = self.io.now.wrapping_add(self.tick);
            self.flush_dirty();
        }
        self.publish();
        let h = &*self.handler;
        guard("on_turn_end", || h.on_turn_end());
        !(self.shutdown_at.is_some() && self.me().live.load(Ordering::Relaxed) == 0)
    }

    /// Ends the loop: whatever is left (after a poll failure) still gets its close event.
    /// Returns the poll, for a driven loop to keep its descriptor open.
    pub fn finish(mut self) -> Poll {
        for slot in self.occupied() {
            if let Some(c) = self.take(slot) {
                self.teardown(slot, c, CloseKind::Shutdown);
            }
        }
        self.publish();
        let h = &*self.handler;
        guard("on_turn_end", || h.on_turn_end());
        self.shared.loop_finished();
        self.poll
    }

    fn publish(&mut self) {
        self.io.stats.connections = self.io.stats.opened - self.closed;
        self.me().stats.store(&self.io.stats);
    }

    // ----- slots -----

    fn slot_ref(&mut self, slot: u32) -> Option<&mut Option<Connection>> {
        let s = slot as usize;
        self.pages.get_mut(s / PAGE).map(|p| &mut p[s % PAGE])
    }

    fn take(&mut self, slot: u32) -> Option<Connection> {
        self.slot_ref(slot)?.take()
    }

    fn put(&mut self, slot: u32, c: Connection) {
        *self.slot_ref(slot).expect("slot exists") = Some(c);
    }

    fn alloc_slot(&mut self) -> Option<u32> {
        if let Some(s) = self.free.pop() {
            return Some(s);
        }
        let next = self.pages.len() * PAGE;
        if next + PAGE > crate::slot_table::SlotTable::CAPACITY {
            return None;
        }
        self.pages.push((0..PAGE).map(|_| None).collect());
        // Hand out low slots first.
        self.free.extend((next as u32 + 1..(next + PAGE) as u32).rev());
        Some(next as u32)
    }

    fn occupied(&self) -> Vec<u32> {
        let mut v = Vec::new();
        for (pi, p) in self.pages.iter().enumerate() {
            for (i, c) in p.iter().enumerate() {
                if c.is_some() {
                    v.push((pi * PAGE + i) as u32);
                }
            }
        }
        v
    }

    // ----- accepting -----

    fn accept(&mut self) {
        self.accept_pending = false;
        for _ in 0..256 {
            let Some(l) = self.listener.as_ref() else { return };
            match l.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nodelay(true);
                    let target = self.least_loaded();
                    self.shared.loops[target].live.fetch_add(1, Ordering::Relaxed);
                    if target == self.io.idx {
                        self.adopt(s);
                    } else {
                        self.io.server.push(target, Command::Adopt(s));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EMFILE (24) / ENFILE (23), out of descriptors: leave the rest in the
                // backlog; the next timer sweep retries.
                Err(e) if matches!(e.raw_os_error(), Some(23 | 24)) => return,
                Err(_) => {} // ECONNABORTED and friends: that client is gone, go on.
            }
        }
        self.accept_pending = true;
    }

    fn least_loaded(&self) -> usize {
        let mut best = self.io.idx;
        let mut best_n = self.me().live.load(Ordering::Relaxed);
        for (i, l) in self.shared.loops.iter().enumerate() {
            let n = l.live.load(Ordering::Relaxed);
            if n < best_n {
                best = i;
                best_n = n;
            }
        }
        best
    }

    /// Takes a freshly accepted socket (its `live` count was already raised).
    fn adopt(&mut self, mut s: TcpStream) {
        let me = self.io.idx;
        if self.shutdown_at.is_some() {
            self.shared.loops[me].live.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let Some(slot) = self.alloc_slot() else {
            self.shared.loops[me].live.fetch_sub(1, Ordering::Relaxed);
            return;
        };
        if self.poll.registry().register(&mut s, Token(slot as usize), Interest::READABLE | Interest::WRITABLE).is_err() {
            self.free.push(slot);
            self.shared.loops[me].live.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let generation = self.shared.loops[me].slots.open(slot);
        let tls = self.shared.opts.tls.as_ref().and_then(|t| rustls::ServerConnection::new(t.config.clone()).ok().map(Box::new));
        self.io.stats.accepted += 1;
        self.put(slot, Connection::new(s, tls, generation, self.io.now));
    }

    // ----- readiness -----

    fn on_ready(&mut self, slot: u32, readable: bool, writable: bool) {
        let Some(mut c) = self.take(slot) else { return };
        let mut alive = true;
        if writable && (c.out.is_some() || c.tls.is_some()) {
            alive = self.flush_conn(slot, &mut c);
        }
        if alive && readable {
            alive = self.read_conn(slot, &mut c);
        }
        if alive {
            self.put(slot, c);
        } else {
            self.teardown(slot, c, CloseKind::Abnormal);
        }
        self.apply_local();
    }

    /// Reads what the socket has and processes it. False: the connection is finished.
    fn read_conn(&mut self, slot: u32, c: &mut Connection) -> bool {
        let id = ConnId::new(self.io.idx, slot, c.generation);
        if c.tls.is_none() {
            self.io.corked = Some(slot);
        }
        let mut alive = true;
        let mut reads = 0;
        loop {
            if matches!(c.state, State::Deciding | State::Flushing) {
                break;
            }
            if reads == READS_PER_TURN {
                self.again.push(slot);
                break;
            }
            reads += 1;
            let direct = c.inbuf.as_ref().is_some_and(|b| b.want > 0);
            let mut pre = 0;
            let asked;
            let res = if direct {
                let mut b = c.inbuf.take().unwrap();
                asked = (b.want - b.filled).min(DIRECT_CHUNK);
                b.data.resize(b.filled + asked, 0);
                let res = c.read_plain(&mut b.data[b.filled..]);
                b.filled += *res.as_ref().unwrap_or(&0);
                b.data.truncate(b.filled);
                c.inbuf = Some(b);
                res
            } else {
                if let Some(b) = c.inbuf.as_ref() {
                    pre = b.filled;
                    self.scratch[..pre].copy_from_slice(&b.data[..pre]);
                }
                asked = SCRATCH - pre;
                c.read_plain(&mut self.scratch[pre..])
            };
            let n = match res {
                Ok(0) => {
                    alive = false;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    alive = false;
                    break;
                }
            };
            self.io.stats.bytes_in += n as u64;
            c.last_rx = self.io.now;
            c.flags &= !F_PING_OUT;
            if c.state == State::Lingering {
                // After our close frame we only wait for the peer's: once it is here, the
                // closing handshake is complete and the socket can go.
                c.inbuf = None;
                if has_close_frame(&self.scratch[..pre + n]) {
                    alive = false;
                    break;
                }
            } else if direct {
                let mut b = c.inbuf.take().unwrap();
                if b.filled == b.want {
                    process(&mut self.io, &*self.handler, id, c, &mut b.data, b.checked);
                } else if let Some(k) = check_partial(&mut self.io, id, c, &mut b.data, b.checked) {
                    b.checked = k;
                    c.inbuf = Some(b);
                }
            } else {
                let checked = c.inbuf.take().map_or(0, |b| b.checked);
                process(&mut self.io, &*self.handler, id, c, &mut self.scratch[..pre + n], checked);
            }
            if c.tls.is_none() && n < asked {
                break; // drained: edge-triggered readiness reports the next arrival
            }
        }
        if c.tls.is_some() {
            // TLS may owe the peer handshake records or alerts.
            self.io.mark_dirty(slot, c);
        }
        let written = self.uncork(slot, c);
        alive && written
    }

    /// Writes what the handler sent while this connection's input was processed.
    fn uncork(&mut self, slot: u32, c: &mut Connection) -> bool {
        if self.io.corked != Some(slot) {
            return true;
        }
        self.io.corked = None;
        let mut ok = true;
        if !self.io.cork.is_empty() {
            let cork = &self.io.cork;
            let written = loop {
                match c.sock.write(cork) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break 0,
                    Err(_) => {
                        ok = false;
                        break cork.len();
                    }
                    Ok(n) => break n,
                }
            };
            self.io.stats.bytes_out += written as u64;
            if written < cork.len() {
                c.out().push_owned(cork[written..].to_vec());
                self.io.mark_dirty(slot, c);
            }
            self.io.cork.clear();
            if self.io.cork.capacity() > CORK_KEEP {
                self.io.cork.shrink_to(SCRATCH);
            }
        }
        if c.state == State::Flushing || c.flags & F_WANT_DRAIN != 0 {
            self.io.mark_dirty(slot, c);
        }
        ok
    }

    /// Writes a connection's queue; moves a finished close on; fires drain. False: dead.
    fn flush_conn(&mut self, slot: u32, c: &mut Connection) -> bool {
        let before = c.buffered();
        let done = match c.flush() {
            Ok(d) => d,
            Err(_) => return false,
        };
        let after = c.buffered();
        self.io.stats.bytes_out += before.saturating_sub(after) as u64;
        if done && c.out.is_some() {
            c.out = None;
        }
        self.me().slots.set_buffered(slot, after);
        if done && c.state == State::Flushing {
            if let Some(tls) = c.tls.as_mut() {
                tls.send_close_notify();
                let _ = c.flush();
            }
            let _ = c.sock.shutdown(Shutdown::Write);
            c.inbuf = None; // unfinished input is moot now; lingering reads go to scratch
            c.state = State::Lingering;
            c.since = self.io.now;
            self.report_close(slot, c, CloseKind::Abnormal);
            if c.flags & F_PEER_CLOSED != 0 {
                return false; // both close frames exchanged: done, nothing to linger for
            }
            // The peer's answer may have arrived while we were flushing (reads pause then).
            self.again.push(slot);
        }
        let threshold = self.shared.opts.backpressure.drain_threshold;
        if c.flags & F_WANT_DRAIN != 0 && after <= threshold && c.state == State::Open {
            c.flags &= !F_WANT_DRAIN;
            let id = ConnId::new(self.io.idx, slot, c.generation);
            let mut ctx = Conn { id, c, io: &mut self.io };
            let h = &*self.handler;
            guard("on_drain", || h.on_drain(&mut ctx));
        }
        true
    }

    fn flush_dirty(&mut self) {
        for _ in 0..4 {
            if self.io.dirty.is_empty() {
                return;
            }
            for slot in std::mem::take(&mut self.io.dirty) {
                let Some(mut c) = self.take(slot) else { continue };
                c.flags &= !F_DIRTY;
                if self.flush_conn(slot, &mut c) {
                    self.put(slot, c);
                } else {
                    self.teardown(slot, c, CloseKind::Abnormal);
                }
            }
            self.apply_local();
        }
    }

    /// Delivers the close event once the connection can no longer carry messages: when
    /// the closing handshake is done (not when the lingering socket finally goes), or at
    /// teardown for every other ending. Its tags go with it, so counts are right at once.
    fn report_close(&mut self, slot: u32, c: &mut Connection, fallback: CloseKind) {
        if c.flags & F_WAS_OPEN == 0 {
            return;
        }
        c.flags &= !F_WAS_OPEN;
        let info = c.close.take().map(|b| *b).unwrap_or(CloseInfo {
            code: 1006,
            reason: String::new(),
            kind: fallback,
        });
        self.closed += 1;
        let id = ConnId::new(self.io.idx, slot, c.generation);
        let mut ctx = Conn { id, c, io: &mut self.io };
        let h = &*self.handler;
        guard("on_close", || h.on_close(&mut ctx, &info));
        // From the close event on, the id is unknown everywhere (sends fail at once rather
        // than being dropped while the socket lingers) and its tags are gone.
        let me = &self.shared.loops[self.io.idx];
        me.slots.close(slot); // before the tag lock: see Server::tag
        me.tags.lock().unwrap().remove_slot(slot);
    }

    /// Ends a connection: its close event (if not reported yet), its tags, its slot, its
    /// socket.
    fn teardown(&mut self, slot: u32, mut c: Connection, fallback: CloseKind) {
        if self.io.corked == Some(slot) {
            self.io.corked = None;
            self.io.cork.clear();
        }
        if matches!(c.state, State::Handshake | State::Deciding) && c.flags & F_DIRTY == 0 {
            self.io.stats.rejected += 1;
        }
        c.state = State::Lingering; // sends from on_close are dropped
        self.report_close(slot, &mut c, fallback);
        let me = &self.shared.loops[self.io.idx];
        me.slots.close(slot); // before the tag lock: see Server::tag
        me.tags.lock().unwrap().remove_slot(slot);
        me.live.fetch_sub(1, Ordering::Relaxed);
        drop(c); // closes the socket, which also removes it from epoll
        self.free.push(slot);
    }

    // ----- commands -----

    fn apply_local(&mut self) {
        loop {
            let cmds = LOCAL.with(|l| std::mem::take(&mut l.borrow_mut().commands));
            if cmds.is_empty() {
                return;
            }
            for cmd in cmds {
                self.apply(cmd);
            }
        }
    }

    fn apply_remote(&mut self) {
        let mut cmds = std::mem::take(&mut self.commands);
        self.me().take_commands(&mut cmds);
        for cmd in cmds.drain(..) {
            self.apply(cmd);
        }
        self.commands = cmds;
        self.apply_local();
    }

    fn apply(&mut self, cmd: Command) {
        let idx = self.io.idx;
        match cmd {
            Command::Adopt(s) => self.adopt(s),
            Command::Send { id, opcode, payload } => {
                if let Some(c) = conn_mut(&mut self.pages, id) {
                    self.io.enqueue(id, c, Out::Frame(opcode, &payload));
                }
            }
            Command::Close { id, code, reason } => {
                if let Some(c) = conn_mut(&mut self.pages, id) {
                    self.io.start_close(id, c, code, &reason, CloseKind::Local);
                }
            }
            Command::ByTag { tag, msg } => {
                let ix = self.shared.loops[idx].tags.lock().unwrap();
                if let Some(members) = ix.members(&tag) {
                    for &slot in members {
                        if let Some(c) = self.pages[slot as usize / PAGE][slot as usize % PAGE].as_mut() {
                            let id = ConnId::new(idx, slot, c.generation);
                            self.io.enqueue(id, c, Out::Message(&msg));
                        }
                    }
                }
            }
            Command::Broadcast { msg } => self.broadcast(&msg),
            Command::CloseByTag { tag, code, reason } => {
                let slots: Vec<u32> = {
                    let ix = self.shared.loops[idx].tags.lock().unwrap();
                    ix.members(&tag).map(|m| m.iter().copied().collect()).unwrap_or_default()
                };
                for slot in slots {
                    if let Some(c) = self.pages[slot as usize / PAGE][slot as usize % PAGE].as_mut() {
                        let id = ConnId::new(idx, slot, c.generation);
                        self.io.start_close(id, c, code, &reason, CloseKind::Local);
                    }
                }
            }
            Command::Resolve { id, decision } => self.resolve(id, decision),
            Command::Shutdown { deadline } => self.begin_shutdown(deadline),
        }
    }

    fn broadcast(&mut self, msg: &SharedMessage) {
        let idx = self.io.idx;
        for (pi, page) in self.pages.iter_mut().enumerate() {
            for (i, c) in page.iter_mut().enumerate() {
                if let Some(c) = c.as_mut().filter(|c| c.state == State::Open) {
                    let id = ConnId::new(idx, (pi * PAGE + i) as u32, c.generation);
                    self.io.enqueue(id, c, Out::Message(msg));
                }
            }
        }
    }

    fn resolve(&mut self, id: ConnId, decision: std::result::Result<Accept, HttpResponse>) {
        let slot = id.slot();
        let Some(mut c) = self.take(slot) else { return };
        if c.generation != id.generation() || c.state != State::Deciding {
            self.put(slot, c);
            return;
        }
        let pending = c.upgrade.take().expect("deciding connections hold their request");
        match decision {
            Ok(accept) => {
                let h = &*self.handler;
                complete_upgrade(&mut self.io, h, id, &mut c, pending.request, &pending.accept_key, accept);
                if let Some(mut b) = c.inbuf.take() {
                    let n = b.filled;
                    process(&mut self.io, h, id, &mut c, &mut b.data[..n], b.checked);
                }
                // Data may have arrived while the decision was pending.
                self.again.push(slot);
            }
            Err(resp) => {
                self.io.stats.rejected += 1;
                self.io.respond(slot, &mut c, &resp, false);
            }
        }
        self.put(slot, c);
    }

    fn begin_shutdown(&mut self, deadline: Instant) {
        if self.shutdown_at.is_some() {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now()).as_millis().min(u32::MAX as u128 / 4) as u32;
        self.shutdown_at = Some(self.io.now.wrapping_add(left));
        self.listener = None;
        self.accept_pending = false;
        for slot in self.occupied() {
            let Some(mut c) = self.take(slot) else { continue };
            match c.state {
                State::Open => {
                    let id = ConnId::new(self.io.idx, slot, c.generation);
                    self.io.start_close(id, &mut c, 1001, "server shutdown", CloseKind::Shutdown);
                    self.put(slot, c);
                }
                State::Handshake | State::Deciding => self.teardown(slot, c, CloseKind::Shutdown),
                _ => self.put(slot, c),
            }
        }
    }

    // ----- timers -----

    /// The coarse timer: one pass over the slots for handshake, idle, keepalive and
    /// closing deadlines (no timer per connection).
    fn sweep(&mut self) {
        let now = self.io.now;
        let o = &self.shared.opts;
        let ms = |d: Duration| d.as_millis().min(u32::MAX as u128 / 4) as u32;
        let hs = ms(o.limits.handshake_timeout);
        let close_t = ms(o.limits.close_timeout);
        let idle_t = o.keepalive.idle_timeout.map(ms);
        let ping_t = o.keepalive.ping_interval.map(ms);
        let past_deadline = self.shutdown_at.is_some_and(|at| now.wrapping_sub(at) < u32::MAX / 2);
        let mut ends: Vec<(u32, CloseKind)> = Vec::new();
        let mut compression_bytes = 0;
        for (pi, page) in self.pages.iter_mut().enumerate() {
            for (i, c) in page.iter_mut().enumerate() {
                let Some(c) = c.as_mut() else { continue };
                let slot = (pi * PAGE + i) as u32;
                if let Some(d) = c.deflate.as_deref() {
                    compression_bytes += d.held_bytes() as u64;
                }
                if past_deadline {
                    ends.push((slot, CloseKind::Shutdown));
                    continue;
                }
                let age = now.wrapping_sub(c.since);
                let idle = now.wrapping_sub(c.last_rx);
                match c.state {
                    State::Handshake | State::Deciding => {
                        if age > hs {
                            ends.push((slot, CloseKind::Timeout));
                        }
                    }
                    State::Open => {
                        if idle_t.is_some_and(|t| idle > t) {
                            ends.push((slot, CloseKind::Timeout));
                        } else if ping_t.is_some_and(|t| idle >= t) && c.flags & F_PING_OUT == 0 {
                            c.flags |= F_PING_OUT;
                            self.io.queue_raw(slot, c, Out::Frame(frame::OP_PING, b""));
                        }
                    }
                    State::Closing | State::Flushing | State::Lingering => {
                        if age > close_t {
                            ends.push((slot, CloseKind::Timeout));
                        }
                    }
                }
            }
        }
        self.io.stats.compression_bytes = compression_bytes;
        for (slot, kind) in ends {
            if let Some(c) = self.take(slot) {
                self.teardown(slot, c, kind);
            }
        }
        if self.listener.is_some() {
            self.accept_pending = true; // retries after descriptor exhaustion
        }
    }
}

fn conn_mut(pages: &mut [Box<[Option<Connection>]>], id: ConnId) -> Option<&mut Connection> {
    let s = id.slot() as usize;
    pages.get_mut(s / PAGE)?[s % PAGE].as_mut().filter(|c| c.generation == id.generation())
}

// ----- input processing (free functions: they borrow the loop's parts separately) -----

/// Processes `buf`: bytes from the start of an unprocessed request head or frame.
/// `checked` payload bytes of the first frame are already unmasked and validated.
/// Whatever is unfinished at the end is saved in `c.inbuf`.
fn process(io: &mut LoopIo, h: &dyn Handler, id: ConnId, c: &mut Connection, buf: &mut [u8], mut checked: usize) {
    let mut pos = 0;
    if c.state == State::Handshake {
        match handshake_step(io, h, id, c, buf) {
            Some(head_len) => {
                pos = head_len;
                checked = 0;
            }
            None => return,
        }
    }
    while pos < buf.len() {
        if !matches!(c.state, State::Open | State::Closing) {
            return;
        }
        let rest = &mut buf[pos..];
        let hdr = match frame::parse_header(rest) {
            Err(e) => return io.fail(id, c, 1002, e.reason(), CloseKind::ProtocolError),
            Ok(None) => return save_partial(c, rest, 0, 0),
            Ok(Some(hdr)) => hdr,
        };
        if let Err(why) = deflate::check_rsv(hdr.rsv, hdr.opcode, c.deflate.is_some()) {
            return io.fail(id, c, 1002, why, CloseKind::ProtocolError);
        }
        if let Err((code, why)) = check_frame(io, c, &hdr) {
            return io.fail(id, c, code, why, CloseKind::ProtocolError);
        }
        let total = hdr.header_len + hdr.payload_len as usize; // bounded by max_frame_size
        if rest.len() < total {
            if let Some(k) = check_partial_frame(io, id, c, rest, &hdr, checked) {
                save_partial(c, rest, k, total);
            }
            return;
        }
        let payload = &mut rest[hdr.header_len..total];
        frame::unmask(&mut payload[checked..], hdr.mask, checked);
        on_frame(io, h, id, c, &hdr, payload, checked);
        checked = 0;
        pos += total;
    }
}

/// Does `buf` (client frames from a frame boundary) hold a close frame?
fn has_close_frame(mut buf: &[u8]) -> bool {
    while let Ok(Some(h)) = frame::parse_header(buf) {
        if h.opcode == frame::OP_CLOSE {
            return true;
        }
        let Some(rest) = buf.get(h.header_len + h.payload_len as usize..) else { return false };
        buf = rest;
    }
    false
}

fn save_partial(c: &mut Connection, rest: &[u8], checked: usize, total: usize) {
    let want = if total > SCRATCH { total } else { 0 };
    let mut data = Vec::with_capacity(if want > 0 { rest.len().max(SCRATCH) } else { rest.len() });
    data.extend_from_slice(rest);
    c.inbuf = Some(Box::new(InBuf { data, checked, filled: rest.len(), want }));
}

fn check_frame(io: &LoopIo, c: &Connection, hdr: &frame::Header) -> Result<(), (u16, &'static str)> {
    let limits = &io.server.options().limits;
    if hdr.payload_len > limits.max_frame_size as u64 {
        return Err((1009, "frame too large"));
    }
    match hdr.opcode {
        frame::OP_CONT if c.frag.is_none() => Err((1002, "continuation frame without a message to continue")),
        frame::OP_TEXT | frame::OP_BINARY if c.frag.is_some() => {
            Err((1002, "new data frame inside a fragmented message"))
        }
        frame::OP_CONT | frame::OP_TEXT | frame::OP_BINARY => {
            let so_far = c.frag.as_ref().map_or(0, |f| f.data.len()) as u64;
            if so_far + hdr.payload_len > limits.max_message_size as u64 {
                Err((1009, "message too large"))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

fn frame_is_text(c: &Connection, hdr: &frame::Header) -> bool {
    hdr.opcode == frame::OP_TEXT || (hdr.opcode == frame::OP_CONT && c.frag.as_ref().is_some_and(|f| f.text))
}

/// Is this data frame part of a compressed message? (RSV1 on its first frame; checked
/// by `deflate::check_rsv`.)
fn frame_is_compressed(c: &Connection, hdr: &frame::Header) -> bool {
    match hdr.opcode {
        frame::OP_TEXT | frame::OP_BINARY => hdr.rsv & 0b100 != 0,
        frame::OP_CONT => c.frag.as_ref().is_some_and(|f| f.compressed),
        _ => false,
    }
}

/// Is the frame's payload text to validate as it arrives? (Compressed text is validated
/// once inflated.)
fn frame_is_plain_text(c: &Connection, hdr: &frame::Header) -> bool {
    frame_is_text(c, hdr) && !frame_is_compressed(c, hdr)
}

/// Unmasks and validates the part of an unfinished text frame that has arrived, so
/// invalid UTF-8 fails the connection at once. Returns the new `checked`, or `None` if
/// the connection failed.
fn check_partial_frame(io: &mut LoopIo, id: ConnId, c: &mut Connection, rest: &mut [u8], hdr: &frame::Header, checked: usize) -> Option<usize> {
    if c.state != State::Open || !frame_is_plain_text(c, hdr) {
        return Some(checked);
    }
    let avail = rest.len() - hdr.header_len;
    if avail <= checked {
        return Some(checked);
    }
    let new = &mut rest[hdr.header_len + checked..];
    frame::unmask(new, hdr.mask, checked);
    if c.utf8.feed(new).is_err() {
        io.fail(id, c, 1007, "invalid UTF-8 in text message", CloseKind::ProtocolError);
        return None;
    }
    Some(avail)
}

/// `check_partial_frame` for a large frame being read straight into its own buffer.
fn check_partial(io: &mut LoopIo, id: ConnId, c: &mut Connection, data: &mut [u8], checked: usize) -> Option<usize> {
    match frame::parse_header(data) {
        Ok(Some(hdr)) => check_partial_frame(io, id, c, data, &hdr, checked),
        _ => Some(checked),
    }
}

fn deliver(io: &mut LoopIo, h: &dyn Handler, id: ConnId, c: &mut Connection, msg: Message<'_>) {
    io.stats.messages_in += 1;
    let mut ctx = Conn { id, c, io };
    if guard("on_message", || h.on_message(&mut ctx, msg)).is_none() {
        io.fail(id, c, 1011, "internal error", CloseKind::Local);
    }
}

/// One complete, unmasked frame.
fn on_frame(io: &mut LoopIo, h: &dyn Handler, id: ConnId, c: &mut Connection, hdr: &frame::Header, payload: &mut [u8], checked: usize) {
    let data_frame = hdr.opcode & 0x8 == 0;
    if data_frame && c.state != State::Open {
        return; // after our close frame, data is read and dropped
    }
    let text = frame_is_text(c, hdr);
    let compressed = frame_is_compressed(c, hdr);
    // Text in pieces (fragments, or a frame checked as it arrived) is validated piece by
    // piece; a whole single-frame text message is checked at once when delivered.
    let in_pieces = checked > 0 || hdr.opcode == frame::OP_CONT || !hdr.fin;
    if text
        && !compressed
        && in_pieces
        && (c.utf8.feed(&payload[checked..]).is_err() || (hdr.fin && c.utf8.finish().is_err()))
    {
        return io.fail(id, c, 1007, "invalid UTF-8 in text message", CloseKind::ProtocolError);
    }
    match hdr.opcode {
        frame::OP_TEXT | frame::OP_BINARY if hdr.fin && compressed => {
            deliver_inflated(io, h, id, c, text, payload);
        }
        frame::OP_TEXT | frame::OP_BINARY if hdr.fin => {
            if hdr.opcode == frame::OP_TEXT {
                c.utf8 = Default::default();
                // Checked above when it arrived in pieces; in one piece, check it here.
                // Pieces were checked as they arrived; the whole check here is what turns
                // the bytes into a `&str` (SIMD-fast, and it keeps this crate free of unsafe).
                let s = std::str::from_utf8(payload).ok();
                match s {
                    Some(s) => deliver(io, h, id, c, Message::Text(s)),
                    None => io.fail(id, c, 1007, "invalid UTF-8 in text message", CloseKind::ProtocolError),
                }
            } else {
                deliver(io, h, id, c, Message::Binary(payload));
            }
        }
        frame::OP_TEXT | frame::OP_BINARY => {
            c.frag = Some(Box::new(Fragmented { text, compressed, data: payload.to_vec() }));
        }
        frame::OP_CONT => {
            let f = c.frag.as_mut().expect("checked by check_frame");
            f.data.extend_from_slice(payload);
            if hdr.fin {
                let f = c.frag.take().unwrap();
                if f.compressed {
                    deliver_inflated(io, h, id, c, f.text, &f.data);
                } else if f.text {
                    c.utf8 = Default::default();
                    // Validated piece by piece above; the whole is therefore UTF-8.
                    match std::str::from_utf8(&f.data) {
                        Ok(s) => deliver(io, h, id, c, Message::Text(s)),
                        Err(_) => io.fail(id, c, 1007, "invalid UTF-8 in text message", CloseKind::ProtocolError),
                    }
                } else {
                    deliver(io, h, id, c, Message::Binary(&f.data));
                }
            }
        }
        frame::OP_PING => {
            if c.state == State::Open {
                io.queue_raw(id.slot(), c, Out::Frame(frame::OP_PONG, payload));
            }
        }
        frame::OP_PONG => {}
        frame::OP_CLOSE => on_close_frame(io, id, c, payload),
        _ => unreachable!("opcodes are checked by parse_header"),
    }
}

/// Inflates a compressed message (bounded by the message size limit) and delivers it.
fn deliver_inflated(io: &mut LoopIo, h: &dyn Handler, id: ConnId, c: &mut Connection, text: bool, compressed: &[u8]) {
    let limit = io.server.options().limits.max_message_size;
    let mut buf = std::mem::take(&mut io.inflated);
    buf.clear();
    let (Some(codec), Some(st)) = (io.codec.as_mut(), c.deflate.as_deref_mut()) else {
        unreachable!("RSV1 is accepted only with a negotiated extension");
    };
    match codec.decompress(st, &[compressed], limit, &mut buf) {
        Err(e) => io.fail(id, c, e.close_code(), e.reason(), CloseKind::ProtocolError),
        Ok(()) if text => match std::str::from_utf8(&buf) {
            Ok(s) => deliver(io, h, id, c, Message::Text(s)),
            Err(_) => io.fail(id, c, 1007, "invalid UTF-8 in text message", CloseKind::ProtocolError),
        },
        Ok(()) => deliver(io, h, id, c, Message::Binary(&buf)),
    }
    buf.clear();
    if buf.capacity() <= CORK_KEEP {
        io.inflated = buf;
    }
}

fn on_close_frame(io: &mut LoopIo, id: ConnId, c: &mut Connection, payload: &[u8]) {
    let (code, reason) = match payload.len() {
        0 => (1005, ""),
        1 => return io.fail(id, c, 1002, "close frame with a 1-byte payload", CloseKind::ProtocolError),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            if !frame::is_valid_received_close_code(code) {
                return io.fail(id, c, 1002, "invalid close code", CloseKind::ProtocolError);
            }
            match std::str::from_utf8(&payload[2..]) {
                Ok(r) => (code, r),
                Err(_) => return io.fail(id, c, 1002, "close reason is not UTF-8", CloseKind::ProtocolError),
            }
        }
    };
    if c.state == State::Open {
        let echo = if code == 1005 { Vec::new() } else { code.to_be_bytes().to_vec() };
        io.queue_raw(id.slot(), c, Out::Frame(frame::OP_CLOSE, &echo));
        c.close = Some(Box::new(CloseInfo { code, reason: reason.to_string(), kind: CloseKind::Peer }));
    }
    c.state = State::Flushing;
    c.flags |= F_PEER_CLOSED;
    c.since = io.now;
    c.frag = None;
    io.mark_dirty(id.slot(), c);
}

/// Handles a request head. `Some(len)`: upgraded, frames follow at `len`.
fn handshake_step(io: &mut LoopIo, h: &dyn Handler, id: ConnId, c: &mut Connection, buf: &mut [u8]) -> Option<usize> {
    let slot = id.slot();
    let remote = c.sock.peer_addr().unwrap_or_else(|_| ([0, 0, 0, 0], 0).into());
    match handshake::parse(buf, io.server.options(), remote) {
        Parsed::Partial => {
            save_partial(c, buf, 0, 0);
            None
        }
        Parsed::Refuse(resp) => {
            io.stats.rejected += 1;
            io.respond(slot, c, &resp, false);
            None
        }
        Parsed::Plain { request } => {
            let resp = guard("on_http", || h.on_http(&request)).unwrap_or_else(|| HttpResponse::new(500, "internal error\n"));
            io.respond(slot, c, &resp, request.method() == "HEAD");
            None
        }
        Parsed::Upgrade { request, accept_key, head_len } => {
            let decision = guard("on_upgrade", || h.on_upgrade(id, &request))
                .unwrap_or_else(|| Upgrade::Reject(HttpResponse::new(500, "internal error\n")));
            match decision {
                Upgrade::Accept(a) => {
                    complete_upgrade(io, h, id, c, request, &accept_key, a);
                    Some(head_len)
                }
                Upgrade::Reject(resp) => {
                    io.stats.rejected += 1;
                    io.respond(slot, c, &resp, false);
                    None
                }
                Upgrade::Defer => {
                    c.upgrade = Some(Box::new(PendingUpgrade { request, accept_key }));
                    c.state = State::Deciding;
                    if head_len < buf.len() {
                        save_partial(c, &buf[head_len..], 0, 0);
                    }
                    None
                }
            }
        }
    }
}

fn complete_upgrade(io: &mut LoopIo, h: &dyn Handler, id: ConnId, c: &mut Connection, mut request: crate::Request, accept_key: &str, a: Accept) {
    if let Some(p) = a.subprotocol {
        if request.offered_subprotocols().any(|o| o == p) {
            request.subprotocol = Some(p.into());
        }
    }
    let mut headers = a.headers;
    let offers: Vec<&str> = request.headers().filter(|(n, _)| *n == "sec-websocket-extensions").map(|(_, v)| v).collect();
    let shared = &io.server.shared;
    if let Some((st, value)) = deflate::negotiate(&offers, &shared.opts.compression, &shared.dedicated) {
        request.extensions = Some(value.as_str().into());
        headers.push(("Sec-WebSocket-Extensions".into(), value));
        c.deflate = Some(Box::new(st));
    }
    let mut resp = Vec::with_capacity(200);
    handshake::write_101(&mut resp, accept_key, request.subprotocol(), &headers);
    io.queue_raw(id.slot(), c, Out::Owned(resp));
    c.request = Some(Arc::new(handshake::kept(request, &io.server.options().keep_headers)));
    c.user_data = a.user_data;
    c.state = State::Open;
    c.flags |= F_WAS_OPEN;
    c.last_rx = io.now;
    io.stats.opened += 1;
    let mut ctx = Conn { id, c, io };
    if guard("on_open", || h.on_open(&mut ctx)).is_none() {
        io.fail(id, c, 1011, "internal error", CloseKind::Local);
    }
}
