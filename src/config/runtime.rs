//! The `runtime` section, this build's own (zot has none): how many runtime threads to run, which
//! I/O driver and accept mode they use, how many connections each may hold and how long they may
//! wait on a client, and whether deletes are served.

use std::num::NonZeroUsize;
use std::time::Duration;

use serde_json::Value;

use crate::config::error::{ConfigError, ConfigWarning};
use crate::config::keys;
use crate::config::object::{Field, Section, wrong_type};
use crate::limits::{
    CONNECTION_IDLE_TIMEOUT, CONNECTION_IDLE_TIMEOUT_MAX, CONNECTIONS_PER_CORE_DEFAULT,
    CONNECTIONS_PER_CORE_MAX, REQUEST_HEAD_TIMEOUT, REQUEST_HEAD_TIMEOUT_MAX, RUNTIME_THREADS_MAX,
};

/// `runtime`: the thread-per-core layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// `runtime.threads`: runtime threads, each with its own runtime and listener. Default: one
    /// per available core, at most [`RUNTIME_THREADS_MAX`].
    pub threads: NonZeroUsize,
    /// `runtime.driver` (default `auto`).
    pub driver: Driver,
    /// `runtime.accept` (default `auto`).
    pub accept: Accept,
    /// `runtime.connectionsPerCoreMax`: open connections one core serves at once; past it the
    /// core stops accepting until one closes. Default [`CONNECTIONS_PER_CORE_DEFAULT`].
    pub connections_per_core_max: usize,
    /// `runtime.idleTimeoutSeconds`: how long a connection may send nothing (between requests or
    /// mid-request) or take no response byte before it closes. Default
    /// [`CONNECTION_IDLE_TIMEOUT`], at most [`CONNECTION_IDLE_TIMEOUT_MAX`].
    pub idle_timeout: Duration,
    /// `runtime.headTimeoutSeconds`: how long a request head may take from its first byte to its
    /// end before the client gets 408 and the connection closes. Default
    /// [`REQUEST_HEAD_TIMEOUT`], at most [`REQUEST_HEAD_TIMEOUT_MAX`].
    pub head_timeout: Duration,
    /// `runtime.deletes` (default true): whether manifest, tag and blob deletes are served.
    /// When false they are answered 405 UNSUPPORTED, as distribution does with its
    /// `storage.delete.enabled: false`.
    pub deletes: bool,
}

/// `runtime.accept`: how connections reach the cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Accept {
    /// `"auto"`: one `SO_REUSEPORT` listener per core on Linux, one acceptor elsewhere.
    Auto,
    /// `"reuseport"`: one listener per core (Linux only; refused at start-up elsewhere).
    ReusePort,
    /// `"acceptor"`: one acceptor thread hands connections to the cores round-robin, the
    /// portable path, selectable on Linux so it is tested there.
    Acceptor,
}

impl Accept {
    /// The name written in a config.
    pub const fn name(self) -> &'static str {
        match self {
            Accept::Auto => "auto",
            Accept::ReusePort => "reuseport",
            Accept::Acceptor => "acceptor",
        }
    }
}

/// `runtime.driver`: the I/O driver of every runtime thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Driver {
    /// `"auto"`: io_uring when a ring can be built, else the legacy driver.
    Auto,
    /// `"io_uring"`: io_uring or nothing; start-up fails when no ring can be built.
    IoUring,
    /// `"legacy"`: epoll on Linux, kqueue on macOS.
    Legacy,
}

impl Driver {
    /// The name written in a config.
    pub const fn name(self) -> &'static str {
        match self {
            Driver::Auto => "auto",
            Driver::IoUring => "io_uring",
            Driver::Legacy => "legacy",
        }
    }
}

impl RuntimeConfig {
    /// One thread per available core, driver `auto`.
    pub fn default_for_this_machine() -> RuntimeConfig {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let threads =
            NonZeroUsize::new(cores.min(RUNTIME_THREADS_MAX)).unwrap_or(NonZeroUsize::MIN);
        RuntimeConfig {
            threads,
            driver: Driver::Auto,
            accept: Accept::Auto,
            connections_per_core_max: CONNECTIONS_PER_CORE_DEFAULT,
            idle_timeout: CONNECTION_IDLE_TIMEOUT,
            head_timeout: REQUEST_HEAD_TIMEOUT,
            deletes: true,
        }
    }

    pub(crate) fn parse(
        mut section: Section<'_>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<RuntimeConfig, ConfigError> {
        let mut runtime = RuntimeConfig::default_for_this_machine();
        if let Some(taken) = section.take("threads") {
            runtime.threads = threads(taken.field())?;
        }
        if let Some(taken) = section.take("driver") {
            runtime.driver = one_of(
                taken.field(),
                &[Driver::Auto, Driver::IoUring, Driver::Legacy],
                Driver::name,
                "is not a driver (auto, io_uring or legacy)",
            )?;
        }
        if let Some(taken) = section.take("accept") {
            runtime.accept = one_of(
                taken.field(),
                &[Accept::Auto, Accept::ReusePort, Accept::Acceptor],
                Accept::name,
                "is not an accept mode (auto, reuseport or acceptor)",
            )?;
        }
        if let Some(taken) = section.take("connectionsPerCoreMax") {
            runtime.connections_per_core_max = connections(taken.field())?;
        }
        if let Some(taken) = section.take("idleTimeoutSeconds") {
            runtime.idle_timeout = seconds(taken.field(), CONNECTION_IDLE_TIMEOUT_MAX)?;
        }
        if let Some(taken) = section.take("headTimeoutSeconds") {
            runtime.head_timeout = seconds(taken.field(), REQUEST_HEAD_TIMEOUT_MAX)?;
        }
        if let Some(taken) = section.take("deletes") {
            runtime.deletes = taken.field().boolean()?;
        }
        section.finish(keys::RUNTIME, warnings)?;
        Ok(runtime)
    }
}

fn threads(field: Field<'_, '_>) -> Result<NonZeroUsize, ConfigError> {
    let Value::Number(number) = field.value else {
        return Err(wrong_type(field.path, "a whole number", field.value));
    };
    let count = number.as_u64().ok_or_else(|| {
        field.invalid(format_args!(
            "is not a thread count (1 to {RUNTIME_THREADS_MAX})"
        ))
    })?;
    match usize::try_from(count).ok().and_then(NonZeroUsize::new) {
        Some(threads) if threads.get() <= RUNTIME_THREADS_MAX => Ok(threads),
        _ => Err(field.invalid(format_args!(
            "is not a thread count (1 to {RUNTIME_THREADS_MAX})"
        ))),
    }
}

/// The choice among `choices` whose config name (`name_of`) the string `field` holds.
fn one_of<T: Copy>(
    field: Field<'_, '_>,
    choices: &[T],
    name_of: fn(T) -> &'static str,
    why: &str,
) -> Result<T, ConfigError> {
    let name = field.string()?;
    choices
        .iter()
        .copied()
        .find(|choice| name_of(*choice) == name)
        .ok_or_else(|| field.invalid(why))
}

fn connections(field: Field<'_, '_>) -> Result<usize, ConfigError> {
    let Value::Number(number) = field.value else {
        return Err(wrong_type(field.path, "a whole number", field.value));
    };
    match number
        .as_u64()
        .and_then(|count| usize::try_from(count).ok())
    {
        Some(count) if (1..=CONNECTIONS_PER_CORE_MAX).contains(&count) => Ok(count),
        _ => Err(field.invalid(format_args!(
            "is not a connection count (1 to {CONNECTIONS_PER_CORE_MAX})"
        ))),
    }
}

/// A timeout in whole seconds, from 1 to `max`: zero would close every connection at once, and
/// fractions would suggest a precision the timers do not promise.
fn seconds(field: Field<'_, '_>, max: Duration) -> Result<Duration, ConfigError> {
    let Value::Number(number) = field.value else {
        return Err(wrong_type(field.path, "a whole number", field.value));
    };
    let max_seconds = max.as_secs();
    match number.as_u64() {
        Some(count) if (1..=max_seconds).contains(&count) => Ok(Duration::from_secs(count)),
        _ => Err(field.invalid(format_args!(
            "is not a timeout in seconds (1 to {max_seconds})"
        ))),
    }
}
