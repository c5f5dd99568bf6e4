//! Tags (`latest`, `v1.2.3`) as the OCI distribution spec defines them, borrowed from input.
//!
//! The grammar is `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. A tag becomes a key in the repository's
//! index, never a path on its own, but the grammar still keeps out `/`, `:` and control bytes, and
//! a tag cannot be `.` or `..` because it cannot start with a dot.

use core::fmt;

use crate::limits::TAG_BYTES_MAX;

/// Why a string is not a tag. The caller picks the wire error code; the variants are told apart
/// so that the error message can say what to fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TagError {
    /// The tag is the empty string.
    Empty,
    /// Longer than [`TAG_BYTES_MAX`].
    TooLong,
    /// The first byte is not `[a-zA-Z0-9_]` (a tag may not start with `.` or `-`).
    InvalidFirstCharacter,
    /// A later byte is not `[a-zA-Z0-9._-]`.
    InvalidCharacter,
}

impl TagError {
    /// A short English description, for the `message` field of an error body.
    pub const fn message(self) -> &'static str {
        match self {
            TagError::Empty => "tag is empty",
            TagError::TooLong => "tag is too long",
            TagError::InvalidFirstCharacter => "tag must start with a letter, a digit or '_'",
            TagError::InvalidCharacter => "tag may only hold letters, digits, '.', '_' and '-'",
        }
    }
}

impl fmt::Display for TagError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.message())
    }
}

impl std::error::Error for TagError {}

/// A validated tag borrowed from its text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag<'a> {
    text: &'a str,
}

impl<'a> Tag<'a> {
    /// Parses and validates `text` as a tag.
    pub fn parse(text: &'a str) -> Result<Tag<'a>, TagError> {
        let bytes = text.as_bytes();
        let Some((&first, rest)) = bytes.split_first() else {
            return Err(TagError::Empty);
        };
        if bytes.len() > TAG_BYTES_MAX {
            return Err(TagError::TooLong);
        }
        if !is_first_byte(first) {
            return Err(TagError::InvalidFirstCharacter);
        }
        if !rest.iter().all(|&byte| is_later_byte(byte)) {
            return Err(TagError::InvalidCharacter);
        }
        Ok(Tag { text })
    }

    /// The whole tag.
    pub fn as_str(&self) -> &'a str {
        self.text
    }
}

impl fmt::Debug for Tag<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Tag({})", self.text)
    }
}

impl fmt::Display for Tag<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.text)
    }
}

/// `[a-zA-Z0-9_]`.
fn is_first_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// `[a-zA-Z0-9._-]`.
fn is_later_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn valid_tags_are_accepted_whole() {
        for case in [
            "latest", "v1.2.3", "_", "0", "A", "1.0-rc_1", "a..b", "x--", "a.", "Z_",
        ] {
            let tag = Tag::parse(case).unwrap_or_else(|error| panic!("{case:?}: {error}"));
            assert_eq!(tag.as_str(), case);
            assert_eq!(tag.to_string(), case);
        }
    }

    #[test]
    fn invalid_tags_are_rejected_with_their_reason() {
        let cases = [
            ("", TagError::Empty),
            (".", TagError::InvalidFirstCharacter),
            ("..", TagError::InvalidFirstCharacter),
            ("-a", TagError::InvalidFirstCharacter),
            (".hidden", TagError::InvalidFirstCharacter),
            ("/a", TagError::InvalidFirstCharacter),
            ("é", TagError::InvalidFirstCharacter),
            ("a/b", TagError::InvalidCharacter),
            ("a:b", TagError::InvalidCharacter),
            ("a b", TagError::InvalidCharacter),
            ("a\0", TagError::InvalidCharacter),
            ("a+b", TagError::InvalidCharacter),
            ("aé", TagError::InvalidCharacter),
        ];
        for (case, expected) in cases {
            assert_eq!(Tag::parse(case), Err(expected), "{case:?}");
        }
    }

    #[test]
    fn length_limit_is_inclusive() {
        let longest = "a".repeat(TAG_BYTES_MAX);
        assert!(Tag::parse(&longest).is_ok());
        let too_long = "a".repeat(TAG_BYTES_MAX + 1);
        assert_eq!(Tag::parse(&too_long), Err(TagError::TooLong));
    }

    #[test]
    fn debug_and_display_show_the_tag() {
        let tag = Tag::parse("v1").unwrap();
        assert_eq!(format!("{tag:?}"), "Tag(v1)");
        assert_eq!(format!("{tag}"), "v1");
        assert_eq!(TagError::Empty.to_string(), TagError::Empty.message());
    }

    proptest! {
        #[test]
        fn parser_agrees_with_the_model(
            text in prop::collection::vec(
                prop::sample::select(vec!['a', 'Z', '0', '.', '_', '-', '/', ':', '\0', 'é']),
                0..(TAG_BYTES_MAX + 4),
            ).prop_map(|chars| chars.into_iter().collect::<String>())
        ) {
            let first_ok = text.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let rest_ok = text.chars().skip(1).all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
            let model = first_ok && rest_ok && text.len() <= TAG_BYTES_MAX;
            prop_assert_eq!(Tag::parse(&text).is_ok(), model, "{:?}", text);
        }
    }
}
