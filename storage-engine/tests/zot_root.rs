//! A root directory written the way zot writes it opens and serves as it is, and what open clears
//! (temporary files, orphaned and expired sessions) and refuses (a damaged index).

mod common;

use std::path::Path;
use std::time::Duration;

use common::on_both_drivers;
use proto::oci::{Algorithm, Digest, Reference, RepositoryName, Tag};
use storage_engine::hasher::digest_of;
use storage_engine::invariants::{CheckOptions, check_root};
use storage_engine::upload_state::UploadState;
use storage_engine::zot_fixture::ZotFixture;
use storage_engine::{
    BlobFile, Disk, OpenError, Resumable, SessionId, Store, StoreConfig, UploadError,
};

fn name(text: &str) -> RepositoryName<'_> {
    RepositoryName::parse(text).unwrap()
}

async fn open(root: &Path) -> Store {
    Store::open(StoreConfig::new(root), Disk::new())
        .await
        .unwrap()
}

#[test]
fn a_zot_root_opens_and_serves_as_it_is() {
    on_both_drivers(|_, root| async move {
        let fixture = ZotFixture::typical(&root).unwrap();
        let mut store = open(&root).await;
        let catalog = store.catalog_page(None, None).entries;
        let expected = fixture.repositories();
        assert_eq!(
            catalog,
            expected.iter().map(String::as_str).collect::<Vec<_>>()
        );
        assert!(catalog.contains(&"a") && catalog.contains(&"a/b") && catalog.contains(&"a/b/c"));
        for repository_name in &expected {
            let (repository, disk) = store.repository_and_disk(repository_name).unwrap();
            let tags: Vec<(String, String)> = fixture.tags(repository_name);
            assert_eq!(
                repository.tags_page(None, None).entries,
                tags.iter().map(|(tag, _)| tag.as_str()).collect::<Vec<_>>()
            );
            for (tag, digest) in &tags {
                let content = repository
                    .manifest(disk, Reference::Tag(Tag::parse(tag).unwrap()))
                    .await
                    .unwrap();
                assert_eq!(content.digest.as_str(), digest);
                let expected_bytes = std::fs::read(
                    fixture
                        .repository_folder(repository_name)
                        .join("blobs/sha256")
                        .join(&digest["sha256:".len()..]),
                )
                .unwrap();
                assert_eq!(content.bytes, expected_bytes);
                // Every blob the manifest references is readable.
                let parsed =
                    proto::oci::manifest::parse_manifest(Some(&content.media_type), &content.bytes)
                        .unwrap();
                for blob in parsed.blob_digests() {
                    let file = BlobFile::open(repository.paths(), blob)
                        .await
                        .unwrap()
                        .unwrap();
                    assert!(file.size() > 0);
                    file.close().await;
                }
            }
        }
        // The referrer zot stored by digest is found by its subject.
        let alpine_latest = fixture
            .tags("library/alpine")
            .into_iter()
            .find(|(tag, _)| tag == "latest")
            .unwrap()
            .1;
        let (repository, disk) = store.repository_and_disk("library/alpine").unwrap();
        let referrers = repository
            .referrers(disk, Digest::parse(&alpine_latest).unwrap(), None)
            .await
            .unwrap();
        assert_eq!(referrers.len(), 1);
        assert_eq!(
            referrers[0].artifact_type.as_deref(),
            Some("application/vnd.dev.cosign.artifact.sig.v1+json")
        );
        // zot's own files are neither repositories nor touched.
        assert!(root.join("cache.db").is_file());
        assert!(root.join("_trivy").is_dir());
        // Writing into a zot root keeps it a valid layout.
        let mut upload = store
            .start_upload(name("a/b"), Algorithm::Sha256, Resumable::Yes)
            .await
            .unwrap();
        upload
            .append(b"new layer from the engine".to_vec())
            .await
            .unwrap();
        let digest = digest_of(Algorithm::Sha256, b"new layer from the engine");
        upload.commit(digest.as_digest()).await.unwrap();
        let report = check_root(&root, &CheckOptions { hash_blobs: true });
        assert!(report.is_clean(), "{report}");
    });
}

#[test]
fn open_clears_temporary_files_and_orphaned_or_damaged_sessions() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        store.create_repository(name("repo")).await.unwrap();
        let mut kept = store
            .start_upload(name("repo"), Algorithm::Sha256, Resumable::Yes)
            .await
            .unwrap();
        kept.append(b"kept".to_vec()).await.unwrap();
        kept.acknowledge().await.unwrap();
        let kept_session = kept.session().clone();
        drop(kept);
        drop(store);
        let uploads = root.join("repo/.uploads");
        std::fs::write(root.join("repo/.tmp-0123"), b"half an index").unwrap();
        std::fs::write(uploads.join(".tmp-4567"), b"half a manifest").unwrap();
        // A state whose data file is gone, and a session whose state is garbage.
        let orphan = SessionId::generate();
        std::fs::copy(
            uploads.join(format!("{kept_session}.state")),
            uploads.join(format!("{orphan}.state")),
        )
        .unwrap();
        let damaged = SessionId::generate();
        std::fs::write(uploads.join(damaged.as_str()), b"bytes").unwrap();
        std::fs::write(uploads.join(format!("{damaged}.state")), [7u8; 2048]).unwrap();

        let store = open(&root).await;
        let mut left: Vec<String> = std::fs::read_dir(&uploads)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected = vec![kept_session.to_string(), format!("{kept_session}.state")];
        expected.sort();
        assert_eq!(left, expected);
        assert!(!root.join("repo/.tmp-0123").exists());
        let resumed = store
            .resume_upload(name("repo"), &kept_session)
            .await
            .unwrap();
        assert_eq!(resumed.size(), 4);
    });
}

#[test]
fn sessions_older_than_the_configured_age_expire() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        store.create_repository(name("repo")).await.unwrap();
        let mut upload = store
            .start_upload(name("repo"), Algorithm::Sha256, Resumable::Yes)
            .await
            .unwrap();
        upload.acknowledge().await.unwrap();
        let session = upload.session().clone();
        drop(upload);
        // Backdate the session by rewriting its state with an old creation time.
        let state_path = root.join(format!("repo/.uploads/{session}.state"));
        let (mut state, _) =
            UploadState::decode_newest(&std::fs::read(&state_path).unwrap()).unwrap();
        state.created_unix_seconds -= 3600;
        std::fs::write(&state_path, state.encode_slot()).unwrap();
        assert_eq!(
            store.expire_uploads().await.unwrap(),
            0,
            "an hour is under a day"
        );
        drop(store);
        let mut config = StoreConfig::new(&root);
        config.upload_session_age_max = Duration::from_secs(60);
        let store = Store::open(config, Disk::new()).await.unwrap();
        let error = store
            .resume_upload(name("repo"), &session)
            .await
            .unwrap_err();
        assert!(matches!(error, UploadError::SessionUnknown), "{error:?}");
        assert!(!state_path.exists());
    });
}

#[test]
fn a_running_expiry_leaves_a_session_in_use_however_old() {
    on_both_drivers(|_, root| async move {
        let mut config = StoreConfig::new(&root);
        config.upload_session_age_max = Duration::from_secs(60);
        let mut store = Store::open(config, Disk::new()).await.unwrap();
        store.create_repository(name("repo")).await.unwrap();
        let mut upload = store
            .start_upload(name("repo"), Algorithm::Sha256, Resumable::Yes)
            .await
            .unwrap();
        upload.acknowledge().await.unwrap();
        let session = upload.session().clone();
        let state_path = root.join(format!("repo/.uploads/{session}.state"));
        let (mut state, _) =
            UploadState::decode_newest(&std::fs::read(&state_path).unwrap()).unwrap();
        state.created_unix_seconds -= 3600;
        std::fs::write(&state_path, state.encode_slot()).unwrap();
        // A request holds the session (its lock): an hour old, past the minute, and it stays.
        assert_eq!(store.expire_uploads().await.unwrap(), 0);
        assert!(state_path.exists());
        drop(upload);
        // Idle now: it goes.
        assert_eq!(store.expire_uploads().await.unwrap(), 1);
        assert!(!state_path.exists());
        assert!(!root.join(format!("repo/.uploads/{session}")).exists());
    });
}

#[test]
fn a_damaged_index_leaves_its_repository_out_and_untouched() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        store.create_repository(name("good")).await.unwrap();
        store.create_repository(name("bad/one")).await.unwrap();
        drop(store);
        let damaged_bytes = b"{\"schemaVersion\":2,";
        std::fs::write(root.join("bad/one/index.json"), damaged_bytes).unwrap();
        let mut store = Store::open(StoreConfig::new(&root), Disk::new())
            .await
            .unwrap();
        assert_eq!(store.catalog_page(None, None).entries, ["good"]);
        assert!(
            matches!(store.damaged(), [OpenError::IndexDamaged { repository, .. }] if repository == "bad/one"),
            "{:?}",
            store.damaged()
        );
        // Pushing into it does not write over what could not be read.
        assert!(store.create_repository(name("bad/one")).await.is_err());
        assert_eq!(
            std::fs::read(root.join("bad/one/index.json")).unwrap(),
            damaged_bytes
        );
    });
}

#[test]
fn sharded_stores_split_the_repositories() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        for repository in ["a", "b", "c", "d"] {
            store.create_repository(name(repository)).await.unwrap();
        }
        drop(store);
        let owns_a_and_c = |name: &str| name == "a" || name == "c";
        let shard = Store::open_owned(StoreConfig::new(&root), Disk::new(), &owns_a_and_c)
            .await
            .unwrap();
        assert_eq!(shard.catalog_page(None, None).entries, ["a", "c"]);
        assert!(shard.repository("b").is_none());
    });
}
