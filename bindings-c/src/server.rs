//! Server lifecycle and the event pump: websock_server_new/free, run, event_fd,
//! dispatch, stop/shutdown, addresses and stats. Events come from core's
//! `EventQueue` (pull model); C callbacks run only inside run()/dispatch() on the
//! caller's thread. The upgrade hook, when set, is answered through
//! `Server::accept_upgrade` / `reject_upgrade` right after the callback returns.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use websock::events::{Event, EventQueue};
use websock::{CloseKind, Request};

use crate::error::{FfiResult, err, fail, from_core, guard, websock_result};
use crate::options::websock_options;
use crate::registry;
use crate::request::websock_request;
use crate::util::{copy_out, out_ptr};

/// A server handle (opaque). It is a registry key, not memory: once freed, every call
/// with it returns WEBSOCK_RESULT_STALE_HANDLE.
pub struct websock_server {
    _private: [u8; 0],
}

/// A connection id: names one connection for its whole life, valid in every thread, and
/// never reused for another connection. Once the connection is gone every call with it
/// returns WEBSOCK_RESULT_UNKNOWN_CONNECTION; that holds from its close event on (also
/// while the socket may still be lingering).
pub type websock_conn_id = u64;

/// Return value of on_upgrade: answer later with websock_accept_upgrade() or
/// websock_reject_upgrade() (from any thread, before the handshake timeout).
pub const WEBSOCK_UPGRADE_DEFER: u16 = 1;

/// Why a connection ended (argument of on_close).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum websock_close_kind {
    /// The peer sent a close frame (its code; 1005 when it gave none).
    Peer = 0,
    /// The application closed it (websock_close, websock_close_by_tag).
    Local = 1,
    /// The TCP connection ended without a closing handshake: code 1006.
    Abnormal = 2,
    /// No traffic within the idle timeout: code 1006.
    Timeout = 3,
    /// The peer broke the protocol; the server closed with 1002, 1007 or 1009.
    ProtocolError = 4,
    /// Its outbound queue passed the backpressure limit (close policy).
    SlowConsumer = 5,
    /// The server shut down: code 1001.
    Shutdown = 6,
}

impl From<CloseKind> for websock_close_kind {
    fn from(k: CloseKind) -> Self {
        match k {
            CloseKind::Peer => websock_close_kind::Peer,
            CloseKind::Local => websock_close_kind::Local,
            CloseKind::Abnormal => websock_close_kind::Abnormal,
            CloseKind::Timeout => websock_close_kind::Timeout,
            CloseKind::ProtocolError => websock_close_kind::ProtocolError,
            CloseKind::SlowConsumer => websock_close_kind::SlowConsumer,
            CloseKind::Shutdown => websock_close_kind::Shutdown,
        }
    }
}

/// The event callbacks. Zero-initialise the struct and set the ones you need (NULL ones
/// are skipped). Every callback gets the server's userdata first and the server handle
/// (usable for sends, tags, stop), and runs only inside websock_server_run() or
/// websock_server_dispatch(), on that caller's thread. Pointer arguments are borrowed:
/// valid only until the callback returns.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct websock_callbacks {
    /// The upgrade hook (optional). When set, every WebSocket upgrade that passed the
    /// protocol and origin checks waits for it: return 0 to accept, an HTTP status
    /// 400-599 to refuse the upgrade with it (other values refuse with 403), or
    /// WEBSOCK_UPGRADE_DEFER to answer later from any thread with
    /// websock_accept_upgrade() / websock_reject_upgrade(). Before answering, the
    /// websock_upgrade_* functions add response headers, pick the subprotocol or set a
    /// refusal body. `request` is borrowed (all headers visible). The handshake timeout
    /// keeps running meanwhile.
    pub on_upgrade: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            server: *mut websock_server,
            id: websock_conn_id,
            request: *const websock_request,
        ) -> u16,
    >,
    /// The connection is open; it may be sent to and tagged from now on. `request` is
    /// borrowed (only headers kept by websock_options_keep_header are visible).
    pub on_open: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            server: *mut websock_server,
            id: websock_conn_id,
            request: *const websock_request,
        ),
    >,
    /// A whole message arrived (fragments joined). `data` is borrowed, `len` bytes, not
    /// NUL-terminated; when `is_text` it is valid UTF-8.
    pub on_message: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            server: *mut websock_server,
            id: websock_conn_id,
            data: *const u8,
            len: usize,
            is_text: bool,
        ),
    >,
    /// The connection's outbound queue fell back to the drain threshold.
    pub on_drain: Option<unsafe extern "C" fn(userdata: *mut c_void, server: *mut websock_server, id: websock_conn_id)>,
    /// The connection ended; exactly once per on_open. `reason` is borrowed, `reason_len`
    /// bytes of UTF-8 followed by a NUL.
    pub on_close: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            server: *mut websock_server,
            id: websock_conn_id,
            code: u16,
            reason: *const c_char,
            reason_len: usize,
            kind: websock_close_kind,
        ),
    >,
    /// The server has shut down (after every close event); the last callback of a server.
    pub on_shutdown: Option<unsafe extern "C" fn(userdata: *mut c_void, server: *mut websock_server)>,
}

/// The userdata pointer and its destructor; the destructor runs when the server's last
/// internal reference goes (websock_server_free, or a run() that outlived it returns).
struct UserData {
    ptr: *mut c_void,
    free: Option<unsafe extern "C" fn(*mut c_void)>,
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(f) = self.free {
            // SAFETY: the caller gave this destructor for this pointer.
            unsafe { f(self.ptr) }
        }
    }
}

/// What a handle stands for.
pub(crate) struct Inner {
    pub server: websock::Server,
    pub queue: Arc<EventQueue>,
    cbs: websock_callbacks,
    userdata: UserData,
    /// Held while events are delivered (run or dispatch): one pump at a time, and a
    /// callback calling the pump again gets WEBSOCK_RESULT_BUSY instead of a deadlock.
    pump: Mutex<Vec<Event>>,
    /// Upgrades waiting for their answer (inside on_upgrade, or deferred), with the
    /// response details set so far.
    pub(crate) upgrades: Mutex<crate::upgrade::Pending>,
    /// The Shutdown event has been delivered: nothing follows.
    finished: AtomicBool,
    /// websock_server_free() ran: stop delivering.
    freed: AtomicBool,
    /// The handle value, passed to callbacks.
    handle: AtomicUsize,
}

// SAFETY: the userdata pointer is only passed back to the caller's callbacks (on the
// pump thread) and to its destructor; the C caller is responsible for what it points to,
// as the thread contract in websock.h states.
unsafe impl Send for Inner {}
unsafe impl Sync for Inner {}

/// Batch size of websock_server_run().
pub(crate) const RUN_BATCH: usize = 1024;

impl Inner {
    pub(crate) fn lock_pump(&self) -> FfiResult<MutexGuard<'_, Vec<Event>>> {
        match self.pump.try_lock() {
            Ok(g) => Ok(g),
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => err(websock_result::Busy),
        }
    }

    /// Drains up to `max` events and delivers them; returns how many were delivered.
    pub(crate) fn pump_once(&self, batch: &mut Vec<Event>, max: usize) -> usize {
        if self.freed.load(Ordering::Acquire) {
            return 0;
        }
        self.queue.drain(max, batch);
        let mut n = 0;
        let mut events = batch.drain(..);
        for ev in events.by_ref() {
            self.deliver(ev);
            n += 1;
            if self.freed.load(Ordering::Acquire) {
                break;
            }
        }
        drop(events);
        n
    }

    fn deliver(&self, ev: Event) {
        let ud = self.userdata.ptr;
        let h = self.handle.load(Ordering::Relaxed) as *mut websock_server;
        let req = |r: &Request| r as *const Request as *const websock_request;
        // SAFETY (every call below): C function pointers the caller registered, called on
        // the caller's own thread with arguments that live for the call.
        match ev {
            Event::Upgrade { id, request } => {
                crate::upgrade::begin(self, id);
                let status = match self.cbs.on_upgrade {
                    Some(f) => unsafe { f(ud, h, id.to_raw(), req(&request)) },
                    None => 0,
                };
                // The connection may have gone meanwhile (handshake timeout, EOF): then
                // there is nothing to answer, and the error is dropped.
                if status != WEBSOCK_UPGRADE_DEFER {
                    let _ = crate::upgrade::resolve(self, id, status);
                }
            }
            Event::Open { id, request } => {
                if let Some(f) = self.cbs.on_open {
                    unsafe { f(ud, h, id.to_raw(), req(&request)) }
                }
            }
            Event::Message { id, data, text } => {
                if let Some(f) = self.cbs.on_message {
                    unsafe { f(ud, h, id.to_raw(), data.as_ptr(), data.len(), text) }
                }
            }
            Event::Drain { id } => {
                if let Some(f) = self.cbs.on_drain {
                    unsafe { f(ud, h, id.to_raw()) }
                }
            }
            Event::Close { id, code, mut reason, kind } => {
                if let Some(f) = self.cbs.on_close {
                    let len = reason.len();
                    reason.push('\0');
                    unsafe { f(ud, h, id.to_raw(), code, reason.as_ptr().cast(), len, kind.into()) }
                }
            }
            Event::Shutdown => {
                self.finished.store(true, Ordering::Release);
                if let Some(f) = self.cbs.on_shutdown {
                    unsafe { f(ud, h) }
                }
            }
        }
    }

    pub(crate) fn done(&self) -> bool {
        self.finished.load(Ordering::Acquire) || self.freed.load(Ordering::Acquire)
    }
}

/// Starts a server: binds (or adopts the fd), starts the event loops (none for a driven
/// server: see websock_options_set_driven()) and returns its
/// handle in `*out`. `callbacks` is copied. `userdata` is passed to every callback and,
/// if `userdata_free` is not NULL, to it exactly once when the server is freed; on
/// failure the caller keeps ownership of userdata (the destructor is not called).
/// Errors: NULL_POINTER, INVALID_ARGUMENT (options), IO (bind, listen), TLS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_new(
    options: *const websock_options,
    callbacks: *const websock_callbacks,
    userdata: *mut c_void,
    userdata_free: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
    out: *mut *mut websock_server,
) -> websock_result {
    guard(|| {
        let out = out_ptr(out)?;
        if options.is_null() || callbacks.is_null() {
            return err(websock_result::NullPointer);
        }
        // SAFETY: non-NULL pointers to live objects for this call (contract).
        let (opts, cbs) = unsafe { (&*options, *callbacks) };
        // A driven server's events are produced during websock_server_turn() on the
        // caller's thread and dispatched right after, so its queue never signals a
        // descriptor of its own (the loop's descriptor is what the caller polls).
        let queue = if opts.driven {
            EventQueue::for_driven(cbs.on_upgrade.is_some())
        } else {
            EventQueue::new(cbs.on_upgrade.is_some())
        }
        .map_err(|e| from_core(e.into()))?;
        let server = websock::Server::start(opts.to_core(), Arc::new(queue.handler())).map_err(from_core)?;
        let inner = Arc::new(Inner {
            server,
            queue,
            cbs,
            // Built only after the start succeeded: on failure the caller keeps the userdata.
            userdata: UserData { ptr: userdata, free: userdata_free },
            pump: Mutex::new(Vec::with_capacity(RUN_BATCH)),
            upgrades: Mutex::new(Default::default()),
            finished: AtomicBool::new(false),
            freed: AtomicBool::new(false),
            handle: AtomicUsize::new(0),
        });
        let h = registry::insert(inner.clone());
        inner.handle.store(h as usize, Ordering::Relaxed);
        unsafe { *out = h };
        Ok(())
    })
}

/// Frees a server: if it is still running, shuts it down at once (connections get a
/// 1001 close; their close events are NOT delivered any more), waits for its loops to
/// end, and releases the handle. The userdata destructor runs here, or, when another
/// thread is inside websock_server_run()/dispatch() for it, when that call returns
/// (which it does promptly). A driven server's loops are turned to their end here, on
/// the calling thread (no callback runs). NULL does nothing; a stale handle is ignored.
/// Must not be called twice for one handle (the second call is detected and ignored).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_free(server: *mut websock_server) {
    if server.is_null() {
        return;
    }
    let _ = guard(|| {
        let inner = registry::remove(server)?;
        inner.freed.store(true, Ordering::Release);
        inner.server.shutdown(Duration::ZERO);
        if inner.server.is_driven() {
            crate::driven::finish_loops(&inner);
        }
        Ok(())
    });
}

/// Delivers events on the calling thread until the server has shut down (its
/// on_shutdown callback was delivered) or it is freed; then returns OK. Blocks while no
/// events are queued. On a driven server it also turns every loop (polling their
/// descriptors), so this one call serves the whole server on the calling thread.
/// Errors: BUSY if a pump is already active for this server (another thread in
/// run/dispatch/drive, or a callback calling run), or a driven loop is being turned on
/// another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_run(server: *mut websock_server) -> websock_result {
    guard(|| {
        let inner = registry::get(server)?;
        let mut batch = inner.lock_pump()?;
        if inner.server.is_driven() {
            return crate::driven::run(&inner, &mut batch);
        }
        while !inner.done() {
            if inner.queue.wait(Some(Duration::from_millis(200))) {
                inner.pump_once(&mut batch, RUN_BATCH);
            }
        }
        Ok(())
    })
}

/// The readiness descriptor for embedding in your own event loop (epoll, poll, libuv,
/// libevent): readable while events are queued; then call websock_server_dispatch().
/// Owned by the server: do not read, write or close it. Level-triggered: it stays
/// readable while events remain. A driven server has no such descriptor
/// (INVALID_ARGUMENT): poll websock_server_loop_fd() instead.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_event_fd(server: *const websock_server, out_fd: *mut c_int) -> websock_result {
    guard(|| {
        let out = out_ptr(out_fd)?;
        let inner = registry::get(server)?;
        crate::driven::not_driven(&inner, "websock_server_event_fd")?;
        unsafe { *out = inner.queue.fd() };
        Ok(())
    })
}

/// Delivers up to `max_events` queued events (0 = all queued now) on the calling thread
/// and returns at once, also when none are queued. `*out_dispatched` (may be NULL) gets
/// how many were delivered. Errors: BUSY (a pump is active: another thread, or called
/// from a callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_dispatch(
    server: *mut websock_server,
    max_events: usize,
    out_dispatched: *mut usize,
) -> websock_result {
    guard(|| {
        let inner = registry::get(server)?;
        let mut batch = inner.lock_pump()?;
        let max = if max_events == 0 { usize::MAX } else { max_events };
        let n = inner.pump_once(&mut batch, max);
        if !out_dispatched.is_null() {
            unsafe { *out_dispatched = n };
        }
        Ok(())
    })
}

/// Blocks until at least one event is queued (OK) or `timeout_ms` passes (TIMEOUT);
/// a negative timeout waits forever. Delivers nothing; follow with dispatch().
/// INVALID_ARGUMENT on a driven server (its events come only from websock_server_turn()).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_wait_events(server: *const websock_server, timeout_ms: i64) -> websock_result {
    guard(|| {
        let inner = registry::get(server)?;
        crate::driven::not_driven(&inner, "websock_server_wait_events")?;
        let t = (timeout_ms >= 0).then(|| Duration::from_millis(timeout_ms as u64));
        if inner.queue.wait(t) { Ok(()) } else { Err(fail(websock_result::Timeout, "no event within the time limit")) }
    })
}

/// `*out` = true once the on_shutdown event has been delivered (nothing follows it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_is_finished(server: *const websock_server, out: *mut bool) -> websock_result {
    guard(|| {
        let out = out_ptr(out)?;
        let inner = registry::get(server)?;
        unsafe { *out = inner.finished.load(Ordering::Acquire) };
        Ok(())
    })
}

/// Starts a graceful shutdown and returns at once (any thread, also from callbacks):
/// stop accepting, close every connection with 1001, let queued writes drain, force-close
/// after `deadline_ms`. The pump still delivers every close event and then on_shutdown;
/// websock_server_run() returns after that. Calling it again is harmless.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_stop(server: *mut websock_server, deadline_ms: u32) -> websock_result {
    guard(|| {
        let inner = registry::get(server)?;
        inner.server.begin_shutdown(Duration::from_millis(deadline_ms.into()));
        Ok(())
    })
}

/// Like websock_server_stop(), then blocks until every event loop has ended (at most
/// about `deadline_ms`). The close events stay queued for the pump. On a driven server
/// it does not block (its loops end only while they are turned): it is then
/// websock_server_stop(); keep turning until the turn reports finished.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_shutdown(server: *mut websock_server, deadline_ms: u32) -> websock_result {
    guard(|| {
        let inner = registry::get(server)?;
        inner.server.shutdown(Duration::from_millis(deadline_ms.into()));
        Ok(())
    })
}

/// The port the server listens on (useful with port 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_local_port(server: *const websock_server, out_port: *mut u16) -> websock_result {
    guard(|| {
        let out = out_ptr(out_port)?;
        let inner = registry::get(server)?;
        unsafe { *out = inner.server.local_addr().port() };
        Ok(())
    })
}

/// The bound address as text ("127.0.0.1:9001", "[::1]:9001") copied with a NUL into
/// `buf` of `cap` bytes; `*out_len` gets its length without the NUL. BUFFER_TOO_SMALL
/// sets `*out_len` to the needed length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_local_addr(
    server: *const websock_server,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> websock_result {
    guard(|| {
        let inner = registry::get(server)?;
        unsafe { copy_out(&inner.server.local_addr().to_string(), buf, cap, out_len) }
    })
}

/// Counters of a server (all loops summed, or one loop).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct websock_stats {
    /// Open WebSocket connections now.
    pub connections: u64,
    /// Connections accepted since start (including those that never upgraded).
    pub accepted: u64,
    /// Connections upgraded since start.
    pub opened: u64,
    /// Handshakes refused (bad request, origin, upgrade hook) or timed out.
    pub rejected: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Messages dropped by the DROP_NEWEST backpressure policy.
    pub dropped: u64,
    /// Connections closed for protocol errors.
    pub protocol_errors: u64,
    /// Event loops of the server (the same in the total and in each loop's entry).
    pub loops: u64,
    /// Bytes of compression history held by DEDICATED permessage-deflate contexts (as of
    /// each loop's last timer sweep, at most about a second old).
    pub compression_bytes: u64,
    /// Connections holding a DEDICATED compression context now (server-wide: the same in
    /// the total and in each loop's entry).
    pub dedicated_compression: u64,
}

fn stats_of(s: &websock::LoopStats, loops: usize, dedicated: usize) -> websock_stats {
    websock_stats {
        connections: s.connections,
        accepted: s.accepted,
        opened: s.opened,
        rejected: s.rejected,
        messages_in: s.messages_in,
        messages_out: s.messages_out,
        bytes_in: s.bytes_in,
        bytes_out: s.bytes_out,
        dropped: s.dropped,
        protocol_errors: s.protocol_errors,
        loops: loops as u64,
        compression_bytes: s.compression_bytes,
        dedicated_compression: dedicated as u64,
    }
}

/// Counters summed over every loop (published once per loop turn, so slightly behind).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_stats(server: *const websock_server, out: *mut websock_stats) -> websock_result {
    guard(|| {
        let out = out_ptr(out)?;
        let inner = registry::get(server)?;
        let s = inner.server.stats();
        unsafe { *out = stats_of(&s.total, s.loops.len(), s.dedicated_compression) };
        Ok(())
    })
}

/// Counters of loop `index` (0 .. loops-1); INVALID_ARGUMENT past the last loop.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_loop_stats(
    server: *const websock_server,
    index: usize,
    out: *mut websock_stats,
) -> websock_result {
    guard(|| {
        let out = out_ptr(out)?;
        let inner = registry::get(server)?;
        let s = inner.server.stats();
        let Some(l) = s.loops.get(index) else {
            return Err(fail(websock_result::InvalidArgument, format!("the server has {} loops", s.loops.len())));
        };
        unsafe { *out = stats_of(l, s.loops.len(), s.dedicated_compression) };
        Ok(())
    })
}
