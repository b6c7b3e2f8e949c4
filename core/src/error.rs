//! The one error type of the crate. Bindings map it in exactly one place each
//! (a C result code, a Python exception class, a Node `code`, a Go sentinel).

use std::fmt;
use std::io;

/// Everything that can go wrong in a call to the library.
#[derive(Debug)]
pub enum Error {
    /// The id names no live connection (closed, never existed, or from another server).
    UnknownConnection,
    /// The server has been shut down (or is shutting down) and takes no more work.
    ServerClosed,
    /// An argument was rejected; the message says which and why.
    InvalidArgument(String),
    /// TLS configuration could not be loaded (certificate or key).
    Tls(String),
    /// An operating-system error (bind, listen, fd adoption …).
    Io(io::Error),
}

impl Error {
    /// A short stable name for the error kind ("unknown_connection", …), used by bindings
    /// as error codes.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Error::UnknownConnection => "unknown_connection",
            Error::ServerClosed => "server_closed",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::Tls(_) => "tls",
            Error::Io(_) => "io",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownConnection => f.write_str("no such connection (closed or never opened)"),
            Error::ServerClosed => f.write_str("the server is shut down"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::Tls(m) => write!(f, "TLS configuration: {m}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;
