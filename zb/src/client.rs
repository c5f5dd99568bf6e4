//! A minimal HTTP/1.1 client on monoio: one keep-alive connection, requests written by hand,
//! response heads read with `proto`'s parser, bodies delimited by Content-Length or chunked.
//!
//! It reconnects after an I/O error or a response that closes the connection, so one failed
//! operation does not fail the operations after it.

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use proto::http1::chunked::ChunkedDecoder;
use proto::http1::{Header, ResponseBody, Status, parse_response};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Field lines a response may have; more is an error.
const RESPONSE_HEADERS_MAX: usize = 64;
/// The read buffer's size; one read takes at most this much.
const READ_BUFFER_BYTES: usize = 256 * 1024;
/// Reads for one response at most: each read returns at least one byte, and a 100 MB body
/// needs a few thousand, so this bounds the loops far above any real need.
const READS_PER_RESPONSE_MAX: usize = 1 << 24;
/// How long one request may take, from writing to the end of the body (zot's zb: 30 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest body kept in memory (manifests, catalogs, error messages); bigger ones are
/// read and counted but not kept.
const KEPT_BODY_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Where requests go and what every request carries.
#[derive(Debug)]
pub struct Endpoint {
    pub address: SocketAddr,
    /// The Host field value (`host:port` from the URL).
    pub host: String,
    /// `Basic <base64>` when credentials were given.
    pub authorization: Option<String>,
}

/// A request body.
#[derive(Debug)]
pub enum Body {
    Empty,
    /// A small body, written with the head.
    Bytes(Vec<u8>),
    /// A layer: a shared prefix and its own tail.
    Layer(&'static [u8], Vec<u8>),
}

impl Body {
    fn length(&self) -> usize {
        match self {
            Body::Empty => 0,
            Body::Bytes(bytes) => bytes.len(),
            Body::Layer(prefix, tail) => prefix.len() + tail.len(),
        }
    }
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub reason: String,
    /// The Location field, when sent.
    pub location: Option<String>,
    /// The Docker-Content-Digest field, when sent.
    pub digest: Option<String>,
    /// The body, when asked for and not larger than the kept limit.
    pub body: Vec<u8>,
    /// Body bytes received.
    pub body_bytes: u64,
    /// From the start of the request to the first byte of the response.
    pub first_byte: Duration,
}

/// One connection to the registry, opened on first use.
#[derive(Debug)]
pub struct Connection {
    endpoint: Rc<Endpoint>,
    source: Option<IpAddr>,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
    /// Where the unread bytes of `buffer` start.
    start: usize,
    head: Vec<u8>,
}

impl Connection {
    pub fn new(endpoint: Rc<Endpoint>, source: Option<IpAddr>) -> Connection {
        Connection {
            endpoint,
            source,
            stream: None,
            buffer: Vec::with_capacity(READ_BUFFER_BYTES),
            start: 0,
            head: Vec::with_capacity(1024),
        }
    }

    /// Sends one request and reads its whole response. `keep_body` keeps the body bytes.
    pub async fn send(
        &mut self,
        method: &'static str,
        target: &str,
        content_type: Option<&str>,
        body: Body,
        keep_body: bool,
    ) -> io::Result<Answer> {
        let outcome = monoio::time::timeout(
            REQUEST_TIMEOUT,
            self.exchange(method, target, content_type, body, keep_body),
        )
        .await;
        let result = match outcome {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "request timed out")),
        };
        if result.is_err() {
            // The stream can no longer be framed; the next request opens a new one.
            self.stream = None;
            self.buffer.clear();
            self.start = 0;
        }
        result
    }

    async fn connect(&self) -> io::Result<TcpStream> {
        let address = self.endpoint.address;
        let stream = match self.source {
            None => TcpStream::connect(address).await?,
            Some(source) => {
                // Bound before connect so the server sees this source address. The connect is
                // blocking: on the loopback or a LAN it completes at once.
                let domain = socket2::Domain::for_address(address);
                let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
                socket.bind(&SocketAddr::new(source, 0).into())?;
                socket.connect(&address.into())?;
                socket.set_nonblocking(true)?;
                TcpStream::from_std(socket.into())?
            }
        };
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn exchange(
        &mut self,
        method: &'static str,
        target: &str,
        content_type: Option<&str>,
        body: Body,
        keep_body: bool,
    ) -> io::Result<Answer> {
        let started = Instant::now();
        if self.stream.is_none() {
            self.stream = Some(self.connect().await?);
            self.buffer.clear();
            self.start = 0;
        }
        self.write_request(method, target, content_type, body)
            .await?;

        // The response head.
        let mut first_byte = None;
        let mut reads = 0;
        let (status, reason, location, digest, body_kind, keep_alive, consumed) = loop {
            if self.start < self.buffer.len() {
                first_byte.get_or_insert_with(|| started.elapsed());
                let mut headers = [Header::EMPTY; RESPONSE_HEADERS_MAX];
                match parse_response(&self.buffer[self.start..], &mut headers) {
                    Ok(Status::Complete((response, consumed))) => {
                        let text = |name: &str| {
                            response
                                .header(name)
                                .map(|value| String::from_utf8_lossy(value).into_owned())
                        };
                        break (
                            response.status,
                            String::from_utf8_lossy(response.reason).into_owned(),
                            text("location"),
                            text("docker-content-digest"),
                            response.body(method == "HEAD"),
                            response.keep_alive,
                            consumed,
                        );
                    }
                    Ok(Status::Partial) => {}
                    Err(error) => return Err(io::Error::new(io::ErrorKind::InvalidData, error)),
                }
            }
            reads += 1;
            if reads > READS_PER_RESPONSE_MAX || self.read_more().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before the response head",
                ));
            }
        };
        self.start += consumed;

        let mut answer = Answer {
            status,
            reason,
            location,
            digest,
            body: Vec::new(),
            body_bytes: 0,
            first_byte: first_byte.unwrap_or_else(|| started.elapsed()),
        };
        let closes = match body_kind {
            ResponseBody::Empty => !keep_alive,
            ResponseBody::Length(length) => {
                self.read_length(length, keep_body, &mut answer).await?;
                !keep_alive
            }
            ResponseBody::Chunked => {
                self.read_chunked(keep_body, &mut answer).await?;
                !keep_alive
            }
            ResponseBody::UntilClose => {
                self.read_until_close(keep_body, &mut answer).await?;
                true
            }
        };
        if closes {
            self.stream = None;
        }
        Ok(answer)
    }

    async fn write_request(
        &mut self,
        method: &'static str,
        target: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> io::Result<()> {
        use std::fmt::Write as _;
        let mut text = String::with_capacity(256);
        let _ = write!(
            text,
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: zb\r\n",
            self.endpoint.host
        );
        if let Some(authorization) = &self.endpoint.authorization {
            let _ = write!(text, "Authorization: {authorization}\r\n");
        }
        if let Some(content_type) = content_type {
            let _ = write!(text, "Content-Type: {content_type}\r\n");
        }
        // Registries that negotiate (CNCF distribution) answer 404 to a manifest request whose
        // Accept does not name the stored type, as real clients always send one.
        if target.contains("/manifests/") && method != "PUT" {
            text.push_str(MANIFEST_ACCEPT);
        }
        if method != "GET" && method != "HEAD" && method != "DELETE" || body.length() > 0 {
            let _ = write!(text, "Content-Length: {}\r\n", body.length());
        }
        text.push_str("\r\n");
        let mut head = std::mem::take(&mut self.head);
        head.clear();
        head.extend_from_slice(text.as_bytes());
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "not connected"));
        };
        match body {
            Body::Empty => {
                let (result, head) = stream.write_all(head).await;
                self.head = head;
                result?;
            }
            Body::Bytes(bytes) => {
                head.extend_from_slice(&bytes);
                let (result, head) = stream.write_all(head).await;
                self.head = head;
                result?;
            }
            Body::Layer(prefix, tail) => {
                let (result, head) = stream.write_all(head).await;
                self.head = head;
                result?;
                stream.write_all(prefix).await.0?;
                stream.write_all(tail).await.0?;
            }
        }
        Ok(())
    }

    /// Reads more bytes after the unread ones; 0 at the end of the stream.
    async fn read_more(&mut self) -> io::Result<usize> {
        if self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        } else if self.buffer.capacity() - self.buffer.len() < READ_BUFFER_BYTES / 4 {
            self.buffer.drain(..self.start);
            self.start = 0;
            self.buffer.reserve(READ_BUFFER_BYTES / 4);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "not connected"));
        };
        let buffer = std::mem::take(&mut self.buffer);
        let length = buffer.len();
        let capacity = buffer.capacity();
        let (result, slice) = stream.read(buffer.slice_mut(length..capacity)).await;
        self.buffer = slice.into_inner();
        result
    }

    /// Takes up to `wanted` unread bytes into the answer; returns how many.
    fn take_unread(&mut self, wanted: u64, keep_body: bool, answer: &mut Answer) -> u64 {
        let available = (self.buffer.len() - self.start) as u64;
        let taken = available.min(wanted);
        let end = self.start + taken as usize;
        keep(&self.buffer[self.start..end], keep_body, answer);
        self.start = end;
        taken
    }

    async fn read_length(
        &mut self,
        length: u64,
        keep_body: bool,
        answer: &mut Answer,
    ) -> io::Result<()> {
        let mut remaining = length - self.take_unread(length, keep_body, answer);
        let mut reads = 0;
        while remaining > 0 {
            reads += 1;
            if reads > READS_PER_RESPONSE_MAX || self.read_more().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "body cut short",
                ));
            }
            remaining -= self.take_unread(remaining, keep_body, answer);
        }
        Ok(())
    }

    async fn read_chunked(&mut self, keep_body: bool, answer: &mut Answer) -> io::Result<()> {
        let mut decoder = ChunkedDecoder::new();
        let mut reads = 0;
        loop {
            // Each decode consumes bytes or asks for more, so this inner loop ends.
            while self.start < self.buffer.len() {
                let decoded = decoder
                    .decode(&self.buffer[self.start..])
                    .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
                let data = self.start + decoded.data.start..self.start + decoded.data.end;
                let chunk = &self.buffer[data];
                if keep_body && answer.body.len() + chunk.len() <= KEPT_BODY_BYTES_MAX {
                    answer.body.extend_from_slice(chunk);
                }
                answer.body_bytes += chunk.len() as u64;
                self.start += decoded.consumed;
                if decoded.done {
                    return Ok(());
                }
                if decoded.consumed == 0 {
                    break;
                }
            }
            reads += 1;
            if reads > READS_PER_RESPONSE_MAX || self.read_more().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "chunked body cut short",
                ));
            }
        }
    }

    async fn read_until_close(&mut self, keep_body: bool, answer: &mut Answer) -> io::Result<()> {
        self.take_unread(u64::MAX, keep_body, answer);
        for _ in 0..READS_PER_RESPONSE_MAX {
            if self.read_more().await? == 0 {
                return Ok(());
            }
            self.take_unread(u64::MAX, keep_body, answer);
        }
        Err(io::Error::other("body longer than the read limit"))
    }
}

fn keep(bytes: &[u8], keep_body: bool, answer: &mut Answer) {
    if keep_body && answer.body.len() + bytes.len() <= KEPT_BODY_BYTES_MAX {
        answer.body.extend_from_slice(bytes);
    }
    answer.body_bytes += bytes.len() as u64;
}

/// `Basic base64(user:password)` (RFC 7617).
/// The manifest types a pull accepts, as docker, containerd and skopeo send them.
const MANIFEST_ACCEPT: &str = "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json\r\n";

pub fn basic_authorization(credentials: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = credentials.as_bytes();
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let value = group
            .iter()
            .enumerate()
            .fold(0u32, |value, (index, &byte)| {
                value | u32::from(byte) << (16 - 8 * index)
            });
        for index in 0..4 {
            if index <= group.len() {
                encoded.push(char::from(
                    ALPHABET[(value >> (18 - 6 * index) & 63) as usize],
                ));
            } else {
                encoded.push('=');
            }
        }
    }
    format!("Basic {encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64_encoded() {
        assert_eq!(basic_authorization("user:pass"), "Basic dXNlcjpwYXNz");
        assert_eq!(basic_authorization("a:b"), "Basic YTpi");
        assert_eq!(basic_authorization("ab:"), "Basic YWI6");
        assert_eq!(basic_authorization("abcd:"), "Basic YWJjZDo=");
    }
}
