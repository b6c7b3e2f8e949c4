//! `hold`: open N concurrent idle connections and keep them alive with pings, across
//! several server processes sharing one port (SO_REUSEPORT) and several client worker
//! processes, because each process may hold at most RLIMIT_NOFILE descriptors. The parent
//! starts everything, ramps at a bounded connect rate, watches free memory and stops the
//! ramp before the machine struggles, then holds, pings, measures memory on both sides
//! (user space per process group, kernel socket slabs, sockstat) and tears down with RST.
//!
//! Worker protocol: a worker prints `S open connecting opened failed dead pings pongs`
//! twice a second; on stdin `stop` ends its ramp, `report` makes it print `H <histogram>`
//! and `E cause=count;...`, and EOF ends it (so workers never outlive the parent).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::client::{loopback_sources, Config, Engine, Role, Target};
use crate::report::{latency_json, Json, Progress};
use crate::server::{ServeOpts, ServerProc};
use crate::stats::Histogram;
use crate::sys;

/// Connections a worker process takes at most (its descriptor limit less a reserve).
fn per_worker_cap() -> usize {
    (sys::nofile().1 as usize).saturating_sub(200).max(100)
}

pub fn worker_main(a: &mut Args) -> i32 {
    let host = a.str("host", "127.0.0.1");
    let port: u16 = a.num("port", 0);
    let path = a.str("path", "/");
    let n: usize = a.num("connections", 1000);
    let rate: f64 = a.num("rate", 2000.0);
    let src_first: u32 = a.num("src-first", 10);
    let src_count: u32 = a.num("src-count", 2);
    let ping_interval: f64 = a.num("ping-interval", 60.0);
    if let Err(e) = a.check() {
        eprintln!("hold-worker: {e}");
        return 2;
    }
    sys::raise_nofile();
    let target = match Target::parse(&format!("ws://{host}:{port}{path}")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("hold-worker: {e}");
            return 2;
        }
    };
    let cfg = Config { src_ips: loopback_sources(src_first, src_count), linger0: true, handshake_timeout: Duration::from_secs(30), ..Default::default() };
    let mut e = match Engine::new(target, cfg) {
        Ok(e) => e,
        Err(err) => {
            eprintln!("hold-worker: {err}");
            return 1;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let report = Arc::new(AtomicBool::new(false));
    // Set by `stop`: ping latency is then measured afresh for the holding phase, apart
    // from the ramp, when handshakes compete with pings for the CPU.
    let reset = Arc::new(AtomicBool::new(false));
    {
        let (stop, report, reset) = (stop.clone(), report.clone(), reset.clone());
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let mut line = String::new();
            loop {
                line.clear();
                match stdin.lock().read_line(&mut line) {
                    Ok(0) | Err(_) => std::process::exit(0), // parent gone: sockets close with RST
                    Ok(_) => match line.trim() {
                        "stop" => {
                            stop.store(true, Ordering::SeqCst);
                            reset.store(true, Ordering::SeqCst);
                        }
                        "report" => report.store(true, Ordering::SeqCst),
                        "quit" => std::process::exit(0),
                        _ => {}
                    },
                }
            }
        });
    }
    let t0 = Instant::now();
    let mut started = 0usize;
    let mut last_status = Instant::now();
    let mut last_tick = Instant::now();
    let mut last_sweep = Instant::now();
    let mut ping_credit = 0.0f64;
    let mut failures_in_row = 0;
    let out = std::io::stdout();
    loop {
        // Ramp: a token bucket at `rate`, at most 256 handshakes in flight.
        // Failed handshakes (a starved server cutting one off) are retried, so the worker
        // aims at `n` open connections; at most n/10 + 100 retries in all.
        let allowed = (t0.elapsed().as_secs_f64() * rate) as usize;
        let retries_left = (e.c.failed as usize) < n / 10 + 100;
        while !stop.load(Ordering::Relaxed)
            && retries_left
            && ((e.c.open + e.c.connecting) as usize) < n
            && started < allowed + e.c.failed as usize
            && e.c.connecting < 256
            && failures_in_row < 50
        {
            match e.open(Role::Idle) {
                Ok(_) => {
                    started += 1;
                    failures_in_row = 0;
                }
                Err(_) => {
                    failures_in_row += 1;
                    break;
                }
            }
        }
        if failures_in_row >= 50 {
            // The limit was hit (ports, descriptors, memory): stop trying, keep holding.
            stop.store(true, Ordering::SeqCst);
        }
        if reset.swap(false, Ordering::SeqCst) {
            e.ping = Histogram::default();
        }
        e.turn(Duration::from_millis(10));
        let dt = last_tick.elapsed().as_secs_f64();
        last_tick = Instant::now();
        if ping_interval > 0.0 {
            ping_credit += e.c.open as f64 * dt / ping_interval;
            let k = ping_credit.floor();
            if k >= 1.0 {
                e.ping_some(k as usize);
                ping_credit -= k;
            }
        }
        if last_sweep.elapsed() > Duration::from_secs(1) {
            e.sweep();
            last_sweep = Instant::now();
        }
        if last_status.elapsed() > Duration::from_millis(500) || report.load(Ordering::Relaxed) {
            last_status = Instant::now();
            let c = &e.c;
            let mut o = out.lock();
            let done = (c.open as usize) >= n || !retries_left || stop.load(Ordering::Relaxed);
            let _ = writeln!(o, "S {} {} {} {} {} {} {} {}", c.open, c.connecting, c.opened, c.failed, c.dead, c.pings_sent, c.pongs, done as u8);
            if report.swap(false, Ordering::SeqCst) {
                let _ = writeln!(o, "H {}", e.ping.encode());
                let _ = writeln!(o, "G {}", e.handshake.encode());
                let errs: Vec<String> = c.errors.iter().map(|(k, v)| format!("{}={v}", k.replace([';', '='], " "))).collect();
                let _ = writeln!(o, "E {}", errs.join(";"));
            }
            let _ = o.flush();
        }
    }
}

#[derive(Default, Clone)]
struct WState {
    open: u64,
    connecting: u64,
    opened: u64,
    failed: u64,
    dead: u64,
    pings: u64,
    pongs: u64,
    done: bool,
    ping: Option<Histogram>,
    handshake: Option<Histogram>,
    errors: Vec<(String, u64)>,
    reports: u64,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    st: Arc<Mutex<WState>>,
}

impl Worker {
    fn send(&mut self, cmd: &str) {
        let _ = writeln!(self.stdin, "{cmd}");
        let _ = self.stdin.flush();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_worker(args: &[String]) -> std::io::Result<Worker> {
    let mut child = Command::new(std::env::current_exe()?).arg("hold-worker").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
    let stdin = child.stdin.take().unwrap();
    let out = child.stdout.take().unwrap();
    let st = Arc::new(Mutex::new(WState::default()));
    let st2 = st.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let mut s = st2.lock().unwrap();
            if let Some(r) = line.strip_prefix("S ") {
                let v: Vec<u64> = r.split_whitespace().filter_map(|x| x.parse().ok()).collect();
                if v.len() == 8 {
                    (s.open, s.connecting, s.opened, s.failed, s.dead, s.pings, s.pongs, s.done) = (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7] == 1);
                }
            } else if let Some(r) = line.strip_prefix("H ") {
                s.ping = Histogram::decode(r);
            } else if let Some(r) = line.strip_prefix("G ") {
                s.handshake = Histogram::decode(r);
            } else if let Some(r) = line.strip_prefix("E") {
                s.errors = r.trim().split(';').filter_map(|kv| kv.rsplit_once('=')).map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0))).collect();
                s.reports += 1;
            }
        }
    });
    Ok(Worker { child, stdin, st })
}

/// Machine and process memory at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Snap {
    server_anon: u64,
    client_anon: u64,
    socket_slab: u64,
    slab: u64,
    sock_pages: u64,
    available: u64,
}

fn snap(servers: &[ServerProc], workers: &[Worker]) -> Snap {
    let m = sys::meminfo();
    Snap {
        server_anon: servers.iter().map(|s| sys::rss(s.pid()).1).sum(),
        client_anon: workers.iter().map(|w| sys::rss(w.child.id()).1).sum(),
        socket_slab: sys::socket_slab_bytes(),
        slab: m.slab,
        sock_pages: sys::sockstat_tcp().1,
        available: m.available,
    }
}

pub fn hold_main(a: &mut Args) -> Result<Json, String> {
    let n: usize = a.num("connections", 100_000usize).max(1);
    let rate: f64 = a.num("rate", 10_000.0f64).max(1.0);
    let ping_interval: f64 = a.num("ping-interval", 60.0f64);
    let hold_secs: f64 = a.num("hold", 30.0f64);
    let min_free: f64 = a.num("min-free-gib", 4.0f64);
    let max_secs: f64 = a.num("max-seconds", 900.0f64);
    let per_server: usize = a.num("per-server", 15_000usize).clamp(100, per_worker_cap());
    let servers_n: usize = match a.str("servers", "auto").as_str() {
        "auto" => n.div_ceil(per_server),
        v => v.parse().map_err(|_| "--servers: a number or auto")?,
    };
    let cap = per_worker_cap().min(18_000);
    let workers_n: usize = match a.str("clients", "auto").as_str() {
        "auto" => n.div_ceil(cap),
        v => v.parse().map_err(|_| "--clients: a number or auto")?,
    };
    let loops: usize = a.num("server-loops", 1usize);
    let url = a.opt("url");
    let out_dir = a.str("out", "target/websock-bench");
    let quiet = a.flag("json");
    a.check()?;
    if n.div_ceil(workers_n.max(1)) > per_worker_cap() {
        return Err(format!("{n} connections over {workers_n} clients exceeds {} per client process", per_worker_cap()));
    }
    let t_start = Instant::now();
    let limits = sys::limits();
    let base = snap(&[], &[]);

    // Servers: the first binds a free port, the rest join it with SO_REUSEPORT.
    let mut servers: Vec<ServerProc> = Vec::new();
    let (host, port, path) = match &url {
        Some(u) => {
            let t = Target::parse(u)?;
            (t.addr.ip().to_string(), t.addr.port(), t.path)
        }
        None => {
            let idle_timeout = (ping_interval * 3.0).max(300.0);
            let mut p = Progress::new("servers", servers_n as u64, quiet);
            let mut port = 0;
            for k in 0..servers_n {
                let o = ServeOpts { listen: format!("127.0.0.1:{port}"), reuse_port: true, loops, ping_interval: None, idle_timeout: Some(Duration::from_secs_f64(idle_timeout)) };
                let s = ServerProc::spawn(&o).map_err(|e| format!("server {k}: {e}"))?;
                port = s.port;
                servers.push(s);
                p.set(k as u64 + 1, "");
            }
            p.finish(servers_n as u64, &format!("port {port}"));
            ("127.0.0.1".to_string(), port, "/".to_string())
        }
    };
    std::thread::sleep(Duration::from_millis(300));
    let base_servers = snap(&servers, &[]);

    // Workers: an even share each, own source addresses, an even share of the rate.
    let mut workers = Vec::new();
    let share = n.div_ceil(workers_n);
    let mut left = n;
    for k in 0..workers_n {
        let take = share.min(left);
        left -= take;
        if take == 0 {
            break;
        }
        let args: Vec<String> = [
            "--host", &host, "--port", &port.to_string(), "--path", &path,
            "--connections", &take.to_string(), "--rate", &(rate / workers_n as f64).to_string(),
            "--src-first", &(10 + 2 * k).to_string(), "--src-count", "2",
            "--ping-interval", &ping_interval.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        workers.push(spawn_worker(&args).map_err(|e| format!("client {k}: {e}"))?);
    }
    let base_clients = snap(&servers, &workers);

    // Ramp, watching memory and progress.
    let sum = |ws: &[Worker]| {
        let mut t = WState::default();
        let mut all_done = true;
        for w in ws {
            let s = w.st.lock().unwrap();
            t.open += s.open;
            t.connecting += s.connecting;
            t.failed += s.failed;
            t.dead += s.dead;
            t.pings += s.pings;
            t.pongs += s.pongs;
            all_done &= s.done;
        }
        t.done = all_done;
        t
    };
    let mut p = Progress::new("hold ramp", n as u64, quiet);
    let mut stop_reason: Option<String> = None;
    let ramp_start = Instant::now();
    let mut last_open = 0;
    let mut last_growth = Instant::now();
    let mut peak = 0u64;
    let mut min_available = base.available;
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let t = sum(&workers);
        let m = sys::meminfo();
        min_available = min_available.min(m.available);
        peak = peak.max(t.open);
        p.set(t.open, &format!("failed {} dead {} free {:.1} GiB", t.failed, t.dead, m.available as f64 / 1073741824.0));
        if t.open > last_open {
            last_open = t.open;
            last_growth = Instant::now();
        }
        if (m.available as f64) < min_free * 1073741824.0 {
            stop_reason = Some(format!("memory guard: MemAvailable {:.1} GiB fell below --min-free-gib {min_free}", m.available as f64 / 1073741824.0));
        } else if t.done && t.connecting == 0 {
            if t.open as usize >= n {
                stop_reason = Some("target reached".into());
            } else {
                stop_reason = Some("clients stopped opening (see errors)".into());
            }
        } else if last_growth.elapsed() > Duration::from_secs(20) {
            stop_reason = Some("no growth for 20 s (see errors)".into());
        } else if ramp_start.elapsed().as_secs_f64() > max_secs {
            stop_reason = Some(format!("--max-seconds {max_secs} reached"));
        }
        if stop_reason.is_some() {
            break;
        }
    }
    for w in &mut workers {
        w.send("stop");
    }
    let ramp_secs = ramp_start.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(1000));
    let t_ramp = sum(&workers);
    p.finish(t_ramp.open, stop_reason.as_deref().unwrap_or(""));
    let at_peak = snap(&servers, &workers);
    let held = t_ramp.open.max(1);

    // Hold with pings.
    let mut p = Progress::new("holding", (hold_secs * 1000.0) as u64, quiet);
    let h0 = Instant::now();
    let (pings0, pongs0) = (t_ramp.pings, t_ramp.pongs); // the ping histogram was reset at `stop`
    let scpu0: f64 = servers.iter().map(|s| sys::cpu_seconds(s.pid())).sum();
    while h0.elapsed().as_secs_f64() < hold_secs {
        std::thread::sleep(Duration::from_millis(250));
        let t = sum(&workers);
        let m = sys::meminfo();
        min_available = min_available.min(m.available);
        p.set(h0.elapsed().as_millis() as u64, &format!("alive {} dead {} pongs {}", t.open, t.dead, t.pongs - pongs0));
        if (m.available as f64) < (min_free / 2.0) * 1073741824.0 {
            stop_reason = Some(format!("{}; hold cut short: MemAvailable below half the guard", stop_reason.unwrap_or_default()));
            break;
        }
    }
    let hold_elapsed = h0.elapsed().as_secs_f64();
    let scpu: f64 = servers.iter().map(|s| sys::cpu_seconds(s.pid())).sum::<f64>() - scpu0;
    for w in &mut workers {
        w.send("report");
    }
    let wait = Instant::now();
    while wait.elapsed() < Duration::from_secs(5) && workers.iter().any(|w| w.st.lock().unwrap().reports == 0) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let t_end = sum(&workers);
    p.finish((hold_secs * 1000.0) as u64, &format!("alive {} dead {}", t_end.open, t_end.dead));
    let mut ping = Histogram::default();
    let mut hs = Histogram::default();
    let mut errors: std::collections::BTreeMap<String, u64> = Default::default();
    for w in &workers {
        let s = w.st.lock().unwrap();
        if let Some(h) = &s.ping {
            ping.merge(h);
        }
        if let Some(h) = &s.handshake {
            hs.merge(h);
        }
        for (k, v) in &s.errors {
            *errors.entry(k.clone()).or_insert(0) += v;
        }
    }
    let client_pids: Vec<u32> = workers.iter().map(|w| w.child.id()).collect();
    let server_fds: Vec<u64> = servers.iter().map(|s| sys::open_fds(s.pid())).collect();
    let client_fds_max = client_pids.iter().map(|&p| sys::open_fds(p)).max().unwrap_or(0);

    // Tear down: clients first (RST, no TIME_WAIT), then servers.
    let td = Instant::now();
    drop(workers);
    drop(servers);
    let teardown_secs = td.elapsed().as_secs_f64();

    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / held as f64;
    let server_user = per(at_peak.server_anon, base_servers.server_anon);
    let client_user = per(at_peak.client_anon, base_clients.client_anon);
    let kernel_pair_slab = per(at_peak.socket_slab, base.socket_slab);
    let kernel_pair_all = per(at_peak.slab, base.slab) + per(at_peak.sock_pages * limits.page_size, base.sock_pages * limits.page_size);
    let machine_per_pair = per(base.available, at_peak.available);
    let pl = ping.summary_us();
    let cmd = format!(
        "cargo run --release -p websock-bench -- hold --connections {n} --rate {rate} --ping-interval {ping_interval} --hold {hold_secs} --min-free-gib {min_free}"
    );
    let mut s = String::new();
    s += &format!("websock-bench hold — {} server processes (SO_REUSEPORT, {loops} loop each), {} client processes\n", servers_n, workers_n);
    s += &format!("  target {n}, reached {} concurrent connections in {ramp_secs:.1} s (stopped: {})\n", t_ramp.open, stop_reason.as_deref().unwrap_or("-"));
    s += &format!("  after {hold_elapsed:.0} s of holding: {} alive, {} dead, pings {} / pongs {} (p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs)\n", t_end.open, t_end.dead, t_end.pings - pings0, t_end.pongs - pongs0, pl.p50, pl.p99, pl.max);
    s += &format!("  per connection: server user space {server_user:.0} B, client user space {client_user:.0} B\n");
    s += &format!("  kernel per connection pair (both sockets, loopback): {kernel_pair_slab:.0} B in socket slab caches, {kernel_pair_all:.0} B in all slabs + buffers\n");
    s += &format!("  machine memory used per connection (MemAvailable drop, everything): {machine_per_pair:.0} B\n");
    s += &format!("  server CPU while holding: {:.2} s over {hold_elapsed:.0} s; handshake p99 {:.1} ms; teardown {teardown_secs:.1} s\n", scpu, hs.summary_us().p99 / 1000.0);
    s += &format!("  server fds: max {} per process; client fds: max {client_fds_max}; free memory low-water {:.1} GiB\n", server_fds.iter().max().unwrap_or(&0), min_available as f64 / 1073741824.0);
    if !errors.is_empty() {
        s += &format!("  errors: {errors:?}\n");
    }
    s += &format!("  command: {cmd}\n");
    let j = Json::obj()
        .set("mode", "hold")
        .set("target_connections", n)
        .set("reached_connections", t_ramp.open)
        .set("peak_connections", peak.max(t_ramp.open))
        .set("alive_after_hold", t_end.open)
        .set("dead", t_end.dead)
        .set("failed", t_end.failed)
        .set("stop_reason", stop_reason.clone())
        .set("server_processes", servers_n)
        .set("client_processes", workers_n)
        .set("ramp_seconds", ramp_secs)
        .set("hold_seconds", hold_elapsed)
        .set("server_user_bytes_per_connection", server_user)
        .set("client_user_bytes_per_connection", client_user)
        .set("kernel_socket_slab_bytes_per_pair", kernel_pair_slab)
        .set("kernel_all_slab_bytes_per_pair", kernel_pair_all)
        .set("machine_bytes_per_connection", machine_per_pair)
        .set("ping", Json::obj().set("sent", t_end.pings - pings0).set("pongs", t_end.pongs - pongs0).set("latency", latency_json(&pl)))
        .set("handshake_latency", latency_json(&hs.summary_us()))
        .set("server_cpu_seconds_holding", scpu)
        .set("server_fds", server_fds)
        .set("min_mem_available", min_available)
        .set("errors", Json::Obj(errors.iter().map(|(k, v)| (k.clone(), Json::Int(*v as i128))).collect()))
        .set("sysctls_writable", limits.sysctls_writable)
        .set("command", cmd)
        .set("seconds", t_start.elapsed().as_secs_f64())
        .set("summary", s);
    let _ = std::fs::create_dir_all(&out_dir);
    let _ = std::fs::write(format!("{out_dir}/hold.json"), j.pretty() + "\n");
    Ok(j)
}
