//! The part of each connection slot that other threads may read without asking the
//! loop: its generation with a live bit, and its queued byte count. It lets any thread
//! reject a stale id at once and read `buffered_amount` without a round trip.
//! Pages are allocated on first use and never moved, so readers need no lock.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::id::{ConnId, GEN_MASK};

const PAGE: usize = 4096;
const PAGES: usize = 1024; // 4,194,304 slots per loop

const LIVE: u32 = 1 << 31;

// Every slot must be nameable by a `ConnId`.
const _: () = assert!(PAGE * PAGES <= crate::id::MAX_SLOTS);

#[derive(Default)]
pub(crate) struct SlotShared {
    /// Generation in the low 24 bits, `LIVE` while a connection occupies the slot.
    state: AtomicU32,
    buffered: AtomicU64,
}

pub(crate) struct SlotTable {
    pages: Box<[OnceLock<Box<[SlotShared]>>]>,
}

impl SlotTable {
    pub fn new() -> SlotTable {
        SlotTable { pages: (0..PAGES).map(|_| OnceLock::new()).collect() }
    }

    pub const CAPACITY: usize = PAGE * PAGES;

    fn get(&self, slot: u32) -> Option<&SlotShared> {
        let slot = slot as usize;
        let page = self.pages.get(slot / PAGE)?.get()?;
        Some(&page[slot % PAGE])
    }

    fn get_or_alloc(&self, slot: u32) -> &SlotShared {
        let slot = slot as usize;
        let page = self.pages[slot / PAGE].get_or_init(|| (0..PAGE).map(|_| SlotShared::default()).collect());
        &page[slot % PAGE]
    }

    /// Marks the slot live under the next generation and returns that generation.
    pub fn open(&self, slot: u32) -> u32 {
        let s = self.get_or_alloc(slot);
        let generation = (s.state.load(Ordering::Relaxed).wrapping_add(1)) & GEN_MASK;
        s.buffered.store(0, Ordering::Relaxed);
        s.state.store(generation | LIVE, Ordering::Release);
        generation
    }

    /// Marks the slot dead (its id becomes stale at once).
    pub fn close(&self, slot: u32) {
        let s = self.get_or_alloc(slot);
        let generation = s.state.load(Ordering::Relaxed) & GEN_MASK;
        s.state.store(generation, Ordering::Release);
        s.buffered.store(0, Ordering::Relaxed);
    }

    pub fn is_live(&self, id: ConnId) -> bool {
        self.get(id.slot())
            .is_some_and(|s| s.state.load(Ordering::Acquire) == (id.generation() | LIVE))
    }

    pub fn set_buffered(&self, slot: u32, n: usize) {
        if let Some(s) = self.get(slot) {
            s.buffered.store(n as u64, Ordering::Relaxed);
        }
    }

    pub fn buffered(&self, slot: u32) -> u64 {
        self.get(slot).map_or(0, |s| s.buffered.load(Ordering::Relaxed))
    }
}
