//! The only unsafe code of the request parser: a forward-only cursor over a byte slice, the
//! scans that move it many bytes at a time, and the view of validated ASCII as `&str`.
//!
//! Every unchecked access is justified by the invariant `position <= bytes.len()`, which every
//! method that moves the cursor keeps (asserted where the caller provides the distance). The
//! scans come in three forms with one meaning: SIMD kernels for x86_64 (`x86`), a portable
//! word-at-a-time form (`words`), and the byte-at-a-time loop; tests hold them to agree. The
//! `portable` feature leaves the SIMD kernels out, so the path that aarch64 and other targets
//! take can be tested end to end on x86_64 too (`scripts/test` does).

mod words;
#[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
mod x86;

use crate::http1::chars::{self, ByteClass};

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

    /// The `count` bytes from the cursor on, if the slice holds that many.
    #[inline(always)]
    pub(crate) fn ahead(&self, count: usize) -> Option<&'a [u8]> {
        self.bytes
            .get(self.position..self.position.checked_add(count)?)
    }

    /// Moves past `count` bytes that the caller has seen with `peek`/`peek_at`/`ahead`.
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

    /// Advances over members of `class`; stops at the first other byte or the end. Sixteen
    /// bytes per step with SSSE3 (checked once at run time: it is not in the x86_64 baseline),
    /// byte by byte elsewhere.
    #[inline]
    pub(crate) fn advance_while_class(&mut self, class: &ByteClass) {
        #[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
        if self.bytes.len() >= x86::LANES && std::is_x86_feature_detected!("ssse3") {
            // SAFETY: SSSE3 was detected on this CPU just above, and the slice holds at least
            // sixteen bytes, as the kernel requires.
            self.position = unsafe { x86::class_end_ssse3(self.bytes, self.position, class) };
            return;
        }
        self.advance_while(|byte| class.contains(byte));
    }

    /// Advances over field-value bytes (HTAB, SP, VCHAR, obs-text); stops at the first other
    /// byte (CR, LF, NUL, any other control, DEL) or at the end. Sixteen bytes per step with
    /// SSE2 (part of the x86_64 baseline), eight with the portable word form.
    ///
    /// Why not byte by byte: bearer tokens of a kilobyte and more are common in registry
    /// traffic, and a field value is the longest thing a request head holds.
    #[inline]
    pub(crate) fn advance_field_value(&mut self) {
        #[cfg(all(
            target_arch = "x86_64",
            target_feature = "sse2",
            not(feature = "portable")
        ))]
        if self.bytes.len() >= x86::LANES {
            // SAFETY: compiled only where SSE2 is enabled at compile time (it is part of the
            // x86_64 baseline), and the slice holds at least sixteen bytes.
            self.position = unsafe { x86::field_value_end_sse2(self.bytes, self.position) };
            return;
        }
        self.position = words::field_value_end(self.bytes, self.position);
        self.advance_while(chars::is_field_value);
    }
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
    use crate::http1::chars::{TARGET_PLAIN_CLASS, TOKEN_CLASS};

    /// The byte-at-a-time definition the fast field-value scans must agree with.
    fn field_value_end_reference(bytes: &[u8], start: usize) -> usize {
        bytes[start..]
            .iter()
            .position(|&b| !chars::is_field_value(b))
            .map_or(bytes.len(), |i| start + i)
    }

    fn class_end_reference(bytes: &[u8], start: usize, class: &ByteClass) -> usize {
        bytes[start..]
            .iter()
            .position(|&b| !class.contains(b))
            .map_or(bytes.len(), |i| start + i)
    }

    #[test]
    fn field_value_scan_stops_at_each_forbidden_byte() {
        for forbidden in (0u8..0x20).filter(|&b| b != b'\t').chain([0x7f]) {
            for length in [7, 15, 16, 24, 40] {
                for offset in 0..length {
                    let mut bytes = vec![b'a'; length];
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
    }

    #[test]
    fn field_value_scan_passes_tabs_spaces_and_obs_text() {
        let bytes = b"a\tb c\x80\xff\x7e\x21 tab\there and more text\r\n";
        let mut cursor = Cursor::new(bytes, 0);
        cursor.advance_field_value();
        assert_eq!(cursor.position(), bytes.len() - 2);
    }

    fn mostly_printable(length: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![8 => 0x20u8..0x7f, 1 => Just(b'\t'), 1 => any::<u8>()],
            0..length,
        )
    }

    proptest! {
        #[test]
        fn field_value_scan_agrees_with_reference(bytes in mostly_printable(80), start in 0usize..20) {
            let start = start.min(bytes.len());
            let mut cursor = Cursor::new(&bytes, start);
            cursor.advance_field_value();
            prop_assert_eq!(cursor.position(), field_value_end_reference(&bytes, start));
        }

        /// The portable word form, which x86_64 otherwise runs only on short slices.
        #[test]
        fn word_scan_agrees_with_reference(bytes in mostly_printable(80), start in 0usize..20) {
            let start = start.min(bytes.len());
            let mut cursor = Cursor::new(&bytes, words::field_value_end(&bytes, start));
            cursor.advance_while(chars::is_field_value);
            prop_assert_eq!(cursor.position(), field_value_end_reference(&bytes, start));
        }

        #[test]
        fn class_scan_agrees_with_reference(bytes in mostly_printable(80), start in 0usize..20) {
            let start = start.min(bytes.len());
            for class in [&TOKEN_CLASS, &TARGET_PLAIN_CLASS] {
                let mut cursor = Cursor::new(&bytes, start);
                cursor.advance_while_class(class);
                prop_assert_eq!(cursor.position(), class_end_reference(&bytes, start, class));
            }
        }
    }

    #[cfg(all(target_arch = "x86_64", not(feature = "portable")))]
    proptest! {
        /// The SSE2 kernel alone, at every start and length of sixteen bytes or more.
        #[test]
        fn sse2_kernel_agrees_with_reference(bytes in mostly_printable(80), start in 0usize..80) {
            prop_assume!(bytes.len() >= x86::LANES);
            let start = start.min(bytes.len());
            // SAFETY: SSE2 is part of the x86_64 baseline; the slice holds sixteen bytes.
            let end = unsafe { x86::field_value_end_sse2(&bytes, start) };
            prop_assert_eq!(end, field_value_end_reference(&bytes, start));
        }
    }
}
