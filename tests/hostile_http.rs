//! Hostile HTTP against the real `zot` binary, in both modes on two cores: the catalogue of
//! malformed, oversized, ambiguous and path-traversing requests, each sent as raw bytes, each
//! checked for its exact status, its OCI error code where the route is an OCI route, and
//! `Connection: close` where the stream can no longer be framed; after each one the server still
//! answers `GET /v2/` 200 on a new connection, nothing under the root changed (except what a case
//! names: garbage past an upload's acknowledged offset, invariant I6, or the session a spec
//! fallback opens), nothing in the test's folder outside the root changed, and no answer holds
//! the sentinel's secret or the server's folder path.
//!
//! Decisions the catalogue pins down (RFC 9112 unless said otherwise):
//! - Two `Content-Length` fields are refused even when equal (RFC 9110 section 8.6 allows either
//!   rejecting or merging them; rejecting is the strict choice), and so is a list `5, 5`.
//! - `Transfer-Encoding` with `Content-Length` is refused (section 6.1 allows it; 6.3 says the
//!   message is a smuggling risk and the connection must close). A coding list whose last coding
//!   is not `chunked` is 400 (6.3: the length cannot be known); a known-shaped list ending in
//!   `chunked` with another coding before it is 501 (6.1: a coding not understood).
//! - Bare LF is refused as a line ending (2.2 allows accepting it; strict), bare CR is refused
//!   (2.2), obs-fold is refused (5.2), whitespace between a field name and its colon is refused
//!   (5.1).
//! - A missing `Host` in HTTP/1.1 is 400 (3.2), as Go's net/http under zot answers; an empty Host
//!   is allowed (3.2); two Host fields are 400 even when equal.
//! - Methods the server implements on no route (unknown tokens, lowercase `get`, `TRACE`,
//!   `OPTIONS`) are 501 with UNSUPPORTED whatever the path (RFC 9110 section 9.1); a method the
//!   route does not take is 405 with UNSUPPORTED and the `Allow` field RFC 9110 section 15.5.6
//!   requires. zot (gorilla/mux) answers 405 without a body to both.
//! - `PRI * HTTP/2.0` (the HTTP/2 preface) is 400: asterisk-form is for OPTIONS only, and the
//!   target is refused before the version is read. HTTP/0.9's `GET /` is 400; HTTP/1.2 and 2.0
//!   are 505.
//! - A manifest over 4 MiB is 413 with SIZE_INVALID: the distribution spec asks registries to
//!   accept at least 4 MiB and to answer 413 above their limit, naming no error code.
//! - Manifest JSON is strict: a byte order mark, invalid UTF-8, trailing bytes, nesting past
//!   serde_json's depth limit and a repeated known field are MANIFEST_INVALID. Repeated unknown
//!   fields and repeated annotation keys are accepted (serde and Go's encoding/json both keep the
//!   last), so they are not in this catalogue. An invalid tag in the path is MANIFEST_INVALID
//!   (the reference is the manifest route's), an invalid `?tag=` is TAG_INVALID.
//! - Head errors (before any route is known) are answered with a status line and no body.
//!
//! Slow clients and timeouts are tests/slow_clients.rs's subject, not this file's.

mod common;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use common::binary::{MODES, Served, mode_config, serve_config};
use common::{Client, Reply, sha256};
use proto::limits::{
    CHUNK_EXTENSION_BYTES_MAX, CHUNK_SIZE_DIGITS_MAX, HEADER_COUNT_MAX, HEADER_SECTION_BYTES_MAX,
    LEADING_EMPTY_LINES_MAX, MANIFEST_BYTES_MAX, METHOD_BYTES_MAX, REQUEST_LINE_BYTES_MAX,
    TAG_BYTES_MAX, TRAILER_SECTION_BYTES_MAX,
};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// What the sentinel beside the root holds; no answer may ever contain it.
const SECRET: &[u8] = b"hostile-http sentinel secret 5b0d2c7e-never-served";
/// A field value TRACE would reflect; no answer may contain it.
const ECHO: &[u8] = b"echo-me-7c41";
/// The longest a raw exchange may wait for bytes the server owes.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

// ---- The catalogue's shape --------------------------------------------------------------------

/// One answer a case expects, in order.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    /// The OCI error code; `None` on an error status means a head error: no body at all.
    code: Option<&'static str>,
    /// `Connection: close`, and nothing after it.
    close: bool,
    /// The `Allow` field a 405 carries.
    allow: Option<&'static str>,
}

fn kept(status: u16, code: Option<&'static str>) -> Answer {
    Answer {
        status,
        code,
        close: false,
        allow: None,
    }
}

fn closing(status: u16, code: Option<&'static str>) -> Answer {
    Answer {
        status,
        code,
        close: true,
        allow: None,
    }
}

fn refused_method(allow: &'static str) -> Answer {
    Answer {
        status: 405,
        code: Some("UNSUPPORTED"),
        close: false,
        allow: Some(allow),
    }
}

/// One hostile exchange: raw bytes on a fresh connection, and what must come back.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    bytes: Vec<u8>,
    /// Shut the sending side after the bytes: a client that stops mid-message.
    half_close: bool,
    answers: Vec<Answer>,
    /// Paths under the root (relative) this case may change, with everything under them;
    /// empty for refused requests.
    may_change: Vec<PathBuf>,
    /// Folders under the root whose own entry (its time) may change, their contents not: a
    /// temporary file made and removed again.
    may_touch: Vec<PathBuf>,
}

fn case(name: impl Into<String>, bytes: impl Into<Vec<u8>>, answers: Vec<Answer>) -> Case {
    Case {
        name: name.into(),
        bytes: bytes.into(),
        half_close: false,
        answers,
        may_change: Vec::new(),
        may_touch: Vec::new(),
    }
}

impl Case {
    fn half_closed(mut self) -> Case {
        self.half_close = true;
        self
    }

    fn may_change(mut self, path: impl Into<PathBuf>) -> Case {
        self.may_change.push(path.into());
        self
    }

    fn may_touch(mut self, folder: impl Into<PathBuf>) -> Case {
        self.may_touch.push(folder.into());
        self
    }
}

/// What the cases refer to on a staged server: the victim repository and its upload session.
#[derive(Clone, Debug)]
struct World {
    /// The image manifest tagged `v1` in `victim`.
    manifest: Vec<u8>,
    config_digest: String,
    /// The upload session of `victim` (its Location), holding three acknowledged bytes.
    session: String,
    /// Its data file, relative to the root.
    session_file: PathBuf,
}

impl World {
    /// A world with the same shapes and no server, to count the catalogue.
    fn placeholder() -> World {
        let config_digest = sha256(b"config");
        World {
            manifest: image_manifest(&config_digest, 6, &sha256(b"layer"), 5),
            config_digest,
            session: "/v2/victim/blobs/uploads/0123456789abcdef0123456789abcdef".to_owned(),
            session_file: PathBuf::from("victim/.uploads/0123456789abcdef0123456789abcdef"),
        }
    }
}

fn image_manifest(config: &str, config_bytes: usize, layer: &str, layer_bytes: usize) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_bytes}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_bytes}}}]}}"#
    )
    .into_bytes()
}

/// A request with the given head lines (each without its CRLF) and body, bytes exactly as given.
fn raw(request_line: &str, fields: &[&str], body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{request_line}\r\n").into_bytes();
    for field in fields {
        bytes.extend_from_slice(field.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

/// Requests that change the victim if anything ever executes them: delete its tag, tag its
/// manifest again, open a repository. Appended where a lax parser would see a next request.
fn smuggled(world: &World) -> Vec<u8> {
    let manifest = &world.manifest;
    let mut bytes = raw(
        "DELETE /v2/victim/manifests/v1 HTTP/1.1",
        &["Host: r", "Content-Length: 0"],
        b"",
    );
    bytes.extend(raw(
        "PUT /v2/victim/manifests/evil HTTP/1.1",
        &[
            "Host: r",
            &format!("Content-Type: {OCI_MANIFEST}"),
            &format!("Content-Length: {}", manifest.len()),
        ],
        manifest,
    ));
    bytes.extend(raw(
        "POST /v2/smuggled/blobs/uploads/ HTTP/1.1",
        &["Host: r", "Content-Length: 0"],
        b"",
    ));
    bytes
}

// ---- The catalogue ----------------------------------------------------------------------------

/// Request line, header section, header count and one huge value, each at and past its limit.
fn head_limit_cases(_: &World) -> Vec<Case> {
    // "GET " target " HTTP/1.1\r\n": the line's limit counts all of it.
    let line_of = |line_bytes: usize| {
        let prefix = "/v2/victim/tags/list?pad=";
        let pad = line_bytes - "GET ".len() - prefix.len() - " HTTP/1.1\r\n".len();
        raw(
            &format!("GET {prefix}{} HTTP/1.1", "a".repeat(pad)),
            &["Host: r"],
            b"",
        )
    };
    // The section counts every field line and the final CRLF.
    let section_of = |section_bytes: usize| {
        let pad = section_bytes - "Host: r\r\n".len() - "X-Pad: \r\n".len() - "\r\n".len();
        raw(
            "GET /v2/ HTTP/1.1",
            &["Host: r", &format!("X-Pad: {}", "v".repeat(pad))],
            b"",
        )
    };
    let with_fields = |count: usize| {
        let mut fields = vec!["Host: r".to_owned()];
        fields.extend((1..count).map(|index| format!("X-{index}: v")));
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        raw("GET /v2/ HTTP/1.1", &fields, b"")
    };
    vec![
        case(
            "request line at its limit",
            line_of(REQUEST_LINE_BYTES_MAX),
            vec![kept(200, None)],
        ),
        case(
            "request line one byte over its limit",
            line_of(REQUEST_LINE_BYTES_MAX + 1),
            vec![closing(414, None)],
        ),
        case(
            "request line over its limit, its end not sent yet",
            line_of(REQUEST_LINE_BYTES_MAX + 8)[..REQUEST_LINE_BYTES_MAX + 1].to_vec(),
            vec![closing(414, None)],
        ),
        case(
            "request line of 100 000 bytes",
            line_of(100_000),
            vec![closing(414, None)],
        ),
        case(
            "header section at its limit",
            section_of(HEADER_SECTION_BYTES_MAX),
            vec![kept(200, None)],
        ),
        case(
            "header section one byte over its limit",
            section_of(HEADER_SECTION_BYTES_MAX + 1),
            vec![closing(431, None)],
        ),
        case(
            "header section over its limit, its end not sent yet",
            {
                let mut bytes = section_of(HEADER_SECTION_BYTES_MAX + 8);
                bytes.truncate(bytes.len() - "\r\n\r\n".len());
                bytes
            },
            vec![closing(431, None)],
        ),
        case(
            "HEADER_COUNT_MAX fields",
            with_fields(HEADER_COUNT_MAX),
            vec![kept(200, None)],
        ),
        case(
            "one field more than HEADER_COUNT_MAX",
            with_fields(HEADER_COUNT_MAX + 1),
            vec![closing(431, None)],
        ),
        case(
            "one field more than HEADER_COUNT_MAX, the end not sent yet",
            {
                // Longer than the early parse of short heads, so the scanner must count.
                let mut fields = vec!["Host: r".to_owned()];
                fields.extend((1..=HEADER_COUNT_MAX).map(|index| format!("X-{index}: {:064}", 0)));
                let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
                let mut bytes = raw("GET /v2/ HTTP/1.1", &fields, b"");
                bytes.truncate(bytes.len() - "\r\n".len());
                assert!(bytes.len() > 4 * 1024);
                bytes
            },
            vec![closing(431, None)],
        ),
        case(
            "10 000 small fields",
            with_fields(10_000),
            vec![closing(431, None)],
        ),
        case(
            "one field value of 1 MiB",
            raw(
                "GET /v2/ HTTP/1.1",
                &["Host: r", &format!("X-Huge: {}", "v".repeat(1 << 20))],
                b"",
            ),
            vec![closing(431, None)],
        ),
        case(
            "one field name of 70 000 bytes",
            raw(
                "GET /v2/ HTTP/1.1",
                &["Host: r", &format!("{}: v", "X".repeat(70_000))],
                b"",
            ),
            vec![closing(431, None)],
        ),
        case(
            "a method one byte over METHOD_BYTES_MAX",
            raw(
                &format!("{} /v2/ HTTP/1.1", "M".repeat(METHOD_BYTES_MAX + 1)),
                &["Host: r"],
                b"",
            ),
            vec![closing(400, None)],
        ),
        case(
            "LEADING_EMPTY_LINES_MAX empty lines before the request",
            [
                "\r\n".repeat(LEADING_EMPTY_LINES_MAX).into_bytes(),
                raw("GET /v2/ HTTP/1.1", &["Host: r"], b""),
            ]
            .concat(),
            vec![kept(200, None)],
        ),
        case(
            "one empty line more than LEADING_EMPTY_LINES_MAX",
            [
                "\r\n".repeat(LEADING_EMPTY_LINES_MAX + 1).into_bytes(),
                raw("GET /v2/ HTTP/1.1", &["Host: r"], b""),
            ]
            .concat(),
            vec![closing(400, None)],
        ),
    ]
}

/// Framing the server and a proxy could read differently, with requests hidden where a lax
/// parser would run them; field and line syntax that must not be guessed at.
fn framing_cases(world: &World) -> Vec<Case> {
    let hidden = smuggled(world);
    let post = "POST /v2/victim/blobs/uploads/ HTTP/1.1";
    // A body that a chunked reader ends at once, leaving the hidden requests as the next ones.
    let chunked_then_hidden = [b"0\r\n\r\n".as_slice(), &hidden].concat();
    let length = |body: &[u8]| format!("Content-Length: {}", body.len());
    let mut cases = vec![
        case(
            "Content-Length then Transfer-Encoding (CL.TE)",
            raw(
                post,
                &[
                    "Host: r",
                    &length(&chunked_then_hidden),
                    "Transfer-Encoding: chunked",
                ],
                &chunked_then_hidden,
            ),
            vec![closing(400, None)],
        ),
        case(
            "Transfer-Encoding then Content-Length (TE.CL)",
            {
                let body = [
                    format!("{:x}\r\n", hidden.len()).as_bytes(),
                    &hidden,
                    b"\r\n0\r\n\r\n",
                ]
                .concat();
                raw(
                    post,
                    &["Host: r", "Transfer-Encoding: chunked", "Content-Length: 4"],
                    &body,
                )
            },
            vec![closing(400, None)],
        ),
        case(
            "two different Content-Lengths",
            raw(
                post,
                &["Host: r", "Content-Length: 0", &length(&hidden)],
                &hidden,
            ),
            vec![closing(400, None)],
        ),
        case(
            "two equal Content-Lengths",
            raw(
                post,
                &["Host: r", "Content-Length: 0", "Content-Length: 0"],
                &hidden,
            ),
            vec![closing(400, None)],
        ),
        case(
            "a Content-Length list of equal values",
            raw(post, &["Host: r", "Content-Length: 0, 0"], &hidden),
            vec![closing(400, None)],
        ),
        case(
            "Transfer-Encoding in HTTP/1.0",
            raw(
                "POST /v2/victim/blobs/uploads/ HTTP/1.0",
                &["Host: r", "Transfer-Encoding: chunked"],
                &chunked_then_hidden,
            ),
            vec![closing(400, None)],
        ),
        case(
            "Content-Length hidden behind a bare LF",
            [
                format!("{post}\r\nHost: r\r\nX-Note: a\nContent-Length: 0\r\n\r\n").as_bytes(),
                &hidden,
            ]
            .concat(),
            vec![closing(400, None)],
        ),
        case(
            "Transfer-Encoding as an obs-fold continuation",
            raw(
                post,
                &["Host: r", "X-Note: a", " Transfer-Encoding: chunked"],
                &chunked_then_hidden,
            ),
            vec![closing(400, None)],
        ),
        case(
            "a request after Connection: close",
            [
                raw("GET /v2/ HTTP/1.1", &["Host: r", "Connection: close"], b""),
                hidden.clone(),
            ]
            .concat(),
            vec![closing(200, None)],
        ),
        case(
            "a request after an HTTP/1.0 request without keep-alive",
            [raw("GET /v2/ HTTP/1.0", &[], b""), hidden.clone()].concat(),
            vec![closing(200, None)],
        ),
        case(
            "a request behind a manifest refused for its declared size",
            [
                raw(
                    "PUT /v2/victim/manifests/big HTTP/1.1",
                    &[
                        "Host: r",
                        &format!("Content-Type: {OCI_MANIFEST}"),
                        &format!("Content-Length: {}", MANIFEST_BYTES_MAX + 1),
                    ],
                    b"",
                ),
                hidden.clone(),
            ]
            .concat(),
            vec![closing(413, Some("SIZE_INVALID"))],
        ),
        case(
            "a request behind a body sent without waiting for 100 Continue, never read",
            raw(
                "POST /v2/_catalog HTTP/1.1",
                &[
                    "Host: r",
                    "Expect: 100-continue",
                    &length(&[b"hello".as_slice(), &hidden].concat()),
                ],
                &[b"hello".as_slice(), &hidden].concat(),
            ),
            vec![Answer {
                close: true,
                ..refused_method("GET")
            }],
        ),
        case(
            "a body longer than its Content-Length: the rest is a next request, refused",
            raw(
                "GET /v2/victim/tags/list HTTP/1.1",
                &["Host: r", "Content-Length: 5"],
                &[b"hello world ".as_slice(), &hidden].concat(),
            ),
            vec![kept(200, None), closing(400, None)],
        ),
        case(
            "a next request with bare LF line endings",
            [
                raw("GET /v2/ HTTP/1.1", &["Host: r"], b""),
                b"DELETE /v2/victim/manifests/v1 HTTP/1.1\nHost: r\n\n".to_vec(),
            ]
            .concat(),
            vec![kept(200, None), closing(400, None)],
        ),
        case(
            "an unread body of the declared length is drained, not run",
            raw("GET /v2/ HTTP/1.1", &["Host: r", &length(&hidden)], &hidden),
            vec![kept(200, None)],
        ),
    ];
    // Content-Length values that are not 1*DIGIT, or do not fit.
    for value in [
        "+5",
        "-5",
        "0x5",
        "5 5",
        "5.0",
        "1e1",
        "",
        "99999999999999999999999",
        "18446744073709551616",
        "5;",
        "\u{b}5",
    ] {
        cases.push(case(
            format!("Content-Length {value:?}"),
            raw(
                post,
                &["Host: r", &format!("Content-Length: {value}")],
                &[b"hello".as_slice(), &hidden].concat(),
            ),
            vec![closing(400, None)],
        ));
    }
    // Transfer-Encoding values: unknown or misplaced codings.
    for (value, status) in [
        ("gzip, chunked", 501),
        ("x-unknown, chunked", 501),
        ("chunked, gzip", 400),
        ("chunked, identity", 400),
        ("identity", 400),
        ("gzip", 400),
        ("xchunked", 400),
        ("chunked, chunked", 400),
        ("chunked;q=1", 400),
        ("\"chunked\"", 400),
        ("", 400),
        ("\u{b}chunked", 400),
    ] {
        cases.push(case(
            format!("Transfer-Encoding {value:?}"),
            raw(
                post,
                &["Host: r", &format!("Transfer-Encoding: {value}")],
                &chunked_then_hidden,
            ),
            vec![closing(status, None)],
        ));
    }
    cases.push(case(
        "Transfer-Encoding: chunked on two field lines",
        raw(
            post,
            &[
                "Host: r",
                "Transfer-Encoding: chunked",
                "Transfer-Encoding: chunked",
            ],
            &chunked_then_hidden,
        ),
        vec![closing(400, None)],
    ));
    // Field and line syntax.
    for (name, head) in [
        (
            "obs-fold with a space",
            b"GET /v2/ HTTP/1.1\r\nHost: r\r\nX-A: b\r\n c\r\n\r\n".as_slice(),
        ),
        (
            "obs-fold with a tab",
            b"GET /v2/ HTTP/1.1\r\nHost: r\r\nX-A: b\r\n\tc\r\n\r\n",
        ),
        (
            "a space between name and colon",
            b"GET /v2/ HTTP/1.1\r\nHost : r\r\n\r\n",
        ),
        (
            "a tab between name and colon",
            b"GET /v2/ HTTP/1.1\r\nHost\t: r\r\n\r\n",
        ),
        (
            "an empty field name",
            b"GET /v2/ HTTP/1.1\r\nHost: r\r\n: x\r\n\r\n",
        ),
        (
            "a field line without a colon",
            b"GET /v2/ HTTP/1.1\r\nHost: r\r\nX-A b\r\n\r\n",
        ),
        ("bare LF line endings", b"GET /v2/ HTTP/1.1\nHost: r\n\n"),
        (
            "a bare LF ending one field line",
            b"GET /v2/ HTTP/1.1\r\nHost: r\n\r\n",
        ),
        (
            "a bare LF ending the head",
            b"GET /v2/ HTTP/1.1\r\nHost: r\r\n\n",
        ),
        (
            "a bare CR ending the request line",
            b"GET /v2/ HTTP/1.1\rHost: r\r\n\r\n",
        ),
        (
            "a bare CR inside a field value",
            b"GET /v2/ HTTP/1.1\r\nHost: r\r\nX-A: b\rc\r\n\r\n",
        ),
        (
            "a NUL inside a field value",
            b"GET /v2/ HTTP/1.1\r\nHost: r\r\nX-A: b\0c\r\n\r\n",
        ),
        (
            "a DEL inside a field value",
            b"GET /v2/ HTTP/1.1\r\nHost: r\r\nX-A: b\x7fc\r\n\r\n",
        ),
        (
            "whitespace before the first field line",
            b"GET /v2/ HTTP/1.1\r\n Host: r\r\n\r\n",
        ),
        (
            "an Expect other than 100-continue",
            b"GET /v2/ HTTP/1.1\r\nHost: r\r\nExpect: 200-ok\r\n\r\n",
        ),
    ] {
        let status = if name.starts_with("an Expect") {
            417
        } else {
            400
        };
        cases.push(case(
            name,
            [head, &hidden].concat(),
            vec![closing(status, None)],
        ));
    }
    cases
}

/// Bodies that end early, lie about their length, or break the chunked coding, on the routes
/// that read them. A refused upload chunk may leave garbage past the session's acknowledged
/// offset (I6: truncated on resume), so its data file may change; its offset may not.
fn body_cases(world: &World) -> Vec<Case> {
    let session = &world.session;
    let session_file = world.session_file.clone();
    let patch = format!("PATCH {session} HTTP/1.1");
    let chunked_patch = |body: &[u8]| raw(&patch, &["Host: r", "Transfer-Encoding: chunked"], body);
    let upload_invalid = Some("BLOB_UPLOAD_INVALID");
    let hello_digest = sha256(b"hello");
    let mut cases = vec![
        case(
            "an upload chunk shorter than its Content-Length, then the client stops",
            raw(&patch, &["Host: r", "Content-Length: 100000"], b"hello"),
            vec![closing(400, upload_invalid)],
        )
        .half_closed()
        .may_change(&session_file),
        case(
            "a monolithic upload shorter than its Content-Length, then the client stops",
            raw(
                &format!("POST /v2/victim/blobs/uploads/?digest={hello_digest} HTTP/1.1"),
                &["Host: r", "Content-Length: 100"],
                b"hello",
            ),
            vec![closing(400, upload_invalid)],
        )
        .half_closed()
        // Its temporary session file is removed again.
        .may_touch("victim/.uploads"),
        case(
            "a closing upload PUT shorter than its Content-Length, then the client stops",
            raw(
                &format!("PUT {session}?digest={hello_digest} HTTP/1.1"),
                &["Host: r", "Content-Length: 100"],
                b"hello",
            ),
            vec![closing(400, upload_invalid)],
        )
        .half_closed()
        .may_change(&session_file),
        case(
            "a manifest shorter than its Content-Length, then the client stops",
            raw(
                "PUT /v2/victim/manifests/short HTTP/1.1",
                &[
                    "Host: r",
                    &format!("Content-Type: {OCI_MANIFEST}"),
                    "Content-Length: 100",
                ],
                b"{}",
            ),
            vec![closing(400, Some("MANIFEST_INVALID"))],
        )
        .half_closed(),
        case(
            "a manifest whose chunked body breaks",
            raw(
                "PUT /v2/victim/manifests/broken HTTP/1.1",
                &[
                    "Host: r",
                    &format!("Content-Type: {OCI_MANIFEST}"),
                    "Transfer-Encoding: chunked",
                ],
                b"2\r\n{}\r\nzz\r\n",
            ),
            vec![closing(400, Some("MANIFEST_INVALID"))],
        ),
        // A route that never reads its body answers; the body never ends, so the stream closes.
        case(
            "a GET whose body ends early",
            raw(
                "GET /v2/ HTTP/1.1",
                &["Host: r", "Content-Length: 10"],
                b"hello",
            ),
            vec![closing(200, None)],
        )
        .half_closed(),
    ];
    let trailer_of = |section_bytes: usize| {
        let filler = "v".repeat(section_bytes - "X: \r\n\r\n".len());
        format!("5\r\nhello\r\n0\r\nX: {filler}\r\n\r\n").into_bytes()
    };
    let chunk_cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "a chunk size that is not hex",
            b"zz\r\nhello\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "a chunk size of CHUNK_SIZE_DIGITS_MAX + 1 digits",
            format!(
                "{}5\r\nhello\r\n0\r\n\r\n",
                "0".repeat(CHUNK_SIZE_DIGITS_MAX)
            )
            .into_bytes(),
        ),
        (
            "a negative chunk size",
            b"-5\r\nhello\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "a chunk size with 0x",
            b"0x5\r\nhello\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "a chunk size with a space inside",
            b"1 0\r\nhello\r\n0\r\n\r\n".to_vec(),
        ),
        ("an empty chunk size", b"\r\nhello\r\n0\r\n\r\n".to_vec()),
        (
            "chunk data not followed by CRLF",
            b"5\r\nhelloXX0\r\n\r\n".to_vec(),
        ),
        (
            "chunk data longer than its size",
            b"3\r\nhello\r\n0\r\n\r\n".to_vec(),
        ),
        ("bare LF in chunk lines", b"5\nhello\n0\n\n".to_vec()),
        (
            "a chunk extension of CHUNK_EXTENSION_BYTES_MAX + 1 bytes",
            [
                b"5;".as_slice(),
                "e".repeat(CHUNK_EXTENSION_BYTES_MAX).as_bytes(),
                b"\r\nhello\r\n0\r\n\r\n",
            ]
            .concat(),
        ),
        (
            "a NUL in a chunk extension",
            b"5;a=\0\r\nhello\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "a trailer section of TRAILER_SECTION_BYTES_MAX + 1 bytes",
            trailer_of(TRAILER_SECTION_BYTES_MAX + 1),
        ),
        (
            "a trailer line without a colon",
            b"5\r\nhello\r\n0\r\nno colon\r\n\r\n".to_vec(),
        ),
        (
            "an obs-folded trailer",
            b"5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n".to_vec(),
        ),
    ];
    for (name, body) in chunk_cases {
        cases.push(
            case(
                name,
                chunked_patch(&body),
                vec![closing(400, upload_invalid)],
            )
            .may_change(&session_file),
        );
    }
    for (name, body) in [
        (
            "a chunk larger than what is sent, then the client stops",
            b"ff\r\nhello".as_slice(),
        ),
        (
            "the largest chunk size, then the client stops",
            b"ffffffffffffffff\r\nhello",
        ),
        ("no last chunk, then the client stops", b"5\r\nhello\r\n"),
    ] {
        cases.push(
            case(
                name,
                chunked_patch(body),
                vec![closing(400, upload_invalid)],
            )
            .half_closed()
            .may_change(&session_file),
        );
    }
    cases
}

/// Manifests the registry must refuse, all pushed to the victim or to a new repository.
fn manifest_cases(world: &World) -> Vec<Case> {
    let put = |reference: &str, content_type: Option<&str>, body: &[u8]| {
        let content_type = content_type.map(|value| format!("Content-Type: {value}"));
        let mut fields = vec![
            "Host: r".to_owned(),
            format!("Content-Length: {}", body.len()),
        ];
        fields.extend(content_type);
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        raw(&format!("PUT /v2/{reference} HTTP/1.1"), &fields, body)
    };
    let good = &world.manifest;
    let invalid = Some("MANIFEST_INVALID");
    let oci = Some(OCI_MANIFEST);
    let missing = sha256(b"never pushed");
    let missing_blob = image_manifest(&world.config_digest, 6, &missing, 4);
    let unknown_child = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{missing}","size":10}}]}}"#
    );
    let mut repeated_config = good.clone();
    repeated_config.pop();
    repeated_config.extend_from_slice(
        format!(
            r#","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{missing}","size":4}}}}"#
        )
        .as_bytes(),
    );
    let mut invalid_utf8 = good.clone();
    let position = invalid_utf8
        .windows(6)
        .position(|window| window == b"config")
        .expect("a config field");
    invalid_utf8[position] = 0xff;
    let over_limit = {
        let mut body = vec![b' '; MANIFEST_BYTES_MAX + 1 - good.len()];
        body.extend_from_slice(good);
        body
    };
    let chunked_over_limit = {
        let mut body = Vec::new();
        for _ in 0..=MANIFEST_BYTES_MAX / (1 << 20) {
            body.extend_from_slice(format!("{:x}\r\n", 1 << 20).as_bytes());
            body.extend(std::iter::repeat_n(b' ', 1 << 20));
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        raw(
            "PUT /v2/victim/manifests/chunked-big HTTP/1.1",
            &[
                "Host: r",
                &format!("Content-Type: {OCI_MANIFEST}"),
                "Transfer-Encoding: chunked",
            ],
            &body,
        )
    };
    let long_tag = "t".repeat(TAG_BYTES_MAX + 1);
    let digest_mismatch = format!("victim/manifests/{missing}");
    vec![
        case(
            "a manifest of MANIFEST_BYTES_MAX + 1 bytes",
            put("victim/manifests/big", oci, &over_limit),
            vec![closing(413, Some("SIZE_INVALID"))],
        ),
        case(
            "a chunked manifest over MANIFEST_BYTES_MAX",
            chunked_over_limit,
            vec![closing(413, Some("SIZE_INVALID"))],
        ),
        case(
            "100 000 nested arrays",
            put("victim/manifests/deep", oci, &b"[".repeat(100_000)),
            vec![kept(400, invalid)],
        ),
        case(
            "100 000 nested objects",
            put("victim/manifests/deep", oci, &br#"{"a":"#.repeat(100_000)),
            vec![kept(400, invalid)],
        ),
        case(
            "invalid JSON",
            put("victim/manifests/bad", oci, b"{oops"),
            vec![kept(400, invalid)],
        ),
        case(
            "an empty body",
            put("victim/manifests/bad", oci, b""),
            vec![kept(400, invalid)],
        ),
        case(
            "a JSON array",
            put("victim/manifests/bad", oci, b"[]"),
            vec![kept(400, invalid)],
        ),
        case(
            "invalid UTF-8",
            put("victim/manifests/bad", oci, &invalid_utf8),
            vec![kept(400, invalid)],
        ),
        case(
            "a UTF-8 byte order mark",
            put(
                "victim/manifests/bad",
                oci,
                &[b"\xef\xbb\xbf".as_slice(), good].concat(),
            ),
            vec![kept(400, invalid)],
        ),
        case(
            "bytes after the document",
            put(
                "victim/manifests/bad",
                oci,
                &[good.as_slice(), b"x"].concat(),
            ),
            vec![kept(400, invalid)],
        ),
        case(
            "two documents",
            put(
                "victim/manifests/bad",
                oci,
                &[good.as_slice(), good].concat(),
            ),
            vec![kept(400, invalid)],
        ),
        case(
            "schemaVersion twice",
            put(
                "victim/manifests/bad",
                oci,
                &[br#"{"schemaVersion":2,"#.as_slice(), &good[1..]].concat(),
            ),
            vec![kept(400, invalid)],
        ),
        case(
            "config twice",
            put("victim/manifests/bad", oci, &repeated_config),
            vec![kept(400, invalid)],
        ),
        case(
            "schemaVersion 1",
            put(
                "victim/manifests/bad",
                oci,
                &String::from_utf8_lossy(good)
                    .replace(r#""schemaVersion":2"#, r#""schemaVersion":1"#)
                    .into_bytes(),
            ),
            vec![kept(400, invalid)],
        ),
        case(
            "a mediaType that disagrees with Content-Type",
            put("victim/manifests/bad", Some(OCI_INDEX), good),
            vec![kept(400, invalid)],
        ),
        case(
            "a Content-Type that is no manifest type",
            put("victim/manifests/bad", Some("text/plain"), good),
            vec![kept(400, invalid)],
        ),
        case(
            "a blob the repository does not have",
            put("victim/manifests/bad", oci, &missing_blob),
            vec![kept(400, Some("MANIFEST_BLOB_UNKNOWN"))],
        ),
        case(
            "a blob unknown, pushed to a repository that does not exist",
            put("fresh/manifests/v1", oci, &missing_blob),
            vec![kept(400, Some("MANIFEST_BLOB_UNKNOWN"))],
        ),
        case(
            "invalid JSON, pushed to a repository that does not exist",
            put("fresh/manifests/v1", oci, b"{oops"),
            vec![kept(400, invalid)],
        ),
        case(
            "an index naming an unknown manifest, to a repository that does not exist",
            put(
                "fresh/manifests/v1",
                Some(OCI_INDEX),
                unknown_child.as_bytes(),
            ),
            vec![kept(400, Some("MANIFEST_BLOB_UNKNOWN"))],
        ),
        case(
            "a digest reference the body does not hash to",
            put(&digest_mismatch, oci, good),
            vec![kept(400, Some("DIGEST_INVALID"))],
        ),
        case(
            "a tag of TAG_BYTES_MAX + 1 characters",
            put(&format!("victim/manifests/{long_tag}"), oci, good),
            vec![kept(400, invalid)],
        ),
        case(
            "a tag starting with a dot",
            put("victim/manifests/.hidden", oci, good),
            vec![kept(400, invalid)],
        ),
        case(
            "a tag starting with a dash",
            put("victim/manifests/-x", oci, good),
            vec![kept(400, invalid)],
        ),
        case(
            "a tag with !",
            put("victim/manifests/a%21b", oci, good),
            vec![kept(400, invalid)],
        ),
        case(
            "a tag with a colon (an unknown digest algorithm)",
            put("victim/manifests/a:b", oci, good),
            vec![kept(400, invalid)],
        ),
        case(
            "a ?tag= of TAG_BYTES_MAX + 1 characters",
            put(&format!("victim/manifests/ok?tag={long_tag}"), oci, good),
            vec![kept(400, Some("TAG_INVALID"))],
        ),
        case(
            "a ?tag= with a slash",
            put("victim/manifests/ok?tag=a%2Fb", oci, good),
            vec![kept(400, Some("TAG_INVALID"))],
        ),
    ]
}

/// Names, references, digests, sessions and query values that try to leave the root or reach
/// the storage's own files. The sentinel beside the root is a complete repository holding the
/// secret as a blob and as the manifest of its tag `latest`.
fn traversal_cases(world: &World) -> Vec<Case> {
    let secret = sha256(SECRET);
    let secret_hex = &secret["sha256:".len()..];
    let get = |path: &str| raw(&format!("GET {path} HTTP/1.1"), &["Host: r"], b"");
    let send = |method: &str, path: &str, body: &[u8]| {
        raw(
            &format!("{method} {path} HTTP/1.1"),
            &[
                "Host: r",
                &format!("Content-Type: {OCI_MANIFEST}"),
                &format!("Content-Length: {}", body.len()),
            ],
            body,
        )
    };
    let name_invalid = vec![kept(400, Some("NAME_INVALID"))];
    let name_unknown = vec![kept(404, Some("NAME_UNKNOWN"))];
    let no_route = vec![kept(404, Some("UNSUPPORTED"))];
    let mut cases = Vec::new();
    for path in [
        format!("/v2/../sentinel/blobs/{secret}"),
        format!("/v2/%2e%2e/sentinel/blobs/{secret}"),
        format!("/v2/%2E%2E/sentinel/blobs/{secret}"),
        format!("/v2/%2e%2e%2fsentinel/blobs/{secret}"),
        format!("/v2/..%2Fsentinel/blobs/{secret}"),
        "/v2/..%2fsentinel/manifests/latest".to_owned(),
        "/v2/victim/../../sentinel/tags/list".to_owned(),
        "/v2/victim/%2e%2e/%2e%2e/sentinel/tags/list".to_owned(),
        "/v2/victim%2f..%2f..%2fsentinel/tags/list".to_owned(),
        "/v2/%2fsentinel/tags/list".to_owned(),
        format!("/v2/%2fsentinel/blobs/{secret}"),
        "/v2//tmp/tags/list".to_owned(),
        "/v2/%2ftmp%2fx/tags/list".to_owned(),
        "/v2/victim%00/tags/list".to_owned(),
        "/v2/a%5c..%5csentinel/tags/list".to_owned(),
        "/v2/./tags/list".to_owned(),
        "/v2/%2e/tags/list".to_owned(),
        "/v2/victim/./x/tags/list".to_owned(),
        "/v2/_uploads/tags/list".to_owned(),
        "/v2/_blobstore/tags/list".to_owned(),
        "/v2/victim/.uploads/tags/list".to_owned(),
        "/v2/.zot.lock/tags/list".to_owned(),
        "/v2/%C0%AE%C0%AE/sentinel/tags/list".to_owned(),
        "/v2/VICTIM/tags/list".to_owned(),
    ] {
        cases.push(case(
            format!("GET {path}"),
            get(&path),
            name_invalid.clone(),
        ));
    }
    // Valid names that look like storage files: unknown repositories, nothing more.
    for path in [
        "/v2/victim/blobs/tags/list",
        "/v2/victim/blobs/sha256/tags/list",
        "/v2/victim/index.json/tags/list",
        "/v2/victim/oci-layout/tags/list",
        "/v2/index.json/tags/list",
        "/v2/oci-layout/tags/list",
        "/v2/blobs/manifests/v1",
    ] {
        cases.push(case(format!("GET {path}"), get(path), name_unknown.clone()));
    }
    // References, digests and sessions with path parts.
    for (path, answers) in [
        (
            "/v2/victim/manifests/../../index.json".to_owned(),
            no_route.clone(),
        ),
        (
            "/v2/victim/manifests/..%2f..%2findex.json".to_owned(),
            no_route.clone(),
        ),
        (
            "/v2/victim/manifests/%2e%2e".to_owned(),
            vec![kept(400, Some("MANIFEST_INVALID"))],
        ),
        (
            "/v2/victim/manifests/v1%00".to_owned(),
            vec![kept(400, Some("MANIFEST_INVALID"))],
        ),
        (
            "/v2/victim/manifests/sha256:..%2f..%2f..%2fsentinel%2findex.json".to_owned(),
            no_route.clone(),
        ),
        (
            format!(
                "/v2/victim/blobs/sha256:..%2f..%2f..%2fsentinel%2fblobs%2fsha256%2f{secret_hex}"
            ),
            no_route.clone(),
        ),
        (format!("/v2/victim/blobs/{secret}%2f.."), no_route.clone()),
        (
            format!("/v2/victim/blobs/sha256:{}..", &secret_hex[..62]),
            vec![kept(400, Some("DIGEST_INVALID"))],
        ),
        (
            format!("/v2/victim/blobs/{secret}"),
            vec![kept(404, Some("BLOB_UNKNOWN"))],
        ),
        (
            "/v2/victim/blobs/..%2f..%2f..%2fsentinel".to_owned(),
            no_route.clone(),
        ),
        (
            "/v2/victim/blobs/sha256:..%2f..%2findex.json".to_owned(),
            no_route.clone(),
        ),
        (
            "/v2/victim/blobs/uploads/%2e%2e".to_owned(),
            vec![kept(404, Some("BLOB_UPLOAD_UNKNOWN"))],
        ),
        (
            "/v2/victim/blobs/uploads/..%2f..%2findex.json".to_owned(),
            no_route.clone(),
        ),
        (
            format!("/v2/victim/referrers/sha256:..%2f..%2f{secret_hex}"),
            no_route.clone(),
        ),
        ("/etc/passwd".to_owned(), no_route.clone()),
        ("/v2/_catalog/../../etc/passwd".to_owned(), no_route.clone()),
        (
            "/v2/_zot/ext/..%2f..%2fsentinel".to_owned(),
            no_route.clone(),
        ),
        (
            "http://r/v2/../../sentinel/tags/list".to_owned(),
            name_invalid.clone(),
        ),
    ] {
        cases.push(case(format!("GET {path}"), get(&path), answers));
    }
    // Query values with path parts: they name nothing on disk.
    for path in [
        "/v2/victim/tags/list?last=..%2f..%2fsentinel&n=5".to_owned(),
        "/v2/_catalog?last=..%2f..%2fsentinel".to_owned(),
        format!("/v2/victim/referrers/{secret}?artifactType=..%2f..%2fsentinel"),
    ] {
        cases.push(case(
            format!("GET {path}"),
            get(&path),
            vec![kept(200, None)],
        ));
    }
    // Raw bytes no URI holds.
    for (name, bytes) in [
        (
            "a backslash in the target",
            b"GET /v2/a\\..\\sentinel/tags/list HTTP/1.1\r\nHost: r\r\n\r\n".as_slice(),
        ),
        (
            "a NUL in the target",
            b"GET /v2/victim\0/tags/list HTTP/1.1\r\nHost: r\r\n\r\n",
        ),
        (
            "a bad percent-encoding",
            b"GET /v2/%zz/tags/list HTTP/1.1\r\nHost: r\r\n\r\n",
        ),
        (
            "a fragment",
            b"GET /v2/victim/tags/list#x HTTP/1.1\r\nHost: r\r\n\r\n",
        ),
    ] {
        cases.push(case(name, bytes, vec![closing(400, None)]));
    }
    // Writes.
    let manifest = &world.manifest;
    for (method, path, body, answers) in [
        (
            "DELETE",
            "/v2/..%2fsentinel/manifests/latest".to_owned(),
            b"".as_slice(),
            name_invalid.clone(),
        ),
        (
            "DELETE",
            "/v2/victim/blobs/sha256:..%2f..%2findex.json".to_owned(),
            b"",
            no_route.clone(),
        ),
        (
            "DELETE",
            "/v2/victim/manifests/..%2f..%2findex.json".to_owned(),
            b"",
            no_route.clone(),
        ),
        (
            "PUT",
            "/v2/..%2fsentinel/manifests/evil".to_owned(),
            manifest.as_slice(),
            name_invalid.clone(),
        ),
        (
            "PUT",
            "/v2/victim/manifests/..%2f..%2f..%2fsentinel%2findex.json".to_owned(),
            manifest,
            no_route.clone(),
        ),
        (
            "POST",
            "/v2/%2e%2e%2fsentinel/blobs/uploads/".to_owned(),
            b"",
            name_invalid.clone(),
        ),
        (
            "PATCH",
            "/v2/victim/blobs/uploads/..%2f..%2f..%2fsentinel".to_owned(),
            b"x",
            no_route.clone(),
        ),
        (
            "PUT",
            format!("/v2/victim/blobs/uploads/..%2f..%2fx?digest={secret}"),
            b"x",
            no_route.clone(),
        ),
        (
            "POST",
            "/v2/victim/blobs/uploads/?digest=sha256:..%2f..%2f..%2fsentinel".to_owned(),
            b"x",
            vec![kept(400, Some("DIGEST_INVALID"))],
        ),
        // Names that would put a repository inside another's files.
        (
            "POST",
            "/v2/victim/blobs/blobs/uploads/".to_owned(),
            b"",
            name_invalid.clone(),
        ),
        (
            "POST",
            "/v2/victim/blobs/sha256/blobs/uploads/".to_owned(),
            b"",
            name_invalid.clone(),
        ),
        (
            "POST",
            "/v2/victim/index.json/blobs/uploads/".to_owned(),
            b"",
            name_invalid.clone(),
        ),
        (
            "POST",
            "/v2/victim/oci-layout/blobs/uploads/".to_owned(),
            b"",
            name_invalid.clone(),
        ),
        (
            "PUT",
            "/v2/victim/index.json/manifests/evil".to_owned(),
            manifest,
            name_invalid.clone(),
        ),
    ] {
        cases.push(case(
            format!("{method} {path}"),
            send(method, &path, body),
            answers,
        ));
    }
    // A mount whose source is outside the root falls back to a new session, as the spec says;
    // the secret is not mounted (checked once the catalogue ran).
    for path in [
        format!("/v2/victim/blobs/uploads/?mount={secret}&from=..%2fsentinel"),
        format!("/v2/victim/blobs/uploads/?mount={secret}&from=%2e%2e"),
        format!("/v2/victim/blobs/uploads/?mount={secret}"),
        "/v2/victim/blobs/uploads/?mount=sha256:..%2f..%2fsentinel&from=victim".to_owned(),
    ] {
        cases.push(
            case(
                format!("POST {path}"),
                send("POST", &path, b""),
                vec![kept(202, None)],
            )
            .may_change("victim/.uploads"),
        );
    }
    cases
}

/// Methods, request-target forms, versions and Host.
fn method_version_cases(_: &World) -> Vec<Case> {
    let request = |line: &str| raw(line, &["Host: r"], b"");
    let not_implemented = vec![kept(501, Some("UNSUPPORTED"))];
    vec![
        case(
            "an unknown method",
            request("BREW /v2/ HTTP/1.1"),
            not_implemented.clone(),
        ),
        case(
            "a lowercase method",
            request("get /v2/ HTTP/1.1"),
            not_implemented.clone(),
        ),
        case(
            "TRACE, which must not echo the request",
            raw(
                "TRACE /v2/ HTTP/1.1",
                &["Host: r", "X-Secret: echo-me-7c41"],
                b"",
            ),
            not_implemented.clone(),
        ),
        case(
            "an unknown method on an OCI route",
            request("BREW /v2/victim/manifests/v1 HTTP/1.1"),
            not_implemented,
        ),
        case(
            "CONNECT with an authority-form target",
            request("CONNECT localhost:443 HTTP/1.1"),
            vec![closing(400, None)],
        ),
        case(
            "DELETE on the API root",
            request("DELETE /v2/ HTTP/1.1"),
            vec![refused_method("GET, HEAD")],
        ),
        case(
            "OPTIONS, which no route implements",
            request("OPTIONS /v2/ HTTP/1.1"),
            vec![kept(501, Some("UNSUPPORTED"))],
        ),
        case(
            "PUT on the catalog, with a body",
            raw(
                "PUT /v2/_catalog HTTP/1.1",
                &["Host: r", "Content-Length: 3"],
                b"abc",
            ),
            vec![refused_method("GET")],
        ),
        case(
            "POST on a manifest",
            raw(
                "POST /v2/victim/manifests/v1 HTTP/1.1",
                &["Host: r", "Content-Length: 0"],
                b"",
            ),
            vec![refused_method("GET, HEAD, PUT, DELETE")],
        ),
        case(
            "PATCH on a blob",
            raw(
                &format!("PATCH /v2/victim/blobs/{} HTTP/1.1", sha256(b"x")),
                &["Host: r", "Content-Length: 0"],
                b"",
            ),
            vec![refused_method("GET, HEAD, DELETE")],
        ),
        case(
            "DELETE on the tags list",
            request("DELETE /v2/victim/tags/list HTTP/1.1"),
            vec![refused_method("GET")],
        ),
        case(
            "an absolute-form target",
            request("GET http://x/v2/ HTTP/1.1"),
            vec![kept(200, None)],
        ),
        case(
            "an absolute-form target whose authority disagrees with Host",
            raw("GET http://elsewhere:1/v2/ HTTP/1.1", &["Host: r"], b""),
            vec![kept(200, None)],
        ),
        case(
            "an absolute-form target with an empty host",
            request("GET http:///v2/ HTTP/1.1"),
            vec![closing(400, None)],
        ),
        case(
            "an absolute-form target of another scheme",
            request("GET ftp://x/v2/ HTTP/1.1"),
            vec![closing(400, None)],
        ),
        case(
            "asterisk-form with OPTIONS",
            request("OPTIONS * HTTP/1.1"),
            vec![kept(501, Some("UNSUPPORTED"))],
        ),
        case(
            "asterisk-form with GET",
            request("GET * HTTP/1.1"),
            vec![closing(400, None)],
        ),
        case(
            "the HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".as_slice(),
            vec![closing(400, None)],
        ),
        case(
            "an HTTP/0.9 request",
            b"GET /\r\n".as_slice(),
            vec![closing(400, None)],
        ),
        case(
            "HTTP/1.2",
            request("GET /v2/ HTTP/1.2"),
            vec![closing(505, None)],
        ),
        case(
            "HTTP/2.0",
            request("GET /v2/ HTTP/2.0"),
            vec![closing(505, None)],
        ),
        case(
            "HTTP/9.9",
            request("GET /v2/ HTTP/9.9"),
            vec![closing(505, None)],
        ),
        case(
            "HTTP/1.10",
            request("GET /v2/ HTTP/1.10"),
            vec![closing(400, None)],
        ),
        case(
            "a lowercase version",
            request("GET /v2/ http/1.1"),
            vec![closing(400, None)],
        ),
        case(
            "a version without a dot",
            request("GET /v2/ HTTP/11"),
            vec![closing(400, None)],
        ),
        case("no version", request("GET /v2/"), vec![closing(400, None)]),
        case(
            "two spaces after the method",
            request("GET  /v2/ HTTP/1.1"),
            vec![closing(400, None)],
        ),
        case(
            "a space after the version",
            request("GET /v2/ HTTP/1.1 "),
            vec![closing(400, None)],
        ),
        case(
            "a tab as separator",
            request("GET\t/v2/ HTTP/1.1"),
            vec![closing(400, None)],
        ),
        case(
            "a method that is not a token",
            request("GE(T /v2/ HTTP/1.1"),
            vec![closing(400, None)],
        ),
        case(
            "HTTP/1.1 without Host",
            b"GET /v2/ HTTP/1.1\r\n\r\n".as_slice(),
            vec![closing(400, None)],
        ),
        case(
            "HTTP/1.0 without Host",
            b"GET /v2/ HTTP/1.0\r\n\r\n".as_slice(),
            vec![closing(200, None)],
        ),
        case(
            "an empty Host",
            b"GET /v2/ HTTP/1.1\r\nHost:\r\n\r\n".as_slice(),
            vec![kept(200, None)],
        ),
        case(
            "two different Hosts",
            raw("GET /v2/ HTTP/1.1", &["Host: a", "Host: b"], b""),
            vec![closing(400, None)],
        ),
        case(
            "two equal Hosts",
            raw("GET /v2/ HTTP/1.1", &["Host: a", "Host: a"], b""),
            vec![closing(400, None)],
        ),
        case(
            "a Host with a space",
            raw("GET /v2/ HTTP/1.1", &["Host: a b"], b""),
            vec![closing(400, None)],
        ),
        case(
            "a Host with a path",
            raw("GET /v2/ HTTP/1.1", &["Host: a/b"], b""),
            vec![closing(400, None)],
        ),
        case(
            "a TLS ClientHello",
            [
                0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
            ]
            .as_slice(),
            vec![closing(400, None)],
        ),
    ]
}

type Catalogue = fn(&World) -> Vec<Case>;

const CATALOGUES: [(&str, Catalogue); 6] = [
    ("head limits", head_limit_cases),
    ("framing and smuggling", framing_cases),
    ("bodies and chunks", body_cases),
    ("manifests", manifest_cases),
    ("path traversal", traversal_cases),
    ("methods, targets, versions and Host", method_version_cases),
];

// ---- The tests --------------------------------------------------------------------------------

#[test]
fn the_catalogue_counts_its_cases() {
    let world = World::placeholder();
    let mut total = 0;
    for (label, catalogue) in CATALOGUES {
        let cases = catalogue(&world);
        let mut names: Vec<&str> = cases.iter().map(|case| case.name.as_str()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "{label}: case names are unique");
        println!("{label}: {} hostile cases", cases.len());
        total += cases.len();
    }
    println!("hostile HTTP catalogue: {total} cases, each run on both modes");
    assert!(total >= 200, "the catalogue shrank to {total}");
}

#[test]
fn head_limits_are_answered_and_change_nothing() {
    run_catalogue(head_limit_cases);
}

#[test]
fn ambiguous_framing_is_refused_and_hidden_requests_never_run() {
    run_catalogue(framing_cases);
}

#[test]
fn broken_bodies_and_chunks_are_refused_and_change_nothing() {
    run_catalogue(body_cases);
}

#[test]
fn hostile_manifests_are_refused_and_change_nothing() {
    run_catalogue(manifest_cases);
}

#[test]
fn path_traversal_reads_and_writes_nothing_outside_the_root() {
    run_catalogue(traversal_cases);
}

#[test]
fn methods_targets_versions_and_host_get_their_status() {
    run_catalogue(method_version_cases);
}

// ---- Running a catalogue ----------------------------------------------------------------------

/// A staged server: the victim repository, its upload session and the sentinel beside the root.
struct Scene {
    served: Served,
    world: World,
}

/// Runs every case of `catalogue` against a staged server of each mode.
fn run_catalogue(catalogue: Catalogue) {
    for mode in MODES {
        let scene = stage(mode);
        let cases = catalogue(&scene.world);
        for case in &cases {
            run_case(&scene, case);
        }
        assert_untouched(&scene);
        println!("{mode:?}: {} hostile cases answered", cases.len());
        scene.served.stop();
    }
}

fn stage(mode: (&'static str, &'static str)) -> Scene {
    let served = serve_config(mode_config(mode, 2));
    let mut client = Client::connect(served.address);
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer = b"the victim's layer".repeat(10);
    let config_digest = client.push_blob("victim", config);
    let layer_digest = client.push_blob("victim", &layer);
    let manifest = image_manifest(&config_digest, config.len(), &layer_digest, layer.len());
    let reply = client.send(
        "PUT",
        "/v2/victim/manifests/v1",
        &[("Content-Type", OCI_MANIFEST)],
        &manifest,
    );
    assert_eq!(
        reply.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    let reply = client.send("POST", "/v2/victim/blobs/uploads/", &[], b"");
    assert_eq!(reply.status, 202);
    let session = reply.header("Location").unwrap().to_owned();
    let reply = client.send("PATCH", &session, &[], b"abc");
    assert_eq!(reply.header("Range"), Some("0-2"));
    let session_id = session.rsplit('/').next().unwrap();
    let session_file = PathBuf::from(format!("victim/.uploads/{session_id}"));
    assert!(
        served.root.join(&session_file).is_file(),
        "{session_file:?}"
    );
    write_sentinel(&served.folder);
    Scene {
        served,
        world: World {
            manifest,
            config_digest,
            session,
            session_file,
        },
    }
}

/// A complete repository beside the root, `<folder>/sentinel`, whose blob and manifest hold the
/// secret, and a loose file with it: what a traversal would find.
fn write_sentinel(folder: &Path) {
    let sentinel = folder.join("sentinel");
    let blobs = sentinel.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::create_dir_all(sentinel.join(".uploads")).unwrap();
    let secret = sha256(SECRET);
    std::fs::write(blobs.join(&secret["sha256:".len()..]), SECRET).unwrap();
    let manifest = [b"{\"secret\":\"".as_slice(), SECRET, b"\"}"].concat();
    let manifest_digest = sha256(&manifest);
    std::fs::write(blobs.join(&manifest_digest["sha256:".len()..]), &manifest).unwrap();
    std::fs::write(
        sentinel.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        sentinel.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{manifest_digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"latest"}}}}]}}"#,
            manifest.len()
        ),
    )
    .unwrap();
    std::fs::write(folder.join("secret.txt"), SECRET).unwrap();
}

/// Sends one case, checks its answers and its stream, then that the server still serves and
/// that nothing changed that the case may not change.
fn run_case(scene: &Scene, case: &Case) {
    let served = &scene.served;
    let name = case.name.as_str();
    let root_before = snapshot(&served.root, None);
    let outside_before = snapshot(&served.folder, Some(&served.root));

    let mut stream = TcpStream::connect(served.address).unwrap();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    // The server may answer and close before reading everything: later writes then fail, and
    // the answer is still there to read.
    let _ = stream.write_all(&case.bytes);
    if case.half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut seen: Vec<u8> = Vec::new();
    for (index, expected) in case.answers.iter().enumerate() {
        let reply = read_answer(&mut stream)
            .unwrap_or_else(|| panic!("{name}: the stream ended before answer {index}"));
        seen.extend(
            reply
                .headers
                .iter()
                .flat_map(|(field, value)| [field.as_bytes(), value.as_bytes()].concat()),
        );
        seen.extend_from_slice(&reply.body);
        check_answer(name, &reply, expected);
    }
    let last = case.answers.last().expect("a case expects an answer");
    if last.close {
        // Nothing after a closing answer: no hidden request was answered, so none ran.
        let rest = read_rest(&mut stream, name);
        assert!(
            rest.is_empty(),
            "{name}: bytes after the closing answer: {:?}",
            String::from_utf8_lossy(&rest)
        );
    } else {
        // The stream still frames requests.
        stream
            .write_all(b"GET /v2/ HTTP/1.1\r\nHost: r\r\n\r\n")
            .unwrap();
        let reply =
            read_answer(&mut stream).unwrap_or_else(|| panic!("{name}: a kept connection ended"));
        assert_eq!(
            reply.status, 200,
            "{name}: the kept connection's next request"
        );
    }
    drop(stream);

    assert_eq!(
        Client::connect(served.address).get("/v2/").status,
        200,
        "{name}: GET /v2/ on a new connection"
    );
    assert!(
        !contains(&seen, SECRET),
        "{name}: an answer holds the sentinel's secret"
    );
    assert!(
        !contains(&seen, ECHO),
        "{name}: an answer reflects the request"
    );
    let folder = served.folder.to_string_lossy();
    assert!(
        !contains(&seen, folder.as_bytes()),
        "{name}: an answer names the server's folder: {:?}",
        String::from_utf8_lossy(&seen)
    );
    let root_changes: Vec<PathBuf> = changes(&root_before, &snapshot(&served.root, None))
        .into_iter()
        .filter(|path| {
            !case
                .may_change
                .iter()
                .any(|allowed| path.starts_with(allowed))
        })
        .filter(|path| !case.may_touch.contains(path))
        .collect();
    assert!(
        root_changes.is_empty(),
        "{name}: the root changed: {root_changes:?}"
    );
    let outside_changes = changes(
        &outside_before,
        &snapshot(&served.folder, Some(&served.root)),
    );
    assert!(
        outside_changes.is_empty(),
        "{name}: the folder outside the root changed: {outside_changes:?}"
    );
}

fn check_answer(name: &str, reply: &Reply, expected: &Answer) {
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(
        reply.status, expected.status,
        "{name}: status; body {body:?}"
    );
    match expected.code {
        Some(code) => assert_eq!(reply.error_code(), code, "{name}: OCI error code"),
        None if reply.status >= 400 => {
            assert!(
                reply.body.is_empty(),
                "{name}: a head error has no body: {body:?}"
            )
        }
        None => {}
    }
    let close = reply.header("Connection") == Some("close");
    assert_eq!(close, expected.close, "{name}: Connection: close");
    if let Some(allow) = expected.allow {
        assert_eq!(reply.header("Allow"), Some(allow), "{name}: Allow");
    }
}

/// After a catalogue: the victim is as staged, and nothing new exists.
fn assert_untouched(scene: &Scene) {
    let mut client = Client::connect(scene.served.address);
    let world = &scene.world;
    assert_eq!(
        client.get("/v2/_catalog").json()["repositories"],
        serde_json::json!(["victim"])
    );
    assert_eq!(
        client.get("/v2/victim/tags/list").json()["tags"],
        serde_json::json!(["v1"])
    );
    assert_eq!(client.get("/v2/victim/manifests/v1").body, world.manifest);
    let status = client.get(&world.session);
    assert_eq!((status.status, status.header("Range")), (204, Some("0-2")));
    let secret = client.get(&format!("/v2/victim/blobs/{}", sha256(SECRET)));
    assert_eq!(secret.status, 404, "the secret was never mounted");
    assert_eq!(
        std::fs::read(scene.served.folder.join("secret.txt")).unwrap(),
        SECRET
    );
}

// ---- Raw reading ------------------------------------------------------------------------------

/// One response: head byte by byte (so nothing of the next one is consumed), then a body of its
/// Content-Length. `None` when the stream ends first. A reset fails the test: a server that
/// closes on unread hostile bytes lingers first (`CLOSE_LINGER_TIMEOUT`), because a reset can
/// destroy its answer before the client reads it.
fn read_answer(stream: &mut TcpStream) -> Option<Reply> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => return None,
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {
                panic!("the server reset the stream before its answer was read")
            }
            Err(error) => panic!("reading an answer: {error}"),
        }
        assert!(head.len() < 64 * 1024, "an answer head this long is a bug");
    }
    let text = String::from_utf8(head).expect("answer heads are ASCII");
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line:?}");
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (field, value) = line.split_once(':').unwrap();
            (field.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(field, _)| field == "content-length")
        .map_or(0, |(_, value)| value.parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// Everything until the server closes. Fails when the server keeps the stream open, or resets
/// it instead of closing (see `read_answer`).
fn read_rest(stream: &mut TcpStream, name: &str) -> Vec<u8> {
    let mut rest = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return rest,
            Ok(count) => rest.extend_from_slice(&buffer[..count]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {
                panic!("{name}: the server reset the stream instead of closing it")
            }
            Err(error) => panic!("{name}: the server did not close the stream: {error}"),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

// ---- Snapshots --------------------------------------------------------------------------------

/// Every path under a folder with its kind, size and modification time.
type Tree = BTreeMap<PathBuf, (bool, u64, u128)>;

/// The tree under `base`, paths relative to it, leaving out `skip` and what is under it.
fn snapshot(base: &Path, skip: Option<&Path>) -> Tree {
    let mut tree = Tree::new();
    let mut pending = vec![base.to_path_buf()];
    // Bounded: the test's folders hold a few dozen entries.
    for _ in 0..100_000 {
        let Some(folder) = pending.pop() else {
            return tree;
        };
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if Some(path.as_path()) == skip {
                continue;
            }
            let Ok(metadata) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let modified = metadata
                .modified()
                .unwrap()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let relative = path.strip_prefix(base).unwrap().to_path_buf();
            tree.insert(relative, (metadata.is_dir(), metadata.len(), modified));
            if metadata.is_dir() {
                pending.push(path);
            }
        }
    }
    panic!("more entries under {base:?} than a test folder holds");
}

/// Paths added, removed or changed between two snapshots.
fn changes(before: &Tree, after: &Tree) -> Vec<PathBuf> {
    let mut changed: Vec<PathBuf> = before
        .iter()
        .filter(|(path, entry)| after.get(*path) != Some(entry))
        .map(|(path, _)| path.clone())
        .collect();
    changed.extend(
        after
            .keys()
            .filter(|path| !before.contains_key(*path))
            .cloned(),
    );
    changed
}
