//! Sending, closing and tags: thin calls onto `websock::Server`, safe from any thread
//! and from inside callbacks. Each comes as a NUL-terminated variant that reads like
//! libwebsock 2.0 (`websock_send_text_by_tag(srv, "jonnywhatshisface", "Private
//! message…")`) and a pointer+length variant (`*_len`) for data that is not a C string.

use std::ffi::c_char;

use websock::{ConnId, Message};

use crate::error::{FfiResult, from_core, guard, websock_result};
use crate::registry;
use crate::server::{websock_conn_id, websock_server};
use crate::util::{bytes, cstr, str_len};

/// Looks up the server and runs one core call.
fn on(server: *const websock_server, f: impl FnOnce(&websock::Server) -> FfiResult) -> websock_result {
    guard(|| {
        let inner = registry::get(server)?;
        f(&inner.server)
    })
}

fn id(raw: websock_conn_id) -> ConnId {
    ConnId::from_raw(raw)
}

fn count_out(out: *mut usize, n: usize) {
    if !out.is_null() {
        unsafe { *out = n };
    }
}

/// Sends a text message (NUL-terminated UTF-8) to one connection. Never blocks; messages
/// to one connection keep their order. Errors: NULL_POINTER, INVALID_UTF8,
/// UNKNOWN_CONNECTION, STALE_HANDLE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_send_text(server: *mut websock_server, id: websock_conn_id, text: *const c_char) -> websock_result {
    on(server, |s| {
        let t = unsafe { cstr(text) }?;
        s.send_text(self::id(id), t).map_err(from_core)
    })
}

/// Sends `len` bytes of UTF-8 text (need not be NUL-terminated; NULL allowed when len 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_send_text_len(
    server: *mut websock_server,
    id: websock_conn_id,
    text: *const c_char,
    len: usize,
) -> websock_result {
    on(server, |s| {
        let t = unsafe { str_len(text, len) }?;
        s.send_text(self::id(id), t).map_err(from_core)
    })
}

/// Sends a binary message of `len` bytes (copied before return).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_send_binary(
    server: *mut websock_server,
    id: websock_conn_id,
    data: *const u8,
    len: usize,
) -> websock_result {
    on(server, |s| {
        let d = unsafe { bytes(data, len) }?;
        s.send_binary(self::id(id), d).map_err(from_core)
    })
}

/// Sends a message, text or binary as `is_text` says (a convenience for echo).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_send(
    server: *mut websock_server,
    id: websock_conn_id,
    data: *const u8,
    len: usize,
    is_text: bool,
) -> websock_result {
    on(server, |s| {
        let d = unsafe { bytes(data, len) }?;
        let m = if is_text { Message::Text(crate::util::utf8(d)?) } else { Message::Binary(d) };
        s.send(self::id(id), m).map_err(from_core)
    })
}

/// Sends a ping with up to 125 bytes of payload (NULL allowed when len 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_ping(server: *mut websock_server, id: websock_conn_id, data: *const u8, len: usize) -> websock_result {
    on(server, |s| {
        let d = unsafe { bytes(data, len) }?;
        s.ping(self::id(id), d).map_err(from_core)
    })
}

/// Starts the closing handshake with `code` (1000-1003, 1007-1014, 3000-4999) and a
/// NUL-terminated `reason` (NULL for none; cut to 123 bytes). The close event follows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_close(
    server: *mut websock_server,
    id: websock_conn_id,
    code: u16,
    reason: *const c_char,
) -> websock_result {
    on(server, |s| {
        let r = if reason.is_null() { "" } else { unsafe { cstr(reason) }? };
        s.close(self::id(id), code, r).map_err(from_core)
    })
}

/// `*out` = true while the id names a live connection (handshaking or open).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_is_live(server: *const websock_server, id: websock_conn_id, out: *mut bool) -> websock_result {
    on(server, |s| {
        let out = crate::util::out_ptr(out)?;
        unsafe { *out = s.is_live(self::id(id)) };
        Ok(())
    })
}

/// Bytes queued for the connection and not yet handed to the kernel.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_buffered_amount(server: *const websock_server, id: websock_conn_id, out: *mut u64) -> websock_result {
    on(server, |s| {
        let out = crate::util::out_ptr(out)?;
        let n = s.buffered_amount(self::id(id)).map_err(from_core)?;
        unsafe { *out = n };
        Ok(())
    })
}

/// Adds a tag (1-1024 bytes of UTF-8, NUL-terminated) to a connection; adding one it has
/// is OK. Tags go away with the connection.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_tag(server: *mut websock_server, id: websock_conn_id, tag: *const c_char) -> websock_result {
    on(server, |s| {
        let t = unsafe { cstr(tag) }?;
        s.tag(self::id(id), t).map(drop).map_err(from_core)
    })
}

/// websock_tag() with a pointer+length tag.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_tag_len(
    server: *mut websock_server,
    id: websock_conn_id,
    tag: *const c_char,
    tag_len: usize,
) -> websock_result {
    on(server, |s| {
        let t = unsafe { str_len(tag, tag_len) }?;
        s.tag(self::id(id), t).map(drop).map_err(from_core)
    })
}

/// Removes a tag; removing one it does not have is OK.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_untag(server: *mut websock_server, id: websock_conn_id, tag: *const c_char) -> websock_result {
    on(server, |s| {
        let t = unsafe { cstr(tag) }?;
        s.untag(self::id(id), t).map(drop).map_err(from_core)
    })
}

/// websock_untag() with a pointer+length tag.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_untag_len(
    server: *mut websock_server,
    id: websock_conn_id,
    tag: *const c_char,
    tag_len: usize,
) -> websock_result {
    on(server, |s| {
        let t = unsafe { str_len(tag, tag_len) }?;
        s.untag(self::id(id), t).map(drop).map_err(from_core)
    })
}

/// Calls `each(userdata, tag, tag_len)` on the calling thread for every tag of the
/// connection, in the order they were added (a snapshot; `tag` is borrowed for the call
/// and followed by a NUL). `*out_count` (may be NULL) gets the number of tags.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_conn_tags(
    server: *const websock_server,
    id: websock_conn_id,
    each: Option<unsafe extern "C" fn(userdata: *mut std::ffi::c_void, tag: *const c_char, tag_len: usize)>,
    userdata: *mut std::ffi::c_void,
    out_count: *mut usize,
) -> websock_result {
    on(server, |s| {
        let tags = s.tags(self::id(id)).map_err(from_core)?;
        if let Some(f) = each {
            for t in &tags {
                let mut c = Vec::with_capacity(t.len() + 1);
                c.extend_from_slice(t.as_bytes());
                c.push(0);
                unsafe { f(userdata, c.as_ptr().cast(), t.len()) };
            }
        }
        count_out(out_count, tags.len());
        Ok(())
    })
}

/// How many connections carry the tag now.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_count_by_tag(server: *const websock_server, tag: *const c_char, out: *mut usize) -> websock_result {
    on(server, |s| {
        let out = crate::util::out_ptr(out)?;
        let t = unsafe { cstr(tag) }?;
        unsafe { *out = s.count_by_tag(t) };
        Ok(())
    })
}

/// Pointer+length variant of websock_count_by_tag() (the tag need not be NUL-terminated).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_count_by_tag_len(
    server: *const websock_server,
    tag: *const c_char,
    tag_len: usize,
    out: *mut usize,
) -> websock_result {
    on(server, |s| {
        let out = crate::util::out_ptr(out)?;
        let t = unsafe { str_len(tag, tag_len) }?;
        unsafe { *out = s.count_by_tag(t) };
        Ok(())
    })
}

/// Sends one text message to every connection tagged `tag`; the frame is encoded once
/// and shared by all receivers: `websock_send_text_by_tag(srv, "jonnywhatshisface",
/// "Private message…")`. A tag nobody carries is OK (nobody receives it).
/// Errors: NULL_POINTER, INVALID_UTF8, INVALID_ARGUMENT (empty or > 1024-byte tag),
/// SERVER_CLOSED, STALE_HANDLE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_send_text_by_tag(server: *mut websock_server, tag: *const c_char, text: *const c_char) -> websock_result {
    on(server, |s| {
        let (tag, text) = unsafe { (cstr(tag)?, cstr(text)?) };
        s.send_text_by_tag(tag, text).map(drop).map_err(from_core)
    })
}

/// Pointer+length variant; `*out_count` (may be NULL) gets how many connections carried
/// the tag.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_send_text_by_tag_len(
    server: *mut websock_server,
    tag: *const c_char,
    tag_len: usize,
    text: *const c_char,
    text_len: usize,
    out_count: *mut usize,
) -> websock_result {
    on(server, |s| {
        let (tag, text) = unsafe { (str_len(tag, tag_len)?, str_len(text, text_len)?) };
        let n = s.send_text_by_tag(tag, text).map_err(from_core)?;
        count_out(out_count, n);
        Ok(())
    })
}

/// Sends one binary message to every connection tagged `tag` (NUL-terminated tag).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_send_binary_by_tag(
    server: *mut websock_server,
    tag: *const c_char,
    data: *const u8,
    len: usize,
) -> websock_result {
    on(server, |s| {
        let (tag, d) = unsafe { (cstr(tag)?, bytes(data, len)?) };
        s.send_binary_by_tag(tag, d).map(drop).map_err(from_core)
    })
}

/// Sends text or binary (as `is_text` says) to every connection tagged `tag`
/// (pointer+length tag); `*out_count` (may be NULL) gets how many carried the tag.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_send_by_tag_len(
    server: *mut websock_server,
    tag: *const c_char,
    tag_len: usize,
    data: *const u8,
    len: usize,
    is_text: bool,
    out_count: *mut usize,
) -> websock_result {
    on(server, |s| {
        let (tag, d) = unsafe { (str_len(tag, tag_len)?, bytes(data, len)?) };
        let m = if is_text { Message::Text(crate::util::utf8(d)?) } else { Message::Binary(d) };
        let n = s.send_by_tag(tag, m).map_err(from_core)?;
        count_out(out_count, n);
        Ok(())
    })
}

/// Closes every connection tagged `tag` with `code` and `reason` (NULL for none);
/// `*out_count` (may be NULL) gets how many carried the tag.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_close_by_tag(
    server: *mut websock_server,
    tag: *const c_char,
    code: u16,
    reason: *const c_char,
    out_count: *mut usize,
) -> websock_result {
    on(server, |s| {
        let tag = unsafe { cstr(tag) }?;
        let r = if reason.is_null() { "" } else { unsafe { cstr(reason) }? };
        let n = s.close_by_tag(tag, code, r).map_err(from_core)?;
        count_out(out_count, n);
        Ok(())
    })
}

/// Pointer+length variant of websock_close_by_tag(): tag and reason need not be
/// NUL-terminated (reason may be NULL with reason_len 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_close_by_tag_len(
    server: *mut websock_server,
    tag: *const c_char,
    tag_len: usize,
    code: u16,
    reason: *const c_char,
    reason_len: usize,
    out_count: *mut usize,
) -> websock_result {
    on(server, |s| {
        let (tag, r) = unsafe { (str_len(tag, tag_len)?, str_len(reason, reason_len)?) };
        let n = s.close_by_tag(tag, code, r).map_err(from_core)?;
        count_out(out_count, n);
        Ok(())
    })
}

/// Sends a text message to every open connection (frame encoded once).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_broadcast_text(server: *mut websock_server, text: *const c_char) -> websock_result {
    on(server, |s| {
        let t = unsafe { cstr(text) }?;
        s.broadcast_text(t).map(drop).map_err(from_core)
    })
}

/// Sends text or binary to every open connection; `*out_count` (may be NULL) gets the
/// number of connections open at the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_broadcast(
    server: *mut websock_server,
    data: *const u8,
    len: usize,
    is_text: bool,
    out_count: *mut usize,
) -> websock_result {
    on(server, |s| {
        let d = unsafe { bytes(data, len) }?;
        let m = if is_text { Message::Text(crate::util::utf8(d)?) } else { Message::Binary(d) };
        let n = s.broadcast(m).map_err(from_core)?;
        count_out(out_count, n);
        Ok(())
    })
}
