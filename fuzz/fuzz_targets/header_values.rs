//! Fuzz target: the header-value code of `proto::http1` (query strings and paths, Range,
//! Content-Range, Authorization, Accept, dates, response heads). The first byte picks the code
//! under test, the rest is its input; each arm asserts what the parser promises.
#![no_main]

use proto::http1::range::ByteRange;
use proto::http1::{accept, authorization, content_range, date, query, range, response};
use proto::limits;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 8 {
        0 => query_pairs(input),
        1 => path(input),
        2 => range_set(input),
        3 => upload_range(input),
        4 => credentials(input),
        5 => accept_list(input),
        6 => imf_fixdate(input),
        _ => response_head(input),
    }
});

/// The first eight bytes as a number (zero-padded), and the rest.
fn split_number(input: &[u8]) -> (u64, &[u8]) {
    let (head, rest) = input.split_at(input.len().min(8));
    let mut bytes = [0u8; 8];
    bytes[..head.len()].copy_from_slice(head);
    (u64::from_le_bytes(bytes), rest)
}

fn query_pairs(input: &[u8]) {
    let Ok(query) = core::str::from_utf8(input) else {
        return;
    };
    for (key, value) in query::QueryPairs::new(query) {
        assert!(!key.raw().contains('&') && !value.raw().contains('&'));
        assert!(!key.raw().contains('='));
        assert!(!key.raw().contains(';') && !value.raw().contains(';'));
        for component in [key, value] {
            let mut scratch = [0u8; limits::QUERY_VALUE_BYTES_MAX];
            let raw = component.raw();
            if let Ok(decoded) = component.decode(&mut scratch) {
                assert!(decoded.len() <= raw.len());
                assert!(decoded.len() <= limits::QUERY_VALUE_BYTES_MAX);
                assert_eq!(component.is_plain(), decoded == raw);
                assert!(component.eq_decoded(decoded));
            }
        }
        let mut scratch = [0u8; limits::QUERY_VALUE_BYTES_MAX];
        if let Ok(decoded_key) = key.decode(&mut scratch) {
            let first = query::find_first(query, decoded_key);
            assert!(first.is_some(), "a decoded key must find a pair");
        }
    }
}

fn path(input: &[u8]) {
    let Ok(raw_path) = core::str::from_utf8(input) else {
        return;
    };
    let mut scratch = [0u8; limits::REQUEST_LINE_BYTES_MAX];
    if let Ok(decoded) = query::percent_decode_path(raw_path, &mut scratch) {
        assert!(decoded.len() <= raw_path.len());
        if !raw_path.contains('%') {
            assert_eq!(decoded, raw_path);
        }
    }
}

fn range_set(input: &[u8]) {
    let (size, value) = split_number(input);
    // Small sizes reach the clipping and unsatisfiable paths more often.
    let size = if size & 1 == 0 {
        size >> 1
    } else {
        (size >> 1) % 4096
    };
    let Ok(set) = range::parse_range(value, size) else {
        return;
    };
    assert!(!set.is_empty() && set.len() <= limits::RANGE_COUNT_MAX);
    for range in set.iter() {
        assert!(range.start <= range.end_inclusive);
        assert!(range.end_inclusive < size);
    }
    let coalesced = set.coalesced();
    assert!(!coalesced.is_empty() && coalesced.len() <= set.len());
    for pair in coalesced.as_slice().windows(2) {
        assert!(pair[0].end_inclusive.saturating_add(1) < pair[1].start);
    }
    assert!(coalesced.total_bytes() <= size);
    for range in set.iter() {
        assert!(coalesced.iter().any(|merged| {
            merged.start <= range.start && range.end_inclusive <= merged.end_inclusive
        }));
    }
}

fn upload_range(input: &[u8]) {
    let Ok(range) = content_range::parse_upload_range(input) else {
        return;
    };
    assert!(range.start <= range.end_inclusive);
    assert!(range.end_inclusive < u64::MAX);
    assert_eq!(range.len(), range.end_exclusive() - range.start);
    // What this crate writes must parse back to the same range.
    let mut out = [0u8; content_range::CONTENT_RANGE_BYTES_MAX];
    let byte_range = ByteRange {
        start: range.start,
        end_inclusive: range.end_inclusive,
    };
    let len = content_range::write_content_range(byte_range, range.end_exclusive(), &mut out);
    assert_eq!(content_range::parse_upload_range(&out[..len]), Ok(range));
    let mut progress = [0u8; content_range::UPLOAD_RANGE_BYTES_MAX];
    let len = content_range::write_upload_range(range.end_exclusive(), &mut progress);
    let parsed = content_range::parse_upload_range(&progress[..len]).expect("progress parses");
    assert_eq!(
        (parsed.start, parsed.end_exclusive()),
        (0, range.end_exclusive())
    );
}

fn credentials(input: &[u8]) {
    let Ok(credentials) = authorization::parse_credentials(input) else {
        return;
    };
    assert!(proto::http1::chars::is_token_bytes(
        credentials.scheme.as_bytes()
    ));
    assert!(credentials.is_scheme(&credentials.scheme.to_ascii_lowercase()));
    match credentials.form {
        authorization::CredentialsForm::None => assert!(credentials.token.is_empty()),
        authorization::CredentialsForm::Token68 => {
            let body = credentials.token.iter().position(|&byte| byte == b'=');
            let body = &credentials.token[..body.unwrap_or(credentials.token.len())];
            assert!(!body.is_empty());
            assert!(
                body.iter()
                    .all(|&byte| { byte.is_ascii_alphanumeric() || b"-._~+/".contains(&byte) })
            );
            assert_eq!(credentials.params().count(), 0);
        }
        _ => {
            for param in credentials.params() {
                let param = param.expect("a validated auth-param list parses");
                assert!(proto::http1::chars::is_token_bytes(param.name.as_bytes()));
                assert!(!param.value.is_empty());
            }
        }
    }
}

fn accept_list(input: &[u8]) {
    let mut entry_count = 0usize;
    for entry in accept::AcceptEntries::new(input) {
        entry_count += 1;
        assert!(entry_count <= input.len(), "every entry consumes input");
        let Ok(range) = entry else {
            continue;
        };
        assert!(range.quality_per_mille <= 1000);
        assert!(range.media_type.len() <= limits::MEDIA_TYPE_BYTES_MAX);
        let (range_type, subtype) = range.media_type.split_once('/').expect("a slash");
        assert!(proto::http1::chars::is_token_bytes(range_type.as_bytes()));
        assert!(proto::http1::chars::is_token_bytes(subtype.as_bytes()));
        assert!(range.covers(range.media_type));
        assert!(accept::quality(input, range.media_type).is_some());
    }
    assert_eq!(
        accept::accepts(input, "application/vnd.oci.image.manifest.v1+json"),
        accept::accepts_any_header([input], "application/vnd.oci.image.manifest.v1+json")
    );
}

fn imf_fixdate(input: &[u8]) {
    let (seconds, _) = split_number(input);
    let text = date::format_imf_fixdate(seconds);
    assert_eq!(text.len(), date::IMF_FIXDATE_BYTES);
    assert!(text.is_ascii());
    assert_eq!(&text[3..5], b", ");
    assert!(text.ends_with(b" GMT"));
    let mut cache = date::DateCache::new();
    assert_eq!(cache.get(seconds), &text);
    assert_eq!(cache.get(seconds), &text);
}

fn response_head(input: &[u8]) {
    let (number, rest) = split_number(input);
    let status = 100 + (number % 900) as u16;
    let capacity = ((number >> 16) % 512) as usize;
    // Values from the server are checked before they reach the writer; do the same here.
    let value: Vec<u8> = rest
        .iter()
        .copied()
        .filter(|&byte| !matches!(byte, b'\r' | b'\n' | 0))
        .collect();
    let mut buffer = vec![0u8; capacity];
    let mut writer = response::HeadWriter::new(&mut buffer, status);
    writer
        .header("X-Fuzz", &value)
        .content_length(number)
        .connection_close();
    let written = writer.len();
    if let Ok(len) = writer.finish() {
        assert!(len <= capacity);
        assert_eq!(len, written + 2);
        assert!(buffer[..len].starts_with(b"HTTP/1.1 "));
        assert!(buffer[..len].ends_with(b"\r\n\r\n"));
    }
}
