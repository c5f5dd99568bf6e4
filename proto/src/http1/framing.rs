//! Message framing decided from the header fields: how the body is delimited, whether the
//! connection stays open, and whether the client waits for `100 Continue`.

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
