//! zot's JSON configuration, read with zot's key names, defaults and leniencies, into typed
//! structs; plus this build's own `runtime` section.
//!
//! Loading never ignores a key silently: keys this build does not implement and keys nobody
//! knows come back as [`ConfigWarning`]s, one per key; invalid values stop loading with a
//! [`ConfigError`] that names the key path and the reason.
//!
//! Two sets of defaults exist. A config file gets zot's (`config.New()` in zot's
//! `pkg/api/config/config.go`): listen on 127.0.0.1:8080, log at debug, dedupe on. `zot serve`
//! without a file gets [`Config::embedded_default`]: 127.0.0.1:5000, `./zot-data`, info.

mod error;
mod http;
mod keys;
mod log;
mod object;
mod runtime;
mod storage;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use self::error::{ConfigError, ConfigWarning, WarningKind};
pub use self::http::{ADDRESS_DEFAULT, Compatibility, HttpConfig, PORT_DEFAULT};
pub use self::log::{LogConfig, LogFormat, LogLevel, LogOutput};
use self::object::Section;
pub use self::runtime::{Accept, Driver, RuntimeConfig};
pub use self::storage::{StorageConfig, SubPathConfig};
use crate::limits::CONFIG_FILE_BYTES_MAX;

/// The distribution-spec version this build serves, reported as `distSpecVersion`.
pub const DIST_SPEC_VERSION: &str = "1.1.1";

/// Exit status of `zot serve` and `zot verify` when the config cannot be used.
pub const EXIT_CODE_INVALID: u8 = 2;

/// Port of the embedded default config.
pub const EMBEDDED_PORT: u16 = 5000;

/// Storage root of the embedded default config, relative to the working directory.
pub const EMBEDDED_ROOT_DIRECTORY: &str = "./zot-data";

/// A whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The distribution-spec version served. Always [`DIST_SPEC_VERSION`]: like zot, a config
    /// naming another version gets a warning and this one.
    pub dist_spec_version: String,
    /// `storage`.
    pub storage: StorageConfig,
    /// `http`.
    pub http: HttpConfig,
    /// `log`.
    pub log: LogConfig,
    /// `runtime`.
    pub runtime: RuntimeConfig,
}

/// A config read from JSON and what loading it had to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: Config,
    /// One entry per key that was not applied as written, in no promised order.
    pub warnings: Vec<ConfigWarning>,
}

impl Config {
    /// What `zot serve` runs on without a config file: 127.0.0.1:5000, storage in `./zot-data`
    /// (relative to the working directory), info logging to standard output, dedupe on, one
    /// runtime thread per core.
    pub fn embedded_default() -> Config {
        Config {
            dist_spec_version: DIST_SPEC_VERSION.to_owned(),
            storage: StorageConfig {
                root_directory: PathBuf::from(EMBEDDED_ROOT_DIRECTORY),
                dedupe: true,
                commit: false,
                sub_paths: BTreeMap::new(),
            },
            http: HttpConfig {
                port: EMBEDDED_PORT,
                ..HttpConfig::zot_default()
            },
            log: LogConfig {
                level: LogLevel::Info,
                ..LogConfig::zot_default()
            },
            runtime: RuntimeConfig::default_for_this_machine(),
        }
    }

    /// Reads and checks the config file at `file`.
    pub fn load(file: &Path) -> Result<LoadedConfig, ConfigError> {
        let read_error = |source| ConfigError::Read {
            file: file.to_path_buf(),
            source,
        };
        let opened = std::fs::File::open(file).map_err(read_error)?;
        // Read one byte past the limit rather than trusting the file's length, so that pipes and
        // files that grow while being read are bounded too.
        let mut bytes = Vec::new();
        let read_bytes_max = u64::try_from(CONFIG_FILE_BYTES_MAX).unwrap_or(u64::MAX);
        opened
            .take(read_bytes_max.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() > CONFIG_FILE_BYTES_MAX {
            return Err(ConfigError::TooLarge {
                bytes_max: CONFIG_FILE_BYTES_MAX,
            });
        }
        Config::parse_bytes(&bytes)
    }

    /// Checks config text, as [`Config::load`] does a file's.
    pub fn parse(text: &str) -> Result<LoadedConfig, ConfigError> {
        Config::parse_bytes(text.as_bytes())
    }

    fn parse_bytes(bytes: &[u8]) -> Result<LoadedConfig, ConfigError> {
        if bytes.len() > CONFIG_FILE_BYTES_MAX {
            return Err(ConfigError::TooLarge {
                bytes_max: CONFIG_FILE_BYTES_MAX,
            });
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|error| ConfigError::Syntax {
            line: error.line(),
            column: error.column(),
            message: syntax_message(&error),
        })?;
        Config::from_value(&value)
    }

    /// Checks an already parsed JSON document.
    pub fn from_value(value: &Value) -> Result<LoadedConfig, ConfigError> {
        let mut warnings = Vec::new();
        if !value.is_object() {
            return Err(object::wrong_type("(top level)", "an object", value));
        }
        let mut root = Section::new("", value)?;

        if let Some(taken) = root.take("distSpecVersion") {
            let configured = taken.field().string()?;
            if configured != DIST_SPEC_VERSION {
                warnings.push(ConfigWarning {
                    path: taken.path.clone(),
                    kind: WarningKind::DistSpecVersion {
                        configured: configured.to_owned(),
                    },
                });
            }
        }
        let storage = match root.take("storage") {
            Some(taken) => {
                StorageConfig::parse(Section::new(&taken.path, taken.value)?, &mut warnings)?
            }
            None => {
                return Err(ConfigError::Missing {
                    path: "storage.rootDirectory".to_owned(),
                });
            }
        };
        let http = match root.take("http") {
            Some(taken) => {
                HttpConfig::parse(Section::new(&taken.path, taken.value)?, &mut warnings)?
            }
            None => HttpConfig::zot_default(),
        };
        let log = match root.take("log") {
            Some(taken) => {
                LogConfig::parse(Section::new(&taken.path, taken.value)?, &mut warnings)?
            }
            None => LogConfig::zot_default(),
        };
        let runtime = match root.take("runtime") {
            Some(taken) => {
                RuntimeConfig::parse(Section::new(&taken.path, taken.value)?, &mut warnings)?
            }
            None => RuntimeConfig::default_for_this_machine(),
        };
        root.finish(keys::TOP_LEVEL, &mut warnings)?;

        let config = Config {
            dist_spec_version: DIST_SPEC_VERSION.to_owned(),
            storage,
            http,
            log,
            runtime,
        };
        Ok(LoadedConfig { config, warnings })
    }
}

/// serde_json's message without the " at line L column C" it appends, since
/// [`ConfigError::Syntax`] carries the position itself.
fn syntax_message(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

/// Loads `file` for the command line: writes one line per warning, or the error, to `stderr`
/// (prefixed with `command`, e.g. `zot verify`) and returns the config when it can be used.
/// `zot serve` and `zot verify` both go through here, so they say the same things.
pub fn load_reporting(
    command: &str,
    file: &Path,
    stderr: &mut dyn std::io::Write,
) -> Option<Config> {
    // A failed write to stderr leaves nowhere to report it; the exit status still tells.
    match Config::load(file) {
        Ok(LoadedConfig { config, warnings }) => {
            for warning in &warnings {
                let _ = writeln!(stderr, "{command}: warning: {}: {warning}", file.display());
            }
            Some(config)
        }
        Err(error @ ConfigError::Read { .. }) => {
            let _ = writeln!(stderr, "{command}: error: {error}");
            None
        }
        Err(error) => {
            let _ = writeln!(stderr, "{command}: error: {}: {error}", file.display());
            None
        }
    }
}
