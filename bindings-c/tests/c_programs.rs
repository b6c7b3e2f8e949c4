//! Drives the C side of the C ABI for real (as rustls-ffi does): compiles the C test
//! program, the C examples and the C bench server with `gcc -Wall -Wextra -Werror`
//! against the built libwebsock.a, runs them, and points real WebSocket clients (Python
//! `websockets`) at them; one example also runs under valgrind, the Perl example through
//! FFI::Platypus. Needs `cargo build --release -p websock-ffi` first (test.sh does it);
//! WEBSOCK_PYTHON names a Python with `websockets` (default: bindings-c/.venv).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// target/<profile>: the test binary lives in target/<profile>/deps.
fn lib_dir() -> PathBuf {
    if let Ok(d) = std::env::var("WEBSOCK_LIB_DIR") {
        return d.into();
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    // The tests link the release staticlib; a debug test run looks for it next door.
    if dir.join("libwebsock.a").exists() { dir } else { dir.parent().unwrap().join("release") }
}

fn python() -> String {
    std::env::var("WEBSOCK_PYTHON")
        .unwrap_or_else(|_| root().join("bindings-c/.venv/bin/python").to_string_lossy().into_owned())
}

/// Compiles C sources into an executable in a per-test scratch dir.
fn compile(name: &str, sources: &[PathBuf]) -> PathBuf {
    let lib = lib_dir().join("libwebsock.a");
    assert!(lib.exists(), "{} missing: run cargo build --release -p websock-ffi", lib.display());
    let out_dir = std::env::temp_dir().join(format!("websock-c-tests-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(name);
    let status = Command::new("gcc")
        .args(["-Wall", "-Wextra", "-Werror", "-std=c11", "-g", "-O1"])
        .arg(format!("-I{}", root().join("bindings-c/include").display()))
        .args(sources)
        .arg("-o")
        .arg(&exe)
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm"])
        .status()
        .expect("gcc runs");
    assert!(status.success(), "gcc failed for {name}");
    exe
}

/// A server process that printed "READY <port>" (or "READY" when the port was given).
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(mut cmd: Command, fixed_port: Option<u16>) -> Server {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        let port = match fixed_port {
            Some(p) => p,
            None => line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
                let _ = child.kill();
                panic!("no READY line, got {line:?}")
            }),
        };
        assert!(line.starts_with("READY"), "no READY line, got {line:?}");
        Server { child, port }
    }

    /// SIGTERM, then the exit status and stderr.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).unwrap();
                return (st, err);
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("server did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(mode: &str, port: u16) {
    client_env(mode, port, &[]);
}

fn client_env(mode: &str, port: u16, env: &[(&str, &Path)]) {
    let out = Command::new(python())
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .arg(root().join("bindings-c/tests/client.py"))
        .args([mode, &port.to_string()])
        .output()
        .expect("python client runs");
    assert!(
        out.status.success(),
        "client {mode} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Compiles `tests/c/<name>.c` and runs it, under valgrind when asked (no invalid access,
/// no leak); the program must exit 0 and report "N passed, 0 failed" (`checks.h`).
fn run_check_program(name: &str, valgrind: bool) {
    let exe = compile(
        &format!("{name}{}", if valgrind { "_vg" } else { "" }),
        &[root().join(format!("bindings-c/tests/c/{name}.c"))],
    );
    let out = if valgrind {
        Command::new("valgrind")
            .args(["--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite,possible", "-q"])
            .arg(&exe)
            .output()
            .expect("valgrind runs")
    } else {
        Command::new(&exe).output().unwrap()
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}{} failed ({}):\n{}\n{}",
        if valgrind { " under valgrind" } else { "" },
        out.status,
        stdout.lines().filter(|l| !l.starts_with("ok ")).collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.lines().any(|l| l.ends_with(" passed, 0 failed")), "{stdout}");
}

#[test]
fn bad_input_returns_exact_error_codes() {
    run_check_program("bad_input", false);
}

/// The whole bad-input and lifecycle run again under valgrind: stale handles, rejected
/// arguments and freed servers must not read freed memory or leak.
#[test]
fn bad_input_under_valgrind() {
    run_check_program("bad_input", true);
}

/// Driven loops (websock_options_set_driven) with a C driver on poll(2): echo through
/// websock_server_drive and through turn/hold_wakeups/dispatch over two loops, a send by
/// tag from another thread waking the idle driver, the handshake timeout through the
/// turn's wait, stop → finished, run() on a driven server, free with open connections,
/// and the argument errors.
#[test]
fn driven_loops_with_a_poll_driver() {
    run_check_program("driven", false);
}

/// The same under valgrind: no invalid access, no leak (also not from freeing a driven
/// server whose loop was never finished by its driver).
#[test]
fn driven_loops_under_valgrind() {
    run_check_program("driven", true);
}

/// The complete example of websock(3) must compile as printed (roff escapes undone).
#[test]
fn man_page_example_compiles() {
    let page = std::fs::read_to_string(root().join("bindings-c/man/websock.3")).unwrap();
    let start = page.find("\n.EX\n").expect("websock(3) has an example") + 5;
    let end = start + page[start..].find("\n.EE\n").unwrap();
    let code = page[start..end].replace("\\en", "\\n").replace("\\-", "-");
    let dir = std::env::temp_dir().join(format!("websock-c-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("websock3_example.c");
    std::fs::write(&src, code).unwrap();
    compile("websock3_example", &[src]);
}

#[test]
fn echo_example_with_real_client() {
    let exe = compile("echo", &[root().join("examples/c/echo.c")]);
    let mut cmd = Command::new(exe);
    cmd.arg("127.0.0.1:0");
    let s = Server::start(cmd, None);
    client("echo", s.port);
    let (st, err) = s.stop();
    assert!(st.success(), "echo exited with {st}: {err}");
    assert!(err.contains("echoed "), "{err}");
}

#[test]
fn echo_example_over_tls() {
    let dir = std::env::temp_dir().join(format!("websock-c-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let st = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(st.success(), "openssl req failed");
    let exe = compile("echo_tls", &[root().join("examples/c/echo.c")]);
    let mut cmd = Command::new(exe);
    cmd.arg("127.0.0.1:0").arg(&cert).arg(&key);
    let s = Server::start(cmd, None);
    client_env("tls-echo", s.port, &[("WEBSOCK_TEST_CERT", &cert)]);
    let (st, err) = s.stop();
    assert!(st.success(), "TLS echo exited with {st}: {err}");
}

#[test]
fn chat_example_rooms_by_tag() {
    let exe = compile("chat", &[root().join("examples/c/chat.c")]);
    let mut cmd = Command::new(exe);
    cmd.arg("127.0.0.1:0");
    let s = Server::start(cmd, None);
    client("chat", s.port);
    let (st, err) = s.stop();
    assert!(st.success(), "chat exited with {st}: {err}");
}

#[test]
fn echo_example_under_valgrind() {
    let exe = compile("echo_vg", &[root().join("examples/c/echo.c")]);
    let mut cmd = Command::new("valgrind");
    cmd.args(["--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=definite,possible", "-q"])
        .arg(exe)
        .arg("127.0.0.1:0");
    let s = Server::start(cmd, None);
    client("echo", s.port);
    let (st, err) = s.stop();
    assert!(st.success(), "valgrind reported errors ({st}):\n{err}");
}

#[test]
fn bench_server_pub_sub_and_echo() {
    let exe = compile("bench_server", &[root().join("bench/servers/c/server.c")]);
    let port = free_port();
    let mut cmd = Command::new(exe);
    cmd.env("PORT", port.to_string()).env("LOOPS", "2");
    let s = Server::start(cmd, Some(port));
    client("pubsub", s.port);
    let (st, err) = s.stop();
    assert!(st.success(), "bench server exited with {st}: {err}");
}

#[test]
fn perl_platypus_echo() {
    let lib = lib_dir().join("libwebsock.so");
    let mut cmd = Command::new("perl");
    cmd.arg(root().join("examples/perl/echo.pl")).arg("127.0.0.1:0").env("WEBSOCK_LIB", lib);
    let s = Server::start(cmd, None);
    client("perl", s.port);
    let (st, err) = s.stop();
    assert!(st.success(), "perl echo exited with {st}: {err}");
    assert!(err.contains("shut down"), "{err}");
}

/// permessage-deflate negotiated with a real client (`websockets` offers it by default) in
/// each mode set through the C options; the client checks the answer, round-trips large
/// messages, and reads the server's counters (wire bytes, dedicated contexts).
fn deflate_mode(mode: &str) {
    let exe = compile(&format!("deflate_{}", mode.replace(':', "_")), &[root().join("bindings-c/tests/c/deflate.c")]);
    let mut cmd = Command::new(exe);
    cmd.arg(mode);
    let s = Server::start(cmd, None);
    client(&format!("deflate-{mode}"), s.port);
    let (st, err) = s.stop();
    assert!(st.success(), "deflate server ({mode}) exited with {st}: {err}");
}

#[test]
fn deflate_shared_with_real_client() {
    deflate_mode("shared");
}

#[test]
fn deflate_dedicated_with_real_client() {
    deflate_mode("dedicated:12");
}

#[test]
fn deflate_off_declines_the_offer() {
    deflate_mode("off");
}
