//! Tests of the zot root builder: the layout is zot's, byte for byte where zot's bytes are
//! known, and it passes the invariant checker with every blob hashed.

use std::fs;
use std::path::Path;

use proto::oci::manifest::parse_manifest;
use tempfile::TempDir;

use super::*;
use crate::index::RepositoryIndex;
use crate::invariants::{CheckOptions, Invariant, check_root};

fn temporary_root() -> TempDir {
    tempfile::Builder::new()
        .prefix("zot-fixture-")
        .tempdir()
        .expect("a temporary folder")
}

fn encoded(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("a sha256 digest")
}

#[test]
fn the_typical_root_passes_every_check_with_blobs_hashed() {
    let root = temporary_root();
    let fixture = ZotFixture::typical(root.path()).unwrap();
    let report = check_root(root.path(), &CheckOptions { hash_blobs: true });
    assert!(report.is_clean(), "{report}");
    let expected = ["a", "a/b", "a/b/c", "docker/hello", "library/alpine"];
    assert_eq!(report.repositories, expected);
    assert_eq!(fixture.repositories(), expected);
    assert!(report.blobs_hashed > 10);
    assert_eq!(report.temporary_files, 0);
}

#[test]
fn the_root_holds_zots_own_files() {
    let root = temporary_root();
    let _fixture = ZotFixture::typical(root.path()).unwrap();
    for file in [
        "cache.db",
        "_global_blobstore_migrated",
        "_trivy/db/trivy.db",
        "_trivy/db/metadata.json",
    ] {
        assert!(root.path().join(file).is_file(), "{file}");
    }
    assert!(root.path().join("_blobstore/blobs/sha256").is_dir());
    for repository in ["a", "a/b", "library/alpine"] {
        let folder = root.path().join(repository);
        assert_eq!(
            fs::read_to_string(folder.join("oci-layout")).unwrap(),
            r#"{"imageLayoutVersion":"1.0.0"}"#
        );
        assert!(folder.join(".uploads").is_dir());
        assert!(folder.join("blobs/sha256").is_dir());
    }
}

#[test]
fn index_json_is_written_as_go_marshals_it() {
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    let image = fixture
        .push_image("r", &["1.0", "latest"], &[b"x"])
        .unwrap();
    let referrer = fixture
        .push_referrer("r", &image, "application/vnd.example.sig")
        .unwrap();
    let written = fs::read_to_string(root.path().join("r/index.json")).unwrap();
    let manifest = "application/vnd.oci.image.manifest.v1+json";
    let expected = format!(
        concat!(
            r#"{{"schemaVersion":2,"manifests":["#,
            r#"{{"mediaType":"{m}","digest":"{d}","size":{s},"#,
            r#""annotations":{{"org.opencontainers.image.ref.name":"1.0"}}}},"#,
            r#"{{"mediaType":"{m}","digest":"{d}","size":{s},"#,
            r#""annotations":{{"org.opencontainers.image.ref.name":"latest"}}}},"#,
            r#"{{"mediaType":"{m}","digest":"{rd}","size":{rs}}}]}}"#,
        ),
        m = manifest,
        d = image.digest,
        s = image.size,
        rd = referrer.digest,
        rs = referrer.size,
    );
    assert_eq!(written, expected);
    let index = RepositoryIndex::parse(written.as_bytes()).unwrap();
    assert_eq!(index.entries().len(), 3);
    assert_eq!(
        fixture.tags("r"),
        [
            ("1.0".to_owned(), image.digest.clone()),
            ("latest".to_owned(), image.digest.clone())
        ]
    );
}

#[test]
fn tagging_a_manifest_pushed_by_digest_replaces_its_untagged_descriptor() {
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    let image = fixture.push_image("r", &[], &[b"x"]).unwrap();
    let again = fixture.push_image("r", &[], &[b"x"]).unwrap();
    assert_eq!(image, again);
    let index =
        || RepositoryIndex::parse(&fs::read(root.path().join("r/index.json")).unwrap()).unwrap();
    assert_eq!(index().entries().len(), 1);
    assert_eq!(index().entries()[0].tag(), None);
    fixture.push_image("r", &["v1"], &[b"x"]).unwrap();
    assert_eq!(index().entries().len(), 1);
    assert_eq!(index().entries()[0].tag(), Some("v1"));
    // Moving the tag to another manifest leaves the first one unlisted, as zot does.
    let other = fixture.push_image("r", &["v1"], &[b"y"]).unwrap();
    assert_eq!(index().entries().len(), 1);
    assert_eq!(index().entries()[0].digest(), other.digest);
}

#[test]
fn a_new_repository_has_zots_null_manifests_index() {
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    fixture.create_repository("fresh").unwrap();
    assert_eq!(
        fs::read_to_string(root.path().join("fresh/index.json")).unwrap(),
        ZOT_EMPTY_INDEX
    );
    assert_eq!(ZOT_EMPTY_INDEX, r#"{"schemaVersion":2,"manifests":null}"#);
    assert!(fixture.tags("fresh").is_empty());
}

/// zot leaves `"manifests":null` in a repository that has had uploads but no manifest yet, and
/// the engine must open it as an empty index. `RepositoryIndex::parse` refuses it today
/// (`IndexError::ManifestsMissing`), so the checker reports I4.
#[test]
#[ignore = "RepositoryIndex::parse must accept zot's \"manifests\":null (index/mod.rs)"]
fn a_repository_with_only_an_upload_is_clean() {
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    fixture.add_stale_upload("uploads-only", b"bytes").unwrap();
    let report = check_root(root.path(), &CheckOptions { hash_blobs: true });
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.repositories, ["uploads-only"]);
}

#[test]
fn a_repository_with_only_an_upload_is_reported_until_null_manifests_are_accepted() {
    // The counterpart of the ignored test above: delete this one when that one passes.
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    fixture.add_stale_upload("uploads-only", b"bytes").unwrap();
    let report = check_root(root.path(), &CheckOptions { hash_blobs: true });
    assert_eq!(report.violations_of(Invariant::I4).count(), 1, "{report}");
}

#[cfg(unix)]
#[test]
fn a_shared_layer_is_one_file_hard_linked_from_the_blobstore() {
    use std::os::unix::fs::MetadataExt;

    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    let shared: &[u8] = b"shared";
    let one = fixture.push_image("one", &["1"], &[shared]).unwrap();
    let two = fixture.push_image("nested/two", &["1"], &[shared]).unwrap();
    assert_eq!(one.blobs[1], two.blobs[1]);
    let name = encoded(&one.blobs[1]);
    let paths = [
        root.path().join("_blobstore/blobs/sha256").join(name),
        root.path().join("one/blobs/sha256").join(name),
        root.path().join("nested/two/blobs/sha256").join(name),
    ];
    let inodes: Vec<u64> = paths
        .iter()
        .map(|path| fs::metadata(path).unwrap().ino())
        .collect();
    assert!(inodes.iter().all(|&inode| inode == inodes[0]));
    assert_eq!(fs::metadata(&paths[0]).unwrap().nlink(), 3);
    // Manifests are written into the repository, not deduped.
    let manifest = root
        .path()
        .join("one/blobs/sha256")
        .join(encoded(&one.digest));
    assert_eq!(fs::metadata(manifest).unwrap().nlink(), 1);
    assert!(
        !root
            .path()
            .join("_blobstore/blobs/sha256")
            .join(encoded(&one.digest))
            .exists()
    );
}

#[test]
fn manifests_parse_as_their_media_types() {
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    let oci = fixture.push_image("r", &["oci"], &[b"1", b"2"]).unwrap();
    let docker = fixture
        .push_docker_image("r", &["docker"], &[b"3"])
        .unwrap();
    let index = fixture
        .push_index("r", &["index"], &[&oci, &docker])
        .unwrap();
    let referrer = fixture
        .push_referrer("r", &oci, "application/vnd.example.sbom")
        .unwrap();
    let read = |manifest: &PushedManifest| {
        fs::read(
            root.path()
                .join("r/blobs/sha256")
                .join(encoded(&manifest.digest)),
        )
        .unwrap()
    };
    for manifest in [&oci, &docker, &index, &referrer] {
        let bytes = read(manifest);
        assert_eq!(bytes.len() as u64, manifest.size);
        let parsed = parse_manifest(Some(manifest.media_type), &bytes).unwrap();
        let blobs: Vec<String> = parsed
            .blob_digests()
            .map(|digest| digest.as_str().to_owned())
            .collect();
        assert_eq!(blobs, manifest.blobs);
    }
    let docker_text = String::from_utf8(read(&docker)).unwrap();
    assert!(docker_text.starts_with("{\n   \"schemaVersion\": 2,\n   \"mediaType\""));
    let parsed = parse_manifest(Some(index.media_type), &read(&index)).unwrap();
    let children: Vec<&str> = parsed
        .manifest_digests()
        .map(|digest| digest.as_str())
        .collect();
    assert_eq!(children, [oci.digest.as_str(), docker.digest.as_str()]);
    let parsed = parse_manifest(Some(referrer.media_type), &read(&referrer)).unwrap();
    assert_eq!(parsed.subject().unwrap().digest, oci.digest);
    assert_eq!(parsed.artifact_type(), Some("application/vnd.example.sbom"));
}

#[test]
fn stale_uploads_are_named_by_uuid_v4() {
    let root = temporary_root();
    let mut fixture = ZotFixture::typical(root.path()).unwrap();
    let second = fixture.add_stale_upload("a", b"more").unwrap();
    let name = second.file_name().unwrap().to_str().unwrap().to_owned();
    assert_eq!(name.len(), 36);
    for (position, byte) in name.bytes().enumerate() {
        if [8, 13, 18, 23].contains(&position) {
            assert_eq!(byte, b'-', "{name}");
        } else {
            assert!(matches!(byte, b'0'..=b'9' | b'a'..=b'f'), "{name}");
        }
    }
    assert_eq!(&name[14..15], "4");
    assert!(matches!(&name[19..20], "8" | "9" | "a" | "b"));
    assert_eq!(fs::read(&second).unwrap(), b"more");
    let uploads: Vec<_> = fs::read_dir(root.path().join("library/alpine/.uploads"))
        .unwrap()
        .collect();
    assert_eq!(uploads.len(), 1);
    assert!(check_root(root.path(), &CheckOptions { hash_blobs: true }).is_clean());
}

#[test]
fn uuid_v4_sets_version_and_variant() {
    let hex = "0123456789abcdef0123456789abcdef";
    assert_eq!(uuid_v4(hex), "01234567-89ab-4def-8123-456789abcdef");
    assert_eq!(
        uuid_v4("ffffffffffffffffffffffffffffffff"),
        "ffffffff-ffff-4fff-bfff-ffffffffffff"
    );
}

#[test]
fn a_and_a_b_coexist_without_touching_each_other() {
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    let a = fixture.push_image("a", &["v1"], &[b"a"]).unwrap();
    let b = fixture.push_image("a/b", &["v1"], &[b"b"]).unwrap();
    assert_eq!(fixture.tags("a"), [("v1".to_owned(), a.digest)]);
    assert_eq!(fixture.tags("a/b"), [("v1".to_owned(), b.digest)]);
    assert!(Path::new(&root.path().join("a/b/index.json")).is_file());
    let report = check_root(root.path(), &CheckOptions { hash_blobs: true });
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.repositories, ["a", "a/b"]);
}
