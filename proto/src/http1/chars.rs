//! Byte classes of the HTTP grammars (RFC 9110 and RFC 3986), as one 256-entry lookup table.
//!
//! A table lookup is a single load per byte with no branches on the byte's value, which is what
//! the parser's inner loops need; every class lives in one bit so one table serves them all.

/// `tchar` of RFC 9110 section 5.6.2: the bytes of a method, a field name or a token.
const TOKEN: u8 = 1 << 0;
/// Bytes allowed inside a field value: `field-vchar` (VCHAR and obs-text), SP and HTAB.
const FIELD_VALUE: u8 = 1 << 1;
/// Bytes allowed in an origin-form request target: `pchar`, `/`, `?` and `%` (the two digits
/// after a `%` are checked separately).
const TARGET: u8 = 1 << 2;
/// Target bytes that need no second look: [`TARGET`] without `%` (starts a percent-encoding)
/// and `?` (starts the query).
const TARGET_PLAIN: u8 = 1 << 3;

/// Bytes of an authority or Host value; see [`is_authority`].
const AUTHORITY: u8 = 1 << 4;

static CLASSES: [u8; 256] = build_classes();

const fn build_classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut byte = 0usize;
    while byte < 256 {
        let b = byte as u8;
        let mut class = 0u8;
        let alpha = b.is_ascii_alphabetic();
        let digit = b.is_ascii_digit();
        let token_symbol = matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        );
        if alpha || digit || token_symbol {
            class |= TOKEN;
        }
        if b == b'\t' || b == b' ' || (b >= 0x21 && b != 0x7f) {
            class |= FIELD_VALUE;
        }
        let unreserved = alpha || digit || matches!(b, b'-' | b'.' | b'_' | b'~');
        let sub_delim = matches!(
            b,
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
        );
        if unreserved || sub_delim || matches!(b, b':' | b'@' | b'/' | b'?' | b'%') {
            class |= TARGET;
            if b != b'?' && b != b'%' {
                class |= TARGET_PLAIN;
            }
        }
        if unreserved || sub_delim || matches!(b, b':' | b'[' | b']' | b'%') {
            class |= AUTHORITY;
        }
        table[byte] = class;
        byte += 1;
    }
    table
}

/// A byte class in the form the SIMD scanners test sixteen bytes at a time: byte `b` is a
/// member when `high_nibbles[b >> 4] & low_nibbles[b & 0x0f] != 0`. One bit per high nibble
/// from 2 to 7 suffices because the classes that use this hold printable ASCII only; building
/// one that holds anything else fails at compile time.
#[derive(Debug)]
pub(crate) struct ByteClass {
    bit: u8,
    // Read only by the x86_64 kernels; other targets keep the tables for the tests that check
    // them, so the two forms of a class cannot drift apart wherever the code is built.
    #[cfg_attr(
        not(all(target_arch = "x86_64", not(feature = "portable"))),
        allow(dead_code)
    )]
    pub(crate) low_nibbles: [u8; 16],
    #[cfg_attr(
        not(all(target_arch = "x86_64", not(feature = "portable"))),
        allow(dead_code)
    )]
    pub(crate) high_nibbles: [u8; 16],
}

impl ByteClass {
    const fn new(bit: u8) -> ByteClass {
        let mut low_nibbles = [0u8; 16];
        let mut high_nibbles = [0u8; 16];
        let mut byte = 0usize;
        while byte < 256 {
            if CLASSES[byte] & bit != 0 {
                let high = byte >> 4;
                assert!(
                    high >= 2 && high <= 7,
                    "nibble classes hold printable ASCII only"
                );
                high_nibbles[high] = 1 << (high - 2);
                low_nibbles[byte & 0x0f] |= 1 << (high - 2);
            }
            byte += 1;
        }
        // Every high nibble 2..=7 gets its bit, member or not, so the test is exact.
        let mut high = 2;
        while high <= 7 {
            high_nibbles[high] = 1 << (high - 2);
            high += 1;
        }
        ByteClass {
            bit,
            low_nibbles,
            high_nibbles,
        }
    }

    /// The byte-at-a-time test of the same class.
    #[inline(always)]
    pub(crate) fn contains(&self, byte: u8) -> bool {
        CLASSES[byte as usize] & self.bit != 0
    }
}

/// `tchar`, for the SIMD scanners.
pub(crate) static TOKEN_CLASS: ByteClass = ByteClass::new(TOKEN);
/// Target bytes other than `%` and `?`, for the SIMD scanners.
pub(crate) static TARGET_PLAIN_CLASS: ByteClass = ByteClass::new(TARGET_PLAIN);

/// True for a `tchar`.
#[inline(always)]
pub fn is_token(byte: u8) -> bool {
    CLASSES[byte as usize] & TOKEN != 0
}

/// True for a byte that may appear inside a field value (VCHAR, obs-text, SP, HTAB).
#[inline(always)]
pub fn is_field_value(byte: u8) -> bool {
    CLASSES[byte as usize] & FIELD_VALUE != 0
}

/// True for a byte that may appear in an origin-form request target.
#[inline(always)]
pub fn is_target(byte: u8) -> bool {
    CLASSES[byte as usize] & TARGET != 0
}

/// True for a byte of an authority or Host value (`uri-host [":" port]`): reg-name, IPv4,
/// bracketed IP literals, percent-encoding. `@` is left out: RFC 9110 section 4.2.4 forbids
/// userinfo in http URIs.
#[inline(always)]
pub fn is_authority(byte: u8) -> bool {
    CLASSES[byte as usize] & AUTHORITY != 0
}

/// The value of each byte as a hexadecimal digit, or `NOT_HEX`.
static HEX_VALUES: [u8; 256] = build_hex_values();
const NOT_HEX: u8 = 0xff;

const fn build_hex_values() -> [u8; 256] {
    let mut table = [NOT_HEX; 256];
    let mut byte = 0usize;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => NOT_HEX,
        };
        byte += 1;
    }
    table
}

/// The value of a hexadecimal digit, either case: one table load, as chunk sizes and
/// percent-encodings are decoded on every request that has them.
#[inline(always)]
pub fn hex_value(byte: u8) -> Option<u8> {
    match HEX_VALUES[byte as usize] {
        NOT_HEX => None,
        value => Some(value),
    }
}

/// True when every byte of `bytes` has the one-bit `class`. Branch-free over the bytes: the
/// parser finds a delimiter first and then checks the run before it in one pass.
#[inline(always)]
fn all_in_class(bytes: &[u8], class: u8) -> bool {
    bytes
        .iter()
        .fold(class, |all, &byte| all & CLASSES[byte as usize])
        != 0
}

/// True when `bytes` is a non-empty token (`1*tchar`).
#[inline]
pub fn is_token_bytes(bytes: &[u8]) -> bool {
    !bytes.is_empty() && all_in_class(bytes, TOKEN)
}

/// True when every byte may appear in an authority or Host value (possibly none).
#[inline]
pub fn is_authority_bytes(bytes: &[u8]) -> bool {
    all_in_class(bytes, AUTHORITY)
}

/// `1*DIGIT` as a `u64`: `None` when empty, when a byte is not a digit, or on overflow. The one
/// decimal parser of Content-Length, Range and Content-Range.
pub fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &byte| {
        if !byte.is_ascii_digit() {
            return None;
        }
        value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))
    })
}

/// The length, quotes included, of the well-formed `quoted-string` (RFC 9110 section 5.6.4)
/// at the start of `bytes`, which starts with `"`; `None` when it is malformed or unclosed.
/// Shared by the Accept and Authorization parsers.
pub fn quoted_string_len(bytes: &[u8]) -> Option<usize> {
    let mut position = 1;
    while let Some(&byte) = bytes.get(position) {
        match byte {
            b'"' => return Some(position + 1),
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            b'\\' => match bytes.get(position + 1) {
                Some(&escaped) if is_field_value(escaped) => position += 2,
                _ => return None,
            },
            // qdtext: every field-vchar, SP and HTAB except `"` and `\`, handled above.
            _ if is_field_value(byte) => position += 1,
            _ => return None,
        }
    }
    None
}

/// Strips optional whitespace (SP and HTAB, the `OWS` rule) from both ends.
pub fn trim_whitespace(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_class_matches_rfc_9110() {
        let symbols = b"!#$%&'*+-.^_`|~";
        for byte in 0..=255u8 {
            let expected = byte.is_ascii_alphanumeric() || symbols.contains(&byte);
            assert_eq!(is_token(byte), expected, "byte {byte:#04x}");
        }
    }

    #[test]
    fn field_value_class_rejects_controls_only() {
        for byte in 0..=255u8 {
            let expected =
                byte == b'\t' || byte == b' ' || (0x21..=0x7e).contains(&byte) || byte >= 0x80;
            assert_eq!(is_field_value(byte), expected, "byte {byte:#04x}");
        }
    }

    #[test]
    fn target_class_excludes_unsafe_characters() {
        for byte in b" \"#<>[\\]^`{|}\x7f\x00\r\n\x80\xff" {
            assert!(
                !is_target(*byte),
                "byte {byte:#04x} must not be in a target"
            );
        }
        for byte in b"azAZ09-._~!$&'()*+,;=:@/?%" {
            assert!(is_target(*byte), "byte {byte:#04x} belongs in a target");
        }
        for byte in 0..=255u8 {
            let plain = is_target(byte) && byte != b'%' && byte != b'?';
            assert_eq!(TARGET_PLAIN_CLASS.contains(byte), plain, "byte {byte:#04x}");
        }
    }

    #[test]
    fn authority_class_is_reg_name_ip_literal_and_port() {
        for byte in 0..=255u8 {
            let expected = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:[]%".contains(&byte);
            assert_eq!(is_authority(byte), expected, "byte {byte:#04x}");
        }
    }

    #[test]
    fn hex_digits_decode_in_either_case() {
        assert_eq!(hex_value(b'0'), Some(0));
        assert_eq!(hex_value(b'9'), Some(9));
        assert_eq!(hex_value(b'a'), Some(10));
        assert_eq!(hex_value(b'F'), Some(15));
        assert_eq!(hex_value(b'g'), None);
        assert_eq!(hex_value(b' '), None);
        for byte in 0..=255u8 {
            let expected = char::from(byte).to_digit(16).map(|digit| digit as u8);
            assert_eq!(hex_value(byte), expected, "byte {byte:#04x}");
        }
    }

    #[test]
    fn byte_run_tests_agree_with_byte_tests() {
        let samples: [&[u8]; 6] = [b"", b"abc", b"a b", b"a%b", b"/v2/x?y", b"[::1]:80"];
        for bytes in samples {
            assert_eq!(
                is_token_bytes(bytes),
                !bytes.is_empty() && bytes.iter().all(|&b| is_token(b))
            );
            assert_eq!(
                is_authority_bytes(bytes),
                bytes.iter().all(|&b| is_authority(b))
            );
        }
    }

    #[test]
    fn nibble_tables_agree_with_the_byte_table() {
        for class in [&TOKEN_CLASS, &TARGET_PLAIN_CLASS] {
            for byte in 0..=255u8 {
                let by_nibbles = class.high_nibbles[usize::from(byte >> 4)]
                    & class.low_nibbles[usize::from(byte & 0x0f)]
                    != 0;
                assert_eq!(by_nibbles, class.contains(byte), "byte {byte:#04x}");
            }
        }
    }

    #[test]
    fn decimals_parse_within_u64_only() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"0012"), Some(12));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"18446744073709551616",
            b"-1",
            b"+1",
            b"1 ",
            b" 1",
            b"1.0",
            b"0x1",
        ] {
            assert_eq!(
                parse_decimal(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn quoted_strings_end_at_the_first_unescaped_quote() {
        assert_eq!(quoted_string_len(b"\"\""), Some(2));
        assert_eq!(quoted_string_len(b"\"a,b\";q=1"), Some(5));
        assert_eq!(quoted_string_len(b"\"a\\\"b\" rest"), Some(6));
        assert_eq!(quoted_string_len(b"\"tab\there\xe9\""), Some(11));
        for bad in [
            &b"\""[..],
            b"\"open",
            b"\"a\\",
            b"\"a\x00\"",
            b"\"a\\\x7f\"",
        ] {
            assert_eq!(
                quoted_string_len(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn whitespace_is_trimmed_from_both_ends() {
        assert_eq!(trim_whitespace(b" \tabc d\t "), b"abc d");
        assert_eq!(trim_whitespace(b"   "), b"");
        assert_eq!(trim_whitespace(b""), b"");
    }
}
