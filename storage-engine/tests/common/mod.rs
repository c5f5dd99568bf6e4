//! Shared by the engine's integration tests and benchmarks (which include this file): monoio
//! runtimes on each driver, running a test on both, self-deleting temporary roots, and
//! pseudo-random content.

#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};

/// Which monoio driver a test body runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    IoUring,
    Legacy,
}

/// Runs `test` once on the io_uring driver and once on the legacy (epoll) driver, each time in a
/// fresh temporary folder. io_uring that cannot start fails the test: CI must cover both.
pub fn on_both_drivers<F, Fut>(test: F)
where
    F: Fn(Driver, PathBuf) -> Fut,
    Fut: Future<Output = ()>,
{
    {
        let folder = TempFolder::new("uring");
        uring_runtime().block_on(test(Driver::IoUring, folder.path().to_path_buf()));
    }
    {
        let folder = TempFolder::new("legacy");
        legacy_runtime().block_on(test(Driver::Legacy, folder.path().to_path_buf()));
    }
}

/// A runtime on io_uring; failing to build one fails the caller, because CI must cover both
/// drivers.
pub fn uring_runtime() -> monoio::Runtime<monoio::IoUringDriver> {
    monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(256)
        .build()
        .expect("io_uring runtime (check memlock and kernel.io_uring_disabled)")
}

/// A runtime on the legacy (epoll) driver.
pub fn legacy_runtime() -> monoio::Runtime<monoio::LegacyDriver> {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .build()
        .expect("legacy runtime")
}

/// A folder under the system's temporary folder, deleted with everything in it on drop.
#[derive(Debug)]
pub struct TempFolder {
    path: PathBuf,
}

impl TempFolder {
    pub fn new(label: &str) -> TempFolder {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("random");
        let suffix: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
        let path = std::env::temp_dir().join(format!("zot-engine-{label}-{suffix}"));
        std::fs::create_dir_all(&path).expect("create temporary folder");
        TempFolder { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Deterministic pseudo-random bytes (xorshift), so blobs differ and don't compress or dedupe by
/// accident.
pub fn bytes(seed: u64, length: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}
