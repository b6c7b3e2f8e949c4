//! The load client: one mio poll, a slab of connection slots, hand-rolled RFC 6455 client
//! framing (masked frames out, unmasked frames in). A slot costs a few dozen bytes while
//! idle: buffers exist only while a frame or a write is unfinished. Every mode (echo,
//! connect, fanout, hold) drives the same engine: it opens slots with a role, and the
//! engine answers pings, times pongs, echoes and deliveries from timestamps carried in the
//! payloads (so no per-message state is kept), and counts every failure by cause.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::stats::Histogram;

/// Fixed masking key: the server unmasks every byte whatever the key, so a constant key
/// costs it the same work as a random one (RFC 6455 wants unpredictability only against
/// proxies, which a loopback benchmark has none of).
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const OP_TEXT: u8 = 1;
const OP_BINARY: u8 = 2;
const OP_CLOSE: u8 = 8;
const OP_PING: u8 = 9;
const OP_PONG: u8 = 10;
const MAX_HEAD: usize = 8192;

/// Where to connect: `ws://host:port/path`.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
    pub path: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url.strip_prefix("ws://").ok_or_else(|| format!("{url}: only ws:// URLs are supported"))?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let hp = if hostport.contains(':') { hostport.to_string() } else { format!("{hostport}:80") };
        let addr = hp
            .to_socket_addrs()
            .map_err(|e| format!("{url}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: resolves to nothing"))?;
        Ok(Target { addr, host: hostport.to_string(), path: path.to_string() })
    }

}

/// What a connection does once open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Stays open; answers pings; the driver may ping it.
    Idle,
    /// Keeps `inflight` echo messages outstanding while the engine is running.
    Echo,
    /// Fan-out subscriber: checks sequence and delivery latency.
    Sub,
    /// Fan-out publisher: the driver publishes through it.
    Pub,
    /// Handshake-rate probe: closes as soon as it is open.
    Connect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Connecting,
    Handshake,
    Open,
    Closed,
}

struct Slot {
    sock: Option<TcpStream>,
    st: St,
    role: Role,
    /// ns since the engine epoch when the connect started.
    started: u64,
    /// Unfinished input: the response head, or a partial frame.
    rem: Vec<u8>,
    /// Output the kernel did not take yet.
    out: Vec<u8>,
    /// Last fan-out sequence seen (u64::MAX: none yet).
    last_seq: u64,
}

/// Options of an engine.
#[derive(Debug, Clone)]
pub struct Config {
    /// Source addresses to spread connections over (empty: let the kernel choose).
    pub src_ips: Vec<IpAddr>,
    /// Close with RST (SO_LINGER 0): no TIME_WAIT left behind by probes and teardown.
    pub linger0: bool,
    pub handshake_timeout: Duration,
    /// Echo: payload size, text or binary, messages outstanding per connection.
    pub size: usize,
    pub binary: bool,
    pub inflight: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { src_ips: Vec::new(), linger0: true, handshake_timeout: Duration::from_secs(10), size: 64, binary: false, inflight: 1 }
    }
}

/// Counters of an engine; `open` and `connecting` are current values, the rest totals.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub connecting: u64,
    pub open: u64,
    pub opened: u64,
    pub failed: u64,
    /// Open connections that ended without us closing them.
    pub dead: u64,
    pub msgs_sent: u64,
    pub msgs_recv: u64,
    pub bytes_recv: u64,
    pub pings_sent: u64,
    pub pongs: u64,
    pub deliveries: u64,
    pub out_of_order: u64,
    /// Failures by cause.
    pub errors: BTreeMap<String, u64>,
}

/// The engine.
pub struct Engine {
    poll: Poll,
    events: Events,
    slots: Vec<Slot>,
    free: Vec<usize>,
    scratch: Vec<u8>,
    requests: Vec<(String, Vec<u8>)>,
    target: Target,
    next_src: usize,
    ping_cursor: usize,
    epoch: Instant,
    pub cfg: Config,
    /// While false, echo connections stop sending new messages (their replies still count).
    pub running: bool,
    pub c: Counters,
    /// Echo round trips and fan-out deliveries.
    pub latency: Histogram,
    pub handshake: Histogram,
    pub ping: Histogram,
}

impl Engine {
    pub fn new(target: Target, cfg: Config) -> io::Result<Engine> {
        crate::sys::raise_nofile();
        Ok(Engine {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            slots: Vec::new(),
            free: Vec::new(),
            scratch: vec![0; 256 << 10],
            requests: Vec::new(),
            target,
            next_src: 0,
            ping_cursor: 0,
            epoch: Instant::now(),
            cfg,
            running: true,
            c: Counters::default(),
            latency: Histogram::default(),
            handshake: Histogram::default(),
            ping: Histogram::default(),
        })
    }

    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn request_for(&mut self, path: &str) -> usize {
        if let Some(i) = self.requests.iter().position(|(p, _)| p == path) {
            return i;
        }
        // The key is the RFC's example key: the server must accept any valid key, and a
        // constant one saves generating 16 random bytes per connection.
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            self.target.host
        );
        self.requests.push((path.to_string(), req.into_bytes()));
        self.requests.len() - 1
    }

    fn error(&mut self, what: &str) {
        *self.c.errors.entry(what.to_string()).or_insert(0) += 1;
    }

    /// Starts one connection (non-blocking connect). The path is the target's, or
    /// `/sub` and `/pub` for the fan-out roles.
    pub fn open(&mut self, role: Role) -> io::Result<usize> {
        let addr = self.target.addr;
        let sock = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None).inspect_err(|e| {
            let k = format!("socket: {}", short_err(e));
            self.error(&k);
        })?;
        sock.set_nonblocking(true)?;
        sock.set_tcp_nodelay(true)?;
        if self.cfg.linger0 {
            sock.set_linger(Some(Duration::ZERO))?;
        }
        if !self.cfg.src_ips.is_empty() {
            let ip = self.cfg.src_ips[self.next_src % self.cfg.src_ips.len()];
            self.next_src += 1;
            // IP_BIND_ADDRESS_NO_PORT: bind the address now, pick the port at connect()
            // time from the whole 4-tuple, so each source address gets the full
            // ephemeral range towards this server.
            let one: libc::c_int = 1;
            // SAFETY: setsockopt on an owned socket with a valid int option.
            unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    &one as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            if let Err(e) = sock.bind(&SocketAddr::new(ip, 0).into()) {
                let k = format!("bind: {}", short_err(&e));
                self.error(&k);
                self.c.failed += 1;
                return Err(e);
            }
        }
        match sock.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => {
                let k = format!("connect: {}", short_err(&e));
                self.error(&k);
                self.c.failed += 1;
                return Err(e);
            }
        }
        let mut stream = TcpStream::from_std(sock.into());
        let i = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot { sock: None, st: St::Closed, role, started: 0, rem: Vec::new(), out: Vec::new(), last_seq: u64::MAX });
            self.slots.len() - 1
        });
        self.poll.registry().register(&mut stream, Token(i), Interest::READABLE | Interest::WRITABLE)?;
        let now = self.now_ns();
        let s = &mut self.slots[i];
        s.sock = Some(stream);
        s.st = St::Connecting;
        s.role = role;
        s.started = now;
        s.last_seq = u64::MAX;
        self.c.connecting += 1;
        Ok(i)
    }

    /// Waits up to `timeout` for readiness and handles it.
    pub fn turn(&mut self, timeout: Duration) {
        if let Err(e) = self.poll.poll(&mut self.events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                self.error("poll");
            }
            return;
        }
        let ready: Vec<(usize, bool, bool, bool)> = self
            .events
            .iter()
            .map(|e| (e.token().0, e.is_readable() || e.is_read_closed(), e.is_writable(), e.is_error()))
            .collect();
        for (i, r, w, err) in ready {
            self.ready(i, r, w, err);
        }
    }

    fn ready(&mut self, i: usize, readable: bool, writable: bool, err: bool) {
        let Some(slot) = self.slots.get(i) else { return };
        if slot.st == St::Closed {
            return;
        }
        if slot.st == St::Connecting {
            let sock = slot.sock.as_ref().unwrap();
            match sock.take_error() {
                Ok(Some(e)) | Err(e) => return self.fail(i, &format!("connect: {}", short_err(&e))),
                Ok(None) => {}
            }
            if err {
                return self.fail(i, "connect: error");
            }
            match sock.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return, // not yet
                Err(e) => return self.fail(i, &format!("connect: {}", short_err(&e))),
            }
            let path = match slot.role {
                Role::Sub => "/sub".to_string(),
                Role::Pub => "/pub".to_string(),
                _ => self.target.path.clone(),
            };
            let r = self.request_for(&path);
            let req = std::mem::take(&mut self.requests[r].1);
            let slot = &mut self.slots[i];
            slot.st = St::Handshake;
            slot.out.extend_from_slice(&req);
            self.requests[r].1 = req;
            self.flush(i);
            if self.slots[i].st == St::Closed {
                return;
            }
        } else if writable && !slot.out.is_empty() {
            self.flush(i);
            if self.slots[i].st == St::Closed {
                return;
            }
        }
        if readable {
            self.read(i);
        }
    }

    fn read(&mut self, i: usize) {
        loop {
            let slot = &mut self.slots[i];
            let Some(sock) = slot.sock.as_mut() else { return };
            match sock.read(&mut self.scratch) {
                Ok(0) => {
                    let st = slot.st;
                    return if st == St::Open { self.died(i, "eof") } else { self.fail(i, "handshake: eof") };
                }
                Ok(n) => {
                    let mut data = std::mem::take(&mut self.scratch);
                    self.input(i, &data[..n]);
                    std::mem::swap(&mut self.scratch, &mut data);
                    if self.slots[i].st == St::Closed {
                        return;
                    }
                    if n < self.scratch.len() {
                        // Edge-triggered: a short read means the socket is drained, except
                        // for data that raced in; mio re-arms on new data anyway.
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let k = format!("read: {}", short_err(&e));
                    return if slot.st == St::Open { self.died(i, &k) } else { self.fail(i, &k) };
                }
            }
        }
        if !self.slots[i].out.is_empty() {
            self.flush(i);
        }
    }

    fn input(&mut self, i: usize, data: &[u8]) {
        // A partial frame or head from the last read is completed with this one.
        let owned: Vec<u8> = if self.slots[i].rem.is_empty() {
            Vec::new()
        } else {
            let mut o = std::mem::take(&mut self.slots[i].rem);
            o.extend_from_slice(data);
            o
        };
        let mut buf: &[u8] = if owned.is_empty() { data } else { &owned };
        if self.slots[i].st == St::Handshake {
            let Some(end) = find_head_end(buf) else {
                if buf.len() > MAX_HEAD {
                    return self.fail(i, "handshake: response head too long");
                }
                self.slots[i].rem = buf.to_vec();
                return;
            };
            if !(buf.starts_with(b"HTTP/1.1 101") || buf.starts_with(b"HTTP/1.0 101")) {
                let status = String::from_utf8_lossy(&buf[..buf.len().min(12)]).to_string();
                return self.fail(i, &format!("handshake: status {}", status.trim()));
            }
            let now = self.now_ns();
            let slot = &mut self.slots[i];
            slot.st = St::Open;
            self.handshake.record(now.saturating_sub(slot.started));
            self.c.connecting -= 1;
            self.c.open += 1;
            self.c.opened += 1;
            buf = &buf[end..];
            self.opened(i);
            if self.slots[i].st == St::Closed {
                return;
            }
        }
        let mut pos = 0;
        while pos < buf.len() {
            let b = &buf[pos..];
            if b.len() < 2 {
                break;
            }
            let fin = b[0] & 0x80 != 0;
            let op = b[0] & 0x0f;
            if b[1] & 0x80 != 0 {
                return self.died(i, "protocol: masked server frame");
            }
            let (len, hl) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize, 10),
                126 | 127 => break,
                n => (n as usize, 2),
            };
            if b.len() < hl + len {
                break;
            }
            let payload = &b[hl..hl + len];
            pos += hl + len;
            self.frame(i, fin, op, payload);
            if self.slots[i].st == St::Closed {
                return;
            }
        }
        if pos < buf.len() {
            self.slots[i].rem = buf[pos..].to_vec();
        }
    }

    fn frame(&mut self, i: usize, _fin: bool, op: u8, payload: &[u8]) {
        let now = self.now_ns();
        match op {
            OP_PING => {
                push_frame(&mut self.slots[i].out, OP_PONG, payload);
            }
            OP_PONG => {
                self.c.pongs += 1;
                if payload.len() == 8 {
                    let t = u64::from_be_bytes(payload.try_into().unwrap());
                    self.ping.record(now.saturating_sub(t));
                }
            }
            OP_CLOSE => {
                let code = if payload.len() >= 2 { u16::from_be_bytes([payload[0], payload[1]]) } else { 1005 };
                push_frame(&mut self.slots[i].out, OP_CLOSE, &payload[..payload.len().min(2)]);
                self.flush(i);
                self.died(i, &format!("closed by server: {code}"));
            }
            OP_TEXT | OP_BINARY | 0 => {
                self.c.msgs_recv += 1;
                self.c.bytes_recv += payload.len() as u64;
                let role = self.slots[i].role;
                let ts = payload.get(..16).and_then(parse_hex);
                match role {
                    Role::Echo => {
                        if let Some(t) = ts {
                            self.latency.record(now.saturating_sub(t));
                        }
                        if payload.len() != self.cfg.size.max(16) {
                            self.error("echo: wrong length");
                        }
                        if self.running {
                            self.push_echo(i);
                        }
                    }
                    Role::Sub => {
                        self.c.deliveries += 1;
                        if let Some(t) = ts {
                            self.latency.record(now.saturating_sub(t));
                        }
                        if let Some(seq) = payload.get(16..32).and_then(parse_hex) {
                            let slot = &mut self.slots[i];
                            if slot.last_seq != u64::MAX && seq != slot.last_seq + 1 {
                                self.c.out_of_order += 1;
                            }
                            slot.last_seq = seq;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// A connection just opened: start what its role does.
    fn opened(&mut self, i: usize) {
        match self.slots[i].role {
            Role::Echo if self.running => {
                for _ in 0..self.cfg.inflight.max(1) {
                    self.push_echo(i);
                }
                self.flush(i);
            }
            Role::Connect => {
                push_frame(&mut self.slots[i].out, OP_CLOSE, &1000u16.to_be_bytes());
                self.flush(i);
                self.close(i);
            }
            _ => {}
        }
    }

    fn push_echo(&mut self, i: usize) {
        let now = self.now_ns();
        let size = self.cfg.size.max(16);
        let op = if self.cfg.binary { OP_BINARY } else { OP_TEXT };
        let out = &mut self.slots[i].out;
        push_header(out, op, size);
        let start = out.len();
        out.resize(start + size, b'x');
        write_hex(&mut out[start..start + 16], now);
        mask_in_place(&mut out[start..]);
        self.c.msgs_sent += 1;
    }

    /// Publishes one fan-out message (sequence `seq`) through publisher slot `i`.
    pub fn publish(&mut self, i: usize, seq: u64, size: usize, binary: bool) {
        if self.slots.get(i).is_none_or(|s| s.st != St::Open) {
            return;
        }
        let now = self.now_ns();
        let size = size.max(32);
        let out = &mut self.slots[i].out;
        push_header(out, if binary { OP_BINARY } else { OP_TEXT }, size);
        let start = out.len();
        out.resize(start + size, b'x');
        write_hex(&mut out[start..start + 16], now);
        write_hex(&mut out[start + 16..start + 32], seq);
        mask_in_place(&mut out[start..]);
        self.c.msgs_sent += 1;
        self.flush(i);
    }

    /// Pings up to `n` open connections, round robin; the payload is the send time.
    pub fn ping_some(&mut self, n: usize) -> usize {
        let total = self.slots.len();
        let mut done = 0;
        let mut visited = 0;
        while done < n && visited < total {
            let i = self.ping_cursor % total;
            self.ping_cursor = (self.ping_cursor + 1) % total.max(1);
            visited += 1;
            if self.slots[i].st != St::Open {
                continue;
            }
            let now = self.now_ns();
            push_frame(&mut self.slots[i].out, OP_PING, &now.to_be_bytes());
            self.c.pings_sent += 1;
            self.flush(i);
            done += 1;
        }
        done
    }

    fn flush(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let Some(sock) = slot.sock.as_mut() else { return };
        let mut off = 0;
        while off < slot.out.len() {
            match sock.write(&slot.out[off..]) {
                Ok(0) => break,
                Ok(n) => off += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let k = format!("write: {}", short_err(&e));
                    let open = slot.st == St::Open;
                    return if open { self.died(i, &k) } else { self.fail(i, &k) };
                }
            }
        }
        if off == slot.out.len() {
            // Give the memory back: an idle connection keeps no buffer.
            if slot.out.capacity() > 4096 {
                slot.out = Vec::new();
            } else {
                slot.out.clear();
            }
        } else {
            slot.out.drain(..off);
        }
    }

    fn release(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        if let Some(mut s) = slot.sock.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        match slot.st {
            St::Connecting | St::Handshake => self.c.connecting -= 1,
            St::Open => self.c.open -= 1,
            St::Closed => return,
        }
        slot.st = St::Closed;
        slot.rem = Vec::new();
        slot.out = Vec::new();
        self.free.push(i);
    }

    /// We close it (not counted as a failure).
    pub fn close(&mut self, i: usize) {
        self.release(i);
    }

    fn fail(&mut self, i: usize, why: &str) {
        if self.slots[i].st == St::Closed {
            return;
        }
        self.error(why);
        self.c.failed += 1;
        self.release(i);
    }

    fn died(&mut self, i: usize, why: &str) {
        if self.slots[i].st == St::Closed {
            return;
        }
        self.error(why);
        self.c.dead += 1;
        self.release(i);
    }

    /// Fails connections whose handshake outlived the timeout.
    pub fn sweep(&mut self) {
        let now = self.now_ns();
        let limit = self.cfg.handshake_timeout.as_nanos() as u64;
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            if matches!(s.st, St::Connecting | St::Handshake) && now.saturating_sub(s.started) > limit {
                self.fail(i, "handshake: timeout");
            }
        }
    }

    /// Closes every connection.
    pub fn close_all(&mut self) {
        for i in 0..self.slots.len() {
            self.release(i);
        }
    }

    /// Open slots of a role.
    pub fn open_slots(&self, role: Role) -> Vec<usize> {
        (0..self.slots.len()).filter(|&i| self.slots[i].st == St::Open && self.slots[i].role == role).collect()
    }

    /// Runs the loop until `cond` holds or `deadline` passes; true if `cond` held.
    pub fn run_until(&mut self, deadline: Instant, mut cond: impl FnMut(&Engine) -> bool) -> bool {
        let mut last_sweep = Instant::now();
        loop {
            if cond(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            self.turn((deadline - now).min(Duration::from_millis(50)));
            if last_sweep.elapsed() > Duration::from_millis(500) {
                self.sweep();
                last_sweep = Instant::now();
            }
        }
    }
}

fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn push_header(out: &mut Vec<u8>, op: u8, len: usize) {
    out.push(0x80 | op);
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&MASK);
}

/// Appends one masked client frame.
pub fn push_frame(out: &mut Vec<u8>, op: u8, payload: &[u8]) {
    push_header(out, op, payload.len());
    let start = out.len();
    out.extend_from_slice(payload);
    mask_in_place(&mut out[start..]);
}

fn mask_in_place(b: &mut [u8]) {
    for (j, x) in b.iter_mut().enumerate() {
        *x ^= MASK[j & 3];
    }
}

fn write_hex(dst: &mut [u8], v: u64) {
    const H: &[u8; 16] = b"0123456789abcdef";
    for (k, d) in dst.iter_mut().enumerate().take(16) {
        *d = H[((v >> (60 - 4 * k)) & 0xf) as usize];
    }
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.len() != 16 {
        return None;
    }
    let mut v = 0u64;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | d as u64;
    }
    Some(v)
}

fn short_err(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EADDRNOTAVAIL) => "EADDRNOTAVAIL (ephemeral ports exhausted)".into(),
        Some(libc::EMFILE) => "EMFILE (per-process descriptor limit)".into(),
        Some(libc::ENFILE) => "ENFILE (fs.file-max)".into(),
        Some(libc::ECONNREFUSED) => "ECONNREFUSED".into(),
        Some(libc::ECONNRESET) => "ECONNRESET".into(),
        Some(libc::ETIMEDOUT) => "ETIMEDOUT".into(),
        Some(libc::ENOBUFS) | Some(libc::ENOMEM) => "ENOBUFS/ENOMEM (kernel memory)".into(),
        _ => e.to_string(),
    }
}

/// Source addresses for loopback targets: `127.0.0.first` onwards, `n` of them (the
/// whole 127/8 is loopback, so each is another full ephemeral port range).
pub fn loopback_sources(first: u32, n: u32) -> Vec<IpAddr> {
    (0..n)
        .map(|k| {
            let v = first + k; // 127.<v/250>.<...> spread without .0 and .255
            let b = (v / 250) % 250;
            let c = v % 250 + 1;
            IpAddr::V4(Ipv4Addr::new(127, (b / 250) as u8, b as u8, c as u8))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let mut b = [0u8; 16];
        write_hex(&mut b, 0x0123_4567_89ab_cdef);
        assert_eq!(&b, b"0123456789abcdef");
        assert_eq!(parse_hex(&b), Some(0x0123_4567_89ab_cdef));
        assert_eq!(parse_hex(b"xyz"), None);
    }

    #[test]
    fn frames_are_masked_with_right_lengths() {
        let mut out = Vec::new();
        push_frame(&mut out, OP_PING, b"abc");
        assert_eq!(out[0], 0x89);
        assert_eq!(out[1], 0x80 | 3);
        assert_eq!(&out[2..6], &MASK);
        let un: Vec<u8> = out[6..].iter().enumerate().map(|(j, x)| x ^ MASK[j & 3]).collect();
        assert_eq!(un, b"abc");
        let mut big = Vec::new();
        push_header(&mut big, OP_BINARY, 70_000);
        assert_eq!(big[1], 0x80 | 127);
        let mut mid = Vec::new();
        push_header(&mut mid, OP_TEXT, 300);
        assert_eq!(&mid[1..4], &[0x80 | 126, 1, 44]);
    }

    #[test]
    fn loopback_sources_are_distinct_and_valid() {
        let v = loopback_sources(0, 600);
        let set: std::collections::HashSet<_> = v.iter().collect();
        assert_eq!(set.len(), 600);
        assert_eq!(v[0], IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        for ip in v {
            let IpAddr::V4(a) = ip else { panic!() };
            assert!(a.octets()[3] >= 1 && a.octets()[3] <= 250);
        }
    }
}
