//! Each core's cache of manifest bytes by digest, so a manifest GET answered on this core reads
//! no file once the manifest has been read here before.
//!
//! Keyed by digest alone: a digest names its bytes forever (I12), so an entry never goes stale.
//! Whether a repository may serve a digest is decided by its owner before the cache is asked;
//! a manifest deleted since is answered as if the GET came just before the delete.

use std::collections::{HashMap, VecDeque};

/// Manifests bytes a core keeps, oldest out first.
#[derive(Debug)]
pub(crate) struct ManifestCache {
    entries: HashMap<String, Vec<u8>>,
    /// Digests in the order they came in; the front goes first.
    order: VecDeque<String>,
    bytes: usize,
    bytes_max: usize,
}

impl ManifestCache {
    pub(crate) fn new(bytes_max: usize) -> ManifestCache {
        ManifestCache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            bytes_max,
        }
    }

    pub(crate) fn get(&self, digest: &str) -> Option<&[u8]> {
        self.entries.get(digest).map(Vec::as_slice)
    }

    /// Keeps `bytes` under `digest`, dropping the oldest entries to make room. A manifest larger
    /// than an eighth of the cache is not kept: one would push out many small ones.
    pub(crate) fn insert(&mut self, digest: &str, bytes: &[u8]) {
        if bytes.len() > self.bytes_max / 8 || self.entries.contains_key(digest) {
            return;
        }
        // Bounded: each pass removes one of the entries.
        while self.bytes + bytes.len() > self.bytes_max {
            let oldest = self
                .order
                .pop_front()
                .expect("entries are in the order while bytes are counted");
            let removed = self
                .entries
                .remove(&oldest)
                .expect("the order lists only kept digests");
            self.bytes -= removed.len();
        }
        self.entries.insert(digest.to_owned(), bytes.to_vec());
        self.order.push_back(digest.to_owned());
        self.bytes += bytes.len();
        assert!(self.bytes <= self.bytes_max);
        assert_eq!(self.entries.len(), self.order.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_go_first_and_the_bound_holds() {
        let mut cache = ManifestCache::new(800);
        cache.insert("a", &[1; 100]);
        cache.insert("b", &[2; 100]);
        cache.insert("huge", &[0; 101]);
        assert!(cache.get("huge").is_none(), "over an eighth: not kept");
        for index in 0..6 {
            cache.insert(&format!("c{index}"), &[3; 100]);
        }
        // 800 bytes hold eight entries of 100: a and b are still there.
        assert_eq!(cache.get("a"), Some(&[1u8; 100][..]));
        cache.insert("d", &[4; 100]);
        assert!(cache.get("a").is_none());
        assert_eq!(cache.get("b"), Some(&[2u8; 100][..]));
        assert_eq!(cache.get("d"), Some(&[4u8; 100][..]));
        assert!(cache.bytes <= 800);
    }
}
