//! The response head writer: status line and header fields into a caller-owned buffer.
//!
//! The writer never allocates and never panics on a full buffer: the first write that does not
//! fit marks the head as too large, later writes are dropped, and [`HeadWriter::finish`] reports
//! it. Header names and values come from the server's own code, never from a client unchecked,
//! so a name that is not a token or a value with CR, LF or NUL is a bug (it would let a client
//! split the response) and is stopped by an `assert!`.

use core::fmt;

use crate::http1::chars;
use crate::http1::date::IMF_FIXDATE_BYTES;

/// Digits of the largest `u64` (18446744073709551615).
pub const U64_DECIMAL_BYTES_MAX: usize = 20;

/// Writes `value` in decimal at the end of `digits` and returns the written part.
///
/// Formats by hand so that no formatter machinery (and no allocation) runs per response.
pub fn format_decimal(value: u64, digits: &mut [u8; U64_DECIMAL_BYTES_MAX]) -> &[u8] {
    let mut remaining = value;
    let mut start = U64_DECIMAL_BYTES_MAX;
    loop {
        start -= 1;
        digits[start] = b'0' + (remaining % 10) as u8;
        remaining /= 10;
        if remaining == 0 {
            break;
        }
    }
    &digits[start..]
}

/// The reason phrase this server sends with `status`. Every status the registry answers with
/// has its own; any other gets a generic phrase of its class (clients must ignore the phrase,
/// RFC 9112 section 4, so this is for people reading traces).
pub fn reason_phrase(status: u16) -> &'static str {
    registered_reason_phrase(status).unwrap_or(match status {
        100..=199 => "Informational",
        200..=299 => "Success",
        300..=399 => "Redirection",
        400..=499 => "Client Error",
        _ => "Server Error",
    })
}

/// The RFC 9110 reason phrase of each status the registry answers with.
fn registered_reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => return None,
    })
}

/// The response head did not fit in the buffer given to [`HeadWriter::new`]. There is only one
/// way to fail, so this is a struct rather than an enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeadTooLarge {
    /// Capacity of the buffer that was too small.
    pub buffer_bytes: usize,
}

impl fmt::Display for HeadTooLarge {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "response head does not fit in {} bytes",
            self.buffer_bytes
        )
    }
}

impl std::error::Error for HeadTooLarge {}

/// Writes one response head into a caller-owned buffer (sized with
/// `limits::RESPONSE_HEAD_BYTES_MAX` by the server).
///
/// The status line always says `HTTP/1.1`, also in answer to an HTTP/1.0 request: RFC 9110
/// section 2.5 has a server send the highest minor version it conforms to, and the framing
/// choices for 1.0 clients (no chunked body, `Connection: close`) are the caller's.
#[derive(Debug)]
pub struct HeadWriter<'b> {
    buffer: &'b mut [u8],
    len: usize,
    overflowed: bool,
}

impl<'b> HeadWriter<'b> {
    /// Starts a head with the status line `HTTP/1.1 <status> <reason>`.
    ///
    /// # Panics
    /// If `status` is not a three-digit code (100 to 999): a programmer error.
    pub fn new(buffer: &'b mut [u8], status: u16) -> HeadWriter<'b> {
        assert!(
            (100..=999).contains(&status),
            "status {status} is not a three-digit code"
        );
        let mut writer = HeadWriter {
            buffer,
            len: 0,
            overflowed: false,
        };
        let mut digits = [0u8; U64_DECIMAL_BYTES_MAX];
        writer.push(b"HTTP/1.1 ");
        writer.push(format_decimal(u64::from(status), &mut digits));
        writer.push(b" ");
        writer.push(reason_phrase(status).as_bytes());
        writer.push(b"\r\n");
        writer
    }

    /// Appends the field line `name: value`.
    ///
    /// # Panics
    /// If `name` is not a token or `value` holds CR, LF or NUL: either would let the value
    /// start a new field line or body (response splitting), and only a bug in the server can
    /// cause it since client data is validated before it gets here.
    pub fn header(&mut self, name: &str, value: &[u8]) -> &mut HeadWriter<'b> {
        assert!(
            chars::is_token_bytes(name.as_bytes()),
            "header name {name:?} is not a token"
        );
        assert!(
            !value.iter().any(|&byte| matches!(byte, b'\r' | b'\n' | 0)),
            "value of header {name} holds CR, LF or NUL"
        );
        // A line either fits whole or not at all, so that a truncated head never ends in half
        // a field line.
        let line_bytes = name.len() + b": ".len() + value.len() + b"\r\n".len();
        if self.buffer.len() - self.len < line_bytes {
            self.overflowed = true;
        }
        self.push(name.as_bytes());
        self.push(b": ");
        self.push(value);
        self.push(b"\r\n");
        self
    }

    /// Appends `name: <value in decimal>`.
    pub fn header_u64(&mut self, name: &str, value: u64) -> &mut HeadWriter<'b> {
        let mut digits = [0u8; U64_DECIMAL_BYTES_MAX];
        let text = format_decimal(value, &mut digits);
        self.header(name, text)
    }

    /// Appends `Content-Length: <bytes>`.
    pub fn content_length(&mut self, bytes: u64) -> &mut HeadWriter<'b> {
        self.header_u64("Content-Length", bytes)
    }

    /// Appends `Date: <IMF-fixdate>`, e.g. from [`crate::http1::date::DateCache::get`].
    pub fn date(&mut self, imf_fixdate: &[u8; IMF_FIXDATE_BYTES]) -> &mut HeadWriter<'b> {
        self.header("Date", imf_fixdate)
    }

    /// Appends `Connection: close`.
    pub fn connection_close(&mut self) -> &mut HeadWriter<'b> {
        self.header("Connection", b"close")
    }

    /// Bytes written so far (without the final CRLF that [`HeadWriter::finish`] adds).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before anything is written; never true after [`HeadWriter::new`], which writes the
    /// status line (unless the buffer could not even hold that).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the empty line that ends the head and returns the head's length in the buffer.
    pub fn finish(mut self) -> Result<usize, HeadTooLarge> {
        self.push(b"\r\n");
        if self.overflowed {
            return Err(HeadTooLarge {
                buffer_bytes: self.buffer.len(),
            });
        }
        Ok(self.len)
    }

    /// Copies `bytes` after the written part, or marks the head as too large for good.
    fn push(&mut self, bytes: &[u8]) {
        if self.overflowed {
            return;
        }
        let Some(destination) = self.buffer.get_mut(self.len..self.len + bytes.len()) else {
            self.overflowed = true;
            return;
        };
        destination.copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::http1::date::format_imf_fixdate;
    use crate::limits::RESPONSE_HEAD_BYTES_MAX;

    fn written(buffer: &[u8], len: usize) -> &str {
        core::str::from_utf8(&buffer[..len]).unwrap()
    }

    #[test]
    fn head_with_every_helper() {
        let mut buffer = [0u8; RESPONSE_HEAD_BYTES_MAX];
        let mut writer = HeadWriter::new(&mut buffer, 206);
        writer
            .header("Content-Type", b"application/octet-stream")
            .content_length(1234)
            .header_u64("X-Zero", 0)
            .date(&format_imf_fixdate(784_111_777))
            .connection_close();
        let len = writer.finish().unwrap();
        assert_eq!(
            written(&buffer, len),
            "HTTP/1.1 206 Partial Content\r\n\
             Content-Type: application/octet-stream\r\n\
             Content-Length: 1234\r\n\
             X-Zero: 0\r\n\
             Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
             Connection: close\r\n\
             \r\n"
        );
    }

    #[test]
    fn empty_value_is_allowed() {
        let mut buffer = [0u8; 64];
        let mut writer = HeadWriter::new(&mut buffer, 200);
        writer.header("X-Empty", b"");
        let len = writer.finish().unwrap();
        assert_eq!(
            written(&buffer, len),
            "HTTP/1.1 200 OK\r\nX-Empty: \r\n\r\n"
        );
    }

    #[test]
    fn status_lines_have_their_reason_phrase() {
        let cases = [
            (100, "Continue"),
            (200, "OK"),
            (201, "Created"),
            (202, "Accepted"),
            (204, "No Content"),
            (206, "Partial Content"),
            (301, "Moved Permanently"),
            (302, "Found"),
            (304, "Not Modified"),
            (307, "Temporary Redirect"),
            (400, "Bad Request"),
            (401, "Unauthorized"),
            (403, "Forbidden"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (408, "Request Timeout"),
            (411, "Length Required"),
            (413, "Content Too Large"),
            (414, "URI Too Long"),
            (415, "Unsupported Media Type"),
            (416, "Range Not Satisfiable"),
            (417, "Expectation Failed"),
            (429, "Too Many Requests"),
            (431, "Request Header Fields Too Large"),
            (500, "Internal Server Error"),
            (501, "Not Implemented"),
            (503, "Service Unavailable"),
            (505, "HTTP Version Not Supported"),
            (103, "Informational"),
            (299, "Success"),
            (399, "Redirection"),
            (418, "Client Error"),
            (599, "Server Error"),
            (999, "Server Error"),
        ];
        for (status, reason) in cases {
            let mut buffer = [0u8; 128];
            let len = HeadWriter::new(&mut buffer, status).finish().unwrap();
            assert_eq!(
                written(&buffer, len),
                format!("HTTP/1.1 {status} {reason}\r\n\r\n")
            );
        }
    }

    #[test]
    fn overflow_is_an_error_and_sticky() {
        // Room for the status line but not the header; a short header afterwards must not
        // sneak in behind the dropped one.
        let status_line = b"HTTP/1.1 200 OK\r\n".len();
        let mut buffer = [0u8; 32];
        let mut writer = HeadWriter::new(&mut buffer, 200);
        assert_eq!(writer.len(), status_line);
        writer.header("X-Long", &[b'a'; 20]).header("A", b"b");
        assert_eq!(writer.len(), status_line);
        assert_eq!(writer.finish(), Err(HeadTooLarge { buffer_bytes: 32 }));
    }

    #[test]
    fn final_line_that_does_not_fit_is_an_error() {
        let head = b"HTTP/1.1 200 OK\r\n";
        let mut buffer = [0u8; 18];
        assert_eq!(
            HeadWriter::new(&mut buffer[..head.len()], 200).finish(),
            Err(HeadTooLarge {
                buffer_bytes: head.len()
            })
        );
        assert_eq!(
            HeadWriter::new(&mut buffer[..head.len() + 1], 200)
                .finish()
                .ok(),
            None
        );
        let mut exact = [0u8; 19];
        assert_eq!(HeadWriter::new(&mut exact, 200).finish(), Ok(19));
    }

    #[test]
    fn empty_buffer_is_an_error() {
        let mut buffer = [0u8; 0];
        let writer = HeadWriter::new(&mut buffer, 200);
        assert!(writer.is_empty());
        assert!(writer.finish().is_err());
    }

    #[test]
    #[should_panic(expected = "not a token")]
    fn header_name_must_be_a_token() {
        let mut buffer = [0u8; 128];
        HeadWriter::new(&mut buffer, 200).header("Bad Name", b"x");
    }

    #[test]
    #[should_panic(expected = "not a token")]
    fn header_name_must_not_be_empty() {
        let mut buffer = [0u8; 128];
        HeadWriter::new(&mut buffer, 200).header("", b"x");
    }

    #[test]
    fn header_values_with_line_breaks_or_nul_are_refused() {
        for value in [&b"a\r\nSet-Cookie: x"[..], b"a\rb", b"a\nb", b"a\0b"] {
            let result = std::panic::catch_unwind(|| {
                let mut buffer = [0u8; 128];
                HeadWriter::new(&mut buffer, 200).header("X", value);
            });
            assert!(result.is_err(), "{value:?} must be refused");
        }
    }

    #[test]
    fn header_is_checked_even_after_overflow() {
        let result = std::panic::catch_unwind(|| {
            let mut buffer = [0u8; 4];
            HeadWriter::new(&mut buffer, 200).header("X", b"\r\n");
        });
        assert!(result.is_err());
    }

    #[test]
    #[should_panic(expected = "three-digit")]
    fn status_must_have_three_digits() {
        let mut buffer = [0u8; 128];
        HeadWriter::new(&mut buffer, 99);
    }

    #[test]
    fn decimal_formatting_known_values() {
        let cases = [
            (0, "0"),
            (7, "7"),
            (10, "10"),
            (1234, "1234"),
            (u64::from(u32::MAX), "4294967295"),
            (u64::MAX, "18446744073709551615"),
        ];
        for (value, expected) in cases {
            let mut digits = [0u8; U64_DECIMAL_BYTES_MAX];
            assert_eq!(format_decimal(value, &mut digits), expected.as_bytes());
        }
    }

    proptest! {
        #[test]
        fn decimal_formatting_matches_display(value: u64) {
            let mut digits = [0u8; U64_DECIMAL_BYTES_MAX];
            let expected = value.to_string();
            prop_assert_eq!(format_decimal(value, &mut digits), expected.as_bytes());
        }

        #[test]
        fn writer_never_panics_on_small_buffers(
            capacity in 0usize..96,
            value in proptest::collection::vec(0x20u8..0x7f, 0..64),
        ) {
            let mut buffer = vec![0u8; capacity];
            let mut writer = HeadWriter::new(&mut buffer, 404);
            writer.header("X-Value", &value).content_length(value.len() as u64);
            let expected_len = b"HTTP/1.1 404 Not Found\r\n".len()
                + b"X-Value: \r\n".len() + value.len()
                + b"Content-Length: \r\n".len() + value.len().to_string().len()
                + 2;
            match writer.finish() {
                Ok(len) => {
                    prop_assert_eq!(len, expected_len);
                    prop_assert!(len <= capacity);
                    prop_assert!(buffer[..len].ends_with(b"\r\n\r\n"));
                }
                Err(error) => {
                    prop_assert!(expected_len > capacity);
                    prop_assert_eq!(error.buffer_bytes, capacity);
                }
            }
        }
    }
}
