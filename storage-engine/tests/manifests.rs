//! Manifests, tags, referrers and listings against a real root on both drivers.

mod common;

use std::path::Path;

use common::{bytes, on_both_drivers};
use proto::oci::{Algorithm, DigestBuf, ErrorCode, Reference, RepositoryName, Tag};
use storage_engine::hasher::digest_of;
use storage_engine::invariants::{CheckOptions, check_root};
use storage_engine::{BlobError, Disk, ManifestStoreError, Resumable, Store, StoreConfig};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn name(text: &str) -> RepositoryName<'_> {
    RepositoryName::parse(text).unwrap()
}

fn tag(text: &str) -> Tag<'_> {
    Tag::parse(text).unwrap()
}

async fn open(root: &Path) -> Store {
    Store::open(StoreConfig::new(root.join("data")), Disk::new())
        .await
        .unwrap()
}

async fn push_blob(store: &mut Store, repository: &str, content: &[u8]) -> DigestBuf {
    store.create_repository(name(repository)).await.unwrap();
    let mut upload = store
        .start_upload(name(repository), Algorithm::Sha256, Resumable::No)
        .await
        .unwrap();
    upload.append(content.to_vec()).await.unwrap();
    let digest = digest_of(Algorithm::Sha256, content);
    upload.commit(digest.as_digest()).await.unwrap();
    digest
}

fn descriptor(media_type: &str, digest: &DigestBuf, size: usize) -> String {
    format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size}}}"#)
}

/// Pushes a config and a layer and returns an image manifest's bytes that reference them.
async fn image(store: &mut Store, repository: &str, seed: u64) -> Vec<u8> {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":{seed}}}"#);
    let layer = bytes(seed, 3000);
    let config_digest = push_blob(store, repository, config.as_bytes()).await;
    let layer_digest = push_blob(store, repository, &layer).await;
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{},"layers":[{}]}}"#,
        descriptor(CONFIG, &config_digest, config.len()),
        descriptor(LAYER, &layer_digest, layer.len()),
    )
    .into_bytes()
}

fn referrer_of(subject: &DigestBuf, subject_size: usize, artifact_type: &str) -> Vec<u8> {
    let empty = digest_of(Algorithm::Sha256, b"{}");
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{artifact_type}","config":{},"layers":[],"subject":{},"annotations":{{"kind":"{artifact_type}"}}}}"#,
        descriptor("application/vnd.oci.empty.v1+json", &empty, 2),
        descriptor(OCI_MANIFEST, subject, subject_size),
    )
    .into_bytes()
}

fn assert_clean(root: &Path) {
    let report = check_root(&root.join("data"), &CheckOptions { hash_blobs: true });
    assert!(report.is_clean(), "{report}");
}

#[test]
fn put_and_get_by_tag_and_digest_return_the_bytes_as_pushed() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        // Unusual whitespace and field order must come back byte for byte.
        let mut body = image(&mut store, "library/app", 1).await;
        body.extend_from_slice(b"\n  ");
        let (repository, disk) = store.repository_and_disk("library/app").unwrap();
        let put = repository
            .put_manifest(
                disk,
                Reference::Tag(tag("v1")),
                &[tag("latest"), tag("v1"), tag("stable")],
                Some(OCI_MANIFEST),
                &body,
            )
            .await
            .unwrap();
        assert_eq!(put.digest, digest_of(Algorithm::Sha256, &body));
        assert_eq!(put.subject, None);
        for reference in [
            Reference::Tag(tag("v1")),
            Reference::Tag(tag("latest")),
            Reference::Tag(tag("stable")),
            Reference::Digest(put.digest.as_digest()),
        ] {
            let content = repository.manifest(disk, reference).await.unwrap();
            assert_eq!(content.bytes, body);
            assert_eq!(content.media_type, OCI_MANIFEST);
            assert_eq!(content.digest, put.digest);
            let (digest, record) = repository.resolve(reference).unwrap();
            assert_eq!(
                (digest, record.size),
                (put.digest.clone(), body.len() as u64)
            );
        }
        assert_eq!(
            repository.tags_page(None, None).entries,
            ["latest", "stable", "v1"]
        );
        let missing = repository
            .manifest(disk, Reference::Tag(tag("nope")))
            .await
            .unwrap_err();
        assert_eq!(missing.error_code(), ErrorCode::ManifestUnknown);
        assert_clean(&root);
        // Everything survives a reopen.
        drop(store);
        let mut store = open(&root).await;
        let (repository, disk) = store.repository_and_disk("library/app").unwrap();
        assert_eq!(
            repository.tags_page(None, None).entries,
            ["latest", "stable", "v1"]
        );
        let content = repository
            .manifest(disk, Reference::Tag(tag("stable")))
            .await
            .unwrap();
        assert_eq!(content.bytes, body);
    });
}

#[test]
fn invalid_or_incomplete_manifests_change_nothing() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        let body = image(&mut store, "repo", 2).await;
        let index_before = std::fs::read(root.join("data/repo/index.json")).unwrap();
        let missing_blob = digest_of(Algorithm::Sha256, b"never pushed");
        let dangling = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{},"layers":[]}}"#,
            descriptor(CONFIG, &missing_blob, 12)
        );
        let unknown_child = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
            descriptor(OCI_MANIFEST, &missing_blob, 12)
        );
        let wrong_digest = digest_of(Algorithm::Sha256, b"other");
        let (repository, disk) = store.repository_and_disk("repo").unwrap();
        let cases: Vec<(Reference<'_>, Option<&str>, &[u8], ErrorCode)> = vec![
            (
                Reference::Tag(tag("t")),
                Some(OCI_MANIFEST),
                b"{not json",
                ErrorCode::ManifestInvalid,
            ),
            (
                Reference::Tag(tag("t")),
                Some(OCI_MANIFEST),
                dangling.as_bytes(),
                ErrorCode::ManifestBlobUnknown,
            ),
            (
                Reference::Tag(tag("t")),
                Some(OCI_INDEX),
                unknown_child.as_bytes(),
                ErrorCode::ManifestBlobUnknown,
            ),
            (
                Reference::Digest(wrong_digest.as_digest()),
                Some(OCI_MANIFEST),
                &body,
                ErrorCode::DigestInvalid,
            ),
        ];
        for (reference, content_type, body, code) in cases {
            let error = repository
                .put_manifest(disk, reference, &[], content_type, body)
                .await
                .unwrap_err();
            assert_eq!(error.error_code(), code, "{error}");
        }
        assert!(matches!(
            repository
                .put_manifest(disk, Reference::Tag(tag("t")), &[], Some(OCI_MANIFEST), dangling.as_bytes())
                .await,
            Err(ManifestStoreError::BlobUnknown(digest)) if digest == missing_blob
        ));
        assert_eq!(repository.tags_page(None, None).entries, Vec::<&str>::new());
        assert_eq!(
            std::fs::read(root.join("data/repo/index.json")).unwrap(),
            index_before
        );
        assert_clean(&root);
    });
}

#[test]
fn moving_deleting_tags_and_manifests() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        let first = image(&mut store, "repo", 3).await;
        let second = image(&mut store, "repo", 4).await;
        let (repository, disk) = store.repository_and_disk("repo").unwrap();
        let one = repository
            .put_manifest(
                disk,
                Reference::Tag(tag("a")),
                &[tag("b")],
                Some(OCI_MANIFEST),
                &first,
            )
            .await
            .unwrap();
        let two = repository
            .put_manifest(
                disk,
                Reference::Tag(tag("b")),
                &[],
                Some(OCI_MANIFEST),
                &second,
            )
            .await
            .unwrap();
        // "b" moved; the first manifest keeps "a".
        let resolve = |repository: &storage_engine::Repository, name| {
            repository
                .resolve(Reference::Tag(tag(name)))
                .map(|(digest, _)| digest)
        };
        assert_eq!(resolve(repository, "a"), Some(one.digest.clone()));
        assert_eq!(resolve(repository, "b"), Some(two.digest.clone()));
        // A tag delete leaves its manifest.
        repository.delete_tag(disk, tag("a")).await.unwrap();
        assert_eq!(resolve(repository, "a"), None);
        assert!(
            repository
                .resolve(Reference::Digest(one.digest.as_digest()))
                .is_some()
        );
        let error = repository.delete_tag(disk, tag("a")).await.unwrap_err();
        assert_eq!(error.error_code(), ErrorCode::ManifestUnknown);
        // A manifest delete removes its tags and its file.
        repository
            .delete_manifest(disk, two.digest.as_digest())
            .await
            .unwrap();
        assert_eq!(resolve(repository, "b"), None);
        assert!(
            repository
                .resolve(Reference::Digest(two.digest.as_digest()))
                .is_none()
        );
        let file = root
            .join("data/repo/blobs/sha256")
            .join(two.digest.as_digest().encoded());
        assert!(!file.exists());
        let error = repository
            .delete_manifest(disk, two.digest.as_digest())
            .await
            .unwrap_err();
        assert_eq!(error.error_code(), ErrorCode::ManifestUnknown);
        assert_clean(&root);
    });
}

#[test]
fn indexes_need_their_children_and_protect_them() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        let amd = image(&mut store, "multi", 5).await;
        let arm = image(&mut store, "multi", 6).await;
        let (repository, disk) = store.repository_and_disk("multi").unwrap();
        let mut children = Vec::new();
        for body in [&amd, &arm] {
            let put = repository
                .put_manifest(
                    disk,
                    Reference::Digest(digest_of(Algorithm::Sha256, body).as_digest()),
                    &[],
                    Some(OCI_MANIFEST),
                    body,
                )
                .await
                .unwrap();
            children.push(descriptor(OCI_MANIFEST, &put.digest, body.len()));
        }
        // Untagged children are listed, with no tags.
        assert!(repository.tags_page(None, None).entries.is_empty());
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
            children.join(",")
        );
        let put = repository
            .put_manifest(
                disk,
                Reference::Tag(tag("multi")),
                &[tag("latest")],
                Some(OCI_INDEX),
                index.as_bytes(),
            )
            .await
            .unwrap();
        let content = repository
            .manifest(disk, Reference::Tag(tag("latest")))
            .await
            .unwrap();
        assert_eq!(content.media_type, OCI_INDEX);
        // A listed child cannot be deleted, as a manifest or as a blob.
        let child = digest_of(Algorithm::Sha256, &amd);
        let error = repository
            .delete_manifest(disk, child.as_digest())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ManifestStoreError::Referenced { by } if *by == put.digest),
            "{error}"
        );
        assert_eq!(error.error_code(), ErrorCode::ManifestReferenced);
        let error = repository
            .delete_blob(disk, child.as_digest())
            .await
            .unwrap_err();
        assert!(matches!(error, BlobError::InUse { .. }), "{error}");
        // Once the index is gone, the child can go.
        repository
            .delete_manifest(disk, put.digest.as_digest())
            .await
            .unwrap();
        repository
            .delete_manifest(disk, child.as_digest())
            .await
            .unwrap();
        assert_clean(&root);
    });
}

#[test]
fn blobs_in_use_cannot_be_deleted_and_stat_knows_their_media_type() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        let body = image(&mut store, "repo", 7).await;
        let layer = digest_of(Algorithm::Sha256, &bytes(7, 3000));
        let (repository, disk) = store.repository_and_disk("repo").unwrap();
        let put = repository
            .put_manifest(
                disk,
                Reference::Tag(tag("x")),
                &[],
                Some(OCI_MANIFEST),
                &body,
            )
            .await
            .unwrap();
        let stat = repository.blob_stat(disk, layer.as_digest()).await.unwrap();
        assert_eq!(stat.size, 3000);
        assert_eq!(stat.media_type.as_deref(), Some(LAYER));
        let stat = repository
            .blob_stat(disk, put.digest.as_digest())
            .await
            .unwrap();
        assert_eq!(stat.media_type.as_deref(), Some(OCI_MANIFEST));
        let error = repository
            .delete_blob(disk, layer.as_digest())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, BlobError::InUse { manifest } if *manifest == put.digest),
            "{error}"
        );
        assert_eq!(error.error_code(), ErrorCode::Denied);
        repository
            .delete_manifest(disk, put.digest.as_digest())
            .await
            .unwrap();
        repository
            .delete_blob(disk, layer.as_digest())
            .await
            .unwrap();
        assert_clean(&root);
    });
}

#[test]
fn referrers_are_found_by_subject_and_filtered_by_artifact_type() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        let body = image(&mut store, "repo", 8).await;
        push_blob(&mut store, "repo", b"{}").await;
        let subject = digest_of(Algorithm::Sha256, &body);
        let (repository, disk) = store.repository_and_disk("repo").unwrap();
        // A referrer may arrive before its subject.
        let signature = referrer_of(&subject, body.len(), "application/vnd.example.signature");
        let put = repository
            .put_manifest(
                disk,
                Reference::Digest(digest_of(Algorithm::Sha256, &signature).as_digest()),
                &[],
                Some(OCI_MANIFEST),
                &signature,
            )
            .await
            .unwrap();
        assert_eq!(put.subject, Some(subject.clone()));
        repository
            .put_manifest(
                disk,
                Reference::Tag(tag("v1")),
                &[],
                Some(OCI_MANIFEST),
                &body,
            )
            .await
            .unwrap();
        let sbom = referrer_of(&subject, body.len(), "application/vnd.example.sbom");
        repository
            .put_manifest(
                disk,
                Reference::Digest(digest_of(Algorithm::Sha256, &sbom).as_digest()),
                &[],
                Some(OCI_MANIFEST),
                &sbom,
            )
            .await
            .unwrap();
        let all = repository
            .referrers(disk, subject.as_digest(), None)
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        let sboms = repository
            .referrers(
                disk,
                subject.as_digest(),
                Some("application/vnd.example.sbom"),
            )
            .await
            .unwrap();
        assert_eq!(sboms.len(), 1);
        assert_eq!(sboms[0].digest, digest_of(Algorithm::Sha256, &sbom));
        assert_eq!(sboms[0].size, sbom.len() as u64);
        assert_eq!(sboms[0].media_type, OCI_MANIFEST);
        assert_eq!(
            sboms[0].annotations.as_ref().unwrap()["kind"],
            "application/vnd.example.sbom"
        );
        let none = repository
            .referrers(disk, put.digest.as_digest(), None)
            .await
            .unwrap();
        assert!(none.is_empty());
        // Deleting a referrer removes it from the answer, also after a reopen.
        repository
            .delete_manifest(disk, put.digest.as_digest())
            .await
            .unwrap();
        assert_eq!(
            repository
                .referrers(disk, subject.as_digest(), None)
                .await
                .unwrap()
                .len(),
            1
        );
        drop(store);
        let mut store = open(&root).await;
        let (repository, disk) = store.repository_and_disk("repo").unwrap();
        let after = repository
            .referrers(disk, subject.as_digest(), None)
            .await
            .unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(
            after[0].artifact_type.as_deref(),
            Some("application/vnd.example.sbom")
        );
    });
}

#[test]
fn tags_and_catalog_page_in_sorted_order() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        let body = image(&mut store, "repo", 9).await;
        let names: Vec<String> = (0..25).map(|n| format!("t{n:02}")).collect();
        let tags: Vec<Tag<'_>> = names.iter().map(|text| tag(text)).collect();
        let (repository, disk) = store.repository_and_disk("repo").unwrap();
        repository
            .put_manifest(
                disk,
                Reference::Tag(tags[0]),
                &tags,
                Some(OCI_MANIFEST),
                &body,
            )
            .await
            .unwrap();
        let mut seen = Vec::new();
        let mut last: Option<String> = None;
        for _ in 0..10 {
            let page = repository.tags_page(Some(10), last.as_deref());
            seen.extend(page.entries.iter().map(|entry| entry.to_string()));
            last = page.entries.last().map(|entry| entry.to_string());
            if !page.more {
                break;
            }
        }
        assert_eq!(seen, names);
        assert_eq!(repository.tags_page(Some(0), None).entries.len(), 0);
        assert!(repository.tags_page(Some(0), None).more);
        assert_eq!(repository.tags_page(Some(5), Some("t23")).entries, ["t24"]);
        assert_eq!(repository.tags_page(Some(5), Some("zzz")).entries.len(), 0);
        for repository in ["b", "a/z", "a", "c/d/e"] {
            store.create_repository(name(repository)).await.unwrap();
        }
        let page = store.catalog_page(Some(3), None);
        assert_eq!(page.entries, ["a", "a/z", "b"]);
        assert!(page.more);
        let page = store.catalog_page(Some(3), Some("b"));
        assert_eq!(page.entries, ["c/d/e", "repo"]);
        assert!(!page.more);
    });
}

#[test]
fn docker_manifests_keep_their_media_type() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        let config = br#"{"architecture":"arm64","os":"linux"}"#;
        let config_digest = push_blob(&mut store, "docker", config).await;
        let layer = bytes(10, 500);
        let layer_digest = push_blob(&mut store, "docker", &layer).await;
        let docker = "application/vnd.docker.distribution.manifest.v2+json";
        let body = format!(
            r#"{{
   "schemaVersion": 2,
   "mediaType": "{docker}",
   "config": {},
   "layers": [{}]
}}"#,
            descriptor(
                "application/vnd.docker.container.image.v1+json",
                &config_digest,
                config.len()
            ),
            descriptor(
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                &layer_digest,
                layer.len()
            ),
        );
        let (repository, disk) = store.repository_and_disk("docker").unwrap();
        repository
            .put_manifest(
                disk,
                Reference::Tag(tag("latest")),
                &[],
                Some(docker),
                body.as_bytes(),
            )
            .await
            .unwrap();
        let content = repository
            .manifest(disk, Reference::Tag(tag("latest")))
            .await
            .unwrap();
        assert_eq!(content.media_type, docker);
        assert_eq!(content.bytes, body.as_bytes());
        assert_clean(&root);
    });
}

#[test]
fn names_that_collide_with_storage_folders_are_refused() {
    on_both_drivers(|_, root| async move {
        let mut store = open(&root).await;
        store.create_repository(name("a")).await.unwrap();
        let error = store
            .create_repository(name("a/blobs/x"))
            .await
            .unwrap_err();
        assert_eq!(error.error_code(), ErrorCode::NameInvalid, "{error}");
        let error = store.create_repository(name("a/blobs")).await.unwrap_err();
        assert_eq!(error.error_code(), ErrorCode::NameInvalid, "{error}");
        // A repository's files, and any other file under the root, are no folders to create
        // a repository in: refused as names, not failed as I/O, and nothing is created.
        std::fs::write(root.join("data/cache.db"), b"zot's").unwrap();
        for colliding in ["a/index.json", "a/oci-layout", "a/index.json/x", "cache.db"] {
            let error = store.create_repository(name(colliding)).await.unwrap_err();
            assert_eq!(
                error.error_code(),
                ErrorCode::NameInvalid,
                "{colliding}: {error}"
            );
            assert!(
                !error.to_string().contains(root.to_str().unwrap()),
                "{colliding}: the detail names no server path: {error}"
            );
        }
        std::fs::remove_file(root.join("data/cache.db")).unwrap();
        assert!(root.join("data/a/index.json").is_file());
        // Nested repositories under a repository are fine.
        store.create_repository(name("a/b")).await.unwrap();
        assert!(root.join("data/a/b/oci-layout").is_file());
        // The other order: a repository deep in c's future blobs folder keeps c from being
        // created (found by the live_server fuzz target, which mounted a blob into
        // `x/blobs/y/z` and then into `x`; only `c/blobs` itself used to be looked at).
        store
            .create_repository(name("c/blobs/deep/er"))
            .await
            .unwrap();
        let error = store.create_repository(name("c")).await.unwrap_err();
        assert_eq!(error.error_code(), ErrorCode::NameInvalid, "{error}");
        assert!(error.to_string().contains("c/blobs/deep/er"), "{error}");
        assert!(!root.join("data/c/oci-layout").exists());
        // A sibling of `blobs` is no collision.
        store.create_repository(name("c/other")).await.unwrap();
        assert_clean(&root);
    });
}
