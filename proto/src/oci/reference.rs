//! Manifest references: the last segment of `/v2/<name>/manifests/<reference>`, a tag or a
//! digest, borrowed from input.
//!
//! A tag can never hold a `:` and a digest always does, so the colon alone decides which grammar
//! applies; the error then names the grammar the client evidently meant.

use core::fmt;

use crate::oci::digest::{Digest, DigestError};
use crate::oci::tag::{Tag, TagError};

/// Why a string is neither a tag nor a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The text has no `:` and is not a valid tag.
    Tag(TagError),
    /// The text has a `:` and is not a valid digest.
    Digest(DigestError),
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReferenceError::Tag(error) => fmt::Display::fmt(error, formatter),
            ReferenceError::Digest(error) => fmt::Display::fmt(error, formatter),
        }
    }
}

impl std::error::Error for ReferenceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReferenceError::Tag(error) => Some(error),
            ReferenceError::Digest(error) => Some(error),
        }
    }
}

/// A manifest reference: a tag or a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reference<'a> {
    /// A tag such as `latest`.
    Tag(Tag<'a>),
    /// A digest such as `sha256:…`.
    Digest(Digest<'a>),
}

impl<'a> Reference<'a> {
    /// Parses `text` as a digest if it holds a `:`, as a tag otherwise.
    pub fn parse(text: &'a str) -> Result<Reference<'a>, ReferenceError> {
        if text.as_bytes().contains(&b':') {
            Digest::parse(text)
                .map(Reference::Digest)
                .map_err(ReferenceError::Digest)
        } else {
            Tag::parse(text)
                .map(Reference::Tag)
                .map_err(ReferenceError::Tag)
        }
    }

    /// The whole reference text.
    pub fn as_str(&self) -> &'a str {
        match self {
            Reference::Tag(tag) => tag.as_str(),
            Reference::Digest(digest) => digest.as_str(),
        }
    }

    /// Whether the reference is a digest.
    pub fn is_digest(&self) -> bool {
        matches!(self, Reference::Digest(_))
    }

    /// The digest, if the reference is one.
    pub fn as_digest(&self) -> Option<Digest<'a>> {
        match self {
            Reference::Digest(digest) => Some(*digest),
            Reference::Tag(_) => None,
        }
    }

    /// The tag, if the reference is one.
    pub fn as_tag(&self) -> Option<Tag<'a>> {
        match self {
            Reference::Tag(tag) => Some(*tag),
            Reference::Digest(_) => None,
        }
    }
}

impl fmt::Display for Reference<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    const SHA256_EMPTY: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn text_without_colon_is_a_tag() {
        let reference = Reference::parse("latest").unwrap();
        assert!(!reference.is_digest());
        assert_eq!(reference.as_tag().map(|tag| tag.as_str()), Some("latest"));
        assert_eq!(reference.as_digest(), None);
        assert_eq!(reference.as_str(), "latest");
        assert_eq!(reference.to_string(), "latest");
    }

    #[test]
    fn text_with_colon_is_a_digest() {
        let reference = Reference::parse(SHA256_EMPTY).unwrap();
        assert!(reference.is_digest());
        assert_eq!(
            reference.as_digest(),
            Some(Digest::parse(SHA256_EMPTY).unwrap())
        );
        assert_eq!(reference.as_tag(), None);
        assert_eq!(reference.as_str(), SHA256_EMPTY);
        assert_eq!(reference.to_string(), SHA256_EMPTY);
    }

    #[test]
    fn errors_name_the_grammar_the_colon_chose() {
        let cases = [
            ("", ReferenceError::Tag(TagError::Empty)),
            (".x", ReferenceError::Tag(TagError::InvalidFirstCharacter)),
            ("a/b", ReferenceError::Tag(TagError::InvalidCharacter)),
            (":", ReferenceError::Digest(DigestError::Malformed)),
            (
                "v1:2",
                ReferenceError::Digest(DigestError::UnsupportedAlgorithm),
            ),
            ("a b:c", ReferenceError::Digest(DigestError::Malformed)),
            ("latest:", ReferenceError::Digest(DigestError::Malformed)),
            (
                "md5:abc",
                ReferenceError::Digest(DigestError::UnsupportedAlgorithm),
            ),
            (
                "sha256:abc",
                ReferenceError::Digest(DigestError::EncodedInvalid),
            ),
        ];
        for (case, expected) in cases {
            assert_eq!(Reference::parse(case), Err(expected), "{case:?}");
        }
    }

    #[test]
    fn errors_display_and_chain_their_cause() {
        let error = ReferenceError::Tag(TagError::Empty);
        assert_eq!(error.to_string(), TagError::Empty.to_string());
        assert!(error.source().is_some());
        let error = ReferenceError::Digest(DigestError::Malformed);
        assert_eq!(error.to_string(), DigestError::Malformed.to_string());
        assert!(error.source().is_some());
    }
}
