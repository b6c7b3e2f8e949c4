//! `recommend`: measure, read the limits, and compute the maximum connections.
//!
//! Measuring: idle connections are ramped in stages against the server (a websock child
//! by default); at each stage the server's RssAnon, the socket slab caches and
//! /proc/net/sockstat are read, and least-squares slopes over the stages give bytes per
//! connection with the fixed baseline cancelled. Then every connection is pinged (ping
//! latency, CPU per ping), and echo traffic is run at growing connection counts
//! (throughput, latency, server CPU per message, the latency knee).
//!
//! Computing (`compute`, pure, unit-tested): every limit becomes a connection count it
//! allows; the smallest one that applies to a server is the recommendation and names the
//! binding limit; the rest say how far each further limit would let it go, and with what
//! change.

use std::time::{Duration, Instant};

use crate::args::Args;
use crate::client::{Engine, Role};
use crate::modes::{open_many, run_echo, EchoResult, Setup};
use crate::report::{latency_json, svg, Json, Panel, Progress, Series};
use crate::stats::{slope, LatencySummary};
use crate::sys::{self, Limits};

/// Descriptors a server process keeps for itself (stdio, epoll, wakers, listener, files).
pub const FD_RESERVE: u64 = 32;
/// Share of available memory connections may take.
pub const MEM_SHARE: f64 = 0.9;
/// Share of the CPUs message handling may take.
pub const CPU_SHARE: f64 = 0.8;

/// What `compute` works from.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub limits: Limits,
    /// Server user-space bytes per idle connection.
    pub user_bytes: f64,
    /// Kernel bytes per connection on the server side (one socket).
    pub kernel_bytes: f64,
    /// Kernel socket-buffer bytes per connection while carrying traffic.
    pub active_sock_bytes: f64,
    /// Server CPU seconds per message (one in, one out).
    pub cpu_per_msg: f64,
    /// Messages per second per connection for the active recommendation.
    pub msg_rate: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// Bounds idle and active connections of one server process.
    Process,
    /// Bounds the whole machine, idle and active.
    Machine,
    /// Bounds only connections carrying the given message rate.
    Active,
    /// Bounds only a load generator on this machine (clients, not the server).
    LoadGen,
    /// Not a bound on the total (reported for completeness).
    Note,
}

#[derive(Debug, Clone)]
pub struct Bound {
    pub name: String,
    pub max_connections: u64,
    pub applies: Applies,
    pub detail: String,
    pub fix: String,
}

#[derive(Debug, Clone)]
pub struct Recommendation {
    pub idle_max: u64,
    pub binding: String,
    pub active_max: u64,
    pub active_binding: String,
    /// With several processes on one port (SO_REUSEPORT) the per-process bounds fall away.
    pub multi_process_max: u64,
    pub multi_process_binding: String,
    pub processes_needed: u64,
    pub bounds: Vec<Bound>,
}

fn min_of<'a>(bounds: &'a [Bound], f: impl Fn(Applies) -> bool) -> Option<&'a Bound> {
    bounds.iter().filter(|b| f(b.applies)).min_by_key(|b| b.max_connections)
}

/// The recommendation arithmetic.
pub fn compute(i: &Inputs) -> Recommendation {
    let l = &i.limits;
    let mut b = Vec::new();
    let per_proc = l.nofile_hard.saturating_sub(FD_RESERVE);
    let per_conn_mem = (i.user_bytes + i.kernel_bytes).max(1.0);
    let mem_max = (l.mem_available as f64 * MEM_SHARE / per_conn_mem) as u64;
    let files_free = l.file_max.saturating_sub(l.files_allocated);
    let nr_open_max = l.nr_open.saturating_sub(FD_RESERVE);
    let cpu_max = if i.cpu_per_msg > 0.0 && i.msg_rate > 0.0 {
        (l.cpus as f64 * CPU_SHARE / (i.cpu_per_msg * i.msg_rate)) as u64
    } else {
        u64::MAX
    };
    // Whatever comes next once the per-process limit is out of the way.
    // (fs.nr_open caps one process only; several processes are bound by the machine.)
    let target_after_nofile = mem_max.min(files_free);

    b.push(Bound {
        name: "RLIMIT_NOFILE".into(),
        max_connections: per_proc,
        applies: Applies::Process,
        detail: format!(
            "open files per process: soft {} / hard {}; raising the hard limit here: {}",
            l.nofile_soft,
            l.nofile_hard,
            if l.nofile_hard_raisable { "allowed" } else { "not permitted (no CAP_SYS_RESOURCE)" }
        ),
        fix: if l.nofile_hard_raisable {
            format!(
                "ulimit -n {} (or LimitNOFILE={} in the systemd unit, nofile in /etc/security/limits.conf)",
                (target_after_nofile + FD_RESERVE).min(l.nr_open),
                (target_after_nofile + FD_RESERVE).min(l.nr_open)
            )
        } else {
            format!(
                "the hard limit cannot be raised here: run {} server processes on one port with SO_REUSEPORT \
                 (websock Builder::reuse_port(true); `websock-bench hold` does this); elsewhere: ulimit -n {}",
                target_after_nofile.div_ceil(per_proc.max(1)),
                (target_after_nofile + FD_RESERVE).min(l.nr_open)
            )
        },
    });
    b.push(Bound {
        name: "fs.nr_open".into(),
        max_connections: nr_open_max,
        applies: Applies::Process,
        detail: format!("ceiling of ulimit -n for any process: {}", l.nr_open),
        fix: format!("sysctl -w fs.nr_open={}", (mem_max + FD_RESERVE).max(l.nr_open)),
    });
    b.push(Bound {
        name: "fs.file-max".into(),
        max_connections: files_free,
        applies: Applies::Machine,
        detail: format!("open files on the whole machine: {} ({} in use)", l.file_max, l.files_allocated),
        fix: format!("sysctl -w fs.file-max={}", (mem_max + l.files_allocated) * 2),
    });
    b.push(Bound {
        name: "memory".into(),
        max_connections: mem_max,
        applies: Applies::Machine,
        detail: format!(
            "{:.0}% of {:.1} GiB available / {:.0} B per connection ({:.0} user space + {:.0} kernel)",
            MEM_SHARE * 100.0,
            l.mem_available as f64 / (1u64 << 30) as f64,
            per_conn_mem,
            i.user_bytes,
            i.kernel_bytes
        ),
        fix: "more RAM (nothing to tune: idle sockets hold no buffers)".into(),
    });
    let tcp_high = l.tcp_mem.2 * l.page_size;
    if i.active_sock_bytes > 0.0 && tcp_high > 0 {
        let m = (tcp_high as f64 / i.active_sock_bytes) as u64;
        b.push(Bound {
            name: "net.ipv4.tcp_mem".into(),
            max_connections: m,
            applies: Applies::Active,
            detail: format!(
                "socket buffers: high mark {} pages ({:.1} GiB) / {:.0} B buffered per busy connection",
                l.tcp_mem.2,
                tcp_high as f64 / (1u64 << 30) as f64,
                i.active_sock_bytes
            ),
            fix: {
                let pages = (l.mem_total / 2 / l.page_size.max(1)).max(l.tcp_mem.2);
                format!("sysctl -w net.ipv4.tcp_mem=\"{} {} {}\"", pages / 2, pages * 3 / 4, pages)
            },
        });
    }
    if cpu_max != u64::MAX {
        b.push(Bound {
            name: "cpu".into(),
            max_connections: cpu_max,
            applies: Applies::Active,
            detail: format!(
                "{} CPUs × {:.0}% / ({:.1} µs per message × {} msg/s per connection)",
                l.cpus,
                CPU_SHARE * 100.0,
                i.cpu_per_msg * 1e6,
                i.msg_rate
            ),
            fix: "more cores (websock runs one event loop per CPU), or fewer messages per connection".into(),
        });
    }
    match (l.conntrack_max, l.conntrack_count) {
        (Some(max), Some(count)) if count > 0 => b.push(Bound {
            name: "net.netfilter.nf_conntrack_max".into(),
            max_connections: max.saturating_sub(count),
            applies: Applies::Machine,
            detail: format!("connection tracking is active: {count} of {max} entries in use"),
            fix: format!("sysctl -w net.netfilter.nf_conntrack_max={}", mem_max.max(max)),
        }),
        (Some(max), _) => b.push(Bound {
            name: "net.netfilter.nf_conntrack_max".into(),
            max_connections: max,
            applies: Applies::Note,
            detail: format!("{max}, but nothing is being tracked now (no stateful firewall rule): not a bound"),
            fix: format!("only if a stateful firewall is added: sysctl -w net.netfilter.nf_conntrack_max={mem_max}"),
        }),
        _ => {}
    }
    let ports = l.port_range.1.saturating_sub(l.port_range.0) + 1;
    b.push(Bound {
        name: "net.ipv4.ip_local_port_range".into(),
        max_connections: ports,
        applies: Applies::LoadGen,
        detail: format!(
            "{}-{}: {ports} client ports per (source address, server address:port); bounds load \
             generators on this machine, not a server (websock-bench uses many 127.0.0.x sources)",
            l.port_range.0, l.port_range.1
        ),
        fix: "sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\", or more source addresses".into(),
    });
    b.push(Bound {
        name: "net.core.somaxconn".into(),
        max_connections: l.somaxconn,
        applies: Applies::Note,
        detail: format!("accept backlog {}: bounds a burst of simultaneous connects, not the total", l.somaxconn),
        fix: "sysctl -w net.core.somaxconn=65535 (and net.ipv4.tcp_max_syn_backlog=65535) for large reconnect storms".into(),
    });

    let idle = min_of(&b, |a| matches!(a, Applies::Process | Applies::Machine)).unwrap();
    let active = min_of(&b, |a| matches!(a, Applies::Process | Applies::Machine | Applies::Active)).unwrap();
    let multi = min_of(&b, |a| matches!(a, Applies::Machine)).unwrap();
    let mut bounds = b.clone();
    bounds.sort_by_key(|x| (matches!(x.applies, Applies::Note | Applies::LoadGen), x.max_connections));
    Recommendation {
        idle_max: idle.max_connections,
        binding: idle.name.clone(),
        active_max: active.max_connections,
        active_binding: active.name.clone(),
        multi_process_max: multi.max_connections,
        multi_process_binding: multi.name.clone(),
        processes_needed: multi.max_connections.div_ceil(per_proc.max(1)),
        bounds,
    }
}

/// One idle stage's readings.
#[derive(Debug, Clone, Default)]
pub struct IdleStage {
    pub connections: u64,
    pub server_rss: u64,
    pub server_anon: u64,
    pub client_anon: u64,
    pub socket_slab: u64,
    pub slab: u64,
    pub sock_mem_pages: u64,
    pub available: u64,
}

fn idle_reading(n: u64, server_pid: Option<u32>) -> IdleStage {
    let (rss, anon) = server_pid.map(sys::rss).unwrap_or((0, 0));
    let m = sys::meminfo();
    IdleStage {
        connections: n,
        server_rss: rss,
        server_anon: anon,
        client_anon: sys::rss(std::process::id()).1,
        socket_slab: sys::socket_slab_bytes(),
        slab: m.slab,
        sock_mem_pages: sys::sockstat_tcp().1,
        available: m.available,
    }
}

pub fn recommend_main(a: &mut Args) -> Result<Json, String> {
    let quick = a.flag("quick");
    let quiet = a.flag("json");
    let msg_rate = a.num("msg-rate", 1.0f64);
    let msg_size = a.num("msg-size", 64usize).clamp(16, 1 << 20);
    let out_dir = a.str("out", "target/websock-bench");
    let stages = a.list("stages", if quick { &[2000, 6000, 10000, 14000] } else { &[2000, 5000, 10000, 15000, 19000] });
    let echo_conns = a.list("echo-connections", if quick { &[1, 8, 64, 512] } else { &[1, 4, 16, 64, 256, 1024] });
    let echo_secs = a.num("echo-seconds", if quick { 1.5f64 } else { 4.0 });
    let ping_secs = a.num("ping-seconds", if quick { 2.0f64 } else { 5.0 });
    let setup = Setup::from_args(a)?;
    a.check()?;
    let t_start = Instant::now();
    let limits = sys::limits();
    let spid = setup.server_pid();

    // --- idle ramp ---
    let mut e = Engine::new(setup.target.clone(), setup.config()).map_err(|x| x.to_string())?;
    let max_stage = *stages.iter().max().unwrap_or(&0) as u64;
    let mut p = Progress::new("idle ramp", max_stage, quiet);
    std::thread::sleep(Duration::from_millis(200));
    let mut idle = vec![idle_reading(0, spid)];
    let mut stop_reason = None;
    for &st in &stages {
        let want = st.saturating_sub(e.c.open as usize);
        let got = open_many(&mut e, Role::Idle, want, 1024, Duration::from_secs(30), Some(&mut p));
        // Let the server's loops finish their turns and publish state.
        e.run_until(Instant::now() + Duration::from_millis(300), |_| false);
        if got < want {
            stop_reason = Some(format!("stage {st}: opened {got} of {want}: {:?}", e.c.errors));
        }
        idle.push(idle_reading(e.c.open, spid));
        p.set(e.c.open, "");
        if stop_reason.is_some() {
            break;
        }
    }
    p.finish(e.c.open, &format!("{} failed", e.c.failed));
    let pts = |f: &dyn Fn(&IdleStage) -> u64| -> Vec<(f64, f64)> { idle.iter().map(|s| (s.connections as f64, f(s) as f64)).collect() };
    let user_bytes = slope(&pts(&|s| s.server_anon)).unwrap_or(0.0).max(0.0);
    let client_bytes = slope(&pts(&|s| s.client_anon)).unwrap_or(0.0).max(0.0);
    let socket_slab_pair = slope(&pts(&|s| s.socket_slab)).unwrap_or(0.0).max(0.0);
    let slab_pair = slope(&pts(&|s| s.slab)).unwrap_or(0.0);
    let sock_mem_pair = slope(&pts(&|s| s.sock_mem_pages)).unwrap_or(0.0).max(0.0) * limits.page_size as f64;
    // Both ends of every loopback connection are on this machine: the kernel figure per
    // server-side socket is half the pair's. All of Slab catches allocations the named
    // caches miss (dentries, kmalloc), but other programs move it too, so it is used
    // only when it is the larger and the named caches are the floor.
    let kernel_pair = socket_slab_pair.max(slab_pair) + sock_mem_pair;
    let kernel_bytes = kernel_pair / 2.0;

    // --- pinging ---
    let held = e.c.open;
    let mut p = Progress::new("ping all", held, quiet);
    let scpu0 = setup.server_cpu();
    let t0 = Instant::now();
    let pdur = Duration::from_secs_f64(ping_secs.max(0.2));
    let mut pinged = 0u64;
    while t0.elapsed() < pdur {
        // Paced by elapsed time: every held connection gets one ping over the window.
        let due = ((t0.elapsed().as_secs_f64() / pdur.as_secs_f64()) * held as f64) as u64;
        pinged += e.ping_some(due.saturating_sub(pinged) as usize) as u64;
        e.run_until(Instant::now() + Duration::from_millis(10), |_| false);
        p.set(pinged.min(held), &format!("{} pongs", e.c.pongs));
    }
    pinged += e.ping_some(held.saturating_sub(pinged) as usize) as u64;
    let sent = e.c.pings_sent;
    e.run_until(Instant::now() + Duration::from_secs(2), |e| e.c.pongs >= sent);
    let ping_cpu = (setup.server_cpu() - scpu0) / e.c.pongs.max(1) as f64;
    let ping_lat = e.ping.summary_us();
    let (pings, pongs, dead) = (e.c.pings_sent, e.c.pongs, e.c.dead);
    p.finish(pinged.min(held), &format!("p99 {:.0} µs", ping_lat.p99));
    e.close_all();
    drop(e);
    std::thread::sleep(Duration::from_millis(300));

    // --- active ---
    let mut echo: Vec<EchoResult> = Vec::new();
    for &c in &echo_conns {
        let r = run_echo(&setup, c, 1, msg_size, false, Duration::from_secs_f64(echo_secs), quiet);
        echo.push(r);
    }
    let best = echo.iter().map(|r| r.msg_per_s).fold(0.0, f64::max);
    let knee = echo.iter().find(|r| r.msg_per_s >= 0.9 * best).cloned();
    let mut cpus: Vec<f64> = echo.iter().filter_map(|r| r.server_cpu_per_msg).filter(|c| *c > 0.0).collect();
    cpus.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let cpu_per_msg = cpus.get(cpus.len() / 2).copied().unwrap_or(0.0);
    // Socket buffers under traffic, per connection and server-side socket, from the
    // stage with the most connections (the smaller ones drown in other programs' noise).
    let active_sock_bytes = echo
        .iter()
        .filter(|r| r.connections > 0)
        .max_by_key(|r| r.connections)
        .map(|r| r.sock_mem_pages_max.saturating_sub(r.sock_mem_pages_base) as f64 * limits.page_size as f64 / r.connections as f64 / 2.0)
        .unwrap_or(0.0);
    let inputs = Inputs { limits: limits.clone(), user_bytes, kernel_bytes, active_sock_bytes, cpu_per_msg, msg_rate };
    let rec = compute(&inputs);

    // --- chart and files ---
    let panels = vec![
        Panel {
            title: format!("echo, {msg_size} B text, 1 in flight per connection"),
            x_label: "connections".into(),
            left_label: "messages/s".into(),
            right_label: "latency µs".into(),
            log_x: true,
            series: vec![
                Series { name: "msg/s".into(), color: "#1f77b4", points: echo.iter().map(|r| (r.connections as f64, r.msg_per_s)).collect(), right: false },
                Series { name: "p50 latency (µs)".into(), color: "#2ca02c", points: echo.iter().map(|r| (r.connections as f64, r.latency.p50)).collect(), right: true },
                Series { name: "p99 latency (µs)".into(), color: "#d62728", points: echo.iter().map(|r| (r.connections as f64, r.latency.p99)).collect(), right: true },
            ],
        },
        Panel {
            title: "memory against idle connections".into(),
            x_label: "idle connections".into(),
            left_label: "MiB".into(),
            right_label: String::new(),
            log_x: false,
            series: vec![
                Series { name: "server user space (RssAnon)".into(), color: "#1f77b4", points: idle.iter().map(|s| (s.connections as f64, s.server_anon.saturating_sub(idle[0].server_anon) as f64 / 1048576.0)).collect(), right: false },
                Series { name: "kernel socket slabs (both ends)".into(), color: "#ff7f0e", points: idle.iter().map(|s| (s.connections as f64, s.socket_slab.saturating_sub(idle[0].socket_slab) as f64 / 1048576.0)).collect(), right: false },
                Series { name: "client user space (RssAnon)".into(), color: "#9467bd", points: idle.iter().map(|s| (s.connections as f64, s.client_anon.saturating_sub(idle[0].client_anon) as f64 / 1048576.0)).collect(), right: false },
            ],
        },
    ];
    let _ = std::fs::create_dir_all(&out_dir);
    let svg_path = format!("{out_dir}/recommend.svg");
    let json_path = format!("{out_dir}/recommend.json");
    let svg_ok = std::fs::write(&svg_path, svg("websock-bench recommend", &panels)).is_ok();

    let bounds_json: Vec<Json> = rec
        .bounds
        .iter()
        .map(|b| {
            Json::obj()
                .set("limit", b.name.clone())
                .set("max_connections", b.max_connections)
                .set("applies_to", format!("{:?}", b.applies).to_lowercase())
                .set("detail", b.detail.clone())
                .set("fix", b.fix.clone())
        })
        .collect();
    let summary = human(&rec, &inputs, &idle, client_bytes, &ping_lat, pings, pongs, dead, &echo, knee.as_ref(), &limits, stop_reason.as_deref(), &svg_path, &json_path);
    let j = Json::obj()
        .set("recommended_max_connections", rec.idle_max)
        .set("binding_limit", format!("{} ({})", rec.binding, rec.bounds.iter().find(|b| b.name == rec.binding).map(|b| b.detail.clone()).unwrap_or_default()))
        .set("binding_limit_name", rec.binding.clone())
        .set("bytes_per_idle_connection", user_bytes + kernel_bytes)
        .set("user_bytes_per_idle_connection", user_bytes)
        .set("kernel_bytes_per_idle_connection", kernel_bytes)
        .set("kernel_bytes_per_loopback_pair", kernel_pair)
        .set("kernel_all_slab_bytes_per_pair", slab_pair)
        .set("client_user_bytes_per_connection", client_bytes)
        .set("recommended_max_connections_active", rec.active_max)
        .set("active_binding_limit", rec.active_binding.clone())
        .set("active_message_rate_per_connection", msg_rate)
        .set("active_message_size", msg_size)
        .set("multi_process_max_connections", rec.multi_process_max)
        .set("multi_process_binding_limit", rec.multi_process_binding.clone())
        .set("multi_process_servers_needed", rec.processes_needed)
        .set("limits", bounds_json)
        .set("sysctls_writable", limits.sysctls_writable)
        .set(
            "idle_stages",
            idle.iter()
                .map(|s| {
                    Json::obj()
                        .set("connections", s.connections)
                        .set("server_rss", s.server_rss)
                        .set("server_rss_anon", s.server_anon)
                        .set("client_rss_anon", s.client_anon)
                        .set("socket_slab_bytes", s.socket_slab)
                        .set("slab_bytes", s.slab)
                        .set("sockstat_mem_pages", s.sock_mem_pages)
                        .set("mem_available", s.available)
                })
                .collect::<Vec<_>>(),
        )
        .set("idle_ramp_stopped", stop_reason.clone())
        .set("ping", Json::obj().set("connections", held).set("pings", pings).set("pongs", pongs).set("dead", dead).set("latency", latency_json(&ping_lat)).set("server_cpu_us_per_ping", ping_cpu * 1e6))
        .set("echo_stages", echo.iter().map(|r| r.json()).collect::<Vec<_>>())
        .set("server_cpu_us_per_message", cpu_per_msg * 1e6)
        .set("latency_knee", knee.as_ref().map(|k| Json::obj().set("connections", k.connections).set("msg_per_s", k.msg_per_s).set("p99_us", k.latency.p99)))
        .set("chart_svg", if svg_ok { Json::Str(svg_path.clone()) } else { Json::Null })
        .set("json_file", json_path.clone())
        .set("seconds", t_start.elapsed().as_secs_f64())
        .set("target", format!("ws://{}{}", setup.target.host, setup.target.path))
        .set("summary", summary);
    let _ = std::fs::write(&json_path, j.pretty() + "\n");
    Ok(j)
}

#[allow(clippy::too_many_arguments)]
fn human(
    rec: &Recommendation,
    i: &Inputs,
    idle: &[IdleStage],
    client_bytes: f64,
    ping: &LatencySummary,
    pings: u64,
    pongs: u64,
    dead: u64,
    echo: &[EchoResult],
    knee: Option<&EchoResult>,
    l: &Limits,
    stopped: Option<&str>,
    svg_path: &str,
    json_path: &str,
) -> String {
    let mut s = String::new();
    let held = idle.last().map(|x| x.connections).unwrap_or(0);
    s += &format!("websock-bench recommend — {} CPUs, {:.1} GiB RAM ({:.1} GiB available)\n\n", l.cpus, l.mem_total as f64 / 1073741824.0, l.mem_available as f64 / 1073741824.0);
    s += &format!("Measured with up to {held} idle connections ({} stages):\n", idle.len() - 1);
    s += &format!("  server user space   {:>7.0} B per idle connection (RssAnon slope)\n", i.user_bytes);
    s += &format!("  kernel, server side {:>7.0} B per connection (socket slabs + buffers, half of a loopback pair)\n", i.kernel_bytes);
    s += &format!("  load client         {:>7.0} B per connection (this tool's own user space)\n", client_bytes);
    s += &format!("  pinging all {held}: {pongs}/{pings} pongs, p50 {:.0} µs, p99 {:.0} µs, {dead} dead\n", ping.p50, ping.p99);
    s += "  echo (1 in flight per connection):\n";
    for r in echo {
        s += &format!(
            "    {:>6} conns  {:>9.0} msg/s  p50 {:>7.0} µs  p99 {:>7.0} µs  server CPU {:>5.1} µs/msg\n",
            r.connections,
            r.msg_per_s,
            r.latency.p50,
            r.latency.p99,
            r.server_cpu_per_msg.unwrap_or(0.0) * 1e6
        );
    }
    if let Some(k) = knee {
        s += &format!("  latency knee: {} busy connections reach 90% of peak throughput ({:.0} msg/s, p99 {:.0} µs); beyond it latency grows, throughput does not\n", k.connections, k.msg_per_s, k.latency.p99);
    }
    if let Some(st) = stopped {
        s += &format!("  note: the idle ramp stopped early: {st}\n");
    }
    s += &format!("\nRECOMMENDED MAXIMUM: {} idle connections per server process — bound by {}\n", rec.idle_max, rec.binding);
    s += &format!("  at {} msg/s per connection: {} connections (bound by {})\n", i.msg_rate, rec.active_max, rec.active_binding);
    s += &format!(
        "  with {} server processes on one port (SO_REUSEPORT): {} idle connections (bound by {})\n",
        rec.processes_needed, rec.multi_process_max, rec.multi_process_binding
    );
    s += "\nEvery limit, in the order it binds (how far it would let connections go):\n";
    for b in &rec.bounds {
        let tag = match b.applies {
            Applies::Process => "per process",
            Applies::Machine => "machine",
            Applies::Active => "with traffic",
            Applies::LoadGen => "load generator",
            Applies::Note => "not a bound",
        };
        s += &format!("  {:<30} {:>12}  [{tag}] {}\n      change: {}\n", b.name, b.max_connections, b.detail, b.fix);
    }
    s += &format!("\nsysctls writable here: {}\nchart: {svg_path}\njson: {json_path}\n", if l.sysctls_writable { "yes (root)" } else { "no" });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn this_machine() -> Limits {
        Limits {
            nofile_soft: 20_000,
            nofile_hard: 20_000,
            nofile_hard_raisable: false,
            nr_open: 1_048_576,
            file_max: 2_466_165,
            files_allocated: 5_000,
            port_range: (32768, 60999),
            somaxconn: 4096,
            tcp_mem: (287_898, 383_866, 575_796),
            conntrack_max: Some(262_144),
            conntrack_count: Some(0),
            mem_total: 24 << 30,
            mem_available: 23 << 30,
            cpus: 2,
            page_size: 4096,
            sysctls_writable: true,
        }
    }

    #[test]
    fn nofile_binds_first_on_this_machine() {
        let r = compute(&Inputs { limits: this_machine(), user_bytes: 400.0, kernel_bytes: 2600.0, active_sock_bytes: 8192.0, cpu_per_msg: 10e-6, msg_rate: 1.0 });
        assert_eq!(r.binding, "RLIMIT_NOFILE");
        assert_eq!(r.idle_max, 20_000 - FD_RESERVE);
        // memory: 0.9 × 23 GiB / 3000 B
        let mem = (23.0 * 1073741824.0 * 0.9 / 3000.0) as u64;
        let m = r.bounds.iter().find(|b| b.name == "memory").unwrap();
        assert_eq!(m.max_connections, mem);
        // with many processes, fs.file-max is next (2.46 M descriptors < 7.4 M by memory)
        assert_eq!(r.multi_process_binding, "fs.file-max");
        assert_eq!(r.multi_process_max, 2_466_165 - 5_000);
        assert_eq!(r.processes_needed, (2_466_165u64 - 5_000).div_ceil(20_000 - FD_RESERVE));
        // the fix for the unraisable hard limit says how to go on
        let n = r.bounds.iter().find(|b| b.name == "RLIMIT_NOFILE").unwrap();
        assert!(n.fix.contains("SO_REUSEPORT"), "{}", n.fix);
        // bounds are sorted: real bounds ascending, then load-generator and notes
        let real: Vec<u64> = r.bounds.iter().filter(|b| !matches!(b.applies, Applies::Note | Applies::LoadGen)).map(|b| b.max_connections).collect();
        assert!(real.windows(2).all(|w| w[0] <= w[1]), "{real:?}");
        // conntrack is idle here: a note, not a bound
        assert_eq!(r.bounds.iter().find(|b| b.name.contains("conntrack")).unwrap().applies, Applies::Note);
    }

    #[test]
    fn cpu_binds_under_traffic() {
        // 2 CPUs × 0.8 / (10 µs × 100 msg/s) = 1600 connections
        let r = compute(&Inputs { limits: this_machine(), user_bytes: 400.0, kernel_bytes: 2600.0, active_sock_bytes: 0.0, cpu_per_msg: 10e-6, msg_rate: 100.0 });
        assert_eq!(r.active_binding, "cpu");
        assert_eq!(r.active_max, 1600);
        assert_eq!(r.binding, "RLIMIT_NOFILE");
    }

    #[test]
    fn memory_binds_when_descriptors_are_plenty() {
        let mut l = this_machine();
        l.nofile_soft = 1_000_000;
        l.nofile_hard = 1_000_000;
        l.nofile_hard_raisable = true;
        l.mem_available = 1 << 30; // 1 GiB
        let r = compute(&Inputs { limits: l, user_bytes: 1000.0, kernel_bytes: 3000.0, active_sock_bytes: 0.0, cpu_per_msg: 0.0, msg_rate: 1.0 });
        assert_eq!(r.binding, "memory");
        assert_eq!(r.idle_max, (1073741824.0 * 0.9 / 4000.0) as u64);
        // no CPU figure: no CPU bound
        assert!(r.bounds.iter().all(|b| b.name != "cpu"));
    }

    #[test]
    fn tcp_mem_and_active_conntrack_bind() {
        let mut l = this_machine();
        l.nofile_hard = 10_000_000;
        l.nr_open = 10_000_000;
        l.conntrack_count = Some(144);
        l.tcp_mem = (1000, 2000, 4096); // 16 MiB of socket buffers
        let r = compute(&Inputs { limits: l, user_bytes: 400.0, kernel_bytes: 2600.0, active_sock_bytes: 16384.0, cpu_per_msg: 0.0, msg_rate: 1.0 });
        assert_eq!(r.binding, "net.netfilter.nf_conntrack_max");
        assert_eq!(r.idle_max, 262_144 - 144);
        assert_eq!(r.active_binding, "net.ipv4.tcp_mem");
        assert_eq!(r.active_max, 4096 * 4096 / 16384);
    }
}
