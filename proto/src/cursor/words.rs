//! The portable word-at-a-time field-value scan: eight bytes per step with integer arithmetic,
//! for targets without the SIMD kernels and for slices shorter than sixteen bytes.

/// Eight copies of the byte 0x01.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// Eight copies of the byte 0x80: the top bit of every lane.
const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Moves from `position` over field-value bytes eight at a time. Returns the position of the
/// first control byte or DEL, or, when fewer than eight bytes remain unseen, the position from
/// which the caller finishes byte by byte.
#[inline]
pub(super) fn field_value_end(bytes: &[u8], mut position: usize) -> usize {
    assert!(position <= bytes.len());
    while let Some(block) = bytes.get(position..position + 8) {
        let word = u64::from_le_bytes(block.try_into().expect("eight bytes"));
        let mask = control_or_delete_lanes(word);
        if mask == 0 {
            position += 8;
            continue;
        }
        // The lowest flagged lane is always a true match (a borrow only moves upward), so
        // this is the first byte that is a control or DEL.
        position += (mask.trailing_zeros() / 8) as usize;
        if bytes[position] != b'\t' {
            return position;
        }
        position += 1;
    }
    position
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
