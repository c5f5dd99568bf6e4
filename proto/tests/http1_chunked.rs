//! Chunked body decoder: table tests for every rule and error, and the property that feeding a
//! body in any pieces yields the same bytes as feeding it whole.

use proptest::prelude::*;
use proto::http1::chunked::{ChunkedDecoder, ChunkedError};
use proto::limits::{CHUNK_EXTENSION_BYTES_MAX, TRAILER_SECTION_BYTES_MAX};

/// Feeds `input` in pieces of the given sizes (cycled), like reads from a socket that keep
/// unconsumed bytes at the front of the buffer. Returns the body and the bytes used, or the
/// error.
fn decode_in_pieces(
    input: &[u8],
    piece_sizes: &[usize],
) -> Result<(Vec<u8>, usize, bool), ChunkedError> {
    let mut decoder = ChunkedDecoder::new();
    let mut body = Vec::new();
    let mut buffer: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut used = 0;
    let mut sizes = piece_sizes.iter().cycle();
    loop {
        if fed < input.len() {
            let size = (*sizes.next().unwrap()).max(1);
            let end = (fed + size).min(input.len());
            buffer.extend_from_slice(&input[fed..end]);
            fed = end;
        }
        // Drain what the buffer holds before reading more.
        loop {
            let decoded = decoder.decode(&buffer)?;
            body.extend_from_slice(&buffer[decoded.data.clone()]);
            assert!(decoded.data.end <= decoded.consumed);
            buffer.drain(..decoded.consumed);
            used += decoded.consumed;
            if decoded.done {
                assert_eq!(decoder.body_bytes(), body.len() as u64);
                return Ok((body, used, true));
            }
            if decoded.consumed == 0 || buffer.is_empty() {
                break;
            }
        }
        if fed == input.len() && (buffer.is_empty() || decoder.is_done()) {
            return Ok((body, used, decoder.is_done()));
        }
    }
}

fn decode_whole(input: &[u8]) -> Result<(Vec<u8>, usize, bool), ChunkedError> {
    decode_in_pieces(input, &[input.len().max(1)])
}

#[test]
fn a_typical_docker_patch_body_decodes() {
    let input = b"5\r\nhello\r\n7;name=value\r\n, world\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    let (body, used, done) = decode_whole(input).unwrap();
    assert_eq!(body, b"hello, world");
    assert!(done);
    assert_eq!(
        &input[used..],
        b"GET / HTTP/1.1\r\n",
        "the next request is left alone"
    );
}

#[test]
fn data_is_handed_out_as_ranges_of_the_input() {
    let input = b"a\r\n0123456789\r\n0\r\n\r\n";
    let mut decoder = ChunkedDecoder::new();
    let decoded = decoder.decode(input).unwrap();
    assert_eq!(decoded.data, 3..13);
    assert_eq!(decoded.consumed, 13);
    assert!(!decoded.done);
    let decoded = decoder.decode(&input[13..]).unwrap();
    assert!(decoded.data.is_empty());
    assert!(decoded.done);
    assert_eq!(decoded.consumed, input.len() - 13);
}

#[test]
fn sizes_extensions_and_trailers_that_are_valid() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"0\r\n\r\n", b""),
        (b"000\r\n\r\n", b""),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
        (b"1;a\r\nx\r\n0\r\n\r\n", b"x"),
        (b"1 ; a = \"q;\\\"\"\r\nx\r\n0\r\n\r\n", b"x"),
        (b"1\t;a\r\nx\r\n0;last\r\n\r\n", b"x"),
        (
            b"1\r\nx\r\n0\r\nDigest: sha-256=abc\r\nX-Trailer:\r\n\r\n",
            b"x",
        ),
        (b"ffffffff\r\n", b""),
    ];
    for (input, expected) in cases {
        let result = decode_whole(input);
        let (body, _, _) =
            result.unwrap_or_else(|error| panic!("{:?}: {error}", String::from_utf8_lossy(input)));
        assert_eq!(&body, expected, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn malformed_bodies_give_their_error() {
    let cases: &[(&[u8], ChunkedError)] = &[
        (b"\r\n", ChunkedError::Size),
        (b"g\r\n", ChunkedError::Size),
        (b"-1\r\n", ChunkedError::Size),
        (b"+1\r\n", ChunkedError::Size),
        (b"0x1\r\n", ChunkedError::Size),
        (b"1 x\r\n", ChunkedError::Size),
        (b" 1\r\n", ChunkedError::Size),
        (b"11111111111111111\r\n", ChunkedError::SizeTooLong),
        (b"00000000000000000\r\n", ChunkedError::SizeTooLong),
        (b"1;a\0b\r\nx\r\n", ChunkedError::Extension),
        (b"1;a\nb\r\nx\r\n", ChunkedError::Extension),
        (b"1\n", ChunkedError::LineEnding),
        (b"1\rx", ChunkedError::LineEnding),
        (b"1\r\nxy\r\n", ChunkedError::DataTerminator),
        (b"1\r\nx\n", ChunkedError::DataTerminator),
        (b"1\r\nx\rx", ChunkedError::LineEnding),
        (b"0\r\n\n", ChunkedError::Trailer),
        (b"0\r\n\rx", ChunkedError::LineEnding),
        (b"0\r\n folded: x\r\n\r\n", ChunkedError::Trailer),
        (b"0\r\nName : x\r\n\r\n", ChunkedError::Trailer),
        (b"0\r\nNo-colon\r\n\r\n", ChunkedError::Trailer),
        (b"0\r\nX: a\x01\r\n\r\n", ChunkedError::Trailer),
        (b"0\r\nX: a\r\r\n", ChunkedError::LineEnding),
    ];
    for (input, expected) in cases {
        assert_eq!(
            decode_whole(input),
            Err(*expected),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(!expected.to_string().is_empty());
    }
}

#[test]
fn extensions_and_trailers_are_bounded() {
    let long_extension = format!(
        "1;{}\r\nx\r\n0\r\n\r\n",
        "a".repeat(CHUNK_EXTENSION_BYTES_MAX)
    );
    assert_eq!(
        decode_whole(long_extension.as_bytes()),
        Err(ChunkedError::ExtensionTooLong)
    );
    let long_whitespace = format!(
        "1{}\r\nx\r\n0\r\n\r\n",
        " ".repeat(CHUNK_EXTENSION_BYTES_MAX + 1)
    );
    assert_eq!(
        decode_whole(long_whitespace.as_bytes()),
        Err(ChunkedError::ExtensionTooLong)
    );
    let at_limit = format!(
        "1;{}\r\nx\r\n0\r\n\r\n",
        "a".repeat(CHUNK_EXTENSION_BYTES_MAX - 1)
    );
    assert_eq!(decode_whole(at_limit.as_bytes()).unwrap().0, b"x");

    let long_trailer = format!("0\r\nX: {}\r\n\r\n", "v".repeat(TRAILER_SECTION_BYTES_MAX));
    assert_eq!(
        decode_whole(long_trailer.as_bytes()),
        Err(ChunkedError::TrailerTooLarge)
    );
    let many_trailers = format!(
        "0\r\n{}\r\n",
        "X: v\r\n".repeat(TRAILER_SECTION_BYTES_MAX / 6 + 1)
    );
    assert_eq!(
        decode_whole(many_trailers.as_bytes()),
        Err(ChunkedError::TrailerTooLarge)
    );
    // The section counts every trailer line and the final CRLF, both of its bytes: exactly
    // the limit passes, one byte more does not.
    let trailer_of = |section_bytes: usize| {
        let filler = "v".repeat(section_bytes - "X: \r\n\r\n".len());
        format!("0\r\nX: {filler}\r\n\r\n")
    };
    let at_limit = trailer_of(TRAILER_SECTION_BYTES_MAX);
    assert_eq!(decode_whole(at_limit.as_bytes()).unwrap().0, b"");
    let over_limit = trailer_of(TRAILER_SECTION_BYTES_MAX + 1);
    assert_eq!(
        decode_whole(over_limit.as_bytes()),
        Err(ChunkedError::TrailerTooLarge)
    );
}

#[test]
fn a_decoder_that_is_done_consumes_nothing_more() {
    let mut decoder = ChunkedDecoder::new();
    let decoded = decoder.decode(b"0\r\n\r\n").unwrap();
    assert!(decoded.done);
    let decoded = decoder.decode(b"garbage").unwrap();
    assert_eq!(
        (decoded.consumed, decoded.data.is_empty(), decoded.done),
        (0, true, true)
    );
}

#[test]
fn the_largest_chunk_size_is_accepted_without_overflow() {
    let mut decoder = ChunkedDecoder::new();
    let decoded = decoder.decode(b"ffffffffffffffff\r\nabc").unwrap();
    assert_eq!(decoded.data, 18..21);
    assert_eq!(decoder.body_bytes(), 3);
}

fn encode(chunks: &[Vec<u8>], extensions: bool, trailers: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, chunk) in chunks.iter().filter(|c| !c.is_empty()).enumerate() {
        if index % 2 == 0 {
            out.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
        } else {
            out.extend_from_slice(format!("{:08X}", chunk.len()).as_bytes());
        }
        if extensions {
            out.extend_from_slice(b" ; ext=\"v\"");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    if trailers {
        out.extend_from_slice(b"Digest: sha-256=x\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

proptest! {
    #[test]
    fn any_split_yields_the_same_body(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
        extensions in any::<bool>(),
        trailers in any::<bool>(),
        pieces in proptest::collection::vec(1usize..40, 1..16),
    ) {
        let mut input = encode(&chunks, extensions, trailers);
        let body_length = input.len();
        input.extend_from_slice(b"NEXT");
        let expected: Vec<u8> = chunks.concat();
        let whole = decode_whole(&input).unwrap();
        prop_assert_eq!(&whole.0, &expected);
        prop_assert_eq!(whole.1, body_length);
        prop_assert!(whole.2);
        let pieced = decode_in_pieces(&input, &pieces).unwrap();
        prop_assert_eq!(pieced, whole);
    }

    #[test]
    fn every_prefix_is_incomplete_not_an_error(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..4),
    ) {
        let input = encode(&chunks, true, true);
        for end in 0..input.len() {
            let (_, _, done) = decode_whole(&input[..end]).unwrap();
            prop_assert!(!done, "done after a prefix of {} bytes", end);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        pieces in proptest::collection::vec(1usize..20, 1..8),
    ) {
        let _ = decode_in_pieces(&bytes, &pieces);
    }
}
