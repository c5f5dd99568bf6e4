//! Criterion benchmark of a 100 MiB blob upload in 1 MiB chunks, hashing and commit included,
//! next to hashing the same bytes alone: the target is an upload within 1.2× the hash time,
//! that is, writing and syncing hide behind the digest the upload must compute anyway.
//!
//! - `sha256_only`: `StreamHasher` over the 100 chunks, the floor an upload cannot beat.
//! - `copy_and_sha256`: the same plus copying each chunk into a reused buffer, which the upload
//!   also does (a server's network read fills a buffer the same way).
//! - `upload_commit/<driver>`: `Upload::create` (not resumable, as a monolithic or streamed
//!   PUT), 100 appends, `commit` with the right digest; on io_uring and on the legacy driver.
//! - `upload_acknowledge_each_MiB/io_uring`: a resumable session acknowledged after every
//!   chunk, the durability cost of a chunked PATCH per MiB (a data `fsync` and a `.state`
//!   write and `fsync` per chunk).
//!
//! Each iteration writes a new file: the committed blob and its dedupe master are deleted after
//! the timed part. The ratios to `sha256_only` are printed to stderr after the group, from the
//! same timings criterion gets.

mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Tally, TempFolder, legacy_runtime, pseudo_random, ratio, test_mode, uring_runtime};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use proto::oci::{Algorithm, DigestBuf, RepositoryName};
use storage_engine::hasher::StreamHasher;
use storage_engine::layout::blobstore_blob;
use storage_engine::limits::UPLOAD_WRITES_IN_FLIGHT_MAX;
use storage_engine::{Disk, Resumable, Store, StoreConfig};

const CHUNK_BYTES: usize = 1 << 20;
const CHUNK_COUNT: usize = 100;
const REPOSITORY: &str = "bench/upload";

/// The blob: 100 chunks of pseudo-random bytes, and its digest.
struct Content {
    chunks: Vec<Vec<u8>>,
    digest: DigestBuf,
}

impl Content {
    fn new() -> Content {
        let chunks: Vec<Vec<u8>> = (0..CHUNK_COUNT)
            .map(|index| pseudo_random(index as u64 + 1, CHUNK_BYTES))
            .collect();
        let digest = hash(&chunks);
        Content { chunks, digest }
    }

    fn bytes(&self) -> u64 {
        (self.chunks.len() * CHUNK_BYTES) as u64
    }
}

fn hash(chunks: &[Vec<u8>]) -> DigestBuf {
    let mut hasher = StreamHasher::new(Algorithm::Sha256);
    for chunk in chunks {
        hasher.update(chunk);
    }
    hasher.finish()
}

fn repository() -> RepositoryName<'static> {
    RepositoryName::parse(REPOSITORY).expect("a valid name")
}

/// A store with the benchmark's repository, on a runtime of driver `D`, and the spare chunk
/// buffers that carry over from one upload to the next.
struct Bench<D: monoio::Driver> {
    runtime: monoio::Runtime<D>,
    store: Store,
    spare: Vec<Vec<u8>>,
    /// Chunk buffers allocated inside the timed part because no spare was at hand.
    allocations_timed: u64,
    uploads: u64,
    _folder: TempFolder,
}

impl<D: monoio::Driver> Bench<D> {
    fn new(mut runtime: monoio::Runtime<D>, label: &str) -> Bench<D> {
        let folder = TempFolder::new(label);
        let config = StoreConfig::new(folder.path().join("root"));
        let store = runtime.block_on(async {
            let mut store = Store::open(config, Disk::new()).await.expect("open store");
            store
                .create_repository(repository())
                .await
                .expect("create repository");
            store
        });
        Bench {
            runtime,
            store,
            spare: Vec::new(),
            allocations_timed: 0,
            uploads: 0,
            _folder: folder,
        }
    }

    /// Uploads and commits `content` `iterations` times; returns the time spent inside the
    /// uploads only.
    fn upload(&mut self, content: &Content, resumable: Resumable, iterations: u64) -> Duration {
        let mut elapsed = Duration::ZERO;
        for _ in 0..iterations {
            // Enough buffers for every write in flight plus the one being filled: commit and
            // acknowledge drop the buffers of the writes they wait for.
            while self.spare.len() <= UPLOAD_WRITES_IN_FLIGHT_MAX {
                self.spare.push(Vec::with_capacity(CHUNK_BYTES));
            }
            let store = &self.store;
            let spare = &mut self.spare;
            let allocations = &mut self.allocations_timed;
            let took = self.runtime.block_on(async {
                let start = Instant::now();
                let mut upload = store
                    .start_upload(repository(), Algorithm::Sha256, resumable)
                    .await
                    .expect("create upload");
                for chunk in &content.chunks {
                    if let Some(kept) = upload.take_spare_buffer() {
                        spare.push(kept);
                    }
                    let mut buffer = spare.pop().unwrap_or_else(|| {
                        *allocations += 1;
                        Vec::with_capacity(CHUNK_BYTES)
                    });
                    buffer.extend_from_slice(chunk);
                    if let Some(returned) = upload.append(buffer).await.expect("append") {
                        spare.push(returned);
                    }
                    if resumable == Resumable::Yes {
                        upload.acknowledge().await.expect("acknowledge");
                    }
                }
                let committed = upload
                    .commit(content.digest.as_digest())
                    .await
                    .expect("commit");
                let took = start.elapsed();
                spare.extend(std::iter::from_fn(|| upload.take_spare_buffer()));
                assert_eq!(committed.size, content.bytes());
                assert_eq!(committed.digest, content.digest);
                // On io_uring, dropping the upload queues the close of its file. It must reach
                // the kernel before the blob's names go: otherwise that close is the last
                // reference, and freeing 100 MiB of blocks (~20 ms) lands in the next timed
                // upload's first submission instead of here.
                drop(upload);
                remove_blob(store, &content.digest).await;
                took
            });
            elapsed += took;
            self.uploads += 1;
        }
        elapsed
    }

    /// Like [`Bench::upload`], but the chunks are copied into their buffers before the clock
    /// starts: the time is the engine's alone (hash, writes, commit), as when a server hands it
    /// buffers the network already filled.
    fn upload_prefilled(&mut self, content: &Content, iterations: u64) -> Duration {
        let mut elapsed = Duration::ZERO;
        for _ in 0..iterations {
            let mut filled: Vec<Vec<u8>> = content
                .chunks
                .iter()
                .map(|chunk| {
                    let mut buffer = self
                        .spare
                        .pop()
                        .unwrap_or_else(|| Vec::with_capacity(CHUNK_BYTES));
                    buffer.extend_from_slice(chunk);
                    buffer
                })
                .collect();
            let store = &self.store;
            let spare = &mut self.spare;
            let took = self.runtime.block_on(async {
                let start = Instant::now();
                let mut upload = store
                    .start_upload(repository(), Algorithm::Sha256, Resumable::No)
                    .await
                    .expect("create upload");
                for buffer in filled.drain(..) {
                    if let Some(returned) = upload.append(buffer).await.expect("append") {
                        spare.push(returned);
                    }
                }
                let committed = upload
                    .commit(content.digest.as_digest())
                    .await
                    .expect("commit");
                let took = start.elapsed();
                spare.extend(std::iter::from_fn(|| upload.take_spare_buffer()));
                assert_eq!(committed.digest, content.digest);
                drop(upload);
                remove_blob(store, &content.digest).await;
                took
            });
            elapsed += took;
            self.uploads += 1;
        }
        elapsed
    }
}

/// Deletes the committed blob and its dedupe master so the next upload writes a new file.
async fn remove_blob(store: &Store, digest: &DigestBuf) {
    let paths = store.root().repository(repository());
    let names: [PathBuf; 2] = [
        paths.blob(digest.as_digest()),
        blobstore_blob(store.root().directory(), digest.as_digest()),
    ];
    for name in names {
        match monoio::fs::remove_file(&name).await {
            Ok(()) => {}
            // Without dedupe (or where links fail) there is no master copy.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => panic!("remove {}: {error}", name.display()),
        }
    }
}

fn upload_100_mib(criterion: &mut Criterion) {
    let content = Content::new();
    let hash_only = Tally::default();
    let copy_and_hash = Tally::default();
    let uring = Tally::default();
    let uring_prefilled = Tally::default();
    let legacy = Tally::default();
    let acknowledged = Tally::default();

    let mut group = criterion.benchmark_group("upload_100MiB");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if test_mode() { 1 } else { 8 }))
        .throughput(Throughput::Bytes(content.bytes()));

    group.bench_function("sha256_only", |bencher| {
        bencher.iter_custom(|iterations| {
            let start = Instant::now();
            for _ in 0..iterations {
                black_box(hash(black_box(&content.chunks)));
            }
            let elapsed = start.elapsed();
            hash_only.add(elapsed, iterations);
            elapsed
        });
    });

    group.bench_function("copy_and_sha256", |bencher| {
        let mut buffer = Vec::with_capacity(CHUNK_BYTES);
        bencher.iter_custom(|iterations| {
            let start = Instant::now();
            for _ in 0..iterations {
                let mut hasher = StreamHasher::new(Algorithm::Sha256);
                for chunk in &content.chunks {
                    buffer.clear();
                    buffer.extend_from_slice(chunk);
                    hasher.update(black_box(&buffer));
                }
                black_box(hasher.finish());
            }
            let elapsed = start.elapsed();
            copy_and_hash.add(elapsed, iterations);
            elapsed
        });
    });

    let mut bench = Bench::new(uring_runtime(), "upload-uring");
    group.bench_function("upload_commit/io_uring", |bencher| {
        bencher.iter_custom(|iterations| {
            let elapsed = bench.upload(&content, Resumable::No, iterations);
            uring.add(elapsed, iterations);
            elapsed
        });
    });
    assert_eq!(
        bench.allocations_timed, 0,
        "a steady upload reuses the buffers append returns"
    );
    drop(bench);

    let mut bench = Bench::new(uring_runtime(), "upload-uring-prefilled");
    group.bench_function("upload_commit_prefilled/io_uring", |bencher| {
        bencher.iter_custom(|iterations| {
            let elapsed = bench.upload_prefilled(&content, iterations);
            uring_prefilled.add(elapsed, iterations);
            elapsed
        });
    });
    drop(bench);

    let mut bench = Bench::new(legacy_runtime(), "upload-legacy");
    group.bench_function("upload_commit/legacy", |bencher| {
        bencher.iter_custom(|iterations| {
            let elapsed = bench.upload(&content, Resumable::No, iterations);
            legacy.add(elapsed, iterations);
            elapsed
        });
    });
    assert_eq!(bench.allocations_timed, 0);
    drop(bench);

    let mut bench = Bench::new(uring_runtime(), "upload-acknowledged");
    group.bench_function("upload_acknowledge_each_MiB/io_uring", |bencher| {
        bencher.iter_custom(|iterations| {
            let elapsed = bench.upload(&content, Resumable::Yes, iterations);
            acknowledged.add(elapsed, iterations);
            elapsed
        });
    });
    assert_eq!(
        bench.allocations_timed, 0,
        "acknowledge keeps the buffers of the writes it waits for"
    );
    drop(bench);
    group.finish();

    let report = |label: &str, tally: &Tally| {
        if let Some(value) = ratio(tally, &hash_only) {
            eprintln!("upload_100MiB: {label}/hash ratio = {value:.2} (target ≤ 1.2 for upload)");
        }
    };
    report("copy_and_sha256", &copy_and_hash);
    report("upload io_uring", &uring);
    report(
        "upload io_uring, buffers filled before the clock",
        &uring_prefilled,
    );
    report("upload legacy", &legacy);
    report("upload acknowledged each MiB io_uring", &acknowledged);
}

criterion_group!(benches, upload_100_mib);
criterion_main!(benches);
