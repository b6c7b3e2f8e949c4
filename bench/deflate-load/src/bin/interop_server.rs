//! Echo server on the websock engine with permessage-deflate, for the real-client
//! interop checks (interop/run.sh: Node ws with three offers, Python websockets) and
//! for compressed-echo benchmarks. Prints `offer -> negotiated` for every connection.
//! usage: interop_server PORT shared|dedicated:BITS [threshold] [level]

use websock::{Compression, Conn, Handler, Message, Server};

struct Echo;

impl Handler for Echo {
    fn on_open(&self, conn: &mut Conn<'_>) {
        let offer = conn.request().and_then(|r| r.header("sec-websocket-extensions")).unwrap_or("").to_string();
        println!("{offer} -> {}", if conn.permessage_deflate() { "deflate" } else { "plain" });
    }

    fn on_message(&self, conn: &mut Conn<'_>, msg: Message<'_>) {
        conn.send(msg);
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let port: u16 = a.get(1).and_then(|p| p.parse().ok()).expect("usage: interop_server PORT MODE [THRESHOLD]");
    let mut cfg = match a.get(2).map(String::as_str) {
        Some("shared") | None => Compression::shared(),
        Some(m) => Compression::dedicated(m.strip_prefix("dedicated:").expect("mode").parse().expect("bits")),
    };
    if let Some(t) = a.get(3) {
        cfg.threshold = t.parse().expect("threshold");
    }
    if let Some(l) = a.get(4) {
        cfg.level = l.parse().expect("level 1-9");
    }
    let mut opts = websock::Options::default();
    opts.bind = websock::Bind::Addr(format!("127.0.0.1:{port}"));
    opts.compression = cfg;
    opts.keep_headers = websock::KeepHeaders::Names(vec!["sec-websocket-extensions".into()]);
    let server = Server::start(opts, std::sync::Arc::new(Echo)).expect("server starts");
    println!("READY");
    server.wait();
}
