//! HTTP/1.1 connections on monoio: reading request heads with `proto`'s parser, streaming
//! request bodies, writing responses (blob bodies with `sendfile(2)`), keep-alive, pipelining,
//! `100 Continue`, and idle, head and write-stall timeouts. What a request means is the [`Service`]'s business.

mod body;
mod connection;
mod request;
mod response;
mod sendfile;

pub use body::{BodyError, BodyReader};
pub use connection::{ConnectionTimeouts, serve_connection};
pub use request::RequestHead;
pub use response::{FilePart, Response, ResponseBody};

/// Answers requests on one core. Not `Send`: each core has its own.
#[allow(async_fn_in_trait)] // the server uses it with static dispatch on one thread
pub trait Service {
    /// Answers one request. The body, if any, is read through `body`; what the service leaves
    /// unread is drained (or the connection closed) by the connection loop.
    async fn call(&self, head: &RequestHead, body: &mut BodyReader<'_>) -> Response;
}
