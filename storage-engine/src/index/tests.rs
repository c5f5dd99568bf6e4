//! Tests of `index.json` parsing, rewriting and the tag and manifest changes.

use proto::oci::{Digest, Tag};
use serde_json::{Value, json};

use super::*;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

fn digest(text: &str) -> Digest<'_> {
    Digest::parse(text).unwrap()
}

fn tag(text: &str) -> Tag<'_> {
    Tag::parse(text).unwrap()
}

/// An index as zot writes it: one descriptor per tag, an untagged referrer, and fields this
/// engine does not know about.
fn zot_index() -> Value {
    json!({
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": MANIFEST, "digest": A, "size": 10,
             "annotations": {"org.opencontainers.image.ref.name": "1.0", "x-custom": "kept"}},
            {"mediaType": MANIFEST, "digest": A, "size": 10,
             "annotations": {"org.opencontainers.image.ref.name": "latest"}},
            {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": B, "size": 20,
             "platform": {"os": "linux", "architecture": "arm64"}},
        ],
        "annotations": {"com.example.top": "level"}
    })
}

fn parse(value: &Value) -> Result<RepositoryIndex, IndexError> {
    RepositoryIndex::parse(&serde_json::to_vec(value).unwrap())
}

fn tags(index: &RepositoryIndex) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = index
        .entries()
        .iter()
        .filter_map(|entry| Some((entry.tag()?.to_owned(), entry.digest().to_owned())))
        .collect();
    tags.sort();
    tags
}

#[test]
fn a_zot_index_parses_and_rewrites_without_loss() {
    let index = parse(&zot_index()).unwrap();
    assert_eq!(index.entries().len(), 3);
    assert_eq!(index.find_tag("latest").unwrap().digest(), A);
    assert_eq!(index.find_tag("1.0").unwrap().size(), 10);
    assert!(index.contains_digest(B));
    assert_eq!(index.entries()[2].tag(), None);
    assert_eq!(
        index.entries()[2].media_type(),
        "application/vnd.oci.image.index.v1+json"
    );
    let rewritten: Value = serde_json::from_slice(&index.to_json()).unwrap();
    assert_eq!(
        rewritten,
        zot_index(),
        "unknown fields and order survive a rewrite"
    );
}

#[test]
fn the_empty_index_is_a_valid_oci_index() {
    let empty = RepositoryIndex::empty();
    let value: Value = serde_json::from_slice(&empty.to_json()).unwrap();
    assert_eq!(
        value,
        json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []})
    );
    assert_eq!(RepositoryIndex::parse(&empty.to_json()).unwrap(), empty);
}

#[test]
fn zots_null_manifests_is_an_empty_index() {
    let index = RepositoryIndex::parse(br#"{"schemaVersion":2,"manifests":null}"#).unwrap();
    assert!(index.entries().is_empty());
    let rewritten: Value = serde_json::from_slice(&index.to_json()).unwrap();
    assert_eq!(rewritten["manifests"], json!([]));
}

#[test]
fn broken_indexes_name_the_rule_they_break() {
    let mut cases: Vec<(Value, IndexError)> = vec![
        (json!([1]), IndexError::NotAnObject),
        (json!({"manifests": []}), IndexError::SchemaVersion),
        (
            json!({"schemaVersion": 1, "manifests": []}),
            IndexError::SchemaVersion,
        ),
        (json!({"schemaVersion": 2}), IndexError::ManifestsMissing),
        (
            json!({"schemaVersion": 2, "manifests": "none"}),
            IndexError::ManifestsMissing,
        ),
        (
            json!({"schemaVersion": 2, "manifests": {}}),
            IndexError::ManifestsMissing,
        ),
        (
            json!({"schemaVersion": 2, "manifests": [1]}),
            IndexError::Descriptor(0),
        ),
    ];
    let descriptor = json!({"mediaType": MANIFEST, "digest": A, "size": 1});
    for (field, bad) in [
        ("digest", json!("sha256:short")),
        ("digest", json!("md5:abc")),
        ("mediaType", json!("not a media type")),
        ("size", json!(-1)),
        ("size", json!("1")),
    ] {
        let mut broken = descriptor.clone();
        broken[field] = bad;
        cases.push((
            json!({"schemaVersion": 2, "manifests": [descriptor, broken]}),
            IndexError::Descriptor(1),
        ));
    }
    let mut bad_tag = descriptor.clone();
    bad_tag["annotations"] = json!({REF_NAME_ANNOTATION: "-starts-with-dash"});
    cases.push((
        json!({"schemaVersion": 2, "manifests": [bad_tag]}),
        IndexError::Tag(0),
    ));
    let mut tagged = descriptor.clone();
    tagged["annotations"] = json!({REF_NAME_ANNOTATION: "v1"});
    cases.push((
        json!({"schemaVersion": 2, "manifests": [tagged.clone(), tagged]}),
        IndexError::DuplicateTag(1),
    ));
    for (value, expected) in cases {
        assert_eq!(parse(&value), Err(expected.clone()), "{value}");
        assert!(!expected.to_string().is_empty());
    }
    assert_eq!(
        RepositoryIndex::parse(b"{not json"),
        Err(IndexError::NotAnObject)
    );
}

#[test]
fn putting_a_tag_moves_it_and_keeps_the_old_manifest_listed() {
    let mut index = parse(&zot_index()).unwrap();
    assert!(index.put_manifest(digest(C), MANIFEST, 30, &[tag("latest")]));
    assert_eq!(
        tags(&index),
        vec![
            ("1.0".to_owned(), A.to_owned()),
            ("latest".to_owned(), C.to_owned())
        ]
    );
    assert!(index.contains_digest(A), "1.0 still names A");
    // Moving the last tag off a manifest keeps it listed untagged: it stays reachable by digest.
    assert!(index.put_manifest(digest(C), MANIFEST, 30, &[tag("1.0")]));
    assert!(index.contains_digest(A));
    assert_eq!(
        index
            .entries()
            .iter()
            .filter(|entry| entry.digest() == A)
            .count(),
        1
    );
    assert_eq!(
        index
            .entries()
            .iter()
            .find(|entry| entry.digest() == A)
            .unwrap()
            .tag(),
        None
    );
    let reparsed = RepositoryIndex::parse(&index.to_json()).unwrap();
    assert_eq!(reparsed, index);
}

#[test]
fn putting_what_is_already_there_changes_nothing() {
    let mut index = parse(&zot_index()).unwrap();
    let before = index.to_json();
    assert!(!index.put_manifest(digest(A), MANIFEST, 10, &[tag("latest"), tag("1.0")]));
    assert!(!index.put_manifest(digest(B), MANIFEST, 20, &[]));
    assert_eq!(index.to_json(), before);
}

#[test]
fn several_tags_in_one_put_and_untagged_puts() {
    let mut index = RepositoryIndex::empty();
    assert!(index.put_manifest(digest(A), MANIFEST, 1, &[]));
    assert_eq!(index.entries().len(), 1);
    assert!(index.put_manifest(digest(A), MANIFEST, 1, &[tag("a"), tag("b")]));
    assert_eq!(
        tags(&index),
        vec![
            ("a".to_owned(), A.to_owned()),
            ("b".to_owned(), A.to_owned())
        ]
    );
    assert_eq!(
        index.entries().len(),
        2,
        "the untagged entry gave way to the tagged ones"
    );
}

#[test]
fn removing_tags_and_digests() {
    let mut index = parse(&zot_index()).unwrap();
    assert!(index.remove_tag("latest"));
    assert!(!index.remove_tag("latest"));
    assert!(index.find_tag("latest").is_none());
    assert_eq!(index.find_tag("1.0").unwrap().digest(), A);
    assert!(index.remove_tag("1.0"));
    // A is no longer tagged but still listed, with its other annotations kept.
    let entry = index
        .entries()
        .iter()
        .find(|entry| entry.digest() == A)
        .unwrap();
    assert_eq!(entry.tag(), None);
    let value: Value = serde_json::from_slice(&index.to_json()).unwrap();
    let listed = value["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["digest"] == A)
        .unwrap()
        .clone();
    assert_eq!(listed["annotations"], json!({"x-custom": "kept"}));
    assert_eq!(index.remove_digest(A), 1);
    assert_eq!(index.remove_digest(A), 0);
    assert!(!index.contains_digest(A));
    assert!(index.contains_digest(B));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Operation {
        Put { manifest: usize, tags: Vec<usize> },
        RemoveTag(usize),
        RemoveDigest(usize),
    }

    const DIGESTS: [&str; 3] = [A, B, C];
    const TAGS: [&str; 4] = ["latest", "1.0", "1.1", "stable"];

    fn operation() -> impl Strategy<Value = Operation> {
        prop_oneof![
            3 => (0..3usize, proptest::collection::vec(0..4usize, 0..3))
                .prop_map(|(manifest, tags)| Operation::Put { manifest, tags }),
            1 => (0..4usize).prop_map(Operation::RemoveTag),
            1 => (0..3usize).prop_map(Operation::RemoveDigest),
        ]
    }

    proptest! {
        /// Any sequence of changes keeps tags unique (I5), makes every tag name the digest it
        /// was last put with, never drops a manifest that was not deleted, and survives a
        /// write and a read unchanged (I4).
        #[test]
        fn changes_keep_the_invariants(operations in proptest::collection::vec(operation(), 0..40)) {
            let mut index = RepositoryIndex::empty();
            let mut expected_tags: std::collections::BTreeMap<&str, &str> = Default::default();
            let mut expected_digests: std::collections::BTreeSet<&str> = Default::default();
            for operation in operations {
                match operation {
                    Operation::Put { manifest, tags } => {
                        let tags: Vec<Tag<'_>> = tags.iter().map(|&t| tag(TAGS[t])).collect();
                        index.put_manifest(digest(DIGESTS[manifest]), MANIFEST, 1, &tags);
                        for tag in &tags {
                            expected_tags.insert(tag.as_str(), DIGESTS[manifest]);
                        }
                        expected_digests.insert(DIGESTS[manifest]);
                    }
                    Operation::RemoveTag(t) => {
                        let existed = index.remove_tag(TAGS[t]);
                        prop_assert_eq!(existed, expected_tags.remove(TAGS[t]).is_some());
                    }
                    Operation::RemoveDigest(d) => {
                        index.remove_digest(DIGESTS[d]);
                        expected_tags.retain(|_, digest| *digest != DIGESTS[d]);
                        expected_digests.remove(DIGESTS[d]);
                    }
                }
                let actual: std::collections::BTreeMap<String, String> = tags(&index).into_iter().collect();
                let wanted: std::collections::BTreeMap<String, String> = expected_tags
                    .iter()
                    .map(|(tag, digest)| ((*tag).to_owned(), (*digest).to_owned()))
                    .collect();
                prop_assert_eq!(actual, wanted);
                for digest in DIGESTS {
                    prop_assert_eq!(index.contains_digest(digest), expected_digests.contains(digest));
                }
                prop_assert_eq!(RepositoryIndex::parse(&index.to_json()).unwrap(), index.clone());
            }
        }
    }
}
