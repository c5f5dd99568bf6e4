//! One repository in memory: its `index.json`, the sorted tag map and the manifest set built from
//! it at open, and the manifest, tag, blob-delete and referrers operations its owner core runs
//! (docs/design.md 4.4, 4.5). `&mut self` on every change is invariant I8: one writer at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::ops::Bound;

use proto::oci::manifest::{Annotations, Descriptor, parse_manifest};
use proto::oci::media_type::is_nondistributable_layer;
use proto::oci::{Algorithm, Digest, DigestBuf, Reference, Tag};

use crate::blob;
use crate::disk::Disk;
use crate::error::{BlobError, IoFailure, ManifestStoreError, OpenError};
use crate::hasher::digest_of;
use crate::index::RepositoryIndex;
use crate::layout::{RepositoryPaths, temporary_path};

/// What the index says about a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestRecord {
    /// The media type it was pushed with, answered as `Content-Type`.
    pub media_type: String,
    pub size: u64,
}

/// A manifest read back: the bytes exactly as pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestContent {
    pub digest: DigestBuf,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// What a manifest put did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutManifest {
    pub digest: DigestBuf,
    /// The manifest's `subject`, for the `OCI-Subject` header.
    pub subject: Option<DigestBuf>,
}

/// One entry of a referrers answer: a descriptor of a manifest whose `subject` is the digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referrer {
    pub digest: DigestBuf,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: Option<Annotations>,
}

/// A blob's size, and its media type where a manifest of the repository names one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobStat {
    pub size: u64,
    pub media_type: Option<String>,
}

/// One page of a sorted listing (tags or catalog).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<'a> {
    pub entries: Vec<&'a str>,
    /// Whether entries follow the last one returned: the server then sends `Link`.
    pub more: bool,
}

/// Takes at most `count` keys after `last` (exclusive) from a sorted map: the cost is a search
/// plus the page, whatever the map's size.
pub(crate) fn page<'a, V>(
    map: &'a BTreeMap<String, V>,
    count: Option<usize>,
    last: Option<&str>,
) -> Page<'a> {
    let lower = last.map_or(Bound::Unbounded, Bound::Excluded);
    let mut keys = map
        .range::<str, _>((lower, Bound::Unbounded))
        .map(|(key, _)| key.as_str());
    let entries: Vec<&str> = match count {
        Some(count) => keys.by_ref().take(count).collect(),
        None => keys.by_ref().collect(),
    };
    let more = keys.next().is_some();
    Page { entries, more }
}

/// What the engine read from one manifest's bytes (loaded lazily: see [`Details`]).
#[derive(Clone, Debug)]
struct ManifestFacts {
    /// Config and layers that must be present (I3).
    blobs: Vec<(DigestBuf, String)>,
    children: Vec<(DigestBuf, ManifestRecord)>,
    subject: Option<DigestBuf>,
    artifact_type: Option<String>,
    annotations: Option<Annotations>,
}

/// A manifest body [`Repository::check_manifest`] accepted, with what storing it needs.
pub(crate) struct CheckedManifest {
    parsed: proto::oci::ParsedManifest,
    digest: DigestBuf,
    facts: ManifestFacts,
}

/// The reverse references of a repository, built from its manifests' bytes on the first request
/// that needs them (blob stat or delete, manifest delete, referrers). Reading every manifest at
/// open would make opening a large root slow (docs/design.md 4.6).
#[derive(Debug, Default)]
struct Details {
    facts: HashMap<DigestBuf, ManifestFacts>,
    /// Blob → manifests that reference it.
    blob_users: HashMap<DigestBuf, BTreeSet<DigestBuf>>,
    /// Manifest → indexes that list it.
    child_users: HashMap<DigestBuf, BTreeSet<DigestBuf>>,
    /// Subject → manifests that name it.
    referrers: HashMap<DigestBuf, BTreeSet<DigestBuf>>,
    /// Blob → the media type a manifest gives it.
    blob_media_types: HashMap<DigestBuf, String>,
    /// Manifest listed by an index → its media type and size from the index's descriptor. A
    /// layout written by other tools (skopeo's `copy --all`) lists only the index in
    /// `index.json`; its platform manifests are found through it.
    child_records: HashMap<DigestBuf, ManifestRecord>,
}

impl Details {
    fn add(&mut self, digest: &DigestBuf, facts: ManifestFacts) {
        for (blob, media_type) in &facts.blobs {
            self.blob_users
                .entry(blob.clone())
                .or_default()
                .insert(digest.clone());
            self.blob_media_types
                .entry(blob.clone())
                .or_insert_with(|| media_type.clone());
        }
        for (child, record) in &facts.children {
            self.child_users
                .entry(child.clone())
                .or_default()
                .insert(digest.clone());
            self.child_records
                .entry(child.clone())
                .or_insert_with(|| record.clone());
        }
        if let Some(subject) = &facts.subject {
            self.referrers
                .entry(subject.clone())
                .or_default()
                .insert(digest.clone());
        }
        self.facts.insert(digest.clone(), facts);
    }

    fn remove(&mut self, digest: &DigestBuf) {
        let Some(facts) = self.facts.remove(digest) else {
            return;
        };
        let unlink = |map: &mut HashMap<DigestBuf, BTreeSet<DigestBuf>>, key: &DigestBuf| {
            if let Some(users) = map.get_mut(key) {
                users.remove(digest);
                if users.is_empty() {
                    map.remove(key);
                }
            }
        };
        for (blob, _) in &facts.blobs {
            unlink(&mut self.blob_users, blob);
            if !self.blob_users.contains_key(blob) {
                self.blob_media_types.remove(blob);
            }
        }
        for (child, _) in &facts.children {
            unlink(&mut self.child_users, child);
            if !self.child_users.contains_key(child) {
                self.child_records.remove(child);
            }
        }
        if let Some(subject) = &facts.subject {
            unlink(&mut self.referrers, subject);
        }
    }
}

fn facts_of(parsed: &proto::oci::ParsedManifest) -> ManifestFacts {
    let owned = |descriptor: &Descriptor| descriptor.parsed_digest().ok().map(DigestBuf::from);
    let blobs = parsed
        .config()
        .into_iter()
        .chain(parsed.layers())
        // Foreign layers with URLs may live elsewhere; the distribution spec lets a registry
        // accept them without the blob.
        .filter(|layer| !(is_nondistributable_layer(&layer.media_type) && layer.urls.is_some()))
        .filter_map(|descriptor| Some((owned(descriptor)?, descriptor.media_type.clone())))
        .collect();
    ManifestFacts {
        blobs,
        children: parsed
            .manifests()
            .iter()
            .filter_map(|descriptor| {
                let record = ManifestRecord {
                    media_type: descriptor.media_type.clone(),
                    size: descriptor.size,
                };
                Some((owned(descriptor)?, record))
            })
            .collect(),
        subject: parsed.subject().and_then(owned),
        artifact_type: parsed.artifact_type().map(str::to_owned),
        annotations: parsed.annotations().cloned(),
    }
}

/// A repository, owned by one core.
#[derive(Debug)]
pub struct Repository {
    name: String,
    paths: RepositoryPaths,
    index: RepositoryIndex,
    tags: BTreeMap<String, DigestBuf>,
    manifests: HashMap<DigestBuf, ManifestRecord>,
    details: Option<Details>,
}

impl Repository {
    /// Reads a repository's `index.json` (a missing one is an empty index: docs/design.md 4.1
    /// step 2) and builds its in-memory maps.
    pub async fn load(
        disk: &Disk,
        name: &str,
        paths: RepositoryPaths,
    ) -> Result<Repository, OpenError> {
        let index_path = paths.index();
        let bytes = match disk.read(&index_path).await {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => {
                return Err(OpenError::Io(IoFailure::new(
                    "read index",
                    index_path,
                    error,
                )));
            }
        };
        Repository::from_index(name, paths, bytes.as_deref())
    }

    /// Builds a repository from the bytes of its `index.json`, `None` when it has none.
    pub(crate) fn from_index(
        name: &str,
        paths: RepositoryPaths,
        index: Option<&[u8]>,
    ) -> Result<Repository, OpenError> {
        let index = match index {
            Some(bytes) => {
                RepositoryIndex::parse(bytes).map_err(|error| OpenError::IndexDamaged {
                    repository: name.to_owned(),
                    detail: error.to_string(),
                })?
            }
            None => RepositoryIndex::empty(),
        };
        let mut repository = Repository {
            name: name.to_owned(),
            paths,
            index,
            tags: BTreeMap::new(),
            manifests: HashMap::new(),
            details: None,
        };
        repository.rebuild_maps();
        Ok(repository)
    }

    fn rebuild_maps(&mut self) {
        self.tags.clear();
        self.manifests.clear();
        for entry in self.index.entries() {
            let digest = DigestBuf::parse(entry.digest()).expect("the index validated it");
            if let Some(tag) = entry.tag() {
                self.tags.insert(tag.to_owned(), digest.clone());
            }
            self.manifests.insert(
                digest,
                ManifestRecord {
                    media_type: entry.media_type().to_owned(),
                    size: entry.size(),
                },
            );
        }
        self.details = None;
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn paths(&self) -> &RepositoryPaths {
        &self.paths
    }

    pub fn tag_count(&self) -> usize {
        self.tags.len()
    }

    /// The digest and record a tag or digest names, if the repository has it.
    pub fn resolve(&self, reference: Reference<'_>) -> Option<(DigestBuf, &ManifestRecord)> {
        let digest = match reference {
            Reference::Digest(digest) => DigestBuf::from(digest),
            Reference::Tag(tag) => self.tags.get(tag.as_str())?.clone(),
        };
        let record = self.manifests.get(&digest)?;
        Some((digest, record))
    }

    /// [`Repository::resolve`], and for a digest also the manifests that a listed index lists
    /// but `index.json` does not (layouts other tools wrote). What HEAD answers from.
    pub async fn resolve_for_read(
        &mut self,
        disk: &Disk,
        reference: Reference<'_>,
    ) -> Result<Option<(DigestBuf, ManifestRecord)>, ManifestStoreError> {
        if let Some((digest, record)) = self.resolve(reference) {
            return Ok(Some((digest, record.clone())));
        }
        let Some(digest) = reference.as_digest() else {
            return Ok(None);
        };
        self.load_details(disk)
            .await
            .map_err(ManifestStoreError::Io)?;
        let details = self.details.as_ref().expect("just loaded");
        Ok(details
            .child_records
            .get(digest.as_str())
            .map(|record| (DigestBuf::from(digest), record.clone())))
    }

    /// A manifest's bytes and media type (GET; HEAD needs only
    /// [`Repository::resolve_for_read`]).
    pub async fn manifest(
        &mut self,
        disk: &Disk,
        reference: Reference<'_>,
    ) -> Result<ManifestContent, ManifestStoreError> {
        let (digest, record) = self
            .resolve_for_read(disk, reference)
            .await?
            .ok_or(ManifestStoreError::ManifestUnknown)?;
        let path = self.paths.blob(digest.as_digest());
        let bytes = match disk.read(&path).await {
            Ok(bytes) => bytes,
            // Listed but gone (I2 broken by hand): unknown, as zot answers.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(ManifestStoreError::ManifestUnknown);
            }
            Err(error) => {
                return Err(ManifestStoreError::Io(IoFailure::new(
                    "read manifest",
                    path,
                    error,
                )));
            }
        };
        Ok(ManifestContent {
            digest,
            media_type: record.media_type.clone(),
            bytes,
        })
    }

    /// Stores a manifest under `reference` and every tag of `tags` (docs/design.md 4.4). The
    /// body is validated with `proto`, its digest checked when the reference is one, and every
    /// blob and child manifest it references must be in the repository (I3). On any error
    /// nothing changes.
    pub async fn put_manifest(
        &mut self,
        disk: &Disk,
        reference: Reference<'_>,
        tags: &[Tag<'_>],
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<PutManifest, ManifestStoreError> {
        let CheckedManifest {
            parsed,
            digest,
            facts,
        } = self
            .check_manifest(disk, reference, content_type, body)
            .await?;
        let mut all_tags: Vec<Tag<'_>> = reference.as_tag().into_iter().collect();
        for tag in tags {
            if !all_tags.contains(tag) {
                all_tags.push(*tag);
            }
        }

        self.write_manifest_blob(disk, digest.as_digest(), body)
            .await
            .map_err(ManifestStoreError::Io)?;
        let media_type = parsed.media_type();
        let size = body.len() as u64;
        if self
            .index
            .put_manifest(digest.as_digest(), media_type, size, &all_tags)
        {
            self.write_index(disk)
                .await
                .map_err(ManifestStoreError::Io)?;
        }
        for tag in &all_tags {
            self.tags.insert(tag.as_str().to_owned(), digest.clone());
        }
        self.manifests.insert(
            digest.clone(),
            ManifestRecord {
                media_type: media_type.to_owned(),
                size,
            },
        );
        let subject = facts.subject.clone();
        if let Some(details) = &mut self.details {
            details.remove(&digest);
            details.add(&digest, facts);
        }
        Ok(PutManifest { digest, subject })
    }

    /// Everything [`Repository::put_manifest`] refuses a body for, with nothing written: the
    /// body is validated, its digest checked against a digest reference, and every blob and
    /// child manifest it names must be in the repository.
    pub(crate) async fn check_manifest(
        &self,
        disk: &Disk,
        reference: Reference<'_>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<CheckedManifest, ManifestStoreError> {
        let parsed = parse_manifest(content_type, body).map_err(ManifestStoreError::Invalid)?;
        let algorithm = reference
            .as_digest()
            .map_or(Algorithm::Sha256, |digest| digest.algorithm());
        let digest = digest_of(algorithm, body);
        if let Some(expected) = reference.as_digest()
            && digest.as_digest() != expected
        {
            return Err(ManifestStoreError::DigestMismatch {
                expected: expected.into(),
                computed: digest,
            });
        }
        let facts = facts_of(&parsed);
        for (blob, _) in &facts.blobs {
            match disk.file_size(&self.paths.blob(blob.as_digest())).await {
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Err(ManifestStoreError::BlobUnknown(blob.clone()));
                }
                Err(error) => {
                    let path = self.paths.blob(blob.as_digest());
                    return Err(ManifestStoreError::Io(IoFailure::new(
                        "stat blob",
                        path,
                        error,
                    )));
                }
            }
        }
        if let Some((child, _)) = facts
            .children
            .iter()
            .find(|(child, _)| !self.manifests.contains_key(child))
        {
            return Err(ManifestStoreError::ChildManifestUnknown(child.clone()));
        }
        Ok(CheckedManifest {
            parsed,
            digest,
            facts,
        })
    }

    /// Removes a tag; the manifest stays (4.5).
    pub async fn delete_tag(
        &mut self,
        disk: &Disk,
        tag: Tag<'_>,
    ) -> Result<(), ManifestStoreError> {
        if !self.index.remove_tag(tag.as_str()) {
            return Err(ManifestStoreError::ManifestUnknown);
        }
        self.write_index(disk)
            .await
            .map_err(ManifestStoreError::Io)?;
        self.tags.remove(tag.as_str());
        Ok(())
    }

    /// Deletes a manifest and every tag naming it (4.5): the index first, then the file, so a
    /// crash between them leaves only an unreferenced blob. Refused while an index of the
    /// repository lists it (I3).
    pub async fn delete_manifest(
        &mut self,
        disk: &Disk,
        digest: Digest<'_>,
    ) -> Result<(), ManifestStoreError> {
        let digest = DigestBuf::from(digest);
        if !self.manifests.contains_key(&digest) {
            return Err(ManifestStoreError::ManifestUnknown);
        }
        let details = self.details(disk).await.map_err(ManifestStoreError::Io)?;
        if let Some(by) = details
            .child_users
            .get(&digest)
            .and_then(|users| users.first())
        {
            return Err(ManifestStoreError::Referenced { by: by.clone() });
        }
        let still_a_blob = details.blob_users.contains_key(&digest);
        self.index.remove_digest(digest.as_str());
        self.write_index(disk)
            .await
            .map_err(ManifestStoreError::Io)?;
        self.tags.retain(|_, tagged| *tagged != digest);
        self.manifests.remove(&digest);
        if let Some(details) = &mut self.details {
            details.remove(&digest);
        }
        if !still_a_blob {
            let path = self.paths.blob(digest.as_digest());
            match disk.remove_file(&path).await {
                Ok(()) => blob::sync_parent(disk, &path)
                    .await
                    .map_err(ManifestStoreError::Io)?,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(ManifestStoreError::Io(IoFailure::new(
                        "remove manifest",
                        path,
                        error,
                    )));
                }
            }
        }
        Ok(())
    }

    /// Tags sorted lexically, `count` of them after `last`.
    pub fn tags_page(&self, count: Option<usize>, last: Option<&str>) -> Page<'_> {
        page(&self.tags, count, last)
    }

    /// Manifests whose `subject` is `subject`, optionally only those of `artifact_type`, sorted
    /// by digest.
    pub async fn referrers(
        &mut self,
        disk: &Disk,
        subject: Digest<'_>,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, ManifestStoreError> {
        self.load_details(disk)
            .await
            .map_err(ManifestStoreError::Io)?;
        let details = self.details.as_ref().expect("just loaded");
        let Some(digests) = details.referrers.get(subject.as_str()) else {
            return Ok(Vec::new());
        };
        let mut referrers = Vec::with_capacity(digests.len());
        for digest in digests {
            let facts = &details.facts[digest];
            if artifact_type.is_some() && facts.artifact_type.as_deref() != artifact_type {
                continue;
            }
            let record = &self.manifests[digest];
            referrers.push(Referrer {
                digest: digest.clone(),
                media_type: record.media_type.clone(),
                size: record.size,
                artifact_type: facts.artifact_type.clone(),
                annotations: facts.annotations.clone(),
            });
        }
        Ok(referrers)
    }

    /// A blob's size and, where a manifest names it, its media type.
    pub async fn blob_stat(
        &mut self,
        disk: &Disk,
        digest: Digest<'_>,
    ) -> Result<BlobStat, BlobError> {
        let path = self.paths.blob(digest);
        let size = match disk.file_size(&path).await {
            Ok(size) => size,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(BlobError::BlobUnknown);
            }
            Err(error) => return Err(BlobError::Io(IoFailure::new("stat blob", path, error))),
        };
        let media_type = match self.manifests.get(digest.as_str()) {
            Some(record) => Some(record.media_type.clone()),
            None => {
                let details = self.details(disk).await.map_err(BlobError::Io)?;
                details.blob_media_types.get(digest.as_str()).cloned()
            }
        };
        Ok(BlobStat { size, media_type })
    }

    /// Deletes a blob, unless a manifest of the repository references it or it is a listed
    /// manifest (I3, 4.5).
    pub async fn delete_blob(&mut self, disk: &Disk, digest: Digest<'_>) -> Result<(), BlobError> {
        if self.manifests.contains_key(digest.as_str()) {
            return Err(BlobError::InUse {
                manifest: digest.into(),
            });
        }
        let details = self.details(disk).await.map_err(BlobError::Io)?;
        if let Some(user) = details
            .blob_users
            .get(digest.as_str())
            .and_then(|u| u.first())
        {
            return Err(BlobError::InUse {
                manifest: user.clone(),
            });
        }
        let path = self.paths.blob(digest);
        match disk.remove_file(&path).await {
            Ok(()) => blob::sync_parent(disk, &path).await.map_err(BlobError::Io),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Err(BlobError::BlobUnknown),
            Err(error) => Err(BlobError::Io(IoFailure::new("remove blob", path, error))),
        }
    }

    /// Writes a manifest's bytes as a blob (4.4 step 1), unless the blob is there already.
    async fn write_manifest_blob(
        &self,
        disk: &Disk,
        digest: Digest<'_>,
        body: &[u8],
    ) -> Result<(), IoFailure> {
        let target = self.paths.blob(digest);
        if disk.file_size(&target).await.is_ok() {
            return Ok(());
        }
        let temporary = temporary_path(&self.paths.uploads());
        let file = disk
            .create_new(&temporary)
            .await
            .map_err(|error| IoFailure::new("create manifest", &temporary, error))?;
        let result = async {
            let (written, _) = disk.write_all_at(&file, &temporary, body.to_vec(), 0).await;
            written.map_err(|error| IoFailure::new("write manifest", &temporary, error))?;
            disk.sync_data(&file, &temporary)
                .await
                .map_err(|error| IoFailure::new("sync manifest", &temporary, error))?;
            blob::publish_without_dedupe(disk, &self.paths, &temporary, digest).await
        }
        .await;
        let _ = file.close().await;
        if !disk.crashed() {
            let _ = disk.remove_file(&temporary).await;
        }
        result
    }

    /// Replaces `index.json` with the in-memory index (4.4 steps 2 and 3). On failure the
    /// in-memory state is read back from the file, which holds the old or the new index whole
    /// (I4), so memory never claims what the disk may not have.
    async fn write_index(&mut self, disk: &Disk) -> Result<(), IoFailure> {
        let path = self.paths.index();
        match disk.replace_file(&path, self.index.to_json()).await {
            Ok(()) => Ok(()),
            Err(error) => {
                match disk.read(&path).await {
                    Ok(bytes) => {
                        if let Ok(index) = RepositoryIndex::parse(&bytes) {
                            self.index = index;
                        }
                    }
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {
                        self.index = RepositoryIndex::empty();
                    }
                    // Unreadable now: memory keeps the change, and the next open reads the file.
                    Err(_) => {}
                }
                self.rebuild_maps();
                Err(IoFailure::new("replace index", path, error))
            }
        }
    }

    async fn details(&mut self, disk: &Disk) -> Result<&Details, IoFailure> {
        self.load_details(disk).await?;
        Ok(self.details.as_ref().expect("just loaded"))
    }

    async fn load_details(&mut self, disk: &Disk) -> Result<(), IoFailure> {
        if self.details.is_none() {
            let mut details = Details::default();
            for (digest, record) in &self.manifests {
                let path = self.paths.blob(digest.as_digest());
                let bytes = match disk.read(&path).await {
                    Ok(bytes) => bytes,
                    // A listed manifest that is missing or damaged references nothing the
                    // engine can know; `zot scrub` reports it (I2).
                    Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                    Err(error) => return Err(IoFailure::new("read manifest", path, error)),
                };
                if let Ok(parsed) = parse_manifest(Some(&record.media_type), &bytes) {
                    details.add(digest, facts_of(&parsed));
                }
            }
            self.details = Some(details);
        }
        Ok(())
    }
}
