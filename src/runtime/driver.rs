//! Choosing and building each core's I/O driver: io_uring when it can be built, else the legacy
//! poller (epoll on Linux, kqueue on macOS).

use std::fmt;
use std::io;

use super::platform::{self, CoreRuntime};

/// Which driver the configuration asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverChoice {
    /// io_uring if the ring can be built with the configured size, else the legacy poller.
    Auto,
    /// io_uring or a start-up error: never falls back silently.
    IoUring,
    /// The legacy poller, even where io_uring works (CI runs every test on both).
    Legacy,
}

/// Which driver a core really runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverKind {
    IoUring,
    Legacy,
}

impl fmt::Display for DriverKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverKind::IoUring => formatter.write_str("io_uring"),
            DriverKind::Legacy => write!(formatter, "legacy ({})", platform::LEGACY_POLLER_NAME),
        }
    }
}

/// The driver one core runs and, when it is not the best one asked for, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreDriver {
    pub kind: DriverKind,
    /// Set when the core runs less than asked: io_uring without some setup flags, or the legacy
    /// poller because the ring could not be built under [`DriverChoice::Auto`]. The server logs it.
    pub downgrade: Option<String>,
}

impl fmt::Display for CoreDriver {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.downgrade {
            None => write!(formatter, "{}", self.kind),
            Some(reason) => write!(formatter, "{} ({reason})", self.kind),
        }
    }
}

/// Builds the runtime for the calling thread, which must be the thread that will run it: the
/// ring is created with SINGLE_ISSUER, so only its creator may submit.
pub(crate) fn build(
    choice: DriverChoice,
    io_uring_entries: u32,
) -> io::Result<(CoreRuntime, CoreDriver)> {
    match choice {
        DriverChoice::Legacy => {
            let runtime = platform::build_legacy(io_uring_entries)?;
            let driver = CoreDriver {
                kind: DriverKind::Legacy,
                downgrade: None,
            };
            Ok((runtime, driver))
        }
        DriverChoice::IoUring => {
            let (runtime, downgrade) = platform::build_io_uring(io_uring_entries)?;
            Ok((
                runtime,
                CoreDriver {
                    kind: DriverKind::IoUring,
                    downgrade,
                },
            ))
        }
        DriverChoice::Auto => match platform::build_io_uring(io_uring_entries) {
            Ok((runtime, downgrade)) => Ok((
                runtime,
                CoreDriver {
                    kind: DriverKind::IoUring,
                    downgrade,
                },
            )),
            Err(ring_error) => {
                let runtime = platform::build_legacy(io_uring_entries)?;
                let downgrade = Some(format!("io_uring unavailable: {ring_error}"));
                Ok((
                    runtime,
                    CoreDriver {
                        kind: DriverKind::Legacy,
                        downgrade,
                    },
                ))
            }
        },
    }
}
