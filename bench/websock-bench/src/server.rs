//! The embedded target: a websock server with the peer-contract behaviour (`/` and
//! `/echo` echo, `/sub` joins the broadcast tag, `/pub` sends by tag). It runs either in
//! this process (tests) or as a child process of this same binary (`serve`, hidden), which
//! is what the measurements use: a child's RSS and CPU are the server's alone, and
//! several children can share one port with SO_REUSEPORT to pass the per-process
//! descriptor limit. A child lives while its stdin is open, so it never outlives us.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use websock::{Conn, Handler, Message, Server};

use crate::args::Args;

pub struct BenchHandler;

impl Handler for BenchHandler {
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

/// Server options shared by `serve` and the in-process server.
#[derive(Debug, Clone)]
pub struct ServeOpts {
    pub listen: String,
    pub reuse_port: bool,
    pub loops: usize,
    pub ping_interval: Option<Duration>,
    pub idle_timeout: Option<Duration>,
}

impl Default for ServeOpts {
    fn default() -> Self {
        ServeOpts { listen: "127.0.0.1:0".into(), reuse_port: false, loops: 0, ping_interval: Some(Duration::from_secs(30)), idle_timeout: Some(Duration::from_secs(300)) }
    }
}

pub fn start_in_process(o: &ServeOpts) -> websock::Result<Server> {
    Server::builder()
        .listen(o.listen.clone())
        .reuse_port(o.reuse_port)
        .loops(o.loops)
        .backlog(65535)
        .ping_interval(o.ping_interval)
        .idle_timeout(o.idle_timeout)
        .start(BenchHandler)
}

fn secs_opt(v: &str) -> Option<Duration> {
    if v == "off" || v == "0" { None } else { v.parse::<f64>().ok().map(Duration::from_secs_f64) }
}

/// `websock-bench serve`: runs until stdin closes.
pub fn serve_main(a: &mut Args) -> i32 {
    crate::sys::raise_nofile();
    let o = ServeOpts {
        listen: a.str("listen", "127.0.0.1:0"),
        reuse_port: a.flag("reuse-port"),
        loops: a.num("loops", 0),
        ping_interval: secs_opt(&a.str("ping-interval", "30")),
        idle_timeout: secs_opt(&a.str("idle-timeout", "300")),
    };
    let server = match start_in_process(&o) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("websock-bench serve: {e}");
            return 1;
        }
    };
    println!("READY {}", server.local_addr().port());
    let _ = std::io::stdout().flush();
    // The parent holds our stdin; EOF means it is done (or gone).
    let mut sink = String::new();
    let stdin = std::io::stdin();
    while stdin.lock().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
        sink.clear();
    }
    // Exit without the graceful close of every connection: the kernel reclaims them
    // at once, which matters with hundreds of thousands open.
    std::process::exit(0);
}

/// A server child process.
pub struct ServerProc {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
}

impl ServerProc {
    pub fn spawn(o: &ServeOpts) -> std::io::Result<ServerProc> {
        let exe = std::env::current_exe()?;
        let fmt = |d: Option<Duration>| d.map(|d| d.as_secs_f64().to_string()).unwrap_or_else(|| "off".into());
        let mut cmd = Command::new(exe);
        cmd.arg("serve").arg("--listen").arg(&o.listen).arg("--loops").arg(o.loops.to_string());
        cmd.arg("--ping-interval").arg(fmt(o.ping_interval)).arg("--idle-timeout").arg(fmt(o.idle_timeout));
        if o.reuse_port {
            cmd.arg("--reuse-port");
        }
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
        let stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line)?;
        let port = line.strip_prefix("READY ").and_then(|p| p.trim().parse().ok()).ok_or_else(|| {
            let _ = child.kill();
            std::io::Error::other(format!("server child did not start: {line:?}"))
        })?;
        Ok(ServerProc { child, _stdin: stdin, port })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
