//! Reading a request body as it arrives: `Content-Length` or chunked, with `100 Continue` sent
//! on the first read, an idle timeout on every read, and no copy for length-delimited bytes that
//! the socket can deliver straight into the caller's buffer.

use std::fmt;
use std::io;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;
use monoio::net::TcpStream;
use proto::http1::Body;
use proto::http1::chunked::{ChunkedDecoder, ChunkedError};

use crate::http::response::write_all;
use crate::limits::CONNECTION_READ_BYTES;

/// Why a body could not be read. After any of these the connection closes.
#[derive(Debug)]
#[non_exhaustive]
pub enum BodyError {
    /// The client closed the connection before the body ended.
    Closed,
    /// No byte arrived within the idle timeout.
    Idle,
    /// The chunked framing is malformed (400).
    Chunked(ChunkedError),
    /// More bytes than the caller accepts (413).
    TooLarge,
    Io(io::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Closed => formatter.write_str("the client closed the connection mid-body"),
            BodyError::Idle => {
                formatter.write_str("the client sent nothing within the idle timeout")
            }
            BodyError::Chunked(error) => write!(formatter, "chunked body: {}", error.message()),
            BodyError::TooLarge => formatter.write_str("the body is larger than allowed"),
            BodyError::Io(error) => write!(formatter, "reading the body: {error}"),
        }
    }
}

impl std::error::Error for BodyError {}

#[derive(Debug)]
enum State {
    Length { remaining: u64 },
    Chunked { decoder: ChunkedDecoder },
    Done,
}

/// The body of the request being served. Borrows the connection's stream and read buffer.
#[derive(Debug)]
pub struct BodyReader<'c> {
    stream: &'c mut TcpStream,
    /// The connection's read buffer; unread bytes are `buffer[*start..]`.
    buffer: &'c mut Vec<u8>,
    start: &'c mut usize,
    state: State,
    continue_pending: bool,
    idle_timeout: Duration,
    /// Bytes handed out so far.
    received: u64,
    failed: bool,
}

impl<'c> BodyReader<'c> {
    pub(crate) fn new(
        stream: &'c mut TcpStream,
        buffer: &'c mut Vec<u8>,
        start: &'c mut usize,
        body: Body,
        expect_continue: bool,
        idle_timeout: Duration,
    ) -> BodyReader<'c> {
        let state = match body {
            Body::Empty | Body::Length(0) => State::Done,
            Body::Length(remaining) => State::Length { remaining },
            Body::Chunked => State::Chunked {
                decoder: ChunkedDecoder::new(),
            },
        };
        let continue_pending = expect_continue && !matches!(state, State::Done);
        BodyReader {
            stream,
            buffer,
            start,
            state,
            continue_pending,
            idle_timeout,
            received: 0,
            failed: false,
        }
    }

    /// The declared length, for a `Content-Length` body.
    pub fn declared_length(&self) -> Option<u64> {
        match self.state {
            State::Length { remaining } => Some(self.received + remaining),
            State::Done => Some(self.received),
            State::Chunked { .. } => None,
        }
    }

    /// Whether every byte of the body was read.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Whether the client still waits for `100 Continue` (nothing was read).
    pub(crate) fn continue_pending(&self) -> bool {
        self.continue_pending
    }

    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// Appends up to `max` body bytes to `out`; `Ok(0)` at the end of the body. `out` keeps its
    /// allocation: with enough spare capacity, length-delimited bytes go from the socket straight
    /// into it.
    pub async fn read(&mut self, out: &mut Vec<u8>, max: usize) -> Result<usize, BodyError> {
        assert!(max > 0, "a read of zero bytes would look like the end");
        let result = self.read_inner(out, max).await;
        if result.is_err() {
            self.failed = true;
        }
        if let Ok(count) = result {
            self.received += count as u64;
        }
        result
    }

    /// The whole body, refused with [`BodyError::TooLarge`] past `limit` bytes (a manifest).
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        if let Some(length) = self.declared_length()
            && length > limit as u64
        {
            self.failed = true;
            return Err(BodyError::TooLarge);
        }
        let mut bytes = Vec::new();
        // Each pass reads at least one byte or ends; the limit bounds the total.
        loop {
            let room = limit + 1 - bytes.len();
            if self
                .read(&mut bytes, room.min(CONNECTION_READ_BYTES))
                .await?
                == 0
            {
                return Ok(bytes);
            }
            if bytes.len() > limit {
                self.failed = true;
                return Err(BodyError::TooLarge);
            }
        }
    }

    async fn read_inner(&mut self, out: &mut Vec<u8>, max: usize) -> Result<usize, BodyError> {
        if self.failed {
            return Err(BodyError::Closed);
        }
        if self.continue_pending {
            self.continue_pending = false;
            // A client that asked for it and takes not even these bytes is as idle as one
            // that sends none.
            let continue_line = b"HTTP/1.1 100 Continue\r\n\r\n".as_slice();
            let (written, _) = write_all(self.stream, continue_line, self.idle_timeout).await;
            written.map_err(BodyError::Io)?;
        }
        match &mut self.state {
            State::Done => Ok(0),
            State::Length { remaining } => {
                let want = usize::try_from(*remaining).map_or(max, |left| left.min(max));
                let buffered = self.buffer.len() - *self.start;
                let count = if buffered > 0 {
                    let count = buffered.min(want);
                    out.extend_from_slice(&self.buffer[*self.start..*self.start + count]);
                    *self.start += count;
                    count
                } else {
                    read_into(self.stream, out, want, self.idle_timeout).await?
                };
                let State::Length { remaining } = &mut self.state else {
                    unreachable!("matched above");
                };
                *remaining -= count as u64;
                if *remaining == 0 {
                    self.state = State::Done;
                }
                Ok(count)
            }
            State::Chunked { .. } => self.read_chunked(out, max).await,
        }
    }

    async fn read_chunked(&mut self, out: &mut Vec<u8>, max: usize) -> Result<usize, BodyError> {
        // Each pass decodes what is buffered or reads more; a read of nothing ends it with
        // Closed, and every decoded byte moves the body forward, so the loop ends.
        loop {
            let State::Chunked { decoder } = &mut self.state else {
                return Ok(0);
            };
            let end = self.buffer.len().min(*self.start + max);
            let decoded = decoder
                .decode(&self.buffer[*self.start..end])
                .map_err(BodyError::Chunked)?;
            let data = decoded.data.start + *self.start..decoded.data.end + *self.start;
            let count = data.len();
            out.extend_from_slice(&self.buffer[data]);
            *self.start += decoded.consumed;
            if decoded.done {
                self.state = State::Done;
                return Ok(count);
            }
            if count > 0 {
                return Ok(count);
            }
            if decoded.consumed == 0 || *self.start == self.buffer.len() {
                fill(self.stream, self.buffer, self.start, self.idle_timeout).await?;
            }
        }
    }

    /// Reads and drops what the service left unread, up to `limit` bytes; false when more
    /// remains (the connection then closes instead).
    pub(crate) async fn drain(&mut self, limit: u64) -> Result<bool, BodyError> {
        let mut scratch = Vec::with_capacity(CONNECTION_READ_BYTES);
        let mut drained = 0u64;
        while !self.is_finished() {
            if drained >= limit {
                return Ok(false);
            }
            scratch.clear();
            let count = self.read(&mut scratch, CONNECTION_READ_BYTES).await?;
            drained += count as u64;
        }
        Ok(true)
    }
}

/// Reads up to `want` bytes from the socket into `out`'s spare capacity.
async fn read_into(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    want: usize,
    idle_timeout: Duration,
) -> Result<usize, BodyError> {
    out.reserve(want);
    let begin = out.len();
    let buffer = std::mem::take(out).slice_mut(begin..begin + want);
    let (result, buffer) = match monoio::time::timeout(idle_timeout, stream.read(buffer)).await {
        Ok(done) => done,
        Err(_) => return Err(BodyError::Idle),
    };
    *out = buffer.into_inner();
    match result {
        Ok(0) => Err(BodyError::Closed),
        Ok(count) => Ok(count),
        Err(error) => Err(BodyError::Io(error)),
    }
}

/// Reads more bytes into the connection buffer, first moving unread bytes to its front.
pub(crate) async fn fill(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    start: &mut usize,
    idle_timeout: Duration,
) -> Result<usize, BodyError> {
    if *start > 0 {
        buffer.drain(..*start);
        *start = 0;
    }
    let before = buffer.len();
    read_into(stream, buffer, CONNECTION_READ_BYTES, idle_timeout).await?;
    Ok(buffer.len() - before)
}
