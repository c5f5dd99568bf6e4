//! The streaming digest of an upload: SHA-256 or SHA-512 fed as bytes arrive, whose state can be
//! saved in an upload's `.state` and restored after a restart (sha2's `SerializableState`).

use proto::oci::{Algorithm, DigestBuf};
use sha2::Digest as _;
use sha2::digest::common::hazmat::SerializableState;
use sha2::{Sha256, Sha512};

/// A digest being computed.
#[derive(Clone, Debug)]
pub enum StreamHasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl StreamHasher {
    pub fn new(algorithm: Algorithm) -> StreamHasher {
        match algorithm {
            Algorithm::Sha256 => StreamHasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => StreamHasher::Sha512(Sha512::new()),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            StreamHasher::Sha256(_) => Algorithm::Sha256,
            StreamHasher::Sha512(_) => Algorithm::Sha512,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            StreamHasher::Sha256(hasher) => hasher.update(bytes),
            StreamHasher::Sha512(hasher) => hasher.update(bytes),
        }
    }

    /// The digest of everything fed so far, as `algorithm:hex`.
    pub fn finish(self) -> DigestBuf {
        let algorithm = self.algorithm();
        let text = match self {
            StreamHasher::Sha256(hasher) => digest_text(algorithm, &hasher.finalize()),
            StreamHasher::Sha512(hasher) => digest_text(algorithm, &hasher.finalize()),
        };
        DigestBuf::parse(&text).expect("a computed digest is well formed")
    }

    /// The internal state, for an upload's `.state` record.
    pub fn serialize(&self) -> Vec<u8> {
        match self {
            StreamHasher::Sha256(hasher) => hasher.serialize().to_vec(),
            StreamHasher::Sha512(hasher) => hasher.serialize().to_vec(),
        }
    }

    /// Restores a state [`StreamHasher::serialize`] made; `None` when the bytes are not one.
    pub fn deserialize(algorithm: Algorithm, bytes: &[u8]) -> Option<StreamHasher> {
        match algorithm {
            Algorithm::Sha256 => {
                let state = bytes.try_into().ok()?;
                Sha256::deserialize(state).ok().map(StreamHasher::Sha256)
            }
            Algorithm::Sha512 => {
                let state = bytes.try_into().ok()?;
                Sha512::deserialize(state).ok().map(StreamHasher::Sha512)
            }
        }
    }
}

/// The digest of `bytes` in one call (manifests, tests).
pub fn digest_of(algorithm: Algorithm, bytes: &[u8]) -> DigestBuf {
    let mut hasher = StreamHasher::new(algorithm);
    hasher.update(bytes);
    hasher.finish()
}

fn digest_text(algorithm: Algorithm, hash: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(algorithm.name().len() + 1 + hash.len() * 2);
    text.push_str(algorithm.name());
    text.push(':');
    for byte in hash {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 15)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            digest_of(Algorithm::Sha256, b"abc").as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(
            digest_of(Algorithm::Sha512, b"abc")
                .as_str()
                .starts_with("sha512:ddaf35a193617aba")
        );
    }

    #[test]
    fn a_restored_state_continues_the_same_digest() {
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let data: Vec<u8> = (0..1000u32).map(|n| (n * 7) as u8).collect();
            // Split points inside and on block boundaries.
            for split in [0, 1, 63, 64, 65, 127, 128, 129, 999, 1000] {
                let mut first = StreamHasher::new(algorithm);
                first.update(&data[..split]);
                let state = first.serialize();
                let mut resumed = StreamHasher::deserialize(algorithm, &state).unwrap();
                resumed.update(&data[split..]);
                assert_eq!(
                    resumed.finish(),
                    digest_of(algorithm, &data),
                    "split {split}"
                );
            }
        }
    }

    #[test]
    fn foreign_state_bytes_are_refused() {
        let state = StreamHasher::new(Algorithm::Sha256).serialize();
        assert!(StreamHasher::deserialize(Algorithm::Sha512, &state).is_none());
        assert!(StreamHasher::deserialize(Algorithm::Sha256, &state[1..]).is_none());
    }
}
