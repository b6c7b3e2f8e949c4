//! Readings from the operating system: process memory and CPU (/proc/<pid>/status,
//! /proc/<pid>/stat), machine memory (/proc/meminfo, /proc/slabinfo), socket buffer pages
//! (/proc/net/sockstat) and every limit that can stop connection growth (RLIMIT_NOFILE,
//! fs.nr_open, fs.file-max, ip_local_port_range, somaxconn, tcp_mem, nf_conntrack_max).

use std::fs;

fn read(path: &str) -> Option<String> {
    fs::read_to_string(path).ok()
}

fn sysctl_u64(path: &str) -> Option<u64> {
    read(path)?.split_whitespace().next()?.parse().ok()
}

/// A field of /proc/<pid>/status in kB, as bytes.
pub fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let s = read(&format!("/proc/{pid}/status"))?;
    s.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l[field.len() + 1..].split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Resident memory of a process: (VmRSS, RssAnon) in bytes. RssAnon leaves out the
/// shared, file-backed program text, so it is what grows with connections.
pub fn rss(pid: u32) -> (u64, u64) {
    (proc_status_bytes(pid, "VmRSS").unwrap_or(0), proc_status_bytes(pid, "RssAnon").unwrap_or(0))
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// User + system CPU seconds a process has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Some(s) = read(&format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = s.rfind(')').map(|i| &s[i + 2..]) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (ut + st) / clk_tck()
}

/// CPU seconds of this process (all threads).
pub fn self_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id())
}

/// Open descriptors of a process.
pub fn open_fds(pid: u32) -> u64 {
    fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count() as u64).unwrap_or(0)
}

/// Machine-wide memory figures, bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemInfo {
    pub total: u64,
    pub available: u64,
    pub slab: u64,
}

pub fn meminfo() -> MemInfo {
    let mut m = MemInfo::default();
    if let Some(s) = read("/proc/meminfo") {
        for l in s.lines() {
            let mut it = l.split_whitespace();
            let (Some(k), Some(v)) = (it.next(), it.next()) else { continue };
            let v: u64 = v.parse().unwrap_or(0) * 1024;
            match k {
                "MemTotal:" => m.total = v,
                "MemAvailable:" => m.available = v,
                "Slab:" => m.slab = v,
                _ => {}
            }
        }
    }
    m
}

/// Bytes held by the slab caches a TCP connection allocates from (socket, inode, file,
/// dentry, epoll entries), summed from /proc/slabinfo. Less noisy than all of Slab when
/// other programs churn the dentry cache.
pub fn socket_slab_bytes() -> u64 {
    let Some(s) = read("/proc/slabinfo") else { return 0 };
    let mut total = 0u64;
    for l in s.lines() {
        let mut it = l.split_whitespace();
        let Some(name) = it.next() else { continue };
        if matches!(name, "TCP" | "sock_inode_cache" | "eventpoll_epi" | "eventpoll_pwq" | "request_sock_TCP" | "tw_sock_TCP") {
            let _active: u64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            let num: u64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            let size: u64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            total += num * size;
        }
    }
    total
}

/// /proc/net/sockstat TCP line: (sockets in use, buffer memory pages).
pub fn sockstat_tcp() -> (u64, u64) {
    let Some(s) = read("/proc/net/sockstat") else { return (0, 0) };
    let Some(l) = s.lines().find(|l| l.starts_with("TCP:")) else { return (0, 0) };
    let f: Vec<&str> = l.split_whitespace().collect();
    let get = |k: &str| f.iter().position(|x| *x == k).and_then(|i| f.get(i + 1)?.parse().ok()).unwrap_or(0);
    (get("inuse"), get("mem"))
}

pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        if r.rlim_cur < r.rlim_max {
            let want = libc::rlimit { rlim_cur: r.rlim_max, rlim_max: r.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                r.rlim_cur = r.rlim_max;
            }
        }
    }
    r.rlim_cur as u64
}

/// (soft, hard) RLIMIT_NOFILE.
pub fn nofile() -> (u64, u64) {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain libc call on a local struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
    (r.rlim_cur as u64, r.rlim_max as u64)
}

/// Can this process raise its hard RLIMIT_NOFILE? Tried in a forked child so our own
/// limit stays as it was.
pub fn can_raise_hard_nofile() -> bool {
    let (_, hard) = nofile();
    // SAFETY: the child only calls async-signal-safe functions (setrlimit, _exit).
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            let r = libc::rlimit { rlim_cur: hard + 1, rlim_max: hard + 1 };
            let ok = libc::setrlimit(libc::RLIMIT_NOFILE, &r) == 0;
            libc::_exit(if ok { 0 } else { 1 });
        }
        if pid < 0 {
            return false;
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }
}

/// Is a sysctl file writable by us (opened for writing; nothing is written)?
pub fn sysctl_writable(path: &str) -> bool {
    fs::OpenOptions::new().write(true).open(path).is_ok()
}

/// Every limit that can stop connection growth, as read now.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub nofile_soft: u64,
    pub nofile_hard: u64,
    pub nofile_hard_raisable: bool,
    pub nr_open: u64,
    pub file_max: u64,
    pub files_allocated: u64,
    pub port_range: (u64, u64),
    pub somaxconn: u64,
    /// tcp_mem (low, pressure, high) in pages.
    pub tcp_mem: (u64, u64, u64),
    pub conntrack_max: Option<u64>,
    pub conntrack_count: Option<u64>,
    pub mem_total: u64,
    pub mem_available: u64,
    pub cpus: u64,
    pub page_size: u64,
    pub sysctls_writable: bool,
}

pub fn limits() -> Limits {
    let (soft, hard) = nofile();
    let pr = read("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut pr = pr.split_whitespace().filter_map(|v| v.parse::<u64>().ok());
    let tm = read("/proc/sys/net/ipv4/tcp_mem").unwrap_or_default();
    let mut tm = tm.split_whitespace().filter_map(|v| v.parse::<u64>().ok());
    let m = meminfo();
    Limits {
        nofile_soft: soft,
        nofile_hard: hard,
        nofile_hard_raisable: can_raise_hard_nofile(),
        nr_open: sysctl_u64("/proc/sys/fs/nr_open").unwrap_or(1 << 20),
        file_max: sysctl_u64("/proc/sys/fs/file-max").unwrap_or(u64::MAX),
        files_allocated: sysctl_u64("/proc/sys/fs/file-nr").unwrap_or(0),
        port_range: (pr.next().unwrap_or(32768), pr.next().unwrap_or(60999)),
        somaxconn: sysctl_u64("/proc/sys/net/core/somaxconn").unwrap_or(4096),
        tcp_mem: (tm.next().unwrap_or(0), tm.next().unwrap_or(0), tm.next().unwrap_or(0)),
        conntrack_max: sysctl_u64("/proc/sys/net/netfilter/nf_conntrack_max"),
        conntrack_count: sysctl_u64("/proc/sys/net/netfilter/nf_conntrack_count"),
        mem_total: m.total,
        mem_available: m.available,
        cpus: std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1),
        page_size: page_size(),
        sysctls_writable: sysctl_writable("/proc/sys/net/core/somaxconn"),
    }
}
