//! `websock-bench`: the capacity tool of websock. Load modes (`echo`, `connect`,
//! `fanout`, `hold`) and `recommend`, which measures memory and CPU per connection and
//! reads the machine's limits to print the maximum connections this machine can hold,
//! which limit binds first and what to change to go further. Human summary on stdout,
//! or one JSON object with `--json`; progress on stderr.

mod args;
mod client;
mod hold;
mod modes;
mod recommend;
mod report;
mod server;
mod stats;
mod sys;

use args::Args;

const USAGE: &str = "websock-bench <mode> [options]

modes:
  echo       --connections 64 --inflight 1 --size 64 --type text|binary --duration 5
  connect    --concurrency 64 --duration 5                 (handshakes/s; closes with RST)
  fanout     --subscribers 1000 --size 64 --rate 0 --duration 5   (rate 0: closed loop)
  hold       --connections 100000 --servers auto --clients auto --rate 10000
             --ping-interval 60 --hold 30 --min-free-gib 4 --max-seconds 900
             (several server and client processes; each process is held under its
             RLIMIT_NOFILE; stops early when free memory runs low)
  recommend  [--quick] [--msg-rate 1] [--msg-size 64] [--out DIR]
             ramps idle, pinging and active connections against the embedded server
             and prints the recommended maximum connections and the binding limit

common: --url ws://host:port/path (default: an embedded websock server child),
        --sources N (loopback source addresses, default 16), --server-loops N,
        --json (one JSON object on stdout)";

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = argv.first().cloned() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let mut a = match Args::parse(&argv[1..]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("websock-bench: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let result = match mode.as_str() {
        "serve" => std::process::exit(server::serve_main(&mut a)),
        "hold-worker" => std::process::exit(hold::worker_main(&mut a)),
        "echo" => modes::echo_main(&mut a),
        "connect" => modes::connect_main(&mut a),
        "fanout" => modes::fanout_main(&mut a),
        "hold" => hold::hold_main(&mut a),
        "recommend" => recommend::recommend_main(&mut a),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return;
        }
        m => {
            eprintln!("websock-bench: unknown mode {m:?}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let json = a.flag("json");
    let unknown = a.unknown();
    if !unknown.is_empty() {
        eprintln!("websock-bench: unknown option(s) for {mode}: {}", unknown.join(" "));
        std::process::exit(2);
    }
    match result {
        Ok(j) => {
            if json {
                println!("{}", j.pretty());
            } else if let Some(report::Json::Str(h)) = j.get("summary") {
                println!("{h}");
            } else {
                println!("{}", j.pretty());
            }
        }
        Err(e) => {
            eprintln!("websock-bench {mode}: {e}");
            std::process::exit(1);
        }
    }
}
