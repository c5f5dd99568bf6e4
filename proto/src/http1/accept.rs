//! The `Accept` request header (RFC 9110 section 12.5.1): its media ranges with their weights,
//! and whether a given media type is acceptable.
//!
//! ```text
//! Accept      = #( media-range [ weight ] )
//! media-range = ( "*/*" / ( type "/" "*" ) / ( type "/" subtype ) ) parameters
//! parameters  = *( OWS ";" OWS [ parameter ] )
//! parameter   = parameter-name "=" ( token / quoted-string )
//! weight      = OWS ";" OWS "q=" qvalue
//! qvalue      = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
//! ```
//!
//! An entry that breaks the grammar is skipped and the rest of the list still counts, since a
//! registry would rather serve a manifest than refuse a client over one odd entry. Parameters
//! other than `q` are skipped (a quoted value may hold commas; it does not split the list), and
//! whitespace around `=` is tolerated although the grammar has none.

use core::fmt;

use crate::http1::chars;
use crate::limits::MEDIA_TYPE_BYTES_MAX;

/// The weight of an entry without `q`: 1, in thousandths.
const QUALITY_PER_MILLE_MAX: u16 = 1000;

/// Why one entry of an `Accept` list is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcceptError {
    /// Not `type/subtype`, `type/*` or `*/*`.
    MediaRange,
    /// The media range is longer than `limits::MEDIA_TYPE_BYTES_MAX`.
    TooLong,
    /// A parameter that is not `name=value`, an unterminated quoted-string, or stray bytes.
    Parameter,
    /// A `q` that is not a qvalue (0 to 1 with at most three decimals), or a second `q`.
    Quality,
}

impl fmt::Display for AcceptError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            AcceptError::MediaRange => "Accept entry is not a media range",
            AcceptError::TooLong => "Accept entry has a media range longer than allowed",
            AcceptError::Parameter => "Accept entry has a malformed parameter",
            AcceptError::Quality => "Accept entry has an invalid q weight",
        })
    }
}

impl std::error::Error for AcceptError {}

/// One media range of an `Accept` list, with its weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaRange<'a> {
    /// `type/subtype`, `type/*` or `*/*`, as sent (compare case-insensitively).
    pub media_type: &'a str,
    /// The `q` weight in thousandths: 1000 without `q`, 0 for "not acceptable".
    pub quality_per_mille: u16,
}

/// How closely a media range names a type; a more specific range overrides a less specific one
/// (RFC 9110 section 12.5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Specificity {
    /// `*/*`.
    Any,
    /// `type/*`.
    Subtypes,
    /// `type/subtype`.
    Exact,
}

impl MediaRange<'_> {
    /// True when this range covers `media_type` (a bare `type/subtype`), whatever its weight.
    pub fn covers(&self, media_type: &str) -> bool {
        self.specificity_for(media_type).is_some()
    }

    fn specificity_for(&self, media_type: &str) -> Option<Specificity> {
        if self.media_type == "*/*" {
            return Some(Specificity::Any);
        }
        match self.media_type.split_once('/') {
            Some((range_type, "*")) => {
                let (candidate_type, _) = media_type.split_once('/')?;
                candidate_type
                    .eq_ignore_ascii_case(range_type)
                    .then_some(Specificity::Subtypes)
            }
            _ => self
                .media_type
                .eq_ignore_ascii_case(media_type)
                .then_some(Specificity::Exact),
        }
    }
}

/// Every entry of an `Accept` value, in order, each parsed or with the reason it is skipped.
/// Empty list elements are not entries.
#[derive(Clone, Debug)]
pub struct AcceptEntries<'a> {
    value: &'a [u8],
    position: usize,
}

impl<'a> AcceptEntries<'a> {
    /// The entries of one `Accept` field value.
    pub fn new(value: &'a [u8]) -> AcceptEntries<'a> {
        AcceptEntries { value, position: 0 }
    }

    fn byte(&self) -> Option<u8> {
        self.value.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\t')) {
            self.position += 1;
        }
    }

    /// Advances over `1*tchar` and returns it (empty when there is none).
    fn token(&mut self) -> &'a [u8] {
        let start = self.position;
        while self.byte().is_some_and(chars::is_token) {
            self.position += 1;
        }
        &self.value[start..self.position]
    }

    /// Parses one entry starting at a byte that is neither OWS nor a comma. On error, the
    /// position is left outside any quoted-string so that [`Self::skip_rest_of_entry`] can
    /// resume from it.
    fn parse_entry(&mut self) -> Result<MediaRange<'a>, AcceptError> {
        let start = self.position;
        let range_type = self.token();
        if range_type.is_empty() || self.byte() != Some(b'/') {
            return Err(AcceptError::MediaRange);
        }
        self.position += 1;
        let range_subtype = self.token();
        if range_subtype.is_empty() || (range_type == b"*" && range_subtype != b"*") {
            return Err(AcceptError::MediaRange);
        }
        if self.position - start > MEDIA_TYPE_BYTES_MAX {
            return Err(AcceptError::TooLong);
        }
        let media_type = core::str::from_utf8(&self.value[start..self.position])
            .map_err(|_| AcceptError::MediaRange)?;
        let quality_per_mille = self.parse_parameters()?;
        Ok(MediaRange {
            media_type,
            quality_per_mille,
        })
    }

    /// Reads `*( OWS ";" OWS [ parameter ] )` up to the end of the entry and returns the weight.
    fn parse_parameters(&mut self) -> Result<u16, AcceptError> {
        let mut quality = None;
        loop {
            self.skip_whitespace();
            match self.byte() {
                None | Some(b',') => return Ok(quality.unwrap_or(QUALITY_PER_MILLE_MAX)),
                Some(b';') => self.position += 1,
                Some(_) => return Err(AcceptError::Parameter),
            }
            self.skip_whitespace();
            if matches!(self.byte(), None | Some(b',' | b';')) {
                continue;
            }
            let name = self.token();
            self.skip_whitespace();
            if name.is_empty() || self.byte() != Some(b'=') {
                return Err(AcceptError::Parameter);
            }
            self.position += 1;
            self.skip_whitespace();
            if name.eq_ignore_ascii_case(b"q") {
                let weight = parse_quality(self.token()).ok_or(AcceptError::Quality)?;
                if quality.replace(weight).is_some() {
                    return Err(AcceptError::Quality);
                }
            } else {
                self.skip_parameter_value()?;
            }
        }
    }

    /// Advances over a token or a quoted-string.
    fn skip_parameter_value(&mut self) -> Result<(), AcceptError> {
        if self.byte() != Some(b'"') {
            return if self.token().is_empty() {
                Err(AcceptError::Parameter)
            } else {
                Ok(())
            };
        }
        let opening = self.position;
        let length =
            chars::quoted_string_len(&self.value[opening..]).ok_or(AcceptError::Parameter)?;
        self.position = opening + length;
        Ok(())
    }

    /// Moves to the comma that ends the current entry (or the end), stepping over
    /// quoted-strings whole so that a comma inside one does not end the entry.
    fn skip_rest_of_entry(&mut self) {
        while let Some(byte) = self.byte() {
            match byte {
                b',' => return,
                b'"' => {
                    let rest = &self.value[self.position..];
                    self.position += quoted_string_extent(rest);
                }
                _ => self.position += 1,
            }
        }
    }
}

impl<'a> Iterator for AcceptEntries<'a> {
    type Item = Result<MediaRange<'a>, AcceptError>;

    fn next(&mut self) -> Option<Self::Item> {
        while matches!(self.byte(), Some(b' ' | b'\t' | b',')) {
            self.position += 1;
        }
        self.byte()?;
        let entry = self.parse_entry();
        if entry.is_err() {
            self.skip_rest_of_entry();
        }
        Some(entry)
    }
}

/// The valid media ranges of an `Accept` value, in order; malformed entries are skipped.
#[derive(Clone, Debug)]
pub struct AcceptList<'a> {
    entries: AcceptEntries<'a>,
}

impl<'a> AcceptList<'a> {
    /// The media ranges of one `Accept` field value.
    pub fn new(value: &'a [u8]) -> AcceptList<'a> {
        AcceptList {
            entries: AcceptEntries::new(value),
        }
    }
}

impl<'a> Iterator for AcceptList<'a> {
    type Item = MediaRange<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        self.entries.by_ref().find_map(Result::ok)
    }
}

/// The weight `media_type` (a bare `type/subtype`) gets from a list made of all `values` (each
/// an `Accept` field line; several lines form one list, RFC 9110 section 5.3), in thousandths.
/// The most specific covering range decides, and among equally specific ones the highest
/// weight; `None` when no range covers the type.
pub fn quality_in_headers<'v>(
    values: impl IntoIterator<Item = &'v [u8]>,
    media_type: &str,
) -> Option<u16> {
    let mut best: Option<(Specificity, u16)> = None;
    for value in values {
        for range in AcceptList::new(value) {
            let Some(specificity) = range.specificity_for(media_type) else {
                continue;
            };
            best = match best {
                Some((best_specificity, _)) if best_specificity > specificity => best,
                Some((best_specificity, quality)) if best_specificity == specificity => {
                    Some((specificity, quality.max(range.quality_per_mille)))
                }
                _ => Some((specificity, range.quality_per_mille)),
            };
        }
    }
    best.map(|(_, quality)| quality)
}

/// The weight of `media_type` in one `Accept` value; see [`quality_in_headers`].
pub fn quality(value: &[u8], media_type: &str) -> Option<u16> {
    quality_in_headers([value], media_type)
}

/// True when one `Accept` value makes `media_type` acceptable (covered, with a weight above 0).
/// An absent `Accept` field accepts everything; telling absence apart is the caller's part.
pub fn accepts(value: &[u8], media_type: &str) -> bool {
    quality(value, media_type).is_some_and(|quality| quality > 0)
}

/// True when the `Accept` lines `values`, taken as one list, make `media_type` acceptable.
/// No lines at all gives false: the caller, which knows the field is absent, accepts then.
pub fn accepts_any_header<'v>(
    values: impl IntoIterator<Item = &'v [u8]>,
    media_type: &str,
) -> bool {
    quality_in_headers(values, media_type).is_some_and(|quality| quality > 0)
}

/// A qvalue in thousandths.
fn parse_quality(text: &[u8]) -> Option<u16> {
    let (integer, fraction) = match text {
        [integer] => (*integer, &[][..]),
        [integer, b'.', fraction @ ..] => (*integer, fraction),
        _ => return None,
    };
    if fraction.len() > 3 || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    match integer {
        b'0' => Some(
            fraction
                .iter()
                .zip([100, 10, 1])
                .map(|(&digit, scale)| u16::from(digit - b'0') * scale)
                .sum(),
        ),
        b'1' if fraction.iter().all(|&digit| digit == b'0') => Some(QUALITY_PER_MILLE_MAX),
        _ => None,
    }
}

/// How far a possibly malformed quoted-string at the start of `bytes` reaches: to its closing
/// quote (escapes honoured), or to the end of the value when it never closes.
fn quoted_string_extent(bytes: &[u8]) -> usize {
    let mut position = 1;
    while let Some(&byte) = bytes.get(position) {
        match byte {
            b'"' => return position + 1,
            b'\\' => position += 2,
            _ => position += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

    fn list(value: &str) -> Vec<(&str, u16)> {
        AcceptList::new(value.as_bytes())
            .map(|range| (range.media_type, range.quality_per_mille))
            .collect()
    }

    /// A parsed entry as (media range, weight), or why it was skipped.
    type Entry<'a> = Result<(&'a str, u16), AcceptError>;

    fn entries(value: &str) -> Vec<Entry<'_>> {
        AcceptEntries::new(value.as_bytes())
            .map(|entry| entry.map(|range| (range.media_type, range.quality_per_mille)))
            .collect()
    }

    #[test]
    fn lists_are_split_into_ranges() {
        let cases: [(&str, &[(&str, u16)]); 14] = [
            ("", &[]),
            (" , ,", &[]),
            ("text/html", &[("text/html", 1000)]),
            ("*/*", &[("*/*", 1000)]),
            ("image/*", &[("image/*", 1000)]),
            ("a/b,c/d", &[("a/b", 1000), ("c/d", 1000)]),
            (" a/b ,\tc/d\t, ,", &[("a/b", 1000), ("c/d", 1000)]),
            ("a/b;q=0.5", &[("a/b", 500)]),
            ("a/b ; q=0.5 , c/d;q=0", &[("a/b", 500), ("c/d", 0)]),
            ("a/b;Q=0.25", &[("a/b", 250)]),
            ("a/b;charset=utf-8;q=0.1", &[("a/b", 100)]),
            ("a/b;;q=0.1;", &[("a/b", 100)]),
            ("a/b;q = 0.3", &[("a/b", 300)]),
            ("a/b;q=0.7;ext=1", &[("a/b", 700)]),
        ];
        for (value, expected) in cases {
            assert_eq!(list(value), expected, "{value:?}");
        }
    }

    #[test]
    fn quoted_parameters_do_not_split_the_list() {
        assert_eq!(
            list(r#"a/b;title="x, y";q=0.2, c/d;p="\"q=1, e/f\"""#),
            [("a/b", 200), ("c/d", 1000)]
        );
    }

    #[test]
    fn qvalues_follow_the_grammar() {
        let cases = [
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.0", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.005", Some(5)),
            ("0.999", Some(999)),
            ("1", Some(1000)),
            ("1.", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("1.5", None),
            ("0.1234", None),
            ("2", None),
            (".5", None),
            ("", None),
            ("-0", None),
            ("0,5", None),
            ("0.a", None),
            ("1.0000", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_quality(text.as_bytes()), expected, "{text:?}");
        }
    }

    #[test]
    fn malformed_entries_are_skipped_with_their_reason() {
        let long = format!("a/{}", "b".repeat(MEDIA_TYPE_BYTES_MAX - 2));
        let too_long = format!("{long}, {}b", &long);
        let cases: [(&str, &[Entry]); 15] = [
            ("text", &[Err(AcceptError::MediaRange)]),
            ("text/", &[Err(AcceptError::MediaRange)]),
            ("/html", &[Err(AcceptError::MediaRange)]),
            (
                "*/html, a/b",
                &[Err(AcceptError::MediaRange), Ok(("a/b", 1000))],
            ),
            ("a /b", &[Err(AcceptError::MediaRange)]),
            (
                "a/b c, d/e",
                &[Err(AcceptError::Parameter), Ok(("d/e", 1000))],
            ),
            (
                "a/b;x, c/d",
                &[Err(AcceptError::Parameter), Ok(("c/d", 1000))],
            ),
            ("a/b;=1", &[Err(AcceptError::Parameter)]),
            ("a/b;x=", &[Err(AcceptError::Parameter)]),
            ("a/b;x=\"open, c/d", &[Err(AcceptError::Parameter)]),
            (
                "a/b;x=\"bad\0\", c/d",
                &[Err(AcceptError::Parameter), Ok(("c/d", 1000))],
            ),
            (
                "a/b;q=2, c/d;q=0.9",
                &[Err(AcceptError::Quality), Ok(("c/d", 900))],
            ),
            ("a/b;q=\"0.5\"", &[Err(AcceptError::Quality)]),
            ("a/b;q=0.5;q=0.6", &[Err(AcceptError::Quality)]),
            (
                "\u{e9}/b, c/d",
                &[Err(AcceptError::MediaRange), Ok(("c/d", 1000))],
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(entries(value), expected, "{value:?}");
        }
        assert_eq!(
            entries(&too_long),
            [Ok((long.as_str(), 1000)), Err(AcceptError::TooLong)]
        );
    }

    #[test]
    fn acceptance_by_exact_type_wildcards_and_weight() {
        let cases = [
            (OCI_MANIFEST, OCI_MANIFEST, true),
            (
                "APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON",
                OCI_MANIFEST,
                true,
            ),
            (OCI_INDEX, OCI_MANIFEST, false),
            ("application/*", OCI_MANIFEST, true),
            ("Application/*", OCI_MANIFEST, true),
            ("text/*", OCI_MANIFEST, false),
            ("*/*", OCI_MANIFEST, true),
            ("", OCI_MANIFEST, false),
            (
                "application/vnd.oci.image.manifest.v1+json;q=0",
                OCI_MANIFEST,
                false,
            ),
            (
                "application/vnd.oci.image.manifest.v1+json;q=0.001",
                OCI_MANIFEST,
                true,
            ),
            ("*/*;q=0", OCI_MANIFEST, false),
            // The most specific range decides, whatever the order.
            (
                "*/*, application/vnd.oci.image.manifest.v1+json;q=0",
                OCI_MANIFEST,
                false,
            ),
            (
                "application/vnd.oci.image.manifest.v1+json;q=0, */*",
                OCI_MANIFEST,
                false,
            ),
            (
                "application/*;q=0, application/vnd.oci.image.manifest.v1+json",
                OCI_MANIFEST,
                true,
            ),
            ("*/*;q=0, application/*;q=0.1", OCI_MANIFEST, true),
            // An invalid weight drops the entry rather than the list.
            (
                "application/vnd.oci.image.manifest.v1+json;q=5, */*;q=0.1",
                OCI_MANIFEST,
                true,
            ),
            (
                "application/vnd.oci.image.manifest.v1+json;q=5",
                OCI_MANIFEST,
                false,
            ),
            // A media type without a slash is only covered by */*.
            ("application/*", "application", false),
            ("*/*", "application", true),
        ];
        for (value, media_type, expected) in cases {
            assert_eq!(
                accepts(value.as_bytes(), media_type),
                expected,
                "{value:?} {media_type}"
            );
        }
    }

    #[test]
    fn equally_specific_ranges_take_the_highest_weight() {
        assert_eq!(
            quality(b"a/b;q=0.2, a/b;q=0.6, a/b;q=0.4", "a/b"),
            Some(600)
        );
        assert_eq!(quality(b"a/*;q=0.2, */*;q=0.9", "a/b"), Some(200));
        assert_eq!(quality(b"c/d", "a/b"), None);
    }

    #[test]
    fn several_lines_form_one_list() {
        let lines: [&[u8]; 3] = [
            OCI_INDEX.as_bytes(),
            b"application/vnd.docker.distribution.manifest.v2+json;q=0.5",
            b"application/vnd.oci.image.manifest.v1+json",
        ];
        assert!(accepts_any_header(lines, OCI_MANIFEST));
        assert!(accepts_any_header(lines, OCI_INDEX));
        assert_eq!(quality_in_headers(lines, DOCKER_MANIFEST), Some(500));
        assert!(!accepts_any_header(lines, "application/json"));
        assert!(!accepts_any_header([], OCI_MANIFEST));
        let refused: [&[u8]; 2] = [b"*/*", b"application/vnd.oci.image.manifest.v1+json;q=0"];
        assert!(!accepts_any_header(refused.iter().copied(), OCI_MANIFEST));
        assert!(accepts_any_header(refused.iter().copied(), OCI_INDEX));
    }

    #[test]
    fn covers_ignores_weight() {
        let range = AcceptList::new(b"application/*;q=0").next().unwrap();
        assert!(range.covers(OCI_MANIFEST));
        assert!(!range.covers("text/plain"));
    }

    #[test]
    fn errors_display() {
        assert!(AcceptError::MediaRange.to_string().contains("media range"));
        assert!(AcceptError::TooLong.to_string().contains("longer"));
        assert!(AcceptError::Parameter.to_string().contains("parameter"));
        assert!(AcceptError::Quality.to_string().contains("weight"));
    }

    /// An entry to render into a list, with what it should parse to.
    fn entry() -> impl Strategy<Value = (String, Option<(String, u16)>)> {
        let media_type = prop_oneof![
            Just("*/*".to_owned()),
            "[a-c]{1,3}/\\*",
            "[a-c]{1,3}/[a-c+.]{1,3}",
        ];
        let quality = prop_oneof![
            Just((String::new(), Some(1000u16))),
            (0u16..=1000).prop_map(|q| (format!(";q={}.{:03}", q / 1000, q % 1000), Some(q))),
            Just((";q=1.5".to_owned(), None)),
        ];
        let parameter = prop_oneof![
            Just(String::new()),
            Just(";p=v".to_owned()),
            Just(" ; p=\"a, b; q=0\"".to_owned()),
        ];
        (media_type, quality, parameter).prop_map(|(media_type, (weight, quality), parameter)| {
            let text = format!("{media_type}{parameter}{weight}");
            (text, quality.map(|quality| (media_type, quality)))
        })
    }

    proptest! {
        #[test]
        fn lists_agree_with_the_entries_they_are_made_of(
            items in proptest::collection::vec(entry(), 0..8),
            separator in prop_oneof![Just(","), Just(", "), Just(" ,\t, ")],
        ) {
            let text: Vec<&str> = items.iter().map(|(text, _)| text.as_str()).collect();
            let value = text.join(separator);
            let expected: Vec<(&str, u16)> = items
                .iter()
                .filter_map(|(_, parsed)| parsed.as_ref().map(|(media_type, q)| (media_type.as_str(), *q)))
                .collect();
            prop_assert_eq!(list(&value), expected);
        }

        #[test]
        fn arbitrary_values_give_well_formed_ranges(
            value in proptest::collection::vec(
                prop_oneof![Just(b'/'), Just(b','), Just(b';'), Just(b'"'), Just(b'='), Just(b'q'), b'a'..=b'c', any::<u8>()],
                0..48,
            ),
        ) {
            let mut entry_count = 0;
            for entry in AcceptEntries::new(&value) {
                entry_count += 1;
                if let Ok(range) = entry {
                    prop_assert!(range.quality_per_mille <= QUALITY_PER_MILLE_MAX);
                    let (range_type, range_subtype) = range.media_type.split_once('/').unwrap();
                    prop_assert!(chars::is_token_bytes(range_type.as_bytes()));
                    prop_assert!(chars::is_token_bytes(range_subtype.as_bytes()));
                }
            }
            prop_assert!(entry_count <= value.len());
        }
    }
}
