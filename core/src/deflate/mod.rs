//! permessage-deflate (RFC 7692): negotiation, bounded (de)compression, and frames
//! shared by many receivers.
//!
//! # Integration (what the engine calls, and where)
//!
//! * **Server start**: `Options::compression: Compression` (public, re-exported) is
//!   checked with `Compression::validate()`. Keep one [`DedicatedSlots`]
//!   (`DedicatedSlots::new(cfg.max_dedicated)`) in the server's shared state and one
//!   [`LoopCodec`] (`LoopCodec::new(&cfg)`) per loop.
//! * **Handshake**: collect every `Sec-WebSocket-Extensions` value of the request and call
//!   [`negotiate`]`(&values, &cfg, &slots)`. `Some((state, value))`: add the response
//!   header `Sec-WebSocket-Extensions: {value}` and keep `state: ConnDeflate` on the
//!   connection (16 bytes inline; drop it with the connection, which frees its slot).
//!   `None`: no header, no compression. Negotiation never fails the handshake.
//! * **Frame parse**: RSV bits come from the header; call [`check_rsv`] for every frame
//!   (with whether a compressed message is being continued). It returns whether a new
//!   data message is compressed, or the 1002 reason. Remember the flag in the fragment
//!   state. A compressed message's frame payloads (unmasked) are accumulated as they are
//!   (their wire size is bounded by `max_message_size` like any message); UTF-8 is checked
//!   on the inflated result, not on frames.
//! * **Message complete** (FIN) with the flag: `codec.decompress(&mut state, &[payloads…],
//!   limits.max_message_size, &mut buf)`; `Err(e)` → fail the connection with
//!   `e.close_code()` / `e.reason()` (1009 bomb/too large, 1007 corrupt); `Ok` → `buf`
//!   holds the message (validate UTF-8 for text), deliver it, then `buf.clear()` and keep
//!   the buffer on the loop (it is bounded by the limit; drop it if it grew large).
//! * **Send path** (one message, one connection, data frames only, never control
//!   frames): if the connection has a `ConnDeflate`, `codec.compress(&mut state,
//!   payload)`; `Some(z)` → queue `header(opcode | RSV1) + z` (e.g. [`encode_compressed`]),
//!   `None` → send uncompressed as today. Then `codec.trim()` after the bytes are copied.
//! * **Tag sends / broadcasts**: wrap the message once in an `Arc<`[`SharedMessage`]`>`
//!   (instead of a pre-encoded frame) and, for each receiver on a loop,
//!   `msg.frame_for(conn.deflate.as_mut(), &mut codec)` returns the `Bytes` to queue by
//!   reference: one encoding per message and distinct window size, not per receiver.
//!
//! # Memory
//!
//! See [`CompressionMode`] for the table; `tests.rs` measures it with a counting
//! allocator.

mod codec;
mod config;
mod context;
mod negotiate;
mod quick;
mod shared;
#[cfg(test)]
mod tests;

pub use config::{Compression, CompressionMode};
pub(crate) use codec::LoopCodec;
#[cfg(test)]
pub(crate) use codec::{InflateError, TAIL};
pub(crate) use context::{ConnDeflate, DedicatedSlots};
pub(crate) use negotiate::choose;
#[cfg(test)]
pub(crate) use negotiate::{Agreed, parse_offers};
pub(crate) use shared::{SharedMessage, encode_compressed};

/// Negotiates permessage-deflate for one upgrade request. `values`: every
/// `Sec-WebSocket-Extensions` header value, in order. Returns the connection's state and
/// the exact response header value, or `None` to answer without the extension.
pub(crate) fn negotiate(values: &[&str], cfg: &Compression, slots: &DedicatedSlots) -> Option<(ConnDeflate, String)> {
    if !cfg.enabled() {
        return None;
    }
    let slot = match cfg.mode {
        CompressionMode::Dedicated { .. } => slots.try_take(),
        _ => None,
    };
    let agreed = choose(values, cfg, slot.is_some())?;
    let value = agreed.response_value();
    let slot = if agreed.keeps_context() { slot } else { None };
    Some((ConnDeflate::new(agreed, slot), value))
}

/// RSV bits of one received frame, under RFC 7692 §6: RSV1 marks the first frame of a
/// compressed data message and nothing else; RSV2/RSV3 are never valid.
/// `deflate`: the connection negotiated the extension. Returns `Ok(true)` when this frame
/// starts a compressed message, `Ok(false)` otherwise (continuation frames inherit the
/// flag of their message), `Err(reason)` for a 1002 close.
pub(crate) fn check_rsv(rsv: u8, opcode: u8, deflate: bool) -> Result<bool, &'static str> {
    let rsv1 = rsv & 0b100 != 0;
    if rsv & 0b011 != 0 {
        return Err("reserved bits set without a negotiated extension");
    }
    if !rsv1 {
        return Ok(false);
    }
    if !deflate {
        return Err("RSV1 set without permessage-deflate");
    }
    match opcode {
        0x1 | 0x2 => Ok(true),
        0x0 => Err("RSV1 set on a continuation frame"),
        _ => Err("RSV1 set on a control frame"),
    }
}
