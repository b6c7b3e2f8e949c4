//! One connection's state as its loop keeps it. Kept small on purpose: an idle open
//! connection is this struct (about 100 bytes), its request info and nothing else; the
//! read remainder, fragment accumulator, outbound queue and TLS state exist only while
//! in use (`Option<Box<…>>`).

use std::any::Any;
use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

use mio::net::TcpStream;
use socket2::SockRef;

use crate::deflate::ConnDeflate;
use crate::handler::CloseInfo;
use crate::outbound::OutQueue;
use crate::request::Request;
use crate::utf8::Utf8State;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Reading the request head (and, with TLS, the TLS handshake).
    Handshake,
    /// The handler deferred the upgrade decision; reads wait.
    Deciding,
    Open,
    /// We sent a close frame and wait for the peer's.
    Closing,
    /// Our last bytes (close frame, HTTP response) are queued; once written, we shut down
    /// our side and linger.
    Flushing,
    /// Write side shut down: read and discard until the peer's EOF (so the kernel never
    /// answers unread data with a reset that could destroy our last bytes).
    Lingering,
}

pub(crate) const F_DIRTY: u8 = 1; // in the loop's flush list
pub(crate) const F_WANT_DRAIN: u8 = 2; // a send reported backpressure; fire drain when low
pub(crate) const F_PING_OUT: u8 = 4; // keepalive ping sent, no traffic since
pub(crate) const F_WAS_OPEN: u8 = 8; // on_open ran: on_close is owed
pub(crate) const F_PEER_CLOSED: u8 = 16; // the peer's close frame arrived: nothing left to wait for

/// Bytes of an unfinished frame or request head.
pub(crate) struct InBuf {
    pub data: Vec<u8>,
    /// Payload bytes of the first frame in `data` already unmasked and UTF-8 checked.
    pub checked: usize,
    /// Bytes of `data` in use.
    pub filled: usize,
    /// For a frame too large for the scratch buffer: its whole length, and reads go
    /// straight into `data` until it is complete. 0 otherwise.
    pub want: usize,
}

/// A fragmented message being joined.
pub(crate) struct Fragmented {
    pub text: bool,
    /// permessage-deflate: `data` holds compressed bytes, inflated when the message ends.
    pub compressed: bool,
    pub data: Vec<u8>,
}

/// An upgrade waiting for the application's decision.
pub(crate) struct PendingUpgrade {
    pub request: Request,
    pub accept_key: String,
}

pub(crate) struct Connection {
    pub sock: TcpStream,
    pub tls: Option<Box<rustls::ServerConnection>>,
    /// The generation of the id this connection was given.
    pub generation: u32,
    pub state: State,
    pub flags: u8,
    /// Loop clock (ms) of the last byte received.
    pub last_rx: u32,
    /// Loop clock (ms) when the current state began (accept, close start).
    pub since: u32,
    /// UTF-8 state of the text message being received (across frames and reads).
    pub utf8: Utf8State,
    pub inbuf: Option<Box<InBuf>>,
    pub frag: Option<Box<Fragmented>>,
    pub out: Option<Box<OutQueue>>,
    pub request: Option<Arc<Request>>,
    pub upgrade: Option<Box<PendingUpgrade>>,
    pub close: Option<Box<CloseInfo>>,
    pub user_data: Option<Box<dyn Any + Send>>,
    /// permessage-deflate state, when negotiated.
    pub deflate: Option<Box<ConnDeflate>>,
}

impl Connection {
    pub fn new(sock: TcpStream, tls: Option<Box<rustls::ServerConnection>>, generation: u32, now: u32) -> Connection {
        Connection {
            sock,
            tls,
            generation,
            state: State::Handshake,
            flags: 0,
            last_rx: now,
            since: now,
            utf8: Utf8State::default(),
            inbuf: None,
            frag: None,
            out: None,
            request: None,
            upgrade: None,
            close: None,
            user_data: None,
            deflate: None,
        }
    }

    pub fn buffered(&self) -> usize {
        self.out.as_ref().map_or(0, |o| o.len())
    }

    pub fn out(&mut self) -> &mut OutQueue {
        self.out.get_or_insert_with(Default::default)
    }

    /// Reads plaintext. `Ok(0)` is the end of the stream.
    pub fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_mut() else {
            return loop {
                match self.sock.read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r,
                }
            };
        };
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            match tls.read_tls(&mut self.sock) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    if let Err(e) = tls.process_new_packets() {
                        // Tell the peer why (alert), best effort, then fail the connection.
                        let _ = tls.write_tls(&mut NoSigPipe(&self.sock));
                        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes queued bytes. `Ok(true)`: nothing is left to write.
    pub fn flush(&mut self) -> io::Result<bool> {
        let Some(tls) = self.tls.as_mut() else {
            return match self.out.as_mut() {
                None => Ok(true),
                Some(q) => q.flush_to(&mut NoSigPipe(&self.sock)),
            };
        };
        loop {
            while tls.wants_write() {
                match tls.write_tls(&mut NoSigPipe(&self.sock)) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let Some(q) = self.out.as_mut().filter(|q| !q.is_empty()) else { return Ok(true) };
            if tls.is_handshaking() {
                return Ok(false);
            }
            // Feed the encrypter in slices, so the TLS buffer stays small and the rest
            // stays in our queue where it is counted.
            let mut w = tls.writer();
            q.drain_into(64 << 10, |b| std::io::Write::write(&mut w, b).unwrap_or(0));
        }
    }
}

/// Writes to a connection's socket without ever raising SIGPIPE: `write` is std's
/// `send(…, MSG_NOSIGNAL)` already, and `write_vectored` (the outbound queue, rustls'
/// `write_tls`) becomes `sendmsg(…, MSG_NOSIGNAL)` instead of `writev`, or `send` for a
/// single slice (the usual case: the replies of one turn, coalesced), which skips
/// copying a message header and iovec in. A C host, or a Go program whose loops run on
/// their own threads, that does not ignore SIGPIPE would otherwise be killed by a write
/// to a connection the peer has reset. (writev's file layer cost ~0.1 µs per 32 B echo in
/// perf; neither path pays it.)
struct NoSigPipe<'a>(&'a TcpStream);

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd", target_os = "netbsd", target_os = "openbsd"))]
const NO_SIGNAL: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd", target_os = "netbsd", target_os = "openbsd")))]
const NO_SIGNAL: libc::c_int = 0;

impl Write for NoSigPipe<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match bufs {
            [one] => self.write(one),
            _ => SockRef::from(self.0).send_vectored_with_flags(bufs, NO_SIGNAL),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In a child process with SIGPIPE at its default action (what a C host has), a
    /// vectored write to a socket that can no longer send must fail with EPIPE rather than
    /// kill the process. (The Rust test harness ignores SIGPIPE, hence the child.)
    #[test]
    fn vectored_writes_never_raise_sigpipe() {
        const CHILD: &str = "WEBSOCK_SIGPIPE_CHILD";
        if std::env::var_os(CHILD).is_some() {
            // SAFETY: restoring a default signal disposition in this single-test child.
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let _client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (s, _) = l.accept().unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let s = TcpStream::from_std(s);
            let bufs = [IoSlice::new(b"two "), IoSlice::new(b"chunks")];
            let e = NoSigPipe(&s).write_vectored(&bufs).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EPIPE));
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "conn::tests::vectored_writes_never_raise_sigpipe", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "child ended with {:?}: {}", out.status, String::from_utf8_lossy(&out.stdout));
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"), "the child ran the test");
    }
}
