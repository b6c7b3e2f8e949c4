//! A minimal blocking echo server (thread per connection) built directly on the core's
//! permessage-deflate module (included by path, as the engine will use it), so real
//! clients (Node ws, Python websockets) can check negotiation and both context-takeover
//! modes before the module is wired into the engine. Test harness only: no limits beyond
//! what the module enforces, no TLS.
//! usage: interop_server PORT shared|dedicated:BITS [threshold]

#![allow(dead_code)]
#[path = "../../../../core/src/frame.rs"]
mod frame;
#[path = "../../../../core/src/deflate/mod.rs"]
mod deflate;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use base64::Engine;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let port: u16 = a[1].parse().expect("port");
    let mut cfg = match a[2].as_str() {
        "shared" => deflate::Compression::shared(),
        m => deflate::Compression::dedicated(m.strip_prefix("dedicated:").expect("mode").parse().expect("bits")),
    };
    if let Some(t) = a.get(3) {
        cfg.threshold = t.parse().expect("threshold");
    }
    cfg.validate().expect("config");
    let slots = std::sync::Arc::new(deflate::DedicatedSlots::new(cfg.max_dedicated));
    let l = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    println!("READY");
    for s in l.incoming() {
        let s = s.expect("accept");
        let (cfg, slots) = (cfg.clone(), slots.clone());
        std::thread::spawn(move || {
            if let Err(e) = serve(s, &cfg, &slots) {
                eprintln!("connection: {e}");
            }
        });
    }
}

fn serve(s: TcpStream, cfg: &deflate::Compression, slots: &deflate::DedicatedSlots) -> io::Result<()> {
    s.set_nodelay(true)?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut w = s;
    let (mut key, mut exts) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "sec-websocket-key" => key = v.trim().to_string(),
                "sec-websocket-extensions" => exts.push(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let values: Vec<&str> = exts.iter().map(|s| s.as_str()).collect();
    let neg = deflate::negotiate(&values, cfg, slots);
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes());
    let mut resp = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n");
    if let Some((_, v)) = &neg {
        resp.push_str(&format!("Sec-WebSocket-Extensions: {v}\r\n"));
    }
    resp.push_str("\r\n");
    w.write_all(resp.as_bytes())?;
    eprintln!("offer {values:?} -> {:?}", neg.as_ref().map(|n| &n.1));
    let mut st = neg.map(|n| n.0);
    let mut codec = deflate::LoopCodec::new(cfg);
    let (mut msg, mut msg_op, mut msg_z) = (Vec::new(), 0u8, false);
    let mut out = Vec::new();
    loop {
        let mut h = [0u8; 2];
        r.read_exact(&mut h)?;
        let mut len = (h[1] & 0x7f) as u64;
        if len == 126 {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)?;
            len = u16::from_be_bytes(b) as u64;
        } else if len == 127 {
            let mut b = [0u8; 8];
            r.read_exact(&mut b)?;
            len = u64::from_be_bytes(b);
        }
        let mut mask = [0u8; 4];
        r.read_exact(&mut mask)?;
        let mut p = vec![0u8; len as usize];
        r.read_exact(&mut p)?;
        frame::unmask(&mut p, mask, 0);
        let (fin, rsv, op) = (h[0] & 0x80 != 0, (h[0] >> 4) & 7, h[0] & 0xf);
        let z = match deflate::check_rsv(rsv, op, st.is_some()) {
            Ok(z) => z,
            Err(reason) => {
                w.write_all(&frame::encode(frame::OP_CLOSE, &frame::close_payload(1002, reason)))?;
                return Ok(());
            }
        };
        match op {
            0x8 => {
                w.write_all(&frame::encode(frame::OP_CLOSE, &p[..p.len().min(2)]))?;
                return Ok(());
            }
            0x9 => {
                w.write_all(&frame::encode(frame::OP_PONG, &p))?;
                continue;
            }
            0xA => continue,
            0x1 | 0x2 => {
                msg_op = op;
                msg_z = z;
                msg.clear();
            }
            _ => {}
        }
        msg.extend_from_slice(&p);
        if !fin {
            continue;
        }
        let data: &[u8] = if msg_z {
            if let Err(e) = codec.decompress(st.as_mut().unwrap(), &[&msg], 64 << 20, &mut out) {
                w.write_all(&frame::encode(frame::OP_CLOSE, &frame::close_payload(e.close_code(), e.reason())))?;
                return Ok(());
            }
            &out
        } else {
            &msg
        };
        if msg_op == 0x1 && std::str::from_utf8(data).is_err() {
            w.write_all(&frame::encode(frame::OP_CLOSE, &frame::close_payload(1007, "invalid UTF-8")))?;
            return Ok(());
        }
        let f = match st.as_mut().and_then(|s| codec.compress(s, data)) {
            Some(zp) => deflate::encode_compressed(msg_op, zp),
            None => frame::encode(msg_op, data),
        };
        w.write_all(&f)?;
    }
}
