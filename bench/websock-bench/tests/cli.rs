//! The built binary, run as users run it: `recommend --json` (shortened stages) must print
//! one JSON object with the fixed keys and write the SVG chart next to its JSON file;
//! `hold` must orchestrate several server and client processes on one port.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_websock-bench"))
}

fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let k = format!("\"{key}\": ");
    let i = json.find(&k).unwrap_or_else(|| panic!("no {key} in {json}")) + k.len();
    let rest = &json[i..];
    let end = rest.find([',', '\n']).unwrap_or(rest.len());
    rest[..end].trim()
}

#[test]
fn recommend_json_has_the_fixed_interface() {
    let dir = std::env::temp_dir().join(format!("wsb-test-{}", std::process::id()));
    let out = bin()
        .args(["recommend", "--quick", "--json", "--stages", "300,900,1500", "--echo-connections", "1,16"])
        .args(["--echo-seconds", "0.4", "--ping-seconds", "0.4", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.trim_start().starts_with('{') && s.trim_end().ends_with('}'), "one JSON object: {s}");
    let n: u64 = field(&s, "recommended_max_connections").parse().unwrap();
    assert!(n > 0);
    let binding = field(&s, "binding_limit");
    assert!(binding.starts_with('"'));
    let b: f64 = field(&s, "bytes_per_idle_connection").parse().unwrap();
    assert!(b > 100.0 && b < 100_000.0, "bytes per idle connection {b}");
    let user: f64 = field(&s, "user_bytes_per_idle_connection").parse().unwrap();
    assert!(user > 0.0 && user < 20_000.0, "user bytes {user}");
    // On a machine whose per-process descriptor limit is below what memory allows, that
    // limit must be the one named.
    let (soft, hard) = {
        let l = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = l.lines().find(|l| l.starts_with("Max open files")).unwrap().to_string();
        let v: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        (v[0], v[1])
    };
    if hard <= 100_000 {
        assert!(binding.contains("RLIMIT_NOFILE"), "{binding} (nofile {soft}/{hard})");
        assert_eq!(n, hard - 32);
    }
    let svg = std::fs::read_to_string(dir.join("recommend.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
    assert!(std::fs::read_to_string(dir.join("recommend.json")).unwrap().contains("recommended_max_connections"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hold_spreads_over_processes_sharing_one_port() {
    let dir = std::env::temp_dir().join(format!("wsb-hold-{}", std::process::id()));
    let out = bin()
        .args(["hold", "--connections", "3000", "--servers", "3", "--clients", "2", "--hold", "2", "--ping-interval", "1", "--json", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(field(&s, "reached_connections"), "3000", "{s}");
    assert_eq!(field(&s, "alive_after_hold"), "3000", "{s}");
    assert_eq!(field(&s, "dead"), "0");
    assert_eq!(field(&s, "server_processes"), "3");
    // Pings flowed while holding (every connection about once a second for 2 s).
    let pongs: u64 = field(&s, "pongs").parse().unwrap();
    assert!(pongs >= 3000, "{pongs} pongs");
    // SO_REUSEPORT spread the connections: every server process holds some.
    let fds_start = s.find("\"server_fds\"").unwrap();
    let fds: Vec<u64> = s[fds_start..s[fds_start..].find(']').unwrap() + fds_start]
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(fds.len(), 3);
    assert!(fds.iter().all(|&f| f > 300), "{fds:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
