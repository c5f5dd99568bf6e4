//! The `runtime` section, this build's own (zot has none): how many runtime threads to run and
//! which I/O driver they use.

use std::num::NonZeroUsize;

use serde_json::Value;

use crate::config::error::{ConfigError, ConfigWarning};
use crate::config::keys;
use crate::config::object::{Field, Section, wrong_type};
use crate::limits::RUNTIME_THREADS_MAX;

/// `runtime`: the thread-per-core layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// `runtime.threads`: runtime threads, each with its own runtime and listener. Default: one
    /// per available core, at most [`RUNTIME_THREADS_MAX`].
    pub threads: NonZeroUsize,
    /// `runtime.driver` (default `auto`).
    pub driver: Driver,
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
            let name = taken.field().string()?;
            runtime.driver = [Driver::Auto, Driver::IoUring, Driver::Legacy]
                .into_iter()
                .find(|driver| driver.name() == name)
                .ok_or_else(|| {
                    taken
                        .field()
                        .invalid("is not a driver (auto, io_uring or legacy)")
                })?;
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
