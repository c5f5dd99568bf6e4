//! Query strings (the part of the target after `?`) and percent-decoding of paths, without
//! allocating: pairs borrow from the target and decoding writes into a caller's scratch buffer.
//!
//! Decoding follows `application/x-www-form-urlencoded` the way Go's `net/url` reads a query
//! (`url.ParseQuery`), because zot is written in Go and registry clients were tested against it:
//! `+` is a space, `%XX` in either case is a byte, and a `%` without two hexadecimal digits
//! after it is an error. Unlike Go, decoded text must be UTF-8, since it becomes a `&str`.

use core::fmt;

use crate::http1::chars;

/// Why a query component or path cannot be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    /// A `%` not followed by two hexadecimal digits.
    PercentEncoding,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
    /// The decoded text is longer than the scratch buffer (which the server sizes with
    /// `limits::QUERY_VALUE_BYTES_MAX`).
    TooLong,
}

impl fmt::Display for QueryError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            QueryError::PercentEncoding => "'%' is not followed by two hexadecimal digits",
            QueryError::NotUtf8 => "percent-decoded text is not UTF-8",
            QueryError::TooLong => "percent-decoded text is longer than allowed",
        })
    }
}

impl std::error::Error for QueryError {}

/// One key or value of a query, as it stands in the target (still encoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryComponent<'a> {
    raw: &'a str,
}

impl<'a> QueryComponent<'a> {
    /// Wraps encoded text.
    pub fn new(raw: &'a str) -> QueryComponent<'a> {
        QueryComponent { raw }
    }

    /// The text as it stands in the target.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// True when decoding would not change the text (no `%` and no `+`).
    pub fn is_plain(&self) -> bool {
        !self.raw.bytes().any(|byte| byte == b'%' || byte == b'+')
    }

    /// True when the decoded text equals `expected`. Needs no buffer; an encoding error
    /// compares unequal.
    pub fn eq_decoded(&self, expected: &str) -> bool {
        let mut expected_bytes = expected.bytes();
        for decoded in DecodedBytes::new(self.raw.as_bytes(), PlusMeans::Space) {
            match decoded {
                Ok(byte) if expected_bytes.next() == Some(byte) => {}
                _ => return false,
            }
        }
        expected_bytes.next().is_none()
    }

    /// The decoded text: the raw text itself when it is plain, otherwise decoded into
    /// `scratch`. Text longer than `scratch` is refused either way, so that the limit does not
    /// depend on how the client chose to encode.
    pub fn decode<'b>(&self, scratch: &'b mut [u8]) -> Result<&'b str, QueryError>
    where
        'a: 'b,
    {
        decode_with(self.raw, PlusMeans::Space, scratch)
    }
}

/// The `&`-separated pairs of a query, in order, each as (key, value).
///
/// Like Go's `url.ParseQuery`: a pair without `=` has an empty value, empty pairs (`&&`) are
/// skipped, a repeated key is yielded every time, and a pair holding a `;` is skipped (Go 1.17
/// stopped treating `;` as a separator and drops such pairs rather than guess).
#[derive(Clone, Debug)]
pub struct QueryPairs<'a> {
    remaining: &'a str,
}

impl<'a> QueryPairs<'a> {
    /// The pairs of `query`, the text after `?` (without the `?`).
    pub fn new(query: &'a str) -> QueryPairs<'a> {
        QueryPairs { remaining: query }
    }
}

impl<'a> Iterator for QueryPairs<'a> {
    type Item = (QueryComponent<'a>, QueryComponent<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        // Every round consumes at least one byte or ends, so this is bounded by the query.
        while !self.remaining.is_empty() {
            let (pair, rest) = self
                .remaining
                .split_once('&')
                .unwrap_or((self.remaining, ""));
            self.remaining = rest;
            if pair.is_empty() || pair.contains(';') {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            return Some((QueryComponent::new(key), QueryComponent::new(value)));
        }
        None
    }
}

/// The value of the first pair whose decoded key is `key`, like Go's `url.Values.Get`.
pub fn find_first<'a>(query: &'a str, key: &str) -> Option<QueryComponent<'a>> {
    QueryPairs::new(query)
        .find(|(candidate, _)| candidate.eq_decoded(key))
        .map(|(_, value)| value)
}

/// Percent-decodes a path (where `+` stays `+`): the raw path itself when it has no `%`,
/// otherwise decoded into `scratch`. A path longer than `scratch` once decoded is refused.
///
/// `%2F` decodes to `/`, so a router that must tell `a%2Fb` from `a/b` matches on the raw path.
pub fn percent_decode_path<'b>(
    raw_path: &'b str,
    scratch: &'b mut [u8],
) -> Result<&'b str, QueryError> {
    decode_with(raw_path, PlusMeans::Plus, scratch)
}

/// What a `+` decodes to: a space in form-encoded queries, itself in paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PlusMeans {
    Space,
    Plus,
}

/// The decoded text of `raw`, borrowed when nothing needs decoding, else written to `scratch`.
fn decode_with<'b>(
    raw: &'b str,
    plus: PlusMeans,
    scratch: &'b mut [u8],
) -> Result<&'b str, QueryError> {
    let needs_decoding = raw
        .bytes()
        .any(|byte| byte == b'%' || (byte == b'+' && plus == PlusMeans::Space));
    if !needs_decoding {
        if raw.len() > scratch.len() {
            return Err(QueryError::TooLong);
        }
        return Ok(raw);
    }
    let mut len = 0;
    for decoded in DecodedBytes::new(raw.as_bytes(), plus) {
        let slot = scratch.get_mut(len).ok_or(QueryError::TooLong)?;
        *slot = decoded?;
        len += 1;
    }
    core::str::from_utf8(&scratch[..len]).map_err(|_| QueryError::NotUtf8)
}

/// The decoded bytes of encoded text, one at a time, ending after the first error.
#[derive(Clone, Debug)]
struct DecodedBytes<'a> {
    raw: &'a [u8],
    position: usize,
    plus: PlusMeans,
}

impl<'a> DecodedBytes<'a> {
    fn new(raw: &'a [u8], plus: PlusMeans) -> DecodedBytes<'a> {
        DecodedBytes {
            raw,
            position: 0,
            plus,
        }
    }
}

impl Iterator for DecodedBytes<'_> {
    type Item = Result<u8, QueryError>;

    fn next(&mut self) -> Option<Self::Item> {
        let byte = *self.raw.get(self.position)?;
        match byte {
            b'%' => {
                let high = self
                    .raw
                    .get(self.position + 1)
                    .copied()
                    .and_then(chars::hex_value);
                let low = self
                    .raw
                    .get(self.position + 2)
                    .copied()
                    .and_then(chars::hex_value);
                let (Some(high), Some(low)) = (high, low) else {
                    // Stop here: there is no sensible byte to resume from.
                    self.position = self.raw.len();
                    return Some(Err(QueryError::PercentEncoding));
                };
                self.position += 3;
                Some(Ok(high << 4 | low))
            }
            b'+' if self.plus == PlusMeans::Space => {
                self.position += 1;
                Some(Ok(b' '))
            }
            _ => {
                self.position += 1;
                Some(Ok(byte))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::limits::QUERY_VALUE_BYTES_MAX;

    fn pairs(query: &str) -> Vec<(&str, &str)> {
        QueryPairs::new(query)
            .map(|(key, value)| (key.raw(), value.raw()))
            .collect()
    }

    #[test]
    fn pairs_follow_go_parse_query() {
        let cases: [(&str, &[(&str, &str)]); 12] = [
            ("", &[]),
            ("a=1", &[("a", "1")]),
            ("a=1&b=2", &[("a", "1"), ("b", "2")]),
            ("a", &[("a", "")]),
            ("a=", &[("a", "")]),
            ("=1", &[("", "1")]),
            ("a=1=2", &[("a", "1=2")]),
            ("&&a=1&&&b=2&", &[("a", "1"), ("b", "2")]),
            ("&", &[]),
            (
                "tag=a&tag=b&tag=c",
                &[("tag", "a"), ("tag", "b"), ("tag", "c")],
            ),
            ("a=1;b=2&c=3", &[("c", "3")]),
            ("n=10&last=x%2By", &[("n", "10"), ("last", "x%2By")]),
        ];
        for (query, expected) in cases {
            assert_eq!(pairs(query), expected, "{query:?}");
        }
    }

    #[test]
    fn plain_components_are_recognised() {
        assert!(QueryComponent::new("abc-._~").is_plain());
        assert!(QueryComponent::new("").is_plain());
        assert!(!QueryComponent::new("a+b").is_plain());
        assert!(!QueryComponent::new("a%20b").is_plain());
    }

    #[test]
    fn components_decode_as_form_encoding() {
        let cases = [
            ("", ""),
            ("plain", "plain"),
            ("a+b", "a b"),
            ("a%20b", "a b"),
            ("%2b", "+"),
            ("%2B", "+"),
            ("%2f%2F", "//"),
            (
                "application%2Fvnd.oci.image.manifest.v1%2Bjson",
                "application/vnd.oci.image.manifest.v1+json",
            ),
            ("%C3%A9t%c3%a9", "été"),
            ("%25", "%"),
            ("%00", "\0"),
            ("été", "été"),
        ];
        for (raw, expected) in cases {
            let mut scratch = [0u8; QUERY_VALUE_BYTES_MAX];
            let component = QueryComponent::new(raw);
            assert_eq!(component.decode(&mut scratch), Ok(expected), "{raw:?}");
            assert!(component.eq_decoded(expected), "{raw:?}");
        }
    }

    #[test]
    fn plain_components_are_borrowed_not_copied() {
        let raw = String::from("library/alpine");
        let mut scratch = [0u8; QUERY_VALUE_BYTES_MAX];
        let decoded = QueryComponent::new(&raw).decode(&mut scratch).unwrap();
        assert_eq!(decoded.as_ptr(), raw.as_ptr());
        assert_eq!(scratch[0], 0);
    }

    #[test]
    fn decoding_errors() {
        let cases = [
            ("%", QueryError::PercentEncoding),
            ("%2", QueryError::PercentEncoding),
            ("a%2", QueryError::PercentEncoding),
            ("%zz", QueryError::PercentEncoding),
            ("%2g", QueryError::PercentEncoding),
            ("%g2", QueryError::PercentEncoding),
            ("%%32", QueryError::PercentEncoding),
            ("%ff", QueryError::NotUtf8),
            ("%C3", QueryError::NotUtf8),
            ("%C3+", QueryError::NotUtf8),
            ("%ED%A0%80", QueryError::NotUtf8),
        ];
        for (raw, error) in cases {
            let mut scratch = [0u8; QUERY_VALUE_BYTES_MAX];
            let component = QueryComponent::new(raw);
            assert_eq!(component.decode(&mut scratch), Err(error), "{raw:?}");
        }
    }

    #[test]
    fn decoded_text_longer_than_scratch_is_refused() {
        let mut scratch = [0u8; 3];
        assert_eq!(QueryComponent::new("abc").decode(&mut scratch), Ok("abc"));
        assert_eq!(QueryComponent::new("a+c").decode(&mut scratch), Ok("a c"));
        assert_eq!(
            QueryComponent::new("%41%42%43").decode(&mut scratch),
            Ok("ABC")
        );
        assert_eq!(
            QueryComponent::new("abcd").decode(&mut scratch),
            Err(QueryError::TooLong)
        );
        assert_eq!(
            QueryComponent::new("a+cd").decode(&mut scratch),
            Err(QueryError::TooLong)
        );
        assert_eq!(
            QueryComponent::new("%41%42%43%44").decode(&mut scratch),
            Err(QueryError::TooLong)
        );
        let long = "a".repeat(QUERY_VALUE_BYTES_MAX + 1);
        let mut scratch = [0u8; QUERY_VALUE_BYTES_MAX];
        assert_eq!(
            QueryComponent::new(&long).decode(&mut scratch),
            Err(QueryError::TooLong)
        );
    }

    #[test]
    fn decoded_comparison() {
        assert!(QueryComponent::new("a+b").eq_decoded("a b"));
        assert!(QueryComponent::new("%61").eq_decoded("a"));
        assert!(!QueryComponent::new("a+b").eq_decoded("a+b"));
        assert!(!QueryComponent::new("ab").eq_decoded("abc"));
        assert!(!QueryComponent::new("abc").eq_decoded("ab"));
        assert!(!QueryComponent::new("%6").eq_decoded("%6"));
        assert!(!QueryComponent::new("a%zz").eq_decoded("a"));
        assert!(QueryComponent::new("").eq_decoded(""));
        assert!(!QueryComponent::new("").eq_decoded("a"));
    }

    #[test]
    fn find_first_compares_decoded_keys() {
        let query = "n=10&last=abc&tag=x&tag=y&%6Eext=1&a+b=2";
        assert_eq!(find_first(query, "n").map(|value| value.raw()), Some("10"));
        assert_eq!(find_first(query, "tag").map(|value| value.raw()), Some("x"));
        assert_eq!(
            find_first(query, "next").map(|value| value.raw()),
            Some("1")
        );
        assert_eq!(find_first(query, "a b").map(|value| value.raw()), Some("2"));
        assert_eq!(find_first(query, "missing"), None);
        assert_eq!(find_first("", "n"), None);
        assert_eq!(
            find_first("digest", "digest").map(|value| value.raw()),
            Some("")
        );
    }

    #[test]
    fn paths_decode_without_touching_plus() {
        let cases = [
            (
                "/v2/library/alpine/manifests/latest",
                Ok("/v2/library/alpine/manifests/latest"),
            ),
            ("/v2/a+b", Ok("/v2/a+b")),
            ("/v2/a%2Bb", Ok("/v2/a+b")),
            ("/v2/a%2fb", Ok("/v2/a/b")),
            ("/v2/a%20b", Ok("/v2/a b")),
            ("/v2/%", Err(QueryError::PercentEncoding)),
            ("/v2/%4", Err(QueryError::PercentEncoding)),
            ("/v2/%x1", Err(QueryError::PercentEncoding)),
            ("/v2/%80", Err(QueryError::NotUtf8)),
        ];
        for (raw, expected) in cases {
            let mut scratch = [0u8; 64];
            assert_eq!(percent_decode_path(raw, &mut scratch), expected, "{raw:?}");
        }
        let mut small = [0u8; 4];
        assert_eq!(
            percent_decode_path("/abcd", &mut small),
            Err(QueryError::TooLong)
        );
        assert_eq!(
            percent_decode_path("/%61bcd", &mut small),
            Err(QueryError::TooLong)
        );
        assert_eq!(percent_decode_path("/%61b", &mut small), Ok("/ab"));
    }

    #[test]
    fn paths_without_percent_are_borrowed() {
        let raw = String::from("/v2/a+b/tags/list");
        let mut scratch = [0u8; 64];
        let decoded = percent_decode_path(&raw, &mut scratch).unwrap();
        assert_eq!(decoded.as_ptr(), raw.as_ptr());
    }

    #[test]
    fn errors_display() {
        assert!(QueryError::PercentEncoding.to_string().contains('%'));
        assert!(QueryError::NotUtf8.to_string().contains("UTF-8"));
        assert!(QueryError::TooLong.to_string().contains("longer"));
    }

    /// Encodes like a form, picking per byte among the encodings a client may use.
    fn encode(bytes: &[u8], choices: &[u8]) -> String {
        let mut encoded = String::new();
        for (index, &byte) in bytes.iter().enumerate() {
            let choice = choices.get(index).copied().unwrap_or(0) % 3;
            match byte {
                b' ' if choice == 0 => encoded.push('+'),
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~'
                    if choice != 2 =>
                {
                    encoded.push(byte as char)
                }
                _ if choice == 1 => encoded.push_str(&format!("%{byte:02x}")),
                _ => encoded.push_str(&format!("%{byte:02X}")),
            }
        }
        encoded
    }

    proptest! {
        #[test]
        fn encoding_then_decoding_is_identity(
            text in "\\PC{0,64}",
            choices in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let encoded = encode(text.as_bytes(), &choices);
            let component = QueryComponent::new(&encoded);
            let mut scratch = [0u8; QUERY_VALUE_BYTES_MAX];
            let decoded = component.decode(&mut scratch);
            prop_assert_eq!(decoded, Ok(text.as_str()));
            prop_assert!(component.eq_decoded(&text));
            let query = format!("x=1&key={encoded}&key=2");
            prop_assert_eq!(find_first(&query, "key").map(|value| value.raw()), Some(encoded.as_str()));
        }

        #[test]
        fn encoded_bytes_decode_to_themselves_or_not_utf8(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let encoded = encode(&bytes, &[1; 64]);
            let mut scratch = [0u8; QUERY_VALUE_BYTES_MAX];
            match core::str::from_utf8(&bytes) {
                Ok(text) => prop_assert_eq!(QueryComponent::new(&encoded).decode(&mut scratch), Ok(text)),
                Err(_) => prop_assert_eq!(
                    QueryComponent::new(&encoded).decode(&mut scratch),
                    Err(QueryError::NotUtf8)
                ),
            }
        }

        #[test]
        fn decoding_never_grows_and_agrees_with_comparison(raw in "[a-c%+0-9A-F\u{e9}]{0,32}") {
            let component = QueryComponent::new(&raw);
            let mut scratch = [0u8; QUERY_VALUE_BYTES_MAX];
            match component.decode(&mut scratch) {
                Ok(decoded) => {
                    prop_assert!(decoded.len() <= raw.len());
                    let decoded = decoded.to_owned();
                    prop_assert!(component.eq_decoded(&decoded));
                    prop_assert_eq!(component.is_plain(), decoded == raw);
                }
                Err(_) => prop_assert!(!component.is_plain()),
            }
        }

        #[test]
        fn pairs_match_a_split_model(pairs in proptest::collection::vec("[a-z%+=;]{0,5}", 0..8)) {
            let query = pairs.join("&");
            let expected: Vec<(&str, &str)> = pairs
                .iter()
                .filter(|pair| !pair.is_empty() && !pair.contains(';'))
                .map(|pair| pair.split_once('=').unwrap_or((pair.as_str(), "")))
                .collect();
            let found: Vec<(&str, &str)> =
                QueryPairs::new(&query).map(|(key, value)| (key.raw(), value.raw())).collect();
            prop_assert_eq!(found, expected);
        }
    }
}
