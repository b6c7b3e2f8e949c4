//! Driven loops: the application's own thread turns a loop, instead of a loop thread.
//!
//! A binding whose handlers run on a thread its runtime owns (Node's JS thread, a Go
//! goroutine) pays two thread hand-offs per message when the loop has its own thread:
//! loop thread → runtime thread for the event, runtime thread → loop thread for the reply.
//! On a busy or single core that hand-off costs more than the WebSocket work. With
//! [`crate::Builder::driven`], no loop thread is started; the runtime thread polls
//! [`Server::loop_fd`] (libuv, Go's netpoller, epoll) and calls [`Server::turn`], which
//! reads, runs the handler (e.g. [`crate::events::QueueHandler`] staging events for that
//! same thread), applies queued commands and writes, all without blocking.
//!
//! The cycle a driver runs (see `drive` in the tests and the Node/Go bindings):
//!
//! 1. wait until `loop_fd(i)` is readable or `turn.wait` has passed;
//! 2. `turn(i)`; take the events its handler produced;
//! 3. if there were any: `hold_wakeups(i)`, handle them (sends are queued, not woken
//!    for), and go to 2, which writes the replies; otherwise go to 1.
//!
//! Sends from other threads wake the descriptor as usual. Lifetime: a driven loop ends
//! when [`Turn::finished`] is reported (after a shutdown, once its connections are
//! closed); until then the server is kept alive by its loops, so drive every loop to the
//! end or the server leaks.

use std::os::fd::RawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::server::{LOCAL, Server};

/// What one [`Server::turn`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    /// The loop has ended (the server shut down); do not turn it again.
    pub finished: bool,
    /// Turn again within this time even if the descriptor stays quiet (timers: handshake,
    /// idle and close timeouts, keepalive pings). Zero means at once: work is left over
    /// that readiness will not announce again.
    pub wait: Duration,
}

impl Server {
    /// How many loops the server has (each needs a driver when the server is driven).
    pub fn loop_count(&self) -> usize {
        self.shared.loops.len()
    }

    /// Is this server driven by the application ([`crate::Builder::driven`])?
    pub fn is_driven(&self) -> bool {
        !self.shared.driven.is_empty()
    }

    /// The descriptor of driven loop `i`: readable when the loop has work. Owned by the
    /// server; poll it, never read or close it. `None` for an unknown index or a server
    /// whose loops run on their own threads.
    pub fn loop_fd(&self, i: usize) -> Option<RawFd> {
        self.shared.driven_fds.get(i).copied()
    }

    /// Runs one turn of driven loop `i` without blocking: accept, read and run handlers,
    /// apply commands, write, sweep timers when due. Handlers run on the calling thread,
    /// and their sends skip the command queue as on a loop thread.
    ///
    /// Errors: `InvalidArgument` when `i` is not a driven loop, or when the loop is being
    /// turned already (on another thread, or re-entered from one of its own handlers).
    pub fn turn(&self, i: usize) -> Result<Turn> {
        let slot = self
            .shared
            .driven
            .get(i)
            .ok_or_else(|| Error::InvalidArgument(format!("loop {i} is not a driven loop of this server")))?;
        let mut guard = slot
            .try_lock()
            .map_err(|_| Error::InvalidArgument(format!("loop {i} is already being turned")))?;
        let Some(lp) = guard.as_mut() else {
            return Ok(Turn { finished: true, wait: Duration::ZERO });
        };
        // For the length of the turn this thread is the loop's thread.
        let uid = self.shared.uid;
        // (Saved and restored whole: the caller may itself be another server's loop
        // thread with commands of its own still pending.)
        let before = LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            let server = std::mem::replace(&mut l.server, uid);
            let loop_index = std::mem::replace(&mut l.loop_index, i);
            (server, loop_index, std::mem::take(&mut l.commands))
        });
        // Handlers are already guarded inside the loop; this catches a bug in the loop
        // itself, so a driver (and the FFI edge above it) never sees a panic.
        let alive = catch_unwind(AssertUnwindSafe(|| lp.turn(Duration::ZERO)));
        let leftover = LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            let (server, loop_index, commands) = before;
            (l.server, l.loop_index) = (server, loop_index);
            std::mem::replace(&mut l.commands, commands)
        });
        // Commands issued after the loop's last look at them (`on_turn_end`): queue them
        // the way any other thread would, so the next turn applies them.
        if !leftover.is_empty() {
            self.shared.loops[i].push_remote(leftover);
        }
        match alive {
            Ok(true) => Ok(Turn { finished: false, wait: lp.next_wait() }),
            Ok(false) | Err(_) => {
                if alive.is_err() {
                    eprintln!("websock: driven loop {i} panicked; closing its connections");
                }
                let lp = guard.take().expect("checked above");
                drop(guard);
                // The descriptor stays open (and quiet) until the server is dropped: a
                // driver that still watches it must not see its number reused.
                match catch_unwind(AssertUnwindSafe(|| lp.finish())) {
                    Ok(poll) => self.shared.retired_polls.lock().unwrap().push(poll),
                    // `finish` ends with `loop_finished`; a panic before it must not
                    // leave `wait` and the shutdown event waiting for this loop.
                    Err(_) => self.shared.loop_finished(),
                }
                Ok(Turn { finished: true, wait: Duration::ZERO })
            }
        }
    }

    /// The caller will turn loop `i` again right after handling the events of this turn:
    /// until that turn, commands from any thread are queued without waking the loop's
    /// descriptor (saves a syscall and a spurious wake-up per batch). Does nothing when
    /// the server is not driven. Breaking the promise (waiting on the descriptor instead
    /// of turning) leaves those commands queued until the next readiness or timer.
    pub fn hold_wakeups(&self, i: usize) {
        if let (Some(l), true) = (self.shared.loops.get(i), self.is_driven()) {
            l.hold_wakeups();
        }
    }
}
