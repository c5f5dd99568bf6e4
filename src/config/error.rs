//! What loading a config can report: the errors that stop start-up and the warnings that do not.
//! Every message names the key path (`http.port`, `storage.subPaths["/a"].dedupe`) and fits on
//! one line, because `zot serve` and `zot verify` print one line per problem.

use std::fmt;
use std::path::PathBuf;

use crate::config::DIST_SPEC_VERSION;

/// Why a config cannot be used. `zot serve` and `zot verify` exit with status 2 on any of these.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be opened or read.
    Read {
        /// The config file as given on the command line.
        file: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is larger than [`crate::limits::CONFIG_FILE_BYTES_MAX`].
    TooLarge {
        /// The most bytes a config file may hold.
        bytes_max: usize,
    },
    /// The text is not JSON.
    Syntax {
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column of the first error.
        column: usize,
        /// The parser's description, without the position.
        message: String,
    },
    /// A key that must be present is absent.
    Missing {
        /// The key path, e.g. `storage.rootDirectory`.
        path: String,
    },
    /// A value has the wrong JSON type.
    WrongType {
        /// The key path.
        path: String,
        /// What the key takes, e.g. `a boolean`.
        expected: &'static str,
        /// The value found, as JSON, shortened.
        found: String,
    },
    /// A value has the right type but is not allowed.
    InvalidValue {
        /// The key path.
        path: String,
        /// Why, naming the value, e.g. `"abc" is not a port number`.
        reason: String,
    },
    /// The same key appears twice in one object once case is ignored (zot matches keys without
    /// regard to case, so `port` and `Port` are the same key and one would be lost).
    DuplicateKey {
        /// The key path of the second occurrence.
        path: String,
    },
    /// A zot setting this build does not implement and cannot safely ignore, because serving
    /// without it would expose the registry (authentication, authorization, TLS).
    Unsupported {
        /// The key path.
        path: String,
        /// What ignoring it would do.
        reason: &'static str,
    },
}

impl ConfigError {
    /// The key path the error is about, when it is about one key.
    pub fn path(&self) -> Option<&str> {
        match self {
            ConfigError::Missing { path }
            | ConfigError::WrongType { path, .. }
            | ConfigError::InvalidValue { path, .. }
            | ConfigError::DuplicateKey { path }
            | ConfigError::Unsupported { path, .. } => Some(path),
            ConfigError::Read { .. }
            | ConfigError::TooLarge { .. }
            | ConfigError::Syntax { .. } => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { file, source } => {
                write!(formatter, "cannot read {}: {source}", file.display())
            }
            ConfigError::TooLarge { bytes_max } => {
                write!(
                    formatter,
                    "the file is larger than {bytes_max} bytes, the most a config may hold"
                )
            }
            ConfigError::Syntax {
                line,
                column,
                message,
            } => {
                write!(
                    formatter,
                    "not valid JSON at line {line} column {column}: {message}"
                )
            }
            ConfigError::Missing { path } => write!(formatter, "{path}: is required"),
            ConfigError::WrongType {
                path,
                expected,
                found,
            } => {
                write!(formatter, "{path}: expected {expected}, found {found}")
            }
            ConfigError::InvalidValue { path, reason } => write!(formatter, "{path}: {reason}"),
            ConfigError::DuplicateKey { path } => write!(
                formatter,
                "{path}: given twice (keys are matched without regard to case, as zot does)"
            ),
            ConfigError::Unsupported { path, reason } => write!(
                formatter,
                "{path}: zot setting not implemented by this build, and ignoring it would {reason}"
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A problem that does not stop start-up but must not pass silently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The key path, e.g. `http.auth`.
    pub path: String,
    /// What is wrong with it.
    pub kind: WarningKind,
}

/// The kinds of [`ConfigWarning`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// zot reads this key; this build does not implement it and ignores it.
    NotImplemented,
    /// Neither zot nor this build knows this key (zot itself refuses such a file).
    Unknown,
    /// `distSpecVersion` names another version than the one served; like zot, this build serves
    /// its own version regardless.
    DistSpecVersion {
        /// The version the file names.
        configured: String,
    },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.path;
        match &self.kind {
            WarningKind::NotImplemented => {
                write!(
                    formatter,
                    "{path}: zot setting not implemented by this build; ignored"
                )
            }
            WarningKind::Unknown => write!(
                formatter,
                "{path}: unknown key (neither zot nor this build reads it); ignored"
            ),
            WarningKind::DistSpecVersion { configured } => write!(
                formatter,
                "{path}: {configured:?} differs from the distribution-spec version this build \
                 serves; serving {DIST_SPEC_VERSION}"
            ),
        }
    }
}
