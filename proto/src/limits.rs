//! Every bound the wire code enforces, named once. The server refers to these names in its
//! error messages and its own limits module re-exports them.
//!
//! Sizes are in bytes unless the name says otherwise; counts end in `_max`.

// ---- HTTP/1.1 request head -------------------------------------------------------------------

/// Longest request line (method, target, version, CRLF). Longer answers 414 URI Too Long.
/// 8 KiB matches what common servers accept and is far above any registry URL (a repository
/// name is at most 255 bytes and a digest query parameter about 140).
pub const REQUEST_LINE_BYTES_MAX: usize = 8 * 1024;

/// Longest header section (every field line and the final CRLF, without the request line).
/// Longer answers 431. Large enough for a 16 KiB bearer token with room to spare.
pub const HEADER_SECTION_BYTES_MAX: usize = 64 * 1024;

/// Most header field lines in one request. More answers 431.
pub const HEADER_COUNT_MAX: usize = 100;

/// Most empty lines (CRLF) skipped before a request line, as RFC 9112 section 2.2 allows.
pub const LEADING_EMPTY_LINES_MAX: usize = 4;

/// Longest method token. Registry methods are at most 7 bytes; anything longer is garbage.
pub const METHOD_BYTES_MAX: usize = 32;

// ---- HTTP/1.1 chunked bodies -----------------------------------------------------------------

/// Most hexadecimal digits in a chunk size, leading zeros included. Sixteen digits already
/// cover every `u64`; more is an attack on the size accumulator.
pub const CHUNK_SIZE_DIGITS_MAX: usize = 16;

/// Longest chunk extension (everything after the size up to CRLF) in one chunk header.
pub const CHUNK_EXTENSION_BYTES_MAX: usize = 4 * 1024;

/// Longest trailer section after the last chunk (all trailer lines and the final CRLF).
pub const TRAILER_SECTION_BYTES_MAX: usize = 16 * 1024;

// ---- HTTP header values ----------------------------------------------------------------------

/// Most ranges honoured in one `Range` header; a longer list is answered with the whole
/// representation (RFC 9110 section 14.2 lets a server ignore a Range header).
pub const RANGE_COUNT_MAX: usize = 16;

/// Longest percent-decoded query value the server decodes (a repository name in `from=` or a
/// media type in `artifactType=`).
pub const QUERY_VALUE_BYTES_MAX: usize = 1024;

// ---- HTTP response head ----------------------------------------------------------------------

/// Bytes the server reserves for one response head (status line and headers).
pub const RESPONSE_HEAD_BYTES_MAX: usize = 4 * 1024;

// ---- OCI -------------------------------------------------------------------------------------

/// Longest repository name. The distribution reference grammar caps a full name at 255 bytes.
pub const REPOSITORY_NAME_BYTES_MAX: usize = 255;

/// Most path components (`a/b/c` has three) in a repository name. Bounds the router's work and
/// the folder depth a name can create on disk.
pub const REPOSITORY_NAME_COMPONENTS_MAX: usize = 32;

/// Longest tag, from the distribution spec: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub const TAG_BYTES_MAX: usize = 128;

/// Longest digest string accepted for parsing (`sha512:` plus 128 hex digits is 135). Anything
/// longer is invalid before its algorithm is even looked at.
pub const DIGEST_BYTES_MAX: usize = 256;

/// Largest manifest or image index body, from the distribution spec's recommendation (4 MiB).
/// Larger answers 413 Payload Too Large.
pub const MANIFEST_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Most descriptors (layers, or manifests in an index) one manifest may list.
pub const MANIFEST_DESCRIPTORS_MAX: usize = 10_000;

/// Longest media type string (RFC 6838 caps type and subtype at 127 bytes each).
pub const MEDIA_TYPE_BYTES_MAX: usize = 255;

/// Longest upload session identifier in `/v2/<name>/blobs/uploads/<session>`. The server makes
/// them (`[A-Za-z0-9_-]`, safe as a file name); anything longer was not made here.
pub const UPLOAD_SESSION_BYTES_MAX: usize = 128;
