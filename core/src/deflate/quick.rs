//! Level 1: one fixed-Huffman DEFLATE block per message, found greedily with one hash
//! probe per position (the approach of zlib-ng's and zlib-rs' level-1 "quick" strategy),
//! written as the payload of a sync-flushed message. A message is compressed either on
//! its own or after a replayed history (a Dedicated connection's kept context: the last
//! bytes its client inflated), with distances limited to the client's window.
//!
//! Why this is not zlib-rs: a message compressed on its own needs a compressor without
//! history, and zlib-rs' `reset` clears its 64 Ki-entry hash table (128 KiB) and its
//! symbol buffer every time. In a 4 KiB compressed echo at level 1 those two `memset`s
//! were 12.5 % of the server's CPU (perf, `BENCH-NOTES.md`); with a kept context, the
//! reset plus zlib's `set_dictionary` were 46 % of a 32 B echo's. Here every table entry is a
//! position offset by `base`, the start of the message it was written for; `base` moves
//! past each message, so entries from earlier messages fail the `>= base` check and the
//! table is only cleared when `base` would wrap (once per 4 GiB of input).
//!
//! Output: the block (BFINAL = 0, fixed codes of RFC 1951 §3.2.6), its end-of-block code,
//! the 3 header bits of the empty stored block a sync flush writes next and the padding
//! to a byte. The stored block's `00 00 ff ff` is left out, as RFC 7692 §7.2.1 asks; the
//! receiver appends it. Distances never reach before the message's first byte (or the
//! history's) and never exceed the window (at most 32 KiB).

/// log2 of the hash table's entries: 16 Ki × 4 B = 64 KiB per loop.
const HASH_BITS: u32 = 14;
/// Longest match DEFLATE can code, and its farthest distance.
const MAX_MATCH: usize = 258;
const MAX_DIST: usize = 32 << 10;
/// Matches start at 4 bytes: the hash covers 4 (a 3-byte match rarely pays with fixed codes).
const MIN_MATCH: usize = 4;
/// Messages longer than this go to zlib-rs instead: positions must fit the `u32` entries
/// with room for `base` to move.
pub(crate) const MAX_INPUT: usize = 1 << 30;

/// The per-loop state: the hash table and where the current message starts in it.
pub(crate) struct QuickDeflater {
    table: Box<[u32]>,
    base: u32,
    /// History and message side by side (`compress_after`), reused.
    joined: Vec<u8>,
}

/// `joined` kept between messages up to this size; beyond it is released after use.
const KEEP_JOINED: usize = 64 << 10;

impl QuickDeflater {
    pub fn new() -> QuickDeflater {
        QuickDeflater { table: vec![0; 1 << HASH_BITS].into_boxed_slice(), base: 1, joined: Vec::new() }
    }

    /// Appends the compressed payload of `data` to `out` for a receiver whose inflater
    /// holds `history` as its most recent output (empty: a message on its own) and keeps
    /// a window of `window` bytes: matches may reach into `history`, no distance exceeds
    /// `window`. `history` and `data` together at most `MAX_INPUT` bytes.
    pub fn compress_after(&mut self, history: &[u8], data: &[u8], window: usize, out: &mut Vec<u8>) {
        let max_dist = window.min(MAX_DIST);
        // A long message gains little from the history (only its first `max_dist` bytes
        // can reach it) and would be copied whole: it goes without (always valid).
        if history.is_empty() || data.len() > KEEP_JOINED {
            return self.run(data, 0, max_dist, out);
        }
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        joined.extend_from_slice(history);
        joined.extend_from_slice(data);
        self.run(&joined, history.len(), max_dist, out);
        if joined.capacity() > KEEP_JOINED {
            joined = Vec::new();
        }
        self.joined = joined;
    }

    /// Compresses `data[start..]`; `data[..start]` is history: hashed, never emitted.
    fn run(&mut self, data: &[u8], start: usize, max_dist: usize, out: &mut Vec<u8>) {
        assert!(data.len() <= MAX_INPUT, "quick deflate input over MAX_INPUT");
        let n = data.len();
        if (u32::MAX - self.base) as usize <= n {
            self.table.fill(0);
            self.base = 1;
        }
        let base = self.base;
        // Fixed codes take at most 9 bits per byte, plus the headers.
        let m = n - start;
        out.reserve(m + m / 8 + 16);
        let mut w = BitWriter { out, acc: 0, n: 0 };
        w.put(0b010, 3); // BFINAL = 0, BTYPE = 01 (fixed Huffman codes)
        // The history's positions go into the table, so the message can refer to them.
        for p in 0..start.min(n.saturating_sub(MIN_MATCH - 1)) {
            self.table[hash(read_u32(data, p))] = base + p as u32;
        }
        let mut i = start;
        while i + MIN_MATCH <= n {
            let v = read_u32(data, i);
            let slot = &mut self.table[hash(v)];
            let entry = *slot;
            *slot = base + i as u32;
            if entry >= base {
                let cand = (entry - base) as usize;
                if i - cand <= max_dist && read_u32(data, cand) == v {
                    let len = match_len(data, cand, i, (n - i).min(MAX_MATCH));
                    let (lbits, lcount) = LENGTH_CODES[len - 3];
                    let (dbits, dcount) = distance_code(i - cand);
                    w.put(lbits as u64 | (dbits as u64) << lcount, lcount as u32 + dcount);
                    i += len;
                    continue;
                }
            }
            w.literal(data[i]);
            i += 1;
        }
        while i < n {
            w.literal(data[i]);
            i += 1;
        }
        w.put(0, 7); // end of block (symbol 256: seven 0 bits)
        w.put(0, 3); // the empty stored block's header: BFINAL = 0, BTYPE = 00
        w.finish();
        // Past this message (and one more, so that `entry >= base` never accepts an entry
        // of the message just written).
        self.base += n as u32 + 1;
    }
}

fn read_u32(d: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(d[i..i + 4].try_into().unwrap())
}

fn hash(v: u32) -> usize {
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// Length of the common run of `d[a..]` and `d[b..]` (`a < b`), known to be at least
/// `MIN_MATCH`, capped at `max`: eight bytes at a time, then the first differing byte.
fn match_len(d: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut len = MIN_MATCH;
    while len + 8 <= max {
        let x = u64::from_le_bytes(d[a + len..a + len + 8].try_into().unwrap())
            ^ u64::from_le_bytes(d[b + len..b + len + 8].try_into().unwrap());
        if x != 0 {
            return len + (x.trailing_zeros() / 8) as usize;
        }
        len += 8;
    }
    while len < max && d[a + len] == d[b + len] {
        len += 1;
    }
    len
}

/// Appends bits least significant first, as DEFLATE packs them; 32 at a time.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter<'_> {
    /// `count` ≤ 32 bits of `bits` (a match is at most 13 + 18 bits).
    #[inline(always)]
    fn put(&mut self, bits: u64, count: u32) {
        self.acc |= bits << self.n;
        self.n += count;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    #[inline(always)]
    fn literal(&mut self, b: u8) {
        let (bits, count) = LITERAL_CODES[b as usize];
        self.put(bits as u64, count as u32);
    }

    /// Writes the last partial byte, padded with 0 bits.
    fn finish(self) {
        let bytes = self.n.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_le_bytes()[..bytes]);
    }
}

/// `code` (of `len` bits, most significant first, as Huffman codes are defined) in the
/// order the bit writer emits.
const fn reversed(code: u32, len: u32) -> u32 {
    let mut r = 0;
    let mut k = 0;
    while k < len {
        r |= ((code >> k) & 1) << (len - 1 - k);
        k += 1;
    }
    r
}

/// Fixed literal codes (RFC 1951 §3.2.6): 0–143 are 8 bits from 0x30, 144–255 are
/// 9 bits from 0x190. Ready to emit: (bits, count).
const LITERAL_CODES: [(u16, u8); 256] = {
    let mut t = [(0u16, 0u8); 256];
    let mut b = 0;
    while b < 256 {
        t[b] = if b < 144 { (reversed(0x30 + b as u32, 8) as u16, 8) } else { (reversed(0x190 + (b as u32 - 144), 9) as u16, 9) };
        b += 1;
    }
    t
};

/// Length codes 257..=285: first length of each and its extra bits (RFC 1951 §3.2.5).
const LENGTH_BASE: [u16; 29] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];

/// For each match length 3..=258: its fixed code (7 bits for symbols 257–279, 8 bits
/// from 0xC0 for 280–285) followed by its extra bits, as (bits, count).
const LENGTH_CODES: [(u32, u8); 256] = {
    let mut t = [(0u32, 0u8); 256];
    let mut len = 3;
    let mut k = 0;
    while len <= MAX_MATCH {
        while k + 1 < 29 && LENGTH_BASE[k + 1] as usize <= len {
            k += 1;
        }
        let sym = 257 + k as u32;
        let (code, count) = if sym < 280 { (reversed(sym - 256, 7), 7) } else { (reversed(0xC0 + sym - 280, 8), 8) };
        let extra = (len - LENGTH_BASE[k] as usize) as u32;
        t[len - 3] = (code | extra << count, count as u8 + LENGTH_EXTRA[k]);
        len += 1;
    }
    t
};

/// A distance 1..=32768: its 5-bit fixed code followed by its extra bits, as
/// (bits, count). Codes 0–3 are distances 1–4; above, each power of two is split in two
/// codes with `log2 − 1` extra bits.
#[inline(always)]
fn distance_code(dist: usize) -> (u32, u32) {
    let d = (dist - 1) as u32;
    if d < 4 {
        return (REVERSED5[d as usize] as u32, 5);
    }
    let log = 31 - d.leading_zeros();
    let code = 2 * log + ((d >> (log - 1)) & 1);
    let extra = d & ((1 << (log - 1)) - 1);
    (REVERSED5[code as usize] as u32 | extra << 5, 5 + log - 1)
}

const REVERSED5: [u8; 32] = {
    let mut t = [0u8; 32];
    let mut c = 0;
    while c < 32 {
        t[c] = reversed(c as u32, 5) as u8;
        c += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    /// Inflates one payload with a fresh raw inflater, tail appended (what a client does
    /// under `server_no_context_takeover`).
    fn inflate(payload: &[u8], expect: usize) -> Vec<u8> {
        let mut d = Decompress::new(false);
        let mut input = payload.to_vec();
        input.extend_from_slice(&crate::deflate::TAIL);
        let mut out = Vec::with_capacity(expect + 64);
        d.decompress_vec(&input, &mut out, FlushDecompress::Sync).expect("valid deflate data");
        assert_eq!(d.total_in() as usize, input.len(), "every input byte consumed");
        out
    }

    /// Decodes one payload of fixed-code blocks independently of zlib (whose inflater
    /// does not reject a distance beyond a small window: zlib-rs accepted 900 with 9 bits),
    /// checking every distance against `window` and against what the receiver holds
    /// (`history` and the message so far). Returns the message.
    fn decode_checked(payload: &[u8], history: &[u8], window: usize) -> Vec<u8> {
        const DIST_BASE: [usize; 30] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
        let mut pos = 0usize; // in bits
        let mut bit = || {
            let b = (payload[pos / 8] >> (pos % 8)) & 1;
            pos += 1;
            b as usize
        };
        let mut out = history.to_vec();
        loop {
            let header = bit() | bit() << 1 | bit() << 2;
            if header == 0 {
                break; // the empty stored block of the sync flush: the rest is padding
            }
            assert_eq!(header, 0b010, "a non-final fixed-code block");
            loop {
                // Huffman codes are read most significant bit first.
                let mut code = 0;
                for _ in 0..7 {
                    code = code << 1 | bit();
                }
                let sym = if code <= 23 {
                    256 + code
                } else {
                    code = code << 1 | bit();
                    if (0x30..=0xBF).contains(&code) {
                        code - 0x30
                    } else if (0xC0..=0xC7).contains(&code) {
                        280 + code - 0xC0
                    } else {
                        code = code << 1 | bit();
                        144 + code - 0x190
                    }
                };
                if sym < 256 {
                    out.push(sym as u8);
                    continue;
                }
                if sym == 256 {
                    break;
                }
                let k = sym - 257;
                let mut extra = 0;
                for b in 0..LENGTH_EXTRA[k] {
                    extra |= bit() << b;
                }
                let len = LENGTH_BASE[k] as usize + extra;
                let mut d = 0;
                for _ in 0..5 {
                    d = d << 1 | bit();
                }
                let dbits = if d < 4 { 0 } else { d / 2 - 1 };
                let mut extra = 0;
                for b in 0..dbits {
                    extra |= bit() << b;
                }
                let dist = DIST_BASE[d] + extra;
                assert!(dist <= window, "distance {dist} beyond the {window} B window");
                assert!(dist <= out.len(), "distance {dist} before what the receiver holds");
                for _ in 0..len {
                    out.push(out[out.len() - dist]);
                }
            }
        }
        assert!(pos.div_ceil(8) == payload.len(), "nothing after the padding");
        out.split_off(history.len())
    }

    /// Deterministic pseudo-random bytes (xorshift), `alphabet` distinct values.
    fn noise(n: usize, seed: u64, alphabet: u8) -> Vec<u8> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s % alphabet as u64) as u8).wrapping_add(b'a')
            })
            .collect()
    }

    fn json_like(n: usize, seed: usize) -> Vec<u8> {
        let mut v = Vec::new();
        let mut k = seed;
        while v.len() < n {
            v.extend_from_slice(format!("{{\"id\":{k},\"user\":\"user{}\",\"text\":\"hello {}\",\"ok\":true}},", k % 97, k * 31 % 1000).as_bytes());
            k += 1;
        }
        v.truncate(n);
        v
    }

    #[test]
    fn round_trips_every_kind_of_input_with_one_compressor() {
        let mut q = QuickDeflater::new();
        let mut inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"a".to_vec(),
            b"abcd".to_vec(),
            b"abcdabcdabcdabcdabcd".to_vec(),
            vec![b'x'; 1000],     // distance 1, runs of 258
            vec![0u8; 70_000],     // many maximal matches
            (0..=255u8).cycle().take(5000).collect(),
        ];
        for (seed, n) in [(1, 64), (2, 700), (3, 4096), (4, 40_000), (5, 100_000)] {
            inputs.push(json_like(n, seed));
            inputs.push(noise(n, seed as u64, 4));
            inputs.push(noise(n, seed as u64 + 9, 255));
        }
        // Repeats far apart: the same 300 bytes every 33,000 bytes (beyond the window) and
        // every 32,000 (within it).
        for gap in [33_000usize, 32_000, 32_768 - 300] {
            let chunk = noise(300, 77, 200);
            let mut v = Vec::new();
            for _ in 0..4 {
                v.extend_from_slice(&chunk);
                v.extend(noise(gap - 300, v.len() as u64, 255));
            }
            inputs.push(v);
        }
        for round in 0..3 {
            for data in &inputs {
                let mut out = Vec::new();
                q.compress_after(&[], data, 1 << 15, &mut out);
                assert_eq!(inflate(&out, data.len()), *data, "round {round}, {} bytes", data.len());
            }
        }
    }

    #[test]
    fn continues_a_kept_context_within_the_window() {
        // One kept inflater per window size (as a client with context takeover), fed
        // messages compressed after the tail of what it already inflated; every distance
        // is also checked against the window by `decode_checked`.
        for bits in [9u8, 12, 15] {
            let window = 1usize << bits;
            let mut q = QuickDeflater::new();
            let mut d = Decompress::new_with_window_bits(false, bits);
            let mut sent: Vec<u8> = Vec::new();
            for k in 0..40 {
                let m = if k % 3 == 0 { json_like(50 + k * 97, k) } else { json_like(3000, k % 5) };
                let hist = &sent[sent.len().saturating_sub(window - 262)..];
                let mut out = Vec::new();
                q.compress_after(hist, &m, window, &mut out);
                assert_eq!(decode_checked(&out, hist, window), m, "window {bits}, message {k} (checked)");
                out.extend_from_slice(&crate::deflate::TAIL);
                let mut got = Vec::with_capacity(m.len() + 64);
                d.decompress_vec(&out, &mut got, FlushDecompress::Sync).expect("zlib inflates it");
                assert_eq!(got, m, "window {bits}, message {k} (zlib)");
                sent.extend_from_slice(&m);
            }
        }
        // Repeats only farther back than a 512 B window, inside the message and into the
        // history: they must be sent as literals.
        let r = noise(200, 41, 255);
        let far = [&r[..], &noise(700, 42, 255), &r].concat();
        for (hist, msg) in [(&[][..], &far[..]), (&r[..], &far[200..])] {
            let mut q = QuickDeflater::new();
            if !hist.is_empty() {
                // The client has inflated `hist` already (a message of its own).
                let mut first = Vec::new();
                q.compress_after(&[], hist, 512, &mut first);
                assert_eq!(decode_checked(&first, &[], 512), hist);
            }
            let mut out = Vec::new();
            q.compress_after(hist, msg, 512, &mut out);
            assert_eq!(decode_checked(&out, hist, 512), msg);
        }
        // With history, a repeat of it costs a few bytes.
        let mut q = QuickDeflater::new();
        let m = json_like(1000, 1);
        let (mut alone, mut after) = (Vec::new(), Vec::new());
        q.compress_after(&[], &m, 1 << 15, &mut alone);
        q.compress_after(&m, &m, 1 << 15, &mut after);
        assert!(after.len() * 5 < alone.len(), "{} vs {}", after.len(), alone.len());
    }

    #[test]
    fn earlier_messages_are_never_referenced() {
        // The same message twice in a row: the second must not point into the first (a
        // fresh inflater would fail with a distance too far back), so it is no shorter.
        let mut q = QuickDeflater::new();
        let m = noise(2000, 5, 255);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        q.compress_after(&[], &m, 1 << 15, &mut a);
        q.compress_after(&[], &m, 1 << 15, &mut b);
        assert_eq!(a, b);
        assert_eq!(inflate(&b, m.len()), m);
    }

    #[test]
    fn base_wrap_clears_the_table() {
        let mut q = QuickDeflater::new();
        let m = json_like(5000, 3);
        let mut first = Vec::new();
        q.compress_after(&[], &m, 1 << 15, &mut first);
        // Put `base` just short of wrapping: the next message must clear and restart.
        q.base = u32::MAX - 100;
        let mut out = Vec::new();
        q.compress_after(&[], &m, 1 << 15, &mut out);
        assert_eq!(q.base, 5001 + 1);
        assert_eq!(out, first, "after the clear it compresses as a fresh compressor");
        assert_eq!(inflate(&out, m.len()), m);
    }

    #[test]
    fn json_shrinks_like_zlib_level_1() {
        let mut q = QuickDeflater::new();
        let m = json_like(4096, 11);
        let mut out = Vec::new();
        q.compress_after(&[], &m, 1 << 15, &mut out);
        let mut z = flate2::Compress::new(flate2::Compression::new(1), false);
        let mut zout = Vec::with_capacity(8192);
        z.compress_vec(&m, &mut zout, flate2::FlushCompress::Sync).unwrap();
        // Within 10 % of zlib-rs level 1 (same strategy, same codes).
        assert!(out.len() * 10 <= (zout.len() - 4) * 11, "quick {} B vs zlib-rs level 1 {} B", out.len(), zout.len() - 4);
        assert!(out.len() * 3 < m.len());
    }

    #[test]
    fn code_tables_match_rfc_1951() {
        // Spot checks of §3.2.5/§3.2.6: length 258 is symbol 285 (8 bits, 0xC5) with no
        // extra bits; length 10 is symbol 264 (7 bits, 8); distance 32768 is code 29 with
        // 13 extra bits all set; literal 144 is the first 9-bit code (0x190).
        assert_eq!(LENGTH_CODES[258 - 3], (reversed(0xC5, 8), 8));
        assert_eq!(LENGTH_CODES[10 - 3], (reversed(8, 7), 7));
        assert_eq!(LENGTH_CODES[11 - 3], (reversed(9, 7), 8));
        assert_eq!(distance_code(32768), (reversed(29, 5) | 8191 << 5, 18));
        assert_eq!(distance_code(1), (0, 5));
        assert_eq!(distance_code(7), (reversed(5, 5), 6));
        assert_eq!(LITERAL_CODES[144], (reversed(0x190, 9) as u16, 9));
        assert_eq!(LITERAL_CODES[0], (reversed(0x30, 8) as u16, 8));
    }
}
