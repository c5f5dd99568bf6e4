//! Why the runtime could not start or did not stop cleanly.

use std::error::Error;
use std::fmt;
use std::io;
use std::net::SocketAddr;

/// What a core's start hook returns when the core cannot serve (a store that does not open).
pub type StartError = Box<dyn Error + Send + Sync>;

#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// The configuration cannot work (no threads, an accept mode this platform cannot balance).
    InvalidConfig { reason: &'static str },
    /// A listening socket could not be created or bound.
    Bind {
        address: SocketAddr,
        source: io::Error,
    },
    /// An operating-system resource the runtime needs (a thread, a wake socket, the signal
    /// handler) could not be had.
    Setup {
        what: &'static str,
        source: io::Error,
    },
    /// A core could not build its driver; with [`DriverChoice::IoUring`](super::DriverChoice)
    /// this is where an unavailable io_uring shows.
    Driver { core: usize, source: io::Error },
    /// A core's start hook failed.
    CoreStart { core: usize, source: StartError },
    /// A thread panicked; the others were shut down.
    Panicked { thread: String },
}

impl fmt::Display for RunError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::InvalidConfig { reason } => {
                write!(formatter, "invalid runtime setup: {reason}")
            }
            RunError::Bind { address, source } => {
                write!(formatter, "cannot listen on {address}: {source}")
            }
            RunError::Setup { what, source } => write!(formatter, "cannot set up {what}: {source}"),
            RunError::Driver { core, source } => {
                write!(
                    formatter,
                    "core {core}: cannot build the I/O driver: {source}"
                )
            }
            RunError::CoreStart { core, source } => {
                write!(formatter, "core {core}: cannot start: {source}")
            }
            RunError::Panicked { thread } => write!(formatter, "thread {thread} panicked"),
        }
    }
}

impl Error for RunError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            RunError::Bind { source, .. }
            | RunError::Setup { source, .. }
            | RunError::Driver { source, .. } => Some(source),
            RunError::CoreStart { source, .. } => Some(source.as_ref()),
            RunError::InvalidConfig { .. } | RunError::Panicked { .. } => None,
        }
    }
}
