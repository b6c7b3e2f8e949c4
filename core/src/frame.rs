//! RFC 6455 §5 framing: parse client frame headers (RSV bits are judged by
//! `deflate::check_rsv`, which knows what was negotiated), unmask payloads, encode server
//! frames (never masked), and the close-code rules of §7.4.

pub(crate) const OP_CONT: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
pub(crate) const OP_PONG: u8 = 0xA;

/// Largest server frame header: 2 bytes + 8 bytes of length.
pub(crate) const MAX_HEADER: usize = 10;

/// A parsed client frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub mask: [u8; 4],
    pub header_len: usize,
    pub payload_len: u64,
}

/// Why a frame header is unacceptable; each maps to a close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderError {
    Unmasked,
    UnknownOpcode,
    FragmentedControl,
    OversizeControl,
    NonMinimalLength,
}

impl HeaderError {
    pub fn reason(self) -> &'static str {
        match self {
            HeaderError::Unmasked => "client frames must be masked",
            HeaderError::UnknownOpcode => "unknown opcode",
            HeaderError::FragmentedControl => "fragmented control frame",
            HeaderError::OversizeControl => "control frame payload over 125 bytes",
            HeaderError::NonMinimalLength => "frame length has its most significant bit set",
        }
    }
}

/// Parses a header from the start of `buf`. `Ok(None)`: not enough bytes yet.
pub(crate) fn parse_header(buf: &[u8]) -> Result<Option<Header>, HeaderError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let b0 = buf[0];
    let b1 = buf[1];
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0x7;
    let opcode = b0 & 0x0F;
    if b1 & 0x80 == 0 {
        return Err(HeaderError::Unmasked);
    }
    let is_control = opcode & 0x8 != 0;
    match opcode {
        OP_CONT | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG => {}
        _ => return Err(HeaderError::UnknownOpcode),
    }
    let len7 = b1 & 0x7F;
    if is_control {
        if !fin {
            return Err(HeaderError::FragmentedControl);
        }
        if len7 > 125 {
            return Err(HeaderError::OversizeControl);
        }
    }
    let (payload_len, len_bytes) = match len7 {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u16::from_be_bytes([buf[2], buf[3]]) as u64, 2)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let n = u64::from_be_bytes(buf[2..10].try_into().unwrap());
            if n >> 63 != 0 {
                return Err(HeaderError::NonMinimalLength);
            }
            (n, 8)
        }
        n => (n as u64, 0),
    };
    let header_len = 2 + len_bytes + 4;
    if buf.len() < header_len {
        return Ok(None);
    }
    let mut mask = [0u8; 4];
    mask.copy_from_slice(&buf[2 + len_bytes..header_len]);
    Ok(Some(Header { fin, rsv, opcode, mask, header_len, payload_len }))
}

/// XORs `data` with the mask, starting `offset` bytes into the payload (so a payload can
/// be unmasked in pieces as it arrives).
pub(crate) fn unmask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = mask;
    key.rotate_left(offset % 4);
    let word = u32::from_ne_bytes(key);
    let word64 = (word as u64) | ((word as u64) << 32);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = u64::from_ne_bytes((&*chunk).try_into().unwrap()) ^ word64;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Writes a server frame header (FIN set, unmasked) into `out`; returns its length.
pub(crate) fn encode_header(out: &mut [u8; MAX_HEADER], opcode: u8, payload_len: usize) -> usize {
    out[0] = 0x80 | opcode;
    if payload_len < 126 {
        out[1] = payload_len as u8;
        2
    } else if payload_len <= u16::MAX as usize {
        out[1] = 126;
        out[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
        10
    }
}

/// Appends a whole server frame to `out`.
pub(crate) fn encode_into(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    let mut h = [0u8; MAX_HEADER];
    let n = encode_header(&mut h, opcode, payload.len());
    out.reserve(n + payload.len());
    out.extend_from_slice(&h[..n]);
    out.extend_from_slice(payload);
}

/// A whole server frame as one buffer (shared by every receiver of a tag send).
pub(crate) fn encode(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(MAX_HEADER + payload.len());
    encode_into(&mut v, opcode, payload);
    v
}

/// A close frame's payload: the code, then the reason (cut to fit 125 bytes on a char
/// boundary).
pub(crate) fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut r = reason;
    while r.len() > 123 {
        let mut cut = 123;
        while !r.is_char_boundary(cut) {
            cut -= 1;
        }
        r = &r[..cut];
    }
    let mut p = Vec::with_capacity(2 + r.len());
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(r.as_bytes());
    p
}

/// May a peer send this code in a close frame? (RFC 6455 §7.4.1, IANA registry.)
pub(crate) fn is_valid_received_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// May the application send this code? The same set: 1005, 1006 and 1015 are reserved
/// for reports and never go on the wire.
pub(crate) fn is_sendable_close_code(code: u16) -> bool {
    is_valid_received_close_code(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![if fin { 0x80 } else { 0 } | opcode];
        let n = payload.len();
        if n < 126 {
            f.push(0x80 | n as u8);
        } else if n <= 0xFFFF {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
        let mask = [1, 2, 3, 4];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    #[test]
    fn parses_every_length_form() {
        for n in [0usize, 1, 125, 126, 65535, 65536, 1 << 20] {
            let f = masked(OP_BINARY, true, &vec![7u8; n]);
            let h = parse_header(&f).unwrap().unwrap();
            assert_eq!(h.payload_len, n as u64);
            assert_eq!(h.header_len + n, f.len());
            let mut p = f[h.header_len..].to_vec();
            unmask(&mut p, h.mask, 0);
            assert!(p.iter().all(|&b| b == 7));
        }
    }

    #[test]
    fn short_input_asks_for_more() {
        let f = masked(OP_TEXT, true, &[b'a'; 300]);
        for cut in 0..8 {
            assert_eq!(parse_header(&f[..cut]).unwrap(), None, "cut {cut}");
        }
    }

    #[test]
    fn unmask_in_pieces_equals_unmask_at_once() {
        let data: Vec<u8> = (0..100u8).collect();
        let mask = [9, 8, 7, 6];
        let mut whole = data.clone();
        unmask(&mut whole, mask, 0);
        let mut pieces = data.clone();
        let (a, b) = pieces.split_at_mut(13);
        unmask(a, mask, 0);
        unmask(b, mask, 13);
        assert_eq!(whole, pieces);
    }

    #[test]
    fn rejects_protocol_errors() {
        let mut f = masked(OP_TEXT, true, b"x");
        f[1] &= 0x7F;
        assert_eq!(parse_header(&f), Err(HeaderError::Unmasked));
        let mut f = masked(OP_TEXT, true, b"x");
        f[0] |= 0x40;
        assert_eq!(parse_header(&f).unwrap().unwrap().rsv, 4, "RSV bits are passed to the extension check");
        assert_eq!(parse_header(&masked(0x3, true, b"")), Err(HeaderError::UnknownOpcode));
        assert_eq!(parse_header(&masked(0xB, true, b"")), Err(HeaderError::UnknownOpcode));
        assert_eq!(parse_header(&masked(OP_PING, false, b"")), Err(HeaderError::FragmentedControl));
        assert_eq!(parse_header(&masked(OP_PING, true, &[0; 126])), Err(HeaderError::OversizeControl));
    }

    #[test]
    fn encodes_lengths() {
        for n in [0usize, 125, 126, 65535, 65536] {
            let f = encode(OP_BINARY, &vec![0; n]);
            assert_eq!(f[0], 0x82);
            let hl = match n { 0..=125 => 2, 126..=65535 => 4, _ => 10 };
            assert_eq!(f.len(), hl + n);
        }
    }

    #[test]
    fn close_codes() {
        for c in [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(is_valid_received_close_code(c), "{c}");
        }
        for c in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!is_valid_received_close_code(c), "{c}");
        }
    }

    #[test]
    fn close_reason_is_cut_on_a_char_boundary() {
        let p = close_payload(1000, &"é".repeat(100));
        assert!(p.len() <= 125);
        assert!(std::str::from_utf8(&p[2..]).is_ok());
    }
}
