//! A store: the repositories of a root that one core owns, opened from disk, with repository
//! creation, mounts, session expiry and the catalog. The server shards a root's repositories
//! across cores by opening one store per core with its share of the names (docs/ARCHITECTURE.md).

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use proto::limits::REPOSITORY_NAME_COMPONENTS_MAX;
use proto::oci::{Algorithm, Digest, Reference, RepositoryName};

use crate::blob;
use crate::disk::Disk;
use crate::error::{
    BlobError, IoFailure, ManifestStoreError, OpenError, RepositoryError, UploadError,
};
use crate::index::RepositoryIndex;
use crate::layout::{SessionId, blobstore_blob};
use crate::limits::COLLISION_SCAN_FOLDERS_MAX;
use crate::open::{
    clean_repository, expire_sessions, find_repositories, list_uploads, remove_temporary_files,
};
use crate::repository::{Page, Repository, page};
use crate::root::{Root, Roots, StoreConfig};
use crate::upload::{CommittedBlob, Resumable, Upload};

/// The content of every `oci-layout` file (image spec, I10).
pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// The repositories of a root that this core owns.
#[derive(Debug)]
pub struct Store {
    roots: Arc<Roots>,
    disk: Disk,
    repositories: BTreeMap<String, Repository>,
    /// Repositories open found damaged and left out: not served, never overwritten.
    damaged: Vec<OpenError>,
}

impl Store {
    /// Opens every repository of the root (created if missing). A repository whose `index.json`
    /// is damaged is left out and reported by [`Store::damaged`]: one bad repository must not
    /// stop the others from being served, and the engine never writes over what it cannot read.
    pub async fn open(config: StoreConfig, disk: Disk) -> Result<Store, OpenError> {
        Store::open_owned(config, disk, &|_| true).await
    }

    /// Opens the repositories for which `owns` is true; the others belong to other cores.
    pub async fn open_owned(
        config: StoreConfig,
        disk: Disk,
        owns: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Store, OpenError> {
        let roots = Arc::new(Roots::new(config));
        let mut repositories = BTreeMap::new();
        let mut damaged = Vec::new();
        for (_, root) in roots.all() {
            // A name is this root's to serve if this core owns it and it routes here: a sub
            // path's namespace found in the default root (written before the sub path was
            // configured) is not served from there.
            let routes_here = |name: &str| Arc::ptr_eq(roots.for_name(name), root);
            let owned_here = |name: &str| owns(name) && routes_here(name);
            open_root(root, &disk, &owned_here, &mut repositories, &mut damaged).await?;
        }
        Ok(Store {
            roots,
            disk,
            repositories,
            damaged,
        })
    }

    /// The repositories left out at open, each with why.
    pub fn damaged(&self) -> &[OpenError] {
        &self.damaged
    }

    /// `storage.rootDirectory`'s root, the only one without sub paths.
    pub fn root(&self) -> &Arc<Root> {
        self.roots.default_root()
    }

    /// The default root and the sub path roots.
    pub fn roots(&self) -> &Arc<Roots> {
        &self.roots
    }

    /// The root that holds repository `name`.
    pub fn root_for(&self, name: &str) -> &Arc<Root> {
        self.roots.for_name(name)
    }

    pub fn disk(&self) -> &Disk {
        &self.disk
    }

    pub fn repository(&self, name: &str) -> Option<&Repository> {
        self.repositories.get(name)
    }

    pub fn repository_mut(&mut self, name: &str) -> Option<&mut Repository> {
        self.repositories.get_mut(name)
    }

    /// The repository and the disk together, for calling its operations.
    pub fn repository_and_disk(&mut self, name: &str) -> Option<(&mut Repository, &Disk)> {
        Some((self.repositories.get_mut(name)?, &self.disk))
    }

    pub fn repository_count(&self) -> usize {
        self.repositories.len()
    }

    /// Repository names sorted, `count` of them after `last`.
    pub fn catalog_page(&self, count: Option<usize>, last: Option<&str>) -> Page<'_> {
        page(&self.repositories, count, last)
    }

    /// The repository, created on disk first if it does not exist (docs/design.md 4.1).
    pub async fn create_repository(
        &mut self,
        name: RepositoryName<'_>,
    ) -> Result<&mut Repository, RepositoryError> {
        if !self.repositories.contains_key(name.as_str()) {
            // create_on_disk never replaces an existing index.json, and loading it again reports
            // a damaged one instead of serving it.
            let repository = self.create_on_disk(name).await?;
            self.repositories
                .insert(name.as_str().to_owned(), repository);
        }
        Ok(self
            .repositories
            .get_mut(name.as_str())
            .expect("present or just inserted"))
    }

    /// Refuses a name [`Store::create_repository`] would refuse as colliding with the storage's
    /// folders or files (invariant I11), without creating anything.
    pub fn check_new_repository_name(
        &self,
        name: RepositoryName<'_>,
    ) -> Result<(), RepositoryError> {
        self.check_collision(name)
    }

    /// Refuses a manifest put to repository `name`, which does not exist yet, for exactly what
    /// [`Repository::put_manifest`] would refuse it for, without creating anything: a refused
    /// first push leaves no empty repository behind.
    pub async fn check_manifest_for_new_repository(
        &self,
        name: RepositoryName<'_>,
        reference: Reference<'_>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), ManifestStoreError> {
        assert!(
            !self.repositories.contains_key(name.as_str()),
            "only a repository that does not exist is checked this way"
        );
        // An empty repository where the new one would be: its blob paths do not exist, so
        // every blob the manifest names is unknown, as it would be after creating it.
        let paths = self.root_for(name.as_str()).repository(name);
        let empty = Repository::from_index(name.as_str(), paths, None)
            .expect("an empty index always builds");
        empty
            .check_manifest(&self.disk, reference, content_type, body)
            .await
            .map(drop)
    }

    async fn create_on_disk(
        &self,
        name: RepositoryName<'_>,
    ) -> Result<Repository, RepositoryError> {
        self.check_collision(name)?;
        let disk = &self.disk;
        let root = self.root_for(name.as_str());
        let paths = root.repository(name);
        let io = |operation: &'static str, path: &std::path::Path| {
            let path = path.to_path_buf();
            move |error: io::Error| RepositoryError::Io(IoFailure::new(operation, path, error))
        };
        let blob_folder = paths.blob_folder(proto::oci::Algorithm::Sha256);
        // Durable names (A3): `blobs/` holds `sha256` and is synced by nothing else.
        disk.create_dir_all_durable(&blob_folder)
            .await
            .map_err(io("create folder", &blob_folder))?;
        disk.create_dir_all_durable(&paths.uploads())
            .await
            .map_err(io("create folder", &paths.uploads()))?;
        let layout = paths.oci_layout();
        if disk.file_size(&layout).await.is_err() {
            disk.replace_file(&layout, OCI_LAYOUT.to_vec())
                .await
                .map_err(io("write oci-layout", &layout))?;
        }
        let index = paths.index();
        if disk.file_size(&index).await.is_err() {
            disk.replace_file(&index, RepositoryIndex::empty().to_json())
                .await
                .map_err(io("write index", &index))?;
        }
        // The new folders' names, deepest first, up to the root (4.1 step 4).
        let mut folder = paths.directory().parent();
        while let Some(current) = folder {
            disk.sync_directory(current)
                .await
                .map_err(io("sync folder", current))?;
            if current == root.directory() {
                break;
            }
            folder = current.parent();
        }
        Repository::load(disk, name.as_str(), paths)
            .await
            .map_err(|error| match error {
                OpenError::Io(failure) | OpenError::Root(failure) => RepositoryError::Io(failure),
                other => RepositoryError::Io(IoFailure::new(
                    "load new repository",
                    root.directory(),
                    io::Error::other(other.to_string()),
                )),
            })
    }

    /// Invariant I11: a repository folder never lies inside another's `blobs/`, a repository is
    /// not created where another repository's folders already are, and no folder of a name is
    /// an existing file.
    fn check_collision(&self, name: RepositoryName<'_>) -> Result<(), RepositoryError> {
        let root = self.root_for(name.as_str());
        let mut folder = root.directory().to_path_buf();
        let mut previous_is_repository = false;
        for component in name.components() {
            if previous_is_repository && component == "blobs" {
                return Err(RepositoryError::NameCollision {
                    detail: format!(
                        "{} is the blobs folder of repository {}",
                        name.as_str(),
                        folder
                            .strip_prefix(root.directory())
                            .unwrap_or(&folder)
                            .display()
                    ),
                });
            }
            folder.push(component);
            // A file where a folder of the name belongs (a repository's index.json or
            // oci-layout, zot's cache.db): the folder cannot be made, and that is the name's
            // fault, not an I/O failure.
            if std::fs::metadata(&folder).is_ok_and(|metadata| !metadata.is_dir()) {
                return Err(RepositoryError::NameCollision {
                    detail: format!(
                        "{} is a file, not a folder",
                        folder
                            .strip_prefix(root.directory())
                            .unwrap_or(&folder)
                            .display()
                    ),
                });
            }
            previous_is_repository = folder.join("oci-layout").is_file();
        }
        // A repository anywhere below `<name>/blobs` (`a/blobs/x` created before `a`), not only
        // `<name>/blobs` itself: creating `a` would put it inside a's blobs folder.
        if !previous_is_repository {
            let depth_left =
                REPOSITORY_NAME_COMPONENTS_MAX.saturating_sub(name.components().count());
            let mut folders_left = COLLISION_SCAN_FOLDERS_MAX;
            let blobs = folder.join("blobs");
            if let Some(nested) = repository_below(&blobs, depth_left, &mut folders_left) {
                let detail = if nested == blobs {
                    format!("{}/blobs is a repository", name.as_str())
                } else {
                    let nested = nested.strip_prefix(root.directory()).unwrap_or(&nested);
                    format!(
                        "{}/blobs holds repository {}",
                        name.as_str(),
                        nested.display()
                    )
                };
                return Err(RepositoryError::NameCollision { detail });
            }
        }
        Ok(())
    }

    /// Gives repository `to` (created if needed) the blob `digest` of repository `from`
    /// (docs/design.md 4.3). `Ok(None)` when `from` does not have it: the server then starts a
    /// normal upload session, as the distribution spec says.
    pub async fn mount_blob(
        &mut self,
        to: RepositoryName<'_>,
        from: RepositoryName<'_>,
        digest: Digest<'_>,
    ) -> Result<Option<CommittedBlob>, BlobError> {
        let source = self.root_for(from.as_str()).repository(from).blob(digest);
        self.mount_blob_file(to, &source, digest).await
    }

    /// Gives repository `to` (created if needed) the blob `digest` from the dedupe store
    /// `_blobstore`, for a mount that names no source repository. Any committed file there is
    /// the blob: the store only ever links in files whose digest was checked, whether or not
    /// `storage.dedupe` is on today. `Ok(None)` when the store has no such blob.
    pub async fn mount_blob_from_blobstore(
        &mut self,
        to: RepositoryName<'_>,
        digest: Digest<'_>,
    ) -> Result<Option<CommittedBlob>, BlobError> {
        let source = blobstore_blob(self.root_for(to.as_str()).directory(), digest);
        self.mount_blob_file(to, &source, digest).await
    }

    /// The first repository of this store, in name order, that holds the blob `digest`: the
    /// source of a mount that names none, when the dedupe store does not have it. One `stat` per
    /// repository, so its cost grows with the store; mounts without a source are rare, and the
    /// alternative for the client is a whole upload.
    pub async fn repository_with_blob(&self, digest: Digest<'_>) -> Option<String> {
        for (name, repository) in &self.repositories {
            if self
                .disk
                .file_size(&repository.paths().blob(digest))
                .await
                .is_ok()
            {
                return Some(name.clone());
            }
        }
        None
    }

    async fn mount_blob_file(
        &mut self,
        to: RepositoryName<'_>,
        source: &std::path::Path,
        digest: Digest<'_>,
    ) -> Result<Option<CommittedBlob>, BlobError> {
        let repository = self
            .create_repository(to)
            .await
            .map_err(|error| match error {
                RepositoryError::Io(failure) => BlobError::Io(failure),
                RepositoryError::NameCollision { detail } => BlobError::NameCollision { detail },
            })?;
        let to_paths = repository.paths().clone();
        let target = to_paths.blob(digest);
        if let Ok(size) = self.disk.file_size(&target).await {
            return Ok(Some(CommittedBlob {
                digest: digest.into(),
                size,
            }));
        }
        let root = Arc::clone(self.root_for(to.as_str()));
        if !blob::mount(&root, &self.disk, source, &to_paths, digest)
            .await
            .map_err(BlobError::Io)?
        {
            return Ok(None);
        }
        let size = self
            .disk
            .file_size(&target)
            .await
            .map_err(|error| BlobError::Io(IoFailure::new("stat blob", target, error)))?;
        Ok(Some(CommittedBlob {
            digest: digest.into(),
            size,
        }))
    }

    /// Deletes blob `digest` from repository `name` ([`Repository::delete_blob`]), then its
    /// dedupe master in `_blobstore` when no repository links it any more, so deleted blobs
    /// give their space back. The master goes only when it has a single link left (itself): a
    /// repository or an upload being committed holds another. A commit that found the master and
    /// then sees it gone links from its own upload file instead (`blob::publish`), so the race
    /// costs deduplication of that one blob, never the blob.
    pub async fn delete_blob(
        &mut self,
        name: RepositoryName<'_>,
        digest: Digest<'_>,
    ) -> Result<(), BlobError> {
        let root = Arc::clone(self.root_for(name.as_str()));
        let Some((repository, disk)) = self.repository_and_disk(name.as_str()) else {
            return Err(BlobError::RepositoryUnknown);
        };
        repository.delete_blob(disk, digest).await?;
        let master = blobstore_blob(root.directory(), digest);
        let unlinked = match std::fs::metadata(&master) {
            Ok(metadata) => std::os::unix::fs::MetadataExt::nlink(&metadata) == 1,
            Err(_) => false,
        };
        if unlinked {
            match self.disk.remove_file(&master).await {
                Ok(()) => blob::sync_parent(&self.disk, &master)
                    .await
                    .map_err(BlobError::Io)?,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(BlobError::Io(IoFailure::new(
                        "remove dedupe master",
                        master,
                        error,
                    )));
                }
            }
        }
        Ok(())
    }

    /// Starts an upload session in repository `name` (which must exist), hashing with
    /// `algorithm`: [`Upload::create`] on this store's root and disk.
    pub async fn start_upload(
        &self,
        name: RepositoryName<'_>,
        algorithm: Algorithm,
        resumable: Resumable,
    ) -> Result<Upload, UploadError> {
        let root = self.root_for(name.as_str());
        Upload::create(root, &self.disk, name, algorithm, resumable).await
    }

    /// Continues an upload session: [`Upload::resume`] on this store's root and disk.
    pub async fn resume_upload(
        &self,
        name: RepositoryName<'_>,
        session: &SessionId,
    ) -> Result<Upload, UploadError> {
        Upload::resume(self.root_for(name.as_str()), &self.disk, name, session).await
    }

    /// Deletes upload sessions older than the configured age in every repository of this store.
    /// Returns how many went.
    pub async fn expire_uploads(&self) -> Result<usize, IoFailure> {
        let mut removed = 0;
        for (name, repository) in &self.repositories {
            let names = list_uploads(&repository.paths().uploads())?;
            let root = self.roots.for_name(name);
            removed += expire_sessions(root, &self.disk, repository.paths(), &names, false).await?;
        }
        Ok(removed)
    }
}

/// Opens the repositories of one root that `owns` names into `repositories`; damaged ones go to
/// `damaged`.
async fn open_root(
    root: &Arc<Root>,
    disk: &Disk,
    owns: &(dyn Fn(&str) -> bool + Sync),
    repositories: &mut BTreeMap<String, Repository>,
    damaged: &mut Vec<OpenError>,
) -> Result<(), OpenError> {
    disk.create_dir_all(root.directory())
        .await
        .map_err(|error| OpenError::Root(IoFailure::new("create", root.directory(), error)))?;
    let found = find_repositories(root.directory(), owns).map_err(OpenError::Root)?;
    for repository in found.into_iter().filter(|found| owns(&found.name)) {
        if !repository.is_repository {
            // A creation cut short (4.1): its folders stay for the next push to reuse, and
            // its temporary files go, as everywhere.
            remove_temporary_files(disk, &repository.temporary_files)
                .await
                .map_err(OpenError::Io)?;
            continue;
        }
        let name = RepositoryName::parse(&repository.name).expect("the walk validated it");
        let paths = root.repository(name);
        clean_repository(root, disk, &paths, &repository)
            .await
            .map_err(OpenError::Io)?;
        match Repository::from_index(&repository.name, paths, repository.index.as_deref()) {
            Ok(loaded) => {
                repositories.insert(repository.name, loaded);
            }
            Err(error @ OpenError::IndexDamaged { .. }) => damaged.push(error),
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// The first folder at or below `folder`, at most `depth_left` levels down, that holds
/// `oci-layout` (a repository), looking at no more than `folders_left` folders. Running out of
/// folders counts as finding one: the name cannot be shown to be free of collisions (I11), and the
/// `blobs` folder of a name that is not a repository holds at most the empty algorithm folders of
/// an interrupted creation (4.1) unless other repositories were created inside it.
fn repository_below(
    folder: &std::path::Path,
    depth_left: usize,
    folders_left: &mut usize,
) -> Option<std::path::PathBuf> {
    if *folders_left == 0 {
        return Some(folder.to_path_buf());
    }
    *folders_left -= 1;
    if folder.join("oci-layout").symlink_metadata().is_ok() {
        return Some(folder.to_path_buf());
    }
    if depth_left == 0 {
        return None;
    }
    // A folder that is missing or unreadable holds no repository this check can see; creating the
    // repository then fails on the same folder if it is really unreadable.
    let entries = std::fs::read_dir(folder).ok()?;
    for entry in entries.flatten() {
        let is_folder = entry.file_type().is_ok_and(|file_type| file_type.is_dir());
        if is_folder
            && let Some(found) = repository_below(&entry.path(), depth_left - 1, folders_left)
        {
            return Some(found);
        }
    }
    None
}
