//! The OCI distribution error codes in one place, and an allocation-free writer for the JSON
//! error body `{"errors":[{"code":...,"message":...,"detail":{...}}]}`.
//!
//! The distribution spec (section "Error Codes") lists fourteen codes and says the `code` MUST be
//! one of them; registries answer a few more in practice (Docker distribution, GitLab and zot
//! clients know them), so they are here too, each documented with where it comes from. The
//! spec fixes no HTTP status per code: [`ErrorCode::default_status`] gives the usual one and
//! says where the server answers another.

use core::fmt;

/// An error code of the distribution API, as it goes on the wire in `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `BLOB_UNKNOWN` (spec code-1): the blob is not in the repository.
    BlobUnknown,
    /// `BLOB_UPLOAD_INVALID` (spec code-2): the upload cannot proceed.
    BlobUploadInvalid,
    /// `BLOB_UPLOAD_UNKNOWN` (spec code-3): no such upload session.
    BlobUploadUnknown,
    /// `DIGEST_INVALID` (spec code-4): the content does not match its digest, or a digest is
    /// malformed.
    DigestInvalid,
    /// `MANIFEST_BLOB_UNKNOWN` (spec code-5): a pushed manifest references a blob or manifest
    /// the repository does not hold.
    ManifestBlobUnknown,
    /// `MANIFEST_INVALID` (spec code-6): the manifest failed validation.
    ManifestInvalid,
    /// `MANIFEST_UNKNOWN` (spec code-7): no such manifest.
    ManifestUnknown,
    /// `NAME_INVALID` (spec code-8): the repository name breaks the grammar.
    NameInvalid,
    /// `NAME_UNKNOWN` (spec code-9): no such repository.
    NameUnknown,
    /// `SIZE_INVALID` (spec code-10): the declared length does not match the content.
    SizeInvalid,
    /// `UNAUTHORIZED` (spec code-11): authentication required.
    Unauthorized,
    /// `DENIED` (spec code-12): authenticated, but not allowed.
    Denied,
    /// `UNSUPPORTED` (spec code-13): the operation (or a digest algorithm) is not supported.
    Unsupported,
    /// `TOOMANYREQUESTS` (spec code-14): rate limited.
    TooManyRequests,
    /// `TAG_INVALID`, from Docker distribution: the tag in a manifest does not match the URL.
    /// Registries also answer it for a tag that breaks the tag grammar.
    TagInvalid,
    /// `MANIFEST_REFERENCED`, from GitLab's registry: a manifest cannot be deleted while an
    /// index lists it. zot answers this case with `DENIED` and 405 instead; the server picks.
    ManifestReferenced,
    /// `RANGE_INVALID`, from Docker distribution: a `Content-Range` or `Range` is unusable.
    RangeInvalid,
    /// `PAGINATION_NUMBER_INVALID`, from Docker distribution: a bad `n` query parameter.
    PaginationNumberInvalid,
    /// `UNAVAILABLE`, from Docker distribution: the service is temporarily unavailable.
    Unavailable,
    /// `UNKNOWN`, from Docker distribution: an unexpected server-side error.
    Unknown,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::BlobUnknown,
        ErrorCode::BlobUploadInvalid,
        ErrorCode::BlobUploadUnknown,
        ErrorCode::DigestInvalid,
        ErrorCode::ManifestBlobUnknown,
        ErrorCode::ManifestInvalid,
        ErrorCode::ManifestUnknown,
        ErrorCode::NameInvalid,
        ErrorCode::NameUnknown,
        ErrorCode::SizeInvalid,
        ErrorCode::Unauthorized,
        ErrorCode::Denied,
        ErrorCode::Unsupported,
        ErrorCode::TooManyRequests,
        ErrorCode::TagInvalid,
        ErrorCode::ManifestReferenced,
        ErrorCode::RangeInvalid,
        ErrorCode::PaginationNumberInvalid,
        ErrorCode::Unavailable,
        ErrorCode::Unknown,
    ];

    /// The wire code (uppercase letters and underscores, as the spec demands).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            ErrorCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown => "NAME_UNKNOWN",
            ErrorCode::SizeInvalid => "SIZE_INVALID",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::TooManyRequests => "TOOMANYREQUESTS",
            ErrorCode::TagInvalid => "TAG_INVALID",
            ErrorCode::ManifestReferenced => "MANIFEST_REFERENCED",
            ErrorCode::RangeInvalid => "RANGE_INVALID",
            ErrorCode::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Unknown => "UNKNOWN",
        }
    }

    /// The code with this wire name (exact, case-sensitive: the spec's codes are uppercase).
    /// For clients and the load generator reading a registry's answers.
    pub fn from_wire(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|known| known.as_str() == code)
    }

    /// The message the spec's table gives the code (Docker distribution's for the codes the
    /// spec does not list).
    pub const fn default_message(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "blob unknown to registry",
            ErrorCode::BlobUploadInvalid => "blob upload invalid",
            ErrorCode::BlobUploadUnknown => "blob upload unknown to registry",
            ErrorCode::DigestInvalid => "provided digest did not match uploaded content",
            ErrorCode::ManifestBlobUnknown => {
                "manifest references a manifest or blob unknown to registry"
            }
            ErrorCode::ManifestInvalid => "manifest invalid",
            ErrorCode::ManifestUnknown => "manifest unknown to registry",
            ErrorCode::NameInvalid => "invalid repository name",
            ErrorCode::NameUnknown => "repository name not known to registry",
            ErrorCode::SizeInvalid => "provided length did not match content length",
            ErrorCode::Unauthorized => "authentication required",
            ErrorCode::Denied => "requested access to the resource is denied",
            ErrorCode::Unsupported => "the operation is unsupported",
            ErrorCode::TooManyRequests => "too many requests",
            ErrorCode::TagInvalid => "manifest tag did not match URI",
            ErrorCode::ManifestReferenced => "manifest referenced by a manifest list",
            ErrorCode::RangeInvalid => "invalid content range",
            ErrorCode::PaginationNumberInvalid => "invalid number of results requested",
            ErrorCode::Unavailable => "service unavailable",
            ErrorCode::Unknown => "unknown error",
        }
    }

    /// The HTTP status usually sent with the code. Where the server answers another:
    ///
    /// - `BLOB_UPLOAD_INVALID`: 416 when a chunk arrives out of order (the spec's MUST for
    ///   `PATCH`), 400 otherwise.
    /// - `MANIFEST_INVALID`: 413 for a manifest over the size limit, 415 for a `Content-Type`
    ///   that is not a manifest type (as zot answers), 400 otherwise.
    /// - `DENIED`: zot answers 405 when deleting a manifest an index still lists.
    /// - `UNSUPPORTED`: 405 for an unsupported method or operation, 400 for an unsupported
    ///   digest algorithm in a request.
    /// - `NAME_UNKNOWN`: zot answers 400 on `DELETE` of a manifest in an unknown repository.
    pub const fn default_status(self) -> u16 {
        match self {
            ErrorCode::BlobUnknown
            | ErrorCode::BlobUploadUnknown
            | ErrorCode::ManifestUnknown
            | ErrorCode::NameUnknown => 404,
            ErrorCode::BlobUploadInvalid
            | ErrorCode::DigestInvalid
            | ErrorCode::ManifestBlobUnknown
            | ErrorCode::ManifestInvalid
            | ErrorCode::NameInvalid
            | ErrorCode::SizeInvalid
            | ErrorCode::TagInvalid
            | ErrorCode::PaginationNumberInvalid => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Denied => 403,
            ErrorCode::Unsupported => 405,
            ErrorCode::ManifestReferenced => 409,
            ErrorCode::RangeInvalid => 416,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Unknown => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One entry of the `errors` array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorEntry<'a> {
    /// The code.
    pub code: ErrorCode,
    /// The human-readable message; usually [`ErrorCode::default_message`].
    pub message: &'a str,
    /// String pairs written as the `detail` object, in order; omitted when empty. Keys are
    /// written as given: the caller keeps them unique.
    pub detail: &'a [(&'a str, &'a str)],
}

impl ErrorEntry<'static> {
    /// An entry with the code's default message and no detail.
    pub const fn new(code: ErrorCode) -> ErrorEntry<'static> {
        ErrorEntry {
            code,
            message: code.default_message(),
            detail: &[],
        }
    }
}

/// The output buffer of [`write_error_body`] is too small for the body. What was written so
/// far is garbage; the server falls back to a bodiless status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyTooLarge;

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("error body does not fit the output buffer")
    }
}

impl std::error::Error for BodyTooLarge {}

/// Writes `{"errors":[...]}` for `errors` into `out` and returns how many bytes it wrote.
/// Strings are escaped as RFC 8259 demands: `"` and `\` with a backslash, control characters as
/// `\u00XX`; everything else, non-ASCII UTF-8 included, passes through unchanged.
pub fn write_error_body(out: &mut [u8], errors: &[ErrorEntry<'_>]) -> Result<usize, BodyTooLarge> {
    let mut sink = SliceSink { out, written: 0 };
    write_body(&mut sink, errors)?;
    Ok(sink.written)
}

/// How many bytes [`write_error_body`] needs for `errors`, so a caller can size its buffer.
pub fn error_body_len(errors: &[ErrorEntry<'_>]) -> usize {
    let mut sink = CountingSink { counted: 0 };
    // A counting sink never refuses bytes.
    let _ = write_body(&mut sink, errors);
    sink.counted
}

/// Where the body goes: a caller's buffer, or nowhere while counting.
trait Sink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), BodyTooLarge>;
}

struct SliceSink<'a> {
    out: &'a mut [u8],
    written: usize,
}

impl Sink for SliceSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), BodyTooLarge> {
        let end = self.written.checked_add(bytes.len()).ok_or(BodyTooLarge)?;
        let target = self.out.get_mut(self.written..end).ok_or(BodyTooLarge)?;
        target.copy_from_slice(bytes);
        self.written = end;
        Ok(())
    }
}

struct CountingSink {
    counted: usize,
}

impl Sink for CountingSink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), BodyTooLarge> {
        self.counted = self.counted.saturating_add(bytes.len());
        Ok(())
    }
}

fn write_body(sink: &mut impl Sink, errors: &[ErrorEntry<'_>]) -> Result<(), BodyTooLarge> {
    sink.put(b"{\"errors\":[")?;
    for (position, entry) in errors.iter().enumerate() {
        if position > 0 {
            sink.put(b",")?;
        }
        write_entry(sink, entry)?;
    }
    sink.put(b"]}")
}

fn write_entry(sink: &mut impl Sink, entry: &ErrorEntry<'_>) -> Result<(), BodyTooLarge> {
    sink.put(b"{\"code\":\"")?;
    // Codes are uppercase letters and underscores: nothing to escape.
    sink.put(entry.code.as_str().as_bytes())?;
    sink.put(b"\",\"message\":")?;
    write_string(sink, entry.message)?;
    if !entry.detail.is_empty() {
        sink.put(b",\"detail\":{")?;
        for (position, (key, value)) in entry.detail.iter().enumerate() {
            if position > 0 {
                sink.put(b",")?;
            }
            write_string(sink, key)?;
            sink.put(b":")?;
            write_string(sink, value)?;
        }
        sink.put(b"}")?;
    }
    sink.put(b"}")
}

/// Writes `text` as a JSON string, copying unescaped runs whole.
fn write_string(sink: &mut impl Sink, text: &str) -> Result<(), BodyTooLarge> {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    sink.put(b"\"")?;
    let bytes = text.as_bytes();
    let mut run_start = 0;
    for (position, &byte) in bytes.iter().enumerate() {
        let escape: Option<[u8; 6]> = match byte {
            b'"' | b'\\' => Some([b'\\', byte, 0, 0, 0, 0]),
            0x00..=0x1f => Some([
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX_DIGITS[usize::from(byte >> 4)],
                HEX_DIGITS[usize::from(byte & 0x0f)],
            ]),
            _ => None,
        };
        if let Some(escaped) = escape {
            sink.put(&bytes[run_start..position])?;
            let length = if escaped[1] == b'u' { 6 } else { 2 };
            sink.put(&escaped[..length])?;
            run_start = position + 1;
        }
    }
    sink.put(&bytes[run_start..])?;
    sink.put(b"\"")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    fn write_to_vec(errors: &[ErrorEntry<'_>]) -> Vec<u8> {
        let mut buffer = vec![0u8; error_body_len(errors)];
        let written = write_error_body(&mut buffer, errors).unwrap();
        assert_eq!(written, buffer.len());
        buffer
    }

    #[test]
    fn spec_codes_have_the_spec_names_and_messages() {
        let table = [
            (
                ErrorCode::BlobUnknown,
                "BLOB_UNKNOWN",
                "blob unknown to registry",
            ),
            (
                ErrorCode::BlobUploadInvalid,
                "BLOB_UPLOAD_INVALID",
                "blob upload invalid",
            ),
            (
                ErrorCode::BlobUploadUnknown,
                "BLOB_UPLOAD_UNKNOWN",
                "blob upload unknown to registry",
            ),
            (
                ErrorCode::DigestInvalid,
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
            ),
            (
                ErrorCode::ManifestBlobUnknown,
                "MANIFEST_BLOB_UNKNOWN",
                "manifest references a manifest or blob unknown to registry",
            ),
            (
                ErrorCode::ManifestInvalid,
                "MANIFEST_INVALID",
                "manifest invalid",
            ),
            (
                ErrorCode::ManifestUnknown,
                "MANIFEST_UNKNOWN",
                "manifest unknown to registry",
            ),
            (
                ErrorCode::NameInvalid,
                "NAME_INVALID",
                "invalid repository name",
            ),
            (
                ErrorCode::NameUnknown,
                "NAME_UNKNOWN",
                "repository name not known to registry",
            ),
            (
                ErrorCode::SizeInvalid,
                "SIZE_INVALID",
                "provided length did not match content length",
            ),
            (
                ErrorCode::Unauthorized,
                "UNAUTHORIZED",
                "authentication required",
            ),
            (
                ErrorCode::Denied,
                "DENIED",
                "requested access to the resource is denied",
            ),
            (
                ErrorCode::Unsupported,
                "UNSUPPORTED",
                "the operation is unsupported",
            ),
            (
                ErrorCode::TooManyRequests,
                "TOOMANYREQUESTS",
                "too many requests",
            ),
        ];
        for (code, wire, message) in table {
            assert_eq!(code.as_str(), wire);
            assert_eq!(code.default_message(), message, "{wire}");
            assert_eq!(code.to_string(), wire);
        }
    }

    #[test]
    fn default_statuses_match_common_practice() {
        let table = [
            (ErrorCode::BlobUnknown, 404),
            (ErrorCode::BlobUploadInvalid, 400),
            (ErrorCode::BlobUploadUnknown, 404),
            (ErrorCode::DigestInvalid, 400),
            (ErrorCode::ManifestBlobUnknown, 400),
            (ErrorCode::ManifestInvalid, 400),
            (ErrorCode::ManifestUnknown, 404),
            (ErrorCode::NameInvalid, 400),
            (ErrorCode::NameUnknown, 404),
            (ErrorCode::SizeInvalid, 400),
            (ErrorCode::Unauthorized, 401),
            (ErrorCode::Denied, 403),
            (ErrorCode::Unsupported, 405),
            (ErrorCode::TooManyRequests, 429),
            (ErrorCode::TagInvalid, 400),
            (ErrorCode::ManifestReferenced, 409),
            (ErrorCode::RangeInvalid, 416),
            (ErrorCode::PaginationNumberInvalid, 400),
            (ErrorCode::Unavailable, 503),
            (ErrorCode::Unknown, 500),
        ];
        assert_eq!(table.len(), ErrorCode::ALL.len());
        for (code, status) in table {
            assert_eq!(code.default_status(), status, "{code}");
        }
    }

    #[test]
    fn wire_names_are_unique_uppercase_and_round_trip() {
        for (position, code) in ErrorCode::ALL.into_iter().enumerate() {
            let wire = code.as_str();
            assert!(
                wire.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{wire}"
            );
            assert_eq!(ErrorCode::from_wire(wire), Some(code));
            assert!(!code.default_message().is_empty());
            for other in &ErrorCode::ALL[position + 1..] {
                assert_ne!(wire, other.as_str());
            }
        }
        assert_eq!(ErrorCode::from_wire("blob_unknown"), None);
        assert_eq!(ErrorCode::from_wire(""), None);
    }

    #[test]
    fn body_without_detail_omits_the_field() {
        let body = write_to_vec(&[ErrorEntry::new(ErrorCode::ManifestUnknown)]);
        assert_eq!(
            body,
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown to registry"}]}"#
        );
    }

    #[test]
    fn body_parses_back_to_the_same_entries() {
        let detail = [("digest", "sha256:abc"), ("reference", "latest")];
        let errors = [
            ErrorEntry {
                code: ErrorCode::DigestInvalid,
                message: "bad digest",
                detail: &detail,
            },
            ErrorEntry::new(ErrorCode::NameUnknown),
        ];
        let body = write_to_vec(&errors);
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        let expected = json!({"errors": [
            {"code": "DIGEST_INVALID", "message": "bad digest",
             "detail": {"digest": "sha256:abc", "reference": "latest"}},
            {"code": "NAME_UNKNOWN", "message": "repository name not known to registry"},
        ]});
        assert_eq!(parsed, expected);
    }

    #[test]
    fn empty_error_list_is_still_a_valid_body() {
        assert_eq!(write_to_vec(&[]), br#"{"errors":[]}"#);
    }

    #[test]
    fn hostile_strings_are_escaped() {
        let cases = [
            ("\"", r#""\"""#),
            ("\\", r#""\\""#),
            ("a\nb", r#""a\u000ab""#),
            ("\u{0}\u{1f}", r#""\u0000\u001f""#),
            ("\r\t", r#""\u000d\u0009""#),
            ("\u{7f}", "\"\u{7f}\""),
            (
                "caf\u{e9} \u{2028} \u{1f600}",
                "\"caf\u{e9} \u{2028} \u{1f600}\"",
            ),
            ("\"},{\"code\":\"DENIED", r#""\"},{\"code\":\"DENIED""#),
            ("</script>", r#""</script>""#),
        ];
        for (input, expected) in cases {
            let mut sink = Vec::new();
            struct VecSink<'a>(&'a mut Vec<u8>);
            impl Sink for VecSink<'_> {
                fn put(&mut self, bytes: &[u8]) -> Result<(), BodyTooLarge> {
                    self.0.extend_from_slice(bytes);
                    Ok(())
                }
            }
            write_string(&mut VecSink(&mut sink), input).unwrap();
            assert_eq!(String::from_utf8(sink).unwrap(), expected, "{input:?}");
        }
    }

    #[test]
    fn hostile_message_and_detail_survive_a_round_trip() {
        let key = "k\"\\\u{1}";
        let value = "v\n\u{e9}\"}]";
        let detail = [(key, value)];
        let message = "\"}],\"injected\":true,{\"";
        let errors = [ErrorEntry {
            code: ErrorCode::Denied,
            message,
            detail: &detail,
        }];
        let parsed: Value = serde_json::from_slice(&write_to_vec(&errors)).unwrap();
        let expected =
            json!({"errors": [{"code": "DENIED", "message": message, "detail": {key: value}}]});
        assert_eq!(parsed, expected);
    }

    #[test]
    fn too_small_buffers_fail_without_panicking() {
        let detail = [("name", "library/busybox")];
        let errors = [ErrorEntry {
            code: ErrorCode::NameUnknown,
            message: "m\n",
            detail: &detail,
        }];
        let needed = error_body_len(&errors);
        for size in 0..needed {
            let mut buffer = vec![0u8; size];
            assert_eq!(
                write_error_body(&mut buffer, &errors),
                Err(BodyTooLarge),
                "size {size}"
            );
        }
        let mut buffer = vec![0u8; needed + 10];
        assert_eq!(write_error_body(&mut buffer, &errors), Ok(needed));
    }

    fn any_code() -> impl Strategy<Value = ErrorCode> {
        proptest::sample::select(ErrorCode::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn arbitrary_entries_round_trip_through_serde_json(
            code in any_code(),
            message in any::<String>(),
            detail in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..4),
            spare in 0usize..8,
        ) {
            let pairs: Vec<(&str, &str)> =
                detail.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
            let errors = [ErrorEntry { code, message: &message, detail: &pairs }];
            let needed = error_body_len(&errors);
            let mut buffer = vec![0u8; needed + spare];
            let written = write_error_body(&mut buffer, &errors).unwrap();
            prop_assert_eq!(written, needed);
            let parsed: Value = serde_json::from_slice(&buffer[..written]).unwrap();
            let mut entry = json!({"code": code.as_str(), "message": message});
            if !detail.is_empty() {
                entry["detail"] = json!(detail);
            }
            prop_assert_eq!(parsed, json!({"errors": [entry]}));
            if needed > 0 {
                let mut short = vec![0u8; needed - 1];
                prop_assert_eq!(write_error_body(&mut short, &errors), Err(BodyTooLarge));
            }
        }
    }
}
