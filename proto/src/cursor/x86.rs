//! x86_64 SIMD kernels of the cursor's scans, sixteen bytes per step. Each takes the whole slice
//! and a start position and returns where the scan stops; the last step loads the final sixteen
//! bytes of the slice, overlapping bytes already seen, so a short tail costs one step, not a
//! byte loop. Every kernel requires a slice of at least [`LANES`] bytes.

use core::arch::x86_64::{
    __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
    _mm_or_si128, _mm_set1_epi8, _mm_setzero_si128, _mm_shuffle_epi8, _mm_srli_epi16,
};

use crate::http1::chars::ByteClass;

/// Bytes per SIMD step.
pub(super) const LANES: usize = 16;

/// Loads sixteen bytes at `start`.
///
/// # Safety
/// `start + 16 <= bytes.len()`.
#[inline(always)]
unsafe fn load(bytes: &[u8], start: usize) -> __m128i {
    debug_assert!(start + LANES <= bytes.len());
    // SAFETY: the caller guarantees sixteen readable bytes at start; `_mm_loadu_si128` accepts
    // any alignment.
    unsafe { _mm_loadu_si128(bytes.as_ptr().add(start).cast::<__m128i>()) }
}

/// The first position at or after `position` whose byte is not a field-value byte (a control
/// other than HTAB, or DEL), or `bytes.len()`.
///
/// # Safety
/// The CPU supports SSE2 and `bytes.len() >= LANES`.
#[target_feature(enable = "sse2")]
pub(super) unsafe fn field_value_end_sse2(bytes: &[u8], mut position: usize) -> usize {
    assert!(bytes.len() >= LANES && position <= bytes.len());
    let below_space_max = _mm_set1_epi8(0x1f);
    let delete = _mm_set1_epi8(0x7f);
    // A lane is flagged when min(byte, 0x1f) == byte (byte <= 0x1f) or byte == 0x7f.
    let flagged = |lanes: __m128i| -> u32 {
        let control = _mm_cmpeq_epi8(_mm_min_epu8(lanes, below_space_max), lanes);
        _mm_movemask_epi8(_mm_or_si128(control, _mm_cmpeq_epi8(lanes, delete))) as u32
    };
    // Each round passes at least one byte (a tab) or returns: bounded by the slice length.
    loop {
        let mut mask = 0;
        // Two blocks per step while they fit: the blocks are independent, so the CPU overlaps
        // them, and the loop branch is taken half as often. Long tokens spend their time here.
        while bytes.len() - position >= 2 * LANES {
            // SAFETY: thirty-two bytes remain from position (loop condition).
            let (first, second) = unsafe { (load(bytes, position), load(bytes, position + LANES)) };
            mask = flagged(first) | (flagged(second) << LANES);
            if mask != 0 {
                break;
            }
            position += 2 * LANES;
        }
        while mask == 0 && bytes.len() - position >= LANES {
            // SAFETY: sixteen bytes remain from position (loop condition).
            mask = flagged(unsafe { load(bytes, position) });
            if mask != 0 {
                break;
            }
            position += LANES;
        }
        if mask == 0 {
            let remaining = bytes.len() - position;
            if remaining == 0 {
                return position;
            }
            // SAFETY: the slice holds at least sixteen bytes, so len - 16 is a valid start.
            mask = flagged(unsafe { load(bytes, bytes.len() - LANES) }) >> (LANES - remaining);
            if mask == 0 {
                return bytes.len();
            }
        }
        position += mask.trailing_zeros() as usize;
        if bytes[position] != b'\t' {
            return position;
        }
        position += 1;
    }
}

/// The first position at or after `position` whose byte is not in `class`, or `bytes.len()`.
/// Membership is tested with two nibble lookups (`pshufb`), see [`ByteClass`].
///
/// # Safety
/// The CPU supports SSSE3 and `bytes.len() >= LANES`.
#[target_feature(enable = "ssse3")]
pub(super) unsafe fn class_end_ssse3(
    bytes: &[u8],
    mut position: usize,
    class: &ByteClass,
) -> usize {
    assert!(bytes.len() >= LANES && position <= bytes.len());
    // SAFETY: each table is exactly sixteen bytes.
    let low_table = unsafe { _mm_loadu_si128(class.low_nibbles.as_ptr().cast::<__m128i>()) };
    // SAFETY: as above.
    let high_table = unsafe { _mm_loadu_si128(class.high_nibbles.as_ptr().cast::<__m128i>()) };
    let nibble = _mm_set1_epi8(0x0f);
    let zero = _mm_setzero_si128();
    let outside = |lanes: __m128i| -> u32 {
        let low = _mm_and_si128(lanes, nibble);
        let high = _mm_and_si128(_mm_srli_epi16(lanes, 4), nibble);
        let members = _mm_and_si128(
            _mm_shuffle_epi8(low_table, low),
            _mm_shuffle_epi8(high_table, high),
        );
        _mm_movemask_epi8(_mm_cmpeq_epi8(members, zero)) as u32
    };
    while bytes.len() - position >= LANES {
        // SAFETY: sixteen bytes remain from position (loop condition).
        let mask = outside(unsafe { load(bytes, position) });
        if mask != 0 {
            return position + mask.trailing_zeros() as usize;
        }
        position += LANES;
    }
    let remaining = bytes.len() - position;
    if remaining == 0 {
        return position;
    }
    // SAFETY: the slice holds at least sixteen bytes, so len - 16 is a valid start.
    let mask = outside(unsafe { load(bytes, bytes.len() - LANES) }) >> (LANES - remaining);
    if mask == 0 {
        bytes.len()
    } else {
        position + mask.trailing_zeros() as usize
    }
}
