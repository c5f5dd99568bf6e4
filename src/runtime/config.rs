//! What the runtime needs to start: thread count, driver, listen address, accept mode, limits.

use std::net::SocketAddr;
use std::time::Duration;

use super::driver::DriverChoice;
use super::platform;
use crate::limits::CONNECTIONS_PER_CORE_DEFAULT;

/// Submission queue entries of each core's ring. Enough for every connection of a busy core to
/// have a read or write in flight; the ring is small (a few hundred KiB with its completion
/// queue), so it fits the default `RLIMIT_MEMLOCK` of older kernels that charge it there. The
/// legacy driver uses the same number as its event batch size.
pub const IO_URING_ENTRIES_DEFAULT: u32 = 1024;

/// How long in-flight connections may keep running after shutdown starts. Long enough for a
/// request that is mid-way to finish, short enough that an orchestrator's stop timeout (Kubernetes
/// gives 30 s by default) is not reached.
pub const GRACE_DEFAULT: Duration = Duration::from_secs(10);

/// How connections reach the cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptMode {
    /// Each core binds its own `SO_REUSEPORT` listener on the address and the kernel spreads
    /// connections over them. Linux only: elsewhere `SO_REUSEPORT` does not balance.
    ReusePort,
    /// One acceptor thread accepts every connection and hands them to the cores round-robin.
    SingleAcceptor,
}

impl AcceptMode {
    /// `ReusePort` on Linux, `SingleAcceptor` elsewhere.
    pub fn platform_default() -> AcceptMode {
        platform::ACCEPT_MODE_DEFAULT
    }
}

/// Settings for [`Server::bind`](super::Server::bind). Build with [`RuntimeConfig::new`], then
/// change the public fields.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Address every core serves. Port 0 picks a free port once; all cores share it.
    pub listen: SocketAddr,
    /// Number of core threads, at least 1.
    pub threads: usize,
    /// Which I/O driver each core runs.
    pub driver: DriverChoice,
    /// How connections reach the cores.
    pub accept: AcceptMode,
    /// Time in-flight connections get to finish once shutdown starts.
    pub grace: Duration,
    /// Submission queue entries of each core's io_uring.
    pub io_uring_entries: u32,
    /// Open connections one core serves at once, at least 1: past it the core stops accepting
    /// (with an acceptor thread, it closes what it is handed) until one closes.
    pub connections_per_core_max: usize,
    /// Whether SIGTERM and SIGINT start shutdown. Tests that run several servers in one process
    /// turn it off and use [`Shutdown::trigger`](super::Shutdown::trigger).
    pub handle_signals: bool,
}

impl RuntimeConfig {
    /// One thread per available core, the automatic driver, the platform's accept mode, the
    /// default grace period and ring size, signals handled.
    pub fn new(listen: SocketAddr) -> RuntimeConfig {
        let threads = std::thread::available_parallelism().map_or(1, |count| count.get());
        RuntimeConfig {
            listen,
            threads,
            driver: DriverChoice::Auto,
            accept: AcceptMode::platform_default(),
            grace: GRACE_DEFAULT,
            io_uring_entries: IO_URING_ENTRIES_DEFAULT,
            connections_per_core_max: CONNECTIONS_PER_CORE_DEFAULT,
            handle_signals: true,
        }
    }
}
