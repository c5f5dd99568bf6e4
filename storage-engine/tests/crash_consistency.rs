//! Crash consistency: each operation of docs/design.md section 4 is cut at every one of its
//! mutating steps by a fault plan, as if the process died there. The root is then reopened and
//! checked: the invariants (`invariants::check_root`, plus I6's hasher state here), that every
//! acknowledged operation survived (I7), that the interrupted one is whole or absent, and that
//! the engine goes on working (the operation retried succeeds; no temporary file outlives open).
//!
//! How a scenario is checked. The test keeps a model of what a client can observe: the catalog,
//! each repository's tags and manifests (what `index.json` says, read back through the engine),
//! the blobs the fixture and the scenario pushed, and the upload sessions by offset. Operations
//! that returned `Ok` before the crash are applied to the model ("before"); the interrupted one
//! gives a second model ("after"). After the crash the repositories, tags and manifests must
//! equal one model as a whole (one `index.json` replacement is atomic), and each blob and
//! session must match one of the two.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use common::{Driver, bytes, on_both_drivers};
use proto::oci::media_type::{
    OCI_EMPTY, OCI_IMAGE_CONFIG, OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST, OCI_LAYER_TAR,
};
use proto::oci::{Algorithm, Digest, Reference, RepositoryName, Tag};
use storage_engine::hasher::{StreamHasher, digest_of};
use storage_engine::index::RepositoryIndex;
use storage_engine::invariants::{CheckOptions, Invariant, check_root};
use storage_engine::layout::blobstore_blob;
use storage_engine::upload_state::UploadState;
use storage_engine::{
    BlobFile, Disk, FaultPlan, Resumable, SessionId, Store, StoreConfig, Upload, UploadError,
};

/// Repositories; tags by repository; manifest digests by repository; manifest bytes by
/// repository and digest.
type IndexFacts<'a> = (
    &'a BTreeSet<String>,
    &'a BTreeMap<String, BTreeMap<String, String>>,
    BTreeMap<&'a String, BTreeSet<&'a String>>,
    &'a BTreeMap<String, BTreeMap<String, Vec<u8>>>,
);

/// Bytes per upload chunk: small, so that every scenario runs in milliseconds.
const CHUNK_BYTES: usize = 2 * 1024;
/// Bytes per layer blob.
const LAYER_BYTES: usize = 3 * 1024;
/// Crash points a scenario may have; more means a loop that never ends.
const CRASH_POINTS_MAX: u64 = 500;

const ALPINE: &str = "library/alpine";
const OTHER: &str = "other";

// ---------------------------------------------------------------------------------------------
// Content: blobs and manifests with real digests.

fn digest(content: &[u8]) -> String {
    digest_of(Algorithm::Sha256, content).as_str().to_owned()
}

fn layer(seed: u64) -> Vec<u8> {
    bytes(seed, LAYER_BYTES)
}

fn config(label: &str) -> Vec<u8> {
    format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"name":"{label}"}}}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    )
    .into_bytes()
}

const EMPTY_CONFIG: &[u8] = b"{}";
const SIGNATURE_PAYLOAD: &[u8] = b"a signature payload";

fn descriptor(media_type: &str, content: &[u8]) -> String {
    format!(
        r#"{{"mediaType":"{media_type}","digest":"{}","size":{}}}"#,
        digest(content),
        content.len()
    )
}

fn image(config: &[u8], layers: &[&[u8]], note: &str) -> Vec<u8> {
    let layers: Vec<String> = layers
        .iter()
        .map(|content| descriptor(OCI_LAYER_TAR, content))
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_IMAGE_MANIFEST}","config":{},"layers":[{}],"annotations":{{"note":"{note}"}}}}"#,
        descriptor(OCI_IMAGE_CONFIG, config),
        layers.join(",")
    )
    .into_bytes()
}

fn image_index(children: &[&[u8]]) -> Vec<u8> {
    let children: Vec<String> = children
        .iter()
        .map(|child| descriptor(OCI_IMAGE_MANIFEST, child))
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_IMAGE_INDEX}","manifests":[{}]}}"#,
        children.join(",")
    )
    .into_bytes()
}

fn referrer(subject: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_IMAGE_MANIFEST}","artifactType":"application/vnd.example.signature","config":{},"layers":[{}],"subject":{}}}"#,
        descriptor(OCI_EMPTY, EMPTY_CONFIG),
        descriptor("application/octet-stream", SIGNATURE_PAYLOAD),
        descriptor(OCI_IMAGE_MANIFEST, subject),
    )
    .into_bytes()
}

/// Every blob and manifest the fixture and the scenarios use, built once.
struct Contents {
    layers: [Vec<u8>; 4],
    loose: Vec<u8>,
    loose_other: Vec<u8>,
    fresh: Vec<u8>,
    nested_layer: Vec<u8>,
    configs: [Vec<u8>; 3],
    nested_config: Vec<u8>,
    /// Base: `library/alpine:latest` and `:3.20`.
    m1: Vec<u8>,
    /// Base: `library/alpine:old`.
    m2: Vec<u8>,
    /// Base: `other:v1` and `:stable`.
    m3: Vec<u8>,
    /// Base: `library/alpine:multi`, an index of m1 and m2.
    index_multi: Vec<u8>,
    /// Base: a referrer of m1, pushed by digest.
    signature: Vec<u8>,
    /// Scenarios: new manifests.
    m4: Vec<u8>,
    m5: Vec<u8>,
    child_a: Vec<u8>,
    child_b: Vec<u8>,
    index_release: Vec<u8>,
    nested_manifest: Vec<u8>,
}

impl Contents {
    fn new() -> Contents {
        let layers = [layer(1), layer(2), layer(3), layer(4)];
        let configs = [config("one"), config("two"), config("three")];
        let m1 = image(&configs[0], &[&layers[0], &layers[1]], "m1");
        let m2 = image(&configs[1], &[&layers[2]], "m2");
        let m3 = image(&configs[2], &[&layers[0]], "m3");
        let child_a = image(&configs[0], &[&layers[2]], "child a");
        let child_b = image(&configs[1], &[&layers[1]], "child b");
        let nested_layer = layer(8);
        let nested_config = config("nested");
        Contents {
            index_multi: image_index(&[&m1, &m2]),
            signature: referrer(&m1),
            m4: image(&configs[0], &[&layers[1]], "m4"),
            m5: image(&configs[1], &[&layers[0], &layers[2]], "m5"),
            index_release: image_index(&[&child_a, &child_b, &m1]),
            nested_manifest: image(&nested_config, &[&nested_layer], "nested"),
            child_a,
            child_b,
            m1,
            m2,
            m3,
            loose: layer(5),
            loose_other: layer(6),
            fresh: layer(7),
            nested_layer,
            nested_config,
            layers,
            configs,
        }
    }
}

/// A chunked upload the fixture or a scenario makes: its repository and whole content.
struct UploadPlan {
    repository: &'static str,
    content: Vec<u8>,
}

/// The fixture's upload, acknowledged up to two chunks and never finished.
const BASE_UPLOAD: &str = "base";
/// The upload of the chunked-upload scenario.
const CHUNKED_UPLOAD: &str = "chunked";

fn upload_plan(key: &str) -> UploadPlan {
    match key {
        BASE_UPLOAD => UploadPlan {
            repository: ALPINE,
            content: bytes(100, 3 * CHUNK_BYTES - 300),
        },
        CHUNKED_UPLOAD => UploadPlan {
            repository: ALPINE,
            content: bytes(200, 3 * CHUNK_BYTES - 500),
        },
        other => panic!("no upload plan {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Operations and the model of what they do.

/// One client-visible operation. Each maps to one acknowledged request of a client.
#[derive(Clone, Debug)]
enum Op {
    CreateRepository {
        repository: &'static str,
    },
    /// A monolithic upload: one request carries the blob, and the commit answers.
    PushBlob {
        repository: &'static str,
        content: Vec<u8>,
    },
    /// POST of a resumable session (202).
    StartUpload {
        key: &'static str,
    },
    /// PATCH of `content[start..end]` (202 after `acknowledge`).
    Chunk {
        key: &'static str,
        start: usize,
        end: usize,
    },
    /// PUT `?digest=` of the whole content (201).
    CommitUpload {
        key: &'static str,
    },
    /// A session continued after a restart (GET of its status).
    ResumeUpload {
        key: &'static str,
    },
    /// Bytes that reached the data file but were never acknowledged: the fixture writes them
    /// straight into the file, as a crash mid-PATCH leaves them.
    WriteUnacknowledged {
        key: &'static str,
        content: Vec<u8>,
    },
    PutManifest {
        repository: &'static str,
        /// A tag, or the body's digest.
        reference: String,
        tags: Vec<&'static str>,
        media_type: &'static str,
        body: Vec<u8>,
    },
    DeleteTag {
        repository: &'static str,
        tag: &'static str,
    },
    DeleteManifest {
        repository: &'static str,
        digest: String,
    },
    DeleteBlob {
        repository: &'static str,
        digest: String,
    },
    Mount {
        to: &'static str,
        from: &'static str,
        digest: String,
    },
}

impl Op {
    /// A short label for reports.
    fn label(&self) -> String {
        let short = |digest: &str| digest.get(7..19).unwrap_or(digest).to_owned();
        match self {
            Op::CreateRepository { repository } => format!("create {repository}"),
            Op::PushBlob {
                repository,
                content,
            } => format!("push blob {} to {repository}", short(&digest(content))),
            Op::StartUpload { key } => format!("start upload {key}"),
            Op::Chunk { key, start, end } => format!("chunk {start}..{end} of {key}"),
            Op::CommitUpload { key } => format!("commit upload {key}"),
            Op::ResumeUpload { key } => format!("resume upload {key}"),
            Op::WriteUnacknowledged { key, content } => {
                format!("{} unacknowledged bytes into {key}", content.len())
            }
            Op::PutManifest {
                repository,
                reference,
                tags,
                ..
            } => format!("put manifest {repository}:{reference} tags {tags:?}"),
            Op::DeleteTag { repository, tag } => format!("delete tag {repository}:{tag}"),
            Op::DeleteManifest { repository, digest } => {
                format!("delete manifest {repository}@{}", short(digest))
            }
            Op::DeleteBlob { repository, digest } => {
                format!("delete blob {repository}@{}", short(digest))
            }
            Op::Mount { to, from, digest } => {
                format!("mount {} from {from} into {to}", short(digest))
            }
        }
    }
}

/// What a client can observe of an upload session.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SessionFact {
    /// Resumable at this offset.
    At(u64),
    /// Committed: the session is gone and its blob is in the repository.
    Committed {
        repository: &'static str,
        digest: String,
    },
}

/// What a client can observe of a root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Model {
    repositories: BTreeSet<String>,
    /// Repository → tag → digest.
    tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Repository → digest → the manifest's bytes.
    manifests: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// The blobs tracked, by (repository, digest): their bytes, or `None` when absent.
    blobs: BTreeMap<(String, String), Option<Vec<u8>>>,
    /// Upload sessions by the test's key; no entry when there is none.
    sessions: BTreeMap<&'static str, SessionFact>,
    /// Digests of the tracked blobs whose bytes are in the dedupe store (`_blobstore`):
    /// observed only.
    deduplicated: BTreeSet<String>,
}

impl Model {
    fn add_repository(&mut self, repository: &str) {
        self.repositories.insert(repository.to_owned());
        self.tags.entry(repository.to_owned()).or_default();
        self.manifests.entry(repository.to_owned()).or_default();
    }

    /// The model after `op` returned `Ok`.
    fn apply(&mut self, op: &Op) {
        match op {
            Op::CreateRepository { repository } => self.add_repository(repository),
            Op::PushBlob {
                repository,
                content,
            } => {
                self.blobs.insert(
                    (repository.to_string(), digest(content)),
                    Some(content.clone()),
                );
            }
            Op::StartUpload { key } => {
                self.sessions.insert(key, SessionFact::At(0));
            }
            Op::Chunk { key, end, .. } => {
                self.sessions.insert(key, SessionFact::At(*end as u64));
            }
            Op::CommitUpload { key } => {
                let plan = upload_plan(key);
                let blob_digest = digest(&plan.content);
                self.blobs.insert(
                    (plan.repository.to_owned(), blob_digest.clone()),
                    Some(plan.content),
                );
                self.sessions.insert(
                    key,
                    SessionFact::Committed {
                        repository: plan.repository,
                        digest: blob_digest,
                    },
                );
            }
            Op::ResumeUpload { .. } | Op::WriteUnacknowledged { .. } => {}
            Op::PutManifest {
                repository,
                reference,
                tags,
                body,
                ..
            } => {
                let manifest_digest = digest(body);
                self.manifests
                    .get_mut(*repository)
                    .expect("put into a repository of the model")
                    .insert(manifest_digest.clone(), body.clone());
                let repository_tags = self.tags.get_mut(*repository).expect("in the model");
                let reference_tag = (!reference.starts_with("sha256:")).then_some(reference);
                for tag in tags
                    .iter()
                    .copied()
                    .chain(reference_tag.map(String::as_str))
                {
                    repository_tags.insert(tag.to_owned(), manifest_digest.clone());
                }
            }
            Op::DeleteTag { repository, tag } => {
                self.tags
                    .get_mut(*repository)
                    .expect("in the model")
                    .remove(*tag);
            }
            Op::DeleteManifest { repository, digest } => {
                self.manifests
                    .get_mut(*repository)
                    .expect("in the model")
                    .remove(digest);
                self.tags
                    .get_mut(*repository)
                    .expect("in the model")
                    .retain(|_, tagged| tagged != digest);
            }
            Op::DeleteBlob { repository, digest } => {
                self.blobs
                    .insert((repository.to_string(), digest.clone()), None);
            }
            Op::Mount { to, from, digest } => {
                let content = self.blobs[&(from.to_string(), digest.clone())].clone();
                assert!(content.is_some(), "mount of a blob the model lacks");
                self.add_repository(to);
                self.blobs.insert((to.to_string(), digest.clone()), content);
            }
        }
    }

    /// Repositories, tags and manifests: what one `index.json` replacement changes at once.
    fn index_facts(&self) -> IndexFacts<'_> {
        let digests = self
            .manifests
            .iter()
            .map(|(repository, manifests)| (repository, manifests.keys().collect()))
            .collect();
        (&self.repositories, &self.tags, digests, &self.manifests)
    }

    /// The index facts in a form short enough to print.
    fn index_summary(&self) -> String {
        let (repositories, tags, digests, _) = self.index_facts();
        let digests: BTreeMap<_, Vec<&str>> = digests
            .into_iter()
            .map(|(repository, set)| {
                (
                    repository,
                    set.into_iter().map(|d| &d[7..19]).collect::<Vec<_>>(),
                )
            })
            .collect();
        let tags: BTreeMap<_, BTreeMap<_, &str>> = tags
            .iter()
            .map(|(repository, tags)| {
                (
                    repository,
                    tags.iter()
                        .map(|(tag, digest)| (tag, &digest[7..19]))
                        .collect(),
                )
            })
            .collect();
        format!("repositories {repositories:?}\n    tags {tags:?}\n    manifests {digests:?}")
    }
}

fn blob_summary(blob: Option<&Option<Vec<u8>>>) -> String {
    match blob {
        None | Some(None) => "absent".to_owned(),
        Some(Some(content)) => format!("{} bytes, {}", content.len(), &digest(content)[..19]),
    }
}

/// Whether `observed` is a state the crash may leave: index facts equal to `before` or `after`
/// as a whole, and each blob and session equal to one of them.
fn compare(observed: &Model, before: &Model, after: &Model) -> Result<(), String> {
    let mut problems = Vec::new();
    if observed.index_facts() != before.index_facts()
        && observed.index_facts() != after.index_facts()
    {
        problems.push(format!(
            "repositories, tags and manifests match neither the state before the interrupted \
             operation nor after it\n  observed {}\n  before   {}\n  after    {}",
            observed.index_summary(),
            before.index_summary(),
            after.index_summary()
        ));
    }
    let blob_keys: BTreeSet<_> = before.blobs.keys().chain(after.blobs.keys()).collect();
    for key in blob_keys {
        let seen = observed.blobs.get(key).cloned().flatten();
        let allowed = |model: &Model| model.blobs.get(key).cloned().flatten() == seen;
        if !allowed(before) && !allowed(after) {
            problems.push(format!(
                "blob {}@{}: observed {}, expected {} or {}",
                key.0,
                &key.1[..19],
                blob_summary(observed.blobs.get(key)),
                blob_summary(before.blobs.get(key)),
                blob_summary(after.blobs.get(key))
            ));
        }
    }
    let session_keys: BTreeSet<_> = before
        .sessions
        .keys()
        .chain(after.sessions.keys())
        .collect();
    for key in session_keys {
        let seen = observed.sessions.get(key);
        let allowed = |model: &Model| match (model.sessions.get(key), seen) {
            (None, None) => true,
            (Some(SessionFact::At(expected)), Some(SessionFact::At(offset))) => expected == offset,
            // The commit published the blob, or got as far as linking the session's bytes into
            // the dedupe store: that session can never continue (its data file is the blob's
            // now), so it is unknown and the client uploads again.
            (Some(SessionFact::Committed { repository, digest }), None) => {
                let key = (repository.to_string(), digest.clone());
                observed.blobs.get(&key).is_some_and(Option::is_some)
                    || observed.deduplicated.contains(digest)
            }
            _ => false,
        };
        if !allowed(before) && !allowed(after) {
            problems.push(format!(
                "upload session {key}: observed {seen:?}, expected {:?} or {:?} \
                 (a committed session must leave its blob)",
                before.sessions.get(key),
                after.sessions.get(key)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

// ---------------------------------------------------------------------------------------------
// Running operations against a store.

fn name(text: &str) -> RepositoryName<'_> {
    RepositoryName::parse(text).expect("test names are valid")
}

fn config_for(root: &Path, dedupe: bool) -> StoreConfig {
    let mut config = StoreConfig::new(root);
    config.dedupe = dedupe;
    config
}

/// An open store and what a client remembers across a crash: its session identifiers.
struct Run {
    store: Store,
    /// Sessions continued in this process, by key.
    uploads: HashMap<&'static str, Upload>,
    /// Session identifiers the client was given (an acknowledged POST).
    sessions: HashMap<&'static str, SessionId>,
}

impl Run {
    async fn open(
        config: StoreConfig,
        disk: Disk,
        sessions: HashMap<&'static str, SessionId>,
    ) -> Result<Run, String> {
        let store = Store::open(config, disk)
            .await
            .map_err(|error| format!("open: {error:?}"))?;
        Ok(Run {
            store,
            uploads: HashMap::new(),
            sessions,
        })
    }

    /// Drops everything in memory, as a crash does, keeping what the client knows.
    fn crash(self) -> HashMap<&'static str, SessionId> {
        self.sessions
    }
}

/// A blob pushed whole in one upload (a monolithic POST): created, appended, committed.
async fn push_whole(store: &Store, repository: &str, content: &[u8]) -> Result<(), UploadError> {
    let mut upload = Upload::create(
        store.root(),
        store.disk(),
        name(repository),
        Algorithm::Sha256,
        Resumable::No,
    )
    .await?;
    upload.append(content.to_vec()).await?;
    let committed = upload
        .commit(digest_of(Algorithm::Sha256, content).as_digest())
        .await?;
    assert_eq!(committed.size, content.len() as u64);
    Ok(())
}

/// Runs `op`. With `retry_after` (the state observed after a crash), `op` is the interrupted
/// operation or one after it, retried by a client that did not get an answer: an operation the
/// crash already completed is not repeated where repeating it would be an error (a second
/// delete), and an upload continues from the offset the session reports.
async fn execute(run: &mut Run, op: &Op, retry_after: Option<&Model>) -> Result<(), String> {
    let error = |error: &dyn std::fmt::Debug| format!("{}: {error:?}", op.label());
    match op {
        Op::CreateRepository { repository } => {
            run.store
                .create_repository(name(repository))
                .await
                .map_err(|e| error(&e))?;
        }
        Op::PushBlob {
            repository,
            content,
        } => push_whole(&run.store, repository, content)
            .await
            .map_err(|e| error(&e))?,
        Op::StartUpload { key } => {
            let exists = retry_after.is_some_and(|observed| observed.sessions.contains_key(key));
            if !exists {
                let plan = upload_plan(key);
                let upload = Upload::create(
                    run.store.root(),
                    run.store.disk(),
                    name(plan.repository),
                    Algorithm::Sha256,
                    Resumable::Yes,
                )
                .await
                .map_err(|e| error(&e))?;
                assert_eq!(upload.size(), 0);
                run.sessions.insert(key, upload.session().clone());
                run.uploads.insert(key, upload);
            }
        }
        Op::Chunk { key, start, end } => {
            let plan = upload_plan(key);
            let upload = run
                .uploads
                .get_mut(key)
                .ok_or_else(|| format!("{}: no session to continue", op.label()))?;
            // A retrying client asks for the offset and sends from there (distribution spec).
            let from = if retry_after.is_some() {
                usize::try_from(upload.size()).expect("small")
            } else {
                *start
            };
            if from < *end {
                upload
                    .append_at(from as u64, plan.content[from..*end].to_vec())
                    .await
                    .map_err(|e| error(&e))?;
                let offset = upload.acknowledge().await.map_err(|e| error(&e))?;
                assert_eq!(offset, *end as u64, "{}", op.label());
            }
        }
        Op::CommitUpload { key } => {
            let plan = upload_plan(key);
            let blob_digest = digest_of(Algorithm::Sha256, &plan.content);
            match run.uploads.remove(key) {
                Some(mut upload) => {
                    let from = usize::try_from(upload.size()).expect("small");
                    if from < plan.content.len() {
                        assert!(retry_after.is_some(), "{}: the upload is short", op.label());
                        upload
                            .append_at(from as u64, plan.content[from..].to_vec())
                            .await
                            .map_err(|e| error(&e))?;
                    }
                    upload
                        .commit(blob_digest.as_digest())
                        .await
                        .map_err(|e| error(&e))?;
                }
                // The crash came after the blob was published and the session removed: the
                // client's retried PUT finds no session, and the blob must be there. Or it came
                // after the bytes were linked into the dedupe store and before the repository
                // had them: the session is over (its data is the store's blob) and the client,
                // told the session is unknown, uploads the blob again.
                None if retry_after.is_some() => {
                    let present =
                        read_blob(&run.store, plan.repository, blob_digest.as_str()).await;
                    let deduplicated = retry_after.is_some_and(|observed| {
                        observed.deduplicated.contains(blob_digest.as_str())
                    });
                    if present.is_none() && deduplicated {
                        push_whole(&run.store, plan.repository, &plan.content)
                            .await
                            .map_err(|e| error(&e))?;
                    } else if present.as_deref() != Some(&plan.content[..]) {
                        return Err(format!(
                            "{}: the session is gone but the blob is not committed",
                            op.label()
                        ));
                    }
                }
                None => return Err(format!("{}: no session to commit", op.label())),
            }
        }
        Op::ResumeUpload { key } => {
            if !run.uploads.contains_key(key) {
                let session = run
                    .sessions
                    .get(key)
                    .ok_or_else(|| format!("{}: no session identifier", op.label()))?;
                let upload = Upload::resume(
                    run.store.root(),
                    run.store.disk(),
                    name(upload_plan(key).repository),
                    session,
                )
                .await
                .map_err(|e| error(&e))?;
                run.uploads.insert(key, upload);
            }
        }
        Op::WriteUnacknowledged { key, content } => {
            use std::io::Write as _;
            let session = run.sessions[key].clone();
            // Written behind the session's back, so that no write task outlives the fixture.
            run.uploads.remove(key);
            let path = run
                .store
                .root()
                .repository(name(upload_plan(key).repository))
                .upload_data(&session);
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| error(&e))?;
            file.write_all(content).map_err(|e| error(&e))?;
        }
        Op::PutManifest {
            repository,
            reference,
            tags,
            media_type,
            body,
        } => {
            let reference = Reference::parse(reference).expect("valid reference");
            let tags: Vec<Tag<'_>> = tags
                .iter()
                .map(|tag| Tag::parse(tag).expect("valid tag"))
                .collect();
            let (repository, disk) = run
                .store
                .repository_and_disk(repository)
                .ok_or_else(|| format!("{}: no such repository", op.label()))?;
            let put = repository
                .put_manifest(disk, reference, &tags, Some(media_type), body)
                .await
                .map_err(|e| error(&e))?;
            assert_eq!(put.digest.as_str(), digest(body));
        }
        Op::DeleteTag { repository, tag } => {
            let done =
                retry_after.is_some_and(|observed| !observed.tags[*repository].contains_key(*tag));
            if !done {
                let (repository, disk) = run
                    .store
                    .repository_and_disk(repository)
                    .ok_or_else(|| format!("{}: no such repository", op.label()))?;
                repository
                    .delete_tag(disk, Tag::parse(tag).expect("valid tag"))
                    .await
                    .map_err(|e| error(&e))?;
            }
        }
        Op::DeleteManifest { repository, digest } => {
            let done = retry_after
                .is_some_and(|observed| !observed.manifests[*repository].contains_key(digest));
            if !done {
                let (repository, disk) = run
                    .store
                    .repository_and_disk(repository)
                    .ok_or_else(|| format!("{}: no such repository", op.label()))?;
                repository
                    .delete_manifest(disk, Digest::parse(digest).expect("valid digest"))
                    .await
                    .map_err(|e| error(&e))?;
            }
        }
        Op::DeleteBlob { repository, digest } => {
            let key = (repository.to_string(), digest.clone());
            let done = retry_after.is_some_and(|observed| observed.blobs.get(&key) == Some(&None));
            if !done {
                let (repository, disk) = run
                    .store
                    .repository_and_disk(repository)
                    .ok_or_else(|| format!("{}: no such repository", op.label()))?;
                repository
                    .delete_blob(disk, Digest::parse(digest).expect("valid digest"))
                    .await
                    .map_err(|e| error(&e))?;
            }
        }
        Op::Mount { to, from, digest } => {
            let mounted = run
                .store
                .mount_blob(
                    name(to),
                    name(from),
                    Digest::parse(digest).expect("valid digest"),
                )
                .await
                .map_err(|e| error(&e))?;
            if mounted.is_none() {
                return Err(format!("{}: the source has no such blob", op.label()));
            }
        }
    }
    Ok(())
}

/// A blob's bytes read through the engine, or `None` when the repository lacks it.
async fn read_blob(store: &Store, repository: &str, digest: &str) -> Option<Vec<u8>> {
    let paths = store.root().repository(name(repository));
    let blob = BlobFile::open(&paths, Digest::parse(digest).expect("valid digest"))
        .await
        .expect("blobs can be opened")?;
    let mut content = Vec::with_capacity(usize::try_from(blob.size()).expect("small"));
    let mut buffer = Vec::with_capacity(64 * 1024);
    for _ in 0..=blob.size() / 4096 + 1 {
        let (read, returned) = blob.read_at(buffer, content.len() as u64).await;
        buffer = returned;
        let count = read.expect("blobs can be read");
        if count == 0 {
            break;
        }
        content.extend_from_slice(&buffer[..count]);
        buffer.clear();
    }
    let size = blob.size();
    blob.close().await;
    assert_eq!(content.len() as u64, size, "read to the end");
    Some(content)
}

/// What the reopened engine shows: the catalog; each repository's tags (resolved through the
/// engine) and manifests (the digests `index.json` lists, read through the engine); the blobs
/// and sessions the models track. Sessions that exist are resumed, so the retry can use them.
async fn observe(run: &mut Run, models: [&Model; 2]) -> Result<Model, String> {
    let mut observed = Model::default();
    let catalog: Vec<String> = run
        .store
        .catalog_page(None, None)
        .entries
        .into_iter()
        .map(str::to_owned)
        .collect();
    for repository_name in catalog {
        observed.add_repository(&repository_name);
        let index_path = run.store.root().repository(name(&repository_name)).index();
        let listed: Vec<String> = match std::fs::read(&index_path) {
            Ok(bytes) => RepositoryIndex::parse(&bytes)
                .map_err(|error| format!("{}: {error}", index_path.display()))?
                .entries()
                .iter()
                .map(|entry| entry.digest().to_owned())
                .collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(format!("{}: {error}", index_path.display())),
        };
        let (repository, disk) = run
            .store
            .repository_and_disk(&repository_name)
            .expect("in the catalog");
        let tags: Vec<String> = repository
            .tags_page(None, None)
            .entries
            .into_iter()
            .map(str::to_owned)
            .collect();
        for tag in tags {
            let (resolved, _) = repository
                .resolve(Reference::Tag(Tag::parse(&tag).expect("valid tag")))
                .ok_or_else(|| format!("{repository_name}:{tag} is listed but not resolved"))?;
            observed
                .tags
                .get_mut(&repository_name)
                .expect("added")
                .insert(tag.clone(), resolved.as_str().to_owned());
        }
        for manifest_digest in listed {
            let parsed = Digest::parse(&manifest_digest).expect("the index validated it");
            let content = repository
                .manifest(disk, Reference::Digest(parsed))
                .await
                .map_err(|error| {
                    format!("{repository_name}@{manifest_digest} is listed but: {error:?}")
                })?;
            observed
                .manifests
                .get_mut(&repository_name)
                .expect("added")
                .insert(manifest_digest, content.bytes);
        }
    }
    let blob_keys: BTreeSet<_> = models.iter().flat_map(|model| model.blobs.keys()).collect();
    for (repository, blob_digest) in blob_keys {
        let content = read_blob(&run.store, repository, blob_digest).await;
        observed
            .blobs
            .insert((repository.clone(), blob_digest.clone()), content);
        let parsed = Digest::parse(blob_digest).expect("the test's digests are valid");
        if blobstore_blob(run.store.root().directory(), parsed).is_file() {
            observed.deduplicated.insert(blob_digest.clone());
        }
    }
    let session_keys: BTreeSet<&'static str> = models
        .iter()
        .flat_map(|model| model.sessions.keys().copied())
        .collect();
    run.uploads.clear();
    for key in session_keys {
        let Some(session) = run.sessions.get(key) else {
            continue;
        };
        match Upload::resume(
            run.store.root(),
            run.store.disk(),
            name(upload_plan(key).repository),
            session,
        )
        .await
        {
            Ok(upload) => {
                observed
                    .sessions
                    .insert(key, SessionFact::At(upload.size()));
                run.uploads.insert(key, upload);
            }
            Err(UploadError::SessionUnknown) => {}
            Err(error) => return Err(format!("resume of session {key}: {error:?}")),
        }
    }
    Ok(observed)
}

// ---------------------------------------------------------------------------------------------
// Checks of a root at rest.

/// Every path under `folder` whose name holds `.tmp-`.
fn temporary_files(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("readable test folder") {
            let entry = entry.expect("readable entry");
            if entry.file_name().to_string_lossy().contains(".tmp-") {
                found.push(entry.path());
            }
            if entry.file_type().expect("file type").is_dir() {
                pending.push(entry.path());
            }
        }
    }
    found
}

/// I6 in full, beyond what `check_root` checks: each session's hasher state is the hash of
/// exactly the first `offset` bytes of its data.
fn check_upload_hashers(root: &Path, repositories: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for repository in repositories {
        let uploads = root.join(repository).join(".uploads");
        let Ok(entries) = std::fs::read_dir(&uploads) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable entry").path();
            let file_name = path.file_name().expect("named").to_string_lossy();
            let Some(session) = file_name.strip_suffix(".state") else {
                continue;
            };
            let state_bytes = std::fs::read(&path).expect("readable state");
            let Ok((state, _)) = UploadState::decode_newest(&state_bytes) else {
                problems.push(format!("I6 {}: no valid record after open", path.display()));
                continue;
            };
            let data = std::fs::read(uploads.join(session)).unwrap_or_default();
            let Some(prefix) = usize::try_from(state.offset)
                .ok()
                .and_then(|offset| data.get(..offset))
            else {
                problems.push(format!(
                    "I6 {}: offset {} past {} bytes of data",
                    path.display(),
                    state.offset,
                    data.len()
                ));
                continue;
            };
            let restored = StreamHasher::deserialize(state.algorithm, &state.hasher_state)
                .map(StreamHasher::finish);
            if restored.as_ref() != Some(&digest_of(state.algorithm, prefix)) {
                problems.push(format!(
                    "I6 {}: the hasher state is not the hash of the first {} bytes",
                    path.display(),
                    state.offset
                ));
            }
        }
    }
    problems
}

/// Copies the fixture root to `to`, keeping hard links as links, as dedupe made them.
fn copy_root(from: &Path, to: &Path) {
    let mut linked: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut pending = vec![(from.to_path_buf(), to.to_path_buf())];
    while let Some((source, target)) = pending.pop() {
        std::fs::create_dir_all(&target).expect("create copy folder");
        for entry in std::fs::read_dir(&source).expect("readable fixture") {
            let entry = entry.expect("readable entry");
            let destination = target.join(entry.file_name());
            let metadata = entry.metadata().expect("stat");
            if metadata.is_dir() {
                pending.push((entry.path(), destination));
            } else if let Some(first) = linked.get(&(metadata.dev(), metadata.ino())) {
                std::fs::hard_link(first, &destination).expect("link");
            } else {
                std::fs::copy(entry.path(), &destination).expect("copy");
                if metadata.nlink() > 1 {
                    linked.insert((metadata.dev(), metadata.ino()), destination);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The fixture and the scenarios.

fn put(
    repository: &'static str,
    reference: &str,
    tags: &[&'static str],
    media_type: &'static str,
    body: &[u8],
) -> Op {
    Op::PutManifest {
        repository,
        reference: reference.to_owned(),
        tags: tags.to_vec(),
        media_type,
        body: body.to_vec(),
    }
}

fn push(repository: &'static str, content: &[u8]) -> Op {
    Op::PushBlob {
        repository,
        content: content.to_vec(),
    }
}

/// The starting root of every scenario: two repositories with blobs, tagged manifests, an index
/// and a referrer; an unreferenced blob in each; an upload acknowledged up to two chunks, with
/// unacknowledged bytes after them.
fn base_ops(contents: &Contents) -> Vec<Op> {
    let c = contents;
    let mut ops = vec![Op::CreateRepository { repository: ALPINE }];
    for content in [
        &c.layers[0],
        &c.layers[1],
        &c.layers[2],
        &c.configs[0],
        &c.configs[1],
        &EMPTY_CONFIG.to_vec(),
        &SIGNATURE_PAYLOAD.to_vec(),
        &c.loose,
    ] {
        ops.push(push(ALPINE, content));
    }
    ops.extend([
        put(ALPINE, "latest", &["3.20"], OCI_IMAGE_MANIFEST, &c.m1),
        put(ALPINE, "old", &[], OCI_IMAGE_MANIFEST, &c.m2),
        put(ALPINE, "multi", &[], OCI_IMAGE_INDEX, &c.index_multi),
        put(
            ALPINE,
            &digest(&c.signature),
            &[],
            OCI_IMAGE_MANIFEST,
            &c.signature,
        ),
        Op::CreateRepository { repository: OTHER },
        push(OTHER, &c.layers[0]),
        push(OTHER, &c.configs[2]),
        push(OTHER, &c.loose_other),
        put(OTHER, "v1", &["stable"], OCI_IMAGE_MANIFEST, &c.m3),
        Op::StartUpload { key: BASE_UPLOAD },
        Op::Chunk {
            key: BASE_UPLOAD,
            start: 0,
            end: CHUNK_BYTES,
        },
        Op::Chunk {
            key: BASE_UPLOAD,
            start: CHUNK_BYTES,
            end: 2 * CHUNK_BYTES,
        },
        Op::WriteUnacknowledged {
            key: BASE_UPLOAD,
            content: bytes(999, 1000),
        },
    ]);
    ops
}

struct Scenario {
    name: &'static str,
    dedupe: bool,
    ops: Vec<Op>,
}

fn scenario(scenario_name: &'static str) -> Scenario {
    let c = Contents::new();
    let (dedupe, ops) = match scenario_name {
        "monolithic upload, dedupe on" | "monolithic upload, dedupe off" => (
            scenario_name.ends_with("on"),
            // The second push of the same digest finds it (in _blobstore with dedupe).
            vec![push(ALPINE, &c.fresh), push(OTHER, &c.fresh)],
        ),
        "chunked upload" => {
            let length = upload_plan(CHUNKED_UPLOAD).content.len();
            let chunk = |start: usize| Op::Chunk {
                key: CHUNKED_UPLOAD,
                start,
                end: (start + CHUNK_BYTES).min(length),
            };
            (
                true,
                vec![
                    Op::StartUpload {
                        key: CHUNKED_UPLOAD,
                    },
                    chunk(0),
                    chunk(CHUNK_BYTES),
                    chunk(2 * CHUNK_BYTES),
                    Op::CommitUpload {
                        key: CHUNKED_UPLOAD,
                    },
                ],
            )
        }
        "resumed upload" => (
            true,
            vec![
                Op::ResumeUpload { key: BASE_UPLOAD },
                Op::Chunk {
                    key: BASE_UPLOAD,
                    start: 2 * CHUNK_BYTES,
                    end: upload_plan(BASE_UPLOAD).content.len(),
                },
                Op::CommitUpload { key: BASE_UPLOAD },
            ],
        ),
        "manifest put" => (
            true,
            vec![
                put(ALPINE, &digest(&c.m4), &[], OCI_IMAGE_MANIFEST, &c.m4),
                put(ALPINE, "new", &[], OCI_IMAGE_MANIFEST, &c.m4),
                // Moves `latest` from m1 and adds a tag, in one index replacement.
                put(ALPINE, "latest", &["extra"], OCI_IMAGE_MANIFEST, &c.m5),
            ],
        ),
        "index put" => (
            true,
            vec![
                put(
                    ALPINE,
                    &digest(&c.child_a),
                    &[],
                    OCI_IMAGE_MANIFEST,
                    &c.child_a,
                ),
                put(
                    ALPINE,
                    &digest(&c.child_b),
                    &[],
                    OCI_IMAGE_MANIFEST,
                    &c.child_b,
                ),
                put(
                    ALPINE,
                    "release",
                    &["stable", "v2", "multi"],
                    OCI_IMAGE_INDEX,
                    &c.index_release,
                ),
            ],
        ),
        "tag delete" => (
            true,
            vec![
                Op::DeleteTag {
                    repository: ALPINE,
                    tag: "3.20",
                },
                // The only tag of m2: m2 stays, listed by digest.
                Op::DeleteTag {
                    repository: ALPINE,
                    tag: "old",
                },
            ],
        ),
        "manifest delete" => (
            true,
            vec![
                Op::DeleteManifest {
                    repository: OTHER,
                    digest: digest(&c.m3),
                },
                Op::DeleteManifest {
                    repository: ALPINE,
                    digest: digest(&c.signature),
                },
            ],
        ),
        "blob delete" => (
            true,
            vec![
                Op::DeleteBlob {
                    repository: ALPINE,
                    digest: digest(&c.loose),
                },
                Op::DeleteBlob {
                    repository: OTHER,
                    digest: digest(&c.loose_other),
                },
            ],
        ),
        "mount" => (
            true,
            vec![
                Op::Mount {
                    to: OTHER,
                    from: ALPINE,
                    digest: digest(&c.layers[1]),
                },
                Op::Mount {
                    to: "mounted/here",
                    from: ALPINE,
                    digest: digest(&c.layers[2]),
                },
            ],
        ),
        "repository creation" => (
            true,
            vec![
                Op::CreateRepository {
                    repository: "a/b/c",
                },
                push("a/b/c", &c.nested_layer),
                push("a/b/c", &c.nested_config),
                put("a/b/c", "v1", &[], OCI_IMAGE_MANIFEST, &c.nested_manifest),
                // Nested inside an existing repository's folder.
                Op::CreateRepository {
                    repository: "library/alpine/tools",
                },
            ],
        ),
        other => panic!("no scenario {other}"),
    };
    Scenario {
        name: scenario_name,
        dedupe,
        ops,
    }
}

/// The base fixture, built once per driver with a clean disk.
struct Base {
    root: PathBuf,
    model: Model,
    sessions: HashMap<&'static str, SessionId>,
    /// Mutating steps `Store::open` takes on it (creating the root folder): crash points are
    /// counted after them.
    open_steps: u64,
}

async fn build_base(root: PathBuf, dedupe: bool) -> Base {
    let contents = Contents::new();
    let mut run = Run::open(config_for(&root, dedupe), Disk::new(), HashMap::new())
        .await
        .expect("open the fixture root");
    let mut model = Model::default();
    for op in base_ops(&contents) {
        execute(&mut run, &op, None)
            .await
            .unwrap_or_else(|error| panic!("fixture: {error}"));
        model.apply(&op);
    }
    let sessions = run.crash();
    let report = check_root(&root, &CheckOptions { hash_blobs: true });
    assert!(report.is_clean(), "the fixture is clean:\n{report}");
    let plan = FaultPlan::counting();
    let probe = root.with_extension("probe");
    copy_root(&root, &probe);
    let store = Store::open(
        config_for(&probe, dedupe),
        Disk::with_faults(Rc::clone(&plan)),
    )
    .await
    .expect("open the fixture");
    drop(store);
    std::fs::remove_dir_all(&probe).expect("remove probe");
    Base {
        root,
        model,
        sessions,
        open_steps: plan.steps_taken(),
    }
}

/// What one run of a scenario under a fault plan did.
struct Outcome {
    plan: Rc<FaultPlan>,
    /// The operations that returned `Ok`, applied to the fixture's model.
    acknowledged: Model,
    acknowledged_labels: Vec<String>,
    /// The first operation that failed: its position, the model had it completed, its error.
    interrupted: Option<(usize, Model, String)>,
    sessions: HashMap<&'static str, SessionId>,
}

async fn run_scenario(
    base: &Base,
    scenario: &Scenario,
    root: &Path,
    plan: Rc<FaultPlan>,
) -> Outcome {
    let mut run = Run::open(
        config_for(root, scenario.dedupe),
        Disk::with_faults(Rc::clone(&plan)),
        base.sessions.clone(),
    )
    .await
    .expect("the crash point lies after open");
    let mut acknowledged = base.model.clone();
    let mut acknowledged_labels = Vec::new();
    let mut interrupted = None;
    for (position, op) in scenario.ops.iter().enumerate() {
        let mut after = acknowledged.clone();
        after.apply(op);
        match execute(&mut run, op, None).await {
            Ok(()) => {
                acknowledged = after;
                acknowledged_labels.push(op.label());
            }
            Err(error) => {
                interrupted = Some((position, after, error));
                break;
            }
        }
    }
    Outcome {
        plan,
        acknowledged,
        acknowledged_labels,
        interrupted,
        sessions: run.crash(),
    }
}

/// Runs the scenario crashing at scenario step `k` (of `steps`), then checks the reopened root.
async fn check_crash_point(
    base: &Base,
    scenario: &Scenario,
    root: &Path,
    k: u64,
    steps: u64,
) -> Result<(), String> {
    let plan = FaultPlan::crash_at(base.open_steps + k);
    let outcome = run_scenario(base, scenario, root, plan).await;
    let trace = outcome.plan.trace().join("\n    ");
    let context = |problem: String| {
        format!(
            "{problem}\n  acknowledged: {:?}\n  interrupted: {:?}\n  trace:\n    {trace}",
            outcome.acknowledged_labels,
            outcome.interrupted.as_ref().map(|(_, _, error)| error),
        )
    };
    if k < steps && (!outcome.plan.crashed() || outcome.interrupted.is_none()) {
        return Err(context(format!(
            "the plan should have crashed (crashed: {}) and an operation failed",
            outcome.plan.crashed()
        )));
    }
    if k == steps && (outcome.plan.crashed() || outcome.interrupted.is_some()) {
        return Err(context(
            "past the last step, nothing should fail".to_owned(),
        ));
    }
    let config = config_for(root, scenario.dedupe);

    // The root as the crash left it: everything but upload state (which open repairs) holds.
    let report = check_root(root, &CheckOptions { hash_blobs: true });
    let unrepaired: Vec<String> = report
        .violations
        .iter()
        .filter(|violation| violation.invariant != Invariant::I6)
        .map(ToString::to_string)
        .collect();
    if !unrepaired.is_empty() || !report.read_errors.is_empty() {
        return Err(context(format!(
            "invariants broken by the crash itself:\n{report}"
        )));
    }

    let mut run = Run::open(config.clone(), Disk::new(), outcome.sessions.clone())
        .await
        .map_err(|error| context(format!("reopen after the crash: {error}")))?;
    let leftovers = temporary_files(root);
    if !leftovers.is_empty() {
        return Err(context(format!(
            "temporary files outlive open: {leftovers:?}"
        )));
    }
    let report = check_root(root, &CheckOptions { hash_blobs: true });
    if !report.is_clean() {
        return Err(context(format!("invariants broken after open:\n{report}")));
    }
    let hashers = check_upload_hashers(root, &report.repositories);
    if !hashers.is_empty() {
        return Err(context(hashers.join("\n")));
    }

    // Acknowledged means durable, and the interrupted operation is whole or absent.
    let before = &outcome.acknowledged;
    let after = outcome
        .interrupted
        .as_ref()
        .map_or(before, |(_, model, _)| model);
    let observed = observe(&mut run, [before, after])
        .await
        .map_err(|problem| context(format!("observing the reopened root: {problem}")))?;
    compare(&observed, before, after).map_err(context)?;

    // The engine goes on: the interrupted operation and the rest succeed when retried.
    let from = outcome
        .interrupted
        .as_ref()
        .map_or(scenario.ops.len(), |(position, _, _)| *position);
    for op in &scenario.ops[from..] {
        execute(&mut run, op, Some(&observed))
            .await
            .map_err(|problem| context(format!("retry after reopening: {problem}")))?;
    }
    let sessions = run.crash();
    let mut run = Run::open(config, Disk::new(), sessions)
        .await
        .map_err(|error| context(format!("reopen after the retry: {error}")))?;
    let report = check_root(root, &CheckOptions { hash_blobs: true });
    if !report.is_clean() {
        return Err(context(format!(
            "invariants broken after the retry:\n{report}"
        )));
    }
    let mut expected = base.model.clone();
    for op in &scenario.ops {
        expected.apply(op);
    }
    let observed = observe(&mut run, [&expected, &expected])
        .await
        .map_err(|problem| context(format!("observing after the retry: {problem}")))?;
    compare(&observed, &expected, &expected)
        .map_err(|problem| context(format!("after the retry: {problem}")))?;
    Ok(())
}

/// Crashes `scenario` at each of its steps on both drivers; panics with every problem found.
fn crash_everywhere(scenario_name: &'static str) {
    let scenario = scenario(scenario_name);
    let scenario = &scenario;
    on_both_drivers(|driver: Driver, folder: PathBuf| async move {
        let started = Instant::now();
        let base = build_base(folder.join("base"), scenario.dedupe).await;

        // The clean run: how many steps the scenario takes.
        let counting_root = folder.join("counting");
        copy_root(&base.root, &counting_root);
        let outcome = run_scenario(&base, scenario, &counting_root, FaultPlan::counting()).await;
        if let Some((_, _, error)) = &outcome.interrupted {
            panic!("{}: fails without faults: {error}", scenario.name);
        }
        let steps = outcome.plan.steps_taken() - base.open_steps;
        assert!(
            steps > 0 && steps < CRASH_POINTS_MAX,
            "{}: {steps} steps",
            scenario.name
        );
        std::fs::remove_dir_all(&counting_root).expect("remove");

        let mut problems = Vec::new();
        let mut tried = 0u64;
        for k in 0..=steps {
            let root = folder.join(format!("crash-{k}"));
            copy_root(&base.root, &root);
            if let Err(problem) = check_crash_point(&base, scenario, &root, k, steps).await {
                problems.push(format!(
                    "{} on {driver:?}, crash at step {k} of {steps}: {problem}",
                    scenario.name
                ));
            }
            tried += 1;
            std::fs::remove_dir_all(&root).expect("remove");
        }
        println!(
            "{} on {driver:?}: {tried} crash points in {:?}",
            scenario.name,
            started.elapsed()
        );
        assert!(tried > 0, "no crash point tried");
        assert!(
            problems.is_empty(),
            "{} of {tried} crash points went wrong:\n\n{}",
            problems.len(),
            problems.join("\n\n")
        );
    });
}

#[test]
fn monolithic_upload_with_dedupe() {
    crash_everywhere("monolithic upload, dedupe on");
}

#[test]
fn monolithic_upload_without_dedupe() {
    crash_everywhere("monolithic upload, dedupe off");
}

#[test]
fn chunked_upload() {
    crash_everywhere("chunked upload");
}

#[test]
fn resumed_upload() {
    crash_everywhere("resumed upload");
}

#[test]
fn manifest_put_by_digest_new_tag_and_moved_tag() {
    crash_everywhere("manifest put");
}

#[test]
fn index_put_with_children_and_tags() {
    crash_everywhere("index put");
}

#[test]
fn tag_delete() {
    crash_everywhere("tag delete");
}

#[test]
fn manifest_delete_with_tags() {
    crash_everywhere("manifest delete");
}

#[test]
fn blob_delete() {
    crash_everywhere("blob delete");
}

#[test]
fn mount_from_another_repository() {
    crash_everywhere("mount");
}

#[test]
fn repository_creation() {
    crash_everywhere("repository creation");
}

const ALL_SCENARIOS: [&str; 11] = [
    "monolithic upload, dedupe on",
    "monolithic upload, dedupe off",
    "chunked upload",
    "resumed upload",
    "manifest put",
    "index put",
    "tag delete",
    "manifest delete",
    "blob delete",
    "mount",
    "repository creation",
];

/// The harness can fail: a crash at the first step of a scenario makes its first operation fail,
/// and the plan records the crash.
#[test]
fn the_fault_plan_interrupts_the_first_operation() {
    on_both_drivers(|_, folder| async move {
        for (position, scenario_name) in ALL_SCENARIOS.iter().enumerate() {
            let scenario = scenario(scenario_name);
            let base = build_base(folder.join(format!("base-{position}")), scenario.dedupe).await;
            let root = folder.join(format!("root-{position}"));
            copy_root(&base.root, &root);
            let plan = FaultPlan::crash_at(base.open_steps);
            let outcome = run_scenario(&base, &scenario, &root, plan).await;
            assert!(outcome.plan.crashed(), "{scenario_name}");
            assert!(
                outcome.acknowledged_labels.is_empty(),
                "{scenario_name}: {:?}",
                outcome.acknowledged_labels
            );
            let (position, _, error) = outcome
                .interrupted
                .as_ref()
                .unwrap_or_else(|| panic!("{scenario_name}: nothing failed"));
            assert_eq!(*position, 0, "{scenario_name}: {error}");
            assert!(error.contains("injected crash"), "{scenario_name}: {error}");
            let trace = outcome.plan.trace();
            let last = trace.last().expect("a trace");
            assert!(
                last.starts_with(&format!("{}: crash during", base.open_steps)),
                "{scenario_name}: {trace:?}"
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Durability across power loss, read from the trace.
//
// A killed process loses nothing the kernel has, so the crash points above cannot see a missing
// `fsync`. This check reads the steps of each acknowledged operation instead and applies the
// file-system assumptions of docs/design.md section 1: data is durable once its file is synced
// (A2), a name once its folder is synced (A3), and nothing is ordered without a sync (A5).

/// One step of a fault plan's trace.
#[derive(Debug)]
struct Step {
    what: &'static str,
    path: PathBuf,
}

fn parse_trace(lines: &[String]) -> Vec<Step> {
    const KINDS: [&str; 9] = [
        "sync folder",
        "create",
        "write",
        "sync",
        "rename",
        "link",
        "unlink",
        "mkdir",
        "truncate",
    ];
    lines
        .iter()
        .map(|line| {
            let (_, rest) = line.split_once(": ").expect("a numbered step");
            let what = KINDS
                .iter()
                .find(|kind| rest.starts_with(&format!("{kind} ")))
                .unwrap_or_else(|| panic!("unknown step {line}"));
            Step {
                what,
                path: PathBuf::from(&rest[what.len() + 1..]),
            }
        })
        .collect()
}

/// Every file and folder under `root`.
fn snapshot(root: &Path) -> BTreeSet<PathBuf> {
    let mut names = BTreeSet::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("readable root") {
            let entry = entry.expect("readable entry");
            if entry.file_type().expect("file type").is_dir() {
                pending.push(entry.path());
            }
            names.insert(entry.path());
        }
    }
    names
}

/// What an acknowledged operation left that a power loss could take back.
fn durability_problems(
    steps: &[Step],
    before: &BTreeSet<PathBuf>,
    after: &BTreeSet<PathBuf>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let later = |position: usize, what: &str, path: &Path| {
        steps[position + 1..]
            .iter()
            .any(|step| step.what == what && step.path == path)
    };
    let parent = |path: &Path| path.parent().expect("below the root").to_path_buf();
    for (position, step) in steps.iter().enumerate() {
        // A2: written data is synced before the answer, unless the file is thrown away.
        if step.what == "write"
            && !later(position, "sync", &step.path)
            && !later(position, "unlink", &step.path)
        {
            problems.push(format!(
                "A2: {} is written and never synced",
                step.path.display()
            ));
        }
        // A3: a rename over a name (index.json) is made durable by syncing its folder. New
        // names, links included, are checked below; a link to a name that was there already
        // failed with `AlreadyExists`, which the trace does not show.
        if step.what == "rename" && !later(position, "sync folder", &parent(&step.path)) {
            problems.push(format!(
                "A3: rename to {} without a sync of its folder afterwards",
                step.path.display()
            ));
        }
    }
    // A3: every name the operation made, folders too, is synced in its parent folder.
    for name in after.difference(before) {
        if name.to_string_lossy().contains(".tmp-") {
            problems.push(format!("{} outlives the operation", name.display()));
            continue;
        }
        let made_at = steps.iter().position(|step| match step.what {
            "create" | "rename" | "link" => step.path == *name,
            "mkdir" => step.path.starts_with(name),
            _ => false,
        });
        match made_at {
            Some(position) if later(position, "sync folder", &parent(name)) => {}
            Some(_) => problems.push(format!(
                "A3: {} is new and its folder {} is not synced after it",
                name.display(),
                parent(name).display()
            )),
            None => problems.push(format!("{} appeared with no step", name.display())),
        }
    }
    // A3: a blob or manifest deleted stays deleted (sessions' files may come back harmlessly).
    for name in before.difference(after) {
        if !name
            .components()
            .any(|component| component.as_os_str() == "blobs")
        {
            continue;
        }
        let removed_at = steps
            .iter()
            .position(|step| step.what == "unlink" && step.path == *name);
        match removed_at {
            Some(position) if later(position, "sync folder", &parent(name)) => {}
            _ => problems.push(format!(
                "A3: {} is deleted and its folder is not synced after it",
                name.display()
            )),
        }
    }
    problems
}

/// Every operation of the fixture and of every scenario, run once without faults: each makes
/// what it changed durable before it returns (I7 across a power loss, by A2, A3 and A5).
#[test]
fn acknowledged_operations_sync_what_they_change() {
    on_both_drivers(|driver, folder| async move {
        let contents = Contents::new();
        let mut problems = BTreeSet::new();
        for (position, scenario_name) in ALL_SCENARIOS.iter().enumerate() {
            let scenario = scenario(scenario_name);
            let root = folder.join(format!("root-{position}"));
            let plan = FaultPlan::counting();
            let mut run = Run::open(
                config_for(&root, scenario.dedupe),
                Disk::with_faults(Rc::clone(&plan)),
                HashMap::new(),
            )
            .await
            .expect("open");
            for op in base_ops(&contents).iter().chain(&scenario.ops) {
                let before = snapshot(&root);
                let first_step = plan.trace().len();
                execute(&mut run, op, None)
                    .await
                    .unwrap_or_else(|error| panic!("{scenario_name}: {error}"));
                let steps = parse_trace(&plan.trace()[first_step..]);
                for problem in durability_problems(&steps, &before, &snapshot(&root)) {
                    // Relative to the root, so that the fixture's operations, which every
                    // scenario repeats, are reported once.
                    let problem = problem
                        .replace(&format!("{}/", root.display()), "")
                        .replace(&root.display().to_string(), "<root>");
                    problems.insert(format!("{driver:?}, {}: {problem}", op.label()));
                }
            }
        }
        assert!(
            problems.is_empty(),
            "{}",
            problems.into_iter().collect::<Vec<_>>().join("\n")
        );
    });
}
