//! Connection ids: one integer that names a loop, a slot in that loop and the slot's
//! generation, so an id that outlived its connection can never reach the next
//! connection that reuses the slot. Ids cross every FFI boundary as plain integers, and
//! they fit in 53 bits, so JavaScript numbers hold them exactly:
//! slot 22 bits (a loop's 4,194,304 slots) | generation 23 bits | loop 8 bits.

use std::fmt;

/// Identifies one connection for its whole life. Copyable, hashable, and valid in every
/// thread; once the connection has closed, every operation on the id fails with
/// [`crate::Error::UnknownConnection`] (it is never silently redirected).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

const SLOT_BITS: u32 = 22;
const GEN_BITS: u32 = 23;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
pub(crate) const GEN_MASK: u32 = (1 << GEN_BITS) - 1;
/// Slots per loop that an id can name.
pub(crate) const MAX_SLOTS: usize = 1 << SLOT_BITS;

impl ConnId {
    pub(crate) fn new(loop_index: usize, slot: u32, generation: u32) -> ConnId {
        debug_assert!(loop_index < 256 && slot <= SLOT_MASK);
        ConnId(
            ((loop_index as u64) << (SLOT_BITS + GEN_BITS))
                | (((generation & GEN_MASK) as u64) << SLOT_BITS)
                | slot as u64,
        )
    }

    /// The id as an integer (for C, Go, Python and Node).
    pub fn to_raw(self) -> u64 {
        self.0
    }

    /// Rebuilds an id from [`ConnId::to_raw`]. Any integer is accepted; one that names no
    /// live connection is simply reported as unknown when used.
    pub fn from_raw(raw: u64) -> ConnId {
        ConnId(raw)
    }

    pub(crate) fn loop_index(self) -> usize {
        // Bits above the 53 are never set by us; an id with them set names no loop.
        (self.0 >> (SLOT_BITS + GEN_BITS)).min(usize::MAX as u64) as usize
    }

    pub(crate) fn slot(self) -> u32 {
        self.0 as u32 & SLOT_MASK
    }

    pub(crate) fn generation(self) -> u32 {
        ((self.0 >> SLOT_BITS) as u32) & GEN_MASK
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnId({}:{}:{})", self.loop_index(), self.slot(), self.generation())
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_javascript_number() {
        let max = ConnId::new(255, SLOT_MASK, GEN_MASK);
        assert!(max.to_raw() < 1 << 53, "{:#x}", max.to_raw());
    }

    #[test]
    fn round_trips_every_field() {
        let id = ConnId::new(7, 123_456, GEN_MASK);
        assert_eq!(id.loop_index(), 7);
        assert_eq!(id.slot(), 123_456);
        assert_eq!(id.generation(), GEN_MASK);
        assert_eq!(ConnId::from_raw(id.to_raw()), id);
    }

    #[test]
    fn generation_wraps_into_its_bits() {
        let id = ConnId::new(0, 1, GEN_MASK + 2);
        assert_eq!(id.generation(), 1);
        assert_eq!(id.loop_index(), 0);
    }
}
