//! Unit tests for permessage-deflate: every negotiation variant, round trips with and
//! without context takeover (checked against independent zlib streams playing the
//! client), fragmented input, bombs, shared frames, RSV rules, and memory measured with
//! a counting allocator (thread-local counters, so parallel tests do not disturb it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

use super::*;

// ---------------------------------------------------------------- counting allocator

struct Counting;

#[derive(Clone, Copy, Default)]
struct AllocStats {
    live: isize,
    peak: isize,
    largest: usize,
}

thread_local! {
    static STATS: Cell<AllocStats> = const { Cell::new(AllocStats { live: 0, peak: 0, largest: 0 }) };
}

fn note(delta: isize, size: usize) {
    let _ = STATS.try_with(|s| {
        let mut v = s.get();
        v.live += delta;
        v.peak = v.peak.max(v.live);
        v.largest = v.largest.max(size);
        s.set(v);
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// const-initialised thread-locals without destructors, so touching them never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            note(l.size() as isize, l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            note(l.size() as isize, l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        note(-(l.size() as isize), 0);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            // Counted as a new block then the old one freed: the worst case of a move.
            note(new as isize, new);
            note(-(l.size() as isize), 0);
        }
        q
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Runs `f` and returns (its result, bytes still live from it, peak bytes, largest block).
fn measure<T>(f: impl FnOnce() -> T) -> (T, isize, isize, usize) {
    let before = STATS.with(|s| {
        let mut v = s.get();
        v.peak = v.live;
        v.largest = 0;
        s.set(v);
        v
    });
    let r = f();
    let after = STATS.with(|s| s.get());
    (r, after.live - before.live, after.peak - before.live, after.largest)
}

// ---------------------------------------------------------------- helpers

fn shared() -> Compression {
    Compression::shared()
}

fn ded(w: u8) -> Compression {
    Compression::dedicated(w)
}

fn resp(values: &[&str], cfg: &Compression, dedicated: bool) -> Option<String> {
    choose(values, cfg, dedicated).map(|a| a.response_value())
}

fn json(n: usize, seed: usize) -> Vec<u8> {
    let mut s = String::new();
    let mut i = seed;
    while s.len() < n {
        s.push_str(&format!("{{\"id\":{i},\"user\":\"user{}\",\"text\":\"hello world\",\"ok\":true}},", i * 7 % 13));
        i += 1;
    }
    s.truncate(n);
    s.into_bytes()
}

/// Deterministic incompressible bytes (xorshift).
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A client's inflater: one zlib stream for the connection, reset per message when
/// `reset` (ws resets when the server does not take context over). Like Chromium and
/// Firefox, it starts a fresh stream when a block with BFINAL set ends one and inflates
/// the rest of the input (RFC 7692 §7.2.3.4), and it insists on consuming every byte.
struct ClientInflater {
    d: Decompress,
    reset: bool,
    /// Streams ended by a final block so far.
    ends: usize,
}

impl ClientInflater {
    fn new(a: &Agreed) -> Self {
        Self::kept(a, a.server_no_context_takeover)
    }
    /// One inflater for the whole connection; `reset`: also reset before every message.
    fn kept(a: &Agreed, reset: bool) -> Self {
        ClientInflater { d: Decompress::new_with_window_bits(false, a.server_window_bits), reset, ends: 0 }
    }
    fn inflate(&mut self, payload: &[u8]) -> Vec<u8> {
        if self.reset {
            self.d.reset(false);
        }
        let mut input = payload.to_vec();
        input.extend_from_slice(&TAIL);
        let mut out = Vec::with_capacity(1 << 20);
        let mut pos = 0;
        while pos < input.len() {
            let before = self.d.total_in();
            let status = self.d.decompress_vec(&input[pos..], &mut out, FlushDecompress::Sync).expect("client inflates what the server sent");
            pos += (self.d.total_in() - before) as usize;
            if status == Status::StreamEnd {
                self.d.reset(false);
                self.ends += 1;
            } else {
                assert_eq!(pos, input.len(), "the inflater stopped before the end of the input");
            }
        }
        out
    }
}

/// Whether `payload` is one complete DEFLATE stream (ends with a BFINAL block) followed
/// by exactly the 0x00 octet of RFC 7692 §7.2.3.4.
fn is_final_stream(payload: &[u8]) -> bool {
    let mut d = Decompress::new(false);
    let mut out = Vec::with_capacity(1 << 20);
    match d.decompress_vec(payload, &mut out, FlushDecompress::None) {
        Ok(Status::StreamEnd) => d.total_in() as usize == payload.len() - 1 && payload.last() == Some(&0x00),
        _ => false,
    }
}

/// A client's compressor with the agreed client window.
struct ClientDeflater {
    c: Compress,
    reset: bool,
}

impl ClientDeflater {
    fn new(a: &Agreed) -> Self {
        let wb = a.client_window_bits.max(9);
        ClientDeflater { c: Compress::new_with_window_bits(flate2::Compression::new(6), false, wb), reset: a.client_no_context_takeover }
    }
    fn deflate(&mut self, data: &[u8], flush: FlushCompress) -> Vec<u8> {
        if self.reset {
            self.c.reset();
        }
        let mut out = Vec::with_capacity(data.len() + 1024);
        self.c.compress_vec(data, &mut out, flush).unwrap();
        assert!(self.c.total_in() as usize > 0 || data.is_empty());
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - 4);
        }
        out
    }
}

fn conn(values: &[&str], cfg: &Compression, slots: &DedicatedSlots) -> ConnDeflate {
    negotiate(values, cfg, slots).expect("negotiated").0
}

// ---------------------------------------------------------------- negotiation

#[test]
fn disabled_or_absent_offers_give_no_extension() {
    let slots = DedicatedSlots::new(10);
    assert!(negotiate(&["permessage-deflate"], &Compression::default(), &slots).is_none());
    assert!(negotiate(&[], &shared(), &slots).is_none());
    assert!(negotiate(&["x-webkit-deflate-frame", "foo; bar=1"], &shared(), &slots).is_none());
}

#[test]
fn shared_mode_turns_off_context_takeover_both_ways() {
    let want = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    assert_eq!(resp(&["permessage-deflate"], &shared(), false).as_deref(), Some(want));
    // Chrome's offer (bare client_max_window_bits).
    assert_eq!(resp(&["permessage-deflate; client_max_window_bits"], &shared(), false).as_deref(), Some(want));
    // Node ws's offer.
    assert_eq!(resp(&["permessage-deflate; client_max_window_bits=15"], &shared(), false).as_deref(), Some(want));
    let a = choose(&["permessage-deflate"], &shared(), false).unwrap();
    assert!(!a.keeps_context());
    assert_eq!(a.server_window_bits, 15);
}

#[test]
fn names_are_case_insensitive_and_whitespace_is_tolerated() {
    let a = choose(&["  PerMessage-Deflate ;\tServer_Max_Window_Bits = 11 ; CLIENT_MAX_WINDOW_BITS"], &ded(12), true).unwrap();
    assert_eq!(a.server_window_bits, 11);
    assert_eq!(a.client_window_bits, 12);
    assert_eq!(a.response_value(), "permessage-deflate; server_max_window_bits=11; client_max_window_bits=12");
}

#[test]
fn first_acceptable_offer_wins_across_offers_and_headers() {
    // First offer has an unknown parameter, second is fine.
    let v = ["permessage-deflate; foo, permessage-deflate; server_max_window_bits=10"];
    let a = choose(&v, &shared(), false).unwrap();
    assert_eq!(a.server_window_bits, 10);
    assert!(a.say_server_bits);
    // Offers spread over several headers, other extensions in between.
    let v = ["x-foo; a=\"1,2\"", "permessage-deflate; server_max_window_bits=7", "permessage-deflate; server_max_window_bits=9"];
    assert_eq!(choose(&v, &shared(), false).unwrap().server_window_bits, 9);
    // The first good one is taken even if a later one is "better".
    let v = ["permessage-deflate; server_max_window_bits=12, permessage-deflate"];
    assert_eq!(choose(&v, &shared(), false).unwrap().server_window_bits, 12);
}

#[test]
fn quoted_values_are_unquoted() {
    let a = choose(&["permessage-deflate; server_max_window_bits=\"10\""], &shared(), false).unwrap();
    assert_eq!(a.server_window_bits, 10);
    let a = choose(&["permessage-deflate; server_max_window_bits=\"1\\3\""], &shared(), false).unwrap();
    assert_eq!(a.server_window_bits, 13);
    // A quoted comma does not split the list; the offer after it still counts.
    // (A value must be a token once unquoted, so that element itself is malformed.)
    let v = ["x-ext; p=\"a,b\", permessage-deflate; client_max_window_bits=\"12\""];
    let offers = parse_offers(&v);
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[0], None);
    let v2 = ["x-ext; p=\"a\\b\""];
    assert_eq!(parse_offers(&v2)[0].as_ref().unwrap().params, vec![("p".to_string(), Some("ab".to_string()))]);
    let a = choose(&v, &ded(15), true).unwrap();
    assert_eq!(a.client_window_bits, 12);
}

#[test]
fn invalid_values_decline_the_offer() {
    for bad in [
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=+9",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=\"\"",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=\"x\"",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=true",
        "permessage-deflate; unknown",
        "permessage-deflate; x=1",
    ] {
        assert_eq!(resp(&[bad], &shared(), false), None, "{bad}");
        assert_eq!(resp(&[bad], &ded(12), true), None, "{bad}");
    }
}

#[test]
fn duplicate_parameters_decline_the_offer() {
    for bad in [
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; client_max_window_bits; CLIENT_MAX_WINDOW_BITS",
    ] {
        assert_eq!(resp(&[bad], &shared(), false), None, "{bad}");
        // ... and the next offer is still considered.
        let with_fallback = format!("{bad}, permessage-deflate");
        assert!(resp(&[&with_fallback], &shared(), false).is_some(), "{bad}");
    }
}

#[test]
fn malformed_syntax_declines_only_that_element() {
    for bad in [
        "permessage-deflate; =5",
        "permessage-deflate; server_max_window_bits=\"10",
        "permessage-deflate; a b",
        "permessage-deflate;",
        "permessage deflate",
        "permessage-deflate; server_max_window_bits=1 0",
        "\"permessage-deflate\"",
    ] {
        assert_eq!(resp(&[bad], &shared(), false), None, "{bad}");
    }
    assert!(resp(&["permessage-deflate; a b", "permessage-deflate"], &shared(), false).is_some());
    // Empty list elements are ignored.
    assert_eq!(parse_offers(&[" , ,permessage-deflate,"]).len(), 1);
}

#[test]
fn window_of_8_is_declined_because_zlib_cannot_honour_it() {
    assert_eq!(resp(&["permessage-deflate; server_max_window_bits=8"], &shared(), false), None);
    assert_eq!(resp(&["permessage-deflate; server_max_window_bits=8"], &ded(12), true), None);
    let a = choose(&["permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9"], &shared(), false).unwrap();
    assert_eq!(a.server_window_bits, 9);
    // The client's window of 8 is fine: we only inflate it.
    let a = choose(&["permessage-deflate; client_max_window_bits=8"], &ded(12), true).unwrap();
    assert_eq!(a.client_window_bits, 8);
    assert_eq!(a.response_value(), "permessage-deflate; server_max_window_bits=12; client_max_window_bits=8");
}

#[test]
fn dedicated_mode_variants() {
    // Bare client_max_window_bits: we choose the client's window.
    assert_eq!(
        resp(&["permessage-deflate; client_max_window_bits"], &ded(12), true).as_deref(),
        Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
    );
    // No client_max_window_bits: the client may use 32 KiB, so it is asked not to keep it.
    let a = choose(&["permessage-deflate"], &ded(12), true).unwrap();
    assert_eq!(a.response_value(), "permessage-deflate; client_no_context_takeover; server_max_window_bits=12");
    assert!(a.keeps_context());
    // w = 15 keeps everything, nothing to say.
    assert_eq!(resp(&["permessage-deflate"], &ded(15), true).as_deref(), Some("permessage-deflate"));
    // Smaller values from the client win.
    let a = choose(&["permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"], &ded(12), true).unwrap();
    assert_eq!((a.server_window_bits, a.client_window_bits), (10, 9));
    // The client's own no-context requests are honoured and echoed.
    let a = choose(&["permessage-deflate; server_no_context_takeover; client_no_context_takeover"], &ded(12), true).unwrap();
    assert!(a.server_no_context_takeover && a.client_no_context_takeover && !a.keeps_context());
    let a = choose(&["permessage-deflate; server_no_context_takeover; client_max_window_bits"], &ded(12), true).unwrap();
    assert_eq!(
        a.response_value(),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12"
    );
    assert!(a.keeps_context());
    // Without a slot: shared parameters.
    assert_eq!(
        resp(&["permessage-deflate; client_max_window_bits"], &ded(12), false).as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
}

#[test]
fn dedicated_slots_are_capped_and_given_back() {
    let mut cfg = ded(12);
    cfg.max_dedicated = 2;
    let slots = DedicatedSlots::new(cfg.max_dedicated);
    let offer = ["permessage-deflate; client_max_window_bits"];
    let (a, _) = negotiate(&offer, &cfg, &slots).unwrap();
    let (b, _) = negotiate(&offer, &cfg, &slots).unwrap();
    assert!(a.ctx.is_some() && b.ctx.is_some());
    assert_eq!(slots.in_use(), 2);
    let (c, v) = negotiate(&offer, &cfg, &slots).unwrap();
    assert!(c.ctx.is_none());
    assert_eq!(v, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    // An agreement without context takes no slot.
    let (d, _) = negotiate(&["permessage-deflate; server_no_context_takeover; client_no_context_takeover"], &cfg, &slots).unwrap();
    assert!(d.ctx.is_none());
    drop(a);
    assert_eq!(slots.in_use(), 1);
    let (e, _) = negotiate(&offer, &cfg, &slots).unwrap();
    assert!(e.ctx.is_some());
    drop((b, e));
    assert_eq!(slots.in_use(), 0);
}

#[test]
fn config_validation() {
    assert!(ded(9).validate().is_ok() && ded(15).validate().is_ok() && shared().validate().is_ok());
    assert!(ded(8).validate().is_err() && ded(16).validate().is_err());
    let mut c = shared();
    c.level = 0;
    assert!(c.validate().is_err());
}

#[test]
fn rsv_rules() {
    assert_eq!(check_rsv(0, 0x1, false), Ok(false));
    assert_eq!(check_rsv(0b100, 0x1, true), Ok(true));
    assert_eq!(check_rsv(0b100, 0x2, true), Ok(true));
    assert!(check_rsv(0b100, 0x1, false).is_err());
    assert!(check_rsv(0b100, 0x0, true).is_err());
    for op in [0x8, 0x9, 0xA] {
        assert!(check_rsv(0b100, op, true).is_err());
        assert_eq!(check_rsv(0, op, true), Ok(false));
    }
    assert!(check_rsv(0b010, 0x1, true).is_err());
    assert!(check_rsv(0b001, 0x1, true).is_err());
}

// ---------------------------------------------------------------- compression

/// Runs a test at level 1 (quick.rs; a kept context's history is replayed as bytes a
/// message may refer to) and level 6 (zlib-rs; the history is a preset dictionary,
/// skipped while the compressor still holds the stream).
fn at_both_compressors(test: fn(u8)) {
    for level in [1, 6] {
        test(level);
    }
}

fn codec(cfg: &Compression) -> LoopCodec {
    let mut cfg = cfg.clone();
    cfg.threshold = 0;
    LoopCodec::new(&cfg)
}

#[test]
fn round_trip_without_context() {
    let cfg = shared();
    let slots = DedicatedSlots::new(0);
    let mut codec = codec(&cfg);
    let mut st = conn(&["permessage-deflate"], &cfg, &slots);
    let mut client = ClientInflater::new(&st.agreed);
    let mut cdef = ClientDeflater::new(&st.agreed);
    let mut buf = Vec::new();
    for (i, n) in [1usize, 10, 100, 1000, 4096, 70_000, 300_000].into_iter().enumerate() {
        let m = json(n, i);
        let Some(z) = codec.compress(&mut st, &m).map(|z| z.to_vec()) else {
            assert!(n < 64, "JSON of {n} bytes shrinks");
            continue;
        };
        assert!(z.len() < m.len());
        assert_eq!(client.inflate(&z), m);
        // And the other way round.
        let zc = cdef.deflate(&m, FlushCompress::Sync);
        codec.decompress(&mut st, &[&zc], 1 << 20, &mut buf).unwrap();
        assert_eq!(buf, m);
    }
    // The same message compresses the same way every time: nothing is carried over.
    let m = json(2000, 0);
    let a = codec.compress(&mut st, &m).unwrap().to_vec();
    let b = codec.compress(&mut st, &m).unwrap().to_vec();
    assert_eq!(a, b);
}

#[test]
fn round_trip_with_context_takeover_both_ways_interleaved() {
    at_both_compressors(round_trip_with_context_takeover_both_ways_interleaved_at);
}

fn round_trip_with_context_takeover_both_ways_interleaved_at(level: u8) {
    let mut cfg = ded(12);
    cfg.level = level;
    let slots = DedicatedSlots::new(10);
    let mut codec = codec(&cfg);
    let offer = ["permessage-deflate; client_max_window_bits"];
    let mut a = conn(&offer, &cfg, &slots);
    let mut b = conn(&offer, &cfg, &slots);
    let (mut ca, mut cb) = (ClientInflater::new(&a.agreed), ClientInflater::new(&b.agreed));
    let (mut da, mut db) = (ClientDeflater::new(&a.agreed), ClientDeflater::new(&b.agreed));
    let mut buf = Vec::new();
    let m = json(600, 3);
    let first = codec.compress(&mut a, &m).unwrap().to_vec();
    assert_eq!(ca.inflate(&first), m);
    let again = codec.compress(&mut a, &m).unwrap().to_vec();
    assert!(again.len() * 4 < first.len(), "context makes a repeat tiny: {} vs {}", again.len(), first.len());
    assert_eq!(ca.inflate(&again), m);
    // Interleave two connections on one loop compressor, with messages larger than the
    // window, so history is replayed as a dictionary and trimmed.
    for i in 0..40 {
        let n = [50, 700, 3000, 5000, 9000][i % 5];
        let ma = json(n, i);
        let mb = json(n / 2 + 1, i + 100);
        let za = codec.compress(&mut a, &ma).unwrap().to_vec();
        let zb = codec.compress(&mut b, &mb).unwrap().to_vec();
        assert_eq!(ca.inflate(&za), ma, "a {i}");
        assert_eq!(cb.inflate(&zb), mb, "b {i}");
        let za = da.deflate(&ma, FlushCompress::Sync);
        let zb = db.deflate(&mb, FlushCompress::Sync);
        codec.decompress(&mut a, &[&za], 1 << 20, &mut buf).unwrap();
        assert_eq!(buf, ma, "a in {i}");
        codec.decompress(&mut b, &[&zb], 1 << 20, &mut buf).unwrap();
        assert_eq!(buf, mb, "b in {i}");
    }
    let held = a.held_bytes();
    assert!(held <= 8 << 10, "held {held}");
}

#[test]
fn uncompressed_and_incompressible_messages_leave_context_consistent() {
    at_both_compressors(uncompressed_and_incompressible_messages_leave_context_consistent_at);
}

fn uncompressed_and_incompressible_messages_leave_context_consistent_at(level: u8) {
    let mut cfg = ded(12);
    cfg.threshold = 100;
    cfg.level = level;
    let slots = DedicatedSlots::new(10);
    let mut codec = LoopCodec::new(&cfg);
    let mut a = conn(&["permessage-deflate; client_max_window_bits"], &cfg, &slots);
    let mut ca = ClientInflater::new(&a.agreed);
    let m = json(1000, 1);
    assert_eq!(ca.inflate(codec.compress(&mut a, &m).unwrap()), m);
    assert!(codec.compress(&mut a, &json(50, 2)).is_none(), "below threshold");
    assert!(codec.compress(&mut a, &noise(3000)).is_none(), "noise does not shrink");
    let m2 = json(1000, 2);
    assert_eq!(ca.inflate(codec.compress(&mut a, &m2).unwrap()), m2);
}

#[test]
fn short_messages_prime_a_kept_context_and_then_shrink() {
    at_both_compressors(short_messages_prime_a_kept_context_and_then_shrink_at);
}

fn short_messages_prime_a_kept_context_and_then_shrink_at(level: u8) {
    let mut cfg = ded(12);
    cfg.level = level;
    let slots = DedicatedSlots::new(10);
    let mut codec = codec(&cfg);
    let mut a = conn(&["permessage-deflate; client_max_window_bits"], &cfg, &slots);
    let mut ca = ClientInflater::new(&a.agreed);
    // Short JSON like a chat message's head; alone, it does not shrink.
    let short = |i: usize| {
        let mut m = format!("{{\"id\":{},\"user\":\"alpha\",\"room\":\"r{}\"}}", 1_000_003 + i, i % 17).into_bytes();
        m.truncate(32);
        m
    };
    assert!(codec.compress_standalone(12, false, &short(0)).is_none(), "alone it must not shrink");
    let mut sizes = Vec::new();
    for i in 0..300 {
        let m = short(i);
        let z = codec.compress(&mut a, &m).unwrap_or_else(|| panic!("message {i} went plain")).to_vec();
        assert!(z.len() <= 32 + 8, "message {i} grew by more than the slack: {}", z.len());
        assert_eq!(ca.inflate(&z), m, "message {i}");
        sizes.push(z.len());
    }
    let late = sizes[200..].iter().sum::<usize>() as f64 / 100.0;
    assert!(late < 20.0, "with the context primed 32 B JSON shrinks: {late} B on average");
    // History full: a short message that does not shrink goes plain, and the context
    // stays consistent for the next one.
    assert!(codec.compress(&mut a, &noise(64)).is_none());
    let m = short(999);
    assert_eq!(ca.inflate(codec.compress(&mut a, &m).unwrap()), m);
    assert!(a.held_bytes() <= 8 << 10);
}

#[test]
fn fragmented_input_inflates_the_same() {
    let cfg = ded(15);
    let slots = DedicatedSlots::new(10);
    let mut codec = codec(&cfg);
    let mut st = conn(&["permessage-deflate"], &cfg, &slots);
    let mut cd = ClientDeflater::new(&st.agreed);
    let mut buf = Vec::new();
    for round in 0..20usize {
        let m = json(100 + round * 997, round);
        let z = cd.deflate(&m, FlushCompress::Sync);
        // Cut into pieces of varying sizes, including empty ones.
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut pos = 0;
        let mut k = round;
        while pos < z.len() {
            let len = [0usize, 1, 2, 7, 64, 500][k % 6].min(z.len() - pos);
            pieces.push(&z[pos..pos + len]);
            pos += len;
            k += 1;
        }
        codec.decompress(&mut st, &pieces, 1 << 20, &mut buf).unwrap();
        assert_eq!(buf, m, "round {round}");
    }
}

#[test]
fn final_blocks_are_accepted_and_trailing_garbage_is_not() {
    let cfg = shared();
    let slots = DedicatedSlots::new(0);
    let mut codec = codec(&cfg);
    let mut st = conn(&["permessage-deflate"], &cfg, &slots);
    let mut cd = ClientDeflater::new(&st.agreed);
    let m = json(3000, 9);
    let z = cd.deflate(&m, FlushCompress::Finish);
    let mut buf = Vec::new();
    codec.decompress(&mut st, &[&z], 1 << 20, &mut buf).unwrap();
    assert_eq!(buf, m);
    let mut junk = z.clone();
    junk.extend_from_slice(b"junk");
    assert_eq!(codec.decompress(&mut st, &[&junk], 1 << 20, &mut buf), Err(InflateError::Corrupt));
    // RFC 7692 §7.2.3.4: the final block followed by the 0x00 octet of an empty stored
    // block, whole or split anywhere; the RFC's own example too.
    let mut z0 = z.clone();
    z0.push(0x00);
    for cut in [0, 1, z0.len() - 1, z0.len()] {
        codec.decompress(&mut st, &[&z0[..cut], &z0[cut..]], 1 << 20, &mut buf).unwrap();
        assert_eq!(buf, m, "cut at {cut}");
    }
    codec.decompress(&mut st, &[&[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]], 1 << 20, &mut buf).unwrap();
    assert_eq!(buf, b"Hello");
    // Anything else after the final block is not.
    for extra in [&[0x00u8, 0x00][..], &[0x01], &[0x00, 0x00, 0x00, 0xff, 0xff]] {
        let mut bad = z.clone();
        bad.extend_from_slice(extra);
        assert_eq!(codec.decompress(&mut st, &[&bad], 1 << 20, &mut buf), Err(InflateError::Corrupt), "{extra:?}");
    }
}

#[test]
fn shared_mode_messages_inflate_in_every_kind_of_client_and_never_end_the_stream() {
    at_both_compressors(shared_mode_messages_at);
}

fn shared_mode_messages_at(level: u8) {
    let mut cfg = shared();
    cfg.level = level;
    let slots = DedicatedSlots::new(0);
    let mut codec = codec(&cfg);
    // What browsers offer; the answer adds both no_context_takeover parameters.
    let mut st = conn(&["permessage-deflate; client_max_window_bits"], &cfg, &slots);
    assert!(st.agreed.server_no_context_takeover);
    // Another connection of the same loop receives what this one sends (as a server
    // would from a client that ends its messages with final blocks).
    let mut peer = conn(&["permessage-deflate; client_max_window_bits"], &cfg, &slots);
    let mut fresh_each = 0;
    let mut kept = ClientInflater::kept(&st.agreed, false); // Chromium, Firefox
    let mut kept_reset = ClientInflater::kept(&st.agreed, true); // ws
    let mut buf = Vec::new();
    let mut n_sent = 0;
    for i in 0..60usize {
        let n = [40usize, 100, 600, 4096, 4096, 20_000, 70_000][i % 7];
        let m = json(n, i);
        let Some(z) = codec.compress(&mut st, &m).map(|z| z.to_vec()) else {
            assert!(n < 64, "JSON of {n} bytes shrinks");
            continue;
        };
        n_sent += 1;
        assert!(z.len() < m.len());
        assert!(!is_final_stream(&z), "message {i}: sync-flushed, never a final block (OkHttp, Bun)");
        // A fresh inflater per message (websockets, gorilla).
        let mut f = ClientInflater::kept(&st.agreed, false);
        assert_eq!(f.inflate(&z), m, "fresh, message {i}");
        fresh_each += f.ends;
        assert_eq!(kept.inflate(&z), m, "kept, message {i}");
        assert_eq!(kept_reset.inflate(&z), m, "kept and reset, message {i}");
        codec.decompress(&mut peer, &[&z], 1 << 20, &mut buf).unwrap();
        assert_eq!(buf, m, "our own inflater, message {i}");
    }
    assert!(n_sent > 40);
    assert_eq!(fresh_each, 0, "no message ends its stream");
    assert_eq!(kept.ends, 0);
}

#[test]
fn level_1_sync_flushes_and_short_messages_are_not_tried() {
    let mut cfg = shared();
    cfg.level = 1;
    let slots = DedicatedSlots::new(0);
    let mut codec = codec(&cfg);
    let mut st = conn(&["permessage-deflate; client_max_window_bits"], &cfg, &slots);
    let mut kept = ClientInflater::kept(&st.agreed, false);
    // 51 B or less (55 − 4 × 1) go out plain even when they would shrink.
    let rep = vec![b'a'; 51];
    assert!(codec.compress(&mut st, &rep).is_none());
    let rep = vec![b'a'; 52];
    assert_eq!(kept.inflate(codec.compress(&mut st, &rep).expect("52 B of one letter shrink")), rep);
    for i in 0..20 {
        let m = json(4096, i);
        let z = codec.compress(&mut st, &m).unwrap().to_vec();
        assert!(!is_final_stream(&z), "level 1 (quick.rs) ends with a sync flush too");
        assert_eq!(kept.inflate(&z), m);
    }
    assert_eq!(kept.ends, 0);
    // At level 6 the cut-off is 31 B: 32 B of one letter are tried and shrink.
    let mut cfg6 = shared();
    cfg6.level = 6;
    let mut codec6 = self::codec(&cfg6);
    let rep = vec![b'a'; 32];
    let z = codec6.compress(&mut st, &rep).expect("32 B of one letter shrink at level 6").to_vec();
    assert!(!is_final_stream(&z));
    assert!(codec6.compress(&mut st, &rep[..31]).is_none());
}

#[test]
fn whole_message_compression_only_where_the_agreement_allows_it() {
    let mut cfg = ded(15);
    cfg.threshold = 0;
    let slots = DedicatedSlots::new(10);
    let mut codec = LoopCodec::new(&cfg);
    // The client asked us not to keep context, but keeps its own: compressed on their own.
    let mut snct = conn(&["permessage-deflate; server_no_context_takeover"], &cfg, &slots);
    assert!(snct.agreed.server_no_context_takeover && !snct.agreed.client_no_context_takeover);
    // Context kept on our side: sync-flushed pieces of one stream, never a final block.
    let mut keep = conn(&["permessage-deflate"], &cfg, &slots);
    assert!(!keep.agreed.server_no_context_takeover);
    // A 10-bit server window: compressed with 32 KiB only when no distance can exceed it.
    let scfg = shared();
    let mut s10 = conn(&["permessage-deflate; server_max_window_bits=10"], &scfg, &slots);
    assert_eq!(s10.agreed.server_window_bits, 10);
    let (mut c_snct, mut c_keep, mut c_10) =
        (ClientInflater::new(&snct.agreed), ClientInflater::new(&keep.agreed), ClientInflater::new(&s10.agreed));
    for i in 0..6 {
        let m = json(3000 + 100 * i, i);
        let z = codec.compress(&mut snct, &m).unwrap().to_vec();
        assert!(!is_final_stream(&z));
        assert_eq!(c_snct.inflate(&z), m);
        let z = codec.compress(&mut keep, &m).unwrap().to_vec();
        assert!(!is_final_stream(&z));
        assert_eq!(c_keep.inflate(&z), m);
        // Larger than 1 KiB: compressed with the 10-bit window (quick.rs at level 1, zlib
        // above). zlib-rs' inflater does not catch a longer distance here (it accepted
        // 900 with 9 bits); quick.rs' own test checks distances with a decoder of its own.
        let z = codec.compress(&mut s10, &m).unwrap().to_vec();
        assert!(!is_final_stream(&z));
        assert_eq!(c_10.inflate(&z), m);
        let small = json(1000, i);
        let z = codec.compress(&mut s10, &small).unwrap().to_vec();
        assert!(!is_final_stream(&z));
        assert_eq!(c_10.inflate(&z), small);
    }
    assert_eq!(c_keep.ends, 0);
    assert_eq!(c_snct.ends, 0);
}

#[test]
fn corrupt_input_is_1007() {
    let cfg = shared();
    let slots = DedicatedSlots::new(0);
    let mut codec = codec(&cfg);
    let mut st = conn(&["permessage-deflate"], &cfg, &slots);
    let mut buf = Vec::new();
    // BTYPE = 11 is reserved.
    let e = codec.decompress(&mut st, &[&[0xff, 0xff, 0xff]], 1 << 20, &mut buf).unwrap_err();
    assert_eq!((e, e.close_code()), (InflateError::Corrupt, 1007));
    // A distance reaching before the start of the stream (no dictionary).
    let e = codec.decompress(&mut st, &[&noise(64)], 1 << 20, &mut buf);
    assert!(e.is_err() || buf.len() < 1 << 20);
    // The codec still works afterwards.
    let mut cd = ClientDeflater::new(&st.agreed);
    let m = json(500, 1);
    codec.decompress(&mut st, &[&cd.deflate(&m, FlushCompress::Sync)], 1 << 20, &mut buf).unwrap();
    assert_eq!(buf, m);
}

/// A raw deflate stream that inflates to `total` zero bytes, built by hand (fixed
/// Huffman codes: one literal 0, then length-258/distance-1 copies), ending at a byte
/// boundary like a sync-flushed message without its tail. ~13 bits per 258 bytes.
fn zero_bomb(total: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, v: u64, len: u32) {
            self.acc |= v << self.n;
            self.n += len;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// Huffman codes go most significant bit first.
        fn code(&mut self, code: u64, len: u32) {
            let mut r = 0;
            for i in 0..len {
                r |= ((code >> i) & 1) << (len - 1 - i);
            }
            self.put(r, len);
        }
    }
    let mut b = Bits { out: Vec::with_capacity((total / 258 * 13 / 8 + 16) as usize), acc: 0, n: 0 };
    b.put(0, 1); // BFINAL = 0
    b.put(1, 2); // BTYPE = 01, fixed codes
    b.code(0b0011_0000, 8); // literal 0
    let copies = (total - 1) / 258;
    for _ in 0..copies {
        b.code(0b1100_0101, 8); // length symbol 285 = 258 bytes
        b.code(0, 5); // distance code 0 = 1 byte back
    }
    let rest = total - 1 - copies * 258;
    for _ in 0..rest {
        b.code(0b0011_0000, 8);
    }
    b.code(0, 7); // end of block (256)
    b.put(0, 3); // start of the empty stored block whose LEN/NLEN is the tail
    if b.n > 0 {
        b.put(0, 8 - b.n);
    }
    b.out
}

#[test]
fn hand_built_bomb_is_valid_deflate() {
    let z = zero_bomb(100_000);
    let cfg = shared();
    let slots = DedicatedSlots::new(0);
    let mut codec = codec(&cfg);
    let mut st = conn(&["permessage-deflate"], &cfg, &slots);
    let mut buf = Vec::new();
    codec.decompress(&mut st, &[&z], 100_000, &mut buf).unwrap();
    assert_eq!(buf.len(), 100_000);
    assert!(buf.iter().all(|&x| x == 0));
    // One byte over the limit is too big.
    assert_eq!(codec.decompress(&mut st, &[&z], 99_999, &mut buf), Err(InflateError::TooBig));
}

#[test]
fn a_gigabyte_bomb_stops_at_the_limit_without_allocating_beyond_it() {
    let z = zero_bomb(1 << 30);
    assert!(z.len() < 8 << 20, "bomb is {} bytes", z.len());
    let cfg = shared();
    let slots = DedicatedSlots::new(0);
    let mut codec = codec(&cfg);
    let mut st = conn(&["permessage-deflate"], &cfg, &slots);
    // Warm the decompressor so its own (fixed) state is not counted below.
    let mut buf = Vec::new();
    codec.decompress(&mut st, &[&zero_bomb(10)], 100, &mut buf).unwrap();
    drop(buf);
    let limit = 1 << 20;
    for pieces in [vec![&z[..]], z.chunks(64 << 10).collect::<Vec<_>>()] {
        let mut buf = Vec::new();
        let (r, _live, peak, largest) = measure(|| codec.decompress(&mut st, &pieces, limit, &mut buf));
        assert_eq!(r, Err(InflateError::TooBig));
        assert_eq!(r.unwrap_err().close_code(), 1009);
        assert!(largest <= limit + 1, "largest block {largest}");
        // Doubling growth may hold the old and new buffer for a moment.
        assert!(peak as usize <= limit + limit / 2 + 4096, "peak {peak}");
    }
}

// ---------------------------------------------------------------- shared frames

fn frame_payload(f: &[u8]) -> (u8, &[u8]) {
    let len7 = (f[1] & 0x7f) as usize;
    let (len, h) = match len7 {
        126 => (u16::from_be_bytes([f[2], f[3]]) as usize, 4),
        127 => (u64::from_be_bytes(f[2..10].try_into().unwrap()) as usize, 10),
        n => (n, 2),
    };
    assert_eq!(f.len(), h + len);
    (f[0], &f[h..])
}

#[test]
fn shared_message_is_compressed_once_per_window_size() {
    at_both_compressors(shared_message_is_compressed_once_per_window_size_at);
}

fn shared_message_is_compressed_once_per_window_size_at(level: u8) {
    let cfg = {
        let mut c = ded(12);
        c.threshold = 100;
        c.level = level;
        c
    };
    let slots = DedicatedSlots::new(1);
    let mut codec = LoopCodec::new(&cfg);
    // One dedicated (12 bits, keeps context) and shared ones at 15 and 10 bits.
    let mut d = conn(&["permessage-deflate; client_max_window_bits"], &cfg, &slots);
    let mut s15a = conn(&["permessage-deflate"], &cfg, &slots);
    let mut s15b = conn(&["permessage-deflate"], &cfg, &slots);
    let mut s10 = conn(&["permessage-deflate; server_max_window_bits=10"], &cfg, &slots);
    assert!(d.ctx.is_some() && s15a.ctx.is_none());
    let mut cd = ClientInflater::new(&d.agreed);
    // Give the dedicated connection some history first.
    let m0 = json(800, 5);
    assert_eq!(cd.inflate(codec.compress(&mut d, &m0).unwrap()), m0);

    let m = json(5000, 7);
    let msg = SharedMessage::new(0x1, &m);
    let f_d = msg.frame_for(Some(&mut d), &mut codec);
    let f_a = msg.frame_for(Some(&mut s15a), &mut codec);
    let f_b = msg.frame_for(Some(&mut s15b), &mut codec);
    let f_10 = msg.frame_for(Some(&mut s10), &mut codec);
    let f_plain = msg.frame_for(None, &mut codec);
    assert_eq!(f_a.as_ptr(), f_b.as_ptr(), "one compression shared by both 15-bit receivers");
    assert_ne!(f_a.as_ptr(), f_10.as_ptr());
    // Receivers without our context share one frame compressed on its own; the 10-bit
    // receiver (5000 B exceed its window) and the one keeping context get their own.
    // None of them ends the DEFLATE stream.
    assert!(!is_final_stream(frame_payload(&f_a).1));
    assert!(!is_final_stream(frame_payload(&f_10).1));
    assert!(!is_final_stream(frame_payload(&f_d).1));
    // A message within 1 KiB: the 10-bit receiver shares the 15-bit receivers' frame.
    let m1 = json(1000, 3);
    let msg1 = SharedMessage::new(0x1, &m1);
    let g_a = msg1.frame_for(Some(&mut s15a), &mut codec);
    let g_10 = msg1.frame_for(Some(&mut s10), &mut codec);
    assert_eq!(g_a.as_ptr(), g_10.as_ptr());
    assert!(!is_final_stream(frame_payload(&g_a).1));
    assert_eq!(ClientInflater::new(&s10.agreed).inflate(frame_payload(&g_10).1), m1);
    assert_eq!(f_plain.as_ptr(), msg.plain_frame().as_ptr());
    for (f, st) in [(&f_a, &s15a), (&f_10, &s10)] {
        let (b0, p) = frame_payload(f);
        assert_eq!(b0, 0x80 | 0x40 | 0x1);
        assert_eq!(ClientInflater::new(&st.agreed).inflate(p), m);
    }
    let (b0, p) = frame_payload(&f_d);
    assert_eq!(b0, 0xC1);
    assert_eq!(cd.inflate(p), m);
    let (b0, p) = frame_payload(&f_plain);
    assert_eq!((b0, p), (0x81, &m[..]));
    // The dedicated receiver's next own message is still decodable by its client.
    let m2 = json(900, 8);
    assert_eq!(cd.inflate(codec.compress(&mut d, &m2).unwrap()), m2);
    // Small shared messages go out plain.
    let small = SharedMessage::new(0x2, b"tiny");
    assert_eq!(small.frame_for(Some(&mut s15a), &mut codec)[0], 0x82);
}

// ---------------------------------------------------------------- memory

#[test]
fn memory_per_connection_and_per_loop() {
    assert!(std::mem::size_of::<ConnDeflate>() <= 16, "{}", std::mem::size_of::<ConnDeflate>());
    assert!(std::mem::size_of::<Option<ConnDeflate>>() <= 16);

    let mut cfg = shared();
    cfg.threshold = 0;
    let slots = DedicatedSlots::new(100);
    // Per loop: the compressor (15 bits) and the decompressor, created on first use; at
    // level 1 (the default) the compressor is quick.rs' 64 KiB table, at 6 zlib-rs'.
    let mut cfg6 = cfg.clone();
    cfg6.level = 6;
    let (_, zlib_loop_bytes, _, _) = measure(|| {
        let mut codec = LoopCodec::new(&cfg6);
        let mut st = conn(&["permessage-deflate"], &cfg6, &slots);
        let z = codec.compress(&mut st, &json(4096, 0)).unwrap().len();
        (codec, st, z)
    });
    eprintln!("per-loop zlib-rs compressor at level 6 (with scratch): {zlib_loop_bytes} bytes");
    assert!(zlib_loop_bytes > 200_000 && zlib_loop_bytes < 1 << 20, "{zlib_loop_bytes}");
    let ((mut codec, mut st), loop_bytes, _, _) = measure(|| {
        let mut codec = LoopCodec::new(&cfg);
        let mut st = conn(&["permessage-deflate"], &cfg, &slots);
        let m = json(4096, 0);
        let z = codec.compress(&mut st, &m).unwrap().to_vec();
        let mut buf = Vec::new();
        let mut d = Decompress::new_with_window_bits(false, 15);
        let mut zc = Vec::with_capacity(8192);
        let _ = &mut d;
        Compress::new_with_window_bits(flate2::Compression::new(6), false, 15)
            .compress_vec(&m, &mut zc, FlushCompress::Sync)
            .unwrap();
        codec.decompress(&mut st, &[&zc[..zc.len() - 4]], 1 << 20, &mut buf).unwrap();
        assert_eq!(buf, m);
        drop(z);
        codec.trim();
        (codec, st)
    });
    eprintln!("per-loop codec state at level 1 (quick table + zlib decompressor + scratch): {loop_bytes} bytes");
    assert!(loop_bytes > 64 << 10 && loop_bytes < zlib_loop_bytes, "{loop_bytes}");

    // Shared mode: a connection's state costs no heap at all, idle or after traffic.
    let (sts, live, _, _) = measure(|| {
        let mut v = Vec::with_capacity(1000);
        for _ in 0..1000 {
            v.push(negotiate(&["permessage-deflate; client_max_window_bits"], &cfg, &slots).unwrap().0);
        }
        v
    });
    assert_eq!(live as usize, 1000 * std::mem::size_of::<ConnDeflate>(), "only the inline 16 bytes each");
    assert!(sts.iter().all(|s| s.held_bytes() == 0));
    let m = json(4096, 1);
    let (_, live, _, _) = measure(|| {
        for _ in 0..10 {
            let _ = codec.compress(&mut st, &m);
        }
    });
    assert!(live <= 0, "shared traffic leaves nothing behind: {live}");

    // Dedicated 4 KiB window, context kept both ways: measured after traffic.
    let dcfg = {
        let mut c = ded(12);
        c.threshold = 0;
        c
    };
    let mut dcodec = LoopCodec::new(&dcfg);
    let mut warm = conn(&["permessage-deflate; client_max_window_bits"], &dcfg, &slots);
    let big = json(10_000, 9);
    // Twice: the second message has a history, which grows the loop's (not the
    // connection's) scratch for history + message to its size for this test.
    let _ = dcodec.compress(&mut warm, &big);
    let _ = dcodec.compress(&mut warm, &big);
    let mut cbuf = Vec::new();
    let mut cdw = ClientDeflater::new(&warm.agreed);
    dcodec.decompress(&mut warm, &[&cdw.deflate(&big, FlushCompress::Sync)], 1 << 20, &mut cbuf).unwrap();
    let (mut d, live, _, _) = measure(|| {
        let mut d = conn(&["permessage-deflate; client_max_window_bits"], &dcfg, &slots);
        let mut cd = ClientDeflater::new(&d.agreed);
        let mut z = Vec::new();
        for i in 0..5 {
            let mi = json(3000 + i * 500, i);
            z.clear();
            z.extend_from_slice(dcodec.compress(&mut d, &mi).unwrap());
            let zc = cd.deflate(&mi, FlushCompress::Sync);
            dcodec.decompress(&mut d, &[&zc], 1 << 20, &mut cbuf).unwrap();
        }
        drop(cd);
        drop(z);
        d
    });
    let inline = std::mem::size_of::<ConnDeflate>() as isize;
    eprintln!("dedicated 12-bit connection holds {} heap bytes (held_bytes {})", live, d.held_bytes());
    assert_eq!(live as usize, d.held_bytes());
    assert!(live + inline <= 8 * 1024, "dedicated 4 KiB window holds {live} B");
    // Sent-side history released when a shared frame bypasses it.
    d.forget_tx();
    assert!(d.held_bytes() <= (1 << 12) + 256);
}
