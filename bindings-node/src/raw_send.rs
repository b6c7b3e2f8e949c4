//! `send(id, data)` as a plain napi function bound to one server, for the hot path of
//! `conn.send`. A `#[napi]` method on a class pays for napi-rs' class identity check and
//! borrow tracking on every call (`native_borrow::*`, `check_class_identity_*`: 2.3 % of
//! the CPU of the echo bench in perf); this function reads its two arguments with three
//! napi calls and sends. The server it sends to is the function's data, dropped when the
//! function is garbage-collected.

use std::ffi::{CString, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use napi::sys;
use websock::Message;

use crate::id_from_js;

/// Creates the function for `server`. JS: `send(id: number, data: string | ArrayBufferView)
/// → boolean` (false: the connection is gone); throws a `[kind] message` error (see
/// `wrapError` in lib/index.js) for a bad argument.
/// # Safety
/// On the JS thread of `env`.
pub(crate) unsafe fn create(env: sys::napi_env, server: &websock::Server) -> Result<sys::napi_value, sys::napi_status> {
    let data = Box::into_raw(Box::new(server.clone())) as *mut c_void;
    let mut f = ptr::null_mut();
    let name = c"send";
    unsafe {
        let st = sys::napi_create_function(env, name.as_ptr(), 4, Some(send), data, &mut f);
        if st != sys::Status::napi_ok {
            drop(Box::from_raw(data as *mut websock::Server));
            return Err(st);
        }
        // napi_wrap (N-API 1; napi_add_finalizer needs 5) ties the box to the function object.
        let st = sys::napi_wrap(env, f, data, Some(drop_server), ptr::null_mut(), ptr::null_mut());
        if st != sys::Status::napi_ok {
            drop(Box::from_raw(data as *mut websock::Server));
            return Err(st);
        }
    }
    Ok(f)
}

unsafe extern "C" fn drop_server(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the Box made in `create`, finalized once.
    drop(unsafe { Box::from_raw(data as *mut websock::Server) });
}

enum Failure {
    /// A bad argument: TypeError in JS.
    Invalid(&'static str),
    /// An error from the core with its kind.
    Core(websock::Error),
    /// A napi call failed (an exception may already be pending).
    Napi,
    /// A panic in this function: a bug, reported as `ERR_WEBSOCK_INTERNAL`.
    Panic,
}

unsafe extern "C" fn send(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // No panic may unwind into V8.
    let r = catch_unwind(AssertUnwindSafe(|| unsafe { send_inner(env, info) })).unwrap_or(Err(Failure::Panic));
    unsafe {
        match r {
            Ok(sent) => {
                let mut v = ptr::null_mut();
                sys::napi_get_boolean(env, sent, &mut v);
                v
            }
            Err(f) => {
                let msg = match f {
                    Failure::Invalid(m) => format!("[invalid_argument] {m}"),
                    Failure::Core(e) => format!("[{}] {}", e.kind_name(), e),
                    Failure::Panic => "[internal] internal error in send (a bug in websock)".to_string(),
                    Failure::Napi => {
                        // Throw only if napi did not already leave an exception pending,
                        // so that JS never sees a silent `undefined`.
                        let mut pending = false;
                        sys::napi_is_exception_pending(env, &mut pending);
                        if pending {
                            return ptr::null_mut();
                        }
                        "[internal] a napi call failed in send".to_string()
                    }
                };
                let msg = CString::new(msg).unwrap_or_default();
                sys::napi_throw_error(env, ptr::null(), msg.as_ptr());
                ptr::null_mut()
            }
        }
    }
}

unsafe fn send_inner(env: sys::napi_env, info: sys::napi_callback_info) -> Result<bool, Failure> {
    let ok = |st: sys::napi_status| if st == sys::Status::napi_ok { Ok(()) } else { Err(Failure::Napi) };
    let mut argc = 2usize;
    let mut argv = [ptr::null_mut(); 2];
    let mut data = ptr::null_mut();
    unsafe {
        ok(sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data))?;
        if argc < 2 {
            return Err(Failure::Invalid("send(id, data) takes two arguments"));
        }
        // SAFETY: `data` is the server boxed by `create`, alive while this function is.
        let server = &*(data as *const websock::Server);
        let mut idf = 0f64;
        if sys::napi_get_value_double(env, argv[0], &mut idf) != sys::Status::napi_ok {
            return Err(Failure::Invalid("id must be a number"));
        }
        // Bytes first (the hot case): any ArrayBufferView.
        let mut p = ptr::null_mut();
        let mut len = 0usize;
        let text: Vec<u8>;
        let msg = if sys::napi_get_buffer_info(env, argv[1], &mut p, &mut len) == sys::Status::napi_ok {
            // SAFETY: napi reported `len` readable bytes at `p` (null only when empty),
            // alive for this call; they are copied before it returns.
            Message::Binary(if len == 0 { &[] } else { std::slice::from_raw_parts(p as *const u8, len) })
        } else {
            let mut t = 0;
            ok(sys::napi_typeof(env, argv[1], &mut t))?;
            if t != sys::ValueType::napi_string {
                return Err(Failure::Invalid("data must be a string, Buffer, TypedArray, DataView or ArrayBuffer"));
            }
            ok(sys::napi_get_value_string_utf8(env, argv[1], ptr::null_mut(), 0, &mut len))?;
            let mut v = vec![0u8; len + 1];
            let mut n = 0usize;
            ok(sys::napi_get_value_string_utf8(env, argv[1], v.as_mut_ptr() as *mut _, v.len(), &mut n))?;
            v.truncate(n);
            text = v;
            // V8 writes UTF-8 (lone surrogates become U+FFFD).
            Message::Text(std::str::from_utf8(&text).map_err(|_| Failure::Invalid("string is not valid UTF-16"))?)
        };
        let Some(id) = id_from_js(idf) else { return Ok(false) };
        match server.send(id, msg) {
            Ok(()) => Ok(true),
            Err(websock::Error::UnknownConnection) | Err(websock::Error::ServerClosed) => Ok(false),
            Err(e) => Err(Failure::Core(e)),
        }
    }
}
