//! The server's log: `tracing` events written as text lines, or as JSON lines when `log.format`
//! is `json` or `log.output` names a file (what log shippers read), at `log.level`.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing::level_filters::LevelFilter;

use crate::config::{LogConfig, LogLevel, LogOutput};

/// Installs the process's log writer. Fails when the output file cannot be opened.
pub fn init(log: &LogConfig) -> Result<(), String> {
    let level = match log.level {
        LogLevel::Trace => LevelFilter::TRACE,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Off => LevelFilter::OFF,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false);
    let installed = match (&log.output, log.writes_json()) {
        (LogOutput::Stdout, false) => builder.with_writer(std::io::stdout).try_init(),
        (LogOutput::Stdout, true) => builder.json().with_writer(std::io::stdout).try_init(),
        (LogOutput::File(path), _) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| format!("log.output: cannot open {}: {error}", path.display()))?;
            builder.json().with_writer(Mutex::new(file)).try_init()
        }
    };
    // A second install (tests that serve twice in one process) keeps the first; not an error.
    let _ = installed;
    Ok(())
}
