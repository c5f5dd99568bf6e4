//! The blob contents zb pushes: generated once per size into memory, hashed once, and made
//! unique per push by a short tail whose hash costs one SHA-256 block or two.
//!
//! zot's zb pushes the same file for every image of a size (zeros after a random first page),
//! so a registry that deduplicates stores it once and a push measures little more than a hash.
//! By default every layer here differs from every other: a shared random prefix, whose hash
//! state is kept, followed by a tail holding the run's identifier and a counter.

use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of a layer that differ per push; at least one SHA-256 block (64 bytes).
pub const TAIL_BYTES_MIN: usize = 64;
/// zot's sparse blobs start with this many random bytes, the rest are zeros.
pub const SPARSE_RANDOM_BYTES: usize = 4 * 1024;
/// The smallest blob size accepted: one tail.
pub const BLOB_BYTES_MIN: usize = TAIL_BYTES_MIN;
/// The SHA-256 block size: the shared prefix ends on a block boundary so its state can be kept.
const BLOCK_BYTES: usize = 64;

/// The media types of what zb pushes, as zot's zb writes them.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// One blob size's content.
#[derive(Debug)]
pub struct BlobSource {
    /// The blob size in bytes.
    pub size_bytes: usize,
    /// The bytes every layer of this size starts with (the whole layer when sparse).
    prefix: &'static [u8],
    /// The bytes after the prefix, before the unique part is written into them.
    tail_template: Vec<u8>,
    /// The hash state after the prefix.
    prefix_state: Sha256,
    /// True when every push gets a different layer.
    unique: bool,
}

/// One layer to push: the shared prefix, then its own tail.
#[derive(Debug, Clone)]
pub struct Layer {
    pub prefix: &'static [u8],
    pub tail: Vec<u8>,
    pub digest: String,
}

impl Layer {
    pub fn size_bytes(&self) -> usize {
        self.prefix.len() + self.tail.len()
    }
}

/// Where unique tails get their numbers from: one counter for the whole run.
static LAYER_COUNTER: AtomicU64 = AtomicU64::new(0);

impl BlobSource {
    /// Generates the content of one size: random, or zot's sparse layout (random first page,
    /// then zeros, the same for every push). The prefix is leaked: it lives as long as the run,
    /// and the kernel writes from it without a copy.
    pub fn generate(size_bytes: usize, sparse: bool) -> Result<BlobSource, getrandom::Error> {
        assert!(
            size_bytes >= BLOB_BYTES_MIN,
            "blob size below {BLOB_BYTES_MIN} bytes"
        );
        let (prefix_bytes, unique) = if sparse {
            (size_bytes, false)
        } else {
            (
                (size_bytes - TAIL_BYTES_MIN) / BLOCK_BYTES * BLOCK_BYTES,
                true,
            )
        };
        let mut prefix = vec![0u8; prefix_bytes];
        if sparse {
            let random_bytes = prefix_bytes.min(SPARSE_RANDOM_BYTES);
            getrandom::fill(&mut prefix[..random_bytes])?;
        } else {
            getrandom::fill(&mut prefix)?;
        }
        let mut tail_template = vec![0u8; size_bytes - prefix_bytes];
        getrandom::fill(&mut tail_template)?;
        let mut prefix_state = Sha256::new();
        prefix_state.update(&prefix);
        let prefix: &'static [u8] = Box::leak(prefix.into_boxed_slice());
        Ok(BlobSource {
            size_bytes,
            prefix,
            tail_template,
            prefix_state,
            unique,
        })
    }

    /// The next layer of this size: a fresh digest unless the source is sparse.
    pub fn next_layer(&self) -> Layer {
        let mut tail = self.tail_template.clone();
        if self.unique {
            let number = LAYER_COUNTER.fetch_add(1, Ordering::Relaxed);
            tail[..8].copy_from_slice(&number.to_le_bytes());
        }
        let mut state = self.prefix_state.clone();
        state.update(&tail);
        let digest = format!("sha256:{}", hex(&state.finalize()));
        let layer = Layer {
            prefix: self.prefix,
            tail,
            digest,
        };
        debug_assert_eq!(layer.size_bytes(), self.size_bytes);
        layer
    }
}

/// The image config every image shares, as zot's zb writes it, and its digest.
pub fn image_config() -> (Vec<u8>, String) {
    let config = serde_json::json!({
        "created": "2011-01-01T01:01:01Z",
        "author": "ZotUser",
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []}
    });
    let bytes = serde_json::to_vec_pretty(&config).unwrap_or_default();
    assert!(!bytes.is_empty());
    let digest = sha256_digest(&bytes);
    (bytes, digest)
}

/// An image manifest with one config and one layer.
pub fn image_manifest(config_digest: &str, config_bytes: usize, layer: &Layer) -> Vec<u8> {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config_bytes},
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": layer.digest, "size": layer.size_bytes()}]
    });
    serde_json::to_vec(&manifest).unwrap_or_default()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_layers_differ_and_their_digests_match_their_bytes() {
        for size_bytes in [64, 1000, 4096, 100_003] {
            let source = BlobSource::generate(size_bytes, false).unwrap();
            let first = source.next_layer();
            let second = source.next_layer();
            assert_ne!(first.digest, second.digest);
            for layer in [first, second] {
                let mut whole = layer.prefix.to_vec();
                whole.extend_from_slice(&layer.tail);
                assert_eq!(whole.len(), size_bytes);
                assert_eq!(sha256_digest(&whole), layer.digest);
            }
        }
    }

    #[test]
    fn sparse_layers_are_all_the_same_and_mostly_zero() {
        let source = BlobSource::generate(100_000, true).unwrap();
        let first = source.next_layer();
        let second = source.next_layer();
        assert_eq!(first.digest, second.digest);
        assert_eq!(first.size_bytes(), 100_000);
        assert!(
            first.prefix[SPARSE_RANDOM_BYTES..]
                .iter()
                .all(|&byte| byte == 0)
        );
        assert_eq!(sha256_digest(first.prefix), first.digest);
    }
}
