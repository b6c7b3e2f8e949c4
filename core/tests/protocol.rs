//! RFC 6455 conformance over raw sockets: framing sizes, fragmentation with interleaved
//! control frames, chopped writes, UTF-8 (fail fast), close codes, and every protocol
//! error with the exact close code the RFC asks for.

mod common;
use common::*;

fn server() -> websock::Server {
    let mut o = opts();
    o.limits.max_frame_size = 2 << 20;
    o.limits.max_message_size = 4 << 20;
    start(o, Echo)
}

#[test]
fn echoes_every_length_class_text_and_binary() {
    let s = server();
    let mut c = Raw::open(s.local_addr(), "/");
    for n in [0usize, 1, 125, 126, 127, 65535, 65536, 1 << 20] {
        let bin: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
        c.send_frame(true, 2, &bin);
        let f = c.read_frame().unwrap();
        assert_eq!((f.opcode, f.fin, f.payload.len()), (2, true, n));
        assert_eq!(f.payload, bin);
        let text = "ü".repeat(n / 2) + &"a".repeat(n % 2);
        c.send_text(&text);
        let f = c.read_frame().unwrap();
        assert_eq!(f.opcode, 1);
        assert_eq!(f.payload, text.as_bytes());
    }
    s.shutdown(std::time::Duration::from_secs(2));
}

#[test]
fn fragmented_message_with_interleaved_pings() {
    let s = server();
    let mut c = Raw::open(s.local_addr(), "/");
    c.send_frame(false, 1, "héllo ".as_bytes());
    c.send_frame(true, 9, b"ping-1");
    c.send_frame(false, 0, &"wörld".as_bytes()[..2]);
    c.send_frame(true, 9, b"");
    c.send_frame(true, 0, &"wörld".as_bytes()[2..]);
    let p1 = c.read_frame().unwrap();
    assert_eq!((p1.opcode, p1.payload.as_slice()), (10, &b"ping-1"[..]));
    let p2 = c.read_frame().unwrap();
    assert_eq!((p2.opcode, p2.payload.len()), (10, 0));
    let m = c.read_frame().unwrap();
    assert_eq!((m.opcode, m.payload.as_slice()), (1, "héllo wörld".as_bytes()));
    // A binary message in 100 fragments.
    let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    for (i, chunk) in data.chunks(100).enumerate() {
        c.send_frame(i == 99, if i == 0 { 2 } else { 0 }, chunk);
    }
    let m = c.read_frame().unwrap();
    assert_eq!((m.opcode, m.payload), (2, data));
}

#[test]
fn chopped_writes_one_byte_at_a_time() {
    let s = server();
    let mut c = Raw::open(s.local_addr(), "/");
    let mut bytes = frame(true, 0, 1, "one byte at a time ✓".as_bytes());
    bytes.extend(frame(true, 0, 2, &vec![9u8; 300]));
    for b in bytes {
        c.send(&[b]);
    }
    assert_eq!(c.read_frame().unwrap().payload, "one byte at a time ✓".as_bytes());
    assert_eq!(c.read_frame().unwrap().payload, vec![9u8; 300]);
}

#[test]
fn handshake_and_first_frame_in_one_write() {
    let s = server();
    let mut c = Raw::connect(s.local_addr());
    let mut bytes = upgrade_request("/", "").into_bytes();
    bytes.extend(frame(true, 0, 1, b"early"));
    c.send(&bytes);
    assert!(c.read_head().starts_with("HTTP/1.1 101"));
    assert_eq!(c.read_frame().unwrap().payload, b"early");
}

fn expect_code(setup: impl FnOnce(&mut Raw), want: u16) {
    let s = server();
    let mut c = Raw::open(s.local_addr(), "/");
    setup(&mut c);
    assert_eq!(c.expect_close(), Some(want));
    assert!(c.sees_eof());
}

#[test]
fn protocol_errors_close_with_1002() {
    expect_code(|c| c.send(&frame(true, 4, 1, b"rsv1")), 1002);
    expect_code(|c| c.send(&frame(true, 2, 1, b"rsv2")), 1002);
    expect_code(|c| c.send(&frame(true, 1, 1, b"rsv3")), 1002);
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        expect_code(|c| c.send_frame(true, op, b""), 1002);
    }
    expect_code(|c| c.send_frame(false, 9, b"fragmented ping"), 1002);
    expect_code(|c| c.send_frame(true, 9, &[0; 126]), 1002);
    expect_code(|c| c.send_frame(true, 0, b"continuation without start"), 1002);
    expect_code(|c| {
        c.send_frame(false, 1, b"start");
        c.send_frame(true, 1, b"new message inside");
    }, 1002);
    // An unmasked client frame.
    expect_code(|c| c.send(&[0x81, 0x02, b'h', b'i']), 1002);
}

#[test]
fn close_frames() {
    // Valid close: echoed with the same code, then EOF.
    for code in [1000u16, 1001, 1003, 1007, 1011, 3000, 4999] {
        expect_code(|c| c.send_close(code, "bye"), code);
    }
    // Empty close → empty close back.
    let s = server();
    let mut c = Raw::open(s.local_addr(), "/");
    c.send_frame(true, 8, b"");
    let f = c.read_frame().unwrap();
    assert_eq!((f.opcode, f.payload.len()), (8, 0));
    // Invalid codes, a 1-byte payload, an invalid UTF-8 reason → 1002.
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        expect_code(|c| c.send_close(code, ""), 1002);
    }
    expect_code(|c| c.send_frame(true, 8, &[0x03]), 1002);
    expect_code(|c| c.send_frame(true, 8, &[0x03, 0xE8, 0xFF, 0xFE]), 1002);
    // Server-initiated close: the handler closes with 4000.
    expect_code(|c| c.send_text("close-me"), 4000);
}

/// Invalid UTF-8 at every position class: first byte, a bad continuation, an overlong
/// form, a surrogate, past U+10FFFF, and truncated at the end.
const BAD: &[&[u8]] = &[
    &[0xFF],
    &[b'a', 0xC3, 0x28],
    &[0xC0, 0xAF],
    &[0xE0, 0x80, 0xAF],
    &[0xED, 0xA0, 0x80],
    &[0xF4, 0x90, 0x80, 0x80],
    &[b'o', b'k', 0xE2, 0x82],
];

#[test]
fn invalid_utf8_closes_with_1007_in_one_frame_and_in_fragments() {
    for bad in BAD {
        expect_code(|c| c.send_frame(true, 1, bad), 1007);
        expect_code(|c| {
            c.send_frame(false, 1, b"fine so far ");
            c.send_frame(true, 0, bad);
        }, 1007);
        // Split across two fragments.
        let mid = bad.len() / 2;
        expect_code(|c| {
            c.send_frame(false, 1, &bad[..mid]);
            c.send_frame(true, 0, &bad[mid..]);
        }, 1007);
    }
}

#[test]
fn invalid_utf8_fails_fast_mid_fragment_and_mid_frame() {
    // The bad fragment is not final: the server must close before the message ends.
    expect_code(|c| {
        c.send_frame(false, 1, b"hello ");
        c.send_frame(false, 0, &[0xED, 0xA0, 0x80]);
    }, 1007);
    // Half of a large text frame, with the error in the half that arrived.
    expect_code(|c| {
        let mut payload = vec![b'x'; 200_000];
        payload[10] = 0xFF;
        let f = frame(true, 0, 1, &payload);
        c.send(&f[..50_000]);
    }, 1007);
}

#[test]
fn valid_utf8_split_inside_a_code_point_across_fragments() {
    let s = server();
    let mut c = Raw::open(s.local_addr(), "/");
    let text = "κόσμε 𝄞";
    let b = text.as_bytes();
    for cut in 1..b.len() {
        c.send_frame(false, 1, &b[..cut]);
        c.send_frame(true, 0, &b[cut..]);
        assert_eq!(c.read_frame().unwrap().payload, b, "cut {cut}");
    }
}

#[test]
fn limits_close_with_1009() {
    // A frame header announcing more than max_frame_size.
    expect_code(|c| c.send(&frame(true, 0, 2, &vec![0; (2 << 20) + 1])[..20]), 1009);
    // A single frame over max_message_size (but under max_frame_size would not be; use a
    // fragmented message growing past max_message_size).
    expect_code(|c| {
        let chunk = vec![1u8; 1 << 20];
        c.send_frame(false, 2, &chunk);
        for _ in 0..4 {
            c.send_frame(false, 0, &chunk);
        }
    }, 1009);
}

#[test]
fn ping_payload_is_echoed_exactly_and_pong_is_ignored() {
    let s = server();
    let mut c = Raw::open(s.local_addr(), "/");
    let payload: Vec<u8> = (0..125u8).collect();
    c.send_frame(true, 10, b"unsolicited pong");
    c.send_frame(true, 9, &payload);
    let f = c.read_frame().unwrap();
    assert_eq!((f.opcode, f.payload), (10, payload));
}

#[test]
fn after_a_protocol_error_the_peers_close_reply_ends_the_connection_at_once() {
    let s = server();
    let mut c = Raw::open(s.local_addr(), "/");
    c.send_frame(true, 0xB, b"bad opcode");
    assert_eq!(c.expect_close(), Some(1002));
    c.send_close(1002, "");
    let t = std::time::Instant::now();
    assert!(c.sees_eof());
    assert!(t.elapsed() < std::time::Duration::from_secs(1), "closed after {:?}", t.elapsed());
}

#[test]
fn a_server_close_answered_by_the_peer_ends_the_connection_at_once() {
    let s = server();
    let mut c = Raw::open(s.local_addr(), "/");
    c.send_text("close-me");
    assert_eq!(c.expect_close(), Some(4000));
    c.send_close(4000, "");
    let t = std::time::Instant::now();
    assert!(c.sees_eof());
    assert!(t.elapsed() < std::time::Duration::from_secs(1), "closed after {:?}", t.elapsed());
}
