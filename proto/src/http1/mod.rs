//! HTTP/1.1 for the registry: request heads, message framing, chunked bodies, the header values a
//! registry reads (query, Range, Content-Range, Authorization, Accept) and response heads.
//!
//! Everything here borrows from caller-owned byte slices and never allocates, so one connection's
//! buffers can be handed to the kernel by ownership and parsed in place when they come back.

pub mod accept;
pub mod authorization;
pub mod chars;
pub mod chunked;
pub mod content_range;
pub mod date;
mod error;
mod framing;
pub mod query;
pub mod range;
mod request;
pub mod response;
pub mod response_head;

pub use error::RequestError;
pub use framing::{Body, Framing};
pub use request::{HeadScanner, Header, Method, Request, Status, Version, parse_request};
pub use response_head::{Response, ResponseBody, ResponseError, parse_response};
