//! The owned request head a [`crate::http::Service`] receives: copied out of the connection's
//! buffer, so that the buffer is free for the body while the service runs.

use proto::http1::{Framing, Request, Version};

/// A parsed request head.
#[derive(Clone, Debug)]
pub struct RequestHead {
    /// The method as sent (methods are case-sensitive).
    pub method: String,
    /// The percent-encoded path, as sent.
    pub path: String,
    /// The query without its `?`.
    pub query: Option<String>,
    pub version: Version,
    /// Field names as sent; look them up with [`RequestHead::header`].
    pub headers: Vec<(String, Vec<u8>)>,
    pub framing: Framing,
}

impl RequestHead {
    pub(crate) fn from_request(request: &Request<'_, '_>) -> RequestHead {
        RequestHead {
            method: request.method.as_str().to_owned(),
            path: request.path.to_owned(),
            query: request.query.map(str::to_owned),
            version: request.version,
            headers: request
                .headers
                .iter()
                .map(|header| (header.name.to_owned(), header.value.to_vec()))
                .collect(),
            framing: request.framing,
        }
    }

    /// The first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_slice())
    }

    /// Every field called `name` (case-insensitive), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_slice())
    }

    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}
