//! Driven loops (`Builder::driven`): the test thread turns the loop itself, waiting on
//! `Server::loop_fd` with a poll of its own, as the Node and Go bindings do. Checks echo
//! through an inline Rust handler and through the event queue (with wake-ups held while
//! replies are made), sends from other threads waking an idle driver, timers honoured
//! through `Turn::wait`, two loops with two drivers, shutdown to `Turn::finished`, and
//! the misuse errors.

mod common;
use common::*;

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use websock::events::{Event, EventQueue};
use websock::{Conn, Handler, Message, Options, Server, Turn};

fn driven_opts(loops: usize) -> Options {
    let mut o = Options::default();
    o.driven = true;
    o.loops = loops;
    o
}

/// Waits until `fd` is readable or `wait` passes (a poll of the driver's own).
struct Waiter {
    poll: Poll,
    events: Events,
}

impl Waiter {
    fn new(fd: RawFd) -> Waiter {
        let poll = Poll::new().unwrap();
        poll.registry().register(&mut SourceFd(&fd), Token(0), Interest::READABLE).unwrap();
        Waiter { poll, events: Events::with_capacity(4) }
    }
    fn wait(&mut self, wait: Duration) {
        self.poll.poll(&mut self.events, Some(wait)).unwrap();
    }
}

/// Drives loop `i` until it finishes. `on_batch` handles the events of a turn (if a queue
/// is given); wake-ups are held while it runs, as the module documents.
fn drive(server: &Server, i: usize, queue: Option<&EventQueue>, mut on_batch: impl FnMut(&[Event])) -> usize {
    let mut waiter = Waiter::new(server.loop_fd(i).expect("driven loop has a descriptor"));
    let mut batch = Vec::new();
    let mut turns = 0;
    loop {
        let t: Turn = server.turn(i).expect("turn");
        turns += 1;
        if let Some(q) = queue {
            batch.clear();
            q.drain(usize::MAX, &mut batch);
            if !batch.is_empty() {
                server.hold_wakeups(i);
                on_batch(&batch);
                if batch.iter().any(|e| matches!(e, Event::Shutdown)) {
                    assert!(t.finished, "Shutdown is the last event of the last turn");
                }
                continue; // the next turn writes the replies
            }
        }
        if t.finished {
            return turns;
        }
        waiter.wait(t.wait);
    }
}

async fn echo_client(addr: std::net::SocketAddr, n: usize) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as TMsg;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/")).await.unwrap();
    for k in 0..n {
        let text = format!("message {k}");
        ws.send(TMsg::text(text.clone())).await.unwrap();
        match ws.next().await.unwrap().unwrap() {
            TMsg::Text(t) => assert_eq!(t.as_str(), text),
            other => panic!("unexpected {other:?}"),
        }
    }
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
}

fn run_clients(addr: std::net::SocketAddr, conns: usize, msgs: usize) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..conns).map(|_| tokio::spawn(echo_client(addr, msgs))).collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

/// Counts shutdown and checks handlers run on the driving thread.
struct InlineEcho {
    driver: Mutex<Option<std::thread::ThreadId>>,
    wrong_thread: AtomicBool,
    shutdowns: AtomicUsize,
    closes: AtomicUsize,
}

impl Handler for InlineEcho {
    fn on_message(&self, conn: &mut Conn<'_>, msg: Message<'_>) {
        if Some(std::thread::current().id()) != *self.driver.lock().unwrap() {
            self.wrong_thread.store(true, Ordering::SeqCst);
        }
        conn.send(msg);
    }
    fn on_close(&self, _conn: &mut Conn<'_>, _info: &websock::CloseInfo) {
        self.closes.fetch_add(1, Ordering::SeqCst);
    }
    fn on_shutdown(&self) {
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn inline_handler_echoes_on_the_driving_thread_and_shuts_down() {
    let h = Arc::new(InlineEcho {
        driver: Mutex::new(Some(std::thread::current().id())),
        wrong_thread: AtomicBool::new(false),
        shutdowns: AtomicUsize::new(0),
        closes: AtomicUsize::new(0),
    });
    let server = start(driven_opts(1), h.clone());
    assert!(server.is_driven());
    assert_eq!(server.loop_count(), 1);
    let addr = server.local_addr();
    let s2 = server.clone();
    let clients = std::thread::spawn(move || {
        run_clients(addr, 20, 200);
        // Shut down from another thread: the driver sees it through its descriptor.
        s2.shutdown(Duration::from_secs(2));
    });
    drive(&server, 0, None, |_| {});
    clients.join().unwrap();
    assert!(!h.wrong_thread.load(Ordering::SeqCst), "handlers ran on the driving thread");
    assert_eq!(h.closes.load(Ordering::SeqCst), 20, "every open got its close");
    assert_eq!(h.shutdowns.load(Ordering::SeqCst), 1);
    assert_eq!(server.stats().total.messages_in, 4000);
    // A finished loop stays finished.
    assert!(server.turn(0).unwrap().finished);
}

#[test]
fn queue_driver_replies_with_wakeups_held_and_wakes_for_other_threads() {
    let queue = EventQueue::for_driven(false).unwrap();
    let server = start(driven_opts(1), queue.handler());
    let addr = server.local_addr();
    let s2 = server.clone();
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    let clients = std::thread::spawn(move || {
        run_clients(addr, 10, 300);
        // While the driver sleeps on the descriptor, a send from this thread must wake
        // it: a raw client tagged "late" gets it.
        let mut raw = Raw::open(addr, "/late");
        std::thread::sleep(Duration::from_millis(300)); // the driver is idle in its poll
        let t0 = Instant::now();
        assert_eq!(s2.send_text_by_tag("late", "wake up").unwrap(), 1);
        let f = raw.read_frame().expect("the tag send arrives");
        assert_eq!(f.payload, b"wake up");
        assert!(t0.elapsed() < Duration::from_millis(500), "delivered at once, not at the next timer");
        done2.store(true, Ordering::SeqCst);
        s2.begin_shutdown(Duration::from_secs(1));
    });
    let mut replies = 0;
    let mut shutdown_seen = false;
    let srv = server.clone();
    drive(&server, 0, Some(&queue), |batch| {
        for ev in batch {
            match ev {
                Event::Open { id, request } if request.path() == "/late" => {
                    srv.tag(*id, "late").unwrap();
                }
                Event::Message { id, data, text } => {
                    let m = if *text { Message::Text(std::str::from_utf8(data).unwrap()) } else { Message::Binary(data) };
                    srv.send(*id, m).unwrap();
                    replies += 1;
                }
                Event::Shutdown => shutdown_seen = true,
                _ => {}
            }
        }
    });
    clients.join().unwrap();
    assert!(done.load(Ordering::SeqCst));
    assert_eq!(replies, 3000);
    assert!(shutdown_seen, "the queue reports the end of the server");
    assert!(queue.is_finished());
    // The queue of a driven server never signals its own descriptor (the driver drains
    // it after each turn instead).
    let mut w = Waiter::new(queue.fd());
    w.wait(Duration::ZERO);
    assert!(w.events.is_empty(), "the queue's descriptor was written");
}

#[test]
fn timers_run_when_the_driver_honours_turn_wait() {
    let mut o = driven_opts(1);
    o.limits.handshake_timeout = Duration::from_millis(200);
    let server = start(o, Echo);
    let addr = server.local_addr();
    let s2 = server.clone();
    let client = std::thread::spawn(move || {
        let mut raw = Raw::connect(addr); // never sends a request
        let t0 = Instant::now();
        assert!(raw.sees_eof(), "an unfinished handshake is dropped");
        let took = t0.elapsed();
        s2.begin_shutdown(Duration::from_secs(1));
        took
    });
    drive(&server, 0, None, |_| {});
    let took = client.join().unwrap();
    assert!(took >= Duration::from_millis(150) && took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn two_loops_with_two_drivers_share_the_connections() {
    let server = start(driven_opts(2), Echo);
    assert_eq!(server.loop_count(), 2);
    let addr = server.local_addr();
    let other = {
        let s = server.clone();
        std::thread::spawn(move || drive(&s, 1, None, |_| {}))
    };
    let s2 = server.clone();
    let clients = std::thread::spawn(move || {
        run_clients(addr, 16, 100);
        let loops = s2.stats().loops;
        assert!(loops.iter().all(|l| l.opened > 0), "both loops took connections: {loops:?}");
        s2.begin_shutdown(Duration::from_secs(1));
    });
    drive(&server, 0, None, |_| {});
    other.join().unwrap();
    clients.join().unwrap();
    assert_eq!(server.stats().total.messages_in, 1600);
}

/// Turns its own loop from inside a handler (not allowed).
struct Reenter(Mutex<Option<Server>>, Mutex<Option<String>>);
impl Handler for Reenter {
    fn on_open(&self, _conn: &mut Conn<'_>) {
        let s = self.0.lock().unwrap().clone().unwrap();
        *self.1.lock().unwrap() = Some(s.turn(0).unwrap_err().to_string());
        s.begin_shutdown(Duration::from_millis(100));
    }
}

#[test]
fn misuse_is_an_error_not_a_deadlock() {
    let threaded = start(opts(), Echo);
    assert!(!threaded.is_driven());
    assert_eq!(threaded.loop_fd(0), None);
    assert!(threaded.turn(0).is_err());
    threaded.shutdown(Duration::from_secs(1));

    let h = Arc::new(Reenter(Mutex::new(None), Mutex::new(None)));
    let server = start(driven_opts(1), h.clone());
    *h.0.lock().unwrap() = Some(server.clone());
    assert!(server.turn(5).is_err(), "no such loop");
    assert_eq!(server.loop_fd(1), None);
    let addr = server.local_addr();
    let client = std::thread::spawn(move || {
        let _raw = Raw::open(addr, "/");
    });
    drive(&server, 0, None, |_| {});
    client.join().unwrap();
    let err = h.1.lock().unwrap().clone().expect("the handler ran");
    assert!(err.contains("already being turned"), "{err}");
    *h.0.lock().unwrap() = None; // the handler held the server
}

#[test]
fn sends_between_turns_keep_their_order_and_wake_an_idle_driver() {
    let queue = EventQueue::for_driven(false).unwrap();
    let server = start(driven_opts(1), queue.handler());
    let addr = server.local_addr();
    let s2 = server.clone();
    let client = std::thread::spawn(move || {
        let mut raw = Raw::open(addr, "/order");
        raw.send_text("go");
        let mut got = Vec::new();
        for _ in 0..6 {
            let f = raw.read_frame().expect("a message");
            got.push(String::from_utf8(f.payload).unwrap());
        }
        assert_eq!(got, ["d1", "t2", "d3", "d4", "late-id", "late-tag"], "one thread's sends keep their order");
        s2.begin_shutdown(Duration::from_secs(1));
    });
    let srv = server.clone();
    let mut conn = None;
    let mut late = None;
    drive(&server, 0, Some(&queue), |batch| {
        for ev in batch {
            match ev {
                Event::Open { id, .. } => {
                    srv.tag(*id, "o").unwrap();
                    conn = Some(*id);
                }
                Event::Message { id, .. } => {
                    // Between turns, with wake-ups held: sends by id and by tag, and a
                    // batch, leave in the order they were made.
                    srv.send_text(*id, "d1").unwrap();
                    srv.send_text_by_tag("o", "t2").unwrap();
                    srv.send_text(*id, "d3").unwrap();
                    srv.send_many([(*id, Message::Text("d4"))]).unwrap();
                    // Later, from another thread while this driver sleeps in its poll:
                    // the hold has ended, so these sends must wake it.
                    let (s, id) = (srv.clone(), *id);
                    late = Some(std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(200));
                        s.send_text(id, "late-id").unwrap();
                        s.send_text_by_tag("o", "late-tag").unwrap();
                    }));
                }
                _ => {}
            }
        }
    });
    client.join().unwrap();
    late.expect("the message arrived").join().unwrap();
    assert!(conn.is_some());
}

#[test]
fn a_finished_loop_keeps_its_descriptor_until_the_server_is_dropped() {
    let server = start(driven_opts(1), Echo);
    let fd = server.loop_fd(0).unwrap();
    server.begin_shutdown(Duration::from_millis(100));
    drive(&server, 0, None, |_| {});
    // Still an open epoll descriptor: fcntl would fail with EBADF once closed.
    let open = unsafe { libc_fcntl(fd) } >= 0;
    assert!(open, "descriptor {fd} stays open while the server lives");
    // (Not checked after the drop: another test's thread may reuse the number at once.)
}

unsafe extern "C" {
    fn fcntl(fd: i32, cmd: i32, ...) -> i32;
}

/// F_GETFD on `fd`: negative once it is closed.
unsafe fn libc_fcntl(fd: RawFd) -> i32 {
    const F_GETFD: i32 = 1;
    unsafe { fcntl(fd, F_GETFD) }
}
