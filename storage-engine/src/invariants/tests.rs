//! Tests of the offline checker: a good root is clean, and each invariant's violation is found.

use std::fs;
use std::path::Path;

use proto::oci::Algorithm;
use tempfile::TempDir;

use super::*;
use crate::upload_state::UploadState;
use crate::zot_fixture::{PushedManifest, ZotFixture};

const HASHING: CheckOptions = CheckOptions { hash_blobs: true };
const NOT_HASHING: CheckOptions = CheckOptions { hash_blobs: false };

fn temporary_root() -> TempDir {
    tempfile::Builder::new()
        .prefix("invariants-")
        .tempdir()
        .expect("a temporary folder")
}

fn blob_file(root: &Path, repository: &str, digest: &str) -> std::path::PathBuf {
    let encoded = digest.strip_prefix("sha256:").expect("a sha256 digest");
    root.join(repository)
        .join("blobs")
        .join("sha256")
        .join(encoded)
}

/// The invariants of the report's violations, in order.
fn invariants(report: &Report) -> Vec<Invariant> {
    report
        .violations
        .iter()
        .map(|violation| violation.invariant)
        .collect()
}

/// A root with one repository holding one tagged image.
fn one_image(root: &Path) -> (ZotFixture, PushedManifest) {
    let mut fixture = ZotFixture::new(root).unwrap();
    let image = fixture
        .push_image("library/alpine", &["latest"], &[b"layer one", b"layer two"])
        .unwrap();
    (fixture, image)
}

fn state(offset: u64) -> UploadState {
    UploadState {
        offset,
        algorithm: Algorithm::Sha256,
        created_unix_seconds: 1_790_000_000,
        hasher_state: vec![7; 104],
    }
}

#[test]
fn invariant_numbers_and_descriptions() {
    for (position, invariant) in Invariant::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(invariant.number()), position + 1);
        assert_eq!(invariant.to_string(), format!("I{}", position + 1));
        assert!(!invariant.description().is_empty());
    }
    let unchecked: Vec<Invariant> = Invariant::ALL
        .into_iter()
        .filter(|invariant| !invariant.is_checked_offline())
        .collect();
    assert_eq!(
        unchecked,
        [Invariant::I7, Invariant::I8, Invariant::I9, Invariant::I12]
    );
}

#[test]
fn an_empty_root_is_clean() {
    let root = temporary_root();
    let report = check_root(root.path(), &HASHING);
    assert!(report.is_clean(), "{report}");
    assert!(report.repositories.is_empty());
    assert_eq!(report.to_string(), "");
}

#[test]
fn a_missing_root_is_a_read_error() {
    let root = temporary_root();
    let report = check_root(&root.path().join("absent"), &NOT_HASHING);
    assert!(!report.is_clean());
    assert_eq!(report.read_errors.len(), 1);
    assert!(report.to_string().starts_with("error "), "{report}");
}

#[test]
fn a_good_root_is_clean_and_every_blob_is_hashed_once() {
    let root = temporary_root();
    let (_fixture, image) = one_image(root.path());
    let report = check_root(root.path(), &HASHING);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.repositories, ["library/alpine"]);
    // Config and two layers are linked from _blobstore: read once each; plus the manifest.
    assert_eq!(image.blobs.len(), 3);
    assert_eq!(report.blobs_hashed, 4);
    assert_eq!(check_root(root.path(), &NOT_HASHING).blobs_hashed, 0);
}

#[test]
fn discovery_follows_design_2_1() {
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    fixture.push_image("a", &["1"], &[b"a"]).unwrap();
    fixture.push_image("a/b", &["1"], &[b"b"]).unwrap();
    fixture.push_image("x/y/z", &["1"], &[b"z"]).unwrap();
    // Not repositories: names starting with `_` or `.`, invalid names, no oci-layout, files.
    for hidden in ["_hidden", ".hidden", "Upper", "x/no-layout"] {
        let folder = root.path().join(hidden);
        fs::create_dir_all(&folder).unwrap();
        if hidden != "x/no-layout" {
            fs::write(folder.join("oci-layout"), ZOT_LAYOUT).unwrap();
        }
    }
    fs::write(root.path().join("meta.db"), b"not a folder").unwrap();
    // Deep names: 32 components is the limit, 33 is never looked at.
    let deep: Vec<String> = (0..33).map(|index| format!("d{index}")).collect();
    let at_limit = root.path().join(deep[..32].join("/"));
    let past_limit = root.path().join(deep.join("/"));
    fs::create_dir_all(&past_limit).unwrap();
    fs::write(at_limit.join("oci-layout"), ZOT_LAYOUT).unwrap();
    fs::write(past_limit.join("oci-layout"), ZOT_LAYOUT).unwrap();

    let report = check_root(root.path(), &HASHING);
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        report.repositories,
        ["a", "a/b", &deep[..32].join("/"), "x/y/z"]
    );
}

const ZOT_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

#[test]
fn a_folder_with_index_json_but_no_oci_layout_breaks_i10() {
    let root = temporary_root();
    let (_fixture, _image) = one_image(root.path());
    fs::remove_file(root.path().join("library/alpine/oci-layout")).unwrap();
    let report = check_root(root.path(), &NOT_HASHING);
    assert!(report.repositories.is_empty());
    assert_eq!(invariants(&report), [Invariant::I10]);
    assert_eq!(report.violations[0].path, Path::new("library/alpine"));
}

#[test]
fn a_bad_oci_layout_breaks_i10() {
    for content in [
        &b"{\"imageLayoutVersion\":\"2.0.0\"}"[..],
        b"not json",
        b"[]",
    ] {
        let root = temporary_root();
        let (_fixture, _image) = one_image(root.path());
        fs::write(root.path().join("library/alpine/oci-layout"), content).unwrap();
        let report = check_root(root.path(), &NOT_HASHING);
        assert_eq!(report.repositories, ["library/alpine"]);
        assert_eq!(invariants(&report), [Invariant::I10], "{report}");
    }
}

#[test]
fn a_corrupt_blob_breaks_i1_under_every_name_it_has() {
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    let shared: &[u8] = b"shared layer";
    let image = fixture.push_image("one", &["1"], &[shared]).unwrap();
    fixture.push_image("two", &["1"], &[shared]).unwrap();
    let layer = &image.blobs[1];
    // Hard links share the inode: damaging one name damages all three.
    fs::write(blob_file(root.path(), "one", layer), b"shared layeR").unwrap();
    let report = check_root(root.path(), &NOT_HASHING);
    assert!(report.is_clean(), "not hashing: {report}");
    let report = check_root(root.path(), &HASHING);
    assert_eq!(
        invariants(&report),
        [Invariant::I1, Invariant::I1, Invariant::I1],
        "{report}"
    );
    let encoded = layer.strip_prefix("sha256:").unwrap();
    let mut paths: Vec<String> = report
        .violations
        .iter()
        .map(|violation| violation.path.display().to_string())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            format!("_blobstore/blobs/sha256/{encoded}"),
            format!("one/blobs/sha256/{encoded}"),
            format!("two/blobs/sha256/{encoded}"),
        ]
    );
    assert!(
        report.violations[0]
            .detail
            .starts_with("the content hashes to sha256:")
    );
}

#[test]
fn sha512_blobs_are_hashed_with_sha512() {
    let root = temporary_root();
    let (_fixture, _image) = one_image(root.path());
    let folder = root.path().join("library/alpine/blobs/sha512");
    fs::create_dir_all(&folder).unwrap();
    // SHA-512 of the empty string.
    let empty = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
                 47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
    fs::write(folder.join(empty), b"").unwrap();
    assert!(check_root(root.path(), &HASHING).is_clean());
    fs::write(folder.join(empty), b"x").unwrap();
    assert_eq!(
        invariants(&check_root(root.path(), &HASHING)),
        [Invariant::I1]
    );
}

#[test]
fn names_that_are_not_digests_break_i1_without_hashing() {
    let root = temporary_root();
    let (_fixture, _image) = one_image(root.path());
    let blobs = root.path().join("library/alpine/blobs");
    fs::write(blobs.join("sha256").join("ABC"), b"").unwrap();
    fs::write(blobs.join("sha256").join("a".repeat(63)), b"").unwrap();
    fs::create_dir_all(blobs.join("md5")).unwrap();
    fs::write(blobs.join("stray"), b"").unwrap();
    fs::create_dir_all(blobs.join("sha256").join("b".repeat(64))).unwrap();
    let report = check_root(root.path(), &NOT_HASHING);
    assert_eq!(invariants(&report), [Invariant::I1; 5], "{report}");
    let details: Vec<&str> = report
        .violations
        .iter()
        .map(|violation| violation.detail.as_str())
        .collect();
    assert!(details.contains(&"\"md5\" is not a digest algorithm this registry computes"));
    assert!(details.contains(&"the file name is not a sha256 digest"));
    assert!(details.contains(&"a folder where a blob file belongs"));
}

#[test]
fn temporary_files_are_allowed_and_counted() {
    let root = temporary_root();
    let (_fixture, image) = one_image(root.path());
    let folder = root.path().join("library/alpine");
    fs::write(folder.join(".tmp-index"), b"{").unwrap();
    fs::write(folder.join(".uploads/.tmp-manifest"), b"partial").unwrap();
    let encoded = image.digest.strip_prefix("sha256:").unwrap();
    fs::write(
        folder.join(format!("blobs/sha256/{encoded}.tmp-link")),
        b"x",
    )
    .unwrap();
    fs::write(root.path().join("_blobstore/blobs/sha256/.tmp-1"), b"x").unwrap();
    let report = check_root(root.path(), &HASHING);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.temporary_files, 4);
}

#[test]
fn a_missing_manifest_breaks_i2_with_the_documented_line() {
    let root = temporary_root();
    let (_fixture, image) = one_image(root.path());
    fs::remove_file(blob_file(root.path(), "library/alpine", &image.digest)).unwrap();
    let report = check_root(root.path(), &NOT_HASHING);
    assert_eq!(
        report.to_string(),
        format!(
            "I2 library/alpine/index.json: tag \"latest\" names {} which is not under blobs/\n",
            image.digest
        )
    );
}

#[test]
fn a_manifest_of_the_wrong_size_or_type_breaks_i2() {
    let root = temporary_root();
    let (_fixture, image) = one_image(root.path());
    let index_path = root.path().join("library/alpine/index.json");
    let original = fs::read_to_string(&index_path).unwrap();

    let wrong_size = original.replace(
        &format!("\"size\":{}", image.size),
        &format!("\"size\":{}", image.size + 1),
    );
    assert_ne!(wrong_size, original);
    fs::write(&index_path, wrong_size).unwrap();
    let report = check_root(root.path(), &NOT_HASHING);
    assert_eq!(invariants(&report), [Invariant::I2]);
    assert!(
        report.violations[0]
            .detail
            .contains("bytes but blobs/ holds")
    );

    let wrong_type = original.replace(
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    );
    fs::write(&index_path, wrong_type).unwrap();
    let report = check_root(root.path(), &NOT_HASHING);
    assert_eq!(invariants(&report), [Invariant::I2], "{report}");
    assert!(report.violations[0].detail.contains("does not parse as"));

    let not_a_manifest = original.replace(
        "application/vnd.oci.image.manifest.v1+json",
        "application/octet-stream",
    );
    fs::write(&index_path, not_a_manifest).unwrap();
    assert_eq!(
        invariants(&check_root(root.path(), &NOT_HASHING)),
        [Invariant::I2]
    );
}

#[test]
fn a_missing_layer_or_config_breaks_i3() {
    for missing in 0..3 {
        let root = temporary_root();
        let (_fixture, image) = one_image(root.path());
        let blob = &image.blobs[missing];
        fs::remove_file(blob_file(root.path(), "library/alpine", blob)).unwrap();
        let report = check_root(root.path(), &HASHING);
        assert_eq!(invariants(&report), [Invariant::I3], "{report}");
        let encoded = image.digest.strip_prefix("sha256:").unwrap();
        assert_eq!(
            report.violations[0].to_string(),
            format!(
                "I3 library/alpine/blobs/sha256/{encoded}: references blob {blob} which is not \
                 under blobs/"
            )
        );
    }
}

#[test]
fn an_index_needs_its_children_and_their_blobs_but_a_referrer_not_its_subject() {
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    let amd64 = fixture.push_image("m", &[], &[b"amd64"]).unwrap();
    let arm64 = fixture.push_image("m", &[], &[b"arm64"]).unwrap();
    let index = fixture
        .push_index("m", &["multi"], &[&amd64, &arm64])
        .unwrap();
    fixture
        .push_referrer("m", &index, "application/vnd.example.sbom")
        .unwrap();
    assert!(check_root(root.path(), &HASHING).is_clean());

    // The untagged descriptor of a child goes (as when zot prunes it): only the index names it.
    let index_path = root.path().join("m/index.json");
    let document: Value = serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    let mut pruned = document.clone();
    pruned["manifests"]
        .as_array_mut()
        .unwrap()
        .retain(|descriptor| descriptor["digest"] != amd64.digest.as_str());
    fs::write(&index_path, serde_json::to_vec(&pruned).unwrap()).unwrap();
    assert!(check_root(root.path(), &HASHING).is_clean());

    // A child's layer is gone: found through the index.
    fs::remove_file(blob_file(root.path(), "m", &amd64.blobs[1])).unwrap();
    let report = check_root(root.path(), &HASHING);
    assert_eq!(invariants(&report), [Invariant::I3], "{report}");
    assert!(report.violations[0].path.ends_with(&amd64.digest[7..]));

    // The child manifest itself is gone.
    fs::remove_file(blob_file(root.path(), "m", &amd64.digest)).unwrap();
    let report = check_root(root.path(), &HASHING);
    assert_eq!(invariants(&report), [Invariant::I3], "{report}");
    assert!(
        report.violations[0]
            .detail
            .starts_with("lists a manifest that names")
    );

    // The referrer's subject (the index) is gone: I2 for the tag, nothing for the referrer.
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    let image = fixture.push_image("m", &[], &[b"x"]).unwrap();
    fixture
        .push_referrer("m", &image, "application/vnd.example.sbom")
        .unwrap();
    let index_path = root.path().join("m/index.json");
    let mut document: Value = serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    document["manifests"]
        .as_array_mut()
        .unwrap()
        .retain(|descriptor| descriptor["digest"] != image.digest.as_str());
    fs::write(&index_path, serde_json::to_vec(&document).unwrap()).unwrap();
    fs::remove_file(blob_file(root.path(), "m", &image.digest)).unwrap();
    let report = check_root(root.path(), &HASHING);
    assert!(report.is_clean(), "{report}");
}

/// The server accepts an index whose descriptor of a child gives another media type or size
/// than the child was stored with (only presence is required, as zot and distribution do): found
/// by the live_server fuzz target, where the checker called that root broken. A child that
/// `index.json` does not list is served as the index says, so there the descriptor must match.
#[test]
fn an_index_may_describe_a_listed_child_loosely_but_not_an_unlisted_one() {
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    let child = fixture.push_image("m", &[], &[b"amd64"]).unwrap();
    let loose = PushedManifest {
        media_type: "application/vnd.omi.image.manifest.v1+json",
        size: child.size + 1,
        ..child.clone()
    };
    let index = fixture.push_index("m", &["multi"], &[&loose]).unwrap();
    let report = check_root(root.path(), &HASHING);
    assert!(report.is_clean(), "{report}");

    // The child's own descriptor goes: now only the index's loose one names it.
    let index_path = root.path().join("m/index.json");
    let mut document: Value = serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    document["manifests"]
        .as_array_mut()
        .unwrap()
        .retain(|descriptor| descriptor["digest"] != child.digest.as_str());
    fs::write(&index_path, serde_json::to_vec(&document).unwrap()).unwrap();
    let report = check_root(root.path(), &HASHING);
    assert_eq!(invariants(&report), [Invariant::I3], "{report}");
    assert!(report.violations[0].path.ends_with(&index.digest[7..]));
    assert!(
        report.violations[0]
            .detail
            .starts_with("lists a manifest that says"),
        "{report}"
    );
}

#[test]
fn an_index_json_that_is_not_whole_breaks_i4() {
    let root = temporary_root();
    let (_fixture, _image) = one_image(root.path());
    let index_path = root.path().join("library/alpine/index.json");
    let original = fs::read(&index_path).unwrap();
    for broken in [
        &original[..original.len() / 2],
        b"",
        br#"{"schemaVersion":1,"manifests":[]}"#,
        br#"{"schemaVersion":2}"#,
    ] {
        fs::write(&index_path, broken).unwrap();
        let report = check_root(root.path(), &NOT_HASHING);
        assert_eq!(invariants(&report), [Invariant::I4], "{report}");
        assert_eq!(
            report.violations[0].path,
            Path::new("library/alpine/index.json")
        );
    }
    // Absent is an empty index (design 4.1, step 2).
    fs::remove_file(&index_path).unwrap();
    assert!(check_root(root.path(), &HASHING).is_clean());
}

#[test]
fn repeated_tags_break_i5_and_the_rest_is_still_checked() {
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    let first = fixture.push_image("r", &["one"], &[b"1"]).unwrap();
    let second = fixture.push_image("r", &["two"], &[b"2"]).unwrap();
    let index_path = root.path().join("r/index.json");
    let original = fs::read_to_string(&index_path).unwrap();
    fs::write(&index_path, original.replace("\"two\"", "\"one\"")).unwrap();
    let report = check_root(root.path(), &NOT_HASHING);
    assert_eq!(invariants(&report), [Invariant::I5], "{report}");
    assert_eq!(
        report.violations[0].detail,
        "tag \"one\" is on manifests[0] and manifests[1]"
    );
    // With the second manifest gone, the repeat is still checked for presence.
    fs::remove_file(blob_file(root.path(), "r", &second.digest)).unwrap();
    let report = check_root(root.path(), &NOT_HASHING);
    assert_eq!(
        invariants(&report),
        [Invariant::I5, Invariant::I2],
        "{report}"
    );
    assert!(
        report.violations[1]
            .detail
            .starts_with("manifests[1] names")
    );
    assert!(!report.violations[1].detail.contains(&first.digest));
}

#[test]
fn upload_states_must_describe_a_prefix_of_their_data() {
    let root = temporary_root();
    let (_fixture, _image) = one_image(root.path());
    let uploads = root.path().join("library/alpine/.uploads");
    let session = "0123456789abcdef0123456789abcdef";
    fs::write(uploads.join(session), vec![1u8; 100]).unwrap();
    let state_path = uploads.join(format!("{session}.state"));

    for offset in [0, 50, 100] {
        fs::write(&state_path, state(offset).encode()).unwrap();
        assert!(check_root(root.path(), &NOT_HASHING).is_clean(), "{offset}");
    }

    fs::write(&state_path, state(101).encode()).unwrap();
    let report = check_root(root.path(), &NOT_HASHING);
    assert_eq!(invariants(&report), [Invariant::I6]);
    assert_eq!(
        report.violations[0].detail,
        format!("offset 101 is past the end of {session} (100 bytes)")
    );

    let mut torn = state(10).encode();
    torn.truncate(20);
    fs::write(&state_path, torn).unwrap();
    assert_eq!(
        invariants(&check_root(root.path(), &NOT_HASHING)),
        [Invariant::I6]
    );

    fs::write(&state_path, vec![0u8; 3000]).unwrap();
    assert_eq!(
        invariants(&check_root(root.path(), &NOT_HASHING)),
        [Invariant::I6]
    );

    fs::write(&state_path, state(10).encode()).unwrap();
    fs::remove_file(uploads.join(session)).unwrap();
    let report = check_root(root.path(), &NOT_HASHING);
    assert_eq!(invariants(&report), [Invariant::I6]);
    assert!(report.violations[0].detail.starts_with("orphaned"));
}

/// Two slots of 1024 bytes, each a record and zero padding.
fn two_slots(first: Option<&UploadState>, second: Option<&UploadState>) -> Vec<u8> {
    let mut bytes = vec![0u8; 2 * SLOT_BYTES];
    for (slot, state) in [first, second].into_iter().enumerate() {
        if let Some(state) = state {
            let record = state.encode();
            let at = slot * SLOT_BYTES;
            bytes[at..at + record.len()].copy_from_slice(&record);
        }
    }
    bytes
}

#[test]
fn upload_state_reads_bare_records_and_two_slot_files() {
    let low = state(10);
    let high = state(20);
    assert_eq!(read_upload_state(&low.encode()), Some(low.clone()));
    assert_eq!(
        read_upload_state(&two_slots(Some(&low), Some(&high))),
        Some(high.clone())
    );
    assert_eq!(
        read_upload_state(&two_slots(Some(&high), Some(&low))),
        Some(high.clone())
    );
    assert_eq!(
        read_upload_state(&two_slots(None, Some(&low))),
        Some(low.clone())
    );
    // A torn slot loses to the other one.
    let mut torn = two_slots(Some(&low), Some(&high));
    torn[SLOT_BYTES + 12] ^= 0xff;
    assert_eq!(read_upload_state(&torn), Some(low.clone()));
    // The second slot cut short by a crash mid-write.
    let short = &two_slots(Some(&low), Some(&high))[..SLOT_BYTES + 30];
    assert_eq!(read_upload_state(short), Some(low.clone()));
    assert_eq!(read_upload_state(&two_slots(None, None)), None);
    assert_eq!(read_upload_state(b""), None);

    // And through the checker: the larger valid offset is the one checked.
    let root = temporary_root();
    let (_fixture, _image) = one_image(root.path());
    let uploads = root.path().join("library/alpine/.uploads");
    fs::write(uploads.join("s"), vec![0u8; 15]).unwrap();
    fs::write(uploads.join("s.state"), two_slots(Some(&low), None)).unwrap();
    assert!(check_root(root.path(), &NOT_HASHING).is_clean());
    fs::write(uploads.join("s.state"), two_slots(Some(&low), Some(&high))).unwrap();
    assert_eq!(
        invariants(&check_root(root.path(), &NOT_HASHING)),
        [Invariant::I6]
    );
}

#[test]
fn repositories_inside_storage_folders_break_i11() {
    let root = temporary_root();
    let (_fixture, _image) = one_image(root.path());
    let repository = root.path().join("library/alpine");
    for inside in [
        "blobs/nested",
        "blobs/sha256/nested/deeper",
        ".uploads/nested",
    ] {
        let folder = repository.join(inside);
        fs::create_dir_all(&folder).unwrap();
        fs::write(folder.join("oci-layout"), ZOT_LAYOUT).unwrap();
    }
    let report = check_root(root.path(), &NOT_HASHING);
    assert_eq!(report.repositories, ["library/alpine"]);
    assert_eq!(invariants(&report), [Invariant::I11; 3], "{report}");
    let paths: Vec<&Path> = report
        .violations
        .iter()
        .map(|violation| violation.path.as_path())
        .collect();
    assert_eq!(
        paths,
        [
            Path::new("library/alpine/blobs/nested"),
            Path::new("library/alpine/blobs/sha256/nested"),
            Path::new("library/alpine/.uploads/nested"),
        ]
    );
}

#[test]
fn a_blobs_component_is_a_repository_when_its_parent_is_not() {
    // `a/blobs` is a valid name; it collides only with a repository `a`.
    let root = temporary_root();
    let mut fixture = ZotFixture::new(root.path()).unwrap();
    fixture.push_image("a/blobs", &["1"], &[b"x"]).unwrap();
    let report = check_root(root.path(), &HASHING);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.repositories, ["a/blobs"]);
}

#[test]
fn violations_of_filters_by_invariant() {
    let root = temporary_root();
    let (_fixture, image) = one_image(root.path());
    fs::remove_file(blob_file(root.path(), "library/alpine", &image.blobs[1])).unwrap();
    fs::write(root.path().join("library/alpine/oci-layout"), b"{}").unwrap();
    let report = check_root(root.path(), &NOT_HASHING);
    assert_eq!(report.violations_of(Invariant::I3).count(), 1);
    assert_eq!(report.violations_of(Invariant::I10).count(), 1);
    assert_eq!(report.violations_of(Invariant::I1).count(), 0);
    assert_eq!(report.to_string().lines().count(), 2);
}
