//! Message framing decided from the header fields: how the body is delimited, whether the
//! connection stays open, and whether the client waits for `100 Continue`.

use crate::http1::chars;
use crate::http1::error::RequestError;
use crate::http1::request::Version;

/// How the request body is delimited (RFC 9112 section 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// No body: neither Content-Length nor Transfer-Encoding was sent.
    Empty,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// A chunked body follows; decode it with [`crate::http1::chunked::ChunkedDecoder`].
    Chunked,
}

/// What the header fields say about the message around the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    /// How the body is delimited.
    pub body: Body,
    /// True when the connection may carry another request after this one: HTTP/1.1 without
    /// `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`.
    pub keep_alive: bool,
    /// True when an HTTP/1.1 client sent `Expect: 100-continue` and waits for the interim
    /// response before sending its body.
    pub expect_continue: bool,
}

/// Collects the framing fields while the parser walks the header section, then decides.
///
/// Recognising a field costs a length comparison for almost every other field, since the five
/// names that matter have five different lengths.
#[derive(Debug)]
pub(crate) struct FramingBuilder {
    version: Version,
    content_length: Option<u64>,
    transfer_codings: TransferCodings,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
    host_count: u32,
}

/// What the Transfer-Encoding fields listed, in order, over all its field lines.
#[derive(Debug, Default)]
struct TransferCodings {
    /// A Transfer-Encoding field was present (even an empty one).
    present: bool,
    /// How many codings were listed.
    count: u32,
    chunked_seen: bool,
    last_is_chunked: bool,
    /// A coding other than `chunked` was listed.
    other: bool,
}

impl FramingBuilder {
    pub(crate) fn new(version: Version) -> FramingBuilder {
        FramingBuilder {
            version,
            content_length: None,
            transfer_codings: TransferCodings::default(),
            close: false,
            keep_alive: false,
            expect_continue: false,
            host_count: 0,
        }
    }

    /// Takes note of one field line.
    pub(crate) fn observe(&mut self, name: &str, value: &[u8]) -> Result<(), RequestError> {
        match name.len() {
            4 if name.eq_ignore_ascii_case("host") => self.observe_host(value),
            6 if name.eq_ignore_ascii_case("expect") => self.observe_expect(value),
            10 if name.eq_ignore_ascii_case("connection") => {
                self.observe_connection(value);
                Ok(())
            }
            14 if name.eq_ignore_ascii_case("content-length") => self.observe_content_length(value),
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                self.observe_transfer_encoding(value)
            }
            _ => Ok(()),
        }
    }

    /// RFC 9112 section 3.2: one Host, with a valid value (empty is allowed).
    fn observe_host(&mut self, value: &[u8]) -> Result<(), RequestError> {
        self.host_count += 1;
        if self.host_count > 1 || !chars::is_authority_bytes(value) {
            return Err(RequestError::Host);
        }
        Ok(())
    }

    /// RFC 9110 section 10.1.1: `100-continue` is the only expectation defined; an empty list
    /// expects nothing.
    fn observe_expect(&mut self, value: &[u8]) -> Result<(), RequestError> {
        if value.eq_ignore_ascii_case(b"100-continue") {
            self.expect_continue = true;
            Ok(())
        } else if value.is_empty() {
            Ok(())
        } else {
            Err(RequestError::Expectation)
        }
    }

    /// Connection options: only `close` and `keep-alive` change anything here.
    fn observe_connection(&mut self, value: &[u8]) {
        for option in list_elements(value) {
            if option.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if option.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            }
        }
    }

    /// RFC 9110 section 8.6: `1*DIGIT`. A second Content-Length field is refused even when it
    /// repeats the same value: two lengths are how smuggling starts.
    fn observe_content_length(&mut self, value: &[u8]) -> Result<(), RequestError> {
        if self.content_length.is_some() {
            return Err(RequestError::ContentLength);
        }
        let length = chars::parse_decimal(value).ok_or(RequestError::ContentLength)?;
        self.content_length = Some(length);
        Ok(())
    }

    /// RFC 9112 section 6.1: a list of transfer codings, possibly over several field lines.
    fn observe_transfer_encoding(&mut self, value: &[u8]) -> Result<(), RequestError> {
        let codings = &mut self.transfer_codings;
        codings.present = true;
        for element in list_elements(value) {
            let name_end = element
                .iter()
                .position(|&byte| byte == b';')
                .unwrap_or(element.len());
            let name = chars::trim_whitespace(&element[..name_end]);
            if !chars::is_token_bytes(name) {
                return Err(RequestError::TransferEncoding);
            }
            codings.count += 1;
            if name.eq_ignore_ascii_case(b"chunked") {
                // chunked takes no parameters, and may be applied once only (section 7).
                if codings.chunked_seen || name_end != element.len() {
                    return Err(RequestError::TransferEncoding);
                }
                codings.chunked_seen = true;
                codings.last_is_chunked = true;
            } else {
                codings.other = true;
                codings.last_is_chunked = false;
            }
        }
        Ok(())
    }

    /// Decides the framing once every field line was seen (RFC 9112 section 6.3).
    pub(crate) fn finish(self) -> Result<Framing, RequestError> {
        if self.version == Version::Http11 && self.host_count == 0 {
            return Err(RequestError::Host);
        }
        let codings = &self.transfer_codings;
        let body = if codings.present {
            if self.version == Version::Http10 {
                return Err(RequestError::TransferEncoding);
            }
            if self.content_length.is_some() {
                return Err(RequestError::ContentLengthWithTransferEncoding);
            }
            // Without a final chunked the length of a request cannot be known: 400, not 501.
            if codings.count == 0 || !codings.last_is_chunked {
                return Err(RequestError::TransferEncoding);
            }
            if codings.other {
                return Err(RequestError::TransferCodingNotImplemented);
            }
            Body::Chunked
        } else {
            match self.content_length {
                Some(length) => Body::Length(length),
                None => Body::Empty,
            }
        };
        let keep_alive = match self.version {
            Version::Http11 => !self.close,
            Version::Http10 => self.keep_alive && !self.close,
        };
        // RFC 9110 section 10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
        let expect_continue = self.expect_continue && self.version == Version::Http11;
        Ok(Framing {
            body,
            keep_alive,
            expect_continue,
        })
    }
}

/// The non-empty elements of a comma-separated list (`#rule`), whitespace trimmed. Empty
/// elements are skipped, as RFC 9110 section 5.6.1.2 asks of recipients.
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&byte| byte == b',')
        .map(chars::trim_whitespace)
        .filter(|e| !e.is_empty())
}
