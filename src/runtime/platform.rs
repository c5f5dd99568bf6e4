//! Everything that differs between Linux and other unixes: the io_uring runtime, the name of the
//! legacy poller, and which accept mode balances connections.

use std::future::Future;
use std::io;

use monoio::time::TimeDriver;
use monoio::{LegacyDriver, Runtime, RuntimeBuilder};

use super::config::AcceptMode;
use super::driver::DriverKind;

/// `SO_REUSEPORT` balances connections over listeners only on Linux.
#[cfg(target_os = "linux")]
pub(crate) const ACCEPT_MODE_DEFAULT: AcceptMode = AcceptMode::ReusePort;
#[cfg(not(target_os = "linux"))]
pub(crate) const ACCEPT_MODE_DEFAULT: AcceptMode = AcceptMode::SingleAcceptor;

/// Whether [`AcceptMode::ReusePort`] may be chosen here.
pub(crate) const REUSE_PORT_BALANCES: bool = cfg!(target_os = "linux");

#[cfg(target_os = "linux")]
pub(crate) const LEGACY_POLLER_NAME: &str = "epoll";
#[cfg(not(target_os = "linux"))]
pub(crate) const LEGACY_POLLER_NAME: &str = "kqueue";

/// One core's monoio runtime, whichever driver it runs. Timers are always on: the server needs
/// idle timeouts and the drain deadline.
pub(crate) enum CoreRuntime {
    #[cfg(target_os = "linux")]
    IoUring(Runtime<TimeDriver<monoio::IoUringDriver>>),
    Legacy(Runtime<TimeDriver<LegacyDriver>>),
}

impl CoreRuntime {
    pub(crate) fn kind(&self) -> DriverKind {
        match self {
            #[cfg(target_os = "linux")]
            CoreRuntime::IoUring(_) => DriverKind::IoUring,
            CoreRuntime::Legacy(_) => DriverKind::Legacy,
        }
    }

    pub(crate) fn block_on<F: Future>(&mut self, future: F) -> F::Output {
        match self {
            #[cfg(target_os = "linux")]
            CoreRuntime::IoUring(runtime) => runtime.block_on(future),
            CoreRuntime::Legacy(runtime) => runtime.block_on(future),
        }
    }
}

pub(crate) fn build_legacy(events_max: u32) -> io::Result<CoreRuntime> {
    let runtime = RuntimeBuilder::<LegacyDriver>::new()
        .with_entries(events_max)
        .enable_timer()
        .build()?;
    Ok(CoreRuntime::Legacy(runtime))
}

/// Ring setup flags, best first. COOP_TASKRUN stops the kernel interrupting the thread to run
/// completion work; SINGLE_ISSUER lets it skip locking for the one submitting thread;
/// DEFER_TASKRUN (6.1+, needs SINGLE_ISSUER) runs that work only when the thread waits for
/// completions. Older kernels reject unknown flags, so each weaker set is tried in turn.
#[cfg(target_os = "linux")]
#[derive(Clone, Copy, Debug)]
enum RingFlags {
    CoopSingleIssuerDeferTaskrun,
    CoopSingleIssuer,
    Plain,
}

#[cfg(target_os = "linux")]
impl RingFlags {
    const ALL: [RingFlags; 3] = [
        RingFlags::CoopSingleIssuerDeferTaskrun,
        RingFlags::CoopSingleIssuer,
        RingFlags::Plain,
    ];

    fn builder(self) -> io_uring::Builder {
        let mut builder = io_uring::IoUring::builder();
        match self {
            RingFlags::CoopSingleIssuerDeferTaskrun => {
                builder
                    .setup_coop_taskrun()
                    .setup_single_issuer()
                    .setup_defer_taskrun();
            }
            RingFlags::CoopSingleIssuer => {
                builder.setup_coop_taskrun().setup_single_issuer();
            }
            RingFlags::Plain => {}
        }
        builder
    }

    fn missing(self) -> &'static str {
        match self {
            RingFlags::CoopSingleIssuerDeferTaskrun => "",
            RingFlags::CoopSingleIssuer => "DEFER_TASKRUN",
            RingFlags::Plain => "COOP_TASKRUN, SINGLE_ISSUER and DEFER_TASKRUN",
        }
    }
}

/// Builds the ring the core will really use, with the configured size, trying each flag set
/// from best to plainest. Returns the runtime and, when flags had to be dropped, why; or the
/// error of the plainest attempt.
#[cfg(target_os = "linux")]
pub(crate) fn build_io_uring(entries: u32) -> io::Result<(CoreRuntime, Option<String>)> {
    // Why the best flag set failed: the reason logged when a weaker one works.
    let mut best_error: Option<io::Error> = None;
    let mut last_error: Option<io::Error> = None;
    for flags in RingFlags::ALL {
        let built = RuntimeBuilder::<monoio::IoUringDriver>::new()
            .with_entries(entries)
            .uring_builder(flags.builder())
            .enable_timer()
            .build();
        match built {
            Ok(runtime) => {
                let downgrade = best_error
                    .map(|error| format!("io_uring without {}: {error}", flags.missing()));
                return Ok((CoreRuntime::IoUring(runtime), downgrade));
            }
            Err(error) if best_error.is_none() => best_error = Some(error),
            Err(error) => last_error = Some(error),
        }
    }
    // Every flag set failed, the plain ring too: io_uring is unusable here.
    Err(last_error
        .or(best_error)
        .expect("RingFlags::ALL is not empty"))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn build_io_uring(_entries: u32) -> io::Result<(CoreRuntime, Option<String>)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "io_uring exists only on Linux",
    ))
}

/// Allocations at least this large get their own mapping, returned to the system when freed.
/// Upload buffers (`UPLOAD_BUFFER_BYTES`, 1 MiB) are above it.
pub const ALLOCATOR_MAPPING_THRESHOLD_BYTES: usize = 128 * 1024;

/// Fixes glibc's mmap threshold. glibc raises it after each large free (up to 32 MiB), after
/// which upload buffers come from the heap and, freed, stay in it: the server's peak memory then
/// grows with every large upload it has seen (measured: 37.6 MiB after zb's seven 100 MB tests at
/// `-c 16`, 26.3 MiB with the threshold fixed). Elsewhere (musl, macOS) there is nothing to fix.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn fix_allocator_mapping_threshold() {
    let threshold =
        libc::c_int::try_from(ALLOCATOR_MAPPING_THRESHOLD_BYTES).expect("128 KiB fits a c_int");
    // SAFETY: mallopt only changes the allocator's tuning; it is called before the cores start,
    // and glibc's mallopt takes the arena locks itself.
    let changed = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) };
    // 0 would mean glibc refused a value it documents as valid: a programmer error here.
    assert_eq!(changed, 1, "mallopt(M_MMAP_THRESHOLD) accepted 128 KiB");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn fix_allocator_mapping_threshold() {}
