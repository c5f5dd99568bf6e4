//! The response head, read by a client: an incremental, allocation-free parser of the status
//! line and header section (RFC 9112 sections 4 and 5), and how the body that follows is
//! delimited (RFC 9112 section 6.3).
//!
//! Like the request parser it borrows from the input and stores field lines in a caller-owned
//! array, so a client parses in place in its read buffer.

use crate::http1::chars;
use crate::http1::request::{Header, Status, Version};
use crate::limits::{HEADER_COUNT_MAX, HEADER_SECTION_BYTES_MAX};
use core::fmt;

/// The longest status line accepted: `HTTP/1.1 200 ` plus a reason phrase.
pub const STATUS_LINE_BYTES_MAX: usize = 8 * 1024;

/// Why a response head cannot be read. The connection cannot be framed any more after one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The version is not `HTTP/1.0` or `HTTP/1.1`.
    Version,
    /// The status code is not three digits, or the space around it is missing.
    StatusCode,
    /// The reason phrase has a control character.
    Reason,
    /// The status line is longer than [`STATUS_LINE_BYTES_MAX`].
    StatusLineTooLong,
    /// The header section is longer than `HEADER_SECTION_BYTES_MAX`.
    HeaderSectionTooLarge,
    /// More field lines than `HEADER_COUNT_MAX` or the caller's array.
    TooManyHeaders,
    /// A field name that is empty or not a token.
    HeaderName,
    /// A field value with a control character.
    HeaderValue,
    /// A field line starting with whitespace (obsolete line folding).
    ObsoleteLineFolding,
    /// A bare LF, or a CR not followed by LF.
    LineEnding,
    /// A Content-Length that is not `1*DIGIT`, overflows, or disagrees with another one.
    ContentLength,
    /// A Transfer-Encoding whose last coding is not `chunked`, or that repeats `chunked`.
    TransferEncoding,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ResponseError::Version => "bad HTTP version in the status line",
            ResponseError::StatusCode => "bad status code",
            ResponseError::Reason => "bad reason phrase",
            ResponseError::StatusLineTooLong => "status line too long",
            ResponseError::HeaderSectionTooLarge => "response header section too large",
            ResponseError::TooManyHeaders => "too many response header fields",
            ResponseError::HeaderName => "bad response header name",
            ResponseError::HeaderValue => "bad response header value",
            ResponseError::ObsoleteLineFolding => "obsolete line folding in a response",
            ResponseError::LineEnding => "bad line ending in a response head",
            ResponseError::ContentLength => "bad Content-Length in a response",
            ResponseError::TransferEncoding => "bad Transfer-Encoding in a response",
        };
        formatter.write_str(text)
    }
}

impl std::error::Error for ResponseError {}

/// How the body after a response head is delimited, seen from the field lines only. The
/// request method and status also matter: see [`Response::body`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding; decode with [`crate::http1::chunked::ChunkedDecoder`].
    Chunked,
    /// Neither length nor chunked: the body runs until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a, 'h> {
    pub version: Version,
    /// The status code, 100 to 999.
    pub status: u16,
    /// The reason phrase, possibly empty. May hold obs-text bytes.
    pub reason: &'a [u8],
    /// The field lines in the order received.
    pub headers: &'h [Header<'a>],
    /// The Content-Length, when one (or several equal ones) was sent.
    pub content_length: Option<u64>,
    /// True when the last transfer coding is `chunked`.
    pub chunked: bool,
    /// True when the connection may carry another request after this response.
    pub keep_alive: bool,
}

impl<'a> Response<'a, '_> {
    /// The value of the first field with this name (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value)
    }

    /// How the body is delimited, given whether the request was a HEAD (RFC 9112 section 6.3).
    pub fn body(&self, request_was_head: bool) -> ResponseBody {
        if request_was_head || self.status < 200 || self.status == 204 || self.status == 304 {
            ResponseBody::Empty
        } else if self.chunked {
            ResponseBody::Chunked
        } else if let Some(length) = self.content_length {
            ResponseBody::Length(length)
        } else {
            ResponseBody::UntilClose
        }
    }
}

/// Parses one response head from the start of `buffer`.
///
/// Returns `Complete((response, consumed))`, where the body starts at `buffer[consumed..]`, or
/// `Partial` when the head is not complete and nothing seen so far is invalid or over a limit.
pub fn parse_response<'a, 'h>(
    buffer: &'a [u8],
    headers: &'h mut [Header<'a>],
) -> Result<Status<(Response<'a, 'h>, usize)>, ResponseError> {
    let line_end_max = buffer.len().min(STATUS_LINE_BYTES_MAX);
    let Some(line_end) = find_line_end(&buffer[..line_end_max])? else {
        return if buffer.len() > STATUS_LINE_BYTES_MAX {
            Err(ResponseError::StatusLineTooLong)
        } else {
            // A partial line may still be invalid: check what is there.
            check_status_line_prefix(buffer)?;
            Ok(Status::Partial)
        };
    };
    let (version, status, reason) = parse_status_line(&buffer[..line_end])?;

    let section_start = line_end + 2;
    let section_end_max = buffer
        .len()
        .min(section_start.saturating_add(HEADER_SECTION_BYTES_MAX));
    let capacity = headers.len().min(HEADER_COUNT_MAX);
    let mut framing = ResponseFraming::default();
    let mut count = 0;
    let mut position = section_start;
    // Each iteration consumes one line or returns; HEADER_COUNT_MAX + 1 lines at most.
    loop {
        let window = &buffer[position..section_end_max];
        let Some(end) = find_line_end(window)? else {
            return if section_end_max < buffer.len() {
                Err(ResponseError::HeaderSectionTooLarge)
            } else {
                check_field_prefix(window)?;
                Ok(Status::Partial)
            };
        };
        let line = &window[..end];
        position += end + 2;
        if line.is_empty() {
            break;
        }
        if count == capacity {
            return Err(ResponseError::TooManyHeaders);
        }
        let header = parse_field_line(line)?;
        framing.observe(header.name, header.value)?;
        headers[count] = header;
        count += 1;
    }
    let connection_close = framing.close;
    let keep_alive = match version {
        Version::Http11 => !connection_close,
        Version::Http10 => framing.keep_alive && !connection_close,
    };
    let response = Response {
        version,
        status,
        reason,
        headers: &headers[..count],
        content_length: framing.content_length,
        chunked: framing.chunked,
        keep_alive,
    };
    debug_assert!(position <= buffer.len());
    Ok(Status::Complete((response, position)))
}

/// The position of the CR of the first CRLF, or `None` when no complete line is there. A bare
/// LF, or a CR followed by anything but LF, is an error.
fn find_line_end(bytes: &[u8]) -> Result<Option<usize>, ResponseError> {
    let Some(index) = bytes.iter().position(|&b| b == b'\r' || b == b'\n') else {
        return Ok(None);
    };
    match (bytes[index], bytes.get(index + 1)) {
        (b'\r', Some(b'\n')) => Ok(Some(index)),
        (b'\r', None) => Ok(None),
        _ => Err(ResponseError::LineEnding),
    }
}

/// `HTTP-version SP 3DIGIT SP [reason-phrase]`; the last SP may be missing when the reason is
/// empty, which some servers send.
fn parse_status_line(line: &[u8]) -> Result<(Version, u16, &[u8]), ResponseError> {
    let version = match line.get(..8) {
        Some(b"HTTP/1.1") => Version::Http11,
        Some(b"HTTP/1.0") => Version::Http10,
        _ => return Err(ResponseError::Version),
    };
    if line.get(8) != Some(&b' ') {
        return Err(ResponseError::StatusCode);
    }
    let digits = line.get(9..12).ok_or(ResponseError::StatusCode)?;
    if !digits.iter().all(u8::is_ascii_digit) || digits[0] == b'0' {
        return Err(ResponseError::StatusCode);
    }
    let status = digits
        .iter()
        .fold(0u16, |value, &digit| value * 10 + u16::from(digit - b'0'));
    let reason = match line.get(12) {
        None => &line[12..],
        Some(b' ') => &line[13..],
        Some(_) => return Err(ResponseError::StatusCode),
    };
    if !reason.iter().all(|&byte| chars::is_field_value(byte)) {
        return Err(ResponseError::Reason);
    }
    Ok((version, status, reason))
}

/// Checks an incomplete status line as far as it goes, so garbage fails at once rather than
/// after the line limit.
fn check_status_line_prefix(bytes: &[u8]) -> Result<(), ResponseError> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let expected = b"HTTP/1.";
    let compared = bytes.len().min(expected.len());
    if bytes[..compared] != expected[..compared] {
        return Err(ResponseError::Version);
    }
    if let Some(&minor) = bytes.get(7)
        && minor != b'0'
        && minor != b'1'
    {
        return Err(ResponseError::Version);
    }
    if let Some(&space) = bytes.get(8)
        && space != b' '
    {
        return Err(ResponseError::StatusCode);
    }
    Ok(())
}

/// Checks an incomplete field line as far as it goes.
fn check_field_prefix(bytes: &[u8]) -> Result<(), ResponseError> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    match bytes.first() {
        None => Ok(()),
        Some(b' ' | b'\t') => Err(ResponseError::ObsoleteLineFolding),
        Some(_) => match bytes.iter().position(|&b| b == b':') {
            None if chars::is_token_bytes(bytes) => Ok(()),
            None => Err(ResponseError::HeaderName),
            Some(colon) => {
                if !chars::is_token_bytes(&bytes[..colon]) {
                    return Err(ResponseError::HeaderName);
                }
                if !bytes[colon + 1..].iter().all(|&b| chars::is_field_value(b)) {
                    return Err(ResponseError::HeaderValue);
                }
                Ok(())
            }
        },
    }
}

/// `field-name ":" OWS field-value OWS`, without its CRLF.
fn parse_field_line(line: &[u8]) -> Result<Header<'_>, ResponseError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(ResponseError::ObsoleteLineFolding);
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(ResponseError::HeaderName)?;
    let name = &line[..colon];
    if !chars::is_token_bytes(name) {
        return Err(ResponseError::HeaderName);
    }
    let value = &line[colon + 1..];
    if !value.iter().all(|&b| chars::is_field_value(b)) {
        return Err(ResponseError::HeaderValue);
    }
    // Tokens are ASCII, so the name is valid UTF-8.
    let name = core::str::from_utf8(name).map_err(|_| ResponseError::HeaderName)?;
    Ok(Header {
        name,
        value: chars::trim_whitespace(value),
    })
}

/// The framing fields of a response, collected line by line.
#[derive(Debug, Default)]
struct ResponseFraming {
    content_length: Option<u64>,
    chunked: bool,
    close: bool,
    keep_alive: bool,
}

impl ResponseFraming {
    fn observe(&mut self, name: &str, value: &[u8]) -> Result<(), ResponseError> {
        if name.eq_ignore_ascii_case("content-length") {
            // RFC 9110 section 8.6: a list of equal values may be taken as that value.
            for element in value.split(|&b| b == b',') {
                let length = chars::parse_decimal(chars::trim_whitespace(element))
                    .ok_or(ResponseError::ContentLength)?;
                match self.content_length {
                    Some(previous) if previous != length => {
                        return Err(ResponseError::ContentLength);
                    }
                    _ => self.content_length = Some(length),
                }
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            for element in value.split(|&b| b == b',') {
                let coding = chars::trim_whitespace(element);
                if coding.is_empty() {
                    continue;
                }
                if coding.eq_ignore_ascii_case(b"chunked") {
                    if self.chunked {
                        return Err(ResponseError::TransferEncoding);
                    }
                    self.chunked = true;
                } else if self.chunked {
                    // chunked must be the last coding.
                    return Err(ResponseError::TransferEncoding);
                }
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for option in value.split(|&b| b == b',') {
                let option = chars::trim_whitespace(option);
                if option.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else if option.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parse made comparable: status, bytes consumed, and owned field lines.
    type Parsed = (u16, usize, Vec<(String, Vec<u8>)>);

    fn parse(input: &[u8]) -> Result<Status<Parsed>, ResponseError> {
        let mut headers = [Header::EMPTY; 16];
        Ok(match parse_response(input, &mut headers)? {
            Status::Complete((response, consumed)) => Status::Complete((
                response.status,
                consumed,
                response
                    .headers
                    .iter()
                    .map(|header| (header.name.to_owned(), header.value.to_vec()))
                    .collect(),
            )),
            Status::Partial => Status::Partial,
        })
    }

    #[test]
    fn a_complete_head_is_parsed_and_its_length_returned() {
        let input =
            b"HTTP/1.1 201 Created\r\nLocation: /v2/a/blobs/x\r\nContent-Length: 0\r\n\r\nBODY";
        let Status::Complete((status, consumed, headers)) = parse(input).unwrap() else {
            panic!("not complete");
        };
        assert_eq!(status, 201);
        assert_eq!(&input[consumed..], b"BODY");
        assert_eq!(
            headers[0],
            ("Location".to_owned(), b"/v2/a/blobs/x".to_vec())
        );
        assert_eq!(headers.len(), 2);
    }

    #[test]
    fn every_prefix_of_a_valid_head_is_partial() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n";
        for end in 0..input.len() {
            assert_eq!(parse(&input[..end]), Ok(Status::Partial), "prefix {end}");
        }
        assert!(matches!(parse(input), Ok(Status::Complete(_))));
    }

    #[test]
    fn framing_follows_the_fields_method_and_status() {
        let mut headers = [Header::EMPTY; 8];
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 12, 12\r\n\r\n";
        let Status::Complete((response, _)) = parse_response(input, &mut headers).unwrap() else {
            panic!("not complete");
        };
        assert_eq!(response.body(false), ResponseBody::Length(12));
        assert_eq!(response.body(true), ResponseBody::Empty);
        assert!(response.keep_alive);

        let input =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n";
        let Status::Complete((response, _)) = parse_response(input, &mut headers).unwrap() else {
            panic!("not complete");
        };
        assert_eq!(response.body(false), ResponseBody::Chunked);
        assert!(!response.keep_alive);

        let input = b"HTTP/1.0 204\r\n\r\n";
        let Status::Complete((response, _)) = parse_response(input, &mut headers).unwrap() else {
            panic!("not complete");
        };
        assert_eq!(response.status, 204);
        assert_eq!(response.reason, b"");
        assert_eq!(response.body(false), ResponseBody::Empty);
        assert!(!response.keep_alive);

        let input = b"HTTP/1.1 200 OK\r\n\r\n";
        let Status::Complete((response, _)) = parse_response(input, &mut headers).unwrap() else {
            panic!("not complete");
        };
        assert_eq!(response.body(false), ResponseBody::UntilClose);
    }

    #[test]
    fn malformed_heads_are_refused() {
        let cases: [(&[u8], ResponseError); 10] = [
            (b"HTTP/2.0 200 OK\r\n\r\n", ResponseError::Version),
            (b"HTTX", ResponseError::Version),
            (b"HTTP/1.1 20 OK\r\n\r\n", ResponseError::StatusCode),
            (b"HTTP/1.1 2000 OK\r\n\r\n", ResponseError::StatusCode),
            (b"HTTP/1.1 200 O\x01K\r\n\r\n", ResponseError::Reason),
            (b"HTTP/1.1 200 OK\n\r\n", ResponseError::LineEnding),
            (
                b"HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n",
                ResponseError::ObsoleteLineFolding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
                ResponseError::HeaderName,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ResponseError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                ResponseError::TransferEncoding,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse(input),
                Err(expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn limits_are_enforced() {
        let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
        for index in 0..17 {
            input.extend_from_slice(format!("X-{index}: v\r\n").as_bytes());
        }
        input.extend_from_slice(b"\r\n");
        assert_eq!(parse(&input), Err(ResponseError::TooManyHeaders));

        let mut input = b"HTTP/1.1 200 ".to_vec();
        input.resize(STATUS_LINE_BYTES_MAX + 10, b'a');
        assert_eq!(parse(&input), Err(ResponseError::StatusLineTooLong));

        let mut input = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        input.resize(HEADER_SECTION_BYTES_MAX + 100, b'a');
        assert_eq!(parse(&input), Err(ResponseError::HeaderSectionTooLarge));
    }
}
