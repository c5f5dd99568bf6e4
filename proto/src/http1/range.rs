//! The `Range` request header (RFC 9110 sections 14.1 and 14.2), resolved against the size of
//! the representation into absolute byte ranges.
//!
//! The result is a [`RangeSet`] value that owns a fixed array of [`limits::RANGE_COUNT_MAX`]
//! ranges and its count, rather than a count returned next to a caller's array: the caller cannot
//! read past the count or pair the count with the wrong array, and the whole value is 264 bytes
//! on the stack, which is cheaper than the header it came from.

use core::fmt;

use crate::http1::chars;
use crate::limits;

/// Why a `Range` header is not served as ranges. Only [`RangeError::Unsatisfiable`] changes the
/// response (416); for every other variant RFC 9110 section 14.2 has the server ignore the header
/// and send the whole representation with 200.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RangeError {
    /// Not a `ranges-specifier`: no `=`, a unit that is not a token, no range at all, a range
    /// that is not `first-last`, `first-` or `-suffix`, a last position before the first, or a
    /// number beyond `u64`.
    Invalid,
    /// A well-formed range unit other than `bytes`.
    UnknownUnit,
    /// More than [`limits::RANGE_COUNT_MAX`] ranges.
    TooMany,
    /// Every range starts at or past the end of the representation (or is an empty suffix).
    /// Answered with 416 and `Content-Range: bytes */<size>`.
    Unsatisfiable,
}

impl RangeError {
    /// True when the server must ignore the header and serve the whole representation.
    pub fn is_ignored(self) -> bool {
        !matches!(self, RangeError::Unsatisfiable)
    }
}

impl fmt::Display for RangeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            RangeError::Invalid => "Range header is not a valid bytes range set",
            RangeError::UnknownUnit => "Range header uses a unit other than bytes",
            RangeError::TooMany => "Range header has too many ranges",
            RangeError::Unsatisfiable => "no range of the Range header is satisfiable",
        })
    }
}

impl std::error::Error for RangeError {}

/// A non-empty range of byte positions, both ends included, within the representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ByteRange {
    pub start: u64,
    pub end_inclusive: u64,
}

impl ByteRange {
    /// Number of bytes in the range (at least 1).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.end_inclusive - self.start + 1
    }

    /// The position after the last byte. Never overflows: a resolved range ends before the
    /// representation's size, which is a `u64`.
    pub fn end_exclusive(&self) -> u64 {
        self.end_inclusive + 1
    }
}

/// The satisfiable ranges of a `Range` header, in request order; never empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeSet {
    ranges: [ByteRange; limits::RANGE_COUNT_MAX],
    count: usize,
}

impl RangeSet {
    const EMPTY: RangeSet = RangeSet {
        ranges: [ByteRange {
            start: 0,
            end_inclusive: 0,
        }; limits::RANGE_COUNT_MAX],
        count: 0,
    };

    /// The ranges.
    pub fn as_slice(&self) -> &[ByteRange] {
        &self.ranges[..self.count]
    }

    /// How many ranges (1 to [`limits::RANGE_COUNT_MAX`]).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Always false for a set returned by [`parse_range`].
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The ranges, in request order.
    pub fn iter(&self) -> core::slice::Iter<'_, ByteRange> {
        self.as_slice().iter()
    }

    /// Bytes a response with every range carries (without multipart framing). Ranges may
    /// overlap, so this can exceed the size; see [`RangeSet::coalesced`].
    pub fn total_bytes(&self) -> u64 {
        self.iter()
            .fold(0, |total, range| total.saturating_add(range.len()))
    }

    /// The same bytes as fewer ranges: sorted by start, with overlapping and adjacent ranges
    /// merged. RFC 9110 section 14.2 lets a server coalesce, and a server that does defeats
    /// requests made of many overlapping ranges meant to multiply the response. Serving in
    /// request order (this set as is) or coalesced is the server's choice.
    pub fn coalesced(&self) -> RangeSet {
        let mut sorted = *self;
        let ranges = &mut sorted.ranges[..sorted.count];
        ranges.sort_unstable();
        let mut merged = RangeSet::EMPTY;
        for &range in ranges.iter() {
            match merged.last_mut() {
                Some(last) if range.start <= last.end_inclusive.saturating_add(1) => {
                    last.end_inclusive = last.end_inclusive.max(range.end_inclusive);
                }
                _ => merged.push(range),
            }
        }
        merged
    }

    fn last_mut(&mut self) -> Option<&mut ByteRange> {
        self.ranges[..self.count].last_mut()
    }

    /// Adds a range; the callers never hold more specs than the array has room for.
    fn push(&mut self, range: ByteRange) {
        self.ranges[self.count] = range;
        self.count += 1;
    }
}

impl<'a> IntoIterator for &'a RangeSet {
    type Item = &'a ByteRange;
    type IntoIter = core::slice::Iter<'a, ByteRange>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// One `range-spec` of the `bytes` unit, before it meets the representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RangeSpec {
    /// `first-last`.
    Closed { first: u64, last: u64 },
    /// `first-`.
    From { first: u64 },
    /// `-length`: the last `length` bytes.
    Suffix { length: u64 },
}

impl RangeSpec {
    /// The absolute range this spec selects in a representation of `size` bytes, or `None`
    /// when it is unsatisfiable (RFC 9110 section 14.1.2).
    fn resolve(self, size: u64) -> Option<ByteRange> {
        let last_position = size.checked_sub(1)?;
        match self {
            RangeSpec::Closed { first, last } if first < size => Some(ByteRange {
                start: first,
                end_inclusive: last.min(last_position),
            }),
            RangeSpec::From { first } if first < size => Some(ByteRange {
                start: first,
                end_inclusive: last_position,
            }),
            RangeSpec::Suffix { length } if length > 0 => Some(ByteRange {
                start: size.saturating_sub(length),
                end_inclusive: last_position,
            }),
            _ => None,
        }
    }
}

/// Parses a `Range` field value and resolves it against a representation of `size` bytes.
///
/// The unit is matched case-insensitively; empty list elements and whitespace around commas are
/// tolerated (the `#` list rule of RFC 9110 section 5.6.1), whitespace around `=` or `-` is not.
/// A closed range reaching past the end is clipped, a suffix longer than the representation
/// selects all of it. Ranges are returned as requested: neither sorted nor merged.
pub fn parse_range(value: &[u8], size: u64) -> Result<RangeSet, RangeError> {
    let value = chars::trim_whitespace(value);
    let equals = value
        .iter()
        .position(|&byte| byte == b'=')
        .ok_or(RangeError::Invalid)?;
    let (unit, range_set) = (&value[..equals], &value[equals + 1..]);
    if !chars::is_token_bytes(unit) {
        return Err(RangeError::Invalid);
    }
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return Err(RangeError::UnknownUnit);
    }
    let mut spec_count = 0;
    let mut satisfiable = RangeSet::EMPTY;
    for element in range_set
        .split(|&byte| byte == b',')
        .map(chars::trim_whitespace)
    {
        if element.is_empty() {
            continue;
        }
        spec_count += 1;
        if spec_count > limits::RANGE_COUNT_MAX {
            return Err(RangeError::TooMany);
        }
        if let Some(range) = parse_spec(element)?.resolve(size) {
            satisfiable.push(range);
        }
    }
    if spec_count == 0 {
        return Err(RangeError::Invalid);
    }
    if satisfiable.is_empty() {
        return Err(RangeError::Unsatisfiable);
    }
    Ok(satisfiable)
}

/// `int-range` (`first-pos "-" [ last-pos ]`) or `suffix-range` (`"-" suffix-length`).
fn parse_spec(element: &[u8]) -> Result<RangeSpec, RangeError> {
    let dash = element
        .iter()
        .position(|&byte| byte == b'-')
        .ok_or(RangeError::Invalid)?;
    let (first, last) = (&element[..dash], &element[dash + 1..]);
    if first.is_empty() {
        return Ok(RangeSpec::Suffix {
            length: parse_position(last)?,
        });
    }
    let first = parse_position(first)?;
    if last.is_empty() {
        return Ok(RangeSpec::From { first });
    }
    let last = parse_position(last)?;
    if last < first {
        return Err(RangeError::Invalid);
    }
    Ok(RangeSpec::Closed { first, last })
}

/// `1*DIGIT` as a `u64`.
fn parse_position(digits: &[u8]) -> Result<u64, RangeError> {
    chars::parse_decimal(digits).ok_or(RangeError::Invalid)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A field value, a representation size and the ranges expected.
    type ResolvedCase = (&'static str, u64, &'static [(u64, u64)]);

    fn ranges(value: &str, size: u64) -> Result<Vec<(u64, u64)>, RangeError> {
        parse_range(value.as_bytes(), size).map(|set| {
            set.iter()
                .map(|range| (range.start, range.end_inclusive))
                .collect()
        })
    }

    #[test]
    fn each_form_resolves() {
        let cases: [ResolvedCase; 16] = [
            ("bytes=0-499", 10_000, &[(0, 499)]),
            ("bytes=500-999", 10_000, &[(500, 999)]),
            ("bytes=0-0", 1, &[(0, 0)]),
            ("bytes=9500-", 10_000, &[(9500, 9999)]),
            ("bytes=0-", 1, &[(0, 0)]),
            ("bytes=-500", 10_000, &[(9500, 9999)]),
            ("bytes=-1", 1, &[(0, 0)]),
            // Clipping and whole-representation suffixes.
            ("bytes=5-100", 10, &[(5, 9)]),
            ("bytes=0-18446744073709551615", 10, &[(0, 9)]),
            ("bytes=-100", 10, &[(0, 9)]),
            ("bytes=-18446744073709551615", 10, &[(0, 9)]),
            // Several ranges stay in request order, overlaps included.
            ("bytes=500-600,0-99", 10_000, &[(500, 600), (0, 99)]),
            ("bytes=0-9, 5-15 ,\t-3", 20, &[(0, 9), (5, 15), (17, 19)]),
            // Unsatisfiable members are dropped when another one is satisfiable.
            ("bytes=50-60,0-1,-0", 10, &[(0, 1)]),
            // Empty list elements and a case-insensitive unit.
            ("BYTES=,, 0-1 ,,", 10, &[(0, 1)]),
            ("  Bytes=0-1  ", 10, &[(0, 1)]),
        ];
        for (value, size, expected) in cases {
            assert_eq!(
                ranges(value, size),
                Ok(expected.to_vec()),
                "{value:?} of {size}"
            );
        }
    }

    #[test]
    fn unsatisfiable_sets() {
        let cases = [
            ("bytes=10-20", 10),
            ("bytes=10-", 10),
            ("bytes=-0", 10),
            ("bytes=10-10, 11-, -0", 10),
            ("bytes=18446744073709551615-", 10),
            // An empty representation satisfies nothing.
            ("bytes=0-0", 0),
            ("bytes=0-", 0),
            ("bytes=-1", 0),
        ];
        for (value, size) in cases {
            assert_eq!(
                ranges(value, size),
                Err(RangeError::Unsatisfiable),
                "{value:?} of {size}"
            );
        }
    }

    #[test]
    fn invalid_sets_are_ignored() {
        let cases = [
            "",
            "bytes",
            "bytes 0-1",
            "=0-1",
            "bytes=",
            "bytes=,",
            "bytes= , ,",
            "bytes=5-4",
            "bytes=1",
            "bytes=-",
            "bytes=a-b",
            "bytes=0-1a",
            "bytes=+1-2",
            "bytes=0x1-2",
            "bytes=1--2",
            "bytes=--1",
            "bytes=0 -1",
            "bytes=0- 1",
            "bytes =0-1",
            "bytes= 0-1;",
            "bytes=0-1,bad",
            "bytes=0-1,5-4",
            "bytes=18446744073709551616-",
            "bytes=0-18446744073709551616",
            "bytes=-18446744073709551616",
            "by tes=0-1",
            "bytes=0-1=2",
        ];
        for value in cases {
            assert_eq!(ranges(value, 100), Err(RangeError::Invalid), "{value:?}");
            assert!(RangeError::Invalid.is_ignored());
        }
    }

    #[test]
    fn invalid_wins_over_unsatisfiable() {
        assert_eq!(ranges("bytes=200-300,5-4", 100), Err(RangeError::Invalid));
        assert_eq!(ranges("bytes=-0,x", 100), Err(RangeError::Invalid));
    }

    #[test]
    fn other_units_are_ignored() {
        for value in ["items=0-1", "none=0-1", "Bits=0-", "b=anything at all"] {
            assert_eq!(
                ranges(value, 100),
                Err(RangeError::UnknownUnit),
                "{value:?}"
            );
        }
        assert!(RangeError::UnknownUnit.is_ignored());
        assert!(!RangeError::Unsatisfiable.is_ignored());
    }

    #[test]
    fn too_many_ranges_are_ignored() {
        let most = vec!["0-0"; limits::RANGE_COUNT_MAX].join(",");
        let set = parse_range(format!("bytes={most}").as_bytes(), 10).unwrap();
        assert_eq!(set.len(), limits::RANGE_COUNT_MAX);
        let too_many = vec!["0-0"; limits::RANGE_COUNT_MAX + 1].join(",");
        assert_eq!(
            ranges(&format!("bytes={too_many}"), 10),
            Err(RangeError::TooMany)
        );
        // Unsatisfiable ranges count too: they cost parsing work all the same.
        let unsatisfiable = vec!["50-"; limits::RANGE_COUNT_MAX + 1].join(",");
        assert_eq!(
            ranges(&format!("bytes={unsatisfiable}"), 10),
            Err(RangeError::TooMany)
        );
        // Empty elements do not.
        let with_empty = format!("bytes={most},,,");
        assert!(ranges(&with_empty, 10).is_ok());
        assert!(RangeError::TooMany.is_ignored());
    }

    #[test]
    fn coalescing_sorts_and_merges() {
        let cases: [(&str, &[(u64, u64)]); 6] = [
            ("bytes=0-9", &[(0, 9)]),
            ("bytes=50-60,0-9", &[(0, 9), (50, 60)]),
            ("bytes=0-9,10-19", &[(0, 19)]),
            ("bytes=0-9,11-19", &[(0, 9), (11, 19)]),
            ("bytes=5-15,0-9,8-8,-10", &[(0, 15), (90, 99)]),
            ("bytes=0-,0-,0-", &[(0, 99)]),
        ];
        for (value, expected) in cases {
            let set = parse_range(value.as_bytes(), 100).unwrap().coalesced();
            let found: Vec<_> = set
                .iter()
                .map(|range| (range.start, range.end_inclusive))
                .collect();
            assert_eq!(found, expected, "{value:?}");
        }
    }

    #[test]
    fn byte_range_lengths() {
        let set = parse_range(b"bytes=0-9,5-5,-3", 100).unwrap();
        let lengths: Vec<u64> = set.iter().map(ByteRange::len).collect();
        assert_eq!(lengths, [10, 1, 3]);
        assert_eq!(set.total_bytes(), 14);
        assert_eq!(set.as_slice()[0].end_exclusive(), 10);
        assert!(!set.is_empty());
        assert_eq!((&set).into_iter().count(), 3);
        let whole = parse_range(b"bytes=0-", u64::MAX).unwrap();
        assert_eq!(whole.as_slice()[0].len(), u64::MAX);
        assert_eq!(whole.as_slice()[0].end_exclusive(), u64::MAX);
    }

    #[test]
    fn errors_display() {
        for error in [
            RangeError::Invalid,
            RangeError::UnknownUnit,
            RangeError::TooMany,
            RangeError::Unsatisfiable,
        ] {
            assert!(error.to_string().contains("Range") || error.to_string().contains("range"));
        }
    }

    fn number() -> impl Strategy<Value = u64> {
        prop_oneof![4 => 0u64..40, 1 => any::<u64>()]
    }

    fn spec() -> impl Strategy<Value = RangeSpec> {
        prop_oneof![
            (number(), number()).prop_map(|(first, last)| RangeSpec::Closed { first, last }),
            number().prop_map(|first| RangeSpec::From { first }),
            number().prop_map(|length| RangeSpec::Suffix { length }),
        ]
    }

    fn spec_text(spec: RangeSpec) -> String {
        match spec {
            RangeSpec::Closed { first, last } => format!("{first}-{last}"),
            RangeSpec::From { first } => format!("{first}-"),
            RangeSpec::Suffix { length } => format!("-{length}"),
        }
    }

    /// The rules of RFC 9110 sections 14.1.1 and 14.1.2, spelt out case by case (without the
    /// saturating helpers the parser uses, so that the two do not share a mistake).
    #[allow(clippy::implicit_saturating_sub)]
    fn model(specs: &[RangeSpec], size: u64) -> Result<Vec<(u64, u64)>, RangeError> {
        let mut resolved = Vec::new();
        for (index, spec) in specs.iter().enumerate() {
            if index == limits::RANGE_COUNT_MAX {
                return Err(RangeError::TooMany);
            }
            match *spec {
                RangeSpec::Closed { first, last } if last < first => {
                    return Err(RangeError::Invalid);
                }
                RangeSpec::Closed { first, last } if first < size => {
                    resolved.push((first, if last >= size { size - 1 } else { last }))
                }
                RangeSpec::From { first } if first < size => resolved.push((first, size - 1)),
                RangeSpec::Suffix { length } if length > 0 && size > 0 => {
                    let start = if length >= size { 0 } else { size - length };
                    resolved.push((start, size - 1))
                }
                _ => {}
            }
        }
        if specs.is_empty() {
            return Err(RangeError::Invalid);
        }
        if resolved.is_empty() {
            return Err(RangeError::Unsatisfiable);
        }
        Ok(resolved)
    }

    proptest! {
        #[test]
        fn resolution_agrees_with_the_model(
            specs in proptest::collection::vec(spec(), 0..20),
            size in prop_oneof![4 => 0u64..40, 1 => any::<u64>()],
            separators in proptest::collection::vec(prop_oneof![
                Just(","), Just(", "), Just(" ,\t"), Just(",,"), Just(" , , ")
            ], 20),
            unit in prop_oneof![Just("bytes"), Just("BYTES"), Just("Bytes")],
        ) {
            let mut value = format!("{unit}=");
            for (index, spec) in specs.iter().enumerate() {
                if index > 0 {
                    value.push_str(separators[index]);
                }
                value.push_str(&spec_text(*spec));
            }
            prop_assert_eq!(ranges(&value, size), model(&specs, size), "{}", value);
        }

        #[test]
        fn arbitrary_values_give_ranges_within_the_size(
            value in proptest::collection::vec(
                prop_oneof![Just(b'-'), Just(b','), Just(b' '), Just(b'='), b'0'..=b'9', any::<u8>()],
                0..40,
            ),
            size in 0u64..64,
        ) {
            let mut with_unit = b"bytes=".to_vec();
            with_unit.extend_from_slice(&value);
            for candidate in [&value, &with_unit] {
                if let Ok(set) = parse_range(candidate, size) {
                    prop_assert!(!set.is_empty() && set.len() <= limits::RANGE_COUNT_MAX);
                    for range in set.iter().chain(set.coalesced().iter()) {
                        prop_assert!(range.start <= range.end_inclusive);
                        prop_assert!(range.end_inclusive < size);
                    }
                }
            }
        }

        #[test]
        fn coalescing_keeps_the_same_bytes(
            specs in proptest::collection::vec((0u64..64, 0u64..64), 1..=limits::RANGE_COUNT_MAX),
        ) {
            let text: Vec<String> = specs
                .iter()
                .map(|&(a, b)| format!("{}-{}", a.min(b), a.max(b)))
                .collect();
            let set = parse_range(format!("bytes={}", text.join(",")).as_bytes(), 64).unwrap();
            let coalesced = set.coalesced();
            let covered = |set: &RangeSet, position: u64| {
                set.iter().any(|range| range.start <= position && position <= range.end_inclusive)
            };
            for position in 0..64 {
                prop_assert_eq!(covered(&set, position), covered(&coalesced, position));
            }
            for pair in coalesced.as_slice().windows(2) {
                prop_assert!(pair[0].end_inclusive + 1 < pair[1].start);
            }
        }
    }
}
