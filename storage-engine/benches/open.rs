//! Criterion benchmark of `Store::open` on a root with 10k repositories, each a complete layout
//! (`oci-layout`, an `index.json` with two tags, an empty `.uploads/`, one image under
//! `blobs/sha256/`), as a registry restart finds it. The target is under a second. Measured on
//! io_uring and on the legacy driver, with a warm page cache (the root was just written; a cold
//! cache needs root to drop it, which a shared machine should not do).

mod common;

use std::time::{Duration, Instant};

use common::{TempFolder, legacy_runtime, test_mode, uring_runtime, write_repositories};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use storage_engine::{Disk, Store, StoreConfig};

const REPOSITORY_COUNT: usize = 10_000;
/// In criterion's test mode (CI) the root is smaller: writing 10k repositories takes most of a
/// minute where creating a file is slow.
const REPOSITORY_COUNT_TEST: usize = 1_000;
const TARGET: Duration = Duration::from_secs(1);

/// Opens the root `iterations` times on `runtime`; returns the time spent in `Store::open`.
fn open_times<D: monoio::Driver>(
    runtime: &mut monoio::Runtime<D>,
    root: &std::path::Path,
    repository_count: usize,
    iterations: u64,
    slowest: &mut Duration,
) -> Duration {
    let mut elapsed = Duration::ZERO;
    for _ in 0..iterations {
        let (took, store) = runtime.block_on(async {
            let start = Instant::now();
            let store = Store::open(StoreConfig::new(root), Disk::new())
                .await
                .expect("open store");
            (start.elapsed(), store)
        });
        assert_eq!(store.repository_count(), repository_count);
        // Dropping 10k repositories is not part of opening.
        drop(store);
        *slowest = (*slowest).max(took);
        elapsed += took;
    }
    elapsed
}

fn open(criterion: &mut Criterion) {
    let folder = TempFolder::new("open");
    let root = folder.path().join("root");
    let repository_count = if test_mode() {
        REPOSITORY_COUNT_TEST
    } else {
        REPOSITORY_COUNT
    };
    write_repositories(&root, repository_count);

    let group_name = format!("open_{repository_count}_repositories");
    let mut group = criterion.benchmark_group(&group_name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(repository_count as u64))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if test_mode() { 1 } else { 5 }));
    let mut slowest_uring = Duration::ZERO;
    let mut runtime = uring_runtime();
    group.bench_function("io_uring", |bencher| {
        bencher.iter_custom(|iterations| {
            open_times(
                &mut runtime,
                &root,
                repository_count,
                iterations,
                &mut slowest_uring,
            )
        });
    });
    drop(runtime);
    let mut slowest_legacy = Duration::ZERO;
    let mut runtime = legacy_runtime();
    group.bench_function("legacy", |bencher| {
        bencher.iter_custom(|iterations| {
            open_times(
                &mut runtime,
                &root,
                repository_count,
                iterations,
                &mut slowest_legacy,
            )
        });
    });
    group.finish();
    for (driver, slowest) in [("io_uring", slowest_uring), ("legacy", slowest_legacy)] {
        if slowest == Duration::ZERO {
            continue;
        }
        let verdict = match (repository_count == REPOSITORY_COUNT, slowest < TARGET) {
            (true, true) => "met",
            (true, false) => "MISSED",
            (false, _) => "not judged: a smaller root in test mode",
        };
        eprintln!(
            "{group_name}/{driver}: slowest open {slowest:.1?} (target < {TARGET:?} at \
             {REPOSITORY_COUNT}: {verdict})"
        );
    }
}

criterion_group!(benches, open);
criterion_main!(benches);
