//! Shared by the engine's benchmarks: the tests' runtimes, temporary roots and content, small
//! valid OCI manifests, roots written straight to disk, and a running mean of our own timings
//! for the ratios the benchmarks print.

#![allow(dead_code)]

use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use proto::oci::Algorithm;
use storage_engine::hasher::digest_of;
use storage_engine::store::OCI_LAYOUT;

/// Runtimes, temporary folders and content come from the tests' shared module.
#[path = "../../tests/common/mod.rs"]
mod shared;
#[allow(unused_imports)] // each bench uses its own subset
pub use shared::{TempFolder, legacy_runtime, uring_runtime};

/// Whether criterion runs in test mode (`cargo bench -- --test`): every benchmark once, for CI.
pub fn test_mode() -> bool {
    std::env::args().any(|argument| argument == "--test")
}

/// Deterministic pseudo-random bytes, so content neither compresses nor dedupes by accident.
pub fn pseudo_random(seed: u64, length: usize) -> Vec<u8> {
    shared::bytes(seed, length)
}

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A small OCI image manifest naming `config` and `layer` (each `(digest, size)`), made distinct
/// by `sequence` in an annotation: what one `docker push` of a one-layer image puts.
pub fn image_manifest(config: (&str, u64), layer: (&str, u64), sequence: u64) -> Vec<u8> {
    format!(
        concat!(
            r#"{{"schemaVersion":2,"mediaType":"{manifest}","#,
            r#""config":{{"mediaType":"{config_type}","digest":"{config}","size":{config_size}}},"#,
            r#""layers":[{{"mediaType":"{layer_type}","digest":"{layer}","size":{layer_size}}}],"#,
            r#""annotations":{{"org.example.sequence":"{sequence}"}}}}"#
        ),
        manifest = MANIFEST_MEDIA_TYPE,
        config_type = CONFIG_MEDIA_TYPE,
        config = config.0,
        config_size = config.1,
        layer_type = LAYER_MEDIA_TYPE,
        layer = layer.0,
        layer_size = layer.1,
        sequence = sequence,
    )
    .into_bytes()
}

/// Writes `bytes` as a blob of the layout at `repository` and returns its digest text. Plain
/// writes, no `fsync`: fixtures only need to be readable.
pub fn write_blob(repository: &Path, bytes: &[u8]) -> String {
    let digest = digest_of(Algorithm::Sha256, bytes);
    let encoded = digest
        .as_str()
        .strip_prefix("sha256:")
        .expect("a sha256 digest");
    let folder = repository.join("blobs").join("sha256");
    std::fs::create_dir_all(&folder).expect("create blob folder");
    std::fs::write(folder.join(encoded), bytes).expect("write blob");
    digest.as_str().to_owned()
}

/// Writes a complete OCI layout at `repository` straight to disk, as zot or this engine would
/// have left it: `oci-layout`, an empty `.uploads/`, one image (manifest, config and a small
/// layer) under `blobs/sha256/` and an `index.json` in which every tag of `tags` names that
/// manifest. Far faster than `tags.len()`
/// manifest puts, each of which rewrites the whole index.
pub fn write_layout(repository: &Path, tags: impl IntoIterator<Item = String>) {
    std::fs::create_dir_all(repository.join(".uploads")).expect("create .uploads");
    std::fs::write(repository.join("oci-layout"), OCI_LAYOUT).expect("write oci-layout");
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let config_digest = write_blob(repository, config);
    let layer = pseudo_random(1, 32);
    let layer_digest = write_blob(repository, &layer);
    let manifest = image_manifest(
        (&config_digest, config.len() as u64),
        (&layer_digest, layer.len() as u64),
        0,
    );
    let manifest_digest = write_blob(repository, &manifest);
    let mut index = String::from(r#"{"schemaVersion":2,"mediaType":"#);
    index.push_str(r#""application/vnd.oci.image.index.v1+json","manifests":["#);
    let mut first = true;
    for tag in tags {
        if !first {
            index.push(',');
        }
        first = false;
        write!(
            index,
            concat!(
                r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size},"#,
                r#""annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}"#
            ),
            media_type = MANIFEST_MEDIA_TYPE,
            digest = manifest_digest,
            size = manifest.len(),
            tag = tag,
        )
        .expect("write to a String");
    }
    index.push_str("]}");
    std::fs::write(repository.join("index.json"), index).expect("write index.json");
}

/// The name of repository `number` of a root written by [`write_repositories`]: two levels, as
/// `library/alpine` has, zero-padded so lexical order is numeric order.
pub fn repository_name(number: usize) -> String {
    format!("project{:03}/image{number:06}", number % 100)
}

/// Writes `count` repositories, each a [`write_layout`] with two tags, under `root`, on a few
/// threads: creating a file or folder costs up to a millisecond of kernel time on some file
/// systems (ext4 without a journal scans for recently deleted inodes), and 10k repositories are
/// about 90k of them.
pub fn write_repositories(root: &Path, count: usize) {
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |threads| threads.get().min(8));
    std::thread::scope(|scope| {
        for first in 0..threads {
            scope.spawn(move || {
                for number in (first..count).step_by(threads) {
                    let repository = root.join(repository_name(number));
                    write_layout(&repository, ["latest".to_owned(), "v1.0".to_owned()]);
                }
            });
        }
    });
    eprintln!(
        "setup: wrote {count} repositories in {:.1?}",
        started.elapsed()
    );
}

/// Our own timings of one benchmark, for the ratios printed after a group: criterion's estimates
/// are not written in `--test` mode, and these are the same measurements. Each call of the
/// `iter_custom` closure adds its mean; the median of those means shrugs off the warm-up calls
/// and the odd outlier on a shared machine.
#[derive(Debug, Default)]
pub struct Tally {
    means: RefCell<Vec<Duration>>,
}

impl Tally {
    pub fn add(&self, elapsed: Duration, iterations: u64) {
        assert!(iterations > 0, "criterion asks for at least one iteration");
        let iterations = u32::try_from(iterations).unwrap_or(u32::MAX);
        self.means.borrow_mut().push(elapsed / iterations);
    }

    /// The median time per iteration, `None` before the first.
    pub fn median(&self) -> Option<Duration> {
        let mut means = self.means.borrow().clone();
        means.sort_unstable();
        means.get(means.len() / 2).copied()
    }
}

/// `numerator / denominator` of two tallies' medians, when both ran (a benchmark filter may skip
/// one).
pub fn ratio(numerator: &Tally, denominator: &Tally) -> Option<f64> {
    Some(numerator.median()?.as_secs_f64() / denominator.median()?.as_secs_f64())
}
