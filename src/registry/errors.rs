//! OCI error codes to HTTP: the one place that picks a status for a code, and writes the
//! spec's JSON error body.

use proto::oci::{ErrorCode, ErrorEntry, error_code};

use crate::http::{Response, ResponseBody};

/// The status a code is answered with. The distribution spec's table, with zot's choices where
/// the spec leaves room.
pub fn status_of(code: ErrorCode) -> u16 {
    code.default_status()
}

/// A response carrying the OCI error body `{"errors":[{code,message,detail}]}`.
pub fn error_response(code: ErrorCode, detail: &str) -> Response {
    error_response_with_status(code, status_of(code), detail)
}

/// The same, with a status the route decides (416 for an out-of-order chunk, say).
pub fn error_response_with_status(code: ErrorCode, status: u16, detail: &str) -> Response {
    let detail_pairs = [("reason", detail)];
    let entry = ErrorEntry {
        code,
        message: code.default_message(),
        detail: if detail.is_empty() {
            &[]
        } else {
            &detail_pairs
        },
    };
    let mut body = vec![0u8; error_code::error_body_len(&[entry])];
    let length =
        error_code::write_error_body(&mut body, &[entry]).expect("sized by error_body_len");
    body.truncate(length);
    let mut response = Response::new(status)
        .header("Content-Type", "application/json")
        .body(ResponseBody::Bytes(body));
    response.error_code = Some(code.as_str());
    response
}
