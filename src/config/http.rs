//! The `http` section: where to listen, the authentication realm, and the media-type
//! compatibility switches.

use std::net::IpAddr;

use serde_json::Value;

use crate::config::error::{ConfigError, ConfigWarning};
use crate::config::keys;
use crate::config::object::{Field, Section, wrong_type};

/// zot's `http.address` when a config file leaves it out (`config.New()`).
pub const ADDRESS_DEFAULT: &str = "127.0.0.1";

/// zot's `http.port` when a config file leaves it out (`config.New()`).
pub const PORT_DEFAULT: u16 = 8080;

/// Longest host name `http.address` may hold (RFC 1035: 253 characters written out).
const HOST_NAME_BYTES_MAX: usize = 253;

/// Longest label of a host name (RFC 1035).
const HOST_LABEL_BYTES_MAX: usize = 63;

/// `http`: the listening socket and what the API accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// `http.address`: an IP address or a host name to listen on. Empty means every interface,
    /// as in zot (Go's `net.Listen` with an empty host).
    pub address: String,
    /// `http.port`: the TCP port. Written as a string or a number, as zot accepts. 0 asks the
    /// operating system for a free port, as in zot (its `examples/config-autoport.json`); the
    /// server must then bind once and share that port among its listeners.
    pub port: u16,
    /// `http.realm`: the realm named in `WWW-Authenticate` challenges (default empty).
    pub realm: String,
    /// `http.compat`: non-OCI media types the registry accepts. `None` when the key is absent;
    /// see [`HttpConfig::accepts_docker_manifests`].
    pub compat: Option<Vec<Compatibility>>,
}

/// One `http.compat` entry. zot knows exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Compatibility {
    /// `"docker2s2"`: Docker image manifest v2 schema 2 and Docker manifest lists.
    DockerManifestV2Schema2,
}

impl Compatibility {
    /// The name written in a config.
    pub const fn name(self) -> &'static str {
        match self {
            Compatibility::DockerManifestV2Schema2 => "docker2s2",
        }
    }

    fn from_name(name: &str) -> Option<Compatibility> {
        [Compatibility::DockerManifestV2Schema2]
            .into_iter()
            .find(|compatibility| compatibility.name() == name)
    }
}

impl HttpConfig {
    /// The defaults zot applies to a config file without an `http` section.
    pub fn zot_default() -> HttpConfig {
        HttpConfig {
            address: ADDRESS_DEFAULT.to_owned(),
            port: PORT_DEFAULT,
            realm: String::new(),
            compat: None,
        }
    }

    /// Whether Docker v2 schema 2 manifests and manifest lists are accepted: by default (no
    /// `http.compat` key), or when `http.compat` lists `docker2s2`. An explicit list without it,
    /// such as `[]`, turns them off (issue 4: answered with 415).
    pub fn accepts_docker_manifests(&self) -> bool {
        self.compat
            .as_ref()
            .is_none_or(|compat| compat.contains(&Compatibility::DockerManifestV2Schema2))
    }

    pub(crate) fn parse(
        mut section: Section<'_>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<HttpConfig, ConfigError> {
        let mut http = HttpConfig::zot_default();
        if let Some(taken) = section.take("address") {
            http.address = address(taken.field())?;
        }
        if let Some(taken) = section.take("port") {
            http.port = port(taken.field())?;
        }
        if let Some(taken) = section.take("realm") {
            http.realm = taken.field().string()?.to_owned();
        }
        if let Some(taken) = section.take("compat") {
            http.compat = Some(compat(taken.field())?);
        }
        section.finish(keys::HTTP, warnings)?;
        Ok(http)
    }
}

fn address(field: Field<'_, '_>) -> Result<String, ConfigError> {
    let text = field.string()?;
    if text.is_empty() || text.parse::<IpAddr>().is_ok() || is_host_name(text) {
        return Ok(text.to_owned());
    }
    if text.starts_with('[') && text.ends_with(']') {
        return Err(field.invalid("is not an address: write IPv6 addresses without brackets"));
    }
    if text.contains(':') {
        return Err(field.invalid("is not an address: give the port in http.port"));
    }
    Err(field.invalid("is not an IP address or a host name"))
}

/// RFC 1123 host name syntax: dot-separated labels of letters, digits and inner hyphens.
fn is_host_name(text: &str) -> bool {
    let name = text.strip_suffix('.').unwrap_or(text);
    !name.is_empty()
        && name.len() <= HOST_NAME_BYTES_MAX
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= HOST_LABEL_BYTES_MAX
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        })
}

/// zot reads the port as a string of decimal digits from 0 to 65535 (it converts a JSON number
/// to that string first).
fn port(field: Field<'_, '_>) -> Result<u16, ConfigError> {
    let parsed = match field.value {
        Value::String(text) => {
            let digits = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
            // Leading zeros are allowed (zot's ParseInt allows them); the digit count is not
            // bounded by the check above, so parse into a wide type and let overflow fail.
            if digits {
                text.parse::<u64>().ok()
            } else {
                None
            }
        }
        Value::Number(number) => number.as_u64(),
        other => return Err(wrong_type(field.path, "a port number", other)),
    };
    match parsed.map(u16::try_from) {
        Some(Ok(port)) => Ok(port),
        _ => Err(field.invalid("is not a port number (0 to 65535)")),
    }
}

/// A list of compatibility names; a single string is read as a list of one, as zot's decoder
/// does.
fn compat(field: Field<'_, '_>) -> Result<Vec<Compatibility>, ConfigError> {
    let names: Vec<(String, &Value)> = match field.value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| (format!("{}[{index}]", field.path), item))
            .collect(),
        Value::String(_) => vec![(field.path.to_owned(), field.value)],
        other => return Err(wrong_type(field.path, "a list of strings", other)),
    };
    let mut compat = Vec::with_capacity(names.len());
    for (path, value) in &names {
        let item = Field { path, value };
        let name = item.string()?;
        let Some(compatibility) = Compatibility::from_name(name) else {
            return Err(item.invalid(format_args!(
                "is not a compatibility mode zot knows (known: {})",
                Compatibility::DockerManifestV2Schema2.name()
            )));
        };
        if !compat.contains(&compatibility) {
            compat.push(compatibility);
        }
    }
    Ok(compat)
}
