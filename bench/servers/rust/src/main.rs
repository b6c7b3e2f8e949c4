//! Bench server for wsload (../shared/bench/peers/CONTRACT.md): `/echo` and `/` echo,
//! `/sub` joins the tag `all`, `/pub` sends every message to `all` with
//! `send_by_tag` (one frame encoded once, shared by every subscriber).
//!
//! Changed defaults (contract): none needed. Messages up to 64 MiB and a 64 MiB
//! outbound queue per connection are the library defaults; keepalive pings every 30 s
//! and a 120 s idle timeout are within the contract (wsload answers pings).
//! `LOOPS` (default: one per CPU the process may use) sets the event-loop count;
//! `TLS_CERT` and `TLS_KEY` (PEM files) make it serve `wss://`.

use websock::{Conn, Handler, Message, Server};

struct Bench;

impl Handler for Bench {
    fn on_open(&self, conn: &mut Conn<'_>) {
        if conn.request().is_some_and(|r| r.path() == "/sub") {
            let _ = conn.tag("all");
        }
    }

    fn on_message(&self, conn: &mut Conn<'_>, msg: Message<'_>) {
        match conn.request().map(|r| r.path()) {
            Some("/pub") => {
                let _ = conn.server().send_by_tag("all", msg);
            }
            Some("/sub") => {}
            _ => {
                conn.send(msg);
            }
        }
    }
}

fn main() {
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "9001".into());
    let loops = std::env::var("LOOPS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut builder = Server::builder().listen(format!("{host}:{port}")).loops(loops).backlog(4096);
    // TLS_CERT / TLS_KEY (PEM files): serve wss:// instead (for TLS memory measurements).
    if let (Ok(cert), Ok(key)) = (std::env::var("TLS_CERT"), std::env::var("TLS_KEY")) {
        builder = builder.tls(websock::TlsConfig::from_pem_files(cert, key).unwrap_or_else(|e| {
            eprintln!("websock bench server: {e}");
            std::process::exit(1);
        }));
    }
    let server = builder
        .start(Bench)
        .unwrap_or_else(|e| {
            eprintln!("websock bench server: {e}");
            std::process::exit(1);
        });
    println!("READY");
    server.wait();
}
