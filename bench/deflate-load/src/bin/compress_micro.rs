//! Micro-benchmark of per-message compression alone, outside the server: deflate-load's
//! JSON-like payloads (32 B and 4 KiB, 256 different ones) compressed one at a time as
//! websock does without server context, by zlib-rs (reset + sync flush, what the core
//! ships) and by libdeflate (one complete stream; measured, not shipped: see BENCH-NOTES.md), at every level. Prints µs per
//! message and the payload bytes (libdeflate: its output + the 0x00 octet; a message that
//! would not shrink counts its own length, as it goes out plain).
//! Then the other direction: inflating what a client sends (zlib level 6, sync-flushed,
//! tail removed, as browsers do), by zlib-rs (reset + tail appended, websock's path) and
//! by libdeflate (tail and a final empty stored block appended, so the message is one
//! complete stream).
//! usage: compress_micro (pin it: taskset -c 1)

use std::time::Instant;

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress};
use libdeflater::{CompressionLvl, Compressor, Decompressor};

#[path = "../payload.rs"]
mod payload;
use payload::payload;

fn main() {
    println!("| size | level | zlib-rs µs | zlib-rs B | libdeflate µs | libdeflate B |");
    println!("|---|---|---|---|---|---|");
    for n in [32usize, 4096] {
        let pool: Vec<Vec<u8>> = (0..256).map(|i| payload(n, i * 7)).collect();
        let iters = if n == 32 { 200_000 } else { 40_000 };
        for level in 1..=9u32 {
            let mut z = Compress::new_with_window_bits(flate2::Compression::new(level), false, 15);
            let mut out = Vec::with_capacity(2 * n + 64);
            let (mut zbytes, t) = (0usize, Instant::now());
            for k in 0..iters {
                let m = &pool[k % 256];
                z.reset();
                out.clear();
                z.compress_vec(m, &mut out, FlushCompress::Sync).unwrap();
                zbytes += (out.len() - 4).min(n);
            }
            let zt = t.elapsed().as_secs_f64() * 1e6 / iters as f64;
            let mut c = Compressor::new(CompressionLvl::new(level as i32).unwrap());
            let mut o = vec![0u8; n];
            let (mut lbytes, t) = (0usize, Instant::now());
            for k in 0..iters {
                let m = &pool[k % 256];
                lbytes += match c.deflate_compress(m, &mut o[..n - 2]) {
                    Ok(b) => b + 1,
                    Err(_) => n,
                };
            }
            let lt = t.elapsed().as_secs_f64() * 1e6 / iters as f64;
            let it = iters as f64;
            println!("| {n} | {level} | {zt:.2} | {:.1} | {lt:.2} | {:.1} |", zbytes as f64 / it, lbytes as f64 / it);
        }
    }
    println!();
    println!("| size | client payload B | zlib-rs inflate µs | libdeflate inflate µs |");
    println!("|---|---|---|---|");
    for n in [32usize, 4096] {
        let iters = if n == 32 { 200_000 } else { 40_000 };
        let mut c = Compress::new_with_window_bits(flate2::Compression::new(6), false, 15);
        let pool: Vec<(Vec<u8>, Vec<u8>)> = (0..256)
            .map(|i| {
                let m = payload(n, i * 7);
                c.reset();
                let mut z = Vec::with_capacity(2 * n + 64);
                c.compress_vec(&m, &mut z, FlushCompress::Sync).unwrap();
                z.truncate(z.len() - 4);
                (m, z)
            })
            .collect();
        let zlen = pool.iter().map(|p| p.1.len()).sum::<usize>() as f64 / 256.0;
        let mut d = Decompress::new_with_window_bits(false, 15);
        let mut out = Vec::with_capacity(n + 1024);
        let mut input = Vec::with_capacity(2 * n + 64);
        let t = Instant::now();
        for k in 0..iters {
            let (m, z) = &pool[k % 256];
            d.reset(false);
            input.clear();
            input.extend_from_slice(z);
            input.extend_from_slice(&[0, 0, 0xff, 0xff]);
            out.clear();
            d.decompress_vec(&input, &mut out, FlushDecompress::Sync).unwrap();
            assert_eq!(out.len(), m.len());
        }
        let zt = t.elapsed().as_secs_f64() * 1e6 / iters as f64;
        let mut ld = Decompressor::new();
        let mut o = vec![0u8; 4 * n + 1024];
        let t = Instant::now();
        for k in 0..iters {
            let (m, z) = &pool[k % 256];
            input.clear();
            input.extend_from_slice(z);
            input.extend_from_slice(&[0, 0, 0xff, 0xff, 0x01, 0, 0, 0xff, 0xff]);
            let got = ld.deflate_decompress(&input, &mut o).unwrap();
            assert_eq!(got, m.len());
        }
        let lt = t.elapsed().as_secs_f64() * 1e6 / iters as f64;
        println!("| {n} | {zlen:.1} | {zt:.2} | {lt:.2} |");
    }
}
