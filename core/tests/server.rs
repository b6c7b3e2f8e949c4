//! Server behaviour with real clients (tokio-tungstenite, rustls) and raw sockets:
//! echo, open/close pairing under churn, thread-safe sends by id and by tag with order
//! kept, shutdown with 1001, keepalive and idle timeout, backpressure policies and drain,
//! the event queue for bindings, TLS, IPv6, adopted listeners and SO_REUSEPORT.

mod common;
use common::*;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as TMsg;
use websock::{CloseInfo, CloseKind, Conn, ConnId, Handler, Message, Server};

/// Counts opens and closes (by kind), remembers ids, tags every connection `all`.
#[derive(Default)]
struct Track {
    opened: AtomicUsize,
    closed: Mutex<Vec<CloseInfo>>,
    ids: Mutex<Vec<ConnId>>,
    drains: AtomicUsize,
    echo: bool,
}

impl Track {
    fn echoing() -> Arc<Track> {
        Arc::new(Track { echo: true, ..Default::default() })
    }
    fn closes(&self) -> usize {
        self.closed.lock().unwrap().len()
    }
    fn kinds(&self) -> HashMap<CloseKind, usize> {
        let mut m = HashMap::new();
        for c in self.closed.lock().unwrap().iter() {
            *m.entry(c.kind).or_insert(0) += 1;
        }
        m
    }
}

impl Handler for Track {
    fn on_open(&self, conn: &mut Conn<'_>) {
        conn.tag("all").unwrap();
        self.ids.lock().unwrap().push(conn.id());
        self.opened.fetch_add(1, Ordering::SeqCst);
    }
    fn on_message(&self, conn: &mut Conn<'_>, msg: Message<'_>) {
        if self.echo {
            conn.send(msg);
        }
    }
    fn on_drain(&self, _conn: &mut Conn<'_>) {
        self.drains.fetch_add(1, Ordering::SeqCst);
    }
    fn on_close(&self, conn: &mut Conn<'_>, info: &CloseInfo) {
        assert!(!conn.is_open());
        self.closed.lock().unwrap().push(info.clone());
    }
}

fn url(s: &Server, path: &str) -> String {
    format!("ws://{}{}", s.local_addr(), path)
}

#[tokio::test]
async fn tungstenite_client_echo_ping_and_close() {
    let t = Track::echoing();
    let s = start(opts(), t.clone());
    let (mut ws, resp) = tokio_tungstenite::connect_async(url(&s, "/echo")).await.unwrap();
    assert_eq!(resp.status(), 101);
    ws.send(TMsg::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), TMsg::text("hello"));
    ws.send(TMsg::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), TMsg::binary(vec![1u8, 2, 3]));
    ws.send(TMsg::Ping(b"p".to_vec().into())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), TMsg::Pong(b"p".to_vec().into()));
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    eventually("close event", || t.closes() == 1);
    assert_eq!(t.closed.lock().unwrap()[0].kind, CloseKind::Peer);
    // Counters are published at the end of the loop turn that changed them.
    eventually("counters published", || s.stats().total.connections == 0);
    let st = s.stats().total;
    assert_eq!((st.messages_in, st.messages_out, st.opened, st.connections), (2, 2, 1, 0));
}

#[test]
fn tags_api_and_stale_ids() {
    let t = Track::echoing();
    let s = start(opts(), t.clone());
    let mut a = Raw::open(s.local_addr(), "/");
    let _b = Raw::open(s.local_addr(), "/");
    eventually("two open", || t.ids.lock().unwrap().len() == 2);
    let ids = t.ids.lock().unwrap().clone();
    assert_eq!(s.count_by_tag("all"), 2);
    assert!(s.tag(ids[0], "room:1").unwrap());
    assert!(!s.tag(ids[0], "room:1").unwrap());
    assert_eq!(s.tags(ids[0]).unwrap(), vec!["all".to_string(), "room:1".to_string()]);
    assert_eq!(s.send_text_by_tag("room:1", "to room 1").unwrap(), 1);
    let f = a.read_frame().unwrap();
    assert_eq!(f.payload, b"to room 1");
    assert!(s.untag(ids[0], "room:1").unwrap());
    assert_eq!(s.count_by_tag("room:1"), 0);
    assert_eq!(s.send_text_by_tag("room:1", "nobody").unwrap(), 0);
    assert!(s.tag(ids[0], "").is_err());
    assert_eq!(s.close_by_tag("all", 4001, "everyone out").unwrap(), 2);
    assert_eq!(a.expect_close(), Some(4001));
    eventually("both closed", || t.closes() == 2);
    for id in ids {
        assert!(matches!(s.send_text(id, "late"), Err(websock::Error::UnknownConnection)));
        assert!(matches!(s.tag(id, "x"), Err(websock::Error::UnknownConnection)));
        assert!(!s.is_live(id));
    }
    assert!(matches!(s.close(ConnId::from_raw(u64::MAX), 1000, ""), Err(websock::Error::UnknownConnection)));
    assert!(matches!(s.close(ConnId::from_raw(0), 1005, ""), Err(websock::Error::InvalidArgument(_))));
    assert_eq!(s.count_by_tag("all"), 0);
}

/// 8 threads send to 1,000 connections by id and by tag; every client checks that it got
/// every message and that each thread's messages arrived in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_threads_send_to_a_thousand_connections_in_order() {
    const CONNS: usize = 1000;
    const THREADS: usize = 8;
    const PER_THREAD: usize = 20; // 10 by id + 10 by tag, interleaved
    let t = Arc::new(Track::default());
    let s = start(opts(), t.clone());
    let mut clients = Vec::new();
    for _ in 0..CONNS {
        let (ws, _) = tokio_tungstenite::connect_async(url(&s, "/")).await.unwrap();
        clients.push(ws);
    }
    eventually("all open", || t.opened.load(Ordering::SeqCst) == CONNS);
    let ids = t.ids.lock().unwrap().clone();
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut next = [0usize; THREADS];
                for _ in 0..THREADS * PER_THREAD {
                    let m = tokio::time::timeout(Duration::from_secs(30), ws.next()).await.unwrap().unwrap().unwrap();
                    let text = m.into_text().unwrap();
                    let (th, seq) = text.split_once(':').unwrap();
                    let (th, seq): (usize, usize) = (th.parse().unwrap(), seq.parse().unwrap());
                    assert_eq!(seq, next[th], "thread {th} out of order");
                    next[th] += 1;
                }
                next
            })
        })
        .collect();
    let senders: Vec<_> = (0..THREADS)
        .map(|th| {
            let s = s.clone();
            let ids = ids.clone();
            std::thread::spawn(move || {
                for seq in 0..PER_THREAD {
                    let msg = format!("{th}:{seq}");
                    if seq % 2 == 0 {
                        for id in &ids {
                            s.send_text(*id, &msg).unwrap();
                        }
                    } else {
                        assert_eq!(s.send_text_by_tag("all", &msg).unwrap(), CONNS);
                    }
                }
            })
        })
        .collect();
    for h in senders {
        h.join().unwrap();
    }
    for r in readers {
        assert_eq!(r.await.unwrap(), [PER_THREAD; THREADS]);
    }
    let want = (CONNS * THREADS * PER_THREAD) as u64;
    eventually("messages_out published", || s.stats().total.messages_out == want);
}

/// 10,000 connect/disconnect cycles — clean closes, EOFs, resets and half-done
/// handshakes — and every open is paired with exactly one close.
#[test]
fn open_close_pairing_under_churn() {
    let t = Track::echoing();
    let s = start(opts(), t.clone());
    let addr = s.local_addr();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            std::thread::spawn(move || {
                let mut upgraded = 0;
                for i in 0..2500 {
                    match (i + w) % 5 {
                        0 => {
                            // Half a handshake, then gone: no open, no close.
                            let mut r = Raw::connect(addr);
                            r.send(b"GET / HTTP/1.1\r\n");
                        }
                        1 => {
                            let mut r = Raw::open(addr, "/");
                            r.send_close(1000, "");
                            assert_eq!(r.expect_close(), Some(1000));
                            upgraded += 1;
                        }
                        2 => {
                            let r = Raw::open(addr, "/");
                            let sock = socket2::SockRef::from(&r.s);
                            sock.set_linger(Some(Duration::ZERO)).unwrap(); // close = RST
                            upgraded += 1;
                        }
                        _ => {
                            let mut r = Raw::open(addr, "/");
                            r.send_text("x");
                            assert_eq!(r.read_frame().unwrap().payload, b"x");
                            upgraded += 1; // dropped: EOF
                        }
                    }
                }
                upgraded
            })
        })
        .collect();
    let upgraded: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    eventually("every close event", || t.closes() == upgraded);
    assert_eq!(t.opened.load(Ordering::SeqCst), upgraded);
    let kinds = t.kinds();
    assert_eq!(kinds.get(&CloseKind::Peer), Some(&2000));
    assert_eq!(kinds.get(&CloseKind::Abnormal), Some(&(upgraded - 2000)));
    eventually("nothing live", || s.stats().total.connections == 0);
    assert_eq!(s.count_by_tag("all"), 0);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(t.closes(), upgraded, "no close event twice");
}

#[test]
fn shutdown_closes_everyone_with_1001_and_reports_each_close() {
    let t = Track::echoing();
    let s = start(opts(), t.clone());
    let mut clients: Vec<Raw> = (0..50).map(|_| Raw::open(s.local_addr(), "/")).collect();
    eventually("open", || t.opened.load(Ordering::SeqCst) == 50);
    let readers: Vec<_> = clients
        .drain(..)
        .map(|mut c| {
            std::thread::spawn(move || {
                let code = c.expect_close();
                c.send_close(1001, "");
                code
            })
        })
        .collect();
    s.shutdown(Duration::from_secs(5));
    for r in readers {
        assert_eq!(r.join().unwrap(), Some(1001));
    }
    assert_eq!(t.kinds().get(&CloseKind::Shutdown), Some(&50));
    assert!(s.is_closing());
    assert!(std::net::TcpStream::connect(s.local_addr()).is_err(), "no longer accepting");
    assert!(matches!(s.send_text_by_tag("all", "x"), Err(websock::Error::ServerClosed)));
}

#[test]
fn shutdown_deadline_force_closes_silent_peers() {
    let t = Track::echoing();
    let s = start(opts(), t.clone());
    let _c = Raw::open(s.local_addr(), "/"); // never answers the close
    eventually("open", || t.opened.load(Ordering::SeqCst) == 1);
    let started = std::time::Instant::now();
    s.shutdown(Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(t.kinds().get(&CloseKind::Shutdown), Some(&1));
}

#[test]
fn keepalive_pings_and_idle_timeout() {
    let t = Track::echoing();
    let mut o = opts();
    o.keepalive.ping_interval = Some(Duration::from_millis(100));
    o.keepalive.idle_timeout = Some(Duration::from_millis(600));
    let s = start(o, t.clone());
    // A live peer that answers pings stays.
    let mut live = Raw::open(s.local_addr(), "/");
    // A silent peer is pinged, then dropped.
    let mut silent = Raw::open(s.local_addr(), "/");
    let f = silent.read_frame().unwrap();
    assert_eq!(f.opcode, 9, "keepalive ping");
    let until = std::time::Instant::now() + Duration::from_millis(1200);
    while std::time::Instant::now() < until {
        live.s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        if let Some(f) = live.read_frame() {
            if f.opcode == 9 {
                live.send_frame(true, 10, &f.payload);
            }
        }
    }
    assert!(silent.sees_eof());
    eventually("timeout close", || t.kinds().get(&CloseKind::Timeout) == Some(&1));
    live.s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    live.send_text("still here");
    loop {
        let f = live.read_frame().unwrap();
        if f.opcode == 1 {
            assert_eq!(f.payload, b"still here");
            break;
        }
    }
}

fn backpressure_server(policy: websock::SlowConsumerPolicy) -> (Server, Arc<Track>) {
    let t = Arc::new(Track::default());
    let mut o = opts();
    o.backpressure = websock::Backpressure { max_buffered: 1 << 20, drain_threshold: 64 << 10, policy };
    (start(o, t.clone()), t)
}

#[test]
fn slow_consumer_dropped_messages_are_counted_and_drain_fires() {
    let (s, t) = backpressure_server(websock::SlowConsumerPolicy::DropNewest);
    let mut c = Raw::open(s.local_addr(), "/");
    eventually("open", || t.opened.load(Ordering::SeqCst) == 1);
    let id = t.ids.lock().unwrap()[0];
    let chunk = vec![7u8; 64 << 10];
    for _ in 0..400 {
        s.send_binary(id, &chunk).unwrap(); // 25 MiB at a reader that does not read (yet)
    }
    eventually("every send applied", || {
        let st = s.stats().total;
        st.messages_out + st.dropped == 400
    });
    assert!(s.stats().total.dropped > 0);
    // The queue never holds more than the limit (the kernel's buffers hold the rest).
    assert!(s.buffered_amount(id).unwrap() <= 1 << 20);
    // Now read everything that was kept: the connection is alive and drains.
    let mut got = 0;
    while got < 400 - s.stats().total.dropped as usize {
        assert_eq!(c.read_frame().unwrap().payload.len(), 64 << 10);
        got += 1;
    }
    eventually("drain event", || t.drains.load(Ordering::SeqCst) >= 1);
    // (Stored just after the write that emptied the queue, so poll for it.)
    eventually("queue empty", || s.buffered_amount(id).unwrap() == 0);
}

#[test]
fn slow_consumer_is_closed_under_the_close_policy() {
    let (s, t) = backpressure_server(websock::SlowConsumerPolicy::Close(4008));
    let c = Raw::open(s.local_addr(), "/");
    socket2::SockRef::from(&c.s).set_recv_buffer_size(4096).unwrap();
    eventually("open", || t.opened.load(Ordering::SeqCst) == 1);
    let id = t.ids.lock().unwrap()[0];
    for _ in 0..200 {
        if s.send_binary(id, &vec![1u8; 64 << 10]).is_err() {
            break;
        }
    }
    eventually("closed as slow", || t.kinds().get(&CloseKind::SlowConsumer) == Some(&1));
    assert_eq!(t.closed.lock().unwrap()[0].code, 4008);
}

#[test]
fn event_queue_delivers_batches_and_defers_upgrades() {
    use websock::events::{Event, EventQueue};
    let q = EventQueue::new(true).unwrap();
    let s = start(opts(), q.handler());
    let mut c = Raw::connect(s.local_addr());
    c.send(upgrade_request("/q?x=1", "").as_bytes());
    assert!(q.wait(Some(Duration::from_secs(5))));
    let mut evs = Vec::new();
    q.drain(64, &mut evs);
    let Event::Upgrade { id, request } = &evs[0] else { panic!("{evs:?}") };
    assert_eq!(request.query(), "x=1");
    s.accept_upgrade(*id, Default::default()).unwrap();
    assert!(c.read_head().starts_with("HTTP/1.1 101"));
    c.send_text("a");
    c.send_frame(true, 2, b"b");
    c.send_close(1000, "done");
    let mut evs = Vec::new();
    while !evs.iter().any(|e| matches!(e, Event::Close { .. })) {
        q.wait(Some(Duration::from_secs(5)));
        q.drain(64, &mut evs);
    }
    assert!(matches!(&evs[0], Event::Open { .. }));
    assert!(matches!(&evs[1], Event::Message { data, text: true, .. } if data == b"a"));
    assert!(matches!(&evs[2], Event::Message { data, text: false, .. } if data == b"b"));
    assert!(matches!(&evs[3], Event::Close { code: 1000, kind: CloseKind::Peer, .. }));
    // Once the close event is seen, the id is unknown everywhere (even while the socket
    // may still be lingering).
    let Event::Close { id, .. } = &evs[3] else { unreachable!() };
    assert!(matches!(s.send_text(*id, "late"), Err(websock::Error::UnknownConnection)));
    s.shutdown(Duration::from_secs(1));
    let mut evs = Vec::new();
    q.drain(64, &mut evs);
    assert!(matches!(evs.last(), Some(Event::Shutdown)));
    assert!(q.is_finished());
}

#[test]
fn send_many_keeps_order_per_connection() {
    let t = Arc::new(Track::default());
    let mut o = opts();
    o.loops = 3;
    let s = start(o, t.clone());
    let mut cs: Vec<Raw> = (0..6).map(|_| Raw::open(s.local_addr(), "/")).collect();
    eventually("open", || t.opened.load(Ordering::SeqCst) == 6);
    let ids = t.ids.lock().unwrap().clone();
    let texts: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let batch = ids.iter().flat_map(|id| texts.iter().map(move |t| (*id, Message::Text(t))));
    s.send_many(batch).unwrap();
    for c in cs.iter_mut() {
        for want in &texts {
            assert_eq!(c.read_frame().unwrap().payload, want.as_bytes());
        }
    }
    let stale = ConnId::from_raw(ids[0].to_raw() ^ (1 << 40));
    assert!(matches!(s.send_many([(stale, Message::Text("x"))]), Err(websock::Error::UnknownConnection)));
}

#[test]
fn ipv6_adopted_listener_and_reuse_port() {
    let t = Track::echoing();
    // IPv6 loopback (skipped only if the machine has no ::1).
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        let s = Server::builder().listen("[::1]:0").loops(1).start(t.clone()).unwrap();
        let mut c = Raw::open(s.local_addr(), "/");
        c.send_text("v6");
        assert_eq!(c.read_frame().unwrap().payload, b"v6");
    }
    // A listener the application bound itself.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let s = Server::builder().listener(l).loops(1).start(t.clone()).unwrap();
    let mut c = Raw::open(s.local_addr(), "/");
    c.send_text("adopted");
    assert_eq!(c.read_frame().unwrap().payload, b"adopted");
    // Two servers on one port.
    let a = Server::builder().listen("127.0.0.1:0").reuse_port(true).loops(1).start(t.clone()).unwrap();
    let port = a.local_addr().port();
    let b = Server::builder().listen(format!("127.0.0.1:{port}")).reuse_port(true).loops(1).start(t.clone()).unwrap();
    assert_eq!(b.local_addr().port(), port);
    for i in 0..20 {
        let mut c = Raw::open(a.local_addr(), "/");
        c.send_text(&i.to_string());
        assert_eq!(c.read_frame().unwrap().payload, i.to_string().as_bytes());
    }
    // A bad fd is refused with an error, not a crash.
    assert!(Server::builder().fd(-1).start(Echo).is_err());
}

#[test]
fn connections_spread_over_loops() {
    let t = Track::echoing();
    let mut o = opts();
    o.loops = 3;
    let s = start(o, t.clone());
    let _cs: Vec<Raw> = (0..30).map(|_| Raw::open(s.local_addr(), "/")).collect();
    eventually("open", || s.stats().total.connections == 30);
    let per_loop: Vec<u64> = s.stats().loops.iter().map(|l| l.connections).collect();
    assert_eq!(per_loop, vec![10, 10, 10]);
}

#[test]
fn tls_echo_with_rustls_client() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let tls = websock::TlsConfig::from_pem(cert.cert.pem().as_bytes(), cert.signing_key.serialize_pem().as_bytes()).unwrap();
    let t = Track::echoing();
    let s = Server::builder().listen("127.0.0.1:0").tls(tls).loops(1).start(t.clone()).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let tcp = std::net::TcpStream::connect(s.local_addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let stream = rustls::StreamOwned::new(conn, tcp);
    let (mut ws, resp) = tungstenite::client(format!("wss://localhost:{}/", s.local_addr().port()), stream).unwrap();
    assert_eq!(resp.status(), 101);
    for size in [5usize, 70_000, 300_000] {
        let payload = "x".repeat(size);
        ws.send(tungstenite::Message::text(payload.clone())).unwrap();
        assert_eq!(ws.read().unwrap().into_text().unwrap().as_str(), payload);
    }
    ws.close(None).unwrap();
    while ws.read().is_ok() {}
    eventually("closed", || t.closes() == 1);
    assert_eq!(t.closed.lock().unwrap()[0].kind, CloseKind::Peer);
    // Bad PEM is an error, not a panic.
    assert!(websock::TlsConfig::from_pem(b"nope", b"nope").is_err());
}
