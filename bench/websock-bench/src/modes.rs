//! The single-process load modes: `echo` (throughput and round-trip latency), `connect`
//! (handshake rate), `fanout` (one publisher, N subscribers, delivery rate and latency).
//! Each runs against `--url` or, by default, a websock server child started here, whose
//! CPU time is read around the measured window to give CPU per message. All are bounded
//! by `--duration` and by their connection counts.

use std::time::{Duration, Instant};

use crate::args::Args;
use crate::client::{loopback_sources, Config, Engine, Role, Target};
use crate::report::{latency_json, Json, Progress};
use crate::server::{ServeOpts, ServerProc};
use crate::stats::LatencySummary;
use crate::sys;

/// The server under test and how to reach it.
pub struct Setup {
    pub target: Target,
    pub server: Option<ServerProc>,
    pub src_ips: Vec<std::net::IpAddr>,
}

impl Setup {
    /// From `--url`, else a fresh websock child server; loopback targets get `--sources`
    /// source addresses (127.0.0.1 onwards).
    pub fn from_args(a: &mut Args) -> Result<Setup, String> {
        let loops = a.num("server-loops", 0usize);
        let sources = a.num("sources", 16u32);
        let (target, server) = match a.opt("url") {
            Some(u) => (Target::parse(&u)?, None),
            None => {
                let o = ServeOpts { loops, ..Default::default() };
                let s = ServerProc::spawn(&o).map_err(|e| format!("starting the embedded server: {e}"))?;
                (Target::parse(&format!("ws://127.0.0.1:{}/echo", s.port))?, Some(s))
            }
        };
        let src_ips = if target.addr.ip().is_loopback() && target.addr.is_ipv4() { loopback_sources(0, sources.max(1)) } else { Vec::new() };
        Ok(Setup { target, server, src_ips })
    }

    pub fn server_pid(&self) -> Option<u32> {
        self.server.as_ref().map(|s| s.pid())
    }

    pub fn server_cpu(&self) -> f64 {
        self.server_pid().map(sys::cpu_seconds).unwrap_or(0.0)
    }

    pub fn config(&self) -> Config {
        Config { src_ips: self.src_ips.clone(), ..Default::default() }
    }
}

/// Opens `n` connections of a role, at most `batch` handshakes in flight; returns how
/// many are open when done (or when `limit` passed).
pub fn open_many(e: &mut Engine, role: Role, n: usize, batch: usize, limit: Duration, mut p: Option<&mut Progress>) -> usize {
    let deadline = Instant::now() + limit;
    let start_open = e.c.open as usize;
    let mut started = 0;
    let mut consecutive_errors = 0;
    while Instant::now() < deadline {
        while started < n && (e.c.connecting as usize) < batch {
            match e.open(role) {
                Ok(_) => {
                    started += 1;
                    consecutive_errors = 0;
                }
                Err(_) => {
                    consecutive_errors += 1;
                    break;
                }
            }
        }
        if consecutive_errors > 100 {
            break;
        }
        if let Some(p) = p.as_deref_mut() {
            p.set(e.c.open.saturating_sub(start_open as u64), &format!("failed {}", e.c.failed));
        }
        if started >= n && e.c.connecting == 0 {
            break;
        }
        e.turn(Duration::from_millis(20));
        e.sweep();
    }
    (e.c.open as usize).saturating_sub(start_open)
}

#[derive(Debug, Clone, Default)]
pub struct EchoResult {
    pub connections: usize,
    pub secs: f64,
    pub msgs: u64,
    pub bytes: u64,
    pub msg_per_s: f64,
    pub mb_per_s: f64,
    pub latency: LatencySummary,
    /// Server CPU seconds per echoed message (None without a server child).
    pub server_cpu_per_msg: Option<f64>,
    pub client_cpu_per_msg: f64,
    pub failed: u64,
    pub errors: Vec<(String, u64)>,
    /// Highest /proc/net/sockstat TCP "mem" (pages) seen during the window.
    pub sock_mem_pages_max: u64,
    /// The same just before the connections were opened.
    pub sock_mem_pages_base: u64,
}

impl EchoResult {
    pub fn json(&self) -> Json {
        Json::obj()
            .set("connections", self.connections)
            .set("seconds", self.secs)
            .set("messages", self.msgs)
            .set("bytes", self.bytes)
            .set("msg_per_s", self.msg_per_s)
            .set("mb_per_s", self.mb_per_s)
            .set("latency", latency_json(&self.latency))
            .set("server_cpu_us_per_msg", self.server_cpu_per_msg.map(|c| c * 1e6))
            .set("client_cpu_us_per_msg", self.client_cpu_per_msg * 1e6)
            .set("failed", self.failed)
            .set("errors", errors_json(&self.errors))
    }
}

pub fn errors_json(e: &[(String, u64)]) -> Json {
    Json::Obj(e.iter().map(|(k, v)| (k.clone(), Json::Int(*v as i128))).collect())
}

/// Runs echo traffic: `conns` connections, `inflight` messages outstanding on each.
pub fn run_echo(s: &Setup, conns: usize, inflight: usize, size: usize, binary: bool, duration: Duration, quiet: bool) -> EchoResult {
    let cfg = Config { size, binary, inflight, ..s.config() };
    let Ok(mut e) = Engine::new(s.target.clone(), cfg) else { return EchoResult::default() };
    let sock_mem_pages_base = sys::sockstat_tcp().1;
    e.running = true;
    let mut p = Progress::new(&format!("echo {conns} conns"), conns as u64, quiet);
    let opened = open_many(&mut e, Role::Echo, conns, 512, Duration::from_secs(20), None);
    // Warm up, then measure a clean window.
    let warm = Instant::now() + duration.mul_f64(0.2).min(Duration::from_secs(1));
    e.run_until(warm, |_| false);
    let (m0, b0) = (e.c.msgs_recv, e.c.bytes_recv);
    e.latency = Default::default();
    let (scpu0, ccpu0) = (s.server_cpu(), sys::self_cpu_seconds());
    let t0 = Instant::now();
    let end = t0 + duration;
    let mut sock_mem_pages_max = 0;
    while Instant::now() < end {
        e.run_until((Instant::now() + Duration::from_millis(100)).min(end), |_| false);
        sock_mem_pages_max = sock_mem_pages_max.max(sys::sockstat_tcp().1);
        let el = t0.elapsed().as_secs_f64();
        p.set((el / duration.as_secs_f64() * conns as f64) as u64, &format!("{:.0} msg/s", (e.c.msgs_recv - m0) as f64 / el.max(1e-9)));
    }
    let secs = t0.elapsed().as_secs_f64();
    let msgs = e.c.msgs_recv - m0;
    let bytes = e.c.bytes_recv - b0;
    let (scpu1, ccpu1) = (s.server_cpu(), sys::self_cpu_seconds());
    e.running = false;
    e.run_until(Instant::now() + Duration::from_millis(100), |_| false);
    e.close_all();
    let r = EchoResult {
        connections: opened,
        secs,
        msgs,
        bytes,
        msg_per_s: msgs as f64 / secs,
        mb_per_s: bytes as f64 / secs / 1e6,
        latency: e.latency.summary_us(),
        server_cpu_per_msg: s.server.as_ref().map(|_| if msgs > 0 { (scpu1 - scpu0) / msgs as f64 } else { 0.0 }),
        client_cpu_per_msg: if msgs > 0 { (ccpu1 - ccpu0) / msgs as f64 } else { 0.0 },
        failed: e.c.failed,
        errors: e.c.errors.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        sock_mem_pages_max,
        sock_mem_pages_base,
    };
    p.finish(conns as u64, &format!("{:.0} msg/s p99 {:.0} µs", r.msg_per_s, r.latency.p99));
    r
}

pub fn echo_main(a: &mut Args) -> Result<Json, String> {
    let conns = a.num("connections", 64usize).clamp(1, 19_000);
    let inflight = a.num("inflight", 1usize).clamp(1, 1024);
    let size = a.num("size", 64usize).clamp(16, 16 << 20);
    let binary = a.str("type", "text") == "binary";
    let duration = Duration::from_secs_f64(a.num("duration", 5.0f64).clamp(0.2, 600.0));
    let quiet = a.flag("json");
    let s = Setup::from_args(a)?;
    a.check()?;
    let r = run_echo(&s, conns, inflight, size, binary, duration, quiet);
    if r.connections == 0 {
        return Err(format!("no connection could be opened to {}: {:?}", s.target.addr, r.errors));
    }
    Ok(Json::obj()
        .set("mode", "echo")
        .set("target", format!("ws://{}{}", s.target.host, s.target.path))
        .set("inflight", inflight)
        .set("size", size)
        .set("type", if binary { "binary" } else { "text" })
        .set("result", r.json()))
}

pub fn connect_main(a: &mut Args) -> Result<Json, String> {
    let conc = a.num("concurrency", 64usize).clamp(1, 10_000);
    let duration = Duration::from_secs_f64(a.num("duration", 5.0f64).clamp(0.2, 600.0));
    let quiet = a.flag("json");
    let s = Setup::from_args(a)?;
    a.check()?;
    let mut e = Engine::new(s.target.clone(), s.config()).map_err(|x| x.to_string())?;
    let mut p = Progress::new("connect", duration.as_millis() as u64, quiet);
    let scpu0 = s.server_cpu();
    let t0 = Instant::now();
    let end = t0 + duration;
    let mut last_sweep = Instant::now();
    while Instant::now() < end {
        while (e.c.connecting as usize) < conc {
            if e.open(Role::Connect).is_err() {
                break;
            }
        }
        e.turn(Duration::from_millis(10));
        if last_sweep.elapsed() > Duration::from_millis(500) {
            e.sweep();
            last_sweep = Instant::now();
        }
        p.set(t0.elapsed().as_millis() as u64, &format!("{} handshakes", e.c.opened));
    }
    let secs = t0.elapsed().as_secs_f64();
    let done = e.c.opened;
    let scpu = s.server_cpu() - scpu0;
    e.close_all();
    p.finish(duration.as_millis() as u64, &format!("{:.0} handshakes/s", done as f64 / secs));
    Ok(Json::obj()
        .set("mode", "connect")
        .set("target", format!("ws://{}{}", s.target.host, s.target.path))
        .set("concurrency", conc)
        .set("seconds", secs)
        .set("handshakes", done)
        .set("handshakes_per_s", done as f64 / secs)
        .set("handshake_latency", latency_json(&e.handshake.summary_us()))
        .set("server_cpu_us_per_handshake", s.server.as_ref().map(|_| scpu / done.max(1) as f64 * 1e6))
        .set("failed", e.c.failed)
        .set("errors", errors_json(&e.c.errors.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>())))
}

pub fn fanout_main(a: &mut Args) -> Result<Json, String> {
    let subs = a.num("subscribers", 1000usize).clamp(1, 19_000);
    let size = a.num("size", 64usize).clamp(32, 1 << 20);
    let binary = a.str("type", "text") == "binary";
    let rate = a.num("rate", 0.0f64); // publishes per second; 0 = next after full delivery
    let duration = Duration::from_secs_f64(a.num("duration", 5.0f64).clamp(0.2, 600.0));
    let quiet = a.flag("json");
    let s = Setup::from_args(a)?;
    a.check()?;
    let mut e = Engine::new(s.target.clone(), s.config()).map_err(|x| x.to_string())?;
    let mut p = Progress::new("subscribers", subs as u64, quiet);
    let got = open_many(&mut e, Role::Sub, subs, 512, Duration::from_secs(30), Some(&mut p));
    p.finish(got as u64, "");
    let pub_slot = e.open(Role::Pub).map_err(|x| x.to_string())?;
    e.run_until(Instant::now() + Duration::from_secs(5), |e| !e.open_slots(Role::Pub).is_empty());
    if got == 0 || e.open_slots(Role::Pub).is_empty() {
        return Err(format!("could not open subscribers/publisher: {:?}", e.c.errors));
    }
    // Let the server finish tagging every subscriber before the first publish.
    e.run_until(Instant::now() + Duration::from_millis(200), |_| false);
    let mut p = Progress::new("fanout", duration.as_millis() as u64, quiet);
    let scpu0 = s.server_cpu();
    let t0 = Instant::now();
    let end = t0 + duration;
    let mut seq = 0u64;
    let mut sent_at = Instant::now();
    while Instant::now() < end {
        let due = if rate > 0.0 {
            t0.elapsed().as_secs_f64() * rate >= seq as f64
        } else {
            e.c.deliveries >= seq * got as u64 || sent_at.elapsed() > Duration::from_secs(1)
        };
        if due {
            e.publish(pub_slot, seq, size, binary);
            seq += 1;
            sent_at = Instant::now();
        }
        e.turn(if rate > 0.0 { Duration::from_micros(200) } else { Duration::from_millis(5) });
        p.set(t0.elapsed().as_millis() as u64, &format!("{} deliveries", e.c.deliveries));
    }
    // Give the last publishes a moment to arrive.
    let expected = seq * got as u64;
    e.run_until(Instant::now() + Duration::from_secs(2), |e| e.c.deliveries >= expected);
    let secs = t0.elapsed().as_secs_f64();
    let scpu = s.server_cpu() - scpu0;
    p.finish(duration.as_millis() as u64, &format!("{:.0} deliveries/s", e.c.deliveries as f64 / secs));
    let res = Json::obj()
        .set("mode", "fanout")
        .set("target", format!("ws://{}", s.target.host))
        .set("subscribers", got)
        .set("publishes", seq)
        .set("size", size)
        .set("seconds", secs)
        .set("deliveries", e.c.deliveries)
        .set("missing", expected.saturating_sub(e.c.deliveries))
        .set("out_of_order", e.c.out_of_order)
        .set("deliveries_per_s", e.c.deliveries as f64 / secs)
        .set("delivery_latency", latency_json(&e.latency.summary_us()))
        .set("server_cpu_us_per_delivery", s.server.as_ref().map(|_| scpu / e.c.deliveries.max(1) as f64 * 1e6))
        .set("errors", errors_json(&e.c.errors.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>()));
    e.close_all();
    Ok(res)
}

#[cfg(test)]
mod tests {
    //! Real runs against a websock server started in this test process.
    use super::*;
    use crate::server::start_in_process;

    fn setup() -> (websock::Server, Setup) {
        let srv = start_in_process(&ServeOpts { loops: 1, ..Default::default() }).unwrap();
        let target = Target::parse(&format!("ws://127.0.0.1:{}/echo", srv.local_addr().port())).unwrap();
        let src_ips = loopback_sources(0, 2);
        (srv, Setup { target, server: None, src_ips })
    }

    #[test]
    fn echo_round_trips_against_embedded_server() {
        let (srv, s) = setup();
        let r = run_echo(&s, 8, 4, 100, true, Duration::from_millis(500), true);
        assert_eq!(r.connections, 8);
        assert!(r.msgs > 100, "only {} messages", r.msgs);
        assert_eq!(r.bytes, r.msgs * 100, "every echo carries the 100-byte payload");
        assert!(r.latency.count > 0 && r.latency.p50 > 0.0 && r.latency.p99 >= r.latency.p50);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert!(srv.stats().total.messages_in >= r.msgs);
        srv.shutdown(Duration::from_secs(1));
    }

    #[test]
    fn idle_connections_answer_pings_and_count_opens() {
        let (srv, s) = setup();
        let mut e = Engine::new(s.target.clone(), s.config()).unwrap();
        let n = open_many(&mut e, Role::Idle, 300, 64, Duration::from_secs(10), None);
        assert_eq!(n, 300);
        assert!(e.run_until(Instant::now() + Duration::from_secs(5), |_| srv.stats().total.connections == 300));
        assert_eq!(e.ping_some(1000), 300, "each open connection is pinged once per round");
        assert!(e.run_until(Instant::now() + Duration::from_secs(5), |e| e.c.pongs == 300));
        assert_eq!(e.ping.count, 300);
        assert_eq!(e.handshake.count, 300);
        e.close_all();
        assert_eq!(e.c.open, 0);
        assert!(e.run_until(Instant::now() + Duration::from_secs(5), |_| srv.stats().total.connections == 0));
        assert_eq!(e.c.dead, 0);
        srv.shutdown(Duration::from_secs(1));
    }

    #[test]
    fn server_close_and_refused_connects_are_counted() {
        let (srv, s) = setup();
        let mut e = Engine::new(s.target.clone(), s.config()).unwrap();
        assert_eq!(open_many(&mut e, Role::Idle, 5, 8, Duration::from_secs(5), None), 5);
        srv.shutdown(Duration::from_secs(2));
        assert!(e.run_until(Instant::now() + Duration::from_secs(5), |e| e.c.dead == 5));
        assert_eq!(e.c.errors.get("closed by server: 1001"), Some(&5));
        // Nothing listens now: connects fail and are counted, none open.
        let _ = open_many(&mut e, Role::Idle, 3, 8, Duration::from_secs(5), None);
        assert_eq!(e.c.open, 0);
        assert_eq!(e.c.failed, 3, "{:?}", e.c.errors);
    }

    #[test]
    fn fanout_delivers_every_publish_in_order() {
        let (srv, s) = setup();
        let mut e = Engine::new(s.target.clone(), s.config()).unwrap();
        assert_eq!(open_many(&mut e, Role::Sub, 50, 64, Duration::from_secs(10), None), 50);
        let p = e.open(Role::Pub).unwrap();
        assert!(e.run_until(Instant::now() + Duration::from_secs(5), |e| !e.open_slots(Role::Pub).is_empty()));
        assert!(e.run_until(Instant::now() + Duration::from_secs(5), |_| srv.count_by_tag("all") == 50));
        for seq in 0..20 {
            e.publish(p, seq, 64, false);
        }
        assert!(e.run_until(Instant::now() + Duration::from_secs(5), |e| e.c.deliveries == 1000));
        assert_eq!(e.c.out_of_order, 0);
        assert_eq!(e.latency.count, 1000);
        srv.shutdown(Duration::from_secs(1));
    }

    #[test]
    fn connect_role_completes_handshakes() {
        let (srv, s) = setup();
        let mut e = Engine::new(s.target.clone(), s.config()).unwrap();
        for _ in 0..20 {
            e.open(Role::Connect).unwrap();
        }
        assert!(e.run_until(Instant::now() + Duration::from_secs(5), |e| e.c.opened == 20 && e.c.connecting == 0));
        assert_eq!(e.c.open, 0, "probes close as soon as they are open");
        assert_eq!(e.handshake.count, 20);
        srv.shutdown(Duration::from_secs(1));
    }
}
