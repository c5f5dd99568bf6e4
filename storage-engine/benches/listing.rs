//! Criterion benchmark of listing pages: a tags page (n=100, after a `last` in the middle) of a
//! repository with 1k tags and one with 100k, and a catalog page (n=100, after a `last` in the
//! middle) of a root with 1k repositories and one with 10k. The target is a flat page time: a
//! page costs a search and the page, whatever the size. The large/small ratios are printed to
//! stderr after each group.
//!
//! The roots are written straight to disk (an `index.json` with every tag, folders for every
//! repository) and opened with `Store::open`: 100k manifest puts, each rewriting the index,
//! would take hours.

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    Tally, TempFolder, ratio, repository_name, test_mode, uring_runtime, write_layout,
    write_repositories,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use storage_engine::{Disk, Store, StoreConfig};

const PAGE_ENTRIES: usize = 100;
const TAG_COUNTS: [usize; 2] = [1_000, 100_000];
const REPOSITORY_COUNTS: [usize; 2] = [1_000, 10_000];
/// In criterion's test mode (CI): writing 11k repositories takes a minute where creating a file
/// is slow, so the catalog runs on smaller roots there. Tags stay full size: one file.
const REPOSITORY_COUNTS_TEST: [usize; 2] = [300, 1_000];
const REPOSITORY: &str = "bench/tags";

fn tag_name(number: usize) -> String {
    format!("v{number:07}")
}

fn open_store(root: &Path) -> Store {
    let mut runtime = uring_runtime();
    runtime
        .block_on(Store::open(StoreConfig::new(root), Disk::new()))
        .expect("open store")
}

/// Times `iterations` calls of `page`, adding them to `tally`.
fn time_pages(iterations: u64, tally: &Tally, mut page: impl FnMut() -> usize) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        let entries = page();
        assert_eq!(entries, PAGE_ENTRIES);
    }
    let elapsed = start.elapsed();
    tally.add(elapsed, iterations);
    elapsed
}

fn report(group: &str, tallies: &[Tally; 2], counts: [usize; 2]) {
    if let Some(value) = ratio(&tallies[1], &tallies[0]) {
        let [small, large] = tallies
            .each_ref()
            .map(|tally| tally.median().unwrap_or_default());
        eprintln!(
            "{group}: page time {large:?} at {} vs {small:?} at {}: ratio = {value:.2} \
             (target: flat, about 1)",
            counts[1], counts[0]
        );
    }
}

fn tags_page(criterion: &mut Criterion) {
    let tallies = [Tally::default(), Tally::default()];
    let mut group = criterion.benchmark_group("tags_page_100");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if test_mode() { 1 } else { 3 }));
    for (tag_count, tally) in TAG_COUNTS.into_iter().zip(&tallies) {
        let folder = TempFolder::new("tags");
        let root = folder.path().join("root");
        let started = Instant::now();
        write_layout(&root.join(REPOSITORY), (0..tag_count).map(tag_name));
        eprintln!("setup: wrote {tag_count} tags in {:.1?}", started.elapsed());
        let started = Instant::now();
        let store = open_store(&root);
        eprintln!(
            "setup: opened {tag_count} tags in {:.1?}",
            started.elapsed()
        );
        let repository = store.repository(REPOSITORY).expect("the repository");
        assert_eq!(repository.tag_count(), tag_count);
        let last = tag_name(tag_count / 2);
        let first_expected = tag_name(tag_count / 2 + 1);
        let page = repository.tags_page(Some(PAGE_ENTRIES), Some(&last));
        assert_eq!(page.entries.first().copied(), Some(first_expected.as_str()));
        assert!(page.more);
        group.bench_function(BenchmarkId::from_parameter(tag_count), |bencher| {
            bencher.iter_custom(|iterations| {
                time_pages(iterations, tally, || {
                    let page = repository.tags_page(black_box(Some(PAGE_ENTRIES)), Some(&last));
                    black_box(&page);
                    page.entries.len()
                })
            });
        });
    }
    group.finish();
    report("tags_page_100", &tallies, TAG_COUNTS);
}

fn catalog_page(criterion: &mut Criterion) {
    let counts = if test_mode() {
        REPOSITORY_COUNTS_TEST
    } else {
        REPOSITORY_COUNTS
    };
    let tallies = [Tally::default(), Tally::default()];
    let mut group = criterion.benchmark_group("catalog_page_100");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if test_mode() { 1 } else { 3 }));
    for (repository_count, tally) in counts.into_iter().zip(&tallies) {
        let folder = TempFolder::new("catalog");
        let root = folder.path().join("root");
        write_repositories(&root, repository_count);
        let store = open_store(&root);
        assert_eq!(store.repository_count(), repository_count);
        let mut names: Vec<String> = (0..repository_count).map(repository_name).collect();
        names.sort();
        let last = names[repository_count / 2].clone();
        let page = store.catalog_page(Some(PAGE_ENTRIES), Some(&last));
        assert_eq!(page.entries[0], names[repository_count / 2 + 1]);
        assert!(page.more);
        group.bench_function(BenchmarkId::from_parameter(repository_count), |bencher| {
            bencher.iter_custom(|iterations| {
                time_pages(iterations, tally, || {
                    let page = store.catalog_page(black_box(Some(PAGE_ENTRIES)), Some(&last));
                    black_box(&page);
                    page.entries.len()
                })
            });
        });
    }
    group.finish();
    report("catalog_page_100", &tallies, counts);
}

criterion_group!(benches, tags_page, catalog_page);
criterion_main!(benches);
