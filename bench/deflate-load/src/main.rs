//! deflate-load: a small load client for compressed echo. Opens N WebSocket connections
//! (hand-rolled RFC 6455 client framing on tokio, one task per connection, one message in
//! flight per connection), offers permessage-deflate, compresses every message it sends
//! as RFC 7692 allows, inflates every echo and checks it byte for byte. Prints echo
//! messages/s, wire bytes per message and its own CPU use. The shared wsload offers no
//! extension, which is why this exists.
//!
//! Two offers (`--offer`):
//! * `browser` (default): `permessage-deflate; client_max_window_bits`, what Chromium and
//!   Firefox send. A server that keeps the client's context makes this client compress
//!   every message through its own stateful compressor, as a browser would.
//! * `client-nct`: `permessage-deflate; client_no_context_takeover; client_max_window_bits`
//!   (valid RFC 7692 offer: the client promises to compress each message on its own).
//!   Each distinct payload is then compressed once, and its frame reused.
//!
//! Whenever the agreement says `client_no_context_takeover` (offered, or added by the
//! server, as websock's shared mode does) the compressed bytes of a payload do not depend
//! on what was sent before, so they are computed once per payload and window size and
//! the client just writes the cached frame: the client's cost per message is then one
//! inflate (the server may keep its own context, so every echo is still inflated in
//! stream order) and one compare, well below the server's inflate + deflate. Payloads
//! come from a pool of `POOL` consecutive JSON-like texts; each connection walks it from
//! its own start, so consecutive messages on a connection differ as before.
//!
//! usage: deflate-load [--host 127.0.0.1] [--port 9001] [--path /echo] [--conns 100]
//!                     [--size 32] [--secs 10] [--warmup 2] [--no-deflate] [--hold 0]
//!                     [--level 6]   (the client's own zlib level)
//!                     [--offer browser|client-nct|"permessage-deflate; ..."]

mod payload;

use std::io;
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use payload::payload;

const TAIL: [u8; 4] = [0, 0, 0xFF, 0xFF];

struct Args {
    host: String,
    port: u16,
    path: String,
    conns: usize,
    size: usize,
    secs: f64,
    warmup: f64,
    deflate: bool,
    hold: f64,
    level: u32,
    offer: String,
}

/// Distinct payloads per run (consecutive sequence numbers).
const POOL: usize = 256;

const BROWSER: &str = "permessage-deflate; client_max_window_bits";
const CLIENT_NCT: &str = "permessage-deflate; client_no_context_takeover; client_max_window_bits";

fn args() -> Args {
    let mut a = Args {
        host: "127.0.0.1".into(),
        port: 9001,
        path: "/echo".into(),
        conns: 100,
        size: 32,
        secs: 10.0,
        warmup: 2.0,
        deflate: true,
        hold: 0.0,
        level: 6,
        offer: BROWSER.into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--host" => a.host = v(),
            "--port" => a.port = v().parse().expect("port"),
            "--path" => a.path = v(),
            "--conns" => a.conns = v().parse().expect("conns"),
            "--size" => a.size = v().parse().expect("size"),
            "--secs" => a.secs = v().parse().expect("secs"),
            "--warmup" => a.warmup = v().parse().expect("warmup"),
            "--hold" => a.hold = v().parse().expect("hold"),
            "--level" => a.level = v().parse().expect("level"),
            "--no-deflate" => a.deflate = false,
            "--offer" => {
                a.offer = match v().as_str() {
                    "browser" => BROWSER.into(),
                    "client-nct" => CLIENT_NCT.into(),
                    o if o.starts_with("permessage-deflate") => o.into(),
                    o => panic!("unknown offer {o}"),
                }
            }
            _ => panic!("unknown option {k}"),
        }
    }
    a
}

/// Ready-to-write client frames, one per pool payload.
type Frames = Arc<Vec<Vec<u8>>>;

/// The payloads of a run, and their ready-to-write client frames per agreement kind.
struct Pool {
    plain: Vec<Vec<u8>>,
    /// Key: 0 = uncompressed frames, 9..=15 = frames compressed without context with that
    /// window. Built by the first connection that needs them (before the warm-up ends).
    frames: Mutex<Vec<(u8, Frames)>>,
}

impl Pool {
    fn new(size: usize) -> Pool {
        Pool { plain: (0..POOL as u64).map(|k| payload(size, 1_000_003 + k)).collect(), frames: Mutex::new(Vec::new()) }
    }

    fn frames(&self, key: u8, level: u32) -> Frames {
        let mut f = self.frames.lock().unwrap();
        if let Some((_, v)) = f.iter().find(|(k, _)| *k == key) {
            return v.clone();
        }
        let v: Vec<Vec<u8>> = self
            .plain
            .iter()
            .map(|m| {
                let mut w = Vec::new();
                if key == 0 {
                    encode_frame(&mut w, 0x1, false, m);
                } else {
                    let agreed = Agreed { server_nct: false, client_nct: true, client_bits: key };
                    let mut z = Vec::new();
                    Codec::new(agreed, level).compress(m, &mut z);
                    encode_frame(&mut w, 0x1, true, &z);
                }
                w
            })
            .collect();
        let v = Arc::new(v);
        f.push((key, v.clone()));
        v
    }
}

/// What the server agreed to (RFC 7692 §7.1), from the response header.
#[derive(Debug, Default, Clone, Copy)]
struct Agreed {
    server_nct: bool,
    client_nct: bool,
    client_bits: u8,
}

fn parse_agreed(value: &str) -> io::Result<Agreed> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut parts = value.split(';').map(|p| p.trim());
    if !parts.next().unwrap_or("").eq_ignore_ascii_case("permessage-deflate") {
        return Err(bad("unexpected extension in response"));
    }
    let mut a = Agreed { client_bits: 15, ..Default::default() };
    for p in parts {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().trim_matches('"').to_string())),
            None => (p.to_ascii_lowercase(), None),
        };
        match (k.as_str(), v) {
            ("server_no_context_takeover", None) => a.server_nct = true,
            ("client_no_context_takeover", None) => a.client_nct = true,
            ("server_max_window_bits", Some(_)) => {} // inflating with 15 bits covers any
            ("client_max_window_bits", Some(v)) => {
                a.client_bits = v.parse().map_err(|_| bad("client_max_window_bits"))?;
                if !(8..=15).contains(&a.client_bits) {
                    return Err(bad("client_max_window_bits out of range"));
                }
            }
            _ => return Err(bad("unexpected parameter in response")),
        }
    }
    Ok(a)
}

struct Codec {
    agreed: Agreed,
    c: Compress,
    d: Decompress,
}

impl Codec {
    fn new(a: Agreed, level: u32) -> Codec {
        // zlib cannot make raw deflate with 8 bits; 9 would break the agreement, but a
        // server answering 8 only limits us, and no peer measured here does that.
        let bits = a.client_bits.max(9);
        Codec {
            agreed: a,
            c: Compress::new_with_window_bits(flate2::Compression::new(level), false, bits),
            d: Decompress::new_with_window_bits(false, 15),
        }
    }

    fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.agreed.client_nct {
            self.c.reset();
        }
        out.clear();
        out.reserve(data.len() + 64);
        let start = self.c.total_in();
        loop {
            let done = (self.c.total_in() - start) as usize;
            self.c.compress_vec(&data[done..], out, FlushCompress::Sync).expect("deflate");
            if (self.c.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity());
        }
        assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - 4);
    }

    fn decompress(&mut self, data: &mut Vec<u8>, out: &mut Vec<u8>, expect: usize) -> io::Result<()> {
        if self.agreed.server_nct {
            self.d.reset(false);
        }
        data.extend_from_slice(&TAIL);
        out.clear();
        out.reserve(expect + 64);
        let mut done = 0;
        loop {
            let before = self.d.total_in();
            let status = self
                .d
                .decompress_vec(&data[done..], out, FlushDecompress::Sync)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            done += (self.d.total_in() - before) as usize;
            if status == Status::StreamEnd {
                // A block with BFINAL set ended the stream (RFC 7692 §7.2.3.4; websock's
                // shared mode sends every message so): as browsers do, start a fresh
                // stream for whatever follows (here the 0x00 octet and our tail, which
                // make an empty stored block).
                self.d.reset(false);
                continue;
            }
            if done == data.len() && out.len() < out.capacity() {
                return Ok(());
            }
            out.reserve(out.capacity().max(1024));
        }
    }
}

async fn handshake(a: &Args) -> io::Result<(BufReader<TcpStream>, Option<Agreed>)> {
    let sock = TcpStream::connect((a.host.as_str(), a.port)).await?;
    sock.set_nodelay(true)?;
    let mut sock = BufReader::with_capacity(64 << 10, sock);
    let ext = if a.deflate { format!("Sec-WebSocket-Extensions: {}\r\n", a.offer) } else { String::new() };
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n",
        a.path, a.host, a.port
    );
    sock.get_mut().write_all(req.as_bytes()).await?;
    // Read the response head byte by byte up to the blank line (once per connection).
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(sock.read_u8().await?);
        if head.len() > 8192 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "response head too long"));
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    if !head.starts_with("HTTP/1.1 101") {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("no upgrade: {}", head.lines().next().unwrap_or(""))));
    }
    let mut agreed = None;
    for line in head.lines() {
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("sec-websocket-extensions")
        {
            agreed = Some(parse_agreed(v.trim())?);
        }
    }
    Ok((sock, agreed))
}

fn encode_frame(out: &mut Vec<u8>, opcode: u8, rsv1: bool, payload: &[u8]) {
    out.clear();
    out.push(0x80 | if rsv1 { 0x40 } else { 0 } | opcode);
    let n = payload.len();
    if n < 126 {
        out.push(0x80 | n as u8);
    } else if n <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
}

/// Reads one data message (answering pings, joining fragments). Returns (compressed, bytes).
async fn read_message(s: &mut BufReader<TcpStream>, w: &mut Vec<u8>, data: &mut Vec<u8>) -> io::Result<bool> {
    data.clear();
    let mut compressed = None;
    loop {
        let b0 = s.read_u8().await?;
        let b1 = s.read_u8().await?;
        let mut len = (b1 & 0x7F) as u64;
        if len == 126 {
            len = s.read_u16().await? as u64;
        } else if len == 127 {
            len = s.read_u64().await?;
        }
        let opcode = b0 & 0x0F;
        let start = data.len();
        data.resize(start + len as usize, 0);
        s.read_exact(&mut data[start..]).await?;
        match opcode {
            0x9 => {
                let p = data.split_off(start);
                encode_frame(w, 0xA, false, &p);
                s.get_mut().write_all(w).await?;
                continue;
            }
            0xA => {
                data.truncate(start);
                continue;
            }
            0x8 => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "server closed")),
            _ => {}
        }
        if compressed.is_none() {
            compressed = Some(b0 & 0x40 != 0);
        }
        if b0 & 0x80 != 0 {
            return Ok(compressed.unwrap());
        }
    }
}

#[derive(Default)]
struct Counters {
    msgs: AtomicU64,
    wire_out: AtomicU64,
    wire_in: AtomicU64,
    compressed_in: AtomicU64,
}

/// CPU seconds (user + system) this process has used so far, from /proc/self/stat.
fn cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0) + f.get(12).and_then(|u| u.parse().ok()).unwrap_or(0.0);
    ticks / 100.0 // USER_HZ is 100 on Linux
}

#[allow(clippy::too_many_arguments)]
async fn run_conn(a: Arc<Args>, pool: Arc<Pool>, id: usize, counting: Arc<AtomicBool>, stop: Arc<AtomicBool>, c: Arc<Counters>, ready: tokio::sync::mpsc::Sender<io::Result<Option<Agreed>>>) -> io::Result<()> {
    let (mut s, agreed) = match handshake(&a).await {
        Ok(x) => x,
        Err(e) => {
            let _ = ready.send(Err(io::Error::new(e.kind(), e.to_string()))).await;
            return Err(e);
        }
    };
    let _ = ready.send(Ok(agreed)).await;
    drop(ready);
    let mut codec = agreed.map(|g| Codec::new(g, a.level));
    // Cached frames unless this client must compress in stream order (context kept).
    let cached = match agreed {
        None => Some(pool.frames(0, a.level)),
        Some(g) if g.client_nct => Some(pool.frames(g.client_bits.max(9), a.level)),
        Some(_) => None,
    };
    let (mut w, mut z, mut data, mut plain, mut r) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut k = id * 37 % POOL;
    while !stop.load(Ordering::Relaxed) {
        let msg = &pool.plain[k];
        let frame: &[u8] = match (&cached, codec.as_mut()) {
            (Some(f), _) => &f[k],
            (None, Some(c)) => {
                c.compress(msg, &mut z);
                encode_frame(&mut w, 0x1, true, &z);
                &w
            }
            (None, None) => unreachable!("no agreement means cached plain frames"),
        };
        k = (k + 1) % POOL;
        s.get_mut().write_all(frame).await?;
        let wire_out = frame.len();
        let compressed = read_message(&mut s, &mut r, &mut data).await?;
        let wire_in = data.len();
        let got: &[u8] = if compressed {
            let k = codec.as_mut().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "RSV1 without the extension"))?;
            k.decompress(&mut data, &mut plain, msg.len())?;
            &plain
        } else {
            &data
        };
        if got != &msg[..] {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "echo differs from what was sent"));
        }
        if counting.load(Ordering::Relaxed) {
            c.msgs.fetch_add(1, Ordering::Relaxed);
            c.wire_out.fetch_add(wire_out as u64, Ordering::Relaxed);
            c.wire_in.fetch_add(wire_in as u64, Ordering::Relaxed);
            c.compressed_in.fetch_add(compressed as u64, Ordering::Relaxed);
        }
    }
    // Hold the connection open (for memory sampling), then close politely.
    tokio::time::sleep(Duration::from_secs_f64(a.hold)).await;
    encode_frame(&mut w, 0x8, false, &1000u16.to_be_bytes());
    let _ = s.get_mut().write_all(&w).await;
    Ok(())
}

fn main() {
    let a = Arc::new(args());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let code = rt.block_on(async move {
        let counting = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let c = Arc::new(Counters::default());
        let (tx, mut rx) = tokio::sync::mpsc::channel(a.conns.max(1));
        let pool = Arc::new(Pool::new(a.size));
        let mut tasks = Vec::new();
        for id in 0..a.conns {
            tasks.push(tokio::spawn(run_conn(a.clone(), pool.clone(), id, counting.clone(), stop.clone(), c.clone(), tx.clone())));
        }
        drop(tx);
        let mut agreed = None;
        for _ in 0..a.conns {
            match rx.recv().await {
                Some(Ok(g)) => agreed = agreed.or(Some(g)),
                Some(Err(e)) => {
                    eprintln!("handshake failed: {e}");
                    return 1;
                }
                None => break,
            }
        }
        let agreed = agreed.flatten();
        eprintln!("negotiated: {:?}", agreed);
        if a.deflate && agreed.is_none() {
            eprintln!("the server declined permessage-deflate");
        }
        tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
        counting.store(true, Ordering::Relaxed);
        let (t0, cpu0) = (Instant::now(), cpu_secs());
        tokio::time::sleep(Duration::from_secs_f64(a.secs)).await;
        counting.store(false, Ordering::Relaxed);
        let el = t0.elapsed().as_secs_f64();
        let cpu = cpu_secs() - cpu0;
        stop.store(true, Ordering::Relaxed);
        if a.hold > 0.0 {
            println!("HOLD {} connections for {}s", a.conns, a.hold);
        }
        let mut failed = 0;
        for t in tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failed += 1;
                    if failed <= 3 {
                        eprintln!("connection error: {e}");
                    }
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("task: {e}");
                }
            }
        }
        let n = c.msgs.load(Ordering::Relaxed);
        let per = |x: &AtomicU64| if n == 0 { 0.0 } else { x.load(Ordering::Relaxed) as f64 / n as f64 };
        println!(
            "{{\"conns\":{},\"size\":{},\"deflate\":{},\"negotiated\":{},\"msgs\":{},\"secs\":{:.2},\"msgs_per_s\":{:.0},\"wire_out_per_msg\":{:.1},\"wire_in_payload_per_msg\":{:.1},\"echoes_compressed\":{:.3},\"client_cpu\":{:.2},\"client_us_per_msg\":{:.1},\"failed_conns\":{}}}",
            a.conns,
            a.size,
            a.deflate,
            agreed.is_some(),
            n,
            el,
            n as f64 / el,
            per(&c.wire_out),
            per(&c.wire_in),
            per(&c.compressed_in),
            cpu / el,
            if n == 0 { 0.0 } else { cpu * 1e6 / n as f64 },
            failed
        );
        if failed > 0 || n == 0 { 1 } else { 0 }
    });
    std::process::exit(code);
}
