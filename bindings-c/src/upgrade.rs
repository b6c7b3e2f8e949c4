//! The upgrade hook's answer: response details collected while an upgrade waits (inside
//! on_upgrade, or deferred with WEBSOCK_UPGRADE_DEFER), then handed to core's
//! `Server::accept_upgrade` / `reject_upgrade`. Safe from any thread.

use std::collections::HashMap;
use std::ffi::c_char;

use websock::{Accept, ConnId, HttpResponse};

use crate::error::{FfiResult, fail, from_core, guard, websock_result};
use crate::registry;
use crate::server::{Inner, websock_conn_id, websock_server};
use crate::util::{bytes, cstr};

/// What the application said so far about one waiting upgrade.
#[derive(Default)]
pub(crate) struct Answer {
    subprotocol: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Waiting upgrades by raw id; entries whose connection went away (handshake timeout,
/// EOF while deferred) are pruned as new upgrades arrive.
#[derive(Default)]
pub(crate) struct Pending {
    map: HashMap<u64, Answer>,
    inserts_since_prune: usize,
}

pub(crate) fn begin(inner: &Inner, id: ConnId) {
    let mut p = inner.upgrades.lock().unwrap_or_else(|e| e.into_inner());
    p.inserts_since_prune += 1;
    if p.inserts_since_prune >= 64 && p.map.len() >= 64 {
        p.map.retain(|raw, _| inner.server.is_live(ConnId::from_raw(*raw)));
        p.inserts_since_prune = 0;
    }
    p.map.insert(id.to_raw(), Answer::default());
}

/// Answers a waiting upgrade: status 0 accepts, 400-599 refuses with it, anything else
/// refuses with 403.
pub(crate) fn resolve(inner: &Inner, id: ConnId, status: u16) -> FfiResult {
    let answer = inner.upgrades.lock().unwrap_or_else(|e| e.into_inner()).map.remove(&id.to_raw());
    let Some(a) = answer else {
        return Err(fail(websock_result::UnknownConnection, "no upgrade of this id is waiting for an answer"));
    };
    if status == 0 {
        let accept = Accept { subprotocol: a.subprotocol, headers: a.headers, user_data: None };
        inner.server.accept_upgrade(id, accept).map_err(from_core)
    } else {
        let status = if (400..=599).contains(&status) { status } else { 403 };
        let mut r = HttpResponse::new(status, a.body);
        r.headers = a.headers;
        inner.server.reject_upgrade(id, r).map_err(from_core)
    }
}

/// Runs `f` on the waiting upgrade `id` of `server`.
fn with_answer(server: *const websock_server, id: websock_conn_id, f: impl FnOnce(&mut Answer) -> FfiResult) -> websock_result {
    guard(|| {
        let inner = registry::get(server)?;
        let mut p = inner.upgrades.lock().unwrap_or_else(|e| e.into_inner());
        match p.map.get_mut(&id) {
            Some(a) => f(a),
            None => Err(fail(websock_result::UnknownConnection, "no upgrade of this id is waiting for an answer")),
        }
    })
}

/// Adds a response header (e.g. "Set-Cookie") to the answer of a waiting upgrade: call
/// inside on_upgrade, or before resolving a deferred one. Names and values are checked
/// for CR/LF. Errors: UNKNOWN_CONNECTION (no upgrade of that id is waiting),
/// INVALID_ARGUMENT, INVALID_UTF8, NULL_POINTER, STALE_HANDLE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_upgrade_add_header(
    server: *mut websock_server,
    id: websock_conn_id,
    name: *const c_char,
    value: *const c_char,
) -> websock_result {
    let parsed = unsafe { cstr(name).and_then(|n| Ok((n, cstr(value)?))) };
    with_answer(server, id, |a| {
        let (n, v) = parsed?;
        let bad = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n');
        if n.is_empty() || bad(n) || bad(v) || n.contains(':') {
            return Err(fail(websock_result::InvalidArgument, "header names must be non-empty; no CR, LF (or ':' in names)"));
        }
        a.headers.push((n.to_string(), v.to_string()));
        Ok(())
    })
}

/// Picks the subprotocol for an accepted upgrade (must be one the client offered;
/// otherwise the server's own negotiation stands).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_upgrade_set_subprotocol(
    server: *mut websock_server,
    id: websock_conn_id,
    name: *const c_char,
) -> websock_result {
    let parsed = unsafe { cstr(name) };
    with_answer(server, id, |a| {
        a.subprotocol = Some(parsed?.to_string());
        Ok(())
    })
}

/// Sets the body of a refusal (copied; e.g. a short text explaining a 401).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_upgrade_set_body(
    server: *mut websock_server,
    id: websock_conn_id,
    body: *const u8,
    len: usize,
) -> websock_result {
    let parsed = unsafe { bytes(body, len) };
    with_answer(server, id, |a| {
        a.body = parsed?.to_vec();
        Ok(())
    })
}

/// Accepts an upgrade deferred with WEBSOCK_UPGRADE_DEFER (any thread). Errors:
/// UNKNOWN_CONNECTION when no upgrade of that id waits (already answered, or the
/// connection timed out or went away).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_accept_upgrade(server: *mut websock_server, id: websock_conn_id) -> websock_result {
    guard(|| {
        let inner = registry::get(server)?;
        resolve(&inner, ConnId::from_raw(id), 0)
    })
}

/// Refuses an upgrade deferred with WEBSOCK_UPGRADE_DEFER with an HTTP status 400-599
/// (other values give 403), any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_reject_upgrade(server: *mut websock_server, id: websock_conn_id, status: u16) -> websock_result {
    guard(|| {
        let inner = registry::get(server)?;
        resolve(&inner, ConnId::from_raw(id), if status == 0 { 403 } else { status })
    })
}
