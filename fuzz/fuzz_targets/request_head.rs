//! Fuzz target: the request-head parser. Whatever the bytes, parsing must not panic; a complete
//! head must be made of valid parts, must not depend on the bytes after it, must be Partial at
//! every shorter length, and must be found the same way when fed in pieces through HeadScanner,
//! as must a crossed request-line, header-section or field-count limit, with or without the
//! head's end.
#![no_main]

use proto::http1::{HeadScanner, Header, Request, RequestError, Status, parse_request};
use proto::limits::HEADER_COUNT_MAX;

/// A comparable summary of a parse (the borrowed request cannot outlive its headers array).
#[derive(Debug, PartialEq)]
enum Outcome {
    Complete { consumed: usize, summary: String },
    Partial,
    Error(RequestError),
}

fn summarise(request: &Request<'_, '_>) -> String {
    format!(
        "{} {} {} {:?} {:?} {:?} {:?}",
        request.method.as_str(),
        request.target,
        request.path,
        request.query,
        request.version,
        request.headers,
        request.framing
    )
}

fn outcome(input: &[u8]) -> Outcome {
    let mut headers = [Header::EMPTY; HEADER_COUNT_MAX];
    match parse_request(input, &mut headers) {
        Ok(Status::Complete((request, consumed))) => {
            check_parts(&request, input, consumed);
            Outcome::Complete {
                consumed,
                summary: summarise(&request),
            }
        }
        Ok(Status::Partial) => Outcome::Partial,
        Err(error) => {
            assert!(matches!(error.status(), 400 | 414 | 417 | 431 | 501 | 505));
            Outcome::Error(error)
        }
    }
}

fn check_parts(request: &Request<'_, '_>, input: &[u8], consumed: usize) {
    assert!(consumed <= input.len());
    assert!(input[..consumed].ends_with(b"\r\n\r\n"));
    assert!(request.path.starts_with('/') || request.path == "*");
    assert!(request.target.bytes().all(|b| b.is_ascii_graphic()));
    for header in request.headers {
        assert!(!header.name.is_empty());
        assert!(header.name.bytes().all(proto::http1::chars::is_token));
        assert!(
            header
                .value
                .iter()
                .all(|&b| proto::http1::chars::is_field_value(b))
        );
        assert!(!header.value.starts_with(b" ") && !header.value.ends_with(b" "));
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let whole = outcome(data);
    match &whole {
        Outcome::Complete { consumed, .. } => {
            let consumed = *consumed;
            // The head alone parses the same: nothing after it was looked at.
            assert_eq!(outcome(&data[..consumed]), whole);
            // Every shorter prefix of a valid head is incomplete, never an error.
            for end in [0, consumed / 3, consumed / 2, consumed - 1] {
                assert_eq!(
                    outcome(&data[..end]),
                    Outcome::Partial,
                    "prefix of {end} bytes"
                );
            }
        }
        // A crossed limit must be reported before the head ends, or without an end.
        Outcome::Error(
            RequestError::HeaderSectionTooLarge
            | RequestError::RequestLineTooLong
            | RequestError::TooManyHeaders,
        ) => {}
        _ => return,
    }
    // Fed in pieces through the scanner, the same head or the same crossed limit is found.
    let mut scanner = HeadScanner::new();
    let piece = 1 + usize::from(data[0] % 13);
    let mut end = 0;
    loop {
        end = (end + piece).min(data.len());
        if scanner.is_ready(&data[..end]) {
            match outcome(&data[..end]) {
                Outcome::Partial => {}
                found => {
                    assert_eq!(found, whole);
                    break;
                }
            }
        }
        assert!(
            end < data.len(),
            "the scanner never reported the complete head or the crossed limit"
        );
    }
});
