//! `cargo run --release -p websock-chat` (or `make demo`): the chat on
//! http://127.0.0.1:8080 (set CHAT_ADDR to change it). Ctrl-C stops it.

fn main() {
    let addr = std::env::var("CHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let server = websock_chat::start(&addr).unwrap_or_else(|e| {
        eprintln!("chat: cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    println!("chat: open http://{} in a browser (several tabs to talk)", server.local_addr());
    server.wait();
}
