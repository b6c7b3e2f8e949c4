//! Per-connection compression state. Inline it is 16 bytes (the agreement plus one
//! pointer); a connection that keeps LZ77 context (Dedicated mode) also owns a boxed
//! `Context`: the last bytes it sent compressed and the last bytes it received
//! compressed, which are replayed into the loop's shared (de)compressor for its next
//! message: as a preset dictionary of zlib (the decompressor; the compressor at levels
//! 2–9), or at level 1 as history in front of the message that `quick.rs` may refer to.
//! That is how a 4 KiB-window connection keeps its context in about 8 KB instead of the
//! ~270 KB a zlib compressor object costs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::negotiate::Agreed;

/// zlib never matches further back than `window - MIN_LOOKAHEAD` (262 bytes), so our own
/// history needs no more than that.
const MIN_LOOKAHEAD: usize = 262;

/// Server-wide count of connections holding a `Context`, bounded by
/// `Compression::max_dedicated`.
#[derive(Debug)]
pub(crate) struct DedicatedSlots {
    used: Arc<AtomicUsize>,
    max: usize,
}

/// One taken slot; dropping it (with the connection's state) gives it back.
#[derive(Debug)]
pub(crate) struct SlotGuard(Arc<AtomicUsize>);

impl DedicatedSlots {
    pub fn new(max: usize) -> Self {
        DedicatedSlots { used: Arc::new(AtomicUsize::new(0)), max }
    }

    pub fn try_take(&self) -> Option<SlotGuard> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max).then_some(n + 1))
            .ok()
            .map(|_| SlotGuard(self.used.clone()))
    }

    /// Connections holding dedicated state now.
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The most recent `cap` bytes of one direction's uncompressed stream. Allocated at its
/// full size on first use (so it never reallocates), released by `forget`.
#[derive(Debug, Default)]
pub(crate) struct History {
    buf: Vec<u8>,
    cap: usize,
}

impl History {
    fn new(cap: usize) -> Self {
        History { buf: Vec::new(), cap }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Appends a message's plaintext, keeping the last `cap` bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.buf.capacity() < self.cap {
            self.buf.reserve_exact(self.cap - self.buf.len());
        }
        if data.len() >= self.cap {
            self.buf.clear();
            self.buf.extend_from_slice(&data[data.len() - self.cap..]);
            return;
        }
        let over = (self.buf.len() + data.len()).saturating_sub(self.cap);
        self.buf.drain(..over);
        self.buf.extend_from_slice(data);
    }

    /// Drops the history and its memory; the next message starts without a dictionary
    /// (always valid: a compressor may ignore the past).
    pub fn forget(&mut self) {
        self.buf = Vec::new();
    }

    pub fn held_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Holds `cap` bytes already (a window's worth of context).
    pub fn is_full(&self) -> bool {
        self.buf.len() >= self.cap
    }
}

/// A Dedicated connection's kept context.
#[derive(Debug)]
pub(crate) struct Context {
    _slot: SlotGuard,
    /// Identifies this context's zlib compressor state (levels 2–9): the loop compressor
    /// skips the reset and dictionary replay when the same token used it last (see
    /// `codec.rs`). Renewed whenever `tx` changes behind the compressor's back. Level 1
    /// replays every time and never continues a zlib stream (owner 0).
    pub token: u64,
    pub tx: History,
    pub rx: History,
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

pub(crate) fn new_token() -> u64 {
    NEXT_TOKEN.fetch_add(1, Ordering::Relaxed)
}

/// Compression state of one connection that negotiated permessage-deflate.
#[derive(Debug)]
pub(crate) struct ConnDeflate {
    pub agreed: Agreed,
    pub ctx: Option<Box<Context>>,
}

impl ConnDeflate {
    /// State for an agreement; `slot` must be `Some` if the agreement keeps context.
    pub fn new(agreed: Agreed, slot: Option<SlotGuard>) -> ConnDeflate {
        let ctx = match (agreed.keeps_context(), slot) {
            (true, Some(slot)) => Some(Box::new(Context {
                _slot: slot,
                token: new_token(),
                tx: History::new(if agreed.server_no_context_takeover {
                    0
                } else {
                    (1usize << agreed.server_window_bits) - MIN_LOOKAHEAD
                }),
                rx: History::new(if agreed.client_no_context_takeover { 0 } else { 1 << agreed.client_window_bits }),
            })),
            (true, None) => panic!("an agreement that keeps context needs a dedicated slot"),
            (false, _) => None,
        };
        ConnDeflate { agreed, ctx }
    }

    /// Our side's history was bypassed (a message compressed without it went out, e.g. a
    /// shared broadcast frame): forget it so later messages never point into bytes the
    /// client's window no longer holds at those distances.
    pub fn forget_tx(&mut self) {
        if let Some(c) = self.ctx.as_mut() {
            c.tx.forget();
            c.token = new_token();
        }
    }

    /// Heap bytes this connection holds for compression (0 unless Dedicated).
    pub fn held_bytes(&self) -> usize {
        self.ctx.as_ref().map_or(0, |c| std::mem::size_of::<Context>() + c.tx.held_bytes() + c.rx.held_bytes())
    }
}
