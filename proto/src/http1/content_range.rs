//! `Content-Range` for chunked blob uploads (OCI distribution spec), the upload progress value
//! `0-<end>`, and the `Content-Range` values of 206 and 416 responses (RFC 9110 section 14.4).
//!
//! The distribution spec has a PATCH chunk carry `Content-Range: <start>-<end>` (inclusive, no
//! unit), but clients written against RFC 9110 send the unit too, so [`parse_upload_range`]
//! takes these forms and nothing else:
//!
//! - `<start>-<end>`: the distribution spec's form;
//! - `bytes <start>-<end>/*` and `bytes <start>-<end>/<total>`: RFC 9110's form, with `<total>`
//!   past `<end>` when known;
//! - `bytes=<start>-<end>`: `Range`-style syntax that some clients put in `Content-Range`.
//!
//! The unit is matched case-insensitively; the numbers are `1*DIGIT` with no sign or spaces.

use core::fmt;

use crate::http1::chars;
use crate::http1::range::ByteRange;
use crate::http1::response::{U64_DECIMAL_BYTES_MAX, format_decimal};

/// Most bytes [`write_upload_range`] writes: `0-` and a `u64`.
pub const UPLOAD_RANGE_BYTES_MAX: usize = 2 + U64_DECIMAL_BYTES_MAX;

/// Most bytes [`write_content_range`] and [`write_unsatisfied_range`] write:
/// `bytes <u64>-<u64>/<u64>`.
pub const CONTENT_RANGE_BYTES_MAX: usize = 6 + 3 * U64_DECIMAL_BYTES_MAX + 2;

/// Why a chunk's `Content-Range` is refused. zot answers every variant with 416 Range Not
/// Satisfiable, as the distribution spec asks for a chunk that does not fit the upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentRangeError {
    /// None of the accepted forms, a number beyond `u64`, or an end of `u64::MAX` (whose
    /// exclusive end would not fit a `u64`).
    Malformed,
    /// The end comes before the start.
    EndBeforeStart,
    /// A total length that does not exceed the end (RFC 9110 section 14.4 calls such a value
    /// invalid).
    EndNotBeforeTotal,
}

impl fmt::Display for ContentRangeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ContentRangeError::Malformed => "Content-Range is not of the form start-end",
            ContentRangeError::EndBeforeStart => "Content-Range ends before it starts",
            ContentRangeError::EndNotBeforeTotal => "Content-Range ends past its total length",
        })
    }
}

impl std::error::Error for ContentRangeError {}

/// The byte positions a PATCH chunk claims in its upload, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadRange {
    pub start: u64,
    pub end_inclusive: u64,
}

impl UploadRange {
    /// Bytes in the chunk (at least 1: an inclusive range cannot describe an empty chunk).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.end_inclusive - self.start + 1
    }

    /// The upload offset after the chunk.
    pub fn end_exclusive(&self) -> u64 {
        self.end_inclusive + 1
    }
}

/// Parses the `Content-Range` of a PATCH chunk in one of the forms listed in the module
/// documentation.
pub fn parse_upload_range(value: &[u8]) -> Result<UploadRange, ContentRangeError> {
    let value = chars::trim_whitespace(value);
    let (range_text, total_text) = if let Some(rest) = strip_prefix_ignore_case(value, b"bytes ") {
        let slash = rest
            .iter()
            .position(|&byte| byte == b'/')
            .ok_or(ContentRangeError::Malformed)?;
        (&rest[..slash], Some(&rest[slash + 1..]))
    } else if let Some(rest) = strip_prefix_ignore_case(value, b"bytes=") {
        (rest, None)
    } else {
        (value, None)
    };
    let dash = range_text
        .iter()
        .position(|&byte| byte == b'-')
        .ok_or(ContentRangeError::Malformed)?;
    let start = parse_number(&range_text[..dash])?;
    let end_inclusive = parse_number(&range_text[dash + 1..])?;
    if end_inclusive == u64::MAX {
        return Err(ContentRangeError::Malformed);
    }
    if end_inclusive < start {
        return Err(ContentRangeError::EndBeforeStart);
    }
    match total_text {
        None | Some(b"*") => {}
        Some(total_text) => {
            if parse_number(total_text)? <= end_inclusive {
                return Err(ContentRangeError::EndNotBeforeTotal);
            }
        }
    }
    Ok(UploadRange {
        start,
        end_inclusive,
    })
}

/// `value` without `prefix`, compared ASCII case-insensitively.
fn strip_prefix_ignore_case<'a>(value: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

/// `1*DIGIT` as a `u64`.
fn parse_number(digits: &[u8]) -> Result<u64, ContentRangeError> {
    chars::parse_decimal(digits).ok_or(ContentRangeError::Malformed)
}

/// Writes the upload progress value `0-<last byte received>` of an upload holding
/// `offset_bytes` bytes and returns its length.
///
/// The distribution spec's quirk: an empty upload has no last byte, yet clients expect the
/// header in the same shape, so it is `0-0` both for an empty upload and for a one-byte upload.
///
/// # Panics
/// If `out` is shorter than [`UPLOAD_RANGE_BYTES_MAX`] (a programmer error).
pub fn write_upload_range(offset_bytes: u64, out: &mut [u8]) -> usize {
    assert!(
        out.len() >= UPLOAD_RANGE_BYTES_MAX,
        "upload range buffer is too short"
    );
    let mut writer = Writer { out, len: 0 };
    writer.push(b"0-");
    writer.push_decimal(offset_bytes.saturating_sub(1));
    writer.len
}

/// Writes `bytes <start>-<end>/<size>` for a 206 response and returns its length.
///
/// # Panics
/// If `out` is shorter than [`CONTENT_RANGE_BYTES_MAX`] (a programmer error).
pub fn write_content_range(range: ByteRange, size: u64, out: &mut [u8]) -> usize {
    assert!(
        out.len() >= CONTENT_RANGE_BYTES_MAX,
        "content range buffer is too short"
    );
    let mut writer = Writer { out, len: 0 };
    writer.push(b"bytes ");
    writer.push_decimal(range.start);
    writer.push(b"-");
    writer.push_decimal(range.end_inclusive);
    writer.push(b"/");
    writer.push_decimal(size);
    writer.len
}

/// Writes `bytes */<size>` for a 416 response and returns its length.
///
/// # Panics
/// If `out` is shorter than [`CONTENT_RANGE_BYTES_MAX`] (a programmer error).
pub fn write_unsatisfied_range(size: u64, out: &mut [u8]) -> usize {
    assert!(
        out.len() >= CONTENT_RANGE_BYTES_MAX,
        "content range buffer is too short"
    );
    let mut writer = Writer { out, len: 0 };
    writer.push(b"bytes */");
    writer.push_decimal(size);
    writer.len
}

/// Appends to a buffer its caller has checked is long enough for the longest value.
struct Writer<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn push(&mut self, bytes: &[u8]) {
        self.out[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn push_decimal(&mut self, value: u64) {
        let mut digits = [0u8; U64_DECIMAL_BYTES_MAX];
        self.push(format_decimal(value, &mut digits));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn parsed(value: &str) -> Result<(u64, u64), ContentRangeError> {
        parse_upload_range(value.as_bytes()).map(|range| (range.start, range.end_inclusive))
    }

    #[test]
    fn accepted_forms() {
        let cases = [
            ("0-0", (0, 0)),
            ("0-1023", (0, 1023)),
            ("1024-2047", (1024, 2047)),
            ("007-008", (7, 8)),
            ("  0-9\t", (0, 9)),
            ("0-18446744073709551614", (0, u64::MAX - 1)),
            ("bytes 0-9/*", (0, 9)),
            ("bytes 0-9/10", (0, 9)),
            ("bytes 10-19/1000", (10, 19)),
            ("Bytes 0-9/*", (0, 9)),
            ("bytes=0-9", (0, 9)),
            ("BYTES=5-5", (5, 5)),
        ];
        for (value, expected) in cases {
            assert_eq!(parsed(value), Ok(expected), "{value:?}");
        }
    }

    #[test]
    fn malformed_values() {
        let cases = [
            "",
            "0",
            "-",
            "0-",
            "-9",
            "a-b",
            "0-9a",
            "+0-9",
            "0 - 9",
            "0--9",
            "0-9-10",
            "0-9/10",
            "0-9/*",
            "bytes 0-9",
            "bytes 0-9/",
            "bytes 0-9/x",
            "bytes 0-9/-1",
            "bytes */10",
            "bytes  0-9/*",
            "bytes\t0-9/*",
            "bytes=0-9/*",
            "bytes= 0-9",
            "items 0-9/*",
            "items=0-9",
            "0-18446744073709551616",
            "18446744073709551616-18446744073709551617",
            "0-18446744073709551615",
            "bytes 0-9/18446744073709551616",
        ];
        for value in cases {
            assert_eq!(
                parsed(value),
                Err(ContentRangeError::Malformed),
                "{value:?}"
            );
        }
    }

    #[test]
    fn reversed_ranges() {
        for value in ["10-9", "1-0", "bytes 10-9/*", "bytes=10-9"] {
            assert_eq!(
                parsed(value),
                Err(ContentRangeError::EndBeforeStart),
                "{value:?}"
            );
        }
    }

    #[test]
    fn totals_must_exceed_the_end() {
        for value in ["bytes 0-9/9", "bytes 0-9/0", "bytes 5-9/5"] {
            assert_eq!(
                parsed(value),
                Err(ContentRangeError::EndNotBeforeTotal),
                "{value:?}"
            );
        }
    }

    #[test]
    fn lengths() {
        let range = parse_upload_range(b"10-19").unwrap();
        assert_eq!(range.len(), 10);
        assert_eq!(range.end_exclusive(), 20);
        let widest = parse_upload_range(b"0-18446744073709551614").unwrap();
        assert_eq!(widest.len(), u64::MAX);
        assert_eq!(widest.end_exclusive(), u64::MAX);
    }

    fn upload_range_text(offset_bytes: u64) -> String {
        let mut out = [0u8; UPLOAD_RANGE_BYTES_MAX];
        let len = write_upload_range(offset_bytes, &mut out);
        String::from_utf8(out[..len].to_vec()).unwrap()
    }

    #[test]
    fn upload_progress_values() {
        let cases = [
            (0, "0-0"),
            (1, "0-0"),
            (2, "0-1"),
            (1024, "0-1023"),
            (u64::MAX, "0-18446744073709551614"),
        ];
        for (offset_bytes, expected) in cases {
            assert_eq!(upload_range_text(offset_bytes), expected, "{offset_bytes}");
        }
    }

    #[test]
    #[should_panic(expected = "too short")]
    fn upload_range_buffer_must_hold_the_longest_value() {
        let mut out = [0u8; UPLOAD_RANGE_BYTES_MAX - 1];
        write_upload_range(0, &mut out);
    }

    #[test]
    fn response_content_ranges() {
        let mut out = [0u8; CONTENT_RANGE_BYTES_MAX];
        let range = ByteRange {
            start: 0,
            end_inclusive: 499,
        };
        let len = write_content_range(range, 10_000, &mut out);
        assert_eq!(&out[..len], b"bytes 0-499/10000");
        let widest = ByteRange {
            start: u64::MAX - 1,
            end_inclusive: u64::MAX - 1,
        };
        let len = write_content_range(widest, u64::MAX, &mut out);
        assert_eq!(
            &out[..len],
            b"bytes 18446744073709551614-18446744073709551614/18446744073709551615"
        );
        let len = write_unsatisfied_range(10, &mut out);
        assert_eq!(&out[..len], b"bytes */10");
        let len = write_unsatisfied_range(0, &mut out);
        assert_eq!(&out[..len], b"bytes */0");
    }

    #[test]
    #[should_panic(expected = "too short")]
    fn content_range_buffer_must_hold_the_longest_value() {
        let mut out = [0u8; CONTENT_RANGE_BYTES_MAX - 1];
        write_unsatisfied_range(0, &mut out);
    }

    #[test]
    fn errors_display() {
        assert!(
            ContentRangeError::Malformed
                .to_string()
                .contains("start-end")
        );
        assert!(
            ContentRangeError::EndBeforeStart
                .to_string()
                .contains("before")
        );
        assert!(
            ContentRangeError::EndNotBeforeTotal
                .to_string()
                .contains("total")
        );
    }

    proptest! {
        #[test]
        fn upload_ranges_round_trip(start: u64, length in 1u64..=u64::MAX) {
            let end_inclusive = start.saturating_add(length - 1).min(u64::MAX - 1);
            prop_assume!(start <= end_inclusive);
            let expected = UploadRange { start, end_inclusive };
            for value in [
                format!("{start}-{end_inclusive}"),
                format!("bytes {start}-{end_inclusive}/*"),
                format!("bytes={start}-{end_inclusive}"),
                format!("bytes {start}-{end_inclusive}/{}", u64::MAX),
            ] {
                prop_assert_eq!(parse_upload_range(value.as_bytes()), Ok(expected), "{}", value);
            }
        }

        #[test]
        fn upload_progress_parses_back(offset_bytes in 1u64..=u64::MAX) {
            let text = upload_range_text(offset_bytes);
            let range = parse_upload_range(text.as_bytes()).unwrap();
            prop_assert_eq!(range.start, 0);
            prop_assert_eq!(range.end_exclusive(), offset_bytes);
        }

        #[test]
        fn arbitrary_values_never_panic(value in "[0-9a-zB */=-]{0,30}") {
            if let Ok(range) = parse_upload_range(value.as_bytes()) {
                prop_assert!(range.start <= range.end_inclusive);
                prop_assert!(range.end_inclusive < u64::MAX);
            }
        }
    }
}
