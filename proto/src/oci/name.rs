//! Repository names (`library/alpine`) as the OCI distribution spec defines them, borrowed from
//! input and checked by a byte state machine.
//!
//! The grammar is, per `/`-separated component, `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
//!
//! This check is also the registry's path-traversal defence: the storage layer turns a name into
//! folders on disk, and it may do so only because a valid name can never be `..` or `.`, never
//! hold an empty component (`a//b`), never start or end with `/` (`/etc`), and never hold a byte
//! outside `[a-z0-9._/-]` (no NUL, no `\`, no uppercase that a case-insensitive file system would
//! fold onto another repository). Loosening this grammar loosens the storage layer's safety.

use core::fmt;

use crate::limits::{REPOSITORY_NAME_BYTES_MAX, REPOSITORY_NAME_COMPONENTS_MAX};

/// Why a string is not a repository name. Every variant is answered with NAME_INVALID; they are
/// told apart so that the error message can say what to fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// The name is the empty string.
    Empty,
    /// Longer than [`REPOSITORY_NAME_BYTES_MAX`].
    TooLong,
    /// More `/`-separated components than [`REPOSITORY_NAME_COMPONENTS_MAX`].
    TooManyComponents,
    /// A component is empty: a leading or trailing `/`, or `//`.
    EmptyComponent,
    /// A byte outside `[a-z0-9._/-]` (uppercase letters included).
    InvalidCharacter,
    /// A component starts or ends with a separator, or joins separators in a way the grammar
    /// does not allow (`..`, `._`, `___`, `-.`).
    InvalidComponent,
}

impl NameError {
    /// A short English description, for the `message` field of an error body.
    pub const fn message(self) -> &'static str {
        match self {
            NameError::Empty => "repository name is empty",
            NameError::TooLong => "repository name is too long",
            NameError::TooManyComponents => "repository name has too many path components",
            NameError::EmptyComponent => "repository name has an empty path component",
            NameError::InvalidCharacter => {
                "repository name may only hold lowercase letters, digits, '.', '_', '-' and '/'"
            }
            NameError::InvalidComponent => {
                "repository name component must start and end with a lowercase letter or digit \
                 and separate them by '.', '_', '__' or dashes"
            }
        }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.message())
    }
}

impl std::error::Error for NameError {}

/// A validated repository name borrowed from its text, e.g. `library/alpine`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName<'a> {
    text: &'a str,
}

impl<'a> RepositoryName<'a> {
    /// Parses and validates `text` as a repository name.
    pub fn parse(text: &'a str) -> Result<RepositoryName<'a>, NameError> {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return Err(NameError::Empty);
        }
        // Checked before scanning so that the scan below is bounded by the limit, not the input.
        if bytes.len() > REPOSITORY_NAME_BYTES_MAX {
            return Err(NameError::TooLong);
        }
        let mut state = State::ComponentStart;
        let mut components = 1usize;
        for &byte in bytes {
            state = state.next(byte)?;
            if state == State::ComponentStart {
                components += 1;
                if components > REPOSITORY_NAME_COMPONENTS_MAX {
                    return Err(NameError::TooManyComponents);
                }
            }
        }
        state.finish()?;
        Ok(RepositoryName { text })
    }

    /// The whole name.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The `/`-separated components, in order; never empty, never `.` or `..`.
    pub fn components(&self) -> Components<'a> {
        Components {
            inner: self.text.split('/'),
        }
    }
}

impl fmt::Debug for RepositoryName<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "RepositoryName({})", self.text)
    }
}

impl fmt::Display for RepositoryName<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.text)
    }
}

/// The components of a [`RepositoryName`], from [`RepositoryName::components`].
#[derive(Clone, Debug)]
pub struct Components<'a> {
    inner: core::str::Split<'a, char>,
}

impl<'a> Iterator for Components<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.inner.next()
    }
}

impl<'a> DoubleEndedIterator for Components<'a> {
    fn next_back(&mut self) -> Option<&'a str> {
        self.inner.next_back()
    }
}

/// Where the scanner stands inside the current component; named after the last byte seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of the name or just after a `/`: a component must begin here.
    ComponentStart,
    /// After `[a-z0-9]`: the only state in which a component may end.
    Alphanumeric,
    /// After a `.`, which is a whole separator: `[a-z0-9]` must follow.
    Dot,
    /// After a single `_`: a second `_` or `[a-z0-9]` may follow.
    Underscore,
    /// After `__`, the longest underscore separator: `[a-z0-9]` must follow.
    DoubleUnderscore,
    /// After one or more `-`: more `-` or `[a-z0-9]` may follow.
    Dash,
}

impl State {
    /// The state after `byte`, or why `byte` cannot stand here.
    fn next(self, byte: u8) -> Result<State, NameError> {
        match byte {
            b'a'..=b'z' | b'0'..=b'9' => Ok(State::Alphanumeric),
            b'/' => match self {
                State::Alphanumeric => Ok(State::ComponentStart),
                State::ComponentStart => Err(NameError::EmptyComponent),
                _ => Err(NameError::InvalidComponent),
            },
            b'.' => match self {
                State::Alphanumeric => Ok(State::Dot),
                _ => Err(NameError::InvalidComponent),
            },
            b'_' => match self {
                State::Alphanumeric => Ok(State::Underscore),
                State::Underscore => Ok(State::DoubleUnderscore),
                _ => Err(NameError::InvalidComponent),
            },
            b'-' => match self {
                State::Alphanumeric | State::Dash => Ok(State::Dash),
                _ => Err(NameError::InvalidComponent),
            },
            _ => Err(NameError::InvalidCharacter),
        }
    }

    /// Whether the name may end in this state.
    fn finish(self) -> Result<(), NameError> {
        match self {
            State::Alphanumeric => Ok(()),
            State::ComponentStart => Err(NameError::EmptyComponent),
            _ => Err(NameError::InvalidComponent),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn valid_names_are_accepted_whole() {
        let cases = [
            "a",
            "0",
            "alpine",
            "library/alpine",
            "a/b/c",
            "my.registry/team_a/app__v2/x-y--z",
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a---b",
            "a1.b2_c3__d4-e5",
            "blobs/manifests/tags/uploads/referrers/list",
        ];
        for case in cases {
            let name =
                RepositoryName::parse(case).unwrap_or_else(|error| panic!("{case:?}: {error}"));
            assert_eq!(name.as_str(), case);
            assert_eq!(name.to_string(), case);
        }
    }

    #[test]
    fn invalid_names_are_rejected_with_their_reason() {
        let cases = [
            ("", NameError::Empty),
            ("/", NameError::EmptyComponent),
            ("/abs", NameError::EmptyComponent),
            ("a/", NameError::EmptyComponent),
            ("a//b", NameError::EmptyComponent),
            ("A", NameError::InvalidCharacter),
            ("library/Alpine", NameError::InvalidCharacter),
            ("a\0b", NameError::InvalidCharacter),
            ("a\\b", NameError::InvalidCharacter),
            ("a b", NameError::InvalidCharacter),
            ("a:b", NameError::InvalidCharacter),
            ("a+b", NameError::InvalidCharacter),
            ("é", NameError::InvalidCharacter),
            (".", NameError::InvalidComponent),
            ("..", NameError::InvalidComponent),
            ("a/../b", NameError::InvalidComponent),
            ("a/./b", NameError::InvalidComponent),
            ("a/.b", NameError::InvalidComponent),
            ("a./b", NameError::InvalidComponent),
            ("a.", NameError::InvalidComponent),
            ("a..b", NameError::InvalidComponent),
            ("_a", NameError::InvalidComponent),
            ("a_", NameError::InvalidComponent),
            ("a___b", NameError::InvalidComponent),
            ("a._b", NameError::InvalidComponent),
            ("a_.b", NameError::InvalidComponent),
            ("a-.b", NameError::InvalidComponent),
            ("a.-b", NameError::InvalidComponent),
            ("a_-b", NameError::InvalidComponent),
            ("-a", NameError::InvalidComponent),
            ("a-", NameError::InvalidComponent),
            ("a--", NameError::InvalidComponent),
            ("a__", NameError::InvalidComponent),
            ("a/-", NameError::InvalidComponent),
        ];
        for (case, expected) in cases {
            assert_eq!(RepositoryName::parse(case), Err(expected), "{case:?}");
        }
    }

    #[test]
    fn length_limit_is_inclusive() {
        let longest = "a".repeat(REPOSITORY_NAME_BYTES_MAX);
        assert!(RepositoryName::parse(&longest).is_ok());
        let too_long = "a".repeat(REPOSITORY_NAME_BYTES_MAX + 1);
        assert_eq!(RepositoryName::parse(&too_long), Err(NameError::TooLong));
    }

    #[test]
    fn component_limit_is_inclusive() {
        let most = vec!["a"; REPOSITORY_NAME_COMPONENTS_MAX].join("/");
        assert_eq!(
            RepositoryName::parse(&most).unwrap().components().count(),
            REPOSITORY_NAME_COMPONENTS_MAX
        );
        let too_many = vec!["a"; REPOSITORY_NAME_COMPONENTS_MAX + 1].join("/");
        assert_eq!(
            RepositoryName::parse(&too_many),
            Err(NameError::TooManyComponents)
        );
    }

    #[test]
    fn components_iterate_both_ways() {
        let name = RepositoryName::parse("a/b.c/d").unwrap();
        assert_eq!(name.components().collect::<Vec<_>>(), ["a", "b.c", "d"]);
        assert_eq!(
            name.components().rev().collect::<Vec<_>>(),
            ["d", "b.c", "a"]
        );
        assert_eq!(
            RepositoryName::parse("x")
                .unwrap()
                .components()
                .collect::<Vec<_>>(),
            ["x"]
        );
    }

    #[test]
    fn debug_and_display_show_the_name() {
        let name = RepositoryName::parse("library/alpine").unwrap();
        assert_eq!(format!("{name:?}"), "RepositoryName(library/alpine)");
        assert_eq!(format!("{name}"), "library/alpine");
        assert_eq!(NameError::TooLong.to_string(), NameError::TooLong.message());
    }

    /// An independent model of the grammar: split into components, then into maximal runs of
    /// alphanumerics and of separators, and check each run.
    fn is_name_by_model(text: &str) -> bool {
        if text.is_empty()
            || text.len() > REPOSITORY_NAME_BYTES_MAX
            || text.split('/').count() > REPOSITORY_NAME_COMPONENTS_MAX
        {
            return false;
        }
        text.split('/').all(is_component_by_model)
    }

    fn is_component_by_model(component: &str) -> bool {
        let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        let (Some(first), Some(last)) = (component.chars().next(), component.chars().last()) else {
            return false;
        };
        if !alphanumeric(first) || !alphanumeric(last) {
            return false;
        }
        component
            .split(alphanumeric)
            .filter(|run| !run.is_empty())
            .all(|separator| {
                matches!(separator, "." | "_" | "__") || separator.chars().all(|c| c == '-')
            })
    }

    proptest! {
        #[test]
        fn parser_agrees_with_the_model(
            text in prop::collection::vec(
                prop::sample::select(vec!['a', 'z', '0', '9', '.', '_', '-', '/', 'A', '\0', '\\']),
                0..24,
            ).prop_map(|chars| chars.into_iter().collect::<String>())
        ) {
            let parsed = RepositoryName::parse(&text);
            prop_assert_eq!(parsed.is_ok(), is_name_by_model(&text), "{:?} {:?}", text, parsed);
            if let Ok(name) = parsed {
                prop_assert_eq!(name.as_str(), text.as_str());
                prop_assert_eq!(name.components().collect::<Vec<_>>().join("/"), text.clone());
            }
        }
    }
}
