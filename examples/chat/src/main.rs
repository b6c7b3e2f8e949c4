//! `cargo run --release -p websock-chat` (or `make demo`): the chat on
//! http://127.0.0.1:8080 (set CHAT_ADDR to change it). Ctrl-C or SIGTERM shuts it down
//! gracefully: every browser gets close code 1001 and the process exits.

use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};

fn main() {
    let addr = std::env::var("CHAT_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let server = websock_chat::start(&addr).unwrap_or_else(|e| {
        eprintln!("chat: cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    println!("chat: open http://{} in a browser (several tabs to talk)", server.local_addr());
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).expect("signal handlers");
    let stopper = server.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            println!("chat: shutting down");
            stopper.begin_shutdown(Duration::from_secs(3));
        }
    });
    server.wait();
}
