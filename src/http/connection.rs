//! One connection's loop: read a request head, let the service answer while it reads the body,
//! drain what it left, write the response, and go on while the connection may stay open. Every
//! wait on the client is bounded: for bytes, for a whole head, and for a response to be taken.

use std::time::Duration;

use monoio::net::TcpStream;
use monoio::time::Instant;
use proto::http1::date::DateCache;
use proto::http1::{HeadScanner, Header, Status, Version, parse_request};
use proto::limits::HEADER_COUNT_MAX;

use crate::http::Service;
use crate::http::body::{BodyError, BodyReader, fill};
use crate::http::request::RequestHead;
use crate::http::response::{Response, response_buffer, write_response};
use crate::limits::{
    CLOSE_LINGER_BYTES_MAX, CLOSE_LINGER_TIMEOUT, CONNECTION_DRAIN_BYTES_MAX,
    CONNECTION_IDLE_TIMEOUT, CONNECTION_READ_BYTES, CONNECTION_REQUESTS_MAX,
    DRAIN_FIRST_REQUEST_WAIT, HEAD_EARLY_PARSE_BYTES_MAX, REQUEST_HEAD_TIMEOUT,
    REQUEST_TIMEOUT_ANSWER_WRITE_TIMEOUT,
};
use crate::runtime::Draining;

/// How long a connection waits on its client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// Longest wait for a byte of a request, between requests or in the middle of one, and for a
    /// response write to make progress.
    pub idle: Duration,
    /// Longest time from a request head's first byte to its end, however steadily the bytes come.
    pub head: Duration,
}

impl Default for ConnectionTimeouts {
    /// [`CONNECTION_IDLE_TIMEOUT`] and [`REQUEST_HEAD_TIMEOUT`].
    fn default() -> ConnectionTimeouts {
        ConnectionTimeouts {
            idle: CONNECTION_IDLE_TIMEOUT,
            head: REQUEST_HEAD_TIMEOUT,
        }
    }
}

/// Serves requests on `stream` until the client closes it, an error closes it, it sits idle for
/// `timeouts.idle` (sending nothing, or taking no response byte), a head takes longer than
/// `timeouts.head` from its first byte (answered 408), or the server drains: then a connection
/// waiting for its next request closes at once, and one in the middle of a request finishes it
/// first.
pub async fn serve_connection<S: Service>(
    mut stream: TcpStream,
    service: &S,
    timeouts: ConnectionTimeouts,
    draining: &Draining,
) {
    assert!(
        !timeouts.idle.is_zero() && !timeouts.head.is_zero(),
        "a zero timeout would close every connection at once"
    );
    let idle_timeout = timeouts.idle;
    let mut buffer: Vec<u8> = Vec::with_capacity(CONNECTION_READ_BYTES);
    let mut start = 0usize;
    let mut scanner = HeadScanner::new();
    let mut date = DateCache::new();
    let mut response_buffer = response_buffer();
    for served in 0..CONNECTION_REQUESTS_MAX {
        // The head: parse when the scanner has seen its end; read more otherwise.
        if start > 0 {
            buffer.drain(..start);
            start = 0;
        }
        scanner.reset();
        // Set when the head's first byte is in the buffer (a pipelined one may already be).
        let mut head_deadline = None;
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
                        refuse_head(
                            stream,
                            buffer,
                            &mut date,
                            &mut response_buffer,
                            error.status(),
                            idle_timeout,
                        )
                        .await;
                        return;
                    }
                }
            }
            // A client that closes or idles between requests just ends the connection, and so
            // does a drain that finds no byte of a next request. Once a head has begun, each
            // read waits at most until the head's deadline, however steadily bytes trickle in.
            let filled = if buffer.is_empty() {
                let drained = async {
                    draining.wait().await;
                    // A connection accepted as the drain began has usually sent its request
                    // already, or is about to: it is served that one request.
                    if served == 0 {
                        monoio::time::sleep(DRAIN_FIRST_REQUEST_WAIT).await;
                    }
                };
                let filled = monoio::select! {
                    filled = fill(&mut stream, &mut buffer, &mut start, idle_timeout) => Some(filled),
                    () = drained => None,
                };
                let Some(filled) = filled else {
                    // A request may be crossing the close: lingering turns its reset into an
                    // end the client reads, and a client retries a request on a kept-alive
                    // connection that ended before any answer.
                    linger_and_close(stream, buffer).await;
                    return;
                };
                filled
            } else {
                let deadline = *head_deadline.get_or_insert_with(|| Instant::now() + timeouts.head);
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Err(BodyError::Idle)
                } else {
                    fill(&mut stream, &mut buffer, &mut start, left.min(idle_timeout)).await
                }
            };
            match filled {
                Ok(_) => {}
                // Part of a head and then too long a wait, by the deadline or the idle timeout:
                // the client learns why before the close, if it takes the answer at once. (The
                // buffer is no witness: a timed-out read keeps it.)
                Err(BodyError::Idle) if head_deadline.is_some() => {
                    refuse_head(
                        stream,
                        buffer,
                        &mut date,
                        &mut response_buffer,
                        408,
                        REQUEST_TIMEOUT_ANSWER_WRITE_TIMEOUT.min(idle_timeout),
                    )
                    .await;
                    return;
                }
                Err(_) => return,
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
        // The server ends a connection whose client may still be sending: its body was left
        // unread or broken, or the service refused the request outright.
        let refused = !body_clean || response.close;
        let http_1_0 = head.version == Version::Http10;
        let written = write_response(
            &mut stream,
            &mut date,
            response,
            keep_alive,
            http_1_0,
            &mut response_buffer,
            idle_timeout,
        )
        .await;
        if written.is_err() {
            return;
        }
        if !keep_alive {
            if refused {
                linger_and_close(stream, buffer).await;
            }
            return;
        }
    }
}

/// Refuses a head the server will not serve: answers `status` with `Connection: close`, its
/// write allowed to stall for `stall_timeout`, then lingers, since the client may still be
/// sending the rest of the head.
async fn refuse_head(
    mut stream: TcpStream,
    buffer: Vec<u8>,
    date: &mut DateCache,
    response_buffer: &mut Vec<u8>,
    status: u16,
    stall_timeout: Duration,
) {
    let response = Response::new(status).closing();
    let written = write_response(
        &mut stream,
        date,
        response,
        false,
        false,
        response_buffer,
        stall_timeout,
    )
    .await;
    if written.is_ok() {
        linger_and_close(stream, buffer).await;
    }
}

/// Closes a connection whose answer went out while its client may still be sending: shuts the
/// sending side (the client sees the end after the answer), then reads and drops what comes
/// until the client closes, [`CLOSE_LINGER_TIMEOUT`] passes or [`CLOSE_LINGER_BYTES_MAX`]
/// arrive. Closing at once with bytes unread makes the kernel answer with a reset, and a reset
/// can reach the client before it has read the answer: it would see "connection reset" instead
/// of the 413 or 400 that says what was wrong.
async fn linger_and_close(mut stream: TcpStream, mut buffer: Vec<u8>) {
    use monoio::io::{AsyncReadRent, AsyncWriteRent};
    if stream.shutdown().await.is_err() {
        return;
    }
    // A read cancelled by the drain keeps the connection's buffer; reading into an empty one
    // would look like the client's end.
    buffer.reserve(CONNECTION_READ_BYTES);
    let deadline = Instant::now() + CLOSE_LINGER_TIMEOUT;
    let mut dropped = 0usize;
    // Bounded by the byte limit: every pass reads at least one byte or ends.
    while dropped < CLOSE_LINGER_BYTES_MAX {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        buffer.clear();
        let Ok((read, returned)) = monoio::time::timeout(left, stream.read(buffer)).await else {
            return;
        };
        buffer = returned;
        match read {
            Ok(0) | Err(_) => return,
            Ok(count) => dropped += count,
        }
    }
}
