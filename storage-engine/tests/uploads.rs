//! Upload sessions against a real root on both drivers: streaming, chunk offsets, digest checks,
//! resuming after a restart, cancelling, concurrent uploads of one digest, dedupe and mounts.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use common::{bytes, on_both_drivers};
use proto::oci::{Algorithm, Digest, RepositoryName};
use storage_engine::hasher::digest_of;
use storage_engine::{
    BlobError, BlobFile, Disk, FaultPlan, Resumable, Store, StoreConfig, UploadError,
};

fn name(text: &str) -> RepositoryName<'_> {
    RepositoryName::parse(text).unwrap()
}

async fn open(root: &Path, dedupe: bool) -> Store {
    let mut config = StoreConfig::new(root.join("data"));
    config.dedupe = dedupe;
    Store::open(config, Disk::new()).await.unwrap()
}

fn blob_path(root: &Path, repository: &str, digest: &str) -> std::path::PathBuf {
    let (algorithm, encoded) = digest.split_once(':').unwrap();
    root.join("data")
        .join(repository)
        .join("blobs")
        .join(algorithm)
        .join(encoded)
}

fn uploads_folder_is_empty(root: &Path, repository: &str) -> bool {
    std::fs::read_dir(root.join("data").join(repository).join(".uploads"))
        .unwrap()
        .next()
        .is_none()
}

async fn push(store: &mut Store, repository: &str, content: &[u8]) -> String {
    store.create_repository(name(repository)).await.unwrap();
    let mut upload = store
        .start_upload(name(repository), Algorithm::Sha256, Resumable::No)
        .await
        .unwrap();
    for piece in content.chunks(64 * 1024) {
        upload.append(piece.to_vec()).await.unwrap();
    }
    let digest = digest_of(Algorithm::Sha256, content);
    let committed = upload.commit(digest.as_digest()).await.unwrap();
    assert_eq!(committed.size, content.len() as u64);
    digest.as_str().to_owned()
}

#[test]
fn a_streamed_upload_commits_to_its_digest() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root, false).await;
        let content = bytes(1, 3 * 1024 * 1024 + 17);
        let digest = push(&mut store, "library/alpine", &content).await;
        let stored = std::fs::read(blob_path(&root, "library/alpine", &digest)).unwrap();
        assert_eq!(stored, content);
        assert!(uploads_folder_is_empty(&root, "library/alpine"));
        // Readable through the engine, whole and by range.
        let paths = store.root().repository(name("library/alpine"));
        let blob = BlobFile::open(&paths, Digest::parse(&digest).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(blob.size(), content.len() as u64);
        let (read, buffer) = blob.read_at(Vec::with_capacity(100), 1000).await;
        assert_eq!(read.unwrap(), 100);
        assert_eq!(buffer, content[1000..1100]);
        blob.close().await;
    });
}

#[test]
fn a_blob_range_goes_to_a_socket_with_sendfile() {
    use std::io::Read;
    use std::os::fd::AsRawFd;

    on_both_drivers(|_, root| async move {
        let mut store = open(&root, false).await;
        let content = bytes(9, 300_000);
        let digest = push(&mut store, "repo", &content).await;
        let paths = store.root().repository(name("repo"));
        let blob = BlobFile::open(&paths, Digest::parse(&digest).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(blob.range(299_999, 2).is_none(), "past the end");
        assert!(blob.range(u64::MAX, 2).is_none(), "overflow");
        let range = blob.range(100_000, 50_000).unwrap();
        let (mut reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut offset = i64::try_from(range.offset).unwrap();
        let mut left = usize::try_from(range.length).unwrap();
        let mut received = Vec::new();
        // Bounded: each pass moves at least one byte or fails.
        while left > 0 {
            // SAFETY: both descriptors are open for the call, and `offset` is a valid, exclusive
            // pointer to an off_t that sendfile updates.
            let sent = unsafe {
                libc::sendfile(
                    writer.as_raw_fd(),
                    range.file.as_raw_fd(),
                    &mut offset,
                    left.min(16_384),
                )
            };
            assert!(sent > 0, "sendfile: {}", std::io::Error::last_os_error());
            left -= sent as usize;
            let mut chunk = vec![0u8; sent as usize];
            reader.read_exact(&mut chunk).unwrap();
            received.extend(chunk);
        }
        assert_eq!(received, content[100_000..150_000]);
        blob.close().await;
    });
}

#[test]
fn an_empty_upload_is_the_empty_blob() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root, true).await;
        let digest = push(&mut store, "empty", b"").await;
        assert_eq!(
            digest,
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            std::fs::read(blob_path(&root, "empty", &digest)).unwrap(),
            b""
        );
    });
}

#[test]
fn a_chunk_at_the_wrong_offset_is_refused_and_changes_nothing() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root, false).await;
        store.create_repository(name("repo")).await.unwrap();
        let mut upload = store
            .start_upload(name("repo"), Algorithm::Sha256, Resumable::Yes)
            .await
            .unwrap();
        upload.append_at(0, b"hello ".to_vec()).await.unwrap();
        assert_eq!(upload.acknowledge().await.unwrap(), 6);
        for offset in [0, 5, 7, 1000] {
            let error = upload.append_at(offset, b"x".to_vec()).await.unwrap_err();
            assert!(
                matches!(error, UploadError::OffsetMismatch { expected: 6, received } if received == offset),
                "{error:?}"
            );
            assert_eq!(error.error_code(), proto::oci::ErrorCode::RangeInvalid);
        }
        upload.append_at(6, b"world".to_vec()).await.unwrap();
        assert_eq!(upload.size(), 11);
        let digest = digest_of(Algorithm::Sha256, b"hello world");
        upload.commit(digest.as_digest()).await.unwrap();
        assert_eq!(
            std::fs::read(blob_path(&root, "repo", digest.as_str())).unwrap(),
            b"hello world"
        );
    });
}

#[test]
fn a_wrong_digest_keeps_the_session_and_deletes_nothing() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root, false).await;
        let earlier = push(&mut store, "repo", b"committed before").await;
        let mut upload = store
            .start_upload(name("repo"), Algorithm::Sha256, Resumable::Yes)
            .await
            .unwrap();
        upload.append(b"new bytes".to_vec()).await.unwrap();
        let wrong = digest_of(Algorithm::Sha256, b"committed before");
        let error = upload.commit(wrong.as_digest()).await.unwrap_err();
        assert!(
            matches!(&error, UploadError::DigestMismatch { .. }),
            "{error:?}"
        );
        assert_eq!(error.error_code(), proto::oci::ErrorCode::DigestInvalid);
        // What was committed before is intact, and the session goes on.
        assert_eq!(
            std::fs::read(blob_path(&root, "repo", &earlier)).unwrap(),
            b"committed before"
        );
        assert_eq!(upload.size(), 9);
        upload.append(b"!".to_vec()).await.unwrap();
        let right = digest_of(Algorithm::Sha256, b"new bytes!");
        upload.commit(right.as_digest()).await.unwrap();
        assert!(blob_path(&root, "repo", right.as_str()).is_file());
    });
}

#[test]
fn sha512_uploads_and_a_final_digest_of_another_algorithm() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root, true).await;
        store.create_repository(name("repo")).await.unwrap();
        let content = bytes(7, 2_500_000);
        for (session_algorithm, final_algorithm) in [
            (Algorithm::Sha512, Algorithm::Sha512),
            (Algorithm::Sha256, Algorithm::Sha512),
            (Algorithm::Sha512, Algorithm::Sha256),
        ] {
            let mut upload = store
                .start_upload(name("repo"), session_algorithm, Resumable::Yes)
                .await
                .unwrap();
            for piece in content.chunks(1 << 20) {
                upload.append(piece.to_vec()).await.unwrap();
            }
            let digest = digest_of(final_algorithm, &content);
            let committed = upload.commit(digest.as_digest()).await.unwrap();
            assert_eq!(committed.digest, digest);
            assert_eq!(
                std::fs::read(blob_path(&root, "repo", digest.as_str())).unwrap(),
                content
            );
        }
    });
}

#[test]
fn an_acknowledged_upload_continues_after_a_restart() {
    on_both_drivers(|_, root| async move {
        let content = bytes(3, 5 * 1024 * 1024);
        let session;
        {
            let mut store = open(&root, false).await;
            store.create_repository(name("a/b")).await.unwrap();
            let mut upload = store
                .start_upload(name("a/b"), Algorithm::Sha256, Resumable::Yes)
                .await
                .unwrap();
            upload.append(content[..1_000_000].to_vec()).await.unwrap();
            assert_eq!(upload.acknowledge().await.unwrap(), 1_000_000);
            upload
                .append(content[1_000_000..2_000_000].to_vec())
                .await
                .unwrap();
            assert_eq!(upload.acknowledge().await.unwrap(), 2_000_000);
            // Bytes written but never acknowledged: a restart must forget them (I6).
            upload
                .append(content[2_000_000..2_500_000].to_vec())
                .await
                .unwrap();
            upload
                .append(content[2_000_000..2_100_000].to_vec())
                .await
                .unwrap();
            session = upload.session().clone();
            // Dropped without commit or cancel: the "restart".
            drop(upload);
        }
        let store = open(&root, false).await;
        let mut upload = store.resume_upload(name("a/b"), &session).await.unwrap();
        assert_eq!(upload.size(), 2_000_000);
        let error = upload.append_at(2_500_000, vec![1]).await.unwrap_err();
        assert!(matches!(
            error,
            UploadError::OffsetMismatch {
                expected: 2_000_000,
                ..
            }
        ));
        upload
            .append_at(2_000_000, content[2_000_000..].to_vec())
            .await
            .unwrap();
        let digest = digest_of(Algorithm::Sha256, &content);
        upload.commit(digest.as_digest()).await.unwrap();
        assert_eq!(
            std::fs::read(blob_path(&root, "a/b", digest.as_str())).unwrap(),
            content
        );
        assert!(uploads_folder_is_empty(&root, "a/b"));
        // Committed sessions are gone.
        let error = store
            .resume_upload(name("a/b"), &session)
            .await
            .unwrap_err();
        assert!(matches!(error, UploadError::SessionUnknown), "{error:?}");
    });
}

/// A resumable session in a new repository `repo`, holding `content`, acknowledged.
async fn upload_acknowledged(store: &mut Store, content: &[u8]) -> storage_engine::Upload {
    store.create_repository(name("repo")).await.unwrap();
    let mut upload = store
        .start_upload(name("repo"), Algorithm::Sha256, Resumable::Yes)
        .await
        .unwrap();
    upload.append(content.to_vec()).await.unwrap();
    upload.acknowledge().await.unwrap();
    upload
}

#[test]
fn one_request_at_a_time_holds_a_session() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root, false).await;
        let first = upload_acknowledged(&mut store, b"abc").await;
        let session = first.session().clone();
        // While the creating request holds it, nobody else may continue it.
        let error = store
            .resume_upload(name("repo"), &session)
            .await
            .unwrap_err();
        assert!(matches!(error, UploadError::SessionBusy), "{error:?}");
        drop(first);
        let mut second = store.resume_upload(name("repo"), &session).await.unwrap();
        assert_eq!(second.size(), 3);
        let error = store
            .resume_upload(name("repo"), &session)
            .await
            .unwrap_err();
        assert!(matches!(error, UploadError::SessionBusy), "{error:?}");
        second.append(b"d".to_vec()).await.unwrap();
        second.acknowledge().await.unwrap();
        drop(second);
        let third = store.resume_upload(name("repo"), &session).await.unwrap();
        assert_eq!(third.size(), 4);
    });
}

#[test]
fn an_abandoned_upload_has_no_write_left_when_the_next_request_takes_it() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root, false).await;
        let mut upload = upload_acknowledged(&mut store, b"abc").await;
        let session = upload.session().clone();
        let data_file = root.join("data/repo/.uploads").join(session.as_str());
        // A request whose body then breaks: its writes are in flight, never acknowledged.
        let unacknowledged = bytes(3, 4 << 20);
        upload.append(unacknowledged.clone()).await.unwrap();
        upload.append(unacknowledged).await.unwrap();
        upload.abandon().await;
        // Every write landed before the session was free: the garbage is all there (I6), and
        // nothing can land over the next request's bytes.
        assert_eq!(
            std::fs::metadata(&data_file).unwrap().len(),
            3 + 2 * (4 << 20)
        );
        let mut next = store.resume_upload(name("repo"), &session).await.unwrap();
        assert_eq!(next.size(), 3);
        next.append(b"def".to_vec()).await.unwrap();
        let digest = digest_of(Algorithm::Sha256, b"abcdef");
        next.commit(digest.as_digest()).await.unwrap();
        assert_eq!(
            std::fs::read(blob_path(&root, "repo", digest.as_str())).unwrap(),
            b"abcdef"
        );
    });
}

#[test]
fn a_cancelled_upload_leaves_nothing() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root, false).await;
        store.create_repository(name("repo")).await.unwrap();
        let mut upload = store
            .start_upload(name("repo"), Algorithm::Sha256, Resumable::Yes)
            .await
            .unwrap();
        upload.append(bytes(2, 100_000)).await.unwrap();
        upload.acknowledge().await.unwrap();
        let session = upload.session().clone();
        upload.cancel().await.unwrap();
        assert!(uploads_folder_is_empty(&root, "repo"));
        let error = store
            .resume_upload(name("repo"), &session)
            .await
            .unwrap_err();
        assert!(matches!(error, UploadError::SessionUnknown));
    });
}

#[test]
fn uploads_need_an_existing_repository() {
    on_both_drivers(|_, root| async move {
        let store = open(&root, false).await;
        let error = store
            .start_upload(name("missing"), Algorithm::Sha256, Resumable::Yes)
            .await
            .unwrap_err();
        assert!(matches!(error, UploadError::RepositoryUnknown), "{error:?}");
    });
}

#[test]
fn the_same_digest_uploaded_at_once_leaves_one_intact_blob() {
    on_both_drivers(|_, root| async move {
        for dedupe in [false, true] {
            let mut store = open(&root.join(format!("dedupe-{dedupe}")), dedupe).await;
            let content = bytes(11, 4 * 1024 * 1024);
            let digest = digest_of(Algorithm::Sha256, &content);
            for repository in ["one", "two"] {
                store.create_repository(name(repository)).await.unwrap();
            }
            // Four uploads of one digest, two per repository, interleaved piece by piece.
            let mut uploads = Vec::new();
            for repository in ["one", "one", "two", "two"] {
                uploads.push(
                    store
                        .start_upload(name(repository), Algorithm::Sha256, Resumable::Yes)
                        .await
                        .unwrap(),
                );
            }
            for piece in content.chunks(512 * 1024) {
                for upload in &mut uploads {
                    upload.append(piece.to_vec()).await.unwrap();
                }
            }
            let commits = uploads
                .iter_mut()
                .map(|upload| upload.commit(digest.as_digest()));
            for committed in futures_join_all(commits).await {
                assert_eq!(committed.unwrap().size, content.len() as u64);
            }
            let data = root.join(format!("dedupe-{dedupe}"));
            for repository in ["one", "two"] {
                let path = blob_path(&data, repository, digest.as_str());
                assert_eq!(std::fs::read(&path).unwrap(), content);
                assert!(uploads_folder_is_empty(&data, repository));
            }
            let inode = |repository| {
                std::fs::metadata(blob_path(&data, repository, digest.as_str()))
                    .unwrap()
                    .ino()
            };
            // Dedupe links both repositories to one master copy in _blobstore.
            assert_eq!(inode("one") == inode("two"), dedupe);
            let master = data
                .join("data/_blobstore/blobs/sha256")
                .join(digest.as_digest().encoded());
            assert_eq!(master.is_file(), dedupe);
            if dedupe {
                assert_eq!(std::fs::metadata(&master).unwrap().nlink(), 3);
            }
        }
    });
}

/// Polls the futures together on the current thread, so their steps interleave.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut all_done = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(context) {
                    std::task::Poll::Ready(output) => {
                        *result = Some(output);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.extend(results.into_iter().map(|result| result.expect("finished")));
    outputs
}

#[test]
fn mounts_link_a_blob_from_another_repository() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root, false).await;
        let content = bytes(5, 10_000);
        let digest = push(&mut store, "source", &content).await;
        let parsed = Digest::parse(&digest).unwrap();
        let mounted = store
            .mount_blob(name("target/nested"), name("source"), parsed)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(mounted.size, 10_000);
        let source = std::fs::metadata(blob_path(&root, "source", &digest)).unwrap();
        let target = std::fs::metadata(blob_path(&root, "target/nested", &digest)).unwrap();
        assert_eq!(source.ino(), target.ino(), "a hard link, not a copy");
        // A digest the source does not have: no mount, and no blob appears.
        let other = digest_of(Algorithm::Sha256, b"not there");
        let result = store
            .mount_blob(name("target/nested"), name("source"), other.as_digest())
            .await
            .unwrap();
        assert_eq!(result, None);
        assert!(!blob_path(&root, "target/nested", other.as_str()).exists());
        // A source repository that does not exist either.
        let result = store
            .mount_blob(name("target/nested"), name("nobody"), parsed)
            .await
            .unwrap();
        assert!(result.is_some(), "already present in the target");
        let missing = store
            .mount_blob(name("target/other"), name("nobody"), parsed)
            .await
            .unwrap();
        assert_eq!(missing, None);
    });
}

#[test]
fn without_hard_links_commits_rename_and_mounts_copy() {
    on_both_drivers(|_, root| async move {
        let mut config = StoreConfig::new(root.join("data"));
        config.dedupe = true;
        let mut store = Store::open(config, Disk::with_faults(FaultPlan::without_links()))
            .await
            .unwrap();
        let content = bytes(21, 2_000_000);
        let digest = push(&mut store, "source", &content).await;
        // Dedupe needs links: with none, the blob is simply in the repository.
        assert!(
            !root
                .join("data/_blobstore/blobs/sha256")
                .join(&digest[7..])
                .exists()
        );
        assert_eq!(
            std::fs::read(blob_path(&root, "source", &digest)).unwrap(),
            content
        );
        assert!(uploads_folder_is_empty(&root, "source"));
        // The same digest again: already there, nothing replaced.
        let inode = std::fs::metadata(blob_path(&root, "source", &digest))
            .unwrap()
            .ino();
        push(&mut store, "source", &content).await;
        assert_eq!(
            std::fs::metadata(blob_path(&root, "source", &digest))
                .unwrap()
                .ino(),
            inode
        );
        // A mount copies.
        let parsed = Digest::parse(&digest).unwrap();
        let mounted = store
            .mount_blob(name("target"), name("source"), parsed)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(mounted.size, content.len() as u64);
        let copy = std::fs::metadata(blob_path(&root, "target", &digest)).unwrap();
        assert_ne!(copy.ino(), inode, "a copy, not a link");
        assert_eq!(
            std::fs::read(blob_path(&root, "target", &digest)).unwrap(),
            content
        );
        assert!(uploads_folder_is_empty(&root, "target"));
        let report = storage_engine::invariants::check_root(
            &root.join("data"),
            &storage_engine::invariants::CheckOptions { hash_blobs: true },
        );
        assert!(report.is_clean(), "{report}");
    });
}

#[test]
fn blobs_referenced_by_no_manifest_can_be_deleted() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root, false).await;
        let digest = push(&mut store, "repo", b"some layer").await;
        let parsed = Digest::parse(&digest).unwrap();
        let (repository, disk) = store.repository_and_disk("repo").unwrap();
        let stat = repository.blob_stat(disk, parsed).await.unwrap();
        assert_eq!(stat.size, 10);
        repository.delete_blob(disk, parsed).await.unwrap();
        assert!(!blob_path(&root, "repo", &digest).exists());
        let error = repository.delete_blob(disk, parsed).await.unwrap_err();
        assert!(matches!(error, BlobError::BlobUnknown), "{error:?}");
        let error = repository.blob_stat(disk, parsed).await.unwrap_err();
        assert!(matches!(error, BlobError::BlobUnknown), "{error:?}");
    });
}

#[test]
fn the_root_handle_can_be_shared_across_cores() {
    // The engine's root handle is shared across cores: it must be Send + Sync.
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Arc<storage_engine::Root>>();
}

#[test]
fn deleting_a_deduplicated_blob_everywhere_gives_its_space_back() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root, true).await;
        let digest = push(&mut store, "first", b"a shared layer").await;
        assert_eq!(push(&mut store, "second", b"a shared layer").await, digest);
        let parsed = Digest::parse(&digest).unwrap();
        let master = root.join("data/_blobstore/blobs/sha256").join(&digest[7..]);
        assert!(master.exists());
        // One repository still links the master: it stays.
        store.delete_blob(name("first"), parsed).await.unwrap();
        assert!(master.exists());
        assert!(blob_path(&root, "second", &digest).exists());
        // The last one goes: so does the master, and the bytes with it.
        store.delete_blob(name("second"), parsed).await.unwrap();
        assert!(!master.exists());
        // A new push of the same bytes makes a new master and links it.
        assert_eq!(push(&mut store, "third", b"a shared layer").await, digest);
        assert!(master.exists());
        assert_eq!(
            std::fs::read(blob_path(&root, "third", &digest)).unwrap(),
            b"a shared layer"
        );
        let error = store.delete_blob(name("nobody"), parsed).await.unwrap_err();
        assert!(matches!(error, BlobError::RepositoryUnknown), "{error:?}");
    });
}

/// The chunked upload of the test below, up to its commit: `acknowledged` is acknowledged,
/// `tail` is the commit request's own bytes (appended, never acknowledged), and the commit may
/// be cut by `plan`. Returns the session, the root, the steps `plan` counted before the commit,
/// and whether the commit succeeded.
async fn upload_and_commit(
    directory: &Path,
    dedupe: bool,
    plan: Rc<FaultPlan>,
    acknowledged: &[u8],
    tail: &[u8],
) -> (
    storage_engine::SessionId,
    Arc<storage_engine::Root>,
    u64,
    bool,
) {
    let mut config = StoreConfig::new(directory.to_path_buf());
    config.dedupe = dedupe;
    let mut store = Store::open(config, Disk::with_faults(Rc::clone(&plan)))
        .await
        .unwrap();
    store.create_repository(name("repo")).await.unwrap();
    let mut upload = store
        .start_upload(name("repo"), Algorithm::Sha256, Resumable::Yes)
        .await
        .unwrap();
    upload.append(acknowledged.to_vec()).await.unwrap();
    upload.acknowledge().await.unwrap();
    upload.append(tail.to_vec()).await.unwrap();
    let before_commit = plan.steps_taken();
    let whole = [acknowledged, tail].concat();
    // With a crash step this fails there; everything after it fails too.
    let committed = upload
        .commit(digest_of(Algorithm::Sha256, &whole).as_digest())
        .await
        .is_ok();
    let session = upload.session().clone();
    drop(upload);
    (session, Arc::clone(store.root()), before_commit, committed)
}

/// A commit links the session's data file into `blobs/` (and `_blobstore`) before it removes the
/// session. A crash in between leaves a session whose data file IS a published blob: continuing
/// it would truncate that blob back to the acknowledged offset and append to it (I12), which the
/// SIGKILL test (tests/crash_kill.rs) caught as a blob that no longer hashed to its name. Cut
/// the commit at every step: the session must then be unknown (or, cut before any link, continue
/// at its acknowledged offset), and every blob must still hash to its name.
#[test]
fn a_commit_cut_after_publishing_never_continues_its_session() {
    on_both_drivers(|_, root| async move {
        let acknowledged = bytes(11, 70_000);
        let tail = bytes(12, 5_000);
        let more = bytes(13, 3_000);
        for dedupe in [false, true] {
            // Steps before the commit, and the commit's own.
            let plan = FaultPlan::counting();
            let counting = root.join(format!("counting-{dedupe}"));
            let (_, _, before_commit, committed) =
                upload_and_commit(&counting, dedupe, Rc::clone(&plan), &acknowledged, &tail).await;
            assert!(committed, "without a crash the commit succeeds");
            let total = plan.steps_taken();
            assert!(total > before_commit + 2, "the commit takes steps");
            let mut continued = 0;
            let mut ended = 0;
            for step in before_commit..total {
                let directory = root.join(format!("crash-{dedupe}-{step}"));
                let plan = FaultPlan::crash_at(step);
                let (session, crashed_root, _, _) =
                    upload_and_commit(&directory, dedupe, plan, &acknowledged, &tail).await;
                // Continued by a running server that never restarted (a commit that failed
                // after its link, then a retried PATCH), then after a restart's open.
                for restarted in [false, true] {
                    let resumed = if restarted {
                        let mut config = StoreConfig::new(directory.clone());
                        config.dedupe = dedupe;
                        let store = Store::open(config, Disk::new()).await.unwrap();
                        store.resume_upload(name("repo"), &session).await
                    } else {
                        storage_engine::Upload::resume(
                            &crashed_root,
                            &Disk::new(),
                            name("repo"),
                            &session,
                        )
                        .await
                    };
                    match resumed {
                        Ok(mut upload) => {
                            assert_eq!(upload.size(), acknowledged.len() as u64, "step {step}");
                            upload.append(more.clone()).await.unwrap();
                            let whole = [&acknowledged[..], &more[..]].concat();
                            upload
                                .commit(digest_of(Algorithm::Sha256, &whole).as_digest())
                                .await
                                .unwrap();
                            continued += 1;
                        }
                        Err(UploadError::SessionUnknown) => ended += 1,
                        Err(error) => panic!("step {step}: {error:?}"),
                    }
                    let report = storage_engine::invariants::check_root(
                        &directory,
                        &storage_engine::invariants::CheckOptions { hash_blobs: true },
                    );
                    assert!(
                        report.is_clean(),
                        "dedupe {dedupe}, crash at step {step}, restarted {restarted}:\n{report}"
                    );
                }
            }
            // Both outcomes happen: the cut before any link continues, the cut after ends.
            assert!(
                continued > 0 && ended > 0,
                "{continued} continued, {ended} ended"
            );
        }
    });
}
