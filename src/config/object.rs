//! Reading one JSON object of a config the way zot's loader does: keys match without regard to
//! case (zot reads configs through viper, which folds every key to lowercase), values are
//! converted where zot's decoder converts them, and every entry is either read or reported, so
//! nothing in a config is ever silently ignored.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::config::error::{ConfigError, ConfigWarning, WarningKind};
use crate::config::keys::ZotKey;

/// Longest piece of a value or key quoted in a message; the rest is elided so that one bad value
/// cannot flood the terminal.
const QUOTE_CHARS_MAX: usize = 64;

/// One object of the config, with the entries not yet taken by a reader.
#[derive(Debug)]
pub(crate) struct Section<'a> {
    path: String,
    entries: Vec<Entry<'a>>,
}

#[derive(Debug)]
struct Entry<'a> {
    key: &'a str,
    folded: String,
    value: &'a Value,
    taken: bool,
}

/// One value of the config and the key path that leads to it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field<'a, 'path> {
    pub(crate) path: &'path str,
    pub(crate) value: &'a Value,
}

/// An owned key path with its value, as [`Section::take`] hands them out.
#[derive(Debug)]
pub(crate) struct Taken<'a> {
    pub(crate) path: String,
    pub(crate) value: &'a Value,
}

impl<'a> Taken<'a> {
    pub(crate) fn field(&self) -> Field<'a, '_> {
        Field {
            path: &self.path,
            value: self.value,
        }
    }
}

impl<'a> Section<'a> {
    /// The object at `path`; `path` is empty for the top level.
    pub(crate) fn new(path: &str, value: &'a Value) -> Result<Section<'a>, ConfigError> {
        let Value::Object(object) = value else {
            return Err(wrong_type(path, "an object", value));
        };
        Ok(Section {
            path: path.to_owned(),
            entries: fold_keys(path, object)?,
        })
    }

    /// The key path of this object.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Takes the entry named `name` (compared without regard to case). A `null` value counts as
    /// absent, as it does for zot, and is not reported either.
    pub(crate) fn take(&mut self, name: &str) -> Option<Taken<'a>> {
        let folded = name.to_ascii_lowercase();
        let entry = self
            .entries
            .iter_mut()
            .find(|entry| entry.folded == folded)?;
        assert!(!entry.taken, "{name} is read twice from {}", self.path);
        entry.taken = true;
        if entry.value.is_null() {
            return None;
        }
        Some(Taken {
            path: child_path(&self.path, entry.key),
            value: entry.value,
        })
    }

    /// Reports every entry no reader took: a zot key this build does not implement is a warning,
    /// or an error when ignoring it is unsafe; any other key is a warning as unknown.
    pub(crate) fn finish(
        self,
        zot_keys: &[ZotKey],
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<(), ConfigError> {
        for entry in self.entries.iter().filter(|entry| !entry.taken) {
            let path = child_path(&self.path, entry.key);
            let zot_key = zot_keys
                .iter()
                .find(|key| key.name.eq_ignore_ascii_case(&entry.folded));
            let kind = match zot_key {
                Some(key) => {
                    if let Some(reason) = key.refusal
                        && !entry.value.is_null()
                    {
                        return Err(ConfigError::Unsupported { path, reason });
                    }
                    WarningKind::NotImplemented
                }
                None => WarningKind::Unknown,
            };
            warnings.push(ConfigWarning { path, kind });
        }
        Ok(())
    }
}

/// The entries of an object whose keys are data (such as `storage.subPaths`, keyed by route
/// prefix) rather than field names: each with its key folded to lowercase, as zot folds it, and
/// its key path. Two keys equal once folded are an error.
pub(crate) fn map_entries<'a>(
    field: Field<'a, '_>,
) -> Result<Vec<(String, Taken<'a>)>, ConfigError> {
    let Value::Object(object) = field.value else {
        return Err(wrong_type(field.path, "an object", field.value));
    };
    let entries = fold_keys(field.path, object)?;
    Ok(entries
        .into_iter()
        .map(|entry| {
            let path = format!("{}[{}]", field.path, quote_text(entry.key));
            (
                entry.folded,
                Taken {
                    path,
                    value: entry.value,
                },
            )
        })
        .collect())
}

fn fold_keys<'a>(
    path: &str,
    object: &'a Map<String, Value>,
) -> Result<Vec<Entry<'a>>, ConfigError> {
    let mut entries: Vec<Entry<'a>> = Vec::with_capacity(object.len());
    let mut seen = HashSet::with_capacity(object.len());
    for (key, value) in object {
        let folded = key.to_lowercase();
        if !seen.insert(folded.clone()) {
            return Err(ConfigError::DuplicateKey {
                path: child_path(path, key),
            });
        }
        entries.push(Entry {
            key,
            folded,
            value,
            taken: false,
        });
    }
    Ok(entries)
}

/// `parent.key`, or `parent["odd key"]` when the key holds anything but letters, digits, `_` and
/// `-`, so that a path always fits on one line and reads back unambiguously.
pub(crate) fn child_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= QUOTE_CHARS_MAX
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{}]", quote_text(key)),
    }
}

/// `text` as a JSON string literal, elided after [`QUOTE_CHARS_MAX`] characters.
pub(crate) fn quote_text(text: &str) -> String {
    quote(&Value::String(text.to_owned()))
}

/// `value` as JSON on one line, elided after [`QUOTE_CHARS_MAX`] characters.
pub(crate) fn quote(value: &Value) -> String {
    match value {
        Value::String(text) if text.chars().count() > QUOTE_CHARS_MAX => {
            let kept: String = text.chars().take(QUOTE_CHARS_MAX).collect();
            format!("{}…", Value::String(kept))
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        other => other.to_string(),
    }
}

pub(crate) fn wrong_type(path: &str, expected: &'static str, value: &Value) -> ConfigError {
    ConfigError::WrongType {
        path: path.to_owned(),
        expected,
        found: quote(value),
    }
}

impl<'a> Field<'a, '_> {
    /// A string value. zot's decoder would also turn numbers and booleans into strings; this
    /// build takes that liberty only for `http.port`, where configs commonly write a number.
    pub(crate) fn string(&self) -> Result<&'a str, ConfigError> {
        match self.value {
            Value::String(text) => Ok(text),
            other => Err(wrong_type(self.path, "a string", other)),
        }
    }

    /// A boolean, converted the way zot's decoder converts (mapstructure, weakly typed): JSON
    /// `true`/`false`, a number (non-zero is true), or a string Go's `strconv.ParseBool` reads
    /// (`"true"`, `"1"`, `"F"`, ...; the empty string is false).
    pub(crate) fn boolean(&self) -> Result<bool, ConfigError> {
        match self.value {
            Value::Bool(flag) => Ok(*flag),
            Value::Number(number) => Ok(number.as_f64().is_some_and(|float| float != 0.0)),
            Value::String(text) => match text.as_str() {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
                "" | "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
                _ => Err(ConfigError::InvalidValue {
                    path: self.path.to_owned(),
                    reason: format!("{} is not a boolean", quote(self.value)),
                }),
            },
            other => Err(wrong_type(self.path, "a boolean", other)),
        }
    }

    /// The error for a value of the right type that is not allowed.
    pub(crate) fn invalid(&self, why: impl std::fmt::Display) -> ConfigError {
        ConfigError::InvalidValue {
            path: self.path.to_owned(),
            reason: format!("{} {why}", quote(self.value)),
        }
    }
}
