//! The one result enum of the C API, its strings, the thread-local detailed message,
//! and the guard every entry point runs in (a Rust panic becomes
//! `WEBSOCK_RESULT_PANIC`, never an unwind across the C boundary).

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Result of every fallible call. `WEBSOCK_RESULT_OK` is 0; errors start at 9001 so they
/// are never mistaken for an errno, a bool or a WebSocket close code.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum websock_result {
    Ok = 0,
    /// A required pointer argument was NULL.
    NullPointer = 9001,
    /// A string argument (text message, tag, reason, address) was not valid UTF-8.
    InvalidUtf8 = 9002,
    /// An argument was rejected (close code, tag length, option value …); see
    /// websock_last_error_message().
    InvalidArgument = 9003,
    /// The connection id names no live connection (closed, never opened, other server).
    UnknownConnection = 9004,
    /// The server is shutting down or has shut down and takes no more work.
    ServerClosed = 9005,
    /// The websock_server handle was freed (use after free is detected, not a crash).
    StaleHandle = 9006,
    /// The TLS certificate or key could not be loaded.
    Tls = 9007,
    /// An operating-system error (bind, listen, fd); see websock_last_error_message().
    Io = 9008,
    /// websock_server_run()/dispatch() is already running for this server (another
    /// thread, or a callback calling it again).
    Busy = 9009,
    /// A wait ended at its time limit with nothing to report.
    Timeout = 9010,
    /// The requested item (header, cookie, subprotocol) is not present.
    NotFound = 9011,
    /// The caller's buffer is too small; the needed size is in the length out-parameter.
    BufferTooSmall = 9012,
    /// A bug inside the library was caught at the boundary (a Rust panic).
    Panic = 9013,
}

pub(crate) type FfiResult<T = ()> = Result<T, websock_result>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records this thread's detailed message for the error being returned.
pub(crate) fn fail(code: websock_result, msg: impl Into<String>) -> websock_result {
    let mut m = msg.into();
    m.retain(|c| c != '\0');
    LAST_ERROR.with(|l| *l.borrow_mut() = CString::new(m).unwrap_or_default());
    code
}

/// Maps a core error to its code (the one place where this happens).
pub(crate) fn from_core(e: websock::Error) -> websock_result {
    let code = match &e {
        websock::Error::UnknownConnection => websock_result::UnknownConnection,
        websock::Error::ServerClosed => websock_result::ServerClosed,
        websock::Error::InvalidArgument(_) => websock_result::InvalidArgument,
        websock::Error::Tls(_) => websock_result::Tls,
        websock::Error::Io(_) => websock_result::Io,
    };
    fail(code, e.to_string())
}

/// Runs one entry point: catches panics and records messages for errors that did not
/// set one.
pub(crate) fn guard(f: impl FnOnce() -> FfiResult) -> websock_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => websock_result::Ok,
        Ok(Err(code)) => code,
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            fail(websock_result::Panic, format!("internal panic: {what}"))
        }
    }
}

/// Shorthand for an error that carries the generic message of its code.
pub(crate) fn err<T>(code: websock_result) -> FfiResult<T> {
    Err(fail(code, result_text(code)))
}

fn result_text(r: websock_result) -> &'static str {
    use websock_result::*;
    match r {
        Ok => "ok",
        NullPointer => "a required pointer argument was NULL",
        InvalidUtf8 => "a string argument is not valid UTF-8",
        InvalidArgument => "invalid argument",
        UnknownConnection => "no such connection (closed or never opened)",
        ServerClosed => "the server is shut down",
        StaleHandle => "the server handle was freed (stale handle)",
        Tls => "TLS configuration could not be loaded",
        Io => "operating-system error",
        Busy => "the event pump of this server is already running",
        Timeout => "timed out",
        NotFound => "not found",
        BufferTooSmall => "buffer too small",
        Panic => "internal error (panic caught at the API boundary)",
    }
}

/// A static, NUL-terminated description of a result code (never NULL; unknown codes
/// give "unknown websock_result"). Safe from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn websock_result_str(result: u32) -> *const c_char {
    use websock_result::*;
    let s: &'static [u8] = match result {
        0 => b"ok\0",
        9001 => b"a required pointer argument was NULL\0",
        9002 => b"a string argument is not valid UTF-8\0",
        9003 => b"invalid argument\0",
        9004 => b"no such connection (closed or never opened)\0",
        9005 => b"the server is shut down\0",
        9006 => b"the server handle was freed (stale handle)\0",
        9007 => b"TLS configuration could not be loaded\0",
        9008 => b"operating-system error\0",
        9009 => b"the event pump of this server is already running\0",
        9010 => b"timed out\0",
        9011 => b"not found\0",
        9012 => b"buffer too small\0",
        9013 => b"internal error (panic caught at the API boundary)\0",
        _ => b"unknown websock_result\0",
    };
    debug_assert_eq!(&s[..s.len() - 1], result_text(match result {
        0 => Ok, 9001 => NullPointer, 9002 => InvalidUtf8, 9003 => InvalidArgument,
        9004 => UnknownConnection, 9005 => ServerClosed, 9006 => StaleHandle, 9007 => Tls,
        9008 => Io, 9009 => Busy, 9010 => Timeout, 9011 => NotFound, 9012 => BufferTooSmall,
        9013 => Panic, _ => return s.as_ptr().cast(),
    }).as_bytes());
    s.as_ptr().cast()
}

/// The detailed message of the last error returned on this thread (e.g. "invalid
/// argument: close code 999 may not be sent …"). Never NULL; empty before any error.
/// The pointer is valid until the next websock call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn websock_last_error_message() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ptr())
}
