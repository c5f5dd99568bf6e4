//! The request head: its types and the incremental parser (RFC 9112 sections 2 to 5).
//!
//! The parser makes one pass over the head. Limits are enforced by parsing inside a window of
//! the buffer that ends where the limit ends, so the inner loops never test a limit: running out
//! of window while the buffer goes on means the limit was crossed.

use crate::cursor::{Cursor, ascii_str};
use crate::http1::chars;
use crate::http1::error::RequestError;
use crate::http1::framing::{Framing, FramingBuilder};
use crate::limits::{
    HEADER_COUNT_MAX, HEADER_SECTION_BYTES_MAX, LEADING_EMPTY_LINES_MAX, METHOD_BYTES_MAX,
    REQUEST_LINE_BYTES_MAX,
};

/// The outcome of parsing a buffer that may hold only part of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// The value, complete.
    Complete(T),
    /// More bytes are needed; nothing seen so far is invalid.
    Partial,
}

/// A request method. The registry's methods are recognised; any other token is kept as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method<'a> {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    /// Any other method token (methods are case-sensitive: `get` lands here).
    Other(&'a str),
}

impl<'a> Method<'a> {
    /// The method for a token already checked to be `1*tchar`.
    fn from_token(token: &'a str) -> Method<'a> {
        match token.as_bytes() {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"PATCH" => Method::Patch,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            _ => Method::Other(token),
        }
    }

    /// The method as it appears on the request line.
    pub fn as_str(&self) -> &'a str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other(token) => token,
        }
    }
}

/// The protocol version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// One field line, borrowed from the input. The name keeps the client's case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a str,
    /// The value with leading and trailing whitespace removed. May hold obs-text bytes.
    pub value: &'a [u8],
}

impl Header<'_> {
    /// A placeholder to fill caller-provided header arrays with.
    pub const EMPTY: Header<'static> = Header {
        name: "",
        value: b"",
    };
}

/// A parsed request head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a, 'h> {
    pub method: Method<'a>,
    /// The request target exactly as sent.
    pub target: &'a str,
    /// The path of the target, starting with `/` (`*` for `OPTIONS *`). Still percent-encoded.
    pub path: &'a str,
    /// The raw query after `?`, without the `?`; `None` when the target has no `?`.
    pub query: Option<&'a str>,
    pub version: Version,
    /// The field lines in the order received.
    pub headers: &'h [Header<'a>],
    /// Body delimitation, persistence and `100-continue`, decided from the fields.
    pub framing: Framing,
}

impl<'a> Request<'a, '_> {
    /// The value of the first field with this name (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers_named(name).next()
    }

    /// The values of every field with this name, in the order received.
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value)
    }
}

/// Parses one request head from the start of `buffer`.
///
/// Returns `Complete((request, consumed))` where `consumed` counts the bytes of the head,
/// including empty lines skipped before it and the blank line after it: the body or the next
/// pipelined request starts at `buffer[consumed..]`. Returns `Partial` when the head is not
/// complete yet and nothing seen so far is invalid or over a limit. Headers are stored in
/// `headers`, at most [`HEADER_COUNT_MAX`] of them.
pub fn parse_request<'a, 'h>(
    buffer: &'a [u8],
    headers: &'h mut [Header<'a>],
) -> Result<Status<(Request<'a, 'h>, usize)>, RequestError> {
    let line_start = match skip_empty_lines(buffer)? {
        Status::Complete(position) => position,
        Status::Partial => return Ok(Status::Partial),
    };

    let line_window = Window::new(buffer, line_start, REQUEST_LINE_BYTES_MAX);
    let mut cursor = Cursor::new(line_window.bytes, line_start);
    let line = match parse_request_line(&mut cursor)? {
        Status::Complete(line) => line,
        Status::Partial => return line_window.partial_or(RequestError::RequestLineTooLong),
    };

    let section_start = cursor.position();
    let section_window = Window::new(buffer, section_start, HEADER_SECTION_BYTES_MAX);
    let mut cursor = Cursor::new(section_window.bytes, section_start);
    let capacity = headers.len().min(HEADER_COUNT_MAX);
    let mut framing = FramingBuilder::new(line.version);
    let mut count = 0;
    loop {
        let header = match parse_field_line(&mut cursor)? {
            Status::Complete(Some(header)) => header,
            Status::Complete(None) => break,
            Status::Partial => {
                return section_window.partial_or(RequestError::HeaderSectionTooLarge);
            }
        };
        if count == capacity {
            return Err(RequestError::TooManyHeaders);
        }
        framing.observe(header.name, header.value)?;
        headers[count] = header;
        count += 1;
    }
    let framing = framing.finish()?;

    let request = Request {
        method: line.method,
        target: line.target,
        path: line.path,
        query: line.query,
        version: line.version,
        headers: &headers[..count],
        framing,
    };
    Ok(Status::Complete((request, cursor.position())))
}

/// The part of the buffer a limited element may occupy: from its start up to its limit.
struct Window<'a> {
    bytes: &'a [u8],
    /// True when the buffer goes on past the window, i.e. the limit, not the input, ends it.
    truncated: bool,
}

impl<'a> Window<'a> {
    fn new(buffer: &'a [u8], start: usize, length_max: usize) -> Window<'a> {
        let end = buffer.len().min(start.saturating_add(length_max));
        Window {
            bytes: &buffer[..end],
            truncated: end < buffer.len(),
        }
    }

    /// What running out of window means: the limit was crossed, or more input is needed.
    fn partial_or<T>(&self, over_limit: RequestError) -> Result<Status<T>, RequestError> {
        if self.truncated {
            Err(over_limit)
        } else {
            Ok(Status::Partial)
        }
    }
}

/// Skips the empty lines RFC 9112 section 2.2 lets a server ignore before a request line.
fn skip_empty_lines(buffer: &[u8]) -> Result<Status<usize>, RequestError> {
    let mut position = 0;
    for _ in 0..=LEADING_EMPTY_LINES_MAX {
        match buffer.get(position..position + 2) {
            Some(b"\r\n") => position += 2,
            Some([b'\r' | b'\n', _]) => return Err(RequestError::LineEnding),
            Some(_) => return Ok(Status::Complete(position)),
            None => {
                return match buffer.get(position) {
                    None | Some(b'\r') => Ok(Status::Partial),
                    Some(b'\n') => Err(RequestError::LineEnding),
                    Some(_) => Ok(Status::Complete(position)),
                };
            }
        }
    }
    Err(RequestError::LineEnding)
}

struct RequestLine<'a> {
    method: Method<'a>,
    target: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    version: Version,
}

/// `method SP request-target SP HTTP-version CRLF`, with exactly one SP between the parts.
fn parse_request_line<'a>(
    cursor: &mut Cursor<'a>,
) -> Result<Status<RequestLine<'a>>, RequestError> {
    let method_start = cursor.position();
    cursor.advance_while_class(&chars::TOKEN_CLASS);
    let method = cursor.since(method_start);
    if method.len() > METHOD_BYTES_MAX {
        return Err(RequestError::Method);
    }
    match cursor.peek() {
        None => return Ok(Status::Partial),
        Some(b' ') if !method.is_empty() => cursor.advance(1),
        Some(_) => return Err(RequestError::Method),
    }
    let method = Method::from_token(ascii_str(method));

    let target = match parse_target(cursor, method)? {
        Status::Complete(target) => target,
        Status::Partial => return Ok(Status::Partial),
    };
    match cursor.peek() {
        None => return Ok(Status::Partial),
        Some(b' ') => cursor.advance(1),
        Some(_) => return Err(RequestError::Target),
    }

    let version = match parse_version(cursor)? {
        Status::Complete(version) => version,
        Status::Partial => return Ok(Status::Partial),
    };
    match expect_line_end(cursor, RequestError::Version)? {
        Status::Complete(()) => {}
        Status::Partial => return Ok(Status::Partial),
    }
    Ok(Status::Complete(RequestLine {
        method,
        target: target.raw,
        path: target.path,
        query: target.query,
        version,
    }))
}

struct Target<'a> {
    raw: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

/// The request target: origin-form (`/path?query`), absolute-form (`http://host/path?query`,
/// which RFC 9112 section 3.2.2 obliges a server to accept) or asterisk-form (`*`, OPTIONS
/// only). Authority-form belongs to CONNECT, which a registry does not serve.
fn parse_target<'a>(
    cursor: &mut Cursor<'a>,
    method: Method<'_>,
) -> Result<Status<Target<'a>>, RequestError> {
    let start = cursor.position();
    match cursor.peek() {
        None => Ok(Status::Partial),
        Some(b'/') => {
            let Status::Complete(query_start) = scan_path_and_query(cursor)? else {
                return Ok(Status::Partial);
            };
            Ok(Status::Complete(split_target(
                cursor,
                start,
                start,
                query_start,
            )))
        }
        Some(b'*') if method == Method::Options => {
            cursor.advance(1);
            let raw = ascii_str(cursor.since(start));
            Ok(Status::Complete(Target {
                raw,
                path: raw,
                query: None,
            }))
        }
        Some(byte) if byte.is_ascii_alphabetic() => parse_absolute_target(cursor),
        Some(_) => Err(RequestError::Target),
    }
}

/// `http://authority[/path][?query]` or the same with `https`; the scheme is case-insensitive.
fn parse_absolute_target<'a>(cursor: &mut Cursor<'a>) -> Result<Status<Target<'a>>, RequestError> {
    let start = cursor.position();
    for prefix in [&b"http://"[..], b"https://"] {
        let mut matched = 0;
        while matched < prefix.len() {
            match cursor.peek_at(matched) {
                Some(byte) if byte.eq_ignore_ascii_case(&prefix[matched]) => matched += 1,
                Some(_) => break,
                None => return Ok(Status::Partial),
            }
        }
        if matched < prefix.len() {
            continue;
        }
        cursor.advance(matched);
        let authority_start = cursor.position();
        cursor.advance_while(chars::is_authority);
        if cursor.position() == authority_start {
            // RFC 9110 section 4.2.1: an http URI with an empty host is invalid.
            return match cursor.peek() {
                None => Ok(Status::Partial),
                Some(_) => Err(RequestError::Target),
            };
        }
        let path_start = cursor.position();
        return match cursor.peek() {
            None => Ok(Status::Partial),
            Some(b'/' | b'?') => {
                let Status::Complete(query_start) = scan_path_and_query(cursor)? else {
                    return Ok(Status::Partial);
                };
                Ok(Status::Complete(split_target(
                    cursor,
                    start,
                    path_start,
                    query_start,
                )))
            }
            Some(_) => {
                let raw = ascii_str(cursor.since(start));
                Ok(Status::Complete(Target {
                    raw,
                    path: "/",
                    query: None,
                }))
            }
        };
    }
    Err(RequestError::Target)
}

/// Splits a scanned target into raw text, path and query. A path that is empty (an absolute
/// target such as `http://host?x`) is `/`, as RFC 9112 section 3.2.1 says.
fn split_target<'a>(
    cursor: &Cursor<'a>,
    start: usize,
    path_start: usize,
    query_start: Option<usize>,
) -> Target<'a> {
    let raw = ascii_str(cursor.since(start));
    let (path_end, query) = match query_start {
        Some(query_start) => (query_start - 1, Some(&raw[query_start - start..])),
        None => (cursor.position(), None),
    };
    let path = &raw[path_start - start..path_end - start];
    Target {
        raw,
        path: if path.is_empty() { "/" } else { path },
        query,
    }
}

/// Advances over path and query bytes, checking every percent-encoding. Returns the position
/// just after the first `?`, if any.
fn scan_path_and_query(cursor: &mut Cursor<'_>) -> Result<Status<Option<usize>>, RequestError> {
    let mut query_start = None;
    loop {
        cursor.advance_while_class(&chars::TARGET_PLAIN_CLASS);
        match cursor.peek() {
            Some(b'?') => {
                cursor.advance(1);
                query_start.get_or_insert(cursor.position());
            }
            Some(b'%') => match (cursor.peek_at(1), cursor.peek_at(2)) {
                (Some(high), Some(low)) => {
                    if chars::hex_value(high).is_none() || chars::hex_value(low).is_none() {
                        return Err(RequestError::Target);
                    }
                    cursor.advance(3);
                }
                (Some(high), None) if chars::hex_value(high).is_none() => {
                    return Err(RequestError::Target);
                }
                _ => return Ok(Status::Partial),
            },
            // The byte after the target is checked by the caller (it must be SP).
            _ => return Ok(Status::Complete(query_start)),
        }
    }
}

/// `HTTP/` DIGIT `.` DIGIT, case-sensitive. Prefixes of a valid version are partial.
fn parse_version(cursor: &mut Cursor<'_>) -> Result<Status<Version>, RequestError> {
    const PATTERN: &[u8; 8] = b"HTTP/d.d";
    if cursor.ahead(8) == Some(b"HTTP/1.1") {
        cursor.advance(8);
        return Ok(Status::Complete(Version::Http11));
    }
    let mut digits = [0u8; 2];
    for (offset, &expected) in PATTERN.iter().enumerate() {
        let Some(byte) = cursor.peek_at(offset) else {
            return Ok(Status::Partial);
        };
        let matches = match expected {
            b'd' => byte.is_ascii_digit(),
            _ => byte == expected,
        };
        if !matches {
            return Err(RequestError::Version);
        }
        if offset == 5 || offset == 7 {
            digits[offset / 2 - 2] = byte;
        }
    }
    cursor.advance(PATTERN.len());
    match digits {
        [b'1', b'1'] => Ok(Status::Complete(Version::Http11)),
        [b'1', b'0'] => Ok(Status::Complete(Version::Http10)),
        _ => Err(RequestError::VersionNotSupported),
    }
}

/// Consumes CRLF. A different byte where CR belongs is `unexpected`; a CR without LF is a bad
/// line ending.
fn expect_line_end(
    cursor: &mut Cursor<'_>,
    unexpected: RequestError,
) -> Result<Status<()>, RequestError> {
    match (cursor.peek(), cursor.peek_at(1)) {
        (None, _) | (Some(b'\r'), None) => Ok(Status::Partial),
        (Some(b'\r'), Some(b'\n')) => {
            cursor.advance(2);
            Ok(Status::Complete(()))
        }
        (Some(b'\r' | b'\n'), _) => Err(RequestError::LineEnding),
        (Some(_), _) => Err(unexpected),
    }
}

/// One field line (`field-name ":" OWS field-value OWS CRLF`), or `None` for the blank line
/// that ends the header section.
fn parse_field_line<'a>(
    cursor: &mut Cursor<'a>,
) -> Result<Status<Option<Header<'a>>>, RequestError> {
    match cursor.peek() {
        None => return Ok(Status::Partial),
        Some(b'\r') => {
            return Ok(match expect_line_end(cursor, RequestError::LineEnding)? {
                Status::Complete(()) => Status::Complete(None),
                Status::Partial => Status::Partial,
            });
        }
        // RFC 9112 section 5.2: obs-fold in a request must be rejected. Whitespace before the
        // first field line is rejected the same way (section 2.2).
        Some(b' ' | b'\t') => return Err(RequestError::ObsoleteLineFolding),
        Some(_) => {}
    }

    let name_start = cursor.position();
    // Whitespace before the colon is not a tchar: RFC 9112 section 5.1 forbids it.
    cursor.advance_while_class(&chars::TOKEN_CLASS);
    let name = cursor.since(name_start);
    match cursor.peek() {
        None => return Ok(Status::Partial),
        Some(b':') if !name.is_empty() => cursor.advance(1),
        Some(_) => return Err(RequestError::HeaderName),
    }

    if cursor.peek() == Some(b' ') {
        cursor.advance(1);
    }
    cursor.advance_while(|byte| byte == b' ' || byte == b'\t');
    let value_start = cursor.position();
    cursor.advance_field_value();
    let value = cursor.since(value_start);
    match expect_line_end(cursor, RequestError::HeaderValue)? {
        Status::Complete(()) => {}
        Status::Partial => return Ok(Status::Partial),
    }
    let value_end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    Ok(Status::Complete(Some(Header {
        name: ascii_str(name),
        value: &value[..value_end],
    })))
}

/// Finds the end of a request head across reads without rescanning, so a client that sends its
/// head a byte at a time costs linear, not quadratic, work: call [`parse_request`] only when
/// [`HeadScanner::is_ready`] says so, and [`HeadScanner::reset`] after each consumed request.
/// It also tracks where the request line ends and how many field lines follow, so that a head
/// that crosses the request-line, header-section or field-count limit is reported at the byte
/// that crosses it, not when more bytes or the end of the head arrive: the client gets its 414
/// or 431 at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeadScanner {
    /// Bytes of the buffer already searched for the blank line.
    scanned: usize,
    /// Bytes of the buffer already searched for line ends.
    line_scanned: usize,
    /// Where the header section starts (just past the request line's CRLF), once seen.
    section_start: Option<usize>,
    /// Line ends seen in the header section: one per complete field line, plus the blank line's.
    section_line_ends: usize,
}

impl HeadScanner {
    pub const fn new() -> HeadScanner {
        HeadScanner {
            scanned: 0,
            line_scanned: 0,
            section_start: None,
            section_line_ends: 0,
        }
    }

    /// True when `buffer` (the same buffer as before, possibly longer) now holds a CRLF CRLF
    /// not reported before, or has crossed the request-line, header-section or field-count
    /// limit, so that parsing it is worth it. Once past a limit it stays ready: the parser
    /// reports the limit.
    pub fn is_ready(&mut self, buffer: &[u8]) -> bool {
        assert!(
            self.scanned <= buffer.len() && self.line_scanned <= buffer.len(),
            "the buffer must only grow between calls"
        );
        let line_start = leading_empty_lines_bytes(buffer);
        self.scan_line_ends(buffer, line_start);
        let past_limit = match self.section_start {
            // More complete lines than fields allowed: the parser meets one field too many (or
            // the blank line, which the terminator search reports anyway).
            Some(section_start) => {
                section_start > line_start + REQUEST_LINE_BYTES_MAX
                    || buffer.len() > section_start + HEADER_SECTION_BYTES_MAX
                    || self.section_line_ends > HEADER_COUNT_MAX
            }
            None => buffer.len() > line_start + REQUEST_LINE_BYTES_MAX,
        };
        if past_limit {
            return true;
        }
        // A terminator may straddle the previous end: look back three bytes.
        let from = self.scanned.saturating_sub(3);
        match buffer[from..]
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
        {
            Some(index) => {
                self.scanned = from + index + 4;
                true
            }
            None => {
                self.scanned = buffer.len();
                false
            }
        }
    }

    /// Counts the CRLFs of the bytes not scanned yet: the first after the leading empty lines
    /// ends the request line, and each later one a line of the header section.
    fn scan_line_ends(&mut self, buffer: &[u8], line_start: usize) {
        // A CRLF may straddle the previous end: look back one byte.
        let from = self.line_scanned.saturating_sub(1).max(line_start);
        self.line_scanned = buffer.len();
        let Some(unscanned) = buffer.get(from..) else {
            return;
        };
        for (index, window) in unscanned.windows(2).enumerate() {
            if window != b"\r\n" {
                continue;
            }
            match self.section_start {
                None => self.section_start = Some(from + index + 2),
                Some(_) => self.section_line_ends += 1,
            }
        }
    }

    /// Forgets what was scanned: the next request starts at the front of the buffer.
    pub fn reset(&mut self) {
        *self = HeadScanner::new();
    }
}

/// Bytes of empty lines before a request line, as [`parse_request`] skips them; past
/// `LEADING_EMPTY_LINES_MAX` of them the parser refuses the head, so counting stops there.
fn leading_empty_lines_bytes(buffer: &[u8]) -> usize {
    let mut position = 0;
    for _ in 0..=LEADING_EMPTY_LINES_MAX {
        if buffer.get(position..position + 2) != Some(b"\r\n".as_slice()) {
            break;
        }
        position += 2;
    }
    position
}
