//! Per-message CPU cost of the core's permessage-deflate codec (included by path): one
//! loop codec serving 100 interleaved connections, each message inflated (as sent by a
//! client) and compressed back, for each mode. Prints ns per echoed message.
//! usage: codec_cost [level]

#![allow(dead_code)]
#[path = "../../../../core/src/frame.rs"]
mod frame;
#[path = "../../../../core/src/deflate/mod.rs"]
mod deflate;

use std::time::Instant;

use flate2::{Compress, FlushCompress};

fn json(n: usize, seq: usize) -> Vec<u8> {
    let mut s = String::new();
    let mut i = seq;
    while s.len() < n {
        s.push_str(&format!("{{\"id\":{i},\"user\":\"u{}\",\"room\":\"r{}\",\"text\":\"hello {}\"}},", i % 8, i % 17, i * 3 % 8));
        i += 1;
    }
    s.truncate(n);
    s.into_bytes()
}

fn main() {
    let level: u8 = std::env::args().nth(1).map_or(6, |l| l.parse().unwrap());
    for (name, mode) in [
        ("shared", deflate::CompressionMode::Shared),
        ("dedicated:12", deflate::CompressionMode::Dedicated { window_bits: 12 }),
        ("dedicated:15", deflate::CompressionMode::Dedicated { window_bits: 15 }),
    ] {
        for size in [32usize, 4096] {
            let mut cfg = deflate::Compression::shared();
            cfg.mode = mode;
            cfg.threshold = 0;
            cfg.level = level;
            let slots = deflate::DedicatedSlots::new(1000);
            let mut codec = deflate::LoopCodec::new(&cfg);
            let n_conns = 100;
            let mut conns: Vec<_> = (0..n_conns)
                .map(|_| deflate::negotiate(&["permessage-deflate; client_max_window_bits"], &cfg, &slots).unwrap().0)
                .collect();
            // Client side: one compressor per connection with the agreed settings.
            let mut clients: Vec<_> = conns
                .iter()
                .map(|c| {
                    let bits = if c.agreed.client_no_context_takeover { 15 } else { c.agreed.client_window_bits.max(9) };
                    (Compress::new_with_window_bits(flate2::Compression::new(6), false, bits), c.agreed.client_no_context_takeover)
                })
                .collect();
            let rounds = if size > 1000 { 40 } else { 200 };
            // Pre-compress client messages so only server work is timed.
            let mut inputs = Vec::new();
            for r in 0..rounds {
                for (i, (c, reset)) in clients.iter_mut().enumerate() {
                    if *reset {
                        c.reset();
                    }
                    let m = json(size, r * 1000 + i);
                    let mut z = Vec::with_capacity(size + 64);
                    c.compress_vec(&m, &mut z, FlushCompress::Sync).unwrap();
                    z.truncate(z.len() - 4);
                    inputs.push((i, z, m.len()));
                }
            }
            let mut out = Vec::new();
            let mut wire = 0usize;
            let t = Instant::now();
            for (i, z, _) in &inputs {
                codec.decompress(&mut conns[*i], &[z], 1 << 20, &mut out).unwrap();
                wire += codec.compress(&mut conns[*i], &out).map_or(out.len(), |p| p.len());
            }
            let ns = t.elapsed().as_nanos() as f64 / inputs.len() as f64;
            let held: usize = conns.iter().map(|c| c.held_bytes()).sum::<usize>() / n_conns;
            println!(
                "{name:13} level {level} size {size:5}: {ns:8.0} ns per echo (inflate + deflate), {:6.1} B out per msg, {held} B held per conn",
                wire as f64 / inputs.len() as f64
            );
        }
    }
}
