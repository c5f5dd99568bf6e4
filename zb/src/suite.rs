//! The 16 tests of zot's zb, with its names, order, flows and mixes, and the operations they
//! are made of: monolithic push, chunk-streamed push, pull, catalog, and the cleanup DELETEs.

use crate::blobs::{BlobSource, Layer, MANIFEST_MEDIA_TYPE, image_manifest};
use crate::client::{Answer, Body, Connection};
use crate::stats::WorkerStats;
use std::time::{Duration, Instant};

/// The three sizes of zot's zb: 1, 10 and 100 MiB (its "MB" are MiB).
pub const DEFAULT_SIZES_BYTES: [usize; 3] = [1024 * 1024, 10 * 1024 * 1024, 100 * 1024 * 1024];

/// What a test does per operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Catalog,
    PushMonolith,
    PushChunk,
    Pull,
    /// Pull with this probability, otherwise push monolithically.
    PullAndPush {
        pull_probability: f64,
    },
}

/// Which size an operation uses: one fixed size, or a mix (cumulative probabilities of the
/// small, medium and large size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sizes {
    Fixed(usize),
    Mixed([f64; 3]),
}

#[derive(Debug, Clone, Copy)]
pub struct TestDefinition {
    pub name: &'static str,
    pub kind: Kind,
    pub sizes: Sizes,
}

/// zot's test list, in zot's order. Size indexes 0, 1, 2 are 1MB, 10MB, 100MB.
pub const TESTS: [TestDefinition; 16] = [
    test("Get Catalog", Kind::Catalog, Sizes::Mixed([0.7, 0.2, 0.1])),
    test("Push Monolith 1MB", Kind::PushMonolith, Sizes::Fixed(0)),
    test("Push Monolith 10MB", Kind::PushMonolith, Sizes::Fixed(1)),
    test("Push Monolith 100MB", Kind::PushMonolith, Sizes::Fixed(2)),
    test("Push Chunk Streamed 1MB", Kind::PushChunk, Sizes::Fixed(0)),
    test("Push Chunk Streamed 10MB", Kind::PushChunk, Sizes::Fixed(1)),
    test(
        "Push Chunk Streamed 100MB",
        Kind::PushChunk,
        Sizes::Fixed(2),
    ),
    test("Pull 1MB", Kind::Pull, Sizes::Fixed(0)),
    test("Pull 10MB", Kind::Pull, Sizes::Fixed(1)),
    test("Pull 100MB", Kind::Pull, Sizes::Fixed(2)),
    test(
        "Pull Mixed 20% 1MB, 70% 10MB, 10% 100MB",
        Kind::Pull,
        Sizes::Mixed([0.2, 0.7, 0.1]),
    ),
    test(
        "Push Monolith Mixed 20% 1MB, 70% 10MB, 10% 100MB",
        Kind::PushMonolith,
        Sizes::Mixed([0.2, 0.7, 0.1]),
    ),
    test(
        "Push Chunk Mixed 33% 1MB, 33% 10MB, 33% 100MB",
        Kind::PushChunk,
        Sizes::Mixed([0.33, 0.33, 0.33]),
    ),
    test(
        "Pull 75% and Push 25% Mixed 1MB",
        Kind::PullAndPush {
            pull_probability: 0.75,
        },
        Sizes::Fixed(0),
    ),
    test(
        "Pull 75% and Push 25% Mixed 10MB",
        Kind::PullAndPush {
            pull_probability: 0.75,
        },
        Sizes::Fixed(1),
    ),
    test(
        "Pull 75% and Push 25% Mixed 100MB",
        Kind::PullAndPush {
            pull_probability: 0.75,
        },
        Sizes::Fixed(2),
    ),
];

const fn test(name: &'static str, kind: Kind, sizes: Sizes) -> TestDefinition {
    TestDefinition { name, kind, sizes }
}

/// What every worker of a run shares.
#[derive(Debug)]
pub struct Shared {
    /// Small, medium, large.
    pub sources: [BlobSource; 3],
    pub config_bytes: Vec<u8>,
    pub config_digest: String,
    pub repository_prefix: String,
    /// Distinguishes this run's repositories from earlier runs'.
    pub run_identifier: String,
    /// Measured operations finished in the current test, for the progress line.
    pub progress: std::sync::atomic::AtomicUsize,
}

/// An image a worker pushed: what cleanup deletes and what a pull reads.
#[derive(Debug, Clone)]
pub struct Image {
    pub repository: String,
    pub tag: String,
    pub manifest_digest: String,
    pub layer_digest: String,
    pub size_index: usize,
}

/// A small pseudo-random generator (xorshift64*), seeded per worker: which size or which of
/// pull and push, as zot draws them.
#[derive(Debug, Clone)]
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(seed | 1)
    }

    /// A number in [0, 1).
    pub fn next_fraction(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let value = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (value >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An index drawn with these (not necessarily normalised) weights, as zot's flipFunc does
    /// over the running sums.
    pub fn pick(&mut self, weights: &[f64]) -> usize {
        let toss = self.next_fraction();
        let mut sum = 0.0;
        for (index, weight) in weights.iter().enumerate() {
            sum += weight;
            if toss < sum {
                return index;
            }
        }
        weights.len() - 1
    }
}

/// One worker's state across a test's phases.
#[derive(Debug)]
pub struct Worker {
    pub index: usize,
    pub requests: usize,
    pub random: Random,
    /// Images pushed by setup and by measured operations; cleanup deletes them all.
    pub pushed: Vec<Image>,
    /// Images the measured pulls read, by size index.
    pub pull_sources: [Option<Image>; 3],
    pub stats: WorkerStats,
    pub setup_error: Option<String>,
    pub cleanup_errors: Vec<String>,
    pushed_count: usize,
}

impl Worker {
    pub fn new(index: usize, requests: usize, seed: u64) -> Worker {
        Worker {
            index,
            requests,
            random: Random::new(seed),
            pushed: Vec::new(),
            pull_sources: [None, None, None],
            stats: WorkerStats::default(),
            setup_error: None,
            cleanup_errors: Vec::new(),
            pushed_count: 0,
        }
    }

    fn next_repository(&mut self, shared: &Shared, test_index: usize) -> String {
        let number = self.pushed_count;
        self.pushed_count += 1;
        format!(
            "{}/{}-{test_index}-{}-{number}",
            shared.repository_prefix, shared.run_identifier, self.index
        )
    }

    fn draw_size(&mut self, sizes: Sizes) -> usize {
        match sizes {
            Sizes::Fixed(index) => index,
            Sizes::Mixed(weights) => self.random.pick(&weights),
        }
    }
}

/// An operation's failure: its message is what the error counts are keyed by.
type Failure = String;

fn expect(step: &str, answer: &Answer, expected: u16) -> Result<(), Failure> {
    if answer.status == expected {
        Ok(())
    } else {
        Err(format!("{step}: {} {}", answer.status, answer.reason))
    }
}

/// Sends a request, counting its answer; an I/O failure becomes the operation's failure.
// The arguments are the request's parts, each used once; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
async fn call(
    connection: &mut Connection,
    stats: Option<&mut WorkerStats>,
    step: &str,
    method: &'static str,
    target: &str,
    content_type: Option<&str>,
    body: Body,
    keep_body: bool,
) -> Result<Answer, Failure> {
    match connection
        .send(method, target, content_type, body, keep_body)
        .await
    {
        Ok(answer) => {
            if let Some(stats) = stats {
                stats.count_status(answer.status);
            }
            Ok(answer)
        }
        Err(error) => Err(format!("{step}: {error}")),
    }
}

/// The path of an upload's Location, with `digest` added to its query.
fn with_digest(location: &str, digest: &str) -> String {
    let path = location_path(location);
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}digest={digest}")
}

/// The Location as a path: an absolute URL loses its scheme and authority, as zot's zb does.
fn location_path(location: &str) -> &str {
    match location.find("://") {
        Some(scheme_end) => {
            let rest = &location[scheme_end + 3..];
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        None => location,
    }
}

fn location(step: &str, answer: &Answer) -> Result<String, Failure> {
    answer
        .location
        .clone()
        .ok_or_else(|| format!("{step}: no Location"))
}

/// How a blob is uploaded.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Upload {
    /// POST, then PUT `?digest=` with the whole body.
    Monolith,
    /// POST, PATCH with the whole body, then PUT `?digest=` without a body.
    Chunk,
}

async fn upload_blob(
    connection: &mut Connection,
    mut stats: Option<&mut WorkerStats>,
    repository: &str,
    upload: Upload,
    body: Body,
    digest: &str,
) -> Result<(), Failure> {
    let uploads = format!("/v2/{repository}/blobs/uploads/");
    let answer = call(
        connection,
        stats.as_deref_mut(),
        "POST upload",
        "POST",
        &uploads,
        None,
        Body::Empty,
        false,
    )
    .await?;
    expect("POST upload", &answer, 202)?;
    let mut upload_location = location("POST upload", &answer)?;
    let put_body = match upload {
        Upload::Monolith => body,
        Upload::Chunk => {
            let target = location_path(&upload_location).to_owned();
            let answer = call(
                connection,
                stats.as_deref_mut(),
                "PATCH blob",
                "PATCH",
                &target,
                Some("application/octet-stream"),
                body,
                false,
            )
            .await?;
            expect("PATCH blob", &answer, 202)?;
            upload_location = location("PATCH blob", &answer)?;
            Body::Empty
        }
    };
    let target = with_digest(&upload_location, digest);
    let answer = call(
        connection,
        stats,
        "PUT blob",
        "PUT",
        &target,
        Some("application/octet-stream"),
        put_body,
        false,
    )
    .await?;
    expect("PUT blob", &answer, 201)
}

/// Pushes one image (layer, config, manifest) to a new repository. Returns the image and the
/// blob bytes it moved.
async fn push_image(
    connection: &mut Connection,
    mut stats: Option<&mut WorkerStats>,
    shared: &Shared,
    repository: String,
    tag: String,
    size_index: usize,
    upload: Upload,
) -> Result<(Image, u64), Failure> {
    let layer: Layer = shared.sources[size_index].next_layer();
    let layer_bytes = layer.size_bytes() as u64;
    let layer_digest = layer.digest.clone();
    let manifest = image_manifest(&shared.config_digest, shared.config_bytes.len(), &layer);
    let manifest_digest = crate::blobs::sha256_digest(&manifest);
    upload_blob(
        connection,
        stats.as_deref_mut(),
        &repository,
        upload,
        Body::Layer(layer.prefix, layer.tail),
        &layer_digest,
    )
    .await?;
    upload_blob(
        connection,
        stats.as_deref_mut(),
        &repository,
        upload,
        Body::Bytes(shared.config_bytes.clone()),
        &shared.config_digest,
    )
    .await?;
    let target = format!("/v2/{repository}/manifests/{tag}");
    let answer = call(
        connection,
        stats,
        "PUT manifest",
        "PUT",
        &target,
        Some(MANIFEST_MEDIA_TYPE),
        Body::Bytes(manifest),
        false,
    )
    .await?;
    expect("PUT manifest", &answer, 201)?;
    // The registry's word for the digest, when it gives it, is what cleanup deletes by.
    let manifest_digest = answer.digest.clone().unwrap_or(manifest_digest);
    let image = Image {
        repository,
        tag,
        manifest_digest,
        layer_digest,
        size_index,
    };
    Ok((image, layer_bytes + shared.config_bytes.len() as u64))
}

/// Time to first byte of each step of one pull.
#[derive(Debug, Default, Clone, Copy)]
pub struct PullTimings {
    pub manifest_head: Duration,
    pub manifest_get: Duration,
    pub config: Duration,
    pub layer: Duration,
}

/// Pulls one image as zot's zb does: HEAD and GET of the manifest, then HEAD and GET of the
/// config and of each layer. Returns the blob bytes received.
async fn pull_image(
    connection: &mut Connection,
    stats: &mut WorkerStats,
    image: &Image,
    timings: &mut PullTimings,
) -> Result<u64, Failure> {
    let manifest_target = format!("/v2/{}/manifests/{}", image.repository, image.tag);
    let answer = call(
        connection,
        Some(stats),
        "HEAD manifest",
        "HEAD",
        &manifest_target,
        None,
        Body::Empty,
        false,
    )
    .await?;
    expect("HEAD manifest", &answer, 200)?;
    timings.manifest_head = answer.first_byte;
    let answer = call(
        connection,
        Some(stats),
        "GET manifest",
        "GET",
        &manifest_target,
        None,
        Body::Empty,
        true,
    )
    .await?;
    expect("GET manifest", &answer, 200)?;
    timings.manifest_get = answer.first_byte;
    let manifest: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|error| format!("GET manifest: not JSON: {error}"))?;
    let config_digest = manifest["config"]["digest"]
        .as_str()
        .ok_or("GET manifest: no config digest")?
        .to_owned();
    let layers: Vec<(String, u64)> = manifest["layers"]
        .as_array()
        .ok_or("GET manifest: no layers")?
        .iter()
        .filter_map(|layer| {
            Some((
                layer["digest"].as_str()?.to_owned(),
                layer["size"].as_u64()?,
            ))
        })
        .collect();
    let mut received = 0;
    let blobs = std::iter::once((config_digest, None)).chain(
        layers
            .into_iter()
            .map(|(digest, size)| (digest, Some(size))),
    );
    for (digest, size) in blobs {
        let is_layer = size.is_some();
        let target = format!("/v2/{}/blobs/{digest}", image.repository);
        let (head_step, get_step) = if is_layer {
            ("HEAD layer", "GET layer")
        } else {
            ("HEAD config", "GET config")
        };
        let answer = call(
            connection,
            Some(stats),
            head_step,
            "HEAD",
            &target,
            None,
            Body::Empty,
            false,
        )
        .await?;
        expect(head_step, &answer, 200)?;
        let answer = call(
            connection,
            Some(stats),
            get_step,
            "GET",
            &target,
            None,
            Body::Empty,
            false,
        )
        .await?;
        expect(get_step, &answer, 200)?;
        if let Some(size) = size
            && answer.body_bytes != size
        {
            return Err(format!(
                "{get_step}: {} bytes, expected {size}",
                answer.body_bytes
            ));
        }
        if is_layer {
            timings.layer = answer.first_byte;
        } else {
            timings.config = answer.first_byte;
        }
        received += answer.body_bytes;
    }
    Ok(received)
}

/// The setup phase: the images a test reads, pushed before the clock starts.
pub async fn setup(
    connection: &mut Connection,
    shared: &Shared,
    definition: &TestDefinition,
    test_index: usize,
    worker: &mut Worker,
) {
    let sizes_to_push: Vec<usize> = match (definition.kind, definition.sizes) {
        // zot pushes one image per request for the catalog, of sizes drawn from its mix.
        (Kind::Catalog, sizes) => (0..worker.requests)
            .map(|_| worker.draw_size(sizes))
            .collect(),
        (Kind::Pull, Sizes::Mixed(_)) => vec![0, 1, 2],
        (Kind::Pull | Kind::PullAndPush { .. }, Sizes::Fixed(index)) => vec![index],
        _ => Vec::new(),
    };
    for size_index in sizes_to_push {
        let repository = worker.next_repository(shared, test_index);
        let tag = format!("tag{}", shared.sources[size_index].size_bytes);
        match push_image(
            connection,
            None,
            shared,
            repository,
            tag,
            size_index,
            Upload::Monolith,
        )
        .await
        {
            Ok((image, _)) => {
                worker.pull_sources[size_index] = Some(image.clone());
                worker.pushed.push(image);
            }
            Err(failure) => {
                worker.setup_error = Some(format!("setup: {failure}"));
                return;
            }
        }
    }
}

/// The measured phase: the worker's share of the test's operations.
pub async fn measure(
    connection: &mut Connection,
    shared: &Shared,
    definition: &TestDefinition,
    test_index: usize,
    worker: &mut Worker,
) {
    for count in 0..worker.requests {
        if let Some(error) = &worker.setup_error {
            let error = error.clone();
            worker.stats.record_failure(Duration::ZERO, error);
            continue;
        }
        let started = Instant::now();
        let kind = match definition.kind {
            Kind::PullAndPush { pull_probability } => {
                if worker
                    .random
                    .pick(&[pull_probability, 1.0 - pull_probability])
                    == 0
                {
                    worker.stats.pulls += 1;
                    Kind::Pull
                } else {
                    worker.stats.pushes += 1;
                    Kind::PushMonolith
                }
            }
            kind => kind,
        };
        let outcome = match kind {
            Kind::Catalog => call(
                connection,
                Some(&mut worker.stats),
                "GET catalog",
                "GET",
                "/v2/_catalog",
                None,
                Body::Empty,
                false,
            )
            .await
            .and_then(|answer| expect("GET catalog", &answer, 200).map(|()| 0)),
            Kind::PushMonolith | Kind::PushChunk => {
                let size_index = worker.draw_size(definition.sizes);
                worker.stats.size_counts[size_index] += 1;
                let upload = if kind == Kind::PushChunk {
                    Upload::Chunk
                } else {
                    Upload::Monolith
                };
                let repository = worker.next_repository(shared, test_index);
                let tag = format!("tag{count}");
                match push_image(
                    connection,
                    Some(&mut worker.stats),
                    shared,
                    repository,
                    tag,
                    size_index,
                    upload,
                )
                .await
                {
                    Ok((image, bytes)) => {
                        worker.pushed.push(image);
                        Ok(bytes)
                    }
                    Err(failure) => Err(failure),
                }
            }
            Kind::Pull => {
                let size_index = worker.draw_size(definition.sizes);
                if matches!(definition.sizes, Sizes::Mixed(_)) {
                    worker.stats.size_counts[size_index] += 1;
                }
                match worker.pull_sources[size_index].clone() {
                    None => Err("pull: no image was pushed for this size".to_owned()),
                    Some(image) => {
                        let mut timings = PullTimings::default();
                        let result =
                            pull_image(connection, &mut worker.stats, &image, &mut timings).await;
                        if result.is_ok() {
                            worker.stats.pull_timings.push(timings);
                        }
                        result
                    }
                }
            }
            Kind::PullAndPush { .. } => unreachable!("resolved above"),
        };
        let latency = started.elapsed();
        shared
            .progress
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match outcome {
            Ok(bytes) => worker.stats.record_success(latency, bytes),
            Err(failure) => worker.stats.record_failure(latency, failure),
        }
    }
}

/// The cleanup phase: deletes every manifest and blob the test pushed; each DELETE must
/// answer 202.
pub async fn cleanup(connection: &mut Connection, shared: &Shared, worker: &mut Worker) {
    let images = std::mem::take(&mut worker.pushed);
    for image in images {
        let targets = [
            (
                "DELETE manifest",
                format!(
                    "/v2/{}/manifests/{}",
                    image.repository, image.manifest_digest
                ),
            ),
            (
                "DELETE layer",
                format!("/v2/{}/blobs/{}", image.repository, image.layer_digest),
            ),
            (
                "DELETE config",
                format!("/v2/{}/blobs/{}", image.repository, shared.config_digest),
            ),
        ];
        for (step, target) in targets {
            match call(
                connection,
                None,
                step,
                "DELETE",
                &target,
                None,
                Body::Empty,
                false,
            )
            .await
            {
                Ok(answer) => {
                    if let Err(failure) = expect(step, &answer, 202) {
                        worker.cleanup_errors.push(failure);
                    }
                }
                Err(failure) => worker.cleanup_errors.push(failure),
            }
        }
        debug_assert!(image.size_index < 3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_become_paths_with_the_digest_in_the_query() {
        assert_eq!(
            with_digest("/v2/a/blobs/uploads/1", "sha256:x"),
            "/v2/a/blobs/uploads/1?digest=sha256:x"
        );
        assert_eq!(
            with_digest("http://h:5000/v2/a/blobs/uploads/1?_state=s", "sha256:x"),
            "/v2/a/blobs/uploads/1?_state=s&digest=sha256:x"
        );
    }

    #[test]
    fn picks_follow_the_weights() {
        let mut random = Random::new(7);
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            counts[random.pick(&[0.2, 0.7, 0.1])] += 1;
        }
        assert!((1_700..2_300).contains(&counts[0]), "{counts:?}");
        assert!((6_600..7_400).contains(&counts[1]), "{counts:?}");
        assert!((800..1_200).contains(&counts[2]), "{counts:?}");
    }

    #[test]
    fn the_test_list_is_zots() {
        assert_eq!(TESTS.len(), 16);
        assert_eq!(TESTS[0].name, "Get Catalog");
        assert_eq!(TESTS[15].name, "Pull 75% and Push 25% Mixed 100MB");
    }
}
