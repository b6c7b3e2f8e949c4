//! `websock_options`: an opaque builder the caller fills with setters and passes to
//! websock_server_new(). It holds plain copies, so one builder can start several servers
//! and may be freed right after websock_server_new() returns.

use std::ffi::{c_char, c_int};
use std::time::Duration;

use websock::{Backpressure, Compression, CompressionMode, KeepHeaders, Keepalive, Limits, SlowConsumerPolicy, TlsConfig};

use crate::error::{FfiResult, err, fail, from_core, guard, websock_result};
use crate::util::{bytes, cstr};

/// Server options (opaque). Create with websock_options_new(), free with
/// websock_options_free(). Not shared between threads while being changed.
pub struct websock_options {
    pub(crate) address: String,
    pub(crate) fd: Option<c_int>,
    pub(crate) loops: usize,
    pub(crate) driven: bool,
    pub(crate) backlog: i32,
    pub(crate) reuse_port: bool,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) origins: Vec<String>,
    pub(crate) subprotocols: Vec<String>,
    pub(crate) keep_headers: KeepHeaders,
    pub(crate) trusted_proxies: Vec<std::net::IpAddr>,
    pub(crate) limits: Limits,
    pub(crate) keepalive: Keepalive,
    pub(crate) backpressure: Backpressure,
    pub(crate) compression: Compression,
}

/// What a connection gets when its outbound queue would pass max_buffered.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum websock_slow_policy {
    /// Close the connection with the given close code (default, code 1008).
    Close = 0,
    /// Drop the message that does not fit; keep the connection.
    DropNewest = 1,
}

/// permessage-deflate (RFC 7692) mode of a server; see websock_options_set_compression().
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum websock_compression_mode {
    /// Decline every offer: no compression (the default).
    Disabled = 0,
    /// No compression window is kept between messages (the response always carries
    /// server_no_context_takeover and client_no_context_takeover): 0 bytes per idle
    /// connection; each loop keeps one decompressor (~45 KB) and, to compress, a 64 KiB
    /// table at level 1 (the default) or one zlib compressor per window size in use
    /// (~270 KB) at levels 2..9. A broadcast or by-tag send is compressed once.
    Shared = 1,
    /// Each connection keeps its compression context between messages with a window of
    /// 2^window_bits bytes (9..15: 512 B .. 32 KiB): better ratios for streams of similar
    /// messages, at up to 2 x 2^window_bits bytes per connection (our output window and
    /// the client's input window). Past max_dedicated connections new ones get SHARED.
    Dedicated = 2,
}

impl websock_options {
    fn defaults() -> websock_options {
        let d = websock::Options::default();
        websock_options {
            address: "127.0.0.1:8080".into(),
            fd: None,
            loops: d.loops,
            driven: false,
            backlog: d.backlog,
            reuse_port: d.reuse_port,
            tls: None,
            origins: Vec::new(),
            subprotocols: Vec::new(),
            keep_headers: KeepHeaders::None,
            trusted_proxies: Vec::new(),
            limits: d.limits,
            keepalive: d.keepalive,
            backpressure: d.backpressure,
            compression: d.compression,
        }
    }

    /// Core options for one server start.
    pub(crate) fn to_core(&self) -> websock::Options {
        let mut o = websock::Options::default();
        o.bind = match self.fd {
            Some(fd) => websock::Bind::Fd(fd),
            None => websock::Bind::Addr(self.address.clone()),
        };
        o.loops = self.loops;
        o.driven = self.driven;
        o.backlog = self.backlog;
        o.reuse_port = self.reuse_port;
        o.tls = self.tls.clone();
        o.origins = self.origins.clone();
        o.subprotocols = self.subprotocols.clone();
        o.keep_headers = self.keep_headers.clone();
        o.trusted_proxies = self.trusted_proxies.clone();
        o.limits = self.limits.clone();
        o.keepalive = self.keepalive.clone();
        o.backpressure = self.backpressure.clone();
        o.compression = self.compression.clone();
        o
    }
}

/// Runs a setter on a non-NULL builder.
fn with_opts(opts: *mut websock_options, f: impl FnOnce(&mut websock_options) -> FfiResult) -> websock_result {
    guard(|| {
        if opts.is_null() {
            return err(websock_result::NullPointer);
        }
        // SAFETY: a non-NULL pointer from websock_options_new(), not yet freed, and not
        // used by another thread during this call (documented contract).
        f(unsafe { &mut *opts })
    })
}

/// A new builder with the defaults: listen on 127.0.0.1:8080, one loop per CPU,
/// backlog 1024, 64 MiB message and frame limits, pings every 30 s, 120 s idle timeout,
/// 64 MiB outbound limit closing slow consumers with 1008. Returns NULL only if
/// memory is exhausted. Free with websock_options_free().
#[unsafe(no_mangle)]
pub extern "C" fn websock_options_new() -> *mut websock_options {
    std::panic::catch_unwind(|| Box::into_raw(Box::new(websock_options::defaults()))).unwrap_or(std::ptr::null_mut())
}

/// Frees a builder. NULL does nothing. Servers already started keep their options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_free(opts: *mut websock_options) {
    if !opts.is_null() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(unsafe { Box::from_raw(opts) })));
    }
}

/// Listen on this address: "127.0.0.1:8080", "[::1]:9000", "0.0.0.0:0" (port 0: any
/// free port, see websock_server_local_port()). Clears a previous websock_options_set_fd().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_address(opts: *mut websock_options, address: *const c_char) -> websock_result {
    with_opts(opts, |o| {
        let a = unsafe { cstr(address) }?;
        if a.is_empty() {
            return Err(fail(websock_result::InvalidArgument, "the address is empty"));
        }
        o.address = a.to_string();
        o.fd = None;
        Ok(())
    })
}

/// Serve on a listening socket the application bound itself. The server takes ownership
/// of the descriptor once websock_server_new() succeeds (it closes it at the end).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_fd(opts: *mut websock_options, fd: c_int) -> websock_result {
    with_opts(opts, |o| {
        if fd < 0 {
            return Err(fail(websock_result::InvalidArgument, "the listening fd must be >= 0"));
        }
        o.fd = Some(fd);
        Ok(())
    })
}

/// Number of event loops (threads); 0 = one per CPU (at most 255).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_loops(opts: *mut websock_options, loops: usize) -> websock_result {
    with_opts(opts, |o| {
        o.loops = loops;
        Ok(())
    })
}

/// Driven mode (default false): the server starts no loop threads; the application turns
/// each loop itself from a thread of its own (websock_server_loop_fd(),
/// websock_server_turn() or websock_server_drive(); see websock_driven(3)), so callbacks
/// run on that thread in the same pass that read the message and writes the replies,
/// without a thread hand-off. With 0 loops a driven server has ONE loop.
/// websock_server_run() also drives the loops of a driven server.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_driven(opts: *mut websock_options, driven: bool) -> websock_result {
    with_opts(opts, |o| {
        o.driven = driven;
        Ok(())
    })
}

/// Listen backlog (when the server binds the socket itself); at least 1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_backlog(opts: *mut websock_options, backlog: c_int) -> websock_result {
    with_opts(opts, |o| {
        if backlog < 1 {
            return Err(fail(websock_result::InvalidArgument, "backlog must be at least 1"));
        }
        o.backlog = backlog;
        Ok(())
    })
}

/// Set SO_REUSEPORT so several processes can serve one port.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_reuse_port(opts: *mut websock_options, on: bool) -> websock_result {
    with_opts(opts, |o| {
        o.reuse_port = on;
        Ok(())
    })
}

/// Serve wss:// with a PEM certificate chain (leaf first) and private key read from
/// these files now. Errors: WEBSOCK_RESULT_TLS when either cannot be loaded.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_tls_files(
    opts: *mut websock_options,
    cert_path: *const c_char,
    key_path: *const c_char,
) -> websock_result {
    with_opts(opts, |o| {
        let (c, k) = unsafe { (cstr(cert_path)?, cstr(key_path)?) };
        o.tls = Some(TlsConfig::from_pem_files(c, k).map_err(from_core)?);
        Ok(())
    })
}

/// Serve wss:// with a PEM certificate chain and private key given in memory (copied).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_tls_pem(
    opts: *mut websock_options,
    cert_pem: *const u8,
    cert_len: usize,
    key_pem: *const u8,
    key_len: usize,
) -> websock_result {
    with_opts(opts, |o| {
        let (c, k) = unsafe { (bytes(cert_pem, cert_len)?, bytes(key_pem, key_len)?) };
        o.tls = Some(TlsConfig::from_pem(c, k).map_err(from_core)?);
        Ok(())
    })
}

/// Allow this Origin: exact ("https://app.example"), "*" for any, or a scheme plus a
/// "*." host prefix matching any subdomain of example.com. With none added every origin is allowed; otherwise a request whose Origin is not
/// listed gets HTTP 403 before the upgrade.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_add_origin(opts: *mut websock_options, origin: *const c_char) -> websock_result {
    with_opts(opts, |o| {
        let v = unsafe { cstr(origin) }?;
        if v.is_empty() {
            return Err(fail(websock_result::InvalidArgument, "the origin is empty"));
        }
        o.origins.push(v.to_string());
        Ok(())
    })
}

/// Add a subprotocol the server speaks; call in preference order.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_add_subprotocol(opts: *mut websock_options, name: *const c_char) -> websock_result {
    with_opts(opts, |o| {
        let v = unsafe { cstr(name) }?;
        o.subprotocols.push(v.to_string());
        Ok(())
    })
}

/// Keep this request header (case-insensitive name such as "cookie") on the connection
/// after the upgrade. The upgrade hook always sees every header.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_keep_header(opts: *mut websock_options, name: *const c_char) -> websock_result {
    with_opts(opts, |o| {
        let v = unsafe { cstr(name) }?;
        if v.is_empty() {
            return Err(fail(websock_result::InvalidArgument, "the header name is empty"));
        }
        match &mut o.keep_headers {
            KeepHeaders::Names(n) => n.push(v.to_ascii_lowercase()),
            KeepHeaders::All => {}
            k @ KeepHeaders::None => *k = KeepHeaders::Names(vec![v.to_ascii_lowercase()]),
        }
        Ok(())
    })
}

/// Keep every header of the upgrade request on the connection.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_keep_all_headers(opts: *mut websock_options) -> websock_result {
    with_opts(opts, |o| {
        o.keep_headers = KeepHeaders::All;
        Ok(())
    })
}

/// Believe X-Forwarded-For / X-Real-IP from this proxy address ("10.0.0.1", "::1").
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_add_trusted_proxy(opts: *mut websock_options, ip: *const c_char) -> websock_result {
    with_opts(opts, |o| {
        let v = unsafe { cstr(ip) }?;
        let ip = v.parse().map_err(|_| fail(websock_result::InvalidArgument, format!("{v:?} is not an IP address")))?;
        o.trusted_proxies.push(ip);
        Ok(())
    })
}

/// Largest message (after joining fragments) and largest frame, in bytes; over either the
/// connection is closed with 1009. Both must be > 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_max_message_size(
    opts: *mut websock_options,
    max_message: usize,
    max_frame: usize,
) -> websock_result {
    with_opts(opts, |o| {
        if max_message == 0 || max_frame == 0 {
            return Err(fail(websock_result::InvalidArgument, "sizes must be positive"));
        }
        o.limits.max_message_size = max_message;
        o.limits.max_frame_size = max_frame;
        Ok(())
    })
}

/// Largest HTTP request head (answered 431 beyond it); at least 256.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_max_request_head(opts: *mut websock_options, bytes: usize) -> websock_result {
    with_opts(opts, |o| {
        if bytes < 256 {
            return Err(fail(websock_result::InvalidArgument, "max_request_head must be at least 256"));
        }
        o.limits.max_request_head = bytes;
        Ok(())
    })
}

/// Time limits in milliseconds: the whole handshake (including a deferred upgrade hook),
/// and the wait for the peer's close frame after ours. Both must be > 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_timeouts(
    opts: *mut websock_options,
    handshake_ms: u64,
    close_ms: u64,
) -> websock_result {
    with_opts(opts, |o| {
        if handshake_ms == 0 || close_ms == 0 {
            return Err(fail(websock_result::InvalidArgument, "timeouts must be positive"));
        }
        o.limits.handshake_timeout = Duration::from_millis(handshake_ms);
        o.limits.close_timeout = Duration::from_millis(close_ms);
        Ok(())
    })
}

/// Keepalive: ping after ping_interval_ms of silence, close (kind TIMEOUT, code 1006)
/// after idle_timeout_ms without traffic from the peer. 0 turns either off.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_keepalive(
    opts: *mut websock_options,
    ping_interval_ms: u64,
    idle_timeout_ms: u64,
) -> websock_result {
    with_opts(opts, |o| {
        let ms = |v: u64| (v > 0).then(|| Duration::from_millis(v));
        o.keepalive = Keepalive { ping_interval: ms(ping_interval_ms), idle_timeout: ms(idle_timeout_ms) };
        Ok(())
    })
}

/// Backpressure: a connection may queue at most max_buffered bytes; past it `policy`
/// applies (close with close_code, or drop the message). The drain event fires when the
/// queue falls back to drain_threshold (which must not exceed max_buffered).
/// `policy` is a websock_slow_policy value (an integer, so a bad value is an error, not
/// undefined behaviour); close_code is used only with WEBSOCK_SLOW_POLICY_CLOSE (1000-1003, 1007-1014,
/// 3000-4999).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_backpressure(
    opts: *mut websock_options,
    max_buffered: usize,
    drain_threshold: usize,
    policy: u32,
    close_code: u16,
) -> websock_result {
    with_opts(opts, |o| {
        if drain_threshold > max_buffered {
            return Err(fail(websock_result::InvalidArgument, "drain_threshold must not exceed max_buffered"));
        }
        let policy = match policy {
            0 => SlowConsumerPolicy::Close(close_code),
            1 => SlowConsumerPolicy::DropNewest,
            _ => return Err(fail(websock_result::InvalidArgument, "unknown websock_slow_policy")),
        };
        o.backpressure = Backpressure { max_buffered, drain_threshold, policy };
        Ok(())
    })
}

/// Checks a candidate compression setting with the core's own rules, then stores it.
fn set_compression(o: &mut websock_options, c: Compression) -> FfiResult {
    c.validate().map_err(|m| fail(websock_result::InvalidArgument, m))?;
    o.compression = c;
    Ok(())
}

/// permessage-deflate (RFC 7692). `mode` is a websock_compression_mode value (an
/// integer, so a bad value is an error, not undefined behaviour): DISABLED (default),
/// SHARED (no per-connection memory), or DEDICATED with a window of 2^window_bits bytes
/// (window_bits 9..15, ignored by the other modes). Memory cost per mode: see
/// websock_compression_mode and websock_options(3). Threshold, level and the dedicated cap
/// keep their values. Errors: INVALID_ARGUMENT (mode, window_bits).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_compression(
    opts: *mut websock_options,
    mode: u32,
    window_bits: u8,
) -> websock_result {
    with_opts(opts, |o| {
        let mode = match mode {
            0 => CompressionMode::Disabled,
            1 => CompressionMode::Shared,
            2 => CompressionMode::Dedicated { window_bits },
            _ => return Err(fail(websock_result::InvalidArgument, "unknown websock_compression_mode")),
        };
        let mut c = o.compression.clone();
        c.mode = mode;
        set_compression(o, c)
    })
}

/// Messages shorter than `bytes` are sent uncompressed (default 1024; 0 compresses every
/// message). Compressing a few dozen bytes costs more CPU than it saves on the wire.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_compression_threshold(opts: *mut websock_options, bytes: usize) -> websock_result {
    with_opts(opts, |o| {
        let mut c = o.compression.clone();
        c.threshold = bytes;
        set_compression(o, c)
    })
}

/// Compression level, zlib's scale: 1 (fastest; the default) .. 9 (smallest). For 4 KiB of
/// JSON-like text level 1 takes ~6 µs and leaves 28 % of the bytes, level 6 ~24 µs and
/// 16 %. Errors: INVALID_ARGUMENT.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_compression_level(opts: *mut websock_options, level: u8) -> websock_result {
    with_opts(opts, |o| {
        let mut c = o.compression.clone();
        c.level = level;
        set_compression(o, c)
    })
}

/// Most connections (server-wide) that may hold a DEDICATED compression context at once
/// (default 10000); the rest are negotiated as SHARED. 0 makes every connection SHARED.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_options_set_max_dedicated_compression(opts: *mut websock_options, max: usize) -> websock_result {
    with_opts(opts, |o| {
        let mut c = o.compression.clone();
        c.max_dedicated = max;
        set_compression(o, c)
    })
}
