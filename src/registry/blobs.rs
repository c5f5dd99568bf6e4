//! `/v2/<name>/blobs/<digest>`: get and head (with ranges), and delete. Reads need no owner:
//! blobs never change (I12), so they are opened and sent on the connection's core.

use proto::http1::content_range::{
    CONTENT_RANGE_BYTES_MAX, write_content_range, write_unsatisfied_range,
};
use proto::http1::range::{RangeError, parse_range};
use proto::oci::{Digest, ErrorCode, RepositoryName};
use storage_engine::BlobFile;

use crate::http::{FilePart, RequestHead, Response, ResponseBody};
use crate::registry::Registry;
use crate::registry::errors::{error_response, error_response_with_status};

/// Separates the parts of a multi-range answer. Blob bytes may contain it; multipart readers
/// rely on each part's Content-Range for its length.
const BYTERANGES_BOUNDARY: &str = "zot-byteranges-3d6b1f0c";

/// A 206 with the headers of the 200 it replaces, the content type kept or not.
fn partial(response: &Response, keep_content_type: bool) -> Response {
    let mut partial = Response::new(206);
    for (name, value) in response.headers() {
        if keep_content_type || !name.eq_ignore_ascii_case("Content-Type") {
            partial = partial.header(name, value.clone());
        }
    }
    partial
}

/// The 200 of a blob GET or HEAD, before its body.
fn found(digest: Digest<'_>) -> Response {
    Response::new(200)
        .header("Content-Type", "application/octet-stream")
        .header("Docker-Content-Digest", digest.as_str())
        .header("Accept-Ranges", "bytes")
}

pub(super) async fn get(
    registry: &Registry,
    head: &RequestHead,
    name: RepositoryName<'_>,
    digest: Digest<'_>,
) -> Response {
    let paths = registry.roots.for_name(name.as_str()).repository(name);
    if head.is_head() {
        // One statx, no open and close: clients HEAD every blob before they push it.
        return match registry.disk.file_size(&paths.blob(digest)).await {
            Ok(size) => found(digest).body(ResponseBody::HeadOnly { length: size }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                error_response(ErrorCode::BlobUnknown, digest.as_str())
            }
            Err(error) => error_response(ErrorCode::Unknown, &error.to_string()),
        };
    }
    let file = match BlobFile::open(&paths, digest).await {
        Ok(Some(file)) => file,
        Ok(None) => return error_response(ErrorCode::BlobUnknown, digest.as_str()),
        Err(error) => return error_response(ErrorCode::Unknown, &error.to_string()),
    };
    let size = file.size();
    let response = found(digest);
    let Some(range_header) = head.header("Range") else {
        return response.body(ResponseBody::File {
            file,
            offset: 0,
            length: size,
        });
    };
    match parse_range(range_header, size) {
        // One range: 206 with its Content-Range.
        Ok(ranges) if ranges.len() == 1 => {
            let range = ranges.as_slice()[0];
            let mut text = [0u8; CONTENT_RANGE_BYTES_MAX];
            let length = write_content_range(range, size, &mut text);
            partial(&response, true)
                .header("Content-Range", text[..length].to_vec())
                .body(ResponseBody::File {
                    file,
                    offset: range.start,
                    length: range.len(),
                })
        }
        // Several: 206 multipart/byteranges, each part with its own Content-Range (RFC 9110
        // 14.6), the bytes still sent from the file.
        Ok(ranges) => {
            let parts = ranges
                .iter()
                .map(|range| {
                    let mut text = [0u8; CONTENT_RANGE_BYTES_MAX];
                    let length = write_content_range(*range, size, &mut text);
                    let mut preamble = format!(
                        "\r\n--{BYTERANGES_BOUNDARY}\r\nContent-Type: application/octet-stream\r\nContent-Range: "
                    )
                    .into_bytes();
                    preamble.extend_from_slice(&text[..length]);
                    preamble.extend_from_slice(b"\r\n\r\n");
                    FilePart {
                        preamble,
                        offset: range.start,
                        length: range.len(),
                    }
                })
                .collect();
            partial(&response, false)
                .header(
                    "Content-Type",
                    format!("multipart/byteranges; boundary={BYTERANGES_BOUNDARY}"),
                )
                .body(ResponseBody::FileParts {
                    file,
                    parts,
                    epilogue: format!("\r\n--{BYTERANGES_BOUNDARY}--\r\n").into_bytes(),
                })
        }
        Err(RangeError::Unsatisfiable) => {
            file.close().await;
            let mut text = [0u8; CONTENT_RANGE_BYTES_MAX];
            let length = write_unsatisfied_range(size, &mut text);
            error_response_with_status(ErrorCode::RangeInvalid, 416, "range not satisfiable")
                .header("Content-Range", text[..length].to_vec())
        }
        // Malformed, another unit, too many ranges: ignored, the whole blob (RFC 9110 14.2).
        Err(_) => response.body(ResponseBody::File {
            file,
            offset: 0,
            length: size,
        }),
    }
}

pub(super) async fn delete(
    registry: &Registry,
    name: RepositoryName<'_>,
    digest: Digest<'_>,
) -> Response {
    let _owner = registry.owner.lock().await;
    let mut store = registry.store.borrow_mut();
    match store.delete_blob(name, digest).await {
        Ok(()) => Response::new(202),
        Err(error) => error_response(error.error_code(), &error.to_string()),
    }
}
