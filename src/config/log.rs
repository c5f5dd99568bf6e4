//! The `log` section: the level, where lines go, and (this build's own key) their format.

use std::path::PathBuf;

use crate::config::error::{ConfigError, ConfigWarning};
use crate::config::keys;
use crate::config::object::{Field, Section};

/// `log`: what the server logs and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// `log.level` (zot's default when a config file leaves it out: debug).
    pub level: LogLevel,
    /// `log.output`: a file to append to, or standard output when absent or empty (zot's
    /// default).
    pub output: LogOutput,
    /// `log.format`: this build's own key (zot always writes JSON); `text` by default.
    pub format: LogFormat,
}

/// `log.level`. zot takes zerolog's level names, ignoring case; `fatal` and `panic` log errors
/// only here, and `disabled` turns logging off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `trace`.
    Trace,
    /// `debug`: also one line per request.
    Debug,
    /// `info`.
    Info,
    /// `warn`.
    Warn,
    /// `error`, `fatal` or `panic`.
    Error,
    /// `disabled`.
    Off,
}

/// `log.output`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogOutput {
    /// Standard output.
    Stdout,
    /// Append to this file, creating it.
    File(PathBuf),
}

/// `log.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// `"text"`: human-readable lines.
    Text,
    /// `"json"`: one JSON object per line.
    Json,
}

impl LogConfig {
    /// The defaults zot applies to a config file without a `log` section.
    pub fn zot_default() -> LogConfig {
        LogConfig {
            level: LogLevel::Debug,
            output: LogOutput::Stdout,
            format: LogFormat::Text,
        }
    }

    /// Whether lines are written as JSON: when `log.format` says so or when they go to a file
    /// (issue 4), where zot's JSON lines are what log collectors expect.
    pub fn writes_json(&self) -> bool {
        self.format == LogFormat::Json || matches!(self.output, LogOutput::File(_))
    }

    pub(crate) fn parse(
        mut section: Section<'_>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<LogConfig, ConfigError> {
        let mut log = LogConfig::zot_default();
        if let Some(taken) = section.take("level") {
            log.level = level(taken.field())?;
        }
        if let Some(taken) = section.take("output") {
            let text = taken.field().string()?;
            log.output = if text.is_empty() {
                LogOutput::Stdout
            } else if text.contains('\0') {
                return Err(taken
                    .field()
                    .invalid("is not a file: the path holds a NUL byte"));
            } else {
                LogOutput::File(PathBuf::from(text))
            };
        }
        if let Some(taken) = section.take("format") {
            log.format = match taken.field().string()? {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(taken.field().invalid("is not a log format (text or json)")),
            };
        }
        section.finish(keys::LOG, warnings)?;
        Ok(log)
    }
}

fn level(field: Field<'_, '_>) -> Result<LogLevel, ConfigError> {
    let text = field.string()?;
    let level = match text.to_ascii_lowercase().as_str() {
        "trace" => LogLevel::Trace,
        "debug" => LogLevel::Debug,
        "info" => LogLevel::Info,
        "warn" => LogLevel::Warn,
        "error" | "fatal" | "panic" => LogLevel::Error,
        "disabled" => LogLevel::Off,
        _ => {
            return Err(field.invalid(
                "is not a log level (trace, debug, info, warn, error, fatal, panic or disabled)",
            ));
        }
    };
    Ok(level)
}
