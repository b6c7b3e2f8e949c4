//! Test helpers: start a server on a free loopback port, and a raw RFC 6455 client over
//! a blocking `TcpStream` that can send any bytes (valid or not) and read frames back.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use websock::{Conn, Handler, Message, Options, Server};

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

pub fn start(opts: Options, h: impl Handler) -> Server {
    let mut opts = opts;
    opts.bind = websock::Bind::Addr("127.0.0.1:0".into());
    Server::start(opts, std::sync::Arc::new(h)).expect("server starts")
}

pub fn opts() -> Options {
    let mut o = Options::default();
    o.loops = 2;
    o
}

/// Echoes every message; closes with 4000 on the text "close-me".
pub struct Echo;
impl Handler for Echo {
    fn on_message(&self, conn: &mut Conn<'_>, msg: Message<'_>) {
        if msg == Message::Text("close-me") {
            conn.close(4000, "as asked").unwrap();
            return;
        }
        conn.send(msg);
    }
}

pub fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A frame as the server sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == 8 && self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

pub struct Raw {
    pub s: TcpStream,
    buf: Vec<u8>,
}

/// Builds a masked client frame with any header bits.
pub fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(if fin { 0x80 } else { 0 }) | (rsv << 4) | opcode];
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
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        Raw { s, buf: Vec::new() }
    }

    /// Sends a request head and returns the response head (status line + headers).
    pub fn handshake_with(addr: SocketAddr, request: &str) -> (Raw, String) {
        let mut r = Raw::connect(addr);
        r.s.write_all(request.as_bytes()).unwrap();
        let head = r.read_head();
        (r, head)
    }

    pub fn open(addr: SocketAddr, path: &str) -> Raw {
        let (r, head) = Raw::handshake_with(addr, &upgrade_request(path, ""));
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        r
    }

    fn fill(&mut self) -> bool {
        self.fill_or_eof().unwrap_or(false)
    }

    /// `Ok(true)`: bytes arrived; `Ok(false)`: EOF (or reset); `Err`: read timeout.
    fn fill_or_eof(&mut self) -> Result<bool, ()> {
        let mut b = [0u8; 65536];
        match self.s.read(&mut b) {
            Ok(0) => Ok(false),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => Err(()),
            Err(_) => Ok(false),
            Ok(n) => {
                self.buf.extend_from_slice(&b[..n]);
                Ok(true)
            }
        }
    }

    pub fn read_head(&mut self) -> String {
        loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..p + 4]).to_string();
                self.buf.drain(..p + 4);
                return head;
            }
            if !self.fill() {
                return String::from_utf8_lossy(&self.buf).to_string();
            }
        }
    }

    /// The whole HTTP response (head and body) up to EOF.
    pub fn read_to_end(&mut self) -> String {
        while self.fill() {}
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).to_string()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    pub fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        self.send(&frame(fin, 0, opcode, payload));
    }

    pub fn send_text(&mut self, t: &str) {
        self.send_frame(true, 1, t.as_bytes());
    }

    pub fn send_close(&mut self, code: u16, reason: &str) {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason.as_bytes());
        self.send_frame(true, 8, &p);
    }

    /// Next server frame, or `None` at EOF / timeout.
    pub fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if self.buf.len() >= 2 {
                let b0 = self.buf[0];
                let b1 = self.buf[1];
                assert_eq!(b1 & 0x80, 0, "server frames are never masked");
                let (len, hl) = match b1 & 0x7F {
                    126 if self.buf.len() >= 4 => (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4),
                    127 if self.buf.len() >= 10 => (u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize, 10),
                    126 | 127 => (usize::MAX, 0),
                    n => (n as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= hl + len {
                    let payload = self.buf[hl..hl + len].to_vec();
                    self.buf.drain(..hl + len);
                    return Some(Frame { fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0xF, payload });
                }
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// Reads frames until a close frame; returns its code (None if the socket just ended).
    pub fn expect_close(&mut self) -> Option<u16> {
        while let Some(f) = self.read_frame() {
            if f.opcode == 8 {
                return Some(f.close_code().unwrap_or(1005));
            }
        }
        None
    }

    /// True when the server closes the TCP connection (EOF) within the read timeout;
    /// false if the connection is still open when the timeout passes.
    pub fn sees_eof(&mut self) -> bool {
        loop {
            match self.fill_or_eof() {
                Ok(true) => continue,
                Ok(false) => return true,
                Err(()) => return false,
            }
        }
    }
}

/// Polls `f` until it is true or 10 s pass.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(std::time::Instant::now() < end, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
