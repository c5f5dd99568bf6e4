//! Responses: status, header fields and a body that is nothing, bytes, or a range of a blob file
//! sent with `sendfile(2)`; and writing them with `proto`'s head writer, each write given the
//! stall timeout to make progress.

use std::io;
use std::time::Duration;

use monoio::buf::IoBuf;
use monoio::io::AsyncWriteRent;
use monoio::net::TcpStream;
use proto::http1::date::{DateCache, now_unix_seconds};
use proto::http1::response::HeadWriter;
use storage_engine::BlobFile;

use crate::http::sendfile::send_file;
use crate::limits::{
    RESPONSE_COALESCE_BYTES_MAX, RESPONSE_HEAD_BYTES_MAX, WRITE_INTERRUPTIONS_MAX,
};

/// What follows the head.
#[derive(Debug)]
pub enum ResponseBody {
    Empty,
    Bytes(Vec<u8>),
    /// `length` bytes of `file` from `offset`, sent without copying through user space.
    File {
        file: BlobFile,
        offset: u64,
        length: u64,
    },
    /// Several ranges of `file`, each after its own preamble (multipart/byteranges), then an
    /// epilogue: the parts of a multi-range answer, still sent with `sendfile(2)`.
    FileParts {
        file: BlobFile,
        parts: Vec<FilePart>,
        epilogue: Vec<u8>,
    },
    /// The answer to HEAD: the length a GET would send, and no body.
    HeadOnly {
        length: u64,
    },
}

/// One part of [`ResponseBody::FileParts`].
#[derive(Debug)]
pub struct FilePart {
    pub preamble: Vec<u8>,
    pub offset: u64,
    pub length: u64,
}

/// One response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    headers: Vec<(&'static str, Vec<u8>)>,
    pub body: ResponseBody,
    /// Close the connection after this response.
    pub close: bool,
    /// The OCI error code of an error response, for the log.
    pub error_code: Option<&'static str>,
    /// What went wrong inside the server, paths included, for the log only: the client's body
    /// says it without the paths (see `registry::errors`). Behind one thin pointer: rare, and
    /// every response carries the field, so it must not grow them.
    pub error_detail: Option<Box<Box<str>>>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: ResponseBody::Empty,
            close: false,
            error_code: None,
            error_detail: None,
        }
    }

    /// Adds a field. Values come from the server, never unchecked from a client.
    pub fn header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: ResponseBody) -> Response {
        self.body = body;
        self
    }

    pub fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    pub fn headers(&self) -> &[(&'static str, Vec<u8>)] {
        &self.headers
    }

    /// The same response as the answer to HEAD: its length stays, its body goes (RFC 9110 9.3.2),
    /// so a route can answer HEAD as it answers GET, and errors to HEAD stay bodiless.
    pub(crate) fn without_body(mut self) -> Response {
        if let Some(length) = self.content_length() {
            self.body = ResponseBody::HeadOnly { length };
        }
        self
    }

    fn content_length(&self) -> Option<u64> {
        // 1xx, 204 and 304 carry no body and no length (RFC 9110 8.6).
        if self.status < 200 || self.status == 204 || self.status == 304 {
            return None;
        }
        Some(match &self.body {
            ResponseBody::Empty => 0,
            ResponseBody::Bytes(bytes) => bytes.len() as u64,
            ResponseBody::File { length, .. } | ResponseBody::HeadOnly { length } => *length,
            ResponseBody::FileParts {
                parts, epilogue, ..
            } => {
                let parts_bytes: u64 = parts
                    .iter()
                    .map(|part| part.preamble.len() as u64 + part.length)
                    .sum();
                parts_bytes + epilogue.len() as u64
            }
        })
    }
}

/// Bytes of a connection's response buffer: a head and a small body coalesced after it.
pub(crate) const RESPONSE_BUFFER_BYTES: usize =
    RESPONSE_HEAD_BYTES_MAX + RESPONSE_COALESCE_BYTES_MAX;

/// A connection's buffer for response heads, zeroed once when the connection starts and reused
/// for every response, so writing a head allocates and clears nothing.
pub(crate) fn response_buffer() -> Vec<u8> {
    vec![0u8; RESPONSE_BUFFER_BYTES]
}

/// Writes `response`; `keep_alive` false adds `Connection: close`, and true for an HTTP/1.0
/// request adds `Connection: keep-alive` (an HTTP/1.0 client closes otherwise, or waits for the
/// close to find the end of a body). Every write call, `sendfile` wait included, fails with
/// [`io::ErrorKind::TimedOut`] when the client takes no byte for `stall_timeout`, so a client
/// that stops reading cannot hold the connection and its blob file forever. The head is written
/// into `buffer` (from [`response_buffer`]), which is handed back unless a write stalled (then
/// the cancelled write still owns it, and the caller closes the connection).
pub(crate) async fn write_response(
    stream: &mut TcpStream,
    date: &mut DateCache,
    response: Response,
    keep_alive: bool,
    http_1_0: bool,
    buffer: &mut Vec<u8>,
    stall_timeout: Duration,
) -> io::Result<()> {
    assert_eq!(
        buffer.len(),
        RESPONSE_BUFFER_BYTES,
        "a buffer from response_buffer"
    );
    let mut head = std::mem::take(buffer);
    let length = {
        let mut writer = HeadWriter::new(&mut head[..RESPONSE_HEAD_BYTES_MAX], response.status);
        writer.date(date.get(now_unix_seconds()));
        for (name, value) in &response.headers {
            writer.header(name, value);
        }
        if let Some(length) = response.content_length() {
            writer.content_length(length);
        }
        if !keep_alive {
            writer.connection_close();
        } else if http_1_0 {
            writer.header("Connection", b"keep-alive");
        }
        writer.finish()
    };
    let Ok(length) = length else {
        *buffer = head;
        return Err(io::Error::other(
            "response head larger than RESPONSE_HEAD_BYTES_MAX",
        ));
    };
    // One write for head and a small body: one system call, one packet.
    let mut end = length;
    let body = match response.body {
        ResponseBody::Bytes(bytes) if bytes.len() <= RESPONSE_COALESCE_BYTES_MAX => {
            end += bytes.len();
            head[length..end].copy_from_slice(&bytes);
            ResponseBody::Empty
        }
        body => body,
    };
    let (result, slice) = write_all(stream, head.slice(0..end), stall_timeout).await;
    if let Some(slice) = slice {
        *buffer = slice.into_inner();
    }
    result?;
    match body {
        ResponseBody::Empty | ResponseBody::HeadOnly { .. } => Ok(()),
        ResponseBody::Bytes(bytes) => write_all(stream, bytes, stall_timeout).await.0,
        ResponseBody::File {
            file,
            offset,
            length,
        } => {
            let result = send_file(stream, &file, offset, length, stall_timeout).await;
            file.close().await;
            result
        }
        ResponseBody::FileParts {
            file,
            parts,
            epilogue,
        } => {
            let mut result = Ok(());
            for part in parts {
                result = write_all(stream, part.preamble, stall_timeout).await.0;
                if result.is_ok() {
                    result =
                        send_file(stream, &file, part.offset, part.length, stall_timeout).await;
                }
                if result.is_err() {
                    break;
                }
            }
            file.close().await;
            result?;
            write_all(stream, epilogue, stall_timeout).await.0
        }
    }
}

/// Writes all of `bytes`, giving each write call `stall_timeout` to take at least one byte: a
/// slow reader that keeps reading gets everything however long it takes, one that stops reading
/// is cut off. Hands `bytes` back, except after a stall: the dropped write is cancelled in the
/// kernel (monoio's `async-cancel`) and its operation keeps the buffer until the ring lets go.
pub(crate) async fn write_all<T: IoBuf + 'static>(
    stream: &mut TcpStream,
    bytes: T,
    stall_timeout: Duration,
) -> (io::Result<()>, Option<T>) {
    let total = bytes.bytes_init();
    let mut bytes = bytes;
    let mut written = 0usize;
    let mut interrupted = 0u32;
    // Each pass writes at least one byte, returns, or counts an interruption (bounded).
    while written < total {
        let write = stream.write(bytes.slice(written..total));
        let Ok((result, slice)) = monoio::time::timeout(stall_timeout, write).await else {
            return (Err(stalled()), None);
        };
        bytes = slice.into_inner();
        match result {
            Ok(0) => {
                let error = io::Error::new(io::ErrorKind::WriteZero, "the socket took no byte");
                return (Err(error), Some(bytes));
            }
            Ok(count) => {
                written += count;
                interrupted = 0;
            }
            Err(error)
                if error.kind() == io::ErrorKind::Interrupted
                    && interrupted < WRITE_INTERRUPTIONS_MAX =>
            {
                interrupted += 1;
            }
            Err(error) => return (Err(error), Some(bytes)),
        }
    }
    assert_eq!(written, total, "a write never takes more than it is given");
    (Ok(()), Some(bytes))
}

/// The error of a write that made no progress within the stall timeout.
pub(crate) fn stalled() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the client took no response byte within the idle timeout",
    )
}
