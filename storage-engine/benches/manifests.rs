//! Criterion benchmark of manifest puts and gets on io_uring, in operations per second.
//!
//! - `put_by_tag`: a new, distinct image manifest under a new tag into a repository holding
//!   `BASE_TAG_COUNT` tags, whose config and layer were pushed in setup. Each put is durable:
//!   the manifest blob (write, `fsync`, link, folder `fsync`) and the rewritten `index.json`
//!   (write, `fsync`, rename, folder `fsync`). After the timed put, the manifest is deleted
//!   again, untimed, so every put sees an index of the same size.
//! - `get_by_tag` and `get_by_digest`: the bytes of one of those manifests, read from disk.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{TempFolder, image_manifest, pseudo_random, test_mode, uring_runtime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use proto::oci::{Algorithm, Reference, RepositoryName, Tag};
use storage_engine::hasher::digest_of;
use storage_engine::{Disk, Resumable, Store, StoreConfig};

const REPOSITORY: &str = "bench/manifests";
/// Tags in the repository while puts and gets run: a busy repository, not an empty one.
const BASE_TAG_COUNT: u64 = 100;

fn repository() -> RepositoryName<'static> {
    RepositoryName::parse(REPOSITORY).expect("a valid name")
}

/// Pushes `content` as a blob of the benchmark's repository through an upload; returns its
/// digest text.
async fn push_blob(store: &Store, content: &[u8]) -> String {
    let mut upload = store
        .start_upload(repository(), Algorithm::Sha256, Resumable::No)
        .await
        .expect("create upload");
    upload.append(content.to_vec()).await.expect("append");
    let digest = digest_of(Algorithm::Sha256, content);
    upload.commit(digest.as_digest()).await.expect("commit");
    digest.as_str().to_owned()
}

fn manifests(criterion: &mut Criterion) {
    let folder = TempFolder::new("manifests");
    let mut runtime = uring_runtime();
    let config_bytes = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}"#;
    let layer_bytes = pseudo_random(7, 64 * 1024);
    let (mut store, config, layer) = runtime.block_on(async {
        let mut store = Store::open(StoreConfig::new(folder.path().join("root")), Disk::new())
            .await
            .expect("open store");
        store
            .create_repository(repository())
            .await
            .expect("create repository");
        let config = push_blob(&store, config_bytes).await;
        let layer = push_blob(&store, &layer_bytes).await;
        (store, config, layer)
    });
    let config = (config.as_str(), config_bytes.len() as u64);
    let layer = (layer.as_str(), layer_bytes.len() as u64);
    // The base tags, put through the engine so the index is exactly what puts make.
    let base_digest = runtime.block_on(async {
        let (repository, disk) = store
            .repository_and_disk(REPOSITORY)
            .expect("the repository");
        let mut digest = None;
        for sequence in 0..BASE_TAG_COUNT {
            let tag_text = format!("base-{sequence:04}");
            let tag = Tag::parse(&tag_text).expect("a valid tag");
            let body = image_manifest(config, layer, sequence);
            let put = repository
                .put_manifest(disk, Reference::Tag(tag), &[], None, &body)
                .await
                .expect("put base manifest");
            digest = Some(put.digest);
        }
        digest.expect("at least one base tag")
    });
    assert_eq!(
        store
            .repository(REPOSITORY)
            .expect("repository")
            .tag_count() as u64,
        BASE_TAG_COUNT
    );

    let mut group = criterion.benchmark_group("manifests");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(if test_mode() { 1 } else { 5 }));

    let mut sequence = BASE_TAG_COUNT;
    group.bench_function("put_by_tag", |bencher| {
        bencher.iter_custom(|iterations| {
            let (repository, disk) = store
                .repository_and_disk(REPOSITORY)
                .expect("the repository");
            runtime.block_on(async {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iterations {
                    sequence += 1;
                    let tag_text = format!("put-{sequence:08}");
                    let tag = Tag::parse(&tag_text).expect("a valid tag");
                    let body = image_manifest(config, layer, sequence);
                    let start = Instant::now();
                    let put = repository
                        .put_manifest(disk, Reference::Tag(tag), &[], None, &body)
                        .await
                        .expect("put manifest");
                    elapsed += start.elapsed();
                    repository
                        .delete_manifest(disk, put.digest.as_digest())
                        .await
                        .expect("delete manifest");
                }
                assert_eq!(repository.tag_count() as u64, BASE_TAG_COUNT);
                elapsed
            })
        });
    });

    let (repository, disk) = store
        .repository_and_disk(REPOSITORY)
        .expect("the repository");
    let expected_bytes = image_manifest(config, layer, BASE_TAG_COUNT - 1);
    for (label, reference_text) in [
        ("get_by_tag", format!("base-{:04}", BASE_TAG_COUNT - 1)),
        ("get_by_digest", base_digest.as_str().to_owned()),
    ] {
        let reference = Reference::parse(&reference_text).expect("a valid reference");
        group.bench_function(label, |bencher| {
            bencher.iter_custom(|iterations| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iterations {
                        let content = repository
                            .manifest(disk, black_box(reference))
                            .await
                            .expect("get manifest");
                        black_box(&content);
                        debug_assert_eq!(content.bytes, expected_bytes);
                    }
                    start.elapsed()
                })
            });
        });
        let content = runtime
            .block_on(repository.manifest(disk, reference))
            .expect("get manifest");
        assert_eq!(content.bytes, expected_bytes);
        assert_eq!(content.digest, base_digest);
    }
    group.finish();
}

criterion_group!(benches, manifests);
criterion_main!(benches);
