//! Counters per loop. The loop keeps plain counters while it works and publishes them
//! to these atomics once per turn, so the hot path pays no atomic operation per message.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of one loop's counters (or their sum over all loops).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopStats {
    /// Open WebSocket connections now.
    pub connections: u64,
    /// Connections accepted since start (including those that never upgraded).
    pub accepted: u64,
    /// Connections that were upgraded since start.
    pub opened: u64,
    /// Handshakes refused (bad request, origin, hook) or timed out.
    pub rejected: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Messages dropped by the `DropNewest` backpressure policy.
    pub dropped: u64,
    /// Connections closed for protocol errors.
    pub protocol_errors: u64,
    /// Bytes of compression history held by this loop's connections (dedicated
    /// permessage-deflate contexts), as of the last timer sweep.
    pub compression_bytes: u64,
}

/// All loops, and their sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub total: LoopStats,
    pub loops: Vec<LoopStats>,
    /// Connections holding a dedicated compression context now (server-wide).
    pub dedicated_compression: usize,
}

macro_rules! published {
    ($($f:ident),*) => {
        #[derive(Default)]
        pub(crate) struct Published { $($f: AtomicU64,)* }
        impl Published {
            pub fn store(&self, s: &LoopStats) { $(self.$f.store(s.$f, Relaxed);)* }
            pub fn load(&self) -> LoopStats { LoopStats { $($f: self.$f.load(Relaxed),)* } }
        }
        impl LoopStats {
            pub(crate) fn add(&mut self, o: &LoopStats) { $(self.$f += o.$f;)* }
        }
    };
}
published!(connections, accepted, opened, rejected, messages_in, messages_out, bytes_in, bytes_out, dropped, protocol_errors, compression_bytes);
