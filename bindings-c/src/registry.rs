//! Server handles. A `websock_server *` given to C is not an address: it encodes a slot
//! index and that slot's generation. Every call looks the handle up here, so a handle
//! used after websock_server_free() (whose slot generation has moved on) is reported as
//! WEBSOCK_RESULT_STALE_HANDLE instead of touching freed memory.

use std::sync::{Arc, RwLock};

use crate::error::{FfiResult, err, websock_result};
use crate::server::{Inner, websock_server};

struct Slot {
    generation: u32,
    inner: Option<Arc<Inner>>,
}

static SLOTS: RwLock<Vec<Slot>> = RwLock::new(Vec::new());

/// Handle layout: bits 0..32 = slot index + 1 (never 0, so never NULL), 32..64 = generation.
fn encode(index: usize, generation: u32) -> *mut websock_server {
    (((generation as u64) << 32) | (index as u64 + 1)) as usize as *mut websock_server
}

fn decode(h: *const websock_server) -> Option<(usize, u32)> {
    let v = h as usize as u64;
    let low = v as u32;
    if low == 0 {
        return None;
    }
    Some((low as usize - 1, (v >> 32) as u32))
}

/// Registers a new server and returns its handle.
pub(crate) fn insert(inner: Arc<Inner>) -> *mut websock_server {
    let mut slots = SLOTS.write().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = slots.iter().position(|s| s.inner.is_none()) {
        slots[i].inner = Some(inner);
        return encode(i, slots[i].generation);
    }
    slots.push(Slot { generation: 1, inner: Some(inner) });
    encode(slots.len() - 1, 1)
}

/// The live server behind a handle.
pub(crate) fn get(h: *const websock_server) -> FfiResult<Arc<Inner>> {
    if h.is_null() {
        return err(websock_result::NullPointer);
    }
    let slots = SLOTS.read().unwrap_or_else(|e| e.into_inner());
    match decode(h).and_then(|(i, g)| slots.get(i).filter(|s| s.generation == g)) {
        Some(Slot { inner: Some(inner), .. }) => Ok(inner.clone()),
        _ => err(websock_result::StaleHandle),
    }
}

/// Unregisters a handle (its generation moves on, so the old value is stale forever,
/// unless 2^32 servers later reuse the same slot).
pub(crate) fn remove(h: *const websock_server) -> FfiResult<Arc<Inner>> {
    if h.is_null() {
        return err(websock_result::NullPointer);
    }
    let mut slots = SLOTS.write().unwrap_or_else(|e| e.into_inner());
    let Some((i, g)) = decode(h) else { return err(websock_result::StaleHandle) };
    match slots.get_mut(i) {
        Some(s) if s.generation == g && s.inner.is_some() => {
            s.generation = s.generation.wrapping_add(1).max(1);
            Ok(s.inner.take().expect("checked above"))
        }
        _ => err(websock_result::StaleHandle),
    }
}
