//! Blobs on disk: making a complete file visible under `blobs/` (the end of every upload commit,
//! manifest put and mount), and opening one for the network.

use std::io;
use std::path::{Path, PathBuf};

use monoio::fs::File;
use proto::oci::Digest;

use crate::disk::Disk;
use crate::error::IoFailure;
use crate::layout::{RepositoryPaths, blobstore_blob, temporary_path};
use crate::limits::COPY_BUFFER_BYTES;
use crate::root::Root;

/// A blob opened for reading: the file, and the byte range to send. A server hands the file's
/// descriptor to `sendfile(2)`; [`BlobFile::read_at`] is the buffered path (TLS, fallback).
#[derive(Debug)]
pub struct BlobFile {
    file: File,
    size: u64,
}

impl BlobFile {
    /// Opens the blob of `digest` in a repository; `Ok(None)` when it has none.
    pub async fn open(
        paths: &RepositoryPaths,
        digest: Digest<'_>,
    ) -> Result<Option<BlobFile>, IoFailure> {
        let path = paths.blob(digest);
        let file = match Disk::new().open_read(&path).await {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(IoFailure::new("open blob", path, error)),
        };
        let size = file
            .metadata()
            .await
            .map_err(|error| IoFailure::new("stat blob", &path, error))?
            .len();
        Ok(Some(BlobFile { file, size }))
    }

    /// The blob's length in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The open file, for `sendfile(2)` from its descriptor. Blob files never change (I12), so
    /// any range within [`BlobFile::size`] can be sent while the file is open, even if the blob
    /// is deleted meanwhile.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The byte range `offset..offset + length` of the blob, to send; `None` when it does not lie
    /// within the blob (the server answers 416 with the size).
    pub fn range(&self, offset: u64, length: u64) -> Option<BlobRange<'_>> {
        let end = offset.checked_add(length)?;
        (end <= self.size).then_some(BlobRange {
            file: &self.file,
            offset,
            length,
        })
    }

    /// Reads into `buffer` from `position`; `Ok(0)` at the end.
    pub async fn read_at(&self, buffer: Vec<u8>, position: u64) -> (io::Result<usize>, Vec<u8>) {
        self.file.read_at(buffer, position).await
    }

    pub async fn close(self) {
        let _ = self.file.close().await;
    }
}

/// A byte range of an open blob: the descriptor, offset and length to hand to `sendfile(2)`.
#[derive(Clone, Copy, Debug)]
pub struct BlobRange<'a> {
    pub file: &'a File,
    pub offset: u64,
    pub length: u64,
}

/// Whether a link error means "this file system cannot link here" (A4): copy or rename instead.
fn links_unsupported(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EPERM | libc::EXDEV | libc::EMLINK | libc::EOPNOTSUPP)
    ) || error.kind() == io::ErrorKind::Unsupported
}

/// Links `from` to the new name `to`, creating `to`'s folder once if it is missing. Returns
/// whether a new name was made: `false` when `to` already existed, which for a blob means the
/// same content is already there (I1).
async fn link_new(disk: &Disk, from: &Path, to: &Path) -> io::Result<bool> {
    let mut created_folder = false;
    loop {
        match disk.link(from, to).await {
            Ok(()) => return Ok(true),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(error) if error.kind() == io::ErrorKind::NotFound && !created_folder => {
                created_folder = true;
                // The first blob of an algorithm (or of `_blobstore`): the new folders' names
                // must be durable before the blob's is.
                disk.create_dir_all_durable(to.parent().expect("blob paths have folders"))
                    .await?;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Makes the complete, synced file `source` visible as the blob `digest` of a repository, and
/// durable: the last steps of docs/design.md 4.2 and 4.3. `source` keeps its name; the caller
/// removes it. Never replaces a blob that exists (I12): a second upload of the same digest finds
/// it there and is done.
pub(crate) async fn publish(
    root: &Root,
    disk: &Disk,
    paths: &RepositoryPaths,
    source: &Path,
    digest: Digest<'_>,
) -> Result<(), IoFailure> {
    let target = paths.blob(digest);
    let mut origin = source.to_path_buf();
    if root.dedupe() {
        let master = blobstore_blob(root.directory(), digest);
        match link_new(disk, source, &master).await {
            Ok(created) => {
                if created {
                    sync_parent(disk, &master).await?;
                }
                origin = master;
            }
            Err(error) if links_unsupported(&error) => {}
            Err(error) => return Err(IoFailure::new("link into _blobstore", master, error)),
        }
    }
    match place(disk, &origin, source, &target).await {
        // The master went between the two links: its last repository deleted the blob
        // (`Store::delete_blob`). The upload's own file is the same bytes.
        Err(failure) if origin != source && failure.source.kind() == io::ErrorKind::NotFound => {
            place(disk, source, source, &target).await
        }
        placed => placed,
    }
}

/// Makes the complete, synced file `source` visible as the blob `digest` of a repository without
/// the dedupe store: manifests, which are small and belong to one repository.
pub(crate) async fn publish_without_dedupe(
    disk: &Disk,
    paths: &RepositoryPaths,
    source: &Path,
    digest: Digest<'_>,
) -> Result<(), IoFailure> {
    place(disk, source, source, &paths.blob(digest)).await
}

/// Links `origin` (the source or its dedupe master) to `target` and syncs the folder; where links
/// fail, renames `source` instead.
async fn place(disk: &Disk, origin: &Path, source: &Path, target: &Path) -> Result<(), IoFailure> {
    match link_new(disk, origin, target).await {
        Ok(true) => sync_parent(disk, target).await,
        Ok(false) => Ok(()),
        Err(error) if links_unsupported(&error) => place_without_link(disk, source, target).await,
        Err(error) => Err(IoFailure::new("link blob", target, error)),
    }
}

/// Where links fail: rename the source into place, unless the blob is already there.
async fn place_without_link(disk: &Disk, source: &Path, target: &Path) -> Result<(), IoFailure> {
    if disk.file_size(target).await.is_ok() {
        return Ok(());
    }
    disk.rename(source, target)
        .await
        .map_err(|error| IoFailure::new("rename blob", target, error))?;
    sync_parent(disk, target).await
}

pub(crate) async fn sync_parent(disk: &Disk, path: &Path) -> Result<(), IoFailure> {
    let folder = path.parent().expect("blob paths have folders");
    disk.sync_directory(folder)
        .await
        .map_err(|error| IoFailure::new("sync folder", folder, error))
}

/// Gives repository `to` the blob `digest` whose committed file is `source` (another
/// repository's, or the dedupe store's): a hard link where the file system allows, a copy
/// otherwise (docs/design.md 4.3). `Ok(false)` when there is no such file.
pub(crate) async fn mount(
    root: &Root,
    disk: &Disk,
    source: &Path,
    to: &RepositoryPaths,
    digest: Digest<'_>,
) -> Result<bool, IoFailure> {
    let source = source.to_owned();
    let target = to.blob(digest);
    match link_new(disk, &source, &target).await {
        Ok(true) => {
            sync_parent(disk, &target).await?;
            Ok(true)
        }
        Ok(false) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) if links_unsupported(&error) => {
            let Some(copy) = copy_to_temporary(disk, &source, &to.uploads()).await? else {
                return Ok(false);
            };
            let result = publish(root, disk, to, &copy, digest).await;
            if !disk.crashed() {
                let _ = disk.remove_file(&copy).await;
            }
            result.map(|()| true)
        }
        Err(error) => Err(IoFailure::new("link blob", target, error)),
    }
}

/// Copies `source` to a new synced temporary file in `folder`; `None` when `source` is missing.
async fn copy_to_temporary(
    disk: &Disk,
    source: &Path,
    folder: &Path,
) -> Result<Option<PathBuf>, IoFailure> {
    let input = match disk.open_read(source).await {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(IoFailure::new("open blob", source, error)),
    };
    let temporary = temporary_path(folder);
    let output = disk
        .create_new(&temporary)
        .await
        .map_err(|error| IoFailure::new("create copy", &temporary, error))?;
    let mut buffer = Vec::with_capacity(COPY_BUFFER_BYTES);
    let mut position = 0u64;
    let result = loop {
        let (read, returned) = disk.read_at(&input, buffer, position).await;
        buffer = returned;
        match read {
            Ok(0) => break disk.sync_data(&output, &temporary).await,
            Ok(count) => {
                let (written, returned) = disk
                    .write_all_at(&output, &temporary, buffer, position)
                    .await;
                buffer = returned;
                if let Err(error) = written {
                    break Err(error);
                }
                position += count as u64;
                buffer.clear();
            }
            Err(error) => break Err(error),
        }
    };
    let _ = input.close().await;
    let _ = output.close().await;
    match result {
        Ok(()) => Ok(Some(temporary)),
        Err(error) => {
            if !disk.crashed() {
                let _ = disk.remove_file(&temporary).await;
            }
            Err(IoFailure::new("copy blob", temporary, error))
        }
    }
}
