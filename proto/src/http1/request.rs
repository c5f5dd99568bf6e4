//! The request head: types and the incremental parser.

use crate::http1::error::RequestError;
use crate::http1::framing::Framing;

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
    pub const EMPTY: Header<'static> = Header { name: "", value: b"" };
}

/// A parsed request head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a, 'h> {
    pub method: Method<'a>,
    /// The request target exactly as sent.
    pub target: &'a str,
    /// The path of the target, starting with `/` (`*` for `OPTIONS *`).
    pub path: &'a str,
    /// The raw query after `?`, without the `?`; `None` when the target has no `?`.
    pub query: Option<&'a str>,
    pub version: Version,
    /// The field lines in the order received.
    pub headers: &'h [Header<'a>],
    /// Body delimitation, persistence and `100-continue`, decided from the fields.
    pub framing: Framing,
}

/// Parses one request head from the start of `buffer`.
///
/// Returns `Complete((request, consumed))` where `consumed` counts the bytes of the head,
/// including empty lines skipped before it and the blank line after it: the body or the next
/// pipelined request starts at `buffer[consumed..]`. Returns `Partial` when the head is not
/// complete yet and nothing seen so far is invalid or over a limit.
pub fn parse_request<'a, 'h>(
    buffer: &'a [u8],
    headers: &'h mut [Header<'a>],
) -> Result<Status<(Request<'a, 'h>, usize)>, RequestError> {
    let _ = (buffer, headers);
    todo!("written in the parser commit")
}

/// Finds the end of a request head across reads without rescanning, so a client that sends its
/// head a byte at a time costs linear, not quadratic, work.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeadScanner {
    scanned: usize,
}
