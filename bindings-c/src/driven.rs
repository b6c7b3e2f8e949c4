//! Driven loops through the C ABI (websock_options_set_driven): the caller's thread turns
//! each event loop of the server instead of a loop thread, so a message is read, handed
//! to the callback and answered in one pass on one thread. Thin wrappers over the core's
//! `Server::loop_fd` / `turn` / `hold_wakeups`; `websock_server_drive` is the whole cycle
//! (turn, then dispatch with wake-ups held) in one call, which is what a binding with an
//! expensive crossing (cgo) wants. Also the driven paths of websock_server_run() and
//! websock_server_free().

use std::ffi::{c_int, c_ulong};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use websock::events::Event;

use crate::error::{FfiResult, err, fail, guard, websock_result};
use crate::registry;
use crate::server::{Inner, RUN_BATCH, websock_server};
use crate::util::out_ptr;

/// poll(2), declared here rather than through the libc crate (one function); hidden from
/// cbindgen, as it is not part of websock.h.
/// cbindgen:ignore
mod sys {
    use std::ffi::{c_int, c_short, c_ulong};

    /// struct pollfd (the same layout on Linux and the BSDs).
    #[repr(C)]
    pub(super) struct PollFd {
        pub fd: c_int,
        pub events: c_short,
        pub revents: c_short,
    }

    pub(super) const POLLIN: c_short = 0x001;

    unsafe extern "C" {
        pub(super) fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
    }
}
use sys::{POLLIN, PollFd, poll};

/// Waits until one of `fds` is readable or `wait` passes (rounded up to milliseconds).
fn poll_fds(fds: &[RawFd], wait: Duration) {
    let mut p: Vec<PollFd> = fds.iter().map(|&fd| PollFd { fd, events: POLLIN, revents: 0 }).collect();
    // SAFETY: a valid array of p.len() pollfd records for the duration of the call; an
    // interrupted poll (EINTR) just ends the wait early, which the callers tolerate.
    unsafe { poll(p.as_mut_ptr(), p.len() as c_ulong, wait_ms(wait).min(i32::MAX as u32) as c_int) };
}

/// A turn's wait in whole milliseconds, rounded up: a nonzero wait never becomes 0,
/// which means "turn again at once".
fn wait_ms(d: Duration) -> u32 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    ms.min(u32::MAX as u128) as u32
}

/// INVALID_ARGUMENT for calls that have no meaning on a driven server.
pub(crate) fn not_driven(inner: &Inner, op: &str) -> FfiResult {
    if inner.server.is_driven() {
        return Err(fail(
            websock_result::InvalidArgument,
            format!("{op}: the server is driven (poll websock_server_loop_fd and call websock_server_turn)"),
        ));
    }
    Ok(())
}

/// Checks that `index` names a driven loop of the server.
fn driven_loop(inner: &Inner, index: usize) -> FfiResult {
    if !inner.server.is_driven() {
        return Err(fail(websock_result::InvalidArgument, "the server is not driven (websock_options_set_driven)"));
    }
    let n = inner.server.loop_count();
    if index >= n {
        return Err(fail(websock_result::InvalidArgument, format!("loop {index} does not exist (the server has {n})")));
    }
    Ok(())
}

/// One core turn; the only error left after `driven_loop` is a concurrent turn.
fn turn(inner: &Inner, index: usize) -> FfiResult<websock::Turn> {
    inner.server.turn(index).map_err(|e| fail(websock_result::Busy, e.to_string()))
}

/// `*out` = whether the server is driven (websock_options_set_driven()). Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_is_driven(server: *const websock_server, out: *mut bool) -> websock_result {
    guard(|| {
        let out = out_ptr(out)?;
        let inner = registry::get(server)?;
        unsafe { *out = inner.server.is_driven() };
        Ok(())
    })
}

/// `*out` = the number of event loops of the server (each needs turning when the server
/// is driven). Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_loop_count(server: *const websock_server, out: *mut usize) -> websock_result {
    guard(|| {
        let out = out_ptr(out)?;
        let inner = registry::get(server)?;
        unsafe { *out = inner.server.loop_count() };
        Ok(())
    })
}

/// `*out_fd` = the descriptor of driven loop `index` (0 .. loop_count-1): readable when
/// the loop has work (level-triggered for poll(2) and epoll without EPOLLET). Owned by
/// the server and valid until websock_server_free(): poll it, never read, write or close
/// it. In an edge-triggered poller (EPOLLET, Go's netpoller) an edge is reported when
/// new work arrives, so honour the turn's wait (0 = turn again at once, work is left that
/// no new edge will announce). Any thread. Errors: INVALID_ARGUMENT (not driven, no such
/// loop).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_loop_fd(
    server: *const websock_server,
    index: usize,
    out_fd: *mut c_int,
) -> websock_result {
    guard(|| {
        let out = out_ptr(out_fd)?;
        let inner = registry::get(server)?;
        driven_loop(&inner, index)?;
        match inner.server.loop_fd(index) {
            Some(fd) => unsafe { *out = fd },
            None => return err(websock_result::InvalidArgument),
        }
        Ok(())
    })
}

/// Runs one non-blocking turn of driven loop `index` on the calling thread: accept, read,
/// queue events, apply queued sends and closes, write, run timers. No callback runs here:
/// the events wait for websock_server_dispatch() (call it right after; see
/// websock_server_drive() for the whole cycle). `*out_wait_ms`: turn again within this
/// many milliseconds even if the descriptor stays quiet (timers); 0 means at once.
/// `*out_finished`: the loop has ended after a shutdown (its last events, ending with
/// on_shutdown for the last loop, are queued); do not turn it again (a later turn reports
/// finished again). Call from the thread that dispatches (one thread per server is the
/// supported way; several loops may be turned from it in turn). Errors: INVALID_ARGUMENT
/// (not driven, no such loop), BUSY (the loop is being turned on another thread).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_turn(
    server: *mut websock_server,
    index: usize,
    out_wait_ms: *mut u32,
    out_finished: *mut bool,
) -> websock_result {
    guard(|| {
        let (w, f) = (out_ptr(out_wait_ms)?, out_ptr(out_finished)?);
        let inner = registry::get(server)?;
        driven_loop(&inner, index)?;
        let t = turn(&inner, index)?;
        unsafe {
            *w = wait_ms(t.wait);
            *f = t.finished;
        }
        Ok(())
    })
}

/// Says the caller will turn loop `index` again right after dispatching the events of
/// its last turn: until that turn, sends and closes (from any thread) are queued without
/// waking the loop's descriptor, saving a syscall and a spurious wake-up per batch. Call
/// it after a turn that queued events and before dispatching them; never before going
/// back to waiting on the descriptor (a send from another thread would then wait for the
/// next timer). Any thread. Errors: INVALID_ARGUMENT (not driven, no such loop).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_hold_wakeups(server: *mut websock_server, index: usize) -> websock_result {
    guard(|| {
        let inner = registry::get(server)?;
        driven_loop(&inner, index)?;
        inner.server.hold_wakeups(index);
        Ok(())
    })
}

/// The driven cycle in one call: a turn of loop `index` (as websock_server_turn()), then,
/// if events are queued, websock_server_hold_wakeups() and a dispatch of up to
/// `max_events` of them (0 = all) to the callbacks on the calling thread. Outputs:
/// `*out_dispatched` events delivered, `*out_wait_ms` and `*out_finished` as
/// websock_server_turn(). The caller's loop: while `*out_dispatched` > 0 call again at
/// once (that turn writes the replies the callbacks queued and reads new input); else
/// stop if `*out_finished`, else wait until websock_server_loop_fd() is readable or
/// `*out_wait_ms` passes (0: call again at once). Errors: INVALID_ARGUMENT (not driven,
/// no such loop), BUSY (a pump is active: another thread in run/dispatch/drive, a
/// callback calling drive, or the loop is being turned elsewhere).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn websock_server_drive(
    server: *mut websock_server,
    index: usize,
    max_events: usize,
    out_dispatched: *mut usize,
    out_wait_ms: *mut u32,
    out_finished: *mut bool,
) -> websock_result {
    guard(|| {
        let (d, w, f) = (out_ptr(out_dispatched)?, out_ptr(out_wait_ms)?, out_ptr(out_finished)?);
        let inner = registry::get(server)?;
        driven_loop(&inner, index)?;
        let mut batch = inner.lock_pump()?;
        let t = turn(&inner, index)?;
        let mut n = 0;
        if !inner.queue.is_empty() {
            inner.server.hold_wakeups(index);
            let max = if max_events == 0 { usize::MAX } else { max_events };
            n = inner.pump_once(&mut batch, max);
        }
        unsafe {
            *d = n;
            *w = wait_ms(t.wait);
            *f = t.finished;
        }
        Ok(())
    })
}

/// websock_server_run() on a driven server: turns every loop, delivers their events and
/// polls the loops' descriptors, until on_shutdown was delivered or the server is freed.
/// Called with the pump lock held (`batch` is its buffer).
pub(crate) fn run(inner: &Inner, batch: &mut Vec<Event>) -> FfiResult {
    let n = inner.server.loop_count();
    let fds: Vec<RawFd> = (0..n).filter_map(|i| inner.server.loop_fd(i)).collect();
    let mut finished = vec![false; n];
    let mut waiting = Vec::with_capacity(n);
    while !inner.done() {
        let mut wait = Duration::from_millis(200);
        let mut again = false;
        for (i, fin) in finished.iter_mut().enumerate() {
            if *fin {
                continue;
            }
            let t = turn(inner, i)?;
            *fin = t.finished;
            if !inner.queue.is_empty() {
                inner.server.hold_wakeups(i);
                again = true;
            }
            wait = wait.min(t.wait);
        }
        inner.pump_once(batch, RUN_BATCH);
        if inner.done() || (finished.iter().all(|f| *f) && inner.queue.is_empty()) {
            break;
        }
        if again || !inner.queue.is_empty() || wait.is_zero() {
            continue;
        }
        waiting.clear();
        waiting.extend(finished.iter().zip(&fds).filter(|(f, _)| !**f).map(|(_, fd)| *fd));
        poll_fds(&waiting, wait);
    }
    Ok(())
}

/// websock_server_free() on a driven server: after the immediate shutdown, turns each
/// loop until it reports finished, so its connections are closed and its memory freed
/// (a driven loop ends only while turned). Retries while another thread is inside a turn
/// (that thread's next call sees the stale handle); gives up after a few seconds.
pub(crate) fn finish_loops(inner: &Inner) {
    let end = Instant::now() + Duration::from_secs(5);
    for i in 0..inner.server.loop_count() {
        let Some(fd) = inner.server.loop_fd(i) else { continue };
        while Instant::now() < end {
            match inner.server.turn(i) {
                Ok(t) if t.finished => break,
                Ok(t) => poll_fds(&[fd], t.wait.min(Duration::from_millis(20))),
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}
