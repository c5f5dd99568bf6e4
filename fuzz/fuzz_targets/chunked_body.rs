//! Fuzz target: the chunked body decoder. Whatever the bytes, decoding must not panic, data
//! ranges must lie inside what was consumed, and feeding the input in pieces must give exactly
//! the body, byte count and error that feeding it whole gives.
#![no_main]

use proto::http1::chunked::{ChunkedDecoder, ChunkedError};

/// Body bytes, bytes consumed and whether the body ended; or the error.
fn decode(input: &[u8], piece_bytes: usize) -> Result<(Vec<u8>, usize, bool), ChunkedError> {
    let mut decoder = ChunkedDecoder::new();
    let mut body = Vec::new();
    let mut start = 0;
    let mut available = 0;
    // Each round makes a piece more available or consumes at least one byte: bounded.
    while start < input.len() {
        available = (available.max(start) + piece_bytes).min(input.len());
        loop {
            let window = &input[start..available];
            let decoded = decoder.decode(window)?;
            assert!(decoded.data.end <= decoded.consumed && decoded.consumed <= window.len());
            body.extend_from_slice(&window[decoded.data.clone()]);
            start += decoded.consumed;
            if decoded.done {
                assert!(decoder.is_done());
                assert_eq!(decoder.body_bytes(), body.len() as u64);
                return Ok((body, start, true));
            }
            if decoded.consumed == 0 || start == available {
                break;
            }
        }
    }
    Ok((body, start, false))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let whole = decode(input, input.len().max(1));
    let pieces = decode(input, 1 + usize::from(first % 17));
    assert_eq!(whole, pieces);
});
