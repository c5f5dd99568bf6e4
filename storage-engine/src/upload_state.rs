//! The `.state` record of an upload session (docs/design.md, section 5): what makes a chunked
//! upload resumable after a restart. Invariant I6 is about what it describes.
//!
//! ```text
//! magic "ZOTRSUP1" (8) | offset u64 LE (8) | algorithm (1) | created u64 LE (8)
//! | hasher state length u16 LE (2) | hasher state (n) | CRC-32C of all before, u32 LE (4)
//! ```
//!
//! The `.state` file holds two slots of `SLOT_BYTES`, each one record padded with zeros. Each
//! acknowledged chunk overwrites the slot that does not hold the newest record, then syncs: a
//! write torn by a crash damages only that slot, and the other still holds the previous
//! acknowledged state. No rename and no folder sync per chunk.

use core::fmt;

use proto::oci::Algorithm;

use crate::limits::UPLOAD_HASHER_STATE_BYTES_MAX;

/// Identifies version 1 of the record. A new layout gets a new magic.
const MAGIC: &[u8; 8] = b"ZOTRSUP1";
/// Bytes around the hasher state: magic, offset, algorithm, created, length, checksum.
const FIXED_BYTES: usize = 8 + 8 + 1 + 8 + 2 + 4;

/// Bytes of one slot of a `.state` file; the file holds two.
pub const SLOT_BYTES: usize = 1024;
/// How many slots a `.state` file holds.
pub const SLOT_COUNT: usize = 2;

const _: () = assert!(FIXED_BYTES + UPLOAD_HASHER_STATE_BYTES_MAX <= SLOT_BYTES);

/// Why a `.state` record cannot be used. Any of these at open means the session is deleted: it
/// was never acknowledged past a state that survives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadStateError {
    /// Shorter than its fields say.
    Truncated,
    /// Another record version, or not a record.
    Magic,
    /// An algorithm code this engine does not know.
    Algorithm,
    /// A hasher state longer than `UPLOAD_HASHER_STATE_BYTES_MAX`.
    HasherStateTooLong,
    /// The CRC-32C does not match: a torn or damaged write.
    Checksum,
    /// Bytes after the checksum.
    TrailingBytes,
}

impl fmt::Display for UploadStateError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            UploadStateError::Truncated => "upload state is truncated",
            UploadStateError::Magic => "upload state has an unknown version",
            UploadStateError::Algorithm => "upload state names an unknown digest algorithm",
            UploadStateError::HasherStateTooLong => "upload state hasher state is too long",
            UploadStateError::Checksum => "upload state checksum does not match",
            UploadStateError::TrailingBytes => "upload state has trailing bytes",
        })
    }
}

impl std::error::Error for UploadStateError {}

/// The resumable state of one upload session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadState {
    /// Bytes acknowledged: the data file's first `offset` bytes are the upload so far.
    pub offset: u64,
    pub algorithm: Algorithm,
    /// When the session was created, for expiry.
    pub created_unix_seconds: u64,
    /// The hasher's serialized state after exactly `offset` bytes.
    pub hasher_state: Vec<u8>,
}

impl UploadState {
    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        assert!(
            self.hasher_state.len() <= UPLOAD_HASHER_STATE_BYTES_MAX,
            "a hasher state this engine made fits the record"
        );
        let mut bytes = Vec::with_capacity(FIXED_BYTES + self.hasher_state.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&self.offset.to_le_bytes());
        bytes.push(algorithm_code(self.algorithm));
        bytes.extend_from_slice(&self.created_unix_seconds.to_le_bytes());
        let length = u16::try_from(self.hasher_state.len()).expect("bounded by the limit above");
        bytes.extend_from_slice(&length.to_le_bytes());
        bytes.extend_from_slice(&self.hasher_state);
        let checksum = crc32c(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        debug_assert_eq!(bytes.len(), FIXED_BYTES + self.hasher_state.len());
        bytes
    }

    /// Reads a record, checking every field and the checksum.
    pub fn decode(bytes: &[u8]) -> Result<UploadState, UploadStateError> {
        if bytes.len() < FIXED_BYTES {
            return Err(UploadStateError::Truncated);
        }
        if &bytes[..8] != MAGIC {
            return Err(UploadStateError::Magic);
        }
        let length = usize::from(u16::from_le_bytes([bytes[25], bytes[26]]));
        if length > UPLOAD_HASHER_STATE_BYTES_MAX {
            return Err(UploadStateError::HasherStateTooLong);
        }
        let checksum_at = 27 + length;
        let Some(checksum) = bytes.get(checksum_at..checksum_at + 4) else {
            return Err(UploadStateError::Truncated);
        };
        if bytes.len() > checksum_at + 4 {
            return Err(UploadStateError::TrailingBytes);
        }
        let expected = u32::from_le_bytes(checksum.try_into().expect("four bytes"));
        if crc32c(&bytes[..checksum_at]) != expected {
            return Err(UploadStateError::Checksum);
        }
        let algorithm = match bytes[16] {
            1 => Algorithm::Sha256,
            2 => Algorithm::Sha512,
            _ => return Err(UploadStateError::Algorithm),
        };
        let number = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight"));
        Ok(UploadState {
            offset: number(8),
            algorithm,
            created_unix_seconds: number(17),
            hasher_state: bytes[27..checksum_at].to_vec(),
        })
    }
}

impl UploadState {
    /// The record padded with zeros to one slot.
    pub fn encode_slot(&self) -> Vec<u8> {
        let mut slot = self.encode();
        slot.resize(SLOT_BYTES, 0);
        slot
    }

    /// The newest valid record of a `.state` file and the slot that holds it. A file of one bare
    /// record is read too. The newest is the one with the larger offset: offsets only grow.
    pub fn decode_newest(file: &[u8]) -> Result<(UploadState, usize), UploadStateError> {
        if let Ok(state) = UploadState::decode(file) {
            return Ok((state, 0));
        }
        let mut newest: Option<(UploadState, usize)> = None;
        let mut first_error = UploadStateError::Truncated;
        for (slot_index, slot) in file.chunks(SLOT_BYTES).take(SLOT_COUNT).enumerate() {
            match UploadState::decode(record_of_slot(slot)) {
                Ok(state) => {
                    if newest
                        .as_ref()
                        .is_none_or(|(best, _)| state.offset > best.offset)
                    {
                        newest = Some((state, slot_index));
                    }
                }
                Err(error) if slot_index == 0 => first_error = error,
                Err(_) => {}
            }
        }
        newest.ok_or(first_error)
    }
}

/// The record at the start of a slot, without its zero padding.
fn record_of_slot(slot: &[u8]) -> &[u8] {
    let Some(length) = slot.get(25..27) else {
        return slot;
    };
    let hasher_state_bytes = usize::from(u16::from_le_bytes([length[0], length[1]]));
    &slot[..slot.len().min(FIXED_BYTES + hasher_state_bytes)]
}

fn algorithm_code(algorithm: Algorithm) -> u8 {
    match algorithm {
        Algorithm::Sha256 => 1,
        Algorithm::Sha512 => 2,
    }
}

/// CRC-32C (Castagnoli), the checksum of the record: better at catching torn writes than
/// CRC-32, and what storage formats commonly use.
fn crc32c(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &byte| {
        CRC32C_TABLE[usize::from((crc as u8) ^ byte)] ^ (crc >> 8)
    })
}

/// The byte-at-a-time table of the reflected Castagnoli polynomial.
static CRC32C_TABLE: [u32; 256] = build_crc32c_table();

const fn build_crc32c_table() -> [u32; 256] {
    const POLYNOMIAL: u32 = 0x82f6_3b78;
    let mut table = [0u32; 256];
    let mut index = 0;
    while index < 256 {
        let mut crc = index as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLYNOMIAL
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[index] = crc;
        index += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> UploadState {
        UploadState {
            offset: 123_456_789,
            algorithm: Algorithm::Sha256,
            created_unix_seconds: 1_790_000_000,
            hasher_state: (0u8..104).collect(),
        }
    }

    #[test]
    fn the_newest_valid_slot_wins_and_a_torn_slot_is_skipped() {
        let older = UploadState {
            offset: 10,
            ..sample()
        };
        let newer = UploadState {
            offset: 20,
            ..sample()
        };
        let mut file = older.encode_slot();
        file.extend(newer.encode_slot());
        assert_eq!(UploadState::decode_newest(&file), Ok((newer.clone(), 1)));
        // A crash tore the write of slot 1: slot 0 still holds the acknowledged state.
        file[SLOT_BYTES + 40] ^= 0xff;
        assert_eq!(UploadState::decode_newest(&file), Ok((older.clone(), 0)));
        // Only the first slot written so far.
        assert_eq!(
            UploadState::decode_newest(&older.encode_slot()),
            Ok((older.clone(), 0))
        );
        // Both damaged.
        file[40] ^= 0xff;
        assert_eq!(
            UploadState::decode_newest(&file),
            Err(UploadStateError::Checksum)
        );
        assert!(UploadState::decode_newest(&[]).is_err());
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // The catalogued check value of CRC-32C over "123456789".
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn records_round_trip() {
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let state = UploadState {
                algorithm,
                ..sample()
            };
            let bytes = state.encode();
            assert_eq!(&bytes[..8], MAGIC);
            assert_eq!(UploadState::decode(&bytes), Ok(state));
        }
        let empty = UploadState {
            offset: 0,
            hasher_state: Vec::new(),
            ..sample()
        };
        assert_eq!(UploadState::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn every_torn_prefix_is_rejected() {
        let bytes = sample().encode();
        for end in 0..bytes.len() {
            assert!(
                UploadState::decode(&bytes[..end]).is_err(),
                "prefix of {end} bytes"
            );
        }
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let bytes = sample().encode();
        for index in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[index] ^= 1 << bit;
                assert!(
                    UploadState::decode(&damaged).is_err(),
                    "bit {bit} of byte {index}"
                );
            }
        }
    }

    #[test]
    fn each_error_is_reported() {
        let bytes = sample().encode();
        let mut other_version = bytes.clone();
        other_version[7] = b'2';
        assert_eq!(
            UploadState::decode(&other_version),
            Err(UploadStateError::Magic)
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            UploadState::decode(&trailing),
            Err(UploadStateError::TrailingBytes)
        );
        assert_eq!(
            UploadState::decode(&bytes[..10]),
            Err(UploadStateError::Truncated)
        );

        // Fields that are wrong but checksummed as written: re-seal after the change.
        let reseal = |mut body: Vec<u8>| {
            body.truncate(body.len() - 4);
            let checksum = crc32c(&body);
            body.extend_from_slice(&checksum.to_le_bytes());
            body
        };
        let mut unknown_algorithm = bytes.clone();
        unknown_algorithm[16] = 9;
        assert_eq!(
            UploadState::decode(&reseal(unknown_algorithm)),
            Err(UploadStateError::Algorithm)
        );
        let mut too_long = bytes.clone();
        too_long[25..27].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(
            UploadState::decode(&too_long),
            Err(UploadStateError::HasherStateTooLong)
        );
        for error in [UploadStateError::Checksum, UploadStateError::Truncated] {
            assert!(!error.to_string().is_empty());
        }
    }
}
