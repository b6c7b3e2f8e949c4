//! Accessors for the upgrade request a callback receives (`const websock_request *`).
//! Every string comes back as a borrowed pointer + length into the request: valid only
//! until the callback returns, and not NUL-terminated (print with "%.*s").

use std::ffi::c_char;

use websock::Request;

use crate::error::{FfiResult, err, fail, guard, websock_result};
use crate::util::{copy_out, cstr, out_ptr};

/// The HTTP request that opened (or is asking to open) a connection (opaque, borrowed:
/// valid only during the callback that received it).
pub struct websock_request {
    _private: [u8; 0],
}

fn req<'a>(r: *const websock_request) -> FfiResult<&'a Request> {
    if r.is_null() {
        return err(websock_result::NullPointer);
    }
    // SAFETY: a pointer handed to a callback, used during that callback (contract).
    Ok(unsafe { &*(r as *const Request) })
}

/// Writes a borrowed string to two out-parameters (both checked before any work).
fn give(s: Option<&str>, out: *mut *const c_char, out_len: *mut usize) -> FfiResult {
    let (out, out_len) = (out_ptr(out)?, out_ptr(out_len)?);
    let Some(s) = s else { return Err(fail(websock_result::NotFound, "not present in the request")) };
    unsafe {
        *out = s.as_ptr().cast();
        *out_len = s.len();
    }
    Ok(())
}

/// The path, e.g. "/chat/room1" (not percent-decoded). Borrowed: valid during the callback only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_path(
    request: *const websock_request,
    out: *mut *const c_char,
    out_len: *mut usize,
) -> websock_result {
    guard(|| {
        let r = req(request)?;
        give(Some(r.path()), out, out_len)
    })
}

/// The query without the '?', "" when there is none (not decoded). Borrowed: valid during the callback only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_query(
    request: *const websock_request,
    out: *mut *const c_char,
    out_len: *mut usize,
) -> websock_result {
    guard(|| {
        let r = req(request)?;
        give(Some(r.query()), out, out_len)
    })
}

/// The request target as sent (path plus "?query"). Borrowed: valid during the callback only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_target(
    request: *const websock_request,
    out: *mut *const c_char,
    out_len: *mut usize,
) -> websock_result {
    guard(|| {
        let r = req(request)?;
        give(Some(r.target()), out, out_len)
    })
}

/// The method ("GET" for every upgrade). Borrowed: valid during the callback only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_method(
    request: *const websock_request,
    out: *mut *const c_char,
    out_len: *mut usize,
) -> websock_result {
    guard(|| {
        let r = req(request)?;
        give(Some(r.method()), out, out_len)
    })
}

/// The negotiated subprotocol; NOT_FOUND when none was agreed. Borrowed: valid during the callback only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_subprotocol(
    request: *const websock_request,
    out: *mut *const c_char,
    out_len: *mut usize,
) -> websock_result {
    guard(|| {
        let r = req(request)?;
        give(r.subprotocol(), out, out_len)
    })
}

/// The `Sec-WebSocket-Extensions` value of the server's 101 answer (what was agreed,
/// e.g. "permessage-deflate; server_no_context_takeover"); NOT_FOUND when no extension
/// was agreed (or, in on_upgrade, before the answer is made). Borrowed: valid during the
/// callback only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_extensions(
    request: *const websock_request,
    out: *mut *const c_char,
    out_len: *mut usize,
) -> websock_result {
    guard(|| {
        let r = req(request)?;
        give(r.extensions(), out, out_len)
    })
}

/// `*out` = whether permessage-deflate was negotiated for the connection (false in
/// on_upgrade, before the answer is made).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_permessage_deflate(request: *const websock_request, out: *mut bool) -> websock_result {
    guard(|| {
        let out = out_ptr(out)?;
        let r = req(request)?;
        unsafe { *out = r.permessage_deflate() };
        Ok(())
    })
}

/// The first value of header `name` (case-insensitive); NOT_FOUND when absent. In the
/// upgrade hook every header is visible; afterwards only kept ones.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_header(
    request: *const websock_request,
    name: *const c_char,
    out: *mut *const c_char,
    out_len: *mut usize,
) -> websock_result {
    guard(|| {
        let r = req(request)?;
        let name = unsafe { cstr(name) }?;
        give(r.header(name), out, out_len)
    })
}

/// The value of cookie `name` from the Cookie header(s); NOT_FOUND when absent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_cookie(
    request: *const websock_request,
    name: *const c_char,
    out: *mut *const c_char,
    out_len: *mut usize,
) -> websock_result {
    guard(|| {
        let r = req(request)?;
        let name = unsafe { cstr(name) }?;
        give(r.cookie(name), out, out_len)
    })
}

/// How many headers are visible (see websock_request_header_at()).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_header_count(request: *const websock_request, out: *mut usize) -> websock_result {
    guard(|| {
        let out = out_ptr(out)?;
        let r = req(request)?;
        unsafe { *out = r.headers().count() };
        Ok(())
    })
}

/// Header number `index` in request order: lower-case name and value, borrowed.
/// NOT_FOUND past the last header.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_header_at(
    request: *const websock_request,
    index: usize,
    out_name: *mut *const c_char,
    out_name_len: *mut usize,
    out_value: *mut *const c_char,
    out_value_len: *mut usize,
) -> websock_result {
    guard(|| {
        let r = req(request)?;
        for p in [out_name_len, out_value_len] {
            out_ptr(p)?;
        }
        for p in [out_name, out_value] {
            out_ptr(p)?;
        }
        let Some((n, v)) = r.headers().nth(index) else {
            return Err(fail(websock_result::NotFound, format!("no header at index {index}")));
        };
        give(Some(n), out_name, out_name_len)?;
        give(Some(v), out_value, out_value_len)
    })
}

/// The TCP peer address as text ("127.0.0.1:53122"), copied with a NUL into `buf`;
/// `*out_len` gets the length (the needed one on BUFFER_TOO_SMALL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_remote_addr(
    request: *const websock_request,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> websock_result {
    guard(|| {
        let r = req(request)?;
        unsafe { copy_out(&r.remote_addr().to_string(), buf, cap, out_len) }
    })
}

/// The client's IP as text: the peer, or what a trusted proxy forwarded for.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_request_client_ip(
    request: *const websock_request,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> websock_result {
    guard(|| {
        let r = req(request)?;
        unsafe { copy_out(&r.client_ip().to_string(), buf, cap, out_len) }
    })
}
