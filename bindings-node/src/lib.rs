//! The native layer of the Node binding: a napi-rs shim over `websock::Server`, started
//! with a `websock::events::EventQueue`. Whole batches of events cross into JS as ONE flat
//! array per call (crossing costs ~250 ns per call; arrays of 64+ cost 60-160 ns per event
//! here), in one of three ways (the `events` option):
//! - "driven" (default with `loops` 0 or 1, `poll::Driver`): the server has no loop
//!   thread; libuv on the JS thread polls the loop's own descriptor and turns the loop
//!   there (`websock::Server::turn`), handing each turn's events to JS and writing the
//!   replies in the next turn: one thread, no hand-off per message;
//! - "poll" (default with `loops` > 1, `poll::Poller`): loop threads; libuv on the JS
//!   thread watches the queue's readiness descriptor and drains it when readable;
//! - "tsfn": loop threads; a pump thread waits on the queue and calls one threadsafe
//!   function per batch, waiting for JS to finish a batch before it drains the next one.
//!
//! No JS ever runs on a loop thread (in driven mode the JS thread turns the loop, and JS
//! runs between turns, never inside one).
//!
//! Everything user-facing (EventEmitter, `Connection`, Promises, types) lives in
//! `lib/index.js`; this file only converts types, errors and ids.
//!
//! Connection ids cross as JS numbers, exactly: the core's ids fit in 53 bits
//! (`ConnId::to_raw() < 2^53`), and every integer below 2^53 is a double, so the id goes
//! out as `raw as f64` and comes back as `v as u64` with no packing and no loss.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::sys;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use websock::events::{Event, EventQueue};
use websock::{Accept, CompressionMode, ConnId, HttpResponse, KeepHeaders, Message, Options, SlowConsumerPolicy};

// ----- ids -----

/// 2^53: ids are below it (core guarantee), so `f64` holds each one exactly.
const ID_LIMIT: f64 = 9_007_199_254_740_992.0;

fn id_to_js(id: ConnId) -> f64 {
    let raw = id.to_raw();
    debug_assert!(raw < 1 << 53, "core id {raw:#x} does not fit in 53 bits");
    raw as f64
}

/// A JS number back to a core id; `None` for anything that cannot be an id (negative,
/// fractional, NaN, 2^53 or more). Other integers are passed on: the core reports an id
/// that names no live connection as unknown.
fn id_from_js(v: f64) -> Option<ConnId> {
    if !(v >= 0.0 && v < ID_LIMIT && v.fract() == 0.0) {
        return None;
    }
    Some(ConnId::from_raw(v as u64))
}

// ----- errors: one mapping, "[kind] message"; lib/index.js turns kind into err.code -----

fn to_napi(e: websock::Error) -> Error {
    let status = match e {
        websock::Error::InvalidArgument(_) => Status::InvalidArg,
        _ => Status::GenericFailure,
    };
    Error::new(status, format!("[{}] {}", e.kind_name(), e))
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, format!("[invalid_argument] {}", msg.into()))
}

// ----- events into JS -----

/// Event kinds as the JS dispatcher reads them from the flat batch array.
const K_TEXT: u32 = 0;
const K_BINARY: u32 = 1;
const K_OPEN: u32 = 2;
const K_CLOSE: u32 = 3;
const K_DRAIN: u32 = 4;
const K_UPGRADE: u32 = 5;
const K_SHUTDOWN: u32 = 6;
/// Binary message whose payload is `pool[start..end]` (the batch's slot 0).
const K_BINARY_PACKED: u32 = 7;
/// Binary payloads up to this size share the batch's pool Buffer; larger ones get their own
/// (a view keeps the whole pool alive, which must stay small).
const PACK_MAX: usize = 4096;
/// At most this many bytes per pool (what a retained view can keep alive, like one chunk
/// of a Node socket); payloads past it get their own Buffer.
const POOL_MAX: usize = 64 * 1024;

/// Does a binary payload of `len` bytes go into a pool that holds `used` bytes so far?
/// (Both passes of `batch_to_js` ask in the same order, so they agree.)
fn packs(used: usize, len: usize) -> bool {
    len <= PACK_MAX && used + len <= POOL_MAX
}

/// One batch of events, turned into a single flat JS array on the JS thread:
/// `[pool, meta, …values]`: see `batch_to_js`. Per event, `meta` (numbers) holds kind and
/// id (shutdown: kind only) plus, packed binary: start, end in the pool; close: code; and
/// the values: text: the string; binary: a Buffer; open/upgrade: 8 request slots; close:
/// reason, why.
pub struct Batch(Vec<Event>);

mod raw_send;

/// What `Handle.sender()` returns: `raw_send`'s function, bound to the handle's server.
pub struct SendFn(websock::Server);

impl ToNapiValue for SendFn {
    unsafe fn to_napi_value(raw_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        unsafe { raw_send::create(raw_env, &val.0) }.map_err(|_| Error::new(Status::GenericFailure, "[internal] could not create send()".to_string()))
    }
}

impl ToNapiValue for Batch {
    unsafe fn to_napi_value(raw_env: sys::napi_env, mut val: Self) -> Result<sys::napi_value> {
        unsafe { batch_to_js(raw_env, &mut val.0) }
    }
}

/// Moves the events of `events` into one new flat JS array (leaving `events` empty, its
/// capacity kept for the next batch).
/// # Safety
/// On the JS thread of `raw_env`, inside a handle scope.
unsafe fn batch_to_js(raw_env: sys::napi_env, events: &mut Vec<Event>) -> Result<sys::napi_value> {
    // Layout: [pool, meta, …values]. `meta` is a Float64Array of the numbers (kind, id,
    // and per kind: pool start/end, close code), written straight into its memory; the
    // array holds only what is not a number. An echo of small binary messages thus puts
    // no JS value in the array at all (each napi_set_element costs ~50-100 ns).
    // `pool`: one Buffer holding every small binary payload of the batch, or null; JS
    // gives each message a view of it (`subarray`): a Buffer per message would cost a
    // malloc, a backing store and its sweeping each.
    let mut packed = 0usize;
    let mut nmeta = 0usize;
    for e in events.iter() {
        nmeta += match e {
            Event::Message { data, text: false, .. } if packs(packed, data.len()) => {
                packed += data.len();
                4
            }
            Event::Close { .. } => 3,
            Event::Shutdown => 1,
            _ => 2,
        };
    }
    let env = Env::from_raw(raw_env);
    let mut arr = env.create_array(2)?;
    let mut pool: *mut u8 = std::ptr::null_mut();
    if packed > 0 {
        let mut value = std::ptr::null_mut();
        let mut data = std::ptr::null_mut();
        // SAFETY: JS thread (caller's contract); `data` receives `packed` writable bytes.
        check_status!(unsafe { sys::napi_create_buffer(raw_env, packed, &mut data, &mut value) }, "napi_create_buffer")?;
        pool = data as *mut u8;
        arr.set(0, unsafe { Unknown::from_raw_unchecked(raw_env, value) })?;
    } else {
        arr.set(0, Null)?;
    }
    let meta: &mut [f64] = {
        let mut ab = std::ptr::null_mut();
        let mut data = std::ptr::null_mut();
        let mut ta = std::ptr::null_mut();
        // SAFETY: JS thread; the ArrayBuffer is 8-aligned memory of `nmeta` doubles, kept
        // alive by the typed array that the batch array references (inside this scope).
        unsafe {
            check_status!(sys::napi_create_arraybuffer(raw_env, nmeta * 8, &mut data, &mut ab), "napi_create_arraybuffer")?;
            check_status!(sys::napi_create_typedarray(raw_env, sys::TypedarrayType::float64_array, nmeta, ab, 0, &mut ta), "napi_create_typedarray")?;
            arr.set(1, Unknown::from_raw_unchecked(raw_env, ta))?;
            if nmeta == 0 { &mut [] } else { std::slice::from_raw_parts_mut(data as *mut f64, nmeta) }
        }
    };
    let mut m = 0usize;
    let mut i = 2u32;
    let mut at = 0usize;
    let mut put = |m: &mut usize, vals: &[f64]| {
        meta[*m..*m + vals.len()].copy_from_slice(vals);
        *m += vals.len();
    };
    for ev in events.drain(..) {
        match ev {
            Event::Message { id, data, text } => {
                if text {
                    put(&mut m, &[K_TEXT as f64, id_to_js(id)]);
                    // SAFETY: the core validated every text message as UTF-8.
                    arr.set(i, unsafe { std::str::from_utf8_unchecked(&data) })?;
                    i += 1;
                } else if packs(at, data.len()) {
                    // SAFETY: the pool has room for every packed payload (summed above).
                    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), pool.add(at), data.len()) };
                    put(&mut m, &[K_BINARY_PACKED as f64, id_to_js(id), at as f64, (at + data.len()) as f64]);
                    at += data.len();
                } else {
                    put(&mut m, &[K_BINARY as f64, id_to_js(id)]);
                    arr.set(i, &BufferSlice::copy_from(&env, &data)?)?;
                    i += 1;
                }
            }
            Event::Open { id, request } => {
                put(&mut m, &[K_OPEN as f64, id_to_js(id)]);
                i = put_request(&mut arr, i, &request)?;
            }
            Event::Upgrade { id, request } => {
                put(&mut m, &[K_UPGRADE as f64, id_to_js(id)]);
                i = put_request(&mut arr, i, &request)?;
            }
            Event::Close { id, code, reason, kind } => {
                put(&mut m, &[K_CLOSE as f64, id_to_js(id), code as f64]);
                arr.set(i, reason.as_str())?;
                arr.set(i + 1, kind.as_str())?;
                i += 2;
            }
            Event::Drain { id } => put(&mut m, &[K_DRAIN as f64, id_to_js(id)]),
            Event::Shutdown => put(&mut m, &[K_SHUTDOWN as f64]),
        }
    }
    debug_assert_eq!(m, nmeta);
    unsafe { Array::to_napi_value(raw_env, arr) }
}

/// A request as 8 batch slots: path, query, remote address, remote port, subprotocol or
/// null, flat headers or null when none are kept, client IP or null when it is the peer's,
/// agreed extensions (the 101's `Sec-WebSocket-Extensions`) or null.
/// Flat slots rather than an object: an idle connection keeps what JS builds from them,
/// and each extra object, array or string costs bytes per connection (budget: 1 KB).
fn put_request(arr: &mut Array<'_>, i: u32, r: &websock::Request) -> Result<u32> {
    arr.set(i, r.path())?;
    arr.set(i + 1, r.query())?;
    let ip = r.remote_addr().ip();
    arr.set(i + 2, ip.to_string())?;
    arr.set(i + 3, r.remote_addr().port() as u32)?;
    arr.set(i + 4, r.subprotocol())?;
    let mut headers = r.headers().peekable();
    if headers.peek().is_some() {
        arr.set(i + 5, headers.flat_map(|(n, v)| [n, v]).collect::<Vec<&str>>())?;
    } else {
        arr.set(i + 5, Null)?;
    }
    if r.client_ip() != ip {
        arr.set(i + 6, r.client_ip().to_string())?;
    } else {
        arr.set(i + 6, Null)?;
    }
    arr.set(i + 7, r.extensions())?;
    Ok(i + 8)
}

// ----- options -----

/// Options as the JS layer hands them over (already validated for type there; times in ms,
/// sizes in bytes; `0` turns a keepalive timer off).
#[napi(object)]
pub struct NativeOptions {
    pub host: Option<String>,
    pub port: Option<u32>,
    pub fd: Option<i32>,
    pub tls_cert: Option<Buffer>,
    pub tls_key: Option<Buffer>,
    pub origins: Option<Vec<String>>,
    pub subprotocols: Option<Vec<String>>,
    /// Header names to keep on the connection; `keep_all_headers` keeps every one.
    pub keep_headers: Option<Vec<String>>,
    pub keep_all_headers: Option<bool>,
    pub trusted_proxies: Option<Vec<String>>,
    pub loops: Option<u32>,
    pub backlog: Option<i32>,
    pub reuse_port: Option<bool>,
    pub max_message_size: Option<f64>,
    pub max_frame_size: Option<f64>,
    pub max_request_head: Option<f64>,
    pub handshake_timeout_ms: Option<f64>,
    pub close_timeout_ms: Option<f64>,
    pub ping_interval_ms: Option<f64>,
    pub idle_timeout_ms: Option<f64>,
    pub max_buffered: Option<f64>,
    pub drain_threshold: Option<f64>,
    /// "close" (default) or "drop".
    pub slow_consumer: Option<String>,
    pub slow_consumer_code: Option<u32>,
    /// permessage-deflate: "disabled" (default), "shared" or "dedicated" (needs
    /// `compression_window_bits`, 9..15).
    pub compression_mode: Option<String>,
    pub compression_window_bits: Option<u32>,
    pub compression_threshold: Option<f64>,
    pub compression_level: Option<u32>,
    pub compression_max_dedicated: Option<f64>,
    /// Defer every upgrade to JS (the `upgrade` hook).
    pub upgrade_hook: bool,
    /// How batches reach JS: "poll" (default: libuv polls the queue's fd on the JS thread)
    /// or "tsfn" (a pump thread calls one threadsafe function). See BENCH-NOTES.md.
    pub events: Option<String>,
}

fn size(v: Option<f64>, name: &str) -> Result<Option<usize>> {
    match v {
        None => Ok(None),
        Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_991.0 => Ok(Some(x as usize)),
        Some(x) => Err(invalid(format!("{name} must be a non-negative integer, got {x}"))),
    }
}

fn millis(v: Option<f64>, name: &str) -> Result<Option<Duration>> {
    Ok(size(v, name)?.map(|ms| Duration::from_millis(ms as u64)))
}

fn build_options(o: &NativeOptions) -> Result<Options> {
    let mut opts = Options::default();
    if let Some(fd) = o.fd {
        opts.bind = websock::Bind::Fd(fd);
    } else {
        let host = o.host.clone().unwrap_or_else(|| "127.0.0.1".into());
        let port = o.port.unwrap_or(0);
        if port > 65535 {
            return Err(invalid(format!("port must be 0-65535, got {port}")));
        }
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
        opts.bind = websock::Bind::Addr(format!("{host}:{port}"));
    }
    match (&o.tls_cert, &o.tls_key) {
        (Some(c), Some(k)) => opts.tls = Some(websock::TlsConfig::from_pem(c, k).map_err(to_napi)?),
        (None, None) => {}
        _ => return Err(invalid("tls needs both cert and key")),
    }
    if let Some(v) = &o.origins {
        opts.origins = v.clone();
    }
    if let Some(v) = &o.subprotocols {
        opts.subprotocols = v.clone();
    }
    if o.keep_all_headers == Some(true) {
        opts.keep_headers = KeepHeaders::All;
    } else if let Some(v) = &o.keep_headers {
        opts.keep_headers = KeepHeaders::Names(v.clone());
    }
    if let Some(v) = &o.trusted_proxies {
        opts.trusted_proxies = v
            .iter()
            .map(|s| s.parse().map_err(|_| invalid(format!("trustedProxies: {s:?} is not an IP address"))))
            .collect::<Result<_>>()?;
    }
    if let Some(v) = o.loops {
        opts.loops = v as usize;
    }
    if let Some(v) = o.backlog {
        opts.backlog = v;
    }
    if let Some(v) = o.reuse_port {
        opts.reuse_port = v;
    }
    let l = &mut opts.limits;
    if let Some(v) = size(o.max_message_size, "maxMessageSize")? {
        l.max_message_size = v;
    }
    if let Some(v) = size(o.max_frame_size, "maxFrameSize")? {
        l.max_frame_size = v;
    }
    if let Some(v) = size(o.max_request_head, "maxRequestHead")? {
        l.max_request_head = v;
    }
    if let Some(v) = millis(o.handshake_timeout_ms, "handshakeTimeout")? {
        l.handshake_timeout = v;
    }
    if let Some(v) = millis(o.close_timeout_ms, "closeTimeout")? {
        l.close_timeout = v;
    }
    if let Some(v) = millis(o.ping_interval_ms, "pingInterval")? {
        opts.keepalive.ping_interval = (!v.is_zero()).then_some(v);
    }
    if let Some(v) = millis(o.idle_timeout_ms, "idleTimeout")? {
        opts.keepalive.idle_timeout = (!v.is_zero()).then_some(v);
    }
    let b = &mut opts.backpressure;
    if let Some(v) = size(o.max_buffered, "maxBuffered")? {
        b.max_buffered = v;
    }
    if let Some(v) = size(o.drain_threshold, "drainThreshold")? {
        b.drain_threshold = v;
    }
    match o.slow_consumer.as_deref() {
        None | Some("close") => {
            if let Some(code) = o.slow_consumer_code {
                b.policy = SlowConsumerPolicy::Close(code as u16);
            }
        }
        Some("drop") => b.policy = SlowConsumerPolicy::DropNewest,
        Some(p) => return Err(invalid(format!("backpressure.policy must be 'close' or 'drop', got {p:?}"))),
    }
    let z = &mut opts.compression;
    z.mode = match o.compression_mode.as_deref() {
        None | Some("disabled") => CompressionMode::Disabled,
        Some("shared") => CompressionMode::Shared,
        Some("dedicated") => match o.compression_window_bits {
            // Out-of-range values reach the core's own check (9..=15) unchanged.
            Some(w) => CompressionMode::Dedicated { window_bits: w.min(255) as u8 },
            None => return Err(invalid("compression.windowBits (9..15) is required with mode 'dedicated'")),
        },
        Some(m) => return Err(invalid(format!("compression.mode must be 'disabled', 'shared' or 'dedicated', got {m:?}"))),
    };
    if let Some(v) = size(o.compression_threshold, "compression.threshold")? {
        z.threshold = v;
    }
    if let Some(v) = size(o.compression_max_dedicated, "compression.maxDedicated")? {
        z.max_dedicated = v;
    }
    if let Some(v) = o.compression_level {
        z.level = v.min(255) as u8;
    }
    Ok(opts)
}

// ----- the handle registry: how worker threads reach a server -----

static NEXT_HANDLE: AtomicU32 = AtomicU32::new(1);
static REGISTRY: LazyLock<Mutex<HashMap<u32, websock::Server>>> = LazyLock::new(Default::default);

// ----- the server (main thread: lifecycle and the event pump) -----

type BatchFn = ThreadsafeFunction<Vec<Event>, (), Batch, Status, false, false, 0>;

/// Set while JS is processing a batch; the pump waits for it to clear before draining.
#[derive(Default)]
struct InFlight {
    busy: Mutex<bool>,
    cv: Condvar,
}

/// Most events per batch (a bound on one JS turn; the rest follow at once).
const MAX_BATCH: usize = 1024;

#[napi]
pub struct NativeServer {
    server: websock::Server,
    tsfn: Arc<Mutex<Option<BatchFn>>>,
    poller: Option<*mut poll::Poller>,
    driver: Option<*mut poll::Driver>,
    /// Set when the poller's or driver's memory is freed (after its libuv handles closed),
    /// so a late `setRef` does not touch it.
    gone: Rc<Cell<bool>>,
    handle_id: u32,
}

/// How events reach JS (the `events` option).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One loop turned on the JS thread itself (default for `loops` 0 or 1).
    Driven,
    /// Loop threads; libuv polls the queue's descriptor on the JS thread (default for
    /// `loops` > 1).
    Poll,
    /// Loop threads; a pump thread calls a threadsafe function.
    Tsfn,
}

#[napi]
impl NativeServer {
    /// Binds, starts the loops (or the driver) and the event path. `on_events` receives
    /// flat batch arrays.
    #[napi(factory, ts_args_type = "options: NativeOptions, onEvents: (batch: any[]) => void")]
    pub fn start(env: Env, options: NativeOptions, on_events: Function<'_, Batch, ()>) -> Result<NativeServer> {
        let mut opts = build_options(&options)?;
        let mode = match options.events.as_deref() {
            None | Some("") => {
                if options.loops.unwrap_or(0) <= 1 { Mode::Driven } else { Mode::Poll }
            }
            Some("driven") => Mode::Driven,
            Some("poll") | Some("thread") => Mode::Poll,
            Some("tsfn") => Mode::Tsfn,
            Some(m) => return Err(invalid(format!("events must be 'driven', 'poll' or 'tsfn', got {m:?}"))),
        };
        let handle_id = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
        let gone = Rc::new(Cell::new(false));
        if mode == Mode::Driven {
            if options.loops.unwrap_or(0) > 1 {
                return Err(invalid("events 'driven' turns ONE loop on the JS thread: use loops 0 or 1, or events 'poll' for loop threads"));
            }
            opts.driven = true;
            let queue = EventQueue::for_driven(options.upgrade_hook).map_err(|e| to_napi(e.into()))?;
            let server = websock::Server::start(opts, Arc::new(queue.handler())).map_err(to_napi)?;
            REGISTRY.lock().unwrap().insert(handle_id, server.clone());
            // Nothing happens before the first turn, so no event can be missed.
            let driver = match unsafe { poll::Driver::start(env.raw(), on_events.raw(), server.clone(), queue, handle_id, gone.clone()) } {
                Ok(d) => d,
                Err(e) => {
                    REGISTRY.lock().unwrap().remove(&handle_id);
                    poll::Driver::abandon(&server);
                    return Err(e);
                }
            };
            return Ok(NativeServer { server, tsfn: Arc::new(Mutex::new(None)), poller: None, driver: Some(driver), gone, handle_id });
        }
        let queue = EventQueue::new(options.upgrade_hook).map_err(|e| to_napi(e.into()))?;
        if mode == Mode::Poll {
            // Created before the server starts, so no event can be missed; freed by itself
            // after the shutdown event.
            let poller = unsafe { poll::Poller::start(env.raw(), on_events.raw(), queue.clone(), handle_id, gone.clone())? };
            let server = match websock::Server::start(opts, Arc::new(queue.handler())) {
                Ok(s) => s,
                Err(e) => {
                    unsafe { poll::Poller::stop(poller) };
                    return Err(to_napi(e));
                }
            };
            REGISTRY.lock().unwrap().insert(handle_id, server.clone());
            return Ok(NativeServer { server, tsfn: Arc::new(Mutex::new(None)), poller: Some(poller), driver: None, gone, handle_id });
        }
        let tsfn: BatchFn = on_events
            .build_threadsafe_function::<Vec<Event>>()
            .callee_handled::<false>()
            .build_callback(|ctx| Ok(Batch(ctx.value)))?;
        let server = websock::Server::start(opts, Arc::new(queue.handler())).map_err(to_napi)?;
        let tsfn = Arc::new(Mutex::new(Some(tsfn)));
        REGISTRY.lock().unwrap().insert(handle_id, server.clone());
        {
            let (server, tsfn) = (server.clone(), tsfn.clone());
            std::thread::Builder::new()
                .name("websock-node-pump".into())
                .spawn(move || pump(server, queue, tsfn, handle_id))
                .map_err(|e| to_napi(e.into()))?;
        }
        Ok(NativeServer { server, tsfn, poller: None, driver: None, gone, handle_id })
    }

    /// "driven", "poll" or "tsfn": the event path this server uses.
    #[napi(getter)]
    pub fn events(&self) -> &'static str {
        if self.driver.is_some() {
            "driven"
        } else if self.poller.is_some() {
            "poll"
        } else {
            "tsfn"
        }
    }

    /// The bound port.
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.server.local_addr().port() as u32
    }

    /// The bound IP address.
    #[napi(getter)]
    pub fn address(&self) -> String {
        self.server.local_addr().ip().to_string()
    }

    /// The id a worker thread passes to `Handle.attach`.
    #[napi(getter)]
    pub fn handle_id(&self) -> u32 {
        self.handle_id
    }

    /// Graceful shutdown: close everything with 1001, force after `timeout_ms`. The last
    /// batch ends with a shutdown event, after which the threadsafe function is released.
    #[napi]
    pub fn begin_shutdown(&self, timeout_ms: f64) {
        let ms = if timeout_ms.is_finite() && timeout_ms >= 0.0 { timeout_ms as u64 } else { 0 };
        self.server.begin_shutdown(Duration::from_millis(ms));
    }

    /// Stop (false) or start again (true) keeping the process alive for this server.
    #[napi(js_name = "setRef")]
    #[allow(deprecated)]
    pub fn set_ref(&self, env: Env, keep_alive: bool) -> Result<()> {
        // SAFETY: JS thread; the poller/driver lives until its handles have closed, after
        // which `gone` is set.
        if let (Some(p), false) = (self.poller, self.gone.get()) {
            unsafe { poll::Poller::set_ref(p, keep_alive) };
        }
        if let (Some(d), false) = (self.driver, self.gone.get()) {
            unsafe { poll::Driver::set_ref(d, keep_alive) };
        }
        if let Some(t) = self.tsfn.lock().unwrap().as_mut() {
            if keep_alive { t.refer(&env)? } else { t.unref(&env)? }
        }
        Ok(())
    }
}

/// The pump: wait for events, wait until JS is done with the previous batch, drain
/// everything queued, hand it over. Ends after the shutdown event, releasing the
/// threadsafe function so Node can exit.
fn pump(server: websock::Server, queue: Arc<EventQueue>, tsfn: Arc<Mutex<Option<BatchFn>>>, handle_id: u32) {
    let flight = Arc::new(InFlight::default());
    let mut finished = false;
    while !finished {
        {
            let mut busy = flight.busy.lock().unwrap();
            while *busy {
                busy = flight.cv.wait(busy).unwrap();
            }
        }
        queue.wait(None);
        let mut batch = Vec::with_capacity(64);
        queue.drain(MAX_BATCH, &mut batch);
        finished = batch.iter().any(|e| matches!(e, Event::Shutdown));
        if finished {
            REGISTRY.lock().unwrap().remove(&handle_id);
        }
        if batch.is_empty() {
            continue;
        }
        *flight.busy.lock().unwrap() = true;
        let f = flight.clone();
        let status = match tsfn.lock().unwrap().as_ref() {
            Some(t) => t.call_with_return_value(batch, ThreadsafeFunctionCallMode::NonBlocking, move |_, _| {
                *f.busy.lock().unwrap() = false;
                f.cv.notify_one();
                Ok(())
            }),
            None => Status::Closing,
        };
        if status != Status::Ok {
            // The JS environment is going away: nobody will take events any more.
            server.begin_shutdown(Duration::ZERO);
            break;
        }
    }
    // Dropping the last reference releases the threadsafe function (pitfall 7).
    tsfn.lock().unwrap().take();
}

// ----- the handle: every any-thread operation, usable from the main thread and workers -----

#[napi(object)]
pub struct NativeStats {
    pub connections: f64,
    pub accepted: f64,
    pub opened: f64,
    pub rejected: f64,
    pub messages_in: f64,
    pub messages_out: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub dropped: f64,
    pub protocol_errors: f64,
    /// Bytes of compression history (dedicated permessage-deflate windows) held now, as of
    /// each loop's last timer sweep.
    pub compression_bytes: f64,
    /// Connections holding a dedicated compression context now.
    pub dedicated_compression: f64,
    pub loops: u32,
}

fn pairs(flat: Option<Vec<String>>) -> Result<Vec<(String, String)>> {
    let flat = flat.unwrap_or_default();
    if flat.len() % 2 != 0 {
        return Err(invalid("headers must come as name, value pairs"));
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(n), Some(v)) = (it.next(), it.next()) {
        if n.is_empty() || n.bytes().any(|b| b <= b' ' || b == b':' || b >= 0x7f) || v.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(invalid(format!("bad response header {n:?}")));
        }
        out.push((n, v));
    }
    Ok(out)
}

/// A view of a running server. `NativeServer` owns the lifecycle; a `Handle` sends,
/// closes, tags and counts, from the main thread or any worker (`Handle.attach(id)`).
#[napi]
pub struct Handle {
    server: websock::Server,
}

/// `Ok(false)` for a connection that is gone; errors for bad arguments only.
fn gone_is_false(r: websock::Result<()>) -> Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(websock::Error::UnknownConnection) | Err(websock::Error::ServerClosed) => Ok(false),
        Err(e) => Err(to_napi(e)),
    }
}

#[napi]
impl Handle {
    /// The handle of a server started in this process (any thread), by `handleId`.
    #[napi(factory)]
    pub fn attach(handle_id: u32) -> Result<Handle> {
        match REGISTRY.lock().unwrap().get(&handle_id) {
            Some(s) => Ok(Handle { server: s.clone() }),
            None => Err(Error::new(Status::GenericFailure, format!("[server_closed] no running server has handle {handle_id}"))),
        }
    }

    /// `send(id, data)` as a plain function bound to this server (see `raw_send.rs`): what
    /// `conn.send` calls.
    #[napi(ts_return_type = "(id: number, data: string | ArrayBufferView) => boolean")]
    pub fn sender(&self) -> SendFn {
        SendFn(self.server.clone())
    }

    /// Sends a batch given as one flat array `[id, data, id, data, …]` (string → text,
    /// Buffer → binary) through `Server::send_many`: one lock and at most one wake-up per
    /// loop for the whole batch instead of one napi call and one lock per message. What
    /// `lib/index.js` uses for the replies made during one dispatch call (`sendBatch`).
    /// Connections that are gone are skipped. Returns how many messages were queued.
    #[napi(ts_args_type = "items: Array<number | string | Buffer>")]
    pub fn send_many(&self, env: Env, items: Array) -> Result<u32> {
        enum Payload {
            /// Offset and length in `text`.
            Text(usize, usize),
            /// A Buffer of `items`, alive for this call.
            Binary(*const u8, usize),
        }
        let raw_env = env.raw();
        let pairs = items.len() / 2;
        let mut ids = Vec::with_capacity(pairs as usize);
        let mut payloads = Vec::with_capacity(pairs as usize);
        // Every text payload lands in one buffer (one allocation for the batch).
        let mut text: Vec<u8> = Vec::new();
        for k in 0..pairs {
            let id: f64 = items.get(2 * k)?.unwrap_or(f64::NAN);
            let Some(v) = items.get::<Unknown>(2 * k + 1)? else { continue };
            let p = if v.get_type()? == ValueType::String {
                let mut len = 0usize;
                // SAFETY: `v` is a string value of this env (checked above); the second call
                // writes at most `len + 1` bytes into space reserved for them.
                unsafe {
                    sys::napi_get_value_string_utf8(raw_env, v.raw(), std::ptr::null_mut(), 0, &mut len);
                    let start = text.len();
                    text.resize(start + len + 1, 0);
                    let mut written = 0usize;
                    sys::napi_get_value_string_utf8(raw_env, v.raw(), text.as_mut_ptr().add(start).cast(), len + 1, &mut written);
                    text.truncate(start + written);
                    Payload::Text(start, written)
                }
            } else {
                // SAFETY: value of this env; TypeError if it is not a Buffer/TypedArray.
                let b = unsafe { BufferSlice::from_napi_value(raw_env, v.raw()) }
                    .map_err(|_| invalid("sendMany: data must be a string or a Buffer"))?;
                Payload::Binary(b.as_ptr(), b.len())
            };
            if let Some(id) = id_from_js(id) {
                ids.push(id);
                payloads.push(p);
            }
        }
        let msgs: Vec<(ConnId, Message<'_>)> = ids
            .into_iter()
            .zip(&payloads)
            .map(|(id, p)| {
                let m = match *p {
                    // SAFETY: napi wrote UTF-8 (JS strings are converted, lone surrogates
                    // replaced), and `text` is not touched while `msgs` lives.
                    Payload::Text(at, len) => Message::Text(unsafe { std::str::from_utf8_unchecked(&text[at..at + len]) }),
                    // SAFETY: the Buffer is referenced by `items`, alive for this call.
                    Payload::Binary(ptr, len) => Message::Binary(unsafe { std::slice::from_raw_parts(ptr, len) }),
                };
                (id, m)
            })
            .collect();
        // send_many stops at the first unknown connection (having queued those before it):
        // count what it took and go on after the one that failed.
        let mut rest = &msgs[..];
        let mut queued = 0usize;
        while !rest.is_empty() {
            let mut taken = 0usize;
            let r = self.server.send_many(rest.iter().copied().inspect(|_| taken += 1));
            match r {
                Ok(()) => {
                    queued += rest.len();
                    break;
                }
                Err(websock::Error::UnknownConnection) => {
                    queued += taken - 1;
                    rest = &rest[taken..];
                }
                Err(websock::Error::ServerClosed) => break,
                Err(e) => return Err(to_napi(e)),
            }
        }
        Ok(queued as u32)
    }

    #[napi]
    pub fn ping(&self, id: f64, data: BufferSlice) -> Result<bool> {
        let Some(id) = id_from_js(id) else { return Ok(false) };
        gone_is_false(self.server.ping(id, &data))
    }

    #[napi]
    pub fn close(&self, id: f64, code: u32, reason: String) -> Result<bool> {
        let Some(id) = id_from_js(id) else { return Ok(false) };
        if code > 0xffff {
            return Err(invalid(format!("close code {code} is out of range")));
        }
        gone_is_false(self.server.close(id, code as u16, &reason))
    }

    #[napi]
    pub fn is_live(&self, id: f64) -> bool {
        id_from_js(id).is_some_and(|id| self.server.is_live(id))
    }

    /// 1 added, 0 already there, -1 connection gone.
    #[napi]
    pub fn tag(&self, id: f64, tag: String) -> Result<i32> {
        let Some(id) = id_from_js(id) else { return Ok(-1) };
        match self.server.tag(id, &tag) {
            Ok(added) => Ok(added as i32),
            Err(websock::Error::UnknownConnection) => Ok(-1),
            Err(e) => Err(to_napi(e)),
        }
    }

    #[napi]
    pub fn untag(&self, id: f64, tag: String) -> Result<i32> {
        let Some(id) = id_from_js(id) else { return Ok(-1) };
        match self.server.untag(id, &tag) {
            Ok(removed) => Ok(removed as i32),
            Err(websock::Error::UnknownConnection) => Ok(-1),
            Err(e) => Err(to_napi(e)),
        }
    }

    #[napi]
    pub fn tags(&self, id: f64) -> Vec<String> {
        id_from_js(id).and_then(|id| self.server.tags(id).ok()).unwrap_or_default()
    }

    #[napi]
    pub fn buffered_amount(&self, id: f64) -> f64 {
        id_from_js(id).and_then(|id| self.server.buffered_amount(id).ok()).unwrap_or(0) as f64
    }

    #[napi]
    pub fn send_text_by_tag(&self, tag: String, text: String) -> Result<u32> {
        self.server.send_by_tag(&tag, Message::Text(&text)).map(|n| n as u32).map_err(to_napi)
    }

    #[napi]
    pub fn send_binary_by_tag(&self, tag: String, data: BufferSlice) -> Result<u32> {
        self.server.send_by_tag(&tag, Message::Binary(&data)).map(|n| n as u32).map_err(to_napi)
    }

    #[napi]
    pub fn broadcast_text(&self, text: String) -> Result<u32> {
        self.server.broadcast(Message::Text(&text)).map(|n| n as u32).map_err(to_napi)
    }

    #[napi]
    pub fn broadcast_binary(&self, data: BufferSlice) -> Result<u32> {
        self.server.broadcast(Message::Binary(&data)).map(|n| n as u32).map_err(to_napi)
    }

    #[napi]
    pub fn close_by_tag(&self, tag: String, code: u32, reason: String) -> Result<u32> {
        if code > 0xffff {
            return Err(invalid(format!("close code {code} is out of range")));
        }
        self.server.close_by_tag(&tag, code as u16, &reason).map(|n| n as u32).map_err(to_napi)
    }

    #[napi]
    pub fn count_by_tag(&self, tag: String) -> u32 {
        self.server.count_by_tag(&tag) as u32
    }

    /// Completes a deferred upgrade; headers are flat name, value pairs.
    #[napi]
    pub fn accept_upgrade(&self, id: f64, subprotocol: Option<String>, headers: Option<Vec<String>>) -> Result<bool> {
        let Some(id) = id_from_js(id) else { return Ok(false) };
        let accept = Accept { subprotocol, headers: pairs(headers)?, user_data: None };
        gone_is_false(self.server.accept_upgrade(id, accept))
    }

    #[napi]
    pub fn reject_upgrade(&self, id: f64, status: u32, body: BufferSlice, headers: Option<Vec<String>>) -> Result<bool> {
        let Some(id) = id_from_js(id) else { return Ok(false) };
        if !(400..=599).contains(&status) {
            return Err(invalid(format!("rejection status must be 400-599, got {status}")));
        }
        let mut resp = HttpResponse::new(status as u16, body.to_vec());
        resp.headers = pairs(headers)?;
        gone_is_false(self.server.reject_upgrade(id, resp))
    }

    #[napi]
    pub fn stats(&self) -> NativeStats {
        let s = self.server.stats();
        let t = s.total;
        NativeStats {
            connections: t.connections as f64,
            accepted: t.accepted as f64,
            opened: t.opened as f64,
            rejected: t.rejected as f64,
            messages_in: t.messages_in as f64,
            messages_out: t.messages_out as f64,
            bytes_in: t.bytes_in as f64,
            bytes_out: t.bytes_out as f64,
            dropped: t.dropped as f64,
            protocol_errors: t.protocol_errors as f64,
            compression_bytes: t.compression_bytes as f64,
            dedicated_compression: s.dedicated_compression as f64,
            loops: s.loops.len() as u32,
        }
    }

    #[napi]
    pub fn is_closing(&self) -> bool {
        self.server.is_closing()
    }
}

// ----- the JS thread's libuv: poll mode and the driven loop -----

mod poll {
    //! Two ways of serving events on the JS thread through its own libuv loop (libuv's
    //! functions are exported by the node binary itself, as for every addon that uses
    //! libuv). Both call the JS dispatcher with `napi_make_callback` (which also runs
    //! nextTicks and microtasks after each batch).
    //!
    //! - [`Driver`] (driven mode, the default): the server has no loop thread. A
    //!   `uv_poll_t` watches the loop's own epoll descriptor (`Server::loop_fd`) and a
    //!   `uv_timer_t` stands for `Turn::wait`; either one runs [`cycle`]: turn the loop
    //!   (read, stage events, write), hand the events to JS with wake-ups held, turn again
    //!   at once (which writes the replies JS queued and reads what came meanwhile), until
    //!   a turn yields no events. One thread does read → JS → write, as uWS.js does.
    //! - [`Poller`] (poll mode, loop threads): a `uv_poll_t` watches the event queue's
    //!   readiness descriptor; the loop thread's one-byte write wakes Node directly.

    use super::*;
    use std::ffi::{c_int, c_void};
    use std::ptr;

    const UV_POLL: c_int = 8;
    const UV_TIMER: c_int = 13;
    const UV_READABLE: c_int = 1;

    unsafe extern "C" {
        fn uv_handle_size(kind: c_int) -> usize;
        fn uv_poll_init(lp: *mut c_void, handle: *mut c_void, fd: c_int) -> c_int;
        fn uv_poll_start(handle: *mut c_void, events: c_int, cb: unsafe extern "C" fn(*mut c_void, c_int, c_int)) -> c_int;
        fn uv_poll_stop(handle: *mut c_void) -> c_int;
        fn uv_timer_init(lp: *mut c_void, handle: *mut c_void) -> c_int;
        fn uv_timer_start(handle: *mut c_void, cb: unsafe extern "C" fn(*mut c_void), timeout: u64, repeat: u64) -> c_int;
        fn uv_timer_stop(handle: *mut c_void) -> c_int;
        fn uv_close(handle: *mut c_void, cb: unsafe extern "C" fn(*mut c_void));
        fn uv_ref(handle: *mut c_void);
        fn uv_unref(handle: *mut c_void);
        // Node-API 8 (Node >= 14.10), exported by node itself; declared here rather than
        // through napi-rs's "napi8" feature.
        fn napi_add_async_cleanup_hook(
            env: sys::napi_env,
            hook: unsafe extern "C" fn(*mut c_void, *mut c_void),
            arg: *mut c_void,
            remove_handle: *mut *mut c_void,
        ) -> sys::napi_status;
        fn napi_remove_async_cleanup_hook(remove_handle: *mut c_void) -> sys::napi_status;
    }

    /// Registers `hook(_, owner)` to run when the env is torn down (a worker thread ends,
    /// the process exits) while our libuv handles are open: Node then waits for
    /// `napi_remove_async_cleanup_hook`, which `free` calls once the handles have closed.
    /// Without it a worker whose server was never closed aborts in `uv_loop_close`.
    /// Returns the handle to remove (null if registering failed: nothing to remove).
    unsafe fn add_cleanup_hook(env: sys::napi_env, hook: unsafe extern "C" fn(*mut c_void, *mut c_void), owner: *mut c_void) -> *mut c_void {
        let mut h = ptr::null_mut();
        if unsafe { napi_add_async_cleanup_hook(env, hook, owner, &mut h) } != sys::Status::napi_ok {
            return ptr::null_mut();
        }
        h
    }

    unsafe fn remove_cleanup_hook(h: *mut c_void) {
        if !h.is_null() {
            unsafe { napi_remove_async_cleanup_hook(h) };
        }
    }

    fn check(status: sys::napi_status, what: &str) -> Result<()> {
        if status == sys::Status::napi_ok { Ok(()) } else { Err(Error::new(Status::GenericFailure, format!("[io] {what} failed ({status})"))) }
    }

    fn uv_check(rc: c_int, what: &str) -> Result<()> {
        if rc == 0 { Ok(()) } else { Err(Error::new(Status::GenericFailure, format!("[io] {what} failed (libuv {rc})"))) }
    }

    /// A zeroed libuv handle of `kind` whose first field (`data`) points to `owner`.
    unsafe fn new_handle<T>(kind: c_int, owner: *mut T) -> (*mut c_void, std::alloc::Layout) {
        unsafe {
            let layout = std::alloc::Layout::from_size_align(uv_handle_size(kind), 16).unwrap();
            let handle = std::alloc::alloc_zeroed(layout) as *mut c_void;
            assert!(!handle.is_null(), "out of memory");
            *(handle as *mut *mut T) = owner;
            (handle, layout)
        }
    }

    /// What calls the JS dispatcher: a reference to it and an async context.
    struct Callback {
        env: sys::napi_env,
        func: sys::napi_ref,
        async_ctx: sys::napi_async_context,
    }

    impl Callback {
        /// # Safety
        /// On the JS thread of `env`, with `func` a JS function of that env.
        unsafe fn new(env: sys::napi_env, func: sys::napi_value) -> Result<Callback> {
            unsafe {
                let mut r = ptr::null_mut();
                check(sys::napi_create_reference(env, func, 1, &mut r), "napi_create_reference")?;
                let mut name = ptr::null_mut();
                check(sys::napi_create_string_utf8(env, c"websock".as_ptr(), 7, &mut name), "napi_create_string_utf8")?;
                let mut async_ctx = ptr::null_mut();
                check(sys::napi_async_init(env, ptr::null_mut(), name, &mut async_ctx), "napi_async_init")?;
                Ok(Callback { env, func: r, async_ctx })
            }
        }

        /// Calls the dispatcher with `batch` as one flat array (emptying `batch`). An
        /// exception from JS becomes an uncaught exception, as for any libuv callback.
        /// # Safety
        /// JS thread, from a libuv callback (no JS on the stack).
        unsafe fn deliver(&self, batch: &mut Vec<Event>) {
            unsafe {
                let env = self.env;
                let mut scope = ptr::null_mut();
                sys::napi_open_handle_scope(env, &mut scope);
                let mut func = ptr::null_mut();
                sys::napi_get_reference_value(env, self.func, &mut func);
                // napi_make_callback wants an object as `this`.
                let mut recv = ptr::null_mut();
                sys::napi_get_global(env, &mut recv);
                match batch_to_js(env, batch) {
                    Ok(arr) => {
                        let mut result = ptr::null_mut();
                        let st = sys::napi_make_callback(env, self.async_ctx, recv, func, 1, &arr, &mut result);
                        if st == sys::Status::napi_pending_exception {
                            let mut exc = ptr::null_mut();
                            sys::napi_get_and_clear_last_exception(env, &mut exc);
                            sys::napi_fatal_exception(env, exc);
                        }
                    }
                    Err(e) => {
                        batch.clear();
                        eprintln!("websock: could not convert an event batch: {e}");
                    }
                }
                sys::napi_close_handle_scope(env, scope);
            }
        }

        /// # Safety
        /// JS thread.
        unsafe fn release(&self) {
            unsafe {
                sys::napi_delete_reference(self.env, self.func);
                sys::napi_async_destroy(self.env, self.async_ctx);
            }
        }
    }

    // ----- driven mode -----

    /// Most batches one libuv callback hands to JS before it lets the rest of Node run
    /// (other sockets, timers): the cycle then continues from a 0 ms timer.
    const MAX_ROUNDS: u32 = 32;

    pub struct Driver {
        cb: Callback,
        server: websock::Server,
        queue: Arc<EventQueue>,
        handle_id: u32,
        /// `uv_poll_t` on `loop_fd(0)` and `uv_timer_t` for `Turn::wait`; their `data`
        /// fields point back here.
        poll: *mut c_void,
        poll_layout: std::alloc::Layout,
        timer: *mut c_void,
        timer_layout: std::alloc::Layout,
        /// Events of the current turn (capacity reused).
        batch: Vec<Event>,
        /// Inside `cycle` (a guard: JS cannot re-enter it, but a nested libuv run could).
        busy: bool,
        closing: bool,
        /// Handles not yet closed; the driver is freed when both are.
        open_handles: u8,
        gone: Rc<Cell<bool>>,
        /// The env-teardown hook (`add_cleanup_hook`), removed when freed.
        cleanup: *mut c_void,
    }

    impl Driver {
        /// Starts driving loop 0 of the driven `server` on the JS thread.
        /// # Safety
        /// On the JS thread of `env`, with `func` a JS function of that env.
        pub unsafe fn start(
            env: sys::napi_env,
            func: sys::napi_value,
            server: websock::Server,
            queue: Arc<EventQueue>,
            handle_id: u32,
            gone: Rc<Cell<bool>>,
        ) -> Result<*mut Driver> {
            unsafe {
                let fd = server.loop_fd(0).ok_or_else(|| invalid("the server is not driven"))?;
                let mut lp = ptr::null_mut();
                check(sys::napi_get_uv_event_loop(env, &mut lp), "napi_get_uv_event_loop")?;
                let cb = Callback::new(env, func)?;
                let d = Box::into_raw(Box::new(Driver {
                    cb,
                    server,
                    queue,
                    handle_id,
                    poll: ptr::null_mut(),
                    poll_layout: std::alloc::Layout::new::<u8>(),
                    timer: ptr::null_mut(),
                    timer_layout: std::alloc::Layout::new::<u8>(),
                    batch: Vec::with_capacity(256),
                    busy: false,
                    closing: false,
                    open_handles: 0,
                    gone,
                    cleanup: ptr::null_mut(),
                }));
                let dr = &mut *d;
                (dr.poll, dr.poll_layout) = new_handle(UV_POLL, d);
                (dr.timer, dr.timer_layout) = new_handle(UV_TIMER, d);
                let init = uv_check(uv_poll_init(lp as *mut c_void, dr.poll, fd), "uv_poll_init");
                if init.is_ok() {
                    dr.open_handles += 1;
                }
                let init = init.and_then(|_| uv_check(uv_timer_init(lp as *mut c_void, dr.timer), "uv_timer_init"));
                if init.is_ok() {
                    dr.open_handles += 1;
                }
                // The first turn at once (from the timer): the loop's own timers start there.
                let started = init
                    .and_then(|_| uv_check(uv_poll_start(dr.poll, UV_READABLE, on_loop_readable), "uv_poll_start"))
                    .and_then(|_| uv_check(uv_timer_start(dr.timer, on_timer, 0, 0), "uv_timer_start"));
                if let Err(e) = started {
                    // The server is left to the caller (`abandon`); `gone` is set when the
                    // handles have closed.
                    Driver::stop(d);
                    return Err(e);
                }
                dr.cleanup = add_cleanup_hook(env, on_driver_env_cleanup, d as *mut c_void);
                Ok(d)
            }
        }

        /// Ends a driven server nobody will drive (a failed start): shut it down and turn
        /// it here until it finishes, so its loop (which holds the server) is freed.
        pub fn abandon(server: &websock::Server) {
            server.begin_shutdown(Duration::ZERO);
            for _ in 0..1000 {
                match server.turn(0) {
                    Ok(t) if !t.finished => std::thread::sleep(Duration::from_millis(1)),
                    _ => return,
                }
            }
        }

        /// Stops both handles and frees everything once libuv has closed them.
        /// # Safety
        /// JS thread; `d` from `start`, not freed.
        unsafe fn stop(d: *mut Driver) {
            unsafe {
                let dr = &mut *d;
                if dr.closing {
                    return;
                }
                dr.closing = true;
                let handles = dr.open_handles;
                if handles == 0 {
                    Driver::free(d);
                    return;
                }
                uv_poll_stop(dr.poll);
                uv_close(dr.poll, on_driver_handle_closed);
                if handles == 2 {
                    uv_timer_stop(dr.timer);
                    uv_close(dr.timer, on_driver_handle_closed);
                }
            }
        }

        unsafe fn free(d: *mut Driver) {
            unsafe {
                let dr = Box::from_raw(d);
                dr.gone.set(true);
                dr.cb.release();
                remove_cleanup_hook(dr.cleanup);
                std::alloc::dealloc(dr.poll as *mut u8, dr.poll_layout);
                std::alloc::dealloc(dr.timer as *mut u8, dr.timer_layout);
            }
        }

        /// # Safety
        /// JS thread; `d` from `start`, not freed.
        pub unsafe fn set_ref(d: *mut Driver, keep_alive: bool) {
            unsafe {
                let dr = &*d;
                // After the shutdown the handles are closing (they no longer hold the loop).
                if dr.closing {
                    return;
                }
                for h in [dr.poll, dr.timer] {
                    if keep_alive { uv_ref(h) } else { uv_unref(h) }
                }
            }
        }
    }

    /// The env is going away with the server still running: take the loop out of libuv
    /// (before its descriptor closes), then shut the server down here, turning it to the
    /// end without JS (connections are dropped at once), so its socket and memory go too.
    unsafe extern "C" fn on_driver_env_cleanup(_handle: *mut c_void, arg: *mut c_void) {
        unsafe {
            let d = arg as *mut Driver;
            let server = (*d).server.clone();
            if !(*d).closing {
                REGISTRY.lock().unwrap().remove(&(*d).handle_id);
                Driver::stop(d);
                Driver::abandon(&server);
            }
            // Either way `free` runs from the last close callback and removes the hook.
        }
    }

    unsafe extern "C" fn on_driver_handle_closed(handle: *mut c_void) {
        unsafe {
            let d = *(handle as *mut *mut Driver);
            (*d).open_handles -= 1;
            if (*d).open_handles == 0 {
                Driver::free(d);
            }
        }
    }

    unsafe extern "C" fn on_loop_readable(handle: *mut c_void, _status: c_int, _events: c_int) {
        unsafe { cycle(*(handle as *mut *mut Driver)) }
    }

    unsafe extern "C" fn on_timer(handle: *mut c_void) {
        unsafe { cycle(*(handle as *mut *mut Driver)) }
    }

    /// `Turn::wait` as a libuv timeout: whole milliseconds, rounded up (a timer that fires
    /// a little late is harmless; one that fires early costs an empty turn).
    fn timeout_ms(wait: Duration) -> u64 {
        let ms = wait.as_millis() as u64;
        if Duration::from_millis(ms) < wait { ms + 1 } else { ms }
    }

    /// The driving cycle of `websock::driven`: turn; if the turn staged events, hold
    /// wake-ups, give them to JS and turn again (that turn writes the replies); else
    /// re-arm the timer with the turn's `wait` and go back to libuv.
    unsafe fn cycle(d: *mut Driver) {
        unsafe {
            let dr = &mut *d;
            if dr.closing || dr.busy {
                return;
            }
            dr.busy = true;
            let mut rounds = 0u32;
            // `None`: the loop has finished.
            let next: Option<u64> = loop {
                let t = match dr.server.turn(0) {
                    Ok(t) => t,
                    Err(e) => {
                        // Not expected (only re-entry or a wrong index fail); try later.
                        eprintln!("websock: turn failed: {e}");
                        break Some(1);
                    }
                };
                if t.finished {
                    // The loop has ended: take its descriptor out of libuv NOW, before JS
                    // runs (the batch below resolves close() promises). The core keeps the
                    // descriptor open until the server is dropped, so its number is not
                    // reused meanwhile; stopping here still keeps a later server's poll on
                    // a reused number safe. The handles close, and this driver is freed,
                    // after the callback returns.
                    Driver::stop(d);
                }
                dr.queue.drain(usize::MAX, &mut dr.batch);
                rounds += 1;
                if !dr.batch.is_empty() {
                    if t.finished {
                        // The batch ends with Shutdown: workers can no longer attach.
                        REGISTRY.lock().unwrap().remove(&dr.handle_id);
                    } else {
                        // JS's sends are applied by the next turn, right below: no wake-up.
                        dr.server.hold_wakeups(0);
                    }
                    let mut batch = std::mem::take(&mut dr.batch);
                    dr.cb.deliver(&mut batch);
                    dr.batch = batch;
                } else if !t.wait.is_zero() || t.finished {
                    break (!t.finished).then(|| timeout_ms(t.wait));
                }
                if t.finished {
                    break None;
                }
                if rounds >= MAX_ROUNDS {
                    // Let Node serve its other work; the timer turns (and writes) next.
                    break Some(0);
                }
            };
            dr.busy = false;
            match next {
                Some(ms) if !dr.closing => {
                    uv_timer_start(dr.timer, on_timer, ms, 0);
                }
                _ => Driver::stop(d), // no-op when stopped above
            }
        }
    }

    // ----- poll mode (loop threads) -----

    pub struct Poller {
        cb: Callback,
        queue: Arc<EventQueue>,
        handle_id: u32,
        /// `uv_handle_size(UV_POLL)` bytes; its first field (`data`) points back here.
        handle: *mut c_void,
        layout: std::alloc::Layout,
        closing: bool,
        gone: Rc<Cell<bool>>,
        /// The env-teardown hook (`add_cleanup_hook`), removed when freed.
        cleanup: *mut c_void,
    }

    impl Poller {
        /// # Safety
        /// On the JS thread of `env`, with `func` a JS function of that env.
        pub unsafe fn start(
            env: sys::napi_env,
            func: sys::napi_value,
            queue: Arc<EventQueue>,
            handle_id: u32,
            gone: Rc<Cell<bool>>,
        ) -> Result<*mut Poller> {
            unsafe {
                let mut lp = ptr::null_mut();
                check(sys::napi_get_uv_event_loop(env, &mut lp), "napi_get_uv_event_loop")?;
                let cb = Callback::new(env, func)?;
                let p = Box::into_raw(Box::new(Poller {
                    cb,
                    queue,
                    handle_id,
                    handle: ptr::null_mut(),
                    layout: std::alloc::Layout::new::<u8>(),
                    closing: false,
                    gone,
                    cleanup: ptr::null_mut(),
                }));
                ((*p).handle, (*p).layout) = new_handle(UV_POLL, p);
                let fd = (*p).queue.fd();
                if let Err(e) = uv_check(uv_poll_init(lp as *mut c_void, (*p).handle, fd), "uv_poll_init")
                    .and_then(|_| uv_check(uv_poll_start((*p).handle, UV_READABLE, on_readable), "uv_poll_start"))
                {
                    // Not started: nothing of libuv refers to the handle yet beyond init,
                    // so close it the normal way.
                    Poller::stop(p);
                    return Err(e);
                }
                (*p).cleanup = add_cleanup_hook(env, on_poller_env_cleanup, p as *mut c_void);
                Ok(p)
            }
        }

        /// Stops watching and frees everything once libuv has closed the handle.
        /// # Safety
        /// JS thread; `p` from `start`, not yet stopped.
        pub unsafe fn stop(p: *mut Poller) {
            unsafe {
                if (*p).closing {
                    return;
                }
                (*p).closing = true;
                uv_poll_stop((*p).handle);
                uv_close((*p).handle, on_closed);
            }
        }

        /// # Safety
        /// JS thread; `p` from `start`, not freed.
        pub unsafe fn set_ref(p: *mut Poller, keep_alive: bool) {
            unsafe {
                // After the shutdown the handle is closing (it no longer holds the loop).
                if (*p).closing {
                    return;
                }
                if keep_alive { uv_ref((*p).handle) } else { uv_unref((*p).handle) }
            }
        }
    }

    unsafe extern "C" fn on_closed(handle: *mut c_void) {
        unsafe {
            let p = Box::from_raw(*(handle as *mut *mut Poller));
            p.gone.set(true);
            p.cb.release();
            remove_cleanup_hook(p.cleanup);
            std::alloc::dealloc(p.handle as *mut u8, p.layout);
        }
    }

    /// The env is going away with the server still running: begin its shutdown (its loop
    /// threads close every connection at once and end) and close the handle.
    unsafe extern "C" fn on_poller_env_cleanup(_handle: *mut c_void, arg: *mut c_void) {
        unsafe {
            let p = arg as *mut Poller;
            if let Some(s) = REGISTRY.lock().unwrap().remove(&(*p).handle_id) {
                s.begin_shutdown(Duration::ZERO);
            }
            Poller::stop(p); // no-op when already stopped; `free` removes the hook
        }
    }

    unsafe extern "C" fn on_readable(handle: *mut c_void, _status: c_int, _events: c_int) {
        unsafe {
            let p = *(handle as *mut *mut Poller);
            let pr = &mut *p;
            if pr.closing {
                return;
            }
            let mut batch = Vec::with_capacity(64);
            pr.queue.drain(MAX_BATCH, &mut batch);
            if batch.is_empty() {
                return;
            }
            let finished = batch.iter().any(|e| matches!(e, Event::Shutdown));
            if finished {
                REGISTRY.lock().unwrap().remove(&pr.handle_id);
            }
            pr.cb.deliver(&mut batch);
            if finished {
                Poller::stop(p);
            }
        }
    }
}
