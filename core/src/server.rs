//! The `Server` handle: start a server, and every operation that works from any thread
//! (send, close, tag, send by tag, broadcast, stats, shutdown). Operations on one
//! connection go to the loop that owns it through that loop's command queue; a call made
//! on that loop's own thread (from a handler) skips the queue's lock and wake-up.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::deflate::{DedicatedSlots, SharedMessage};
use crate::error::{Error, Result};
use crate::frame;
use crate::handler::{Accept, Handler, HttpResponse, Message};
use crate::id::ConnId;
use crate::options::{Backpressure, Bind, KeepHeaders, Keepalive, Limits, Options};
use crate::slot_table::SlotTable;
use crate::stats::{self, Stats};
use crate::tags::{self, TagIndex};
use crate::tls::TlsConfig;

/// Work for a loop, sent from any thread.
pub(crate) enum Command {
    /// A connection accepted by loop 0 for this loop (least-loaded placement).
    Adopt(mio::net::TcpStream),
    /// One message (or ping) for one connection; framed (and compressed) by its loop.
    Send { id: ConnId, opcode: u8, payload: Vec<u8> },
    Close { id: ConnId, code: u16, reason: String },
    ByTag { tag: String, msg: Arc<SharedMessage> },
    Broadcast { msg: Arc<SharedMessage> },
    CloseByTag { tag: String, code: u16, reason: String },
    Resolve { id: ConnId, decision: std::result::Result<Accept, HttpResponse> },
    Shutdown { deadline: Instant },
}

/// Commands waiting for a loop, and whether its driver holds wake-ups.
#[derive(Default)]
struct CommandQueue {
    commands: Vec<Command>,
    /// Set by [`Server::hold_wakeups`], cleared when the loop takes its commands: the
    /// driving thread will turn the loop anyway, so a wake-up would only cost a syscall
    /// and a spurious poll. Under the same lock as the commands, so a command pushed
    /// after the loop took its commands always wakes it.
    held: bool,
}

/// What other threads share with one loop.
pub(crate) struct LoopShared {
    queue: Mutex<CommandQueue>,
    wake_pending: AtomicBool,
    pub waker: mio::Waker,
    /// Connections this loop holds (for least-loaded placement).
    pub live: AtomicUsize,
    pub tags: Mutex<TagIndex>,
    pub slots: SlotTable,
    pub stats: stats::Published,
}

impl LoopShared {
    pub fn take_commands(&self, into: &mut Vec<Command>) {
        self.wake_pending.store(false, Ordering::SeqCst);
        let mut q = self.queue.lock().unwrap();
        q.held = false;
        std::mem::swap(&mut q.commands, into);
    }

    /// Queues commands from another thread and wakes the loop unless a wake-up is
    /// already on its way or the driver holds them.
    pub(crate) fn push_remote(&self, cmds: impl IntoIterator<Item = Command>) {
        let held = {
            let mut q = self.queue.lock().unwrap();
            q.commands.extend(cmds);
            q.held
        };
        if !held {
            self.wake();
        }
    }

    /// Wakes the loop unless a wake-up is already on its way.
    fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }

    pub(crate) fn hold_wakeups(&self) {
        self.queue.lock().unwrap().held = true;
    }
}

pub(crate) struct Shared {
    pub(crate) uid: usize,
    pub opts: Options,
    pub handler: Arc<dyn Handler>,
    pub loops: Vec<LoopShared>,
    pub local_addr: SocketAddr,
    pub closing: AtomicBool,
    /// Server-wide cap on connections holding a dedicated compression context.
    pub dedicated: DedicatedSlots,
    threads: Mutex<Vec<JoinHandle<()>>>,
    running: (Mutex<usize>, Condvar),
    /// With [`Options::driven`]: the loops, each turned by the application (`None` once
    /// it has finished), and their descriptors. Empty when loops run on their own threads.
    pub(crate) driven: Vec<Mutex<Option<crate::event_loop::Loop>>>,
    pub(crate) driven_fds: Vec<RawFd>,
    /// The polls of driven loops that have finished: kept open until the server is
    /// dropped, so a driver's descriptor number is never reused under its poller.
    pub(crate) retired_polls: Mutex<Vec<mio::Poll>>,
}

impl Shared {
    /// Called by each loop thread as it ends.
    pub fn loop_finished(&self) {
        let mut n = self.running.0.lock().unwrap();
        *n -= 1;
        if *n == 0 {
            let h = self.handler.clone();
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.on_shutdown()));
        }
        self.running.1.notify_all();
    }
}

thread_local! {
    /// Commands issued on a loop thread for that same loop: applied by the loop right
    /// after the current event, without a lock or a wake-up.
    pub(crate) static LOCAL: RefCell<LocalQueue> = const { RefCell::new(LocalQueue { server: 0, loop_index: usize::MAX, commands: Vec::new() }) };
}

pub(crate) struct LocalQueue {
    pub server: usize,
    pub loop_index: usize,
    pub commands: Vec<Command>,
}

static NEXT_UID: AtomicUsize = AtomicUsize::new(1);

/// A running server. Cheap to clone; every method may be called from any thread,
/// including from inside handlers.
#[derive(Clone)]
pub struct Server {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.shared.local_addr).finish()
    }
}

/// Builds a [`Server`]: `Server::builder().listen("0.0.0.0:8080").start(handler)`.
#[derive(Debug, Default)]
pub struct Builder {
    opts: Options,
}

macro_rules! setter {
    ($(#[$m:meta])* $name:ident: $t:ty => |$o:ident, $v:ident| $body:expr) => {
        $(#[$m])*
        pub fn $name(mut self, $v: $t) -> Builder {
            let $o = &mut self.opts;
            $body;
            self
        }
    };
}

impl Builder {
    setter!(/// Listen on this address (`"0.0.0.0:8080"`, `"[::]:8080"`, port 0 for any).
        listen: impl Into<String> => |o, v| o.bind = Bind::Addr(v.into()));
    setter!(/// Serve on a listener the application already bound.
        listener: std::net::TcpListener => |o, v| o.bind = Bind::Listener(v));
    setter!(/// Serve on a raw listening socket; the server takes ownership of it.
        fd: RawFd => |o, v| o.bind = Bind::Fd(v));
    setter!(/// Event loops (threads); 0 = one per available CPU.
        loops: usize => |o, v| o.loops = v);
    setter!(/// The application turns the loops from its own threads ([`Server::turn`]) instead
        /// of the server starting a thread per loop; see the `driven` module.
        driven: bool => |o, v| o.driven = v);
    setter!(backlog: i32 => |o, v| o.backlog = v);
    setter!(/// `SO_REUSEPORT`: several processes may listen on the same port.
        reuse_port: bool => |o, v| o.reuse_port = v);
    setter!(tls: TlsConfig => |o, v| o.tls = Some(v));
    setter!(origins: Vec<String> => |o, v| o.origins = v);
    setter!(subprotocols: Vec<String> => |o, v| o.subprotocols = v);
    setter!(keep_headers: KeepHeaders => |o, v| o.keep_headers = v);
    setter!(trusted_proxies: Vec<std::net::IpAddr> => |o, v| o.trusted_proxies = v);
    setter!(limits: Limits => |o, v| o.limits = v);
    setter!(max_message_size: usize => |o, v| o.limits.max_message_size = v);
    setter!(max_frame_size: usize => |o, v| o.limits.max_frame_size = v);
    setter!(handshake_timeout: Duration => |o, v| o.limits.handshake_timeout = v);
    setter!(keepalive: Keepalive => |o, v| o.keepalive = v);
    setter!(ping_interval: Option<Duration> => |o, v| o.keepalive.ping_interval = v);
    setter!(idle_timeout: Option<Duration> => |o, v| o.keepalive.idle_timeout = v);
    setter!(backpressure: Backpressure => |o, v| o.backpressure = v);
    setter!(/// permessage-deflate (off by default): `Compression::shared()`, `Compression::dedicated(12)`.
        compression: crate::Compression => |o, v| o.compression = v);

    /// Replaces every option at once.
    pub fn options(mut self, opts: Options) -> Builder {
        self.opts = opts;
        self
    }

    /// Binds, starts the loops and returns the running server.
    pub fn start(self, handler: impl Handler) -> Result<Server> {
        Server::start(self.opts, Arc::new(handler))
    }
}

fn listener_from(opts: &mut Options) -> Result<std::net::TcpListener> {
    let bind = std::mem::replace(&mut opts.bind, Bind::Addr(String::new()));
    let l = match bind {
        Bind::Addr(addr) => {
            let addr = crate::options::resolve(&addr)?;
            let sock = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
            sock.set_reuse_address(true)?;
            if opts.reuse_port {
                sock.set_reuse_port(true)?;
            }
            sock.bind(&addr.into())?;
            sock.listen(opts.backlog.max(1))?;
            sock.into()
        }
        Bind::Listener(l) => l,
        Bind::Fd(fd) => {
            if fd < 0 {
                return Err(Error::InvalidArgument("listening fd must be >= 0".into()));
            }
            // SAFETY: the caller hands us ownership of an open listening socket.
            let sock = unsafe { socket2::Socket::from_raw_fd(fd) };
            if !matches!(sock.r#type(), Ok(socket2::Type::STREAM)) {
                std::mem::forget(sock);
                return Err(Error::InvalidArgument(format!("fd {fd} is not a stream socket")));
            }
            sock.into()
        }
    };
    l.set_nonblocking(true)?;
    Ok(l)
}

impl Server {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Starts a server with these options and handler.
    pub fn start(mut opts: Options, handler: Arc<dyn Handler>) -> Result<Server> {
        opts.validate()?;
        let listener = listener_from(&mut opts)?;
        let local_addr = listener.local_addr()?;
        let n = opts.loop_count();
        let mut polls = Vec::with_capacity(n);
        let mut loops = Vec::with_capacity(n);
        for _ in 0..n {
            let poll = mio::Poll::new()?;
            let waker = mio::Waker::new(poll.registry(), crate::event_loop::WAKER)?;
            polls.push(poll);
            loops.push(LoopShared {
                queue: Mutex::new(CommandQueue::default()),
                wake_pending: AtomicBool::new(false),
                waker,
                live: AtomicUsize::new(0),
                tags: Mutex::new(TagIndex::default()),
                slots: SlotTable::new(),
                stats: Default::default(),
            });
        }
        let driven = opts.driven;
        let driven_fds = if driven {
            use std::os::fd::AsRawFd;
            polls.iter().map(|p| p.as_raw_fd()).collect()
        } else {
            Vec::new()
        };
        let dedicated = DedicatedSlots::new(opts.compression.max_dedicated);
        let shared = Arc::new(Shared {
            uid: NEXT_UID.fetch_add(1, Ordering::Relaxed),
            opts,
            handler,
            loops,
            local_addr,
            closing: AtomicBool::new(false),
            dedicated,
            threads: Mutex::new(Vec::new()),
            running: (Mutex::new(n), Condvar::new()),
            driven: if driven { (0..n).map(|_| Mutex::new(None)).collect() } else { Vec::new() },
            driven_fds,
            retired_polls: Mutex::new(Vec::new()),
        });
        let mut listener = Some(mio::net::TcpListener::from_std(listener));
        if driven {
            // The loops hold the `Shared` they are stored in; the cycle ends when each
            // loop finishes (its last turn takes it out), as a loop thread would end.
            for (i, poll) in polls.into_iter().enumerate() {
                match crate::event_loop::Loop::new(i, shared.clone(), poll, listener.take()) {
                    Ok(lp) => *shared.driven[i].lock().unwrap() = Some(lp),
                    Err(e) => {
                        // The loops made so far hold the server (and the listener): drop them.
                        for d in &shared.driven {
                            d.lock().unwrap().take();
                        }
                        return Err(e.into());
                    }
                }
            }
            return Ok(Server { shared });
        }
        let mut threads = Vec::with_capacity(n);
        for (i, poll) in polls.into_iter().enumerate() {
            let lp = crate::event_loop::Loop::new(i, shared.clone(), poll, listener.take())?;
            let uid = shared.uid;
            let t = std::thread::Builder::new().name(format!("websock-loop-{i}")).spawn(move || {
                LOCAL.with(|l| {
                    let mut l = l.borrow_mut();
                    l.server = uid;
                    l.loop_index = i;
                });
                lp.run();
            })?;
            threads.push(t);
        }
        *shared.threads.lock().unwrap() = threads;
        Ok(Server { shared })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    fn check_open(&self) -> Result<()> {
        if self.shared.closing.load(Ordering::Relaxed) {
            return Err(Error::ServerClosed);
        }
        Ok(())
    }

    fn loop_of(&self, id: ConnId) -> Result<&LoopShared> {
        let l = self.shared.loops.get(id.loop_index()).ok_or(Error::UnknownConnection)?;
        if !l.slots.is_live(id) {
            return Err(Error::UnknownConnection);
        }
        Ok(l)
    }

    /// The current thread's loop index, when it is one of this server's loop threads.
    pub(crate) fn current_loop(&self) -> Option<usize> {
        LOCAL.with(|l| {
            let l = l.borrow();
            (l.server == self.shared.uid).then_some(l.loop_index)
        })
    }

    fn push_batch(&self, loop_index: usize, cmds: Vec<Command>) {
        if self.current_loop() == Some(loop_index) {
            for c in cmds {
                self.push(loop_index, c);
            }
            return;
        }
        self.shared.loops[loop_index].push_remote(cmds);
    }

    pub(crate) fn push(&self, loop_index: usize, cmd: Command) {
        let cmd = LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            if l.server == self.shared.uid && l.loop_index == loop_index {
                l.commands.push(cmd);
                None
            } else {
                Some(cmd)
            }
        });
        if let Some(cmd) = cmd {
            self.shared.loops[loop_index].push_remote(std::iter::once(cmd));
        }
    }

    /// Is this id a live connection (handshaking or open)?
    pub fn is_live(&self, id: ConnId) -> bool {
        self.loop_of(id).is_ok()
    }

    /// Queues a text message for one connection. Never blocks; messages to one connection
    /// keep their order.
    pub fn send_text(&self, id: ConnId, text: &str) -> Result<()> {
        self.send(id, Message::Text(text))
    }

    pub fn send_binary(&self, id: ConnId, data: &[u8]) -> Result<()> {
        self.send(id, Message::Binary(data))
    }

    pub fn send(&self, id: ConnId, msg: Message<'_>) -> Result<()> {
        self.loop_of(id)?;
        let op = if msg.is_text() { frame::OP_TEXT } else { frame::OP_BINARY };
        self.push(id.loop_index(), Command::Send { id, opcode: op, payload: msg.as_bytes().to_vec() });
        Ok(())
    }

    /// Queues many messages (to one or many connections) with one lock and at most one
    /// wake-up per loop: what a binding's dispatch thread uses for the replies of a batch.
    /// Stops at the first unknown connection and reports it; messages before it are queued.
    pub fn send_many<'m>(&self, messages: impl IntoIterator<Item = (ConnId, Message<'m>)>) -> Result<()> {
        let mut per_loop: Vec<Vec<Command>> = Vec::new();
        let mut result = Ok(());
        for (id, msg) in messages {
            if let Err(e) = self.loop_of(id) {
                result = Err(e);
                break;
            }
            let op = if msg.is_text() { frame::OP_TEXT } else { frame::OP_BINARY };
            let i = id.loop_index();
            if per_loop.len() <= i {
                per_loop.resize_with(i + 1, Vec::new);
            }
            per_loop[i].push(Command::Send { id, opcode: op, payload: msg.as_bytes().to_vec() });
        }
        for (i, cmds) in per_loop.into_iter().enumerate() {
            if !cmds.is_empty() {
                self.push_batch(i, cmds);
            }
        }
        result
    }

    /// Sends a ping (payload up to 125 bytes).
    pub fn ping(&self, id: ConnId, payload: &[u8]) -> Result<()> {
        if payload.len() > 125 {
            return Err(Error::InvalidArgument("ping payload is at most 125 bytes".into()));
        }
        self.loop_of(id)?;
        self.push(id.loop_index(), Command::Send { id, opcode: frame::OP_PING, payload: payload.to_vec() });
        Ok(())
    }

    /// Starts the closing handshake with this code (1000-1003, 1007-1014, 3000-4999) and
    /// reason (cut to 123 bytes).
    pub fn close(&self, id: ConnId, code: u16, reason: &str) -> Result<()> {
        check_close_code(code)?;
        self.loop_of(id)?;
        self.push(id.loop_index(), Command::Close { id, code, reason: reason.to_string() });
        Ok(())
    }

    /// Adds a tag; `Ok(false)` if the connection already had it.
    pub fn tag(&self, id: ConnId, tag: &str) -> Result<bool> {
        tags::validate(tag)?;
        let l = self.shared.loops.get(id.loop_index()).ok_or(Error::UnknownConnection)?;
        let mut ix = l.tags.lock().unwrap();
        // Checked under the lock: a closing loop marks the slot dead before it takes this
        // lock to drop the slot's tags, so no tag can outlive its connection.
        if !l.slots.is_live(id) {
            return Err(Error::UnknownConnection);
        }
        Ok(ix.add(id.slot(), tag))
    }

    /// Removes a tag; `Ok(false)` if the connection did not have it.
    pub fn untag(&self, id: ConnId, tag: &str) -> Result<bool> {
        let l = self.shared.loops.get(id.loop_index()).ok_or(Error::UnknownConnection)?;
        let mut ix = l.tags.lock().unwrap();
        if !l.slots.is_live(id) {
            return Err(Error::UnknownConnection);
        }
        Ok(ix.remove(id.slot(), tag))
    }

    /// The connection's tags, in the order they were added.
    pub fn tags(&self, id: ConnId) -> Result<Vec<String>> {
        let l = self.shared.loops.get(id.loop_index()).ok_or(Error::UnknownConnection)?;
        let ix = l.tags.lock().unwrap();
        if !l.slots.is_live(id) {
            return Err(Error::UnknownConnection);
        }
        Ok(ix.tags_of(id.slot()))
    }

    /// Bytes queued for the connection and not yet handed to the kernel.
    pub fn buffered_amount(&self, id: ConnId) -> Result<u64> {
        let l = self.loop_of(id)?;
        Ok(l.slots.buffered(id.slot()))
    }

    /// How many connections carry the tag now.
    pub fn count_by_tag(&self, tag: &str) -> usize {
        self.shared.loops.iter().map(|l| l.tags.lock().unwrap().count(tag)).sum()
    }

    /// Sends one text message to every connection with the tag; the frame is encoded once
    /// and shared by all receivers on every loop. Returns how many carried the tag.
    pub fn send_text_by_tag(&self, tag: &str, text: &str) -> Result<usize> {
        self.send_by_tag(tag, Message::Text(text))
    }

    pub fn send_binary_by_tag(&self, tag: &str, data: &[u8]) -> Result<usize> {
        self.send_by_tag(tag, Message::Binary(data))
    }

    pub fn send_by_tag(&self, tag: &str, msg: Message<'_>) -> Result<usize> {
        self.check_open()?;
        tags::validate(tag)?;
        let mut shared: Option<Arc<SharedMessage>> = None;
        let mut total = 0;
        for (i, l) in self.shared.loops.iter().enumerate() {
            let n = l.tags.lock().unwrap().count(tag);
            if n == 0 {
                continue;
            }
            total += n;
            let m = shared.get_or_insert_with(|| shared_message(msg)).clone();
            self.push(i, Command::ByTag { tag: tag.to_string(), msg: m });
        }
        Ok(total)
    }

    /// Sends to every open connection. Returns the number of connections open at the call.
    pub fn broadcast(&self, msg: Message<'_>) -> Result<usize> {
        self.check_open()?;
        let m = shared_message(msg);
        let mut total = 0;
        for (i, l) in self.shared.loops.iter().enumerate() {
            total += l.stats.load().connections as usize;
            self.push(i, Command::Broadcast { msg: m.clone() });
        }
        Ok(total)
    }

    pub fn broadcast_text(&self, text: &str) -> Result<usize> {
        self.broadcast(Message::Text(text))
    }

    pub fn broadcast_binary(&self, data: &[u8]) -> Result<usize> {
        self.broadcast(Message::Binary(data))
    }

    /// Closes every connection that carries the tag. Returns how many did.
    pub fn close_by_tag(&self, tag: &str, code: u16, reason: &str) -> Result<usize> {
        check_close_code(code)?;
        tags::validate(tag)?;
        let mut total = 0;
        for (i, l) in self.shared.loops.iter().enumerate() {
            let n = l.tags.lock().unwrap().count(tag);
            if n > 0 {
                total += n;
                self.push(i, Command::CloseByTag { tag: tag.to_string(), code, reason: reason.to_string() });
            }
        }
        Ok(total)
    }

    /// Completes an upgrade that the handler deferred ([`crate::Upgrade::Defer`]).
    pub fn accept_upgrade(&self, id: ConnId, accept: Accept) -> Result<()> {
        self.loop_of(id)?;
        self.push(id.loop_index(), Command::Resolve { id, decision: Ok(accept) });
        Ok(())
    }

    /// Refuses a deferred upgrade with this HTTP response.
    pub fn reject_upgrade(&self, id: ConnId, response: HttpResponse) -> Result<()> {
        self.loop_of(id)?;
        self.push(id.loop_index(), Command::Resolve { id, decision: Err(response) });
        Ok(())
    }

    /// Counters of every loop and their sum (published once per loop turn).
    pub fn stats(&self) -> Stats {
        let loops: Vec<_> = self.shared.loops.iter().map(|l| l.stats.load()).collect();
        let mut total = stats::LoopStats::default();
        for l in &loops {
            total.add(l);
        }
        Stats { total, loops, dedicated_compression: self.shared.dedicated.in_use() }
    }

    /// Starts a graceful shutdown and returns at once: stop accepting, close every
    /// connection with 1001, let queued writes drain, force-close at `deadline`. Every open
    /// connection still gets its close event.
    pub fn begin_shutdown(&self, deadline: Duration) {
        if self.shared.closing.swap(true, Ordering::SeqCst) {
            return;
        }
        let at = Instant::now() + deadline;
        for i in 0..self.shared.loops.len() {
            self.push(i, Command::Shutdown { deadline: at });
        }
    }

    /// Graceful shutdown that waits until every loop has finished. Called from a handler
    /// (a loop thread), or on a driven server (whose loops end only while the application
    /// turns them), it only starts the shutdown, as waiting there would deadlock.
    pub fn shutdown(&self, deadline: Duration) {
        self.begin_shutdown(deadline);
        if self.current_loop().is_none() && !self.is_driven() {
            self.wait();
        }
    }

    /// Blocks until the server has shut down. On a driven server, never call it on a
    /// thread that drives one of its loops.
    pub fn wait(&self) {
        {
            let mut n = self.shared.running.0.lock().unwrap();
            while *n > 0 {
                n = self.shared.running.1.wait(n).unwrap();
            }
        }
        let threads = std::mem::take(&mut *self.shared.threads.lock().unwrap());
        for t in threads {
            let _ = t.join();
        }
    }

    /// Like [`Server::wait`], with a time limit; true if the server has shut down.
    pub fn wait_timeout(&self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        let mut n = self.shared.running.0.lock().unwrap();
        while *n > 0 {
            let now = Instant::now();
            if now >= end {
                return false;
            }
            n = self.shared.running.1.wait_timeout(n, end - now).unwrap().0;
        }
        true
    }

    /// Has shutdown begun?
    pub fn is_closing(&self) -> bool {
        self.shared.closing.load(Ordering::Relaxed)
    }

    pub(crate) fn options(&self) -> &Options {
        &self.shared.opts
    }
}

/// A message for many receivers: framed once, and compressed once per distinct
/// compression setting, by whichever loop needs that form first.
fn shared_message(msg: Message<'_>) -> Arc<SharedMessage> {
    let op = if msg.is_text() { frame::OP_TEXT } else { frame::OP_BINARY };
    Arc::new(SharedMessage::new(op, msg.as_bytes()))
}

pub(crate) fn check_close_code(code: u16) -> Result<()> {
    if frame::is_sendable_close_code(code) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "close code {code} may not be sent (use 1000-1003, 1007-1014 or 3000-4999)"
        )))
    }
}
