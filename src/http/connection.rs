//! One connection's loop: read a request head, let the service answer while it reads the body,
//! drain what it left, write the response, and go on while the connection may stay open.

use std::time::Duration;

use monoio::net::TcpStream;
use proto::http1::date::DateCache;
use proto::http1::{HeadScanner, Header, Status, Version, parse_request};
use proto::limits::HEADER_COUNT_MAX;

use crate::http::Service;
use crate::http::body::{BodyReader, fill};
use crate::http::request::RequestHead;
use crate::http::response::{Response, response_buffer, write_response};
use crate::limits::{
    CONNECTION_DRAIN_BYTES_MAX, CONNECTION_READ_BYTES, CONNECTION_REQUESTS_MAX,
    HEAD_EARLY_PARSE_BYTES_MAX,
};
use crate::runtime::Draining;

/// Serves requests on `stream` until the client closes it, an error closes it, it sits idle for
/// `idle_timeout` between bytes, or the server drains: then a connection waiting for its next
/// request closes at once, and one in the middle of a request finishes it first.
pub async fn serve_connection<S: Service>(
    mut stream: TcpStream,
    service: &S,
    idle_timeout: Duration,
    draining: &Draining,
) {
    let mut buffer: Vec<u8> = Vec::with_capacity(CONNECTION_READ_BYTES);
    let mut start = 0usize;
    let mut scanner = HeadScanner::new();
    let mut date = DateCache::new();
    let mut response_buffer = response_buffer();
    for _ in 0..CONNECTION_REQUESTS_MAX {
        // The head: parse when the scanner has seen its end; read more otherwise.
        if start > 0 {
            buffer.drain(..start);
            start = 0;
        }
        scanner.reset();
        let head = loop {
            // The scanner finds the end of a head without parsing it; a short start is parsed
            // anyway, so that bytes that cannot begin a request (a TLS ClientHello sent to this
            // plain-HTTP port) get their 400 at once instead of waiting for a blank line that
            // never comes. Bounded, so a slow client still costs linear work.
            let ready = scanner.is_ready(&buffer) || buffer.len() <= HEAD_EARLY_PARSE_BYTES_MAX;
            if ready && !buffer.is_empty() {
                let mut headers = [Header::EMPTY; HEADER_COUNT_MAX];
                match parse_request(&buffer, &mut headers) {
                    Ok(Status::Complete((request, consumed))) => {
                        start = consumed;
                        break RequestHead::from_request(&request);
                    }
                    Ok(Status::Partial) => {}
                    Err(error) => {
                        let response = Response::new(error.status()).closing();
                        let _ = write_response(
                            &mut stream,
                            &mut date,
                            response,
                            false,
                            false,
                            &mut response_buffer,
                        )
                        .await;
                        return;
                    }
                }
            }
            // A client that closes or idles between requests just ends the connection, and so
            // does a drain that finds no byte of a next request.
            let filled = if buffer.is_empty() {
                monoio::select! {
                    filled = fill(&mut stream, &mut buffer, &mut start, idle_timeout) => filled,
                    () = draining.wait() => return,
                }
            } else {
                fill(&mut stream, &mut buffer, &mut start, idle_timeout).await
            };
            if filled.is_err() {
                return;
            }
        };
        let (response, body_clean) = {
            let mut body = BodyReader::new(
                &mut stream,
                &mut buffer,
                &mut start,
                head.framing.body,
                head.framing.expect_continue,
                idle_timeout,
            );
            let response = service.call(&head, &mut body).await;
            // A client still waiting for 100 Continue never sent its body; one that sent more
            // than we drain, or broke its framing, leaves the stream at an unknown place.
            let clean = !body.continue_pending()
                && !body.failed()
                && matches!(body.drain(CONNECTION_DRAIN_BYTES_MAX).await, Ok(true));
            (response, clean)
        };
        let response = if head.is_head() {
            response.without_body()
        } else {
            response
        };
        let keep_alive =
            head.framing.keep_alive && body_clean && !response.close && !draining.is_draining();
        let http_1_0 = head.version == Version::Http10;
        if write_response(
            &mut stream,
            &mut date,
            response,
            keep_alive,
            http_1_0,
            &mut response_buffer,
        )
        .await
        .is_err()
            || !keep_alive
        {
            return;
        }
    }
}
