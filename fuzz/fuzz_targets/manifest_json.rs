//! Fuzz target: `parse_manifest` on arbitrary bodies, under every kind of `Content-Type`.
//!
//! The first byte picks the `Content-Type` (none, each manifest kind, a kind with parameters,
//! Docker schema 1, or garbage); the rest is the body. On success, what the registry relies on
//! must hold: the kind agrees with the media types, every digest re-parses, every size fits
//! int64 and every media type is valid.
#![no_main]

use proto::limits::MANIFEST_DESCRIPTORS_MAX;
use proto::oci::Digest;
use proto::oci::manifest::{Descriptor, ParsedManifest, parse_manifest};
use proto::oci::media_type::{self, ManifestKind};

const CONTENT_TYPES: [Option<&str>; 9] = [
    None,
    Some(media_type::OCI_IMAGE_MANIFEST),
    Some(media_type::OCI_IMAGE_INDEX),
    Some(media_type::DOCKER_MANIFEST),
    Some(media_type::DOCKER_MANIFEST_LIST),
    Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
    Some(" APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON\t;q=1"),
    Some(media_type::DOCKER_SCHEMA1_SIGNED_MANIFEST),
    Some("garbage/\u{0};"),
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let Ok(parsed) = parse_manifest(content_type, body) else {
        return;
    };
    check_kind(content_type, &parsed);
    check_descriptors(&parsed);
});

fn check_kind(content_type: Option<&str>, parsed: &ParsedManifest) {
    let kind = parsed.kind();
    assert_eq!(parsed.media_type(), kind.media_type());
    assert_eq!(
        ManifestKind::from_media_type(parsed.media_type()),
        Some(kind)
    );
    if let Some(content_type) = content_type {
        let declared = ManifestKind::from_media_type(media_type::strip_parameters(content_type));
        assert_eq!(declared, Some(kind), "the Content-Type decides the kind");
    }
    if kind.is_index() {
        assert!(parsed.config().is_none() && parsed.layers().is_empty());
    } else {
        assert!(parsed.config().is_some() && parsed.manifests().is_empty());
        assert!(
            parsed.artifact_type().is_some(),
            "image manifests always have one"
        );
    }
    if let Some(artifact_type) = parsed.artifact_type() {
        assert!(media_type::is_valid(artifact_type));
    }
}

fn check_descriptors(parsed: &ParsedManifest) {
    assert!(parsed.layers().len() <= MANIFEST_DESCRIPTORS_MAX);
    assert!(parsed.manifests().len() <= MANIFEST_DESCRIPTORS_MAX);
    let blobs = parsed.config().into_iter().chain(parsed.layers());
    check_digests(blobs, parsed.blob_digests());
    check_digests(parsed.manifests().iter(), parsed.manifest_digests());
    if let Some(subject) = parsed.subject() {
        check_descriptor(subject);
    }
}

/// Every descriptor is valid and its digest is the one the iterator yields, in order.
fn check_digests<'a>(
    descriptors: impl Iterator<Item = &'a Descriptor>,
    mut digests: impl Iterator<Item = Digest<'a>>,
) {
    for descriptor in descriptors {
        check_descriptor(descriptor);
        let digest = digests.next().expect("one digest per descriptor");
        assert_eq!(digest.as_str(), descriptor.digest);
        assert_eq!(Digest::parse(digest.as_str()), Ok(digest));
    }
    assert!(digests.next().is_none(), "no digest without a descriptor");
}

fn check_descriptor(descriptor: &Descriptor) {
    assert!(media_type::is_valid(&descriptor.media_type));
    assert!(Digest::parse(&descriptor.digest).is_ok());
    assert!(i64::try_from(descriptor.size).is_ok());
    if let Some(artifact_type) = &descriptor.artifact_type {
        assert!(media_type::is_valid(artifact_type));
    }
}
