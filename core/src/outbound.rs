//! A connection's outbound queue. It exists only while bytes are waiting (an idle
//! connection owns none). Small frames made for this connection are appended to one
//! owned buffer; frames shared by many receivers (tag sends, broadcasts) are queued as
//! reference-counted chunks and never copied. A flush hands up to `MAX_IOV` chunks to
//! one `writev`, which is what turns a burst of broadcasts into one syscall per receiver.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

use bytes::Bytes;

/// Most chunks per `writev` (Linux IOV_MAX is 1024).
const MAX_IOV: usize = 512;
/// Owned frames are appended to the last owned chunk while it stays below this.
const COALESCE_LIMIT: usize = 64 << 10;

pub(crate) enum Chunk {
    Own(Vec<u8>),
    Shared(Bytes),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Own(v) => v,
            Chunk::Shared(b) => b,
        }
    }
}

#[derive(Default)]
pub(crate) struct OutQueue {
    chunks: VecDeque<Chunk>,
    /// Bytes of the front chunk already written.
    head_written: usize,
    /// Bytes still to write.
    len: usize,
}

impl OutQueue {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends an owned frame, joining it to the last owned chunk when small.
    pub fn push_frame(&mut self, header: &[u8], payload: &[u8]) {
        let n = header.len() + payload.len();
        self.len += n;
        if let Some(Chunk::Own(last)) = self.chunks.back_mut() {
            // The front chunk may be partly written; appending to it is still fine.
            if last.len() + n <= COALESCE_LIMIT {
                last.extend_from_slice(header);
                last.extend_from_slice(payload);
                return;
            }
        }
        let mut v = Vec::with_capacity(n.max(256));
        v.extend_from_slice(header);
        v.extend_from_slice(payload);
        self.chunks.push_back(Chunk::Own(v));
    }

    /// Appends bytes that are already a frame (or several).
    pub fn push_owned(&mut self, v: Vec<u8>) {
        if v.is_empty() {
            return;
        }
        if v.len() < 1024 {
            self.push_frame(&v, &[]);
            return;
        }
        self.len += v.len();
        self.chunks.push_back(Chunk::Own(v));
    }

    pub fn push_shared(&mut self, b: Bytes) {
        if b.is_empty() {
            return;
        }
        self.len += b.len();
        self.chunks.push_back(Chunk::Shared(b));
    }

    /// Writes as much as the socket takes. `Ok(true)`: everything was written.
    pub fn flush_to<W: Write>(&mut self, w: &mut W) -> io::Result<bool> {
        while self.len > 0 {
            let mut iov: [IoSlice<'_>; 64] = [IoSlice::new(&[]); 64];
            let mut big: Vec<IoSlice<'_>>;
            let slices: &[IoSlice<'_>] = if self.chunks.len() <= 64 {
                for (i, c) in self.chunks.iter().enumerate() {
                    let b = c.bytes();
                    iov[i] = IoSlice::new(if i == 0 { &b[self.head_written..] } else { b });
                }
                &iov[..self.chunks.len()]
            } else {
                big = Vec::with_capacity(MAX_IOV.min(self.chunks.len()));
                for (i, c) in self.chunks.iter().take(MAX_IOV).enumerate() {
                    let b = c.bytes();
                    big.push(IoSlice::new(if i == 0 { &b[self.head_written..] } else { b }));
                }
                &big
            };
            let n = match w.write_vectored(slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            };
            self.advance(n);
        }
        Ok(true)
    }

    /// Hands up to `max` bytes to `f` (TLS feeds its encrypter this way); returns how many
    /// were taken.
    pub fn drain_into(&mut self, max: usize, mut f: impl FnMut(&[u8]) -> usize) -> usize {
        let mut taken = 0;
        while taken < max {
            let Some(front) = self.chunks.front() else { break };
            let b = &front.bytes()[self.head_written..];
            let want = b.len().min(max - taken);
            let n = f(&b[..want]);
            if n == 0 {
                break;
            }
            self.advance(n);
            taken += n;
        }
        taken
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let front_left = self.chunks[0].bytes().len() - self.head_written;
            if n >= front_left {
                n -= front_left;
                self.chunks.pop_front();
                self.head_written = 0;
            } else {
                self.head_written += n;
                n = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `cap` bytes per call, then reports WouldBlock once.
    struct Trickle {
        out: Vec<u8>,
        cap: usize,
        block_next: bool,
    }
    impl Write for Trickle {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.block_next {
                self.block_next = false;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.block_next = true;
            let n = b.len().min(self.cap);
            self.out.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn keeps_order_across_partial_writes() {
        let mut q = OutQueue::default();
        let mut want = Vec::new();
        for i in 0..200u32 {
            let p = vec![i as u8; (i as usize * 37) % 3000];
            if i % 3 == 0 {
                q.push_shared(Bytes::from(p.clone()));
            } else {
                q.push_frame(&[0xAA], &p);
                want.push(0xAA);
            }
            want.extend_from_slice(&p);
        }
        assert_eq!(q.len(), want.len());
        let mut w = Trickle { out: Vec::new(), cap: 777, block_next: false };
        while !q.flush_to(&mut w).unwrap() {}
        assert_eq!(w.out, want);
        assert!(q.is_empty());
    }
}
