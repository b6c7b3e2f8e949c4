//! Opening handshake over raw sockets: every bad request gets its exact HTTP status
//! before any upgrade; origins, subprotocols, kept headers, the upgrade hook (accept,
//! reject, defer) and the plain-HTTP handler.

mod common;
use common::*;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use websock::{Accept, Conn, ConnId, Handler, HttpResponse, KeepHeaders, Request, Upgrade};

fn status_of(head: &str) -> u16 {
    head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[test]
fn bad_requests_get_their_status() {
    let s = start(opts(), Echo);
    let good = upgrade_request("/", "");
    let cases: Vec<(String, u16)> = vec![
        (good.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"), 426),
        (good.replace("Sec-WebSocket-Version: 13\r\n", ""), 426),
        (good.replace(KEY, "dG9vc2hvcnQ="), 400),
        (good.replace(KEY, "not base64 at all!!!!!!!"), 400),
        (good.replace(&format!("Sec-WebSocket-Key: {KEY}\r\n"), ""), 400),
        (good.replace("Connection: Upgrade", "Connection: keep-alive"), 400),
        (good.replace("Host: localhost\r\n", ""), 400),
        (good.replace("GET", "POST"), 405),
        (good.replace("HTTP/1.1", "HTTP/1.0"), 505),
        ("NOT HTTP AT ALL\r\n\r\n".to_string(), 400),
        (format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(10_000)), 431),
        (good.replace("Upgrade: websocket\r\n", ""), 426),
    ];
    for (req, want) in cases {
        let (mut r, head) = Raw::handshake_with(s.local_addr(), &req);
        assert_eq!(status_of(&head), want, "request:\n{req}\nresponse:\n{head}");
        if want == 426 {
            assert!(head.contains("Sec-WebSocket-Version: 13"), "{head}");
        }
        assert!(r.sees_eof(), "connection closed after {want}");
    }
    eventually("rejections counted", || s.stats().total.rejected >= 11);
}

#[test]
fn connection_and_upgrade_tokens_in_any_case_and_lists() {
    let s = start(opts(), Echo);
    let req = upgrade_request("/", "")
        .replace("Upgrade: websocket", "upgrade: WebSocket")
        .replace("Connection: Upgrade", "connection: keep-alive, UPGRADE");
    let (_r, head) = Raw::handshake_with(s.local_addr(), &req);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}

#[test]
fn slow_handshake_is_cut_off() {
    let mut o = opts();
    o.limits.handshake_timeout = Duration::from_millis(200);
    let s = start(o, Echo);
    let mut r = Raw::connect(s.local_addr());
    r.send(b"GET / HTTP/1.1\r\nHost: x\r\n"); // and never finishes
    let t = std::time::Instant::now();
    assert!(r.sees_eof());
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[test]
fn origin_allow_list() {
    let mut o = opts();
    o.origins = vec!["https://app.example".into(), "https://*.example.com".into()];
    let s = start(o, Echo);
    for (origin, ok) in [
        ("https://app.example", true),
        ("https://chat.example.com", true),
        ("https://evil.example", false),
        ("http://app.example", false),
    ] {
        let (_r, head) = Raw::handshake_with(s.local_addr(), &upgrade_request("/", &format!("Origin: {origin}\r\n")));
        assert_eq!(status_of(&head), if ok { 101 } else { 403 }, "{origin}");
    }
    // No Origin header: a non-browser client, allowed.
    let (_r, head) = Raw::handshake_with(s.local_addr(), &upgrade_request("/", ""));
    assert_eq!(status_of(&head), 101);
}

#[test]
fn subprotocol_in_server_preference_order() {
    let mut o = opts();
    o.subprotocols = vec!["chat.v2".into(), "chat.v1".into()];
    let s = start(o, Echo);
    let (_r, head) = Raw::handshake_with(s.local_addr(), &upgrade_request("/", "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n"));
    assert!(head.contains("Sec-WebSocket-Protocol: chat.v2"), "{head}");
    let (_r, head) = Raw::handshake_with(s.local_addr(), &upgrade_request("/", "Sec-WebSocket-Protocol: other\r\n"));
    assert!(head.starts_with("HTTP/1.1 101") && !head.contains("Sec-WebSocket-Protocol"), "{head}");
}

/// Records what `on_open` saw.
/// Path, query, kept headers and the `user` cookie of each opened connection.
type Opened = (String, String, Vec<(String, String)>, Option<String>);
#[derive(Default)]
struct Seen(Mutex<Vec<Opened>>);
impl Handler for Seen {
    fn on_open(&self, conn: &mut Conn<'_>) {
        let r = conn.request().unwrap();
        let headers = r.headers().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        self.0.lock().unwrap().push((r.path().into(), r.query().into(), headers, r.cookie("user").map(Into::into)));
    }
}

#[test]
fn path_query_and_kept_headers_reach_the_application() {
    let seen = Arc::new(Seen::default());
    let mut o = opts();
    o.keep_headers = KeepHeaders::Names(vec!["cookie".into()]);
    let s = start(o, seen.clone());
    let _c = Raw::handshake_with(s.local_addr(), &upgrade_request("/room/7?x=1&y=2", "Cookie: user=jonny; theme=dark\r\nX-Other: 1\r\n"));
    eventually("open", || !seen.0.lock().unwrap().is_empty());
    let (path, query, headers, user) = seen.0.lock().unwrap()[0].clone();
    assert_eq!((path.as_str(), query.as_str()), ("/room/7", "x=1&y=2"));
    assert_eq!(headers, vec![("cookie".to_string(), "user=jonny; theme=dark".to_string())]);
    assert_eq!(user.as_deref(), Some("jonny"));
}

/// Accepts only `?token=good`; defers `/later`; serves `/page` over plain HTTP.
struct Gate {
    deferred: Mutex<Vec<ConnId>>,
}
impl Handler for Gate {
    fn on_upgrade(&self, id: ConnId, req: &Request) -> Upgrade {
        if req.path() == "/later" {
            self.deferred.lock().unwrap().push(id);
            return Upgrade::Defer;
        }
        if req.query() == "token=good" {
            Upgrade::Accept(Accept {
                headers: vec![("Set-Cookie".into(), "session=1".into())],
                ..Default::default()
            })
        } else {
            Upgrade::Reject(HttpResponse::new(401, "no token\n"))
        }
    }
    fn on_http(&self, req: &Request) -> HttpResponse {
        if req.path() == "/page" {
            HttpResponse::new(200, "<h1>hi</h1>").header("Content-Type", "text/html")
        } else {
            HttpResponse::new(404, "not found\n")
        }
    }
    fn on_message(&self, conn: &mut Conn<'_>, msg: websock::Message<'_>) {
        conn.send(msg);
    }
}

#[test]
fn upgrade_hook_accepts_rejects_and_defers() {
    let gate = Arc::new(Gate { deferred: Mutex::new(Vec::new()) });
    let s = start(opts(), gate.clone());
    let (mut r, head) = Raw::handshake_with(s.local_addr(), &upgrade_request("/?token=bad", ""));
    assert_eq!(status_of(&head), 401);
    assert!(r.read_to_end().contains("no token"));
    let (_r, head) = Raw::handshake_with(s.local_addr(), &upgrade_request("/?token=good", ""));
    assert_eq!(status_of(&head), 101);
    assert!(head.contains("Set-Cookie: session=1"));

    // Deferred: decided from another thread.
    let mut a = Raw::connect(s.local_addr());
    let mut b = Raw::connect(s.local_addr());
    a.send(upgrade_request("/later", "").as_bytes());
    b.send(upgrade_request("/later", "").as_bytes());
    eventually("two deferred", || gate.deferred.lock().unwrap().len() == 2);
    let ids = gate.deferred.lock().unwrap().clone();
    let s2 = s.clone();
    std::thread::spawn(move || {
        s2.accept_upgrade(ids[0], Accept::default()).unwrap();
        s2.reject_upgrade(ids[1], HttpResponse::new(403, "later: no\n")).unwrap();
    })
    .join()
    .unwrap();
    let (ha, hb) = (a.read_head(), b.read_head());
    let (acc, rej) = if ha.starts_with("HTTP/1.1 101") { (&mut a, hb) } else { (&mut b, ha) };
    assert_eq!(status_of(&rej), 403);
    acc.send_text("after defer");
    assert_eq!(acc.read_frame().unwrap().payload, b"after defer");
}

#[test]
fn plain_http_goes_to_the_http_handler_or_gets_426() {
    let gate = Arc::new(Gate { deferred: Mutex::new(Vec::new()) });
    let s = start(opts(), gate);
    let (mut r, head) = Raw::handshake_with(s.local_addr(), "GET /page HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&head), 200);
    assert_eq!(r.read_to_end(), "<h1>hi</h1>");
    let (_r, head) = Raw::handshake_with(s.local_addr(), "HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(head.contains("Content-Length: 11"));
    let e = start(opts(), Echo);
    let (_r, head) = Raw::handshake_with(e.local_addr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&head), 426);
}
