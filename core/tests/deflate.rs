//! permessage-deflate through the engine with a raw client that compresses with
//! flate2: negotiation, compressed echo, fragmented compressed messages with interleaved
//! control frames, RSV rules, bombs (1009) and corrupt data (1007), and tag sends that
//! reach compressed and plain receivers alike. (Real browsers' libraries — Node `ws`,
//! Python `websockets` — are driven against the engine by bench/deflate-load/interop.)

mod common;
use common::*;

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress};
use websock::{Compression, Conn, Handler, Message};

const OFFER: &str = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

fn deflate_raw(data: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    while c.total_in() < data.len() as u64 || !out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.reserve(out.capacity() + 64);
        let done = c.total_in() as usize;
        c.compress_vec(&data[done..], &mut out, FlushCompress::Sync).unwrap();
    }
    out.truncate(out.len() - 4);
    out
}

fn inflate_raw(data: &[u8]) -> Vec<u8> {
    let mut d = Decompress::new(false);
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(1 << 20);
    d.decompress_vec(&input, &mut out, FlushDecompress::Sync).unwrap();
    out
}

fn server(cfg: Compression, max_message: usize) -> websock::Server {
    let mut o = opts();
    o.compression = cfg;
    o.limits.max_message_size = max_message;
    start(o, Echo)
}

fn open_deflate(s: &websock::Server) -> (Raw, String) {
    let (r, head) = Raw::handshake_with(s.local_addr(), &upgrade_request("/", OFFER));
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    (r, head)
}

fn zero_threshold_shared() -> Compression {
    let mut c = Compression::shared();
    c.threshold = 0;
    c
}

#[test]
fn negotiation_headers() {
    let s = server(zero_threshold_shared(), 1 << 20);
    let (_r, head) = open_deflate(&s);
    assert!(head.contains("Sec-WebSocket-Extensions: permessage-deflate"), "{head}");
    assert!(head.contains("server_no_context_takeover") && head.contains("client_no_context_takeover"), "{head}");
    // No offer: no extension.
    let (_r, head) = Raw::handshake_with(s.local_addr(), &upgrade_request("/", ""));
    assert!(!head.contains("Sec-WebSocket-Extensions"), "{head}");
    // Disabled server: offers are declined.
    let off = server(Compression::default(), 1 << 20);
    let (_r, head) = Raw::handshake_with(off.local_addr(), &upgrade_request("/", OFFER));
    assert!(!head.contains("Sec-WebSocket-Extensions"), "{head}");
    // Unknown parameter: that offer is declined, the next one taken.
    let req = upgrade_request("/", "Sec-WebSocket-Extensions: permessage-deflate; bogus=1, permessage-deflate\r\n");
    let (_r, head) = Raw::handshake_with(s.local_addr(), &req);
    assert!(head.contains("Sec-WebSocket-Extensions: permessage-deflate"), "{head}");
}

#[test]
fn compressed_echo_one_frame_and_fragmented_with_interleaved_ping() {
    let s = server(zero_threshold_shared(), 1 << 20);
    let (mut c, _) = open_deflate(&s);
    let text = "{\"type\":\"say\",\"text\":\"hello hello hello hello\"}".repeat(20);
    c.send(&frame(true, 4, 1, &deflate_raw(text.as_bytes())));
    let f = c.read_frame().unwrap();
    assert_eq!((f.opcode, f.rsv), (1, 4), "echo is compressed");
    assert_eq!(inflate_raw(&f.payload), text.as_bytes());

    let z = deflate_raw(&vec![42u8; 50_000]);
    let (a, b) = z.split_at(z.len() / 2);
    c.send(&frame(false, 4, 2, a));
    c.send_frame(true, 9, b"mid");
    c.send(&frame(true, 0, 0, b));
    let pong = c.read_frame().unwrap();
    assert_eq!((pong.opcode, pong.payload.as_slice()), (10, &b"mid"[..]));
    let f = c.read_frame().unwrap();
    assert_eq!((f.opcode, f.rsv), (2, 4));
    assert_eq!(inflate_raw(&f.payload), vec![42u8; 50_000]);
    // An uncompressed message on the same connection is fine too; its echo is too
    // short to shrink, so it goes back uncompressed (RSV1 clear).
    c.send_text("plain");
    let f = c.read_frame().unwrap();
    assert_eq!((f.rsv, f.payload.as_slice()), (0, &b"plain"[..]));
}

#[test]
fn rsv_rules_and_bad_compressed_data() {
    let s = server(zero_threshold_shared(), 1 << 20);
    let check = |bytes: Vec<Vec<u8>>, want: u16| {
        let (mut c, _) = open_deflate(&s);
        for b in bytes {
            c.send(&b);
        }
        assert_eq!(c.expect_close(), Some(want));
    };
    check(vec![frame(true, 4, 9, b"")], 1002); // RSV1 on a control frame
    check(vec![frame(false, 0, 2, b"a"), frame(true, 4, 0, b"b")], 1002); // RSV1 on a continuation
    check(vec![frame(true, 2, 1, b"x")], 1002); // RSV2
    check(vec![frame(true, 4, 1, &[0xff, 0xff, 0xff, 0xff])], 1007); // not deflate data
    let bad_text = deflate_raw(&[b'a', 0xff, b'b']);
    check(vec![frame(true, 4, 1, &bad_text)], 1007); // inflates to invalid UTF-8
}

#[test]
fn decompression_bomb_stops_at_the_limit() {
    let s = server(zero_threshold_shared(), 1 << 20);
    let (mut c, _) = open_deflate(&s);
    let bomb = deflate_raw(&vec![0u8; 64 << 20]); // 64 MiB of zeros in ~64 KiB
    assert!(bomb.len() < 200_000);
    c.send(&frame(true, 4, 2, &bomb));
    assert_eq!(c.expect_close(), Some(1009));
}

struct Room;
impl Handler for Room {
    fn on_open(&self, conn: &mut Conn<'_>) {
        conn.tag("room").unwrap();
    }
    fn on_message(&self, conn: &mut Conn<'_>, msg: Message<'_>) {
        conn.server().send_by_tag("room", msg).unwrap();
    }
}

#[test]
fn tag_sends_reach_compressed_and_plain_receivers() {
    let mut o = opts();
    o.compression = zero_threshold_shared();
    let s = start(o, Room);
    let (mut z, _) = open_deflate(&s);
    let mut plain = Raw::open(s.local_addr(), "/");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let text = "news for everyone ".repeat(50);
    plain.send_text(&text);
    let fz = z.read_frame().unwrap();
    assert_eq!(fz.rsv, 4);
    assert_eq!(inflate_raw(&fz.payload), text.as_bytes());
    let fp = plain.read_frame().unwrap();
    assert_eq!((fp.rsv, fp.payload.as_slice()), (0, text.as_bytes()));
}

#[test]
fn dedicated_mode_keeps_context_and_counts_memory() {
    let s = server({ let mut c = Compression::dedicated(12); c.threshold = 0; c }, 1 << 20);
    let (mut c, head) = open_deflate(&s);
    assert!(head.contains("client_max_window_bits=12"), "{head}");
    // With context kept, the second identical message compresses to far less.
    let msg = b"a fairly long message that repeats exactly the same way every time it is sent";
    let mut sizes = Vec::new();
    let mut d = Decompress::new_with_window_bits(false, 15);
    for _ in 0..2 {
        c.send(&frame(true, 4, 1, &deflate_raw(msg)));
        let f = c.read_frame().unwrap();
        sizes.push(f.payload.len());
        let mut input = f.payload.clone();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(4096);
        d.decompress_vec(&input, &mut out, FlushDecompress::Sync).unwrap();
        assert_eq!(out, msg);
    }
    assert!(sizes[1] < sizes[0] / 2, "context takeover: {sizes:?}");
    eventually("one dedicated context counted", || s.stats().dedicated_compression == 1);
}


/// Tells each client on open whether its request negotiated compression.
struct Report;
impl Handler for Report {
    fn on_open(&self, conn: &mut Conn<'_>) {
        let r = conn.request().unwrap();
        let msg = format!("{}|{}", r.permessage_deflate(), r.extensions().unwrap_or("-"));
        conn.send_text(&msg);
    }
}

#[test]
fn the_request_says_what_was_negotiated() {
    let mut o = opts();
    o.compression = Compression::shared();
    let s = start(o, Report);
    let (mut z, _) = open_deflate(&s);
    let f = z.read_frame().unwrap();
    let text = if f.rsv == 4 { inflate_raw(&f.payload) } else { f.payload };
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("true|permessage-deflate"), "{text}");
    let mut plain = Raw::open(s.local_addr(), "/");
    assert_eq!(plain.read_frame().unwrap().payload, b"false|-");
}
