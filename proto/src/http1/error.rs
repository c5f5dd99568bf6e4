//! Why a request head was refused, and the status code each reason is answered with.

use core::fmt;

/// Why a request head cannot be served. Every variant is an operating error (bad input from the
/// network), never a bug; the connection is closed after the error response because the stream
/// can no longer be framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The method is not a token, or longer than `METHOD_BYTES_MAX`.
    Method,
    /// The request target has a byte outside the URI grammar, a bad percent-encoding, or a form
    /// this server does not take (authority-form; asterisk-form other than `OPTIONS *`).
    Target,
    /// The version is not `HTTP/1.1` or `HTTP/1.0` in form (`HTTP/` DIGIT `.` DIGIT).
    Version,
    /// A well-formed version other than 1.0 and 1.1. Answered with 505.
    VersionNotSupported,
    /// The request line is longer than `REQUEST_LINE_BYTES_MAX`. Answered with 414.
    RequestLineTooLong,
    /// The header section is longer than `HEADER_SECTION_BYTES_MAX`. Answered with 431.
    HeaderSectionTooLarge,
    /// More than `HEADER_COUNT_MAX` field lines, or more than the caller's array holds.
    /// Answered with 431.
    TooManyHeaders,
    /// A field name that is empty or not a token, or whitespace before the colon.
    HeaderName,
    /// A field value with a control character (NUL, bare CR, DEL, ...).
    HeaderValue,
    /// A field line starting with whitespace: obsolete line folding, forbidden in requests.
    ObsoleteLineFolding,
    /// A line ending in a bare LF, or a CR not followed by LF, or too many empty lines before
    /// the request line.
    LineEnding,
    /// A Content-Length that is not `1*DIGIT`, overflows, or appears more than once.
    ContentLength,
    /// Transfer-Encoding and Content-Length in the same request: a smuggling attempt.
    ContentLengthWithTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 request, an empty or malformed coding list, or
    /// `chunked` given more than once or not last.
    TransferEncoding,
    /// A transfer coding other than a final `chunked`. Answered with 501.
    TransferCodingNotImplemented,
    /// An HTTP/1.1 request without exactly one valid Host field.
    Host,
    /// An Expect field other than `100-continue`. Answered with 417.
    Expectation,
}

impl RequestError {
    /// The status code the server answers this error with.
    pub const fn status(self) -> u16 {
        match self {
            RequestError::RequestLineTooLong => 414,
            RequestError::HeaderSectionTooLarge | RequestError::TooManyHeaders => 431,
            RequestError::TransferCodingNotImplemented => 501,
            RequestError::VersionNotSupported => 505,
            RequestError::Expectation => 417,
            _ => 400,
        }
    }

    /// A short, stable description for logs and error bodies.
    pub const fn message(self) -> &'static str {
        match self {
            RequestError::Method => "invalid method",
            RequestError::Target => "invalid request target",
            RequestError::Version => "invalid HTTP version",
            RequestError::VersionNotSupported => "HTTP version not supported",
            RequestError::RequestLineTooLong => "request line too long",
            RequestError::HeaderSectionTooLarge => "header section too large",
            RequestError::TooManyHeaders => "too many header fields",
            RequestError::HeaderName => "invalid header field name",
            RequestError::HeaderValue => "invalid header field value",
            RequestError::ObsoleteLineFolding => "obsolete line folding is not allowed",
            RequestError::LineEnding => "lines must end in CRLF",
            RequestError::ContentLength => "invalid or repeated Content-Length",
            RequestError::ContentLengthWithTransferEncoding => {
                "Content-Length together with Transfer-Encoding"
            }
            RequestError::TransferEncoding => "invalid Transfer-Encoding",
            RequestError::TransferCodingNotImplemented => "transfer coding not implemented",
            RequestError::Host => "missing, repeated or invalid Host",
            RequestError::Expectation => "expectation not supported",
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.message())
    }
}

impl std::error::Error for RequestError {}
