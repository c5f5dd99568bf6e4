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

/// The same, with a status the route decides (416 for an out-of-order chunk, say). A server
/// error's detail goes to the log whole and to the client without file paths: where the root
/// lives and how it is laid out is the operator's business, not every client's.
pub fn error_response_with_status(code: ErrorCode, status: u16, detail: &str) -> Response {
    let server_error = status >= 500;
    let redacted;
    let public_detail = if server_error {
        redacted = without_paths(detail);
        redacted.as_str()
    } else {
        detail
    };
    let detail_pairs = [("reason", public_detail)];
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
    if server_error {
        response.error_detail = Some(Box::new(detail.into()));
    }
    response
}

/// `detail` with every absolute path replaced by `<path>`: a path starts a word with `/` and
/// runs to the next `": "` (how the engine's errors follow a path with the system's reason) or
/// to the end.
fn without_paths(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len());
    let mut rest = detail;
    let mut at_word_start = true;
    // Bounded by the detail's length: every pass consumes at least one character.
    while let Some(character) = rest.chars().next() {
        if character == '/' && at_word_start {
            let end = rest.find(": ").unwrap_or(rest.len());
            out.push_str("<path>");
            rest = &rest[end..];
            at_word_start = false;
            continue;
        }
        out.push(character);
        at_word_start = character.is_whitespace() || character == '(' || character == '\'';
        rest = &rest[character.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::without_paths;

    #[test]
    fn paths_leave_server_errors_and_the_rest_stays() {
        assert_eq!(
            without_paths(
                "link blob /srv/zot/a b/blobs/sha256/ab: Permission denied (os error 13)"
            ),
            "link blob <path>: Permission denied (os error 13)"
        );
        assert_eq!(without_paths("open /srv/zot/.zot.lock"), "open <path>");
        assert_eq!(without_paths("size 3/4 of a/b"), "size 3/4 of a/b");
        assert_eq!(without_paths("rename '/x/y': gone"), "rename '<path>: gone");
        assert_eq!(without_paths(""), "");
    }
}
