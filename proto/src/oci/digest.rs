//! Content digests (`algorithm:encoded`) as the OCI image spec defines them, borrowed from input.
//!
//! The grammar accepts any well-formed algorithm so that a digest naming an algorithm this
//! registry does not implement is told apart (UNSUPPORTED) from a malformed one (DIGEST_INVALID).

use core::fmt;

use crate::limits::DIGEST_BYTES_MAX;

/// A digest algorithm this registry computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, 64 lowercase hexadecimal digits. The canonical algorithm of the OCI specs.
    Sha256,
    /// SHA-512, 128 lowercase hexadecimal digits.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as it stands before the `:` and as the folder under `blobs/`.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// How many hexadecimal digits the encoded part has.
    pub const fn encoded_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// The algorithm with this registered name, if this registry implements it.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Why a string is not a digest this registry accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestError {
    /// Not of the form `algorithm:encoded` of the image spec grammar (or longer than
    /// [`DIGEST_BYTES_MAX`]). Answered with DIGEST_INVALID.
    Malformed,
    /// Well-formed, but the algorithm is not one this registry computes. Answered with
    /// UNSUPPORTED.
    UnsupportedAlgorithm,
    /// A known algorithm whose encoded part has the wrong length or characters (uppercase
    /// hexadecimal included: the registered algorithms demand lowercase). DIGEST_INVALID.
    EncodedInvalid,
}

impl fmt::Display for DigestError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            DigestError::Malformed => "digest is not of the form algorithm:encoded",
            DigestError::UnsupportedAlgorithm => "digest algorithm is not supported",
            DigestError::EncodedInvalid => "digest encoding does not match its algorithm",
        })
    }
}

impl std::error::Error for DigestError {}

/// A validated digest borrowed from its text, e.g. `sha256:2c26b4...`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest<'a> {
    text: &'a str,
    algorithm: Algorithm,
}

impl<'a> Digest<'a> {
    /// Parses and validates `text` as a digest of a supported algorithm.
    pub fn parse(text: &'a str) -> Result<Digest<'a>, DigestError> {
        let bytes = text.as_bytes();
        if bytes.len() > DIGEST_BYTES_MAX {
            return Err(DigestError::Malformed);
        }
        let colon = bytes
            .iter()
            .position(|&b| b == b':')
            .ok_or(DigestError::Malformed)?;
        let (algorithm_text, encoded) = (&bytes[..colon], &bytes[colon + 1..]);
        if !is_algorithm_grammar(algorithm_text) || !is_encoded_grammar(encoded) {
            return Err(DigestError::Malformed);
        }
        let algorithm =
            Algorithm::from_name(&text[..colon]).ok_or(DigestError::UnsupportedAlgorithm)?;
        let lowercase_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
        if encoded.len() != algorithm.encoded_len() || !encoded.iter().all(lowercase_hex) {
            return Err(DigestError::EncodedInvalid);
        }
        Ok(Digest { text, algorithm })
    }

    /// The whole digest text, `algorithm:encoded`.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded part (lowercase hexadecimal), the file name under `blobs/<algorithm>/`.
    pub fn encoded(&self) -> &'a str {
        &self.text[self.algorithm.name().len() + 1..]
    }
}

impl fmt::Debug for Digest<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Digest({})", self.text)
    }
}

impl fmt::Display for Digest<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.text)
    }
}

/// An owned, validated digest: what a store keeps in its maps, where a borrowed [`Digest`]
/// cannot live. Converts back to a [`Digest`] without parsing again. Equality, order and hash
/// are those of the text (the algorithm follows from it), so maps keyed by it can be searched
/// with a `&str`.
#[derive(Clone)]
pub struct DigestBuf {
    text: Box<str>,
    algorithm: Algorithm,
}

impl DigestBuf {
    /// Parses and validates `text`, as [`Digest::parse`] does.
    pub fn parse(text: &str) -> Result<DigestBuf, DigestError> {
        Digest::parse(text).map(DigestBuf::from)
    }

    /// The digest, borrowed.
    pub fn as_digest(&self) -> Digest<'_> {
        Digest {
            text: &self.text,
            algorithm: self.algorithm,
        }
    }

    /// The whole digest text, `algorithm:encoded`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<Digest<'_>> for DigestBuf {
    fn from(digest: Digest<'_>) -> DigestBuf {
        DigestBuf {
            text: digest.text.into(),
            algorithm: digest.algorithm,
        }
    }
}

impl PartialEq for DigestBuf {
    fn eq(&self, other: &DigestBuf) -> bool {
        self.text == other.text
    }
}

impl Eq for DigestBuf {}

impl core::hash::Hash for DigestBuf {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl PartialOrd for DigestBuf {
    fn partial_cmp(&self, other: &DigestBuf) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DigestBuf {
    fn cmp(&self, other: &DigestBuf) -> core::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl core::borrow::Borrow<str> for DigestBuf {
    fn borrow(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for DigestBuf {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "DigestBuf({})", self.text)
    }
}

impl fmt::Display for DigestBuf {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

/// `algorithm-component (algorithm-separator algorithm-component)*` with components `[a-z0-9]+`
/// and separators `[+._-]`.
fn is_algorithm_grammar(bytes: &[u8]) -> bool {
    let component = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let separator = |b: u8| matches!(b, b'+' | b'.' | b'_' | b'-');
    let mut previous_was_component = false;
    for &byte in bytes {
        if component(byte) {
            previous_was_component = true;
        } else if separator(byte) && previous_was_component {
            previous_was_component = false;
        } else {
            return false;
        }
    }
    previous_was_component
}

/// `[a-zA-Z0-9=_-]+`.
fn is_encoded_grammar(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256_EMPTY: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn an_owned_digest_borrows_back_unchanged() {
        let owned = DigestBuf::parse(SHA256_EMPTY).unwrap();
        assert_eq!(owned.as_digest(), Digest::parse(SHA256_EMPTY).unwrap());
        assert_eq!(owned.as_str(), SHA256_EMPTY);
        assert_eq!(
            DigestBuf::parse("sha256:ABC"),
            Err(DigestError::EncodedInvalid)
        );
    }

    #[test]
    fn sha256_and_sha512_are_accepted() {
        let digest = Digest::parse(SHA256_EMPTY).unwrap();
        assert_eq!(digest.algorithm(), Algorithm::Sha256);
        assert_eq!(digest.encoded().len(), 64);
        assert_eq!(digest.as_str(), SHA256_EMPTY);
        let sha512 = format!("sha512:{}", "ab".repeat(64));
        let digest = Digest::parse(&sha512).unwrap();
        assert_eq!(digest.algorithm(), Algorithm::Sha512);
        assert_eq!(digest.encoded(), "ab".repeat(64));
    }

    #[test]
    fn malformed_digests_are_rejected() {
        let cases = [
            "",
            ":",
            "sha256",
            "sha256:",
            ":abc",
            "SHA256:abc",
            "sha256::abc",
            "sha-:abc",
            "-sha:abc",
            "sha256:abc def",
            "sha256:abc/def",
            "sha256:abc.def",
        ];
        for case in cases {
            assert_eq!(Digest::parse(case), Err(DigestError::Malformed), "{case:?}");
        }
        let too_long = format!("sha256:{}", "a".repeat(DIGEST_BYTES_MAX));
        assert_eq!(Digest::parse(&too_long), Err(DigestError::Malformed));
    }

    #[test]
    fn well_formed_unknown_algorithms_are_unsupported() {
        for case in [
            "md5:abc",
            "blake3:abcdef",
            "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g",
            "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
        ] {
            assert_eq!(
                Digest::parse(case),
                Err(DigestError::UnsupportedAlgorithm),
                "{case:?}"
            );
        }
    }

    #[test]
    fn known_algorithms_demand_exact_lowercase_hex() {
        let upper = SHA256_EMPTY
            .to_ascii_uppercase()
            .replacen("SHA256", "sha256", 1);
        let cases = [
            upper,
            format!("sha256:{}", "a".repeat(63)),
            format!("sha256:{}", "a".repeat(65)),
            format!("sha256:{}", "g".repeat(64)),
            format!("sha512:{}", "a".repeat(64)),
        ];
        for case in &cases {
            assert_eq!(
                Digest::parse(case),
                Err(DigestError::EncodedInvalid),
                "{case:?}"
            );
        }
    }
}
