//! Fuzz target: the response-head parser a client uses. Whatever the bytes, parsing must not
//! panic; a complete head must be made of valid parts, must not depend on the bytes after it,
//! and every shorter prefix of it must be Partial, never an error.
#![no_main]

use proto::http1::{Header, ResponseError, Status, parse_response};
use proto::limits::HEADER_COUNT_MAX;

#[derive(Debug, PartialEq)]
enum Outcome {
    Complete { consumed: usize, summary: String },
    Partial,
    Error(ResponseError),
}

fn outcome(input: &[u8]) -> Outcome {
    let mut headers = [Header::EMPTY; HEADER_COUNT_MAX];
    match parse_response(input, &mut headers) {
        Ok(Status::Complete((response, consumed))) => {
            assert!(consumed <= input.len());
            assert!(input[..consumed].ends_with(b"\r\n\r\n"));
            assert!((100..=999).contains(&response.status));
            for header in response.headers {
                assert!(proto::http1::chars::is_token_bytes(header.name.as_bytes()));
                assert!(!header.value.starts_with(b" ") && !header.value.ends_with(b" "));
            }
            Outcome::Complete {
                consumed,
                summary: format!(
                    "{response:?} {:?} {:?}",
                    response.body(false),
                    response.body(true)
                ),
            }
        }
        Ok(Status::Partial) => Outcome::Partial,
        Err(error) => Outcome::Error(error),
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let whole = outcome(data);
    let Outcome::Complete { consumed, .. } = &whole else {
        return;
    };
    let consumed = *consumed;
    assert_eq!(outcome(&data[..consumed]), whole);
    for end in [0, consumed / 3, consumed / 2, consumed - 1] {
        assert_eq!(
            outcome(&data[..end]),
            Outcome::Partial,
            "prefix of {end} bytes"
        );
    }
});
