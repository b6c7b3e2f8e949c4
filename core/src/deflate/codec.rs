//! The per-loop compressors and decompressor. Every connection of a loop borrows them for
//! one whole message at a time, so a connection never owns compressor state.
//!
//! * Messages the client inflates without our earlier messages (the agreement says
//!   `server_no_context_takeover`, which Shared mode always does) are compressed on
//!   their own (`deflate_alone`) and sync-flushed, like every other message: never as a
//!   complete stream ending in a final block. RFC 7692 §7.2.3.4 allows that form, and
//!   libdeflate made it 8–11 % cheaper per 4 KiB echo (measured, bench/deflate-load/
//!   BENCH-NOTES.md), but widely used clients fail on it: OkHttp's inflater loops
//!   forever (okhttp #8078, #8551) and Bun's server drops the connection (oven-sh/bun
//!   #33592). Our inflater still accepts it from clients.
//! * Messages that continue a kept context (Dedicated mode) are sync-flushed too; the
//!   context is replayed from the connection's `History` (`context.rs`): as the
//!   history `quick.rs` may refer to at level 1, as a preset dictionary of zlib (flate2
//!   on the pure-Rust zlib-rs backend) at levels 2–9.
//! * Level 1 is `quick.rs` for every message (but one over `quick::MAX_INPUT`, 1 GiB),
//!   levels 2–9 zlib-rs.
//! * Everything received is inflated by zlib. Decompression is bounded: output never
//!   grows past the message size limit, so a bomb costs at most that much memory.

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

use super::config::Compression;
use super::context::ConnDeflate;
use super::quick::{self, QuickDeflater};

/// The empty stored block every sync-flushed message ends with; RFC 7692 §7.2.1 removes
/// it from the wire and §7.2.2 has the receiver put it back.
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The output would exceed the message size limit: close with 1009.
    TooBig,
    /// Not valid deflate data (or bytes after a final block): close with 1007, as
    /// Node `ws` does — the payload is inconsistent with the message type.
    Corrupt,
}

impl InflateError {
    pub fn close_code(self) -> u16 {
        match self {
            InflateError::TooBig => 1009,
            InflateError::Corrupt => 1007,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            InflateError::TooBig => "message too large after decompression",
            InflateError::Corrupt => "invalid compressed data",
        }
    }
}

struct Deflater {
    c: Compress,
    /// Whose stream the compressor holds: 0 = nobody's (reset before next use), else a
    /// `Context::token` that may continue without a reset.
    owner: u64,
    used: bool,
}

/// One loop's (de)compressors and scratch output. Not `Sync`: it lives on its loop.
pub(crate) struct LoopCodec {
    level: u32,
    threshold: usize,
    /// Indexed by window bits − 9, created on first use.
    deflaters: [Option<Deflater>; 7],
    /// Level 1 (with or without a kept context): our own compressor, see `quick.rs`.
    quick: Option<QuickDeflater>,
    inflater: Option<Decompress>,
    out: Vec<u8>,
}

/// Whether a message may be compressed on its own, from an empty window (`deflate_alone`,
/// and one frame shared by all such receivers of a tag send) rather than with the
/// receiver's window size.
///
/// * The client must not expect the stream to continue into our next message: only
///   `server_no_context_takeover` promises that. A client that keeps its inflater would
///   find the stream already ended, so a receiver that keeps context never gets one.
/// * It is compressed with a 32 KiB window; a client that asked for
///   `server_max_window_bits` below 15 can only follow distances within its window.
///   No distance reaches past the start of the message, so a message no longer than
///   the window is safe whatever the window.
pub(crate) fn alone_ok(server_no_context_takeover: bool, window_bits: u8, len: usize) -> bool {
    server_no_context_takeover && (window_bits >= 15 || len <= 1usize << window_bits)
}

/// Priming a kept context (see `LoopCodec::compress`): messages shorter than this may go
/// out compressed although they grew, by at most `PRIME_SLACK` bytes.
const PRIME_BELOW: usize = 256;
const PRIME_SLACK: usize = 8;

/// A kept context is replayed as a dictionary of at least this many recent bytes (and at
/// least 4× the message), not always the whole window: see `LoopCodec::compress`.
const REPLAY_MIN: usize = 2048;

/// Scratch output kept between messages; beyond this it is released after use.
const KEEP_SCRATCH: usize = 256 << 10;

impl LoopCodec {
    pub fn new(cfg: &Compression) -> LoopCodec {
        LoopCodec {
            level: cfg.level.clamp(1, 9) as u32,
            threshold: cfg.threshold,
            deflaters: Default::default(),
            quick: None,
            inflater: None,
            out: Vec::new(),
        }
    }

    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Compresses `data` with the loop compressor for `window_bits`, continuing `owner`'s
    /// stream when it holds it, else from `dict`. Result (without the tail) in `self.out`.
    fn deflate(&mut self, window_bits: u8, owner: u64, dict: &[u8], data: &[u8]) {
        let level = self.level;
        let d = self.deflaters[(window_bits - 9) as usize].get_or_insert_with(|| Deflater {
            c: Compress::new_with_window_bits(flate2::Compression::new(level), false, window_bits),
            owner: 0,
            used: false,
        });
        if owner == 0 || d.owner != owner {
            if d.used {
                d.c.reset();
            }
            if !dict.is_empty() {
                d.c.set_dictionary(dict).expect("a raw deflate stream accepts a dictionary after reset");
            }
        }
        d.used = true;
        d.owner = owner;
        self.out.clear();
        self.out.reserve(data.len() / 2 + 64);
        let start_in = d.c.total_in();
        loop {
            let done = (d.c.total_in() - start_in) as usize;
            d.c.compress_vec(&data[done..], &mut self.out, FlushCompress::Sync)
                .expect("deflate on a valid stream does not fail");
            let done = (d.c.total_in() - start_in) as usize;
            // Input consumed and room left: the sync flush is complete.
            if done == data.len() && self.out.len() < self.out.capacity() {
                break;
            }
            self.out.reserve(self.out.capacity().max(64));
        }
        debug_assert!(self.out.ends_with(&TAIL));
        let n = self.out.len().saturating_sub(TAIL.len());
        self.out.truncate(n);
    }

    /// Compresses `data` without any context, for receivers that agreed to what
    /// `alone_ok` checks: sync-flushed with a 15-bit window, which is safe for them
    /// whatever their window (no distance reaches past the start of the message).
    /// Messages of at most `55 − 4 × level` bytes are not tried: without context they
    /// never shrink (a 32 B attempt at level 1 cost 8 µs). Level 1 uses `quick.rs`
    /// (no 128 KiB table to clear per message). Returns whether the payload in
    /// `self.out` is shorter than `data`.
    fn deflate_alone(&mut self, data: &[u8]) -> bool {
        if data.len() <= 55usize.saturating_sub(4 * self.level as usize) {
            return false;
        }
        if !self.quick(15, &[], data) {
            self.deflate(15, 0, &[], data);
        }
        self.out.len() < data.len()
    }

    /// At level 1, compresses `data` with `quick.rs` after `history` (the receiver's
    /// latest inflated bytes; may be empty), with a window of `2^window_bits`. Result in
    /// `self.out`. False at other levels (or for input too long for it): use zlib.
    fn quick(&mut self, window_bits: u8, history: &[u8], data: &[u8]) -> bool {
        if self.level != 1 || history.len() + data.len() > quick::MAX_INPUT {
            return false;
        }
        self.out.clear();
        let q = self.quick.get_or_insert_with(QuickDeflater::new);
        q.compress_after(history, data, 1 << window_bits, &mut self.out);
        true
    }

    /// Compresses one outgoing message for this connection. `Some(payload)`: send it as
    /// the payload of a frame with RSV1 set (its first frame, if fragmented). `None`:
    /// send `data` uncompressed (below the threshold, or compression would not shrink
    /// it); the connection's context is left as if nothing was sent, which is right since
    /// uncompressed messages never enter the peer's window.
    ///
    /// With context kept, a short message (under `PRIME_BELOW` bytes) is also sent
    /// compressed when it grows by at most `PRIME_SLACK` bytes, as long as our history is
    /// not yet full: otherwise a stream of short messages, none of which shrinks on its
    /// own, would never enter the client's window and never start to shrink (ws and
    /// websockets compress every message when they keep context; 32 B JSON echoes then
    /// take ~7 B instead of 32).
    pub fn compress(&mut self, st: &mut ConnDeflate, data: &[u8]) -> Option<&[u8]> {
        if data.len() < self.threshold {
            return None;
        }
        let wb = st.agreed.server_window_bits;
        match st.ctx.as_mut().filter(|_| !st.agreed.server_no_context_takeover) {
            // No context kept on our side (`server_no_context_takeover`, always the
            // case in Shared mode): the message is compressed on its own.
            None if alone_ok(st.agreed.server_no_context_takeover, wb, data.len()) => {
                if !self.deflate_alone(data) {
                    return None;
                }
            }
            None => {
                if !self.quick(wb, &[], data) {
                    self.deflate(wb, 0, &[], data);
                }
                if self.out.len() >= data.len() {
                    return None;
                }
            }
            Some(ctx) => {
                // Replaying history costs one hash insert per byte, the largest part of
                // compressing a short message: short messages get the recent part only.
                let tx = ctx.tx.as_slice();
                let replay = &tx[tx.len().saturating_sub(REPLAY_MIN.max(data.len().saturating_mul(4)))..];
                if !self.quick(wb, replay, data) {
                    // At level 1 zlib only takes what quick.rs cannot (over MAX_INPUT):
                    // the messages in between changed `tx` behind its stream, so it
                    // must not continue one (owner 0: reset and replay).
                    let owner = if self.level == 1 { 0 } else { ctx.token };
                    self.deflate(wb, owner, replay, data);
                }
                let priming = data.len() < PRIME_BELOW && !ctx.tx.is_full();
                let too_big = if priming { self.out.len() > data.len() + PRIME_SLACK } else { self.out.len() >= data.len() };
                if too_big {
                    // Not sent compressed: the compressor's stream now holds bytes the
                    // client will never see, so it must not be continued.
                    ctx.token = super::context::new_token();
                    return None;
                }
                ctx.tx.push(data);
            }
        }
        Some(&self.out)
    }

    /// Compresses without any connection's context (for frames shared by many receivers):
    /// as `deflate_alone` does when `alone` (every receiver of the result agreed to
    /// what `alone_ok` checks), else with `window_bits`.
    /// `None` if it would not shrink.
    pub fn compress_standalone(&mut self, window_bits: u8, alone: bool, data: &[u8]) -> Option<&[u8]> {
        if alone {
            return self.deflate_alone(data).then_some(&self.out[..]);
        }
        if !self.quick(window_bits, &[], data) {
            self.deflate(window_bits, 0, &[], data);
        }
        (self.out.len() < data.len()).then_some(&self.out[..])
    }

    /// Releases a large scratch buffer; call after the compressed bytes were copied out.
    pub fn trim(&mut self) {
        if self.out.capacity() > KEEP_SCRATCH {
            self.out = Vec::new();
        }
    }

    /// Inflates one compressed message, given its frames' payloads in order (unmasked,
    /// without the tail; one piece or many, split anywhere), into `out` (cleared first).
    /// Output never exceeds `limit` bytes and `out` never grows past `limit + 1` bytes of
    /// capacity (a larger buffer passed in is dropped first), so a bomb stops at the
    /// limit. On success the connection's received history is updated.
    pub fn decompress(&mut self, st: &mut ConnDeflate, pieces: &[&[u8]], limit: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
        out.clear();
        if out.capacity() > limit.saturating_add(1) {
            *out = Vec::new();
        }
        let d = self.inflater.get_or_insert_with(|| Decompress::new_with_window_bits(false, 15));
        d.reset(false);
        let ctx = st.ctx.as_mut().filter(|_| !st.agreed.client_no_context_takeover);
        if let Some(c) = ctx.as_ref() {
            if !c.rx.as_slice().is_empty() {
                d.set_dictionary(c.rx.as_slice()).map_err(|_| InflateError::Corrupt)?;
            }
        }
        let input_len: usize = pieces.iter().map(|p| p.len()).sum();
        let first = limit.saturating_add(1).min(input_len.saturating_mul(4).max(1024));
        if out.capacity() < first {
            out.reserve_exact(first);
        }
        let mut ended = false;
        // Bytes seen after the final block, before our tail (at most the one 0x00 octet).
        let mut after_end = 0usize;
        for (i, piece) in pieces.iter().copied().chain(std::iter::once(&TAIL[..])).enumerate() {
            let is_tail = i == pieces.len();
            let mut pos = 0;
            while pos < piece.len() {
                if ended {
                    // A final block ended the stream. Only what RFC 7692 §7.2.3.4 puts
                    // there may follow: one 0x00 octet (the header of the empty stored
                    // block whose `00 00 ff ff` was removed), then our own tail.
                    if is_tail {
                        break;
                    }
                    after_end += piece.len() - pos;
                    if after_end > 1 || piece[pos] != 0x00 {
                        return Err(InflateError::Corrupt);
                    }
                    break;
                }
                if out.len() == out.capacity() {
                    let cap = limit.saturating_add(1).min(out.capacity().saturating_mul(2).max(1024));
                    if cap <= out.len() {
                        return Err(InflateError::TooBig);
                    }
                    out.reserve_exact(cap - out.len());
                }
                let (in0, out0) = (d.total_in(), out.len());
                let status = d.decompress_vec(&piece[pos..], out, FlushDecompress::None).map_err(|_| InflateError::Corrupt)?;
                pos += (d.total_in() - in0) as usize;
                if out.len() > limit {
                    return Err(InflateError::TooBig);
                }
                match status {
                    Status::StreamEnd => ended = true,
                    Status::Ok | Status::BufError => {
                        if d.total_in() == in0 && out.len() == out0 && out.len() < out.capacity() {
                            // No progress with room to spare: the input is exhausted.
                            break;
                        }
                    }
                }
            }
        }
        // The tail flushed every complete block; the output may still be pending only if
        // the buffer was exactly full.
        loop {
            if ended || out.len() < out.capacity() {
                break;
            }
            let cap = limit.saturating_add(1).min(out.capacity().saturating_mul(2).max(1024));
            if cap <= out.len() {
                return Err(InflateError::TooBig);
            }
            out.reserve_exact(cap - out.len());
            let out0 = out.len();
            let status = d.decompress_vec(&[], out, FlushDecompress::Sync).map_err(|_| InflateError::Corrupt)?;
            if out.len() > limit {
                return Err(InflateError::TooBig);
            }
            if status == Status::StreamEnd {
                ended = true;
            }
            if out.len() == out0 {
                break;
            }
        }
        if let Some(c) = ctx {
            c.rx.push(out);
        }
        Ok(())
    }
}
