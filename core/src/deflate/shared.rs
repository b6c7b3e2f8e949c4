//! One message sent to many connections (tag sends, broadcasts): the uncompressed frame,
//! one frame compressed on its own for every receiver that agreed to
//! `server_no_context_takeover` (any window size, see `codec::alone_ok`), and one
//! compressed frame per distinct server window size for the others; each
//! built at most once, by whichever loop needs it first, and then shared by reference
//! with every receiver on every loop.

use std::sync::OnceLock;

use bytes::Bytes;

use super::codec::{LoopCodec, alone_ok};
use super::context::ConnDeflate;
use crate::frame;

/// A whole server frame with RSV1 set (a compressed message in one frame).
pub(crate) fn encode_compressed(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = frame::encode(opcode, payload);
    v[0] |= 0x40;
    v
}

/// Slot of `SharedMessage::deflated` holding the frame compressed on its own.
const ALONE: usize = 7;

pub(crate) struct SharedMessage {
    opcode: u8,
    payload: Box<[u8]>,
    plain: OnceLock<Bytes>,
    /// Indexed by window bits − 9, or `ALONE` (compressed on its own, any window);
    /// `None` inside: compression would not shrink it.
    deflated: [OnceLock<Option<Bytes>>; 8],
}

impl SharedMessage {
    pub fn new(opcode: u8, payload: &[u8]) -> SharedMessage {
        SharedMessage { opcode, payload: payload.into(), plain: OnceLock::new(), deflated: Default::default() }
    }

    /// Bytes of the uncompressed frame (the most this message can add to a queue).
    pub fn plain_len(&self) -> usize {
        self.payload.len() + frame::MAX_HEADER
    }

    /// The uncompressed frame.
    pub fn plain_frame(&self) -> Bytes {
        self.plain.get_or_init(|| Bytes::from(frame::encode(self.opcode, &self.payload))).clone()
    }

    /// The frame to queue for one receiver: compressed (without its context, so it can be
    /// shared) when the receiver negotiated permessage-deflate and the message reaches
    /// the threshold, else plain. A receiver that keeps context forgets its sent history,
    /// since this message entered the client's window without passing through it.
    pub fn frame_for(&self, st: Option<&mut ConnDeflate>, codec: &mut LoopCodec) -> Bytes {
        let Some(st) = st else { return self.plain_frame() };
        if self.payload.len() < codec.threshold() {
            return self.plain_frame();
        }
        let wb = st.agreed.server_window_bits;
        let alone = alone_ok(st.agreed.server_no_context_takeover, wb, self.payload.len());
        let slot = if alone { ALONE } else { (wb - 9) as usize };
        let z = self.deflated[slot].get_or_init(|| {
            let f = codec.compress_standalone(wb, alone, &self.payload).map(|p| Bytes::from(encode_compressed(self.opcode, p)));
            codec.trim();
            f
        });
        match z {
            Some(f) => {
                if !st.agreed.server_no_context_takeover {
                    st.forget_tx();
                }
                f.clone()
            }
            None => self.plain_frame(),
        }
    }
}
