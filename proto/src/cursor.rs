//! The only unsafe code of the request parser: a forward-only cursor over a byte slice, plus the
//! word-at-a-time scan of field values and the conversion of validated ASCII to `&str`.
//!
//! Every unchecked access is justified by the invariant `position <= bytes.len()`, which every
//! method that moves the cursor keeps (asserted where the caller provides the distance).

use crate::http1::chars;

/// Eight copies of the byte 0x01.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// Eight copies of the byte 0x80: the top bit of every lane.
const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);

/// A read position in a byte slice. Invariant: `position <= bytes.len()`.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at `position` of `bytes`.
    #[inline(always)]
    pub(crate) fn new(bytes: &'a [u8], position: usize) -> Cursor<'a> {
        assert!(position <= bytes.len());
        Cursor { bytes, position }
    }

    #[inline(always)]
    pub(crate) fn position(&self) -> usize {
        self.position
    }

    /// The byte under the cursor, if any.
    #[inline(always)]
    pub(crate) fn peek(&self) -> Option<u8> {
        if self.position < self.bytes.len() {
            // SAFETY: the position was just checked to be inside the slice.
            Some(unsafe { *self.bytes.get_unchecked(self.position) })
        } else {
            None
        }
    }

    /// The byte `offset` bytes past the cursor, if any.
    #[inline(always)]
    pub(crate) fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.position + offset).copied()
    }

    /// Moves past `count` bytes that the caller has seen with `peek`/`peek_at`.
    #[inline(always)]
    pub(crate) fn advance(&mut self, count: usize) {
        assert!(count <= self.bytes.len() - self.position);
        self.position += count;
    }

    /// The bytes from `start` up to the cursor. `start` is a position this cursor has passed.
    #[inline(always)]
    pub(crate) fn since(&self, start: usize) -> &'a [u8] {
        assert!(start <= self.position);
        // SAFETY: start <= position <= bytes.len(), asserted above and by the type invariant.
        unsafe { self.bytes.get_unchecked(start..self.position) }
    }

    /// Advances over bytes for which `keep` is true; stops at the first other byte or the end.
    #[inline(always)]
    pub(crate) fn advance_while(&mut self, keep: impl Fn(u8) -> bool) {
        while self.position < self.bytes.len() {
            // SAFETY: the loop condition keeps position inside the slice.
            let byte = unsafe { *self.bytes.get_unchecked(self.position) };
            if !keep(byte) {
                return;
            }
            self.position += 1;
        }
    }

    /// Like [`Cursor::advance_while`], testing eight bytes per branch while eight remain: the
    /// eight tests are combined without short-circuit, so a long run costs one branch per
    /// eight bytes instead of one per byte. `keep` must be a cheap, pure class test.
    #[inline(always)]
    pub(crate) fn advance_while_unrolled(&mut self, keep: impl Fn(u8) -> bool) {
        while self.bytes.len() - self.position >= 8 {
            // SAFETY: at least eight bytes remain from position (loop condition).
            let block = unsafe { self.bytes.get_unchecked(self.position..self.position + 8) };
            let all = keep(block[0])
                & keep(block[1])
                & keep(block[2])
                & keep(block[3])
                & keep(block[4])
                & keep(block[5])
                & keep(block[6])
                & keep(block[7]);
            if !all {
                break;
            }
            self.position += 8;
        }
        self.advance_while(keep);
    }

    /// Advances over field-value bytes (HTAB, SP, VCHAR, obs-text), sixteen (SSE2) or eight
    /// (word) at a time; stops at the first other byte (CR, LF, NUL, any other control, DEL)
    /// or at the end.
    ///
    /// Why not byte by byte: bearer tokens of a kilobyte and more are common in registry
    /// traffic, and a field value is the longest thing a request head holds.
    #[inline]
    pub(crate) fn advance_field_value(&mut self) {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        // SAFETY: this code is only compiled where SSE2 is enabled at compile time (it is part
        // of the x86_64 baseline), so the CPU running it has SSE2.
        unsafe {
            self.advance_field_value_sse2()
        };
        self.advance_field_value_words();
        self.advance_while(chars::is_field_value);
    }

    /// The SSE2 step of [`Cursor::advance_field_value`]: SSE2 is part of every x86_64 CPU, so
    /// no run-time detection is needed.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[target_feature(enable = "sse2")]
    #[inline]
    fn advance_field_value_sse2(&mut self) {
        use core::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        let below_space_max = _mm_set1_epi8(0x1f);
        let delete = _mm_set1_epi8(0x7f);
        while self.bytes.len() - self.position >= 16 {
            // SAFETY: at least sixteen bytes remain from position (loop condition), and
            // `_mm_loadu_si128` accepts any alignment.
            let lanes = unsafe {
                _mm_loadu_si128(self.bytes.as_ptr().add(self.position).cast::<__m128i>())
            };
            // A lane is flagged when min(byte, 0x1f) == byte (byte <= 0x1f) or byte == 0x7f.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(lanes, below_space_max), lanes);
            let flagged = _mm_or_si128(control, _mm_cmpeq_epi8(lanes, delete));
            let mask = _mm_movemask_epi8(flagged) as u32;
            if mask == 0 {
                self.position += 16;
                continue;
            }
            self.position += mask.trailing_zeros() as usize;
            // SAFETY: the lane index is below 16 and sixteen bytes remained before the move.
            let byte = unsafe { *self.bytes.get_unchecked(self.position) };
            if byte != b'\t' {
                return;
            }
            self.position += 1;
        }
    }

    /// The word-at-a-time step of [`Cursor::advance_field_value`]. It stops on the same bytes
    /// as the byte-at-a-time loop; on x86_64 it only sees the tail shorter than sixteen bytes.
    #[inline(always)]
    fn advance_field_value_words(&mut self) {
        while self.bytes.len() - self.position >= 8 {
            // SAFETY: at least eight bytes remain from position (loop condition); the read is
            // unaligned, as `read_unaligned` allows.
            let word = u64::from_le(unsafe {
                self.bytes
                    .as_ptr()
                    .add(self.position)
                    .cast::<u64>()
                    .read_unaligned()
            });
            let mask = control_or_delete_lanes(word);
            if mask == 0 {
                self.position += 8;
                continue;
            }
            // The lowest flagged lane is always a true match (a borrow only moves upward), so
            // this is the first byte that is a control or DEL.
            self.position += (mask.trailing_zeros() / 8) as usize;
            // SAFETY: the lane index is below 8 and eight bytes remained before the move.
            let byte = unsafe { *self.bytes.get_unchecked(self.position) };
            if byte != b'\t' {
                return;
            }
            self.position += 1;
        }
    }
}

/// For each byte lane of `word`, the top bit is set when that byte is below 0x20 or is 0x7F;
/// lanes above the lowest flagged one may be flagged falsely.
#[inline(always)]
fn control_or_delete_lanes(word: u64) -> u64 {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS;
    let delete_xor = word ^ (ONES * 0x7f);
    let delete = delete_xor.wrapping_sub(ONES) & !delete_xor & HIGH_BITS;
    below_space | delete
}

/// Views bytes that the caller has validated as ASCII (tokens, request targets) as `&str`,
/// without a second pass over them.
#[inline(always)]
pub(crate) fn ascii_str(bytes: &[u8]) -> &str {
    debug_assert!(bytes.is_ascii());
    // SAFETY: every caller passes bytes it has checked against an ASCII-only byte class
    // (tchar, the request-target class), and ASCII is valid UTF-8.
    unsafe { core::str::from_utf8_unchecked(bytes) }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The byte-at-a-time definition the word-at-a-time scan must agree with.
    fn field_value_end_reference(bytes: &[u8], start: usize) -> usize {
        bytes[start..]
            .iter()
            .position(|&b| !chars::is_field_value(b))
            .map_or(bytes.len(), |i| start + i)
    }

    #[test]
    fn field_value_scan_stops_at_each_forbidden_byte() {
        for forbidden in (0u8..0x20).filter(|&b| b != b'\t').chain([0x7f]) {
            for offset in 0..20 {
                let mut bytes = vec![b'a'; 24];
                bytes[offset] = forbidden;
                let mut cursor = Cursor::new(&bytes, 0);
                cursor.advance_field_value();
                assert_eq!(
                    cursor.position(),
                    offset,
                    "byte {forbidden:#04x} at {offset}"
                );
            }
        }
    }

    #[test]
    fn field_value_scan_passes_tabs_spaces_and_obs_text() {
        let bytes = b"a\tb c\x80\xff\x7e\x21 tab\there and more text\r\n";
        let mut cursor = Cursor::new(bytes, 0);
        cursor.advance_field_value();
        assert_eq!(cursor.position(), bytes.len() - 2);
    }

    proptest! {
        #[test]
        fn field_value_scan_agrees_with_reference(bytes in proptest::collection::vec(any::<u8>(), 0..64), start in 0usize..8) {
            let start = start.min(bytes.len());
            let mut cursor = Cursor::new(&bytes, start);
            cursor.advance_field_value();
            prop_assert_eq!(cursor.position(), field_value_end_reference(&bytes, start));
        }

        #[test]
        fn field_value_scan_agrees_on_mostly_valid_bytes(
            bytes in proptest::collection::vec(prop_oneof![8 => 0x20u8..0x7f, 1 => any::<u8>()], 0..80),
        ) {
            let mut cursor = Cursor::new(&bytes, 0);
            cursor.advance_field_value();
            prop_assert_eq!(cursor.position(), field_value_end_reference(&bytes, 0));
        }
    }
}
