//! Tests of manifest parsing and validation.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::validate::base64_decoded_len;
use super::*;
use crate::limits::{MANIFEST_BYTES_MAX, MANIFEST_DESCRIPTORS_MAX};
use crate::oci::error_code::ErrorCode;
use crate::oci::media_type;
use crate::oci::media_type::{
    DOCKER_CONTAINER_CONFIG, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_SCHEMA1_MANIFEST,
    DOCKER_SCHEMA1_SIGNED_MANIFEST, OCI_EMPTY, OCI_IMAGE_CONFIG, OCI_IMAGE_INDEX,
    OCI_IMAGE_MANIFEST, OCI_LAYER_TAR_GZIP,
};

const OCI_MANIFEST_BODY: &str = r#"{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {
"mediaType": "application/vnd.oci.image.config.v1+json",
"digest": "sha256:b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910",
"size": 7023
  },
  "layers": [
{
  "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
  "digest": "sha256:77ea7eee3d80b1a38f83906dd3048e2689457eb90e18a7d12f839c5ae37106a2",
  "size": 32654
},
{
  "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
  "digest": "sha256:95cf1a2e1698fe3ca1fcc3f653119146b271d0b62e487ec264441e886a11bd06",
  "size": 16724
}
  ],
  "annotations": {
"org.opencontainers.image.created": "2024-03-01T12:00:00Z",
"org.opencontainers.image.source": "https://example.com/app"
  }
}"#;

const OCI_INDEX_BODY: &str = r#"{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
{
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "digest": "sha256:5861314d7fccb39c2192173240eab44fa35ca66426201ca2acd0630a6258dd51",
  "size": 1056,
  "platform": { "architecture": "amd64", "os": "linux" }
},
{
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "digest": "sha256:f69162950f235e3cdbbad33f1f912d1a504be90d8a37d002c735d6f3e3882265",
  "size": 1056,
  "platform": { "architecture": "arm64", "os": "linux", "variant": "v8" }
},
{
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "digest": "sha256:340d600392818df2413382dc7d8325c360d83ea49a262d31760348484bbc10b5",
  "size": 1423,
  "platform": {
    "architecture": "amd64",
    "os": "windows",
    "os.version": "10.0.17763.5576",
    "os.features": ["win32k"]
  }
},
{
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "digest": "sha256:bcc7930764b9b7a8b9bbd0161b568e869466d0c4efaee8006a56f3e8e6d82b69",
  "size": 840,
  "annotations": {
    "vnd.docker.reference.digest": "sha256:5861314d7fccb39c2192173240eab44fa35ca66426201ca2acd0630a6258dd51",
    "vnd.docker.reference.type": "attestation-manifest"
  },
  "platform": { "architecture": "unknown", "os": "unknown" }
}
  ],
  "annotations": { "org.opencontainers.image.ref.name": "1.0" }
}"#;

const DOCKER_MANIFEST_BODY: &str = r#"{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
  "mediaType": "application/vnd.docker.container.image.v1+json",
  "size": 1469,
  "digest": "sha256:e5eaac1a7220052ff328930b20bc3815dccbbeab3708d9298d8f891cca3b97d9"
   },
   "layers": [
  {
     "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
     "size": 2479,
     "digest": "sha256:8cd5b6542632bedb21c3476a19a6e820fbf6cb76516ca2cef702ff90bc39bc2f"
  },
  {
     "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
     "size": 1532582,
     "digest": "sha256:232e1da4880b93828aec6c79c1ce091a6fbbbbb3b15a97fff78c972b33c1998d",
     "urls": [
        "https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:232e1da4880b93828aec6c79c1ce091a6fbbbbb3b15a97fff78c972b33c1998d"
     ]
  }
   ]
}"#;

const DOCKER_LIST_BODY: &str = r#"{
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
  "manifests": [
{
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "size": 527,
  "digest": "sha256:562ced9670f232ddda3c8aff300c622da04c39b93c5d02790f3947a6c81aac2f",
  "platform": { "architecture": "amd64", "os": "linux" }
},
{
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "size": 527,
  "digest": "sha256:67a4f4cc9f00a002e91b29845cb97f4ad8086734e86ba0c0a59dcde14cb559d8",
  "platform": { "architecture": "arm", "os": "linux", "variant": "v7" }
}
  ]
}"#;

const ARTIFACT_BODY: &str = r#"{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "artifactType": "application/spdx+json",
  "config": {
"mediaType": "application/vnd.oci.empty.v1+json",
"digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
"size": 2,
"data": "e30="
  },
  "layers": [
{
  "mediaType": "application/spdx+json",
  "digest": "sha256:98f3ae1ef67113d8140d4f6cb8d2830070e21ea48f091be519659846c771a374",
  "size": 4012,
  "annotations": { "org.opencontainers.image.title": "sbom.spdx.json" }
}
  ],
  "subject": {
"mediaType": "application/vnd.oci.image.manifest.v1+json",
"digest": "sha256:a9491f4c1bf7b0cffbadcba2db8f028e4b3f2867cb59e1f3a0bc1968f3c51242",
"size": 1056
  },
  "annotations": { "org.opencontainers.image.created": "2024-03-01T12:00:00Z" }
}"#;

const FIXTURES: [(&str, ManifestKind); 5] = [
    (OCI_MANIFEST_BODY, ManifestKind::OciManifest),
    (OCI_INDEX_BODY, ManifestKind::OciIndex),
    (DOCKER_MANIFEST_BODY, ManifestKind::DockerManifest),
    (DOCKER_LIST_BODY, ManifestKind::DockerManifestList),
    (ARTIFACT_BODY, ManifestKind::OciManifest),
];

const DIGEST_A: &str = "sha256:b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910";

/// The fixture, changed as a JSON value and serialized again.
fn mutate(fixture: &str, change: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_str(fixture).unwrap();
    change(&mut value);
    serde_json::to_vec(&value).unwrap()
}

fn remove(value: &mut Value, field: &str) {
    value.as_object_mut().unwrap().remove(field);
}

fn error(content_type: Option<&str>, body: &[u8]) -> ManifestError {
    parse_manifest(content_type, body).unwrap_err()
}

fn digests<'a>(digests: impl Iterator<Item = Digest<'a>>) -> Vec<&'a str> {
    digests.map(|digest| digest.as_str()).collect()
}

#[test]
fn oci_image_manifest_is_accepted() {
    let parsed = parse_manifest(Some(OCI_IMAGE_MANIFEST), OCI_MANIFEST_BODY.as_bytes()).unwrap();
    assert_eq!(parsed.kind(), ManifestKind::OciManifest);
    assert_eq!(parsed.media_type(), OCI_IMAGE_MANIFEST);
    assert_eq!(parsed.config().unwrap().media_type, OCI_IMAGE_CONFIG);
    assert_eq!(parsed.config().unwrap().size, 7023);
    assert_eq!(parsed.layers().len(), 2);
    assert_eq!(parsed.layers()[1].size, 16724);
    assert!(parsed.manifests().is_empty());
    assert!(parsed.subject().is_none());
    assert_eq!(parsed.artifact_type(), Some(OCI_IMAGE_CONFIG));
    assert_eq!(
        parsed.annotations().unwrap()["org.opencontainers.image.source"],
        "https://example.com/app"
    );
    assert_eq!(
        digests(parsed.blob_digests()),
        [
            DIGEST_A,
            "sha256:77ea7eee3d80b1a38f83906dd3048e2689457eb90e18a7d12f839c5ae37106a2",
            "sha256:95cf1a2e1698fe3ca1fcc3f653119146b271d0b62e487ec264441e886a11bd06",
        ]
    );
    assert_eq!(parsed.manifest_digests().count(), 0);
}

#[test]
fn oci_index_with_platforms_is_accepted() {
    let parsed = parse_manifest(Some(OCI_IMAGE_INDEX), OCI_INDEX_BODY.as_bytes()).unwrap();
    assert_eq!(parsed.kind(), ManifestKind::OciIndex);
    assert_eq!(parsed.media_type(), OCI_IMAGE_INDEX);
    assert!(parsed.config().is_none());
    assert!(parsed.layers().is_empty());
    assert_eq!(parsed.blob_digests().count(), 0);
    assert_eq!(parsed.artifact_type(), None);
    let manifests = parsed.manifests();
    assert_eq!(manifests.len(), 4);
    let arm = manifests[1].platform.as_ref().unwrap();
    assert_eq!(
        (arm.architecture.as_str(), arm.os.as_str()),
        ("arm64", "linux")
    );
    assert_eq!(arm.variant.as_deref(), Some("v8"));
    let windows = manifests[2].platform.as_ref().unwrap();
    assert_eq!(windows.os_version.as_deref(), Some("10.0.17763.5576"));
    assert_eq!(
        windows.os_features.as_deref(),
        Some(&["win32k".to_string()][..])
    );
    assert_eq!(
        manifests[3].annotations.as_ref().unwrap()["vnd.docker.reference.type"],
        "attestation-manifest"
    );
    let listed = digests(parsed.manifest_digests());
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[0], manifests[0].digest);
    assert_eq!(
        parsed.annotations().unwrap()["org.opencontainers.image.ref.name"],
        "1.0"
    );
}

#[test]
fn docker_manifest_is_accepted() {
    let parsed = parse_manifest(Some(DOCKER_MANIFEST), DOCKER_MANIFEST_BODY.as_bytes()).unwrap();
    assert_eq!(parsed.kind(), ManifestKind::DockerManifest);
    assert_eq!(parsed.artifact_type(), Some(DOCKER_CONTAINER_CONFIG));
    let foreign = &parsed.layers()[1];
    assert!(media_type::is_nondistributable_layer(&foreign.media_type));
    assert_eq!(foreign.urls.as_ref().unwrap().len(), 1);
    assert_eq!(parsed.blob_digests().count(), 3);
}

#[test]
fn docker_manifest_list_is_accepted() {
    let parsed = parse_manifest(Some(DOCKER_MANIFEST_LIST), DOCKER_LIST_BODY.as_bytes()).unwrap();
    assert_eq!(parsed.kind(), ManifestKind::DockerManifestList);
    assert_eq!(parsed.manifests().len(), 2);
    assert_eq!(
        parsed.manifests()[1]
            .platform
            .as_ref()
            .unwrap()
            .variant
            .as_deref(),
        Some("v7")
    );
    assert_eq!(parsed.manifest_digests().count(), 2);
    assert_eq!(parsed.artifact_type(), None);
}

#[test]
fn artifact_with_subject_and_empty_config_is_accepted() {
    let parsed = parse_manifest(Some(OCI_IMAGE_MANIFEST), ARTIFACT_BODY.as_bytes()).unwrap();
    assert_eq!(parsed.artifact_type(), Some("application/spdx+json"));
    let config = parsed.config().unwrap();
    assert_eq!(config.media_type, OCI_EMPTY);
    assert_eq!(config.data.as_deref(), Some("e30="));
    let subject = parsed.subject().unwrap();
    assert_eq!(
        subject.digest,
        "sha256:a9491f4c1bf7b0cffbadcba2db8f028e4b3f2867cb59e1f3a0bc1968f3c51242"
    );
    // The subject is a manifest that may not exist yet: it is not a blob to check.
    assert!(
        parsed
            .blob_digests()
            .all(|digest| digest.as_str() != subject.digest)
    );
    assert_eq!(parsed.blob_digests().count(), 2);
}

#[test]
fn artifact_type_follows_the_referrers_rules() {
    let manifest_with = parse_manifest(None, ARTIFACT_BODY.as_bytes()).unwrap();
    assert_eq!(manifest_with.artifact_type(), Some("application/spdx+json"));
    let without = mutate(ARTIFACT_BODY, |value| remove(value, "artifactType"));
    let manifest_without = parse_manifest(None, &without).unwrap();
    assert_eq!(manifest_without.artifact_type(), Some(OCI_EMPTY));
    let index_with = mutate(OCI_INDEX_BODY, |value| {
        value["artifactType"] = json!("application/x.bundle")
    });
    let index_with = parse_manifest(None, &index_with).unwrap();
    assert_eq!(index_with.artifact_type(), Some("application/x.bundle"));
    let index_without = parse_manifest(None, OCI_INDEX_BODY.as_bytes()).unwrap();
    assert_eq!(index_without.artifact_type(), None);
}

#[test]
fn index_subject_and_annotations_are_kept() {
    let body = mutate(OCI_INDEX_BODY, |value| {
        value["subject"] = json!({"mediaType": OCI_IMAGE_INDEX, "digest": DIGEST_A, "size": 9});
    });
    let parsed = parse_manifest(Some(OCI_IMAGE_INDEX), &body).unwrap();
    assert_eq!(parsed.subject().unwrap().digest, DIGEST_A);
    assert_eq!(parsed.subject().unwrap().size, 9);
}

#[test]
fn kind_comes_from_content_type_then_media_type_then_shape() {
    let no_media_type = |fixture| mutate(fixture, |value| remove(value, "mediaType"));
    let cases: [(Option<&str>, Vec<u8>, ManifestKind); 8] = [
        (
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
            OCI_MANIFEST_BODY.into(),
            ManifestKind::OciManifest,
        ),
        (
            Some(" APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON "),
            OCI_INDEX_BODY.into(),
            ManifestKind::OciIndex,
        ),
        (
            None,
            DOCKER_MANIFEST_BODY.into(),
            ManifestKind::DockerManifest,
        ),
        (
            None,
            DOCKER_LIST_BODY.into(),
            ManifestKind::DockerManifestList,
        ),
        (
            Some(OCI_IMAGE_MANIFEST),
            no_media_type(OCI_MANIFEST_BODY),
            ManifestKind::OciManifest,
        ),
        (
            None,
            no_media_type(OCI_MANIFEST_BODY),
            ManifestKind::OciManifest,
        ),
        (None, no_media_type(OCI_INDEX_BODY), ManifestKind::OciIndex),
        (
            Some(DOCKER_MANIFEST),
            mutate(DOCKER_MANIFEST_BODY, |value| {
                value["mediaType"] = json!(DOCKER_MANIFEST.to_ascii_uppercase());
            }),
            ManifestKind::DockerManifest,
        ),
    ];
    for (content_type, body, expected) in cases {
        let parsed = parse_manifest(content_type, &body).unwrap();
        assert_eq!(parsed.kind(), expected, "{content_type:?}");
        assert_eq!(parsed.media_type(), expected.media_type());
    }
}

#[test]
fn kind_that_nothing_tells_is_unknown() {
    for body in [
        r#"{"schemaVersion":2}"#,
        r#"{"schemaVersion":2,"layers":[]}"#,
    ] {
        assert_eq!(
            error(None, body.as_bytes()),
            ManifestError::KindUnknown,
            "{body}"
        );
    }
}

#[test]
fn body_media_type_must_agree_with_content_type() {
    let cases = [
        (OCI_IMAGE_INDEX, OCI_MANIFEST_BODY),
        (OCI_IMAGE_MANIFEST, OCI_INDEX_BODY),
        (DOCKER_MANIFEST, OCI_MANIFEST_BODY),
        (OCI_IMAGE_MANIFEST, DOCKER_MANIFEST_BODY),
        (DOCKER_MANIFEST, DOCKER_LIST_BODY),
    ];
    for (content_type, body) in cases {
        assert_eq!(
            error(Some(content_type), body.as_bytes()),
            ManifestError::MediaTypeMismatch,
            "{content_type}"
        );
    }
    let unknown_in_body = mutate(OCI_MANIFEST_BODY, |value| {
        value["mediaType"] = json!("application/x.other")
    });
    assert_eq!(
        error(Some(OCI_IMAGE_MANIFEST), &unknown_in_body),
        ManifestError::MediaTypeMismatch
    );
}

#[test]
fn docker_kinds_require_media_type_in_the_body() {
    let cases = [
        (DOCKER_MANIFEST, DOCKER_MANIFEST_BODY),
        (DOCKER_MANIFEST_LIST, DOCKER_LIST_BODY),
    ];
    for (content_type, fixture) in cases {
        let body = mutate(fixture, |value| remove(value, "mediaType"));
        assert_eq!(
            error(Some(content_type), &body),
            ManifestError::MediaTypeMissing,
            "{content_type}"
        );
    }
}

#[test]
fn unsupported_content_types_are_refused() {
    let cases = [
        DOCKER_SCHEMA1_MANIFEST,
        DOCKER_SCHEMA1_SIGNED_MANIFEST,
        "application/json",
        "application/octet-stream",
        OCI_IMAGE_CONFIG,
        "",
        ";",
        "\u{0}garbage",
        "application/vnd.oci.image.manifest.v1+json+json",
    ];
    for content_type in cases {
        assert_eq!(
            error(Some(content_type), OCI_MANIFEST_BODY.as_bytes()),
            ManifestError::UnsupportedMediaType,
            "{content_type:?}"
        );
    }
    // The Content-Type is judged before the body is read.
    assert_eq!(
        error(Some(DOCKER_SCHEMA1_SIGNED_MANIFEST), b"\xff not json"),
        ManifestError::UnsupportedMediaType
    );
}

#[test]
fn unsupported_body_media_types_are_refused() {
    let schema1 =
        format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_SCHEMA1_SIGNED_MANIFEST}"}}"#);
    let other = mutate(OCI_MANIFEST_BODY, |value| {
        value["mediaType"] = json!("application/x.y")
    });
    for body in [schema1.as_bytes(), &other] {
        assert_eq!(error(None, body), ManifestError::UnsupportedMediaType);
    }
}

#[test]
fn body_media_type_must_be_a_media_type() {
    let body = mutate(OCI_MANIFEST_BODY, |value| {
        value["mediaType"] = json!("not a type")
    });
    assert_eq!(error(None, &body), ManifestError::MediaTypeInvalid);
    assert_eq!(
        error(Some(OCI_IMAGE_MANIFEST), &body),
        ManifestError::MediaTypeInvalid
    );
}

#[test]
fn oversized_bodies_are_refused_before_parsing() {
    let mut body = OCI_MANIFEST_BODY.as_bytes().to_vec();
    body.resize(MANIFEST_BYTES_MAX, b' ');
    assert!(parse_manifest(Some(OCI_IMAGE_MANIFEST), &body).is_ok());
    body.push(b' ');
    assert_eq!(
        error(Some(OCI_IMAGE_MANIFEST), &body),
        ManifestError::TooLarge
    );
    let garbage = vec![0xffu8; MANIFEST_BYTES_MAX + 1];
    assert_eq!(error(Some("garbage"), &garbage), ManifestError::TooLarge);
    assert_eq!(ManifestError::TooLarge.status(), 413);
}

#[test]
fn bodies_must_be_utf8() {
    let body = b"{\"schemaVersion\":2,\xff}";
    assert_eq!(
        error(None, body),
        ManifestError::NotUtf8 { valid_up_to: 19 }
    );
}

#[test]
fn bodies_must_be_json_objects() {
    for body in [
        "",
        "   \n",
        "[]",
        "null",
        "2",
        "\"manifest\"",
        "\u{feff}{}",
        "x{}",
    ] {
        assert_eq!(
            error(None, body.as_bytes()),
            ManifestError::NotAnObject,
            "{body:?}"
        );
    }
}

#[test]
fn json_errors_carry_their_position() {
    let cases = [
        (r#"{"schemaVersion":2,"#, JsonProblem::Eof, 1, 19),
        (r#"{"schemaVersion":2,}"#, JsonProblem::Syntax, 1, 20),
        (r#"{"schemaVersion":"2"}"#, JsonProblem::Data, 1, 20),
        ("{} {}", JsonProblem::Syntax, 1, 4),
        (
            "{\n  \"schemaVersion\": 2,\n  \"mediaType\": 5\n}",
            JsonProblem::Data,
            3,
            16,
        ),
        (r#"{"layers": {}}"#, JsonProblem::Data, 1, 11),
        (r#"{"annotations": {"a": 1}}"#, JsonProblem::Data, 1, 23),
    ];
    for (body, problem, line, column) in cases {
        let found = error(None, body.as_bytes());
        assert_eq!(
            found,
            ManifestError::Json {
                line,
                column,
                problem
            },
            "{body}"
        );
        assert_eq!(found.json_position(), Some((line, column)));
    }
}

#[test]
fn arrays_in_place_of_objects_are_refused() {
    let config_as_array = mutate(OCI_MANIFEST_BODY, |value| {
        value["config"] = json!([OCI_IMAGE_CONFIG, DIGEST_A, 7023]);
    });
    let platform_as_array = mutate(OCI_INDEX_BODY, |value| {
        value["manifests"][0]["platform"] = json!(["amd64", "linux"]);
    });
    let layer_as_array = mutate(OCI_MANIFEST_BODY, |value| {
        value["layers"][1] = json!([OCI_LAYER_TAR_GZIP, DIGEST_A, 1]);
    });
    for body in [config_as_array, platform_as_array, layer_as_array] {
        assert!(
            matches!(
                error(None, &body),
                ManifestError::Json {
                    problem: JsonProblem::Data,
                    ..
                }
            ),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn duplicate_known_fields_are_refused() {
    let cases = [
        r#"{"schemaVersion":2,"schemaVersion":2,"config":{},"layers":[]}"#.to_string(),
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_IMAGE_MANIFEST}","mediaType":"{OCI_IMAGE_INDEX}","manifests":[]}}"#
        ),
        format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{OCI_IMAGE_CONFIG}","digest":"{DIGEST_A}","digest":"{DIGEST_A}","size":1}},"layers":[]}}"#
        ),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_IMAGE_MANIFEST}","digest":"{DIGEST_A}","size":1,"platform":{{"os":"linux","architecture":"amd64","os":"windows"}}}}]}}"#
        ),
    ];
    for body in cases {
        assert!(
            matches!(
                error(None, body.as_bytes()),
                ManifestError::Json {
                    problem: JsonProblem::Data,
                    ..
                }
            ),
            "{body}"
        );
    }
    let public =
        format!(r#"{{"mediaType":"{OCI_IMAGE_CONFIG}","digest":"{DIGEST_A}","size":1,"size":2}}"#);
    let parsed: Result<Descriptor, _> = serde_json::from_str(&public);
    assert!(
        parsed
            .unwrap_err()
            .to_string()
            .contains("duplicate field `size`")
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let with_extras = mutate(OCI_INDEX_BODY, |value| {
        value["x-vendor"] = json!({"nested": [1, 2, {"deep": null}]});
        value["manifests"][0]["x-extra"] = json!("ignored");
        value["manifests"][0]["platform"]["x-cpu"] = json!(true);
    });
    let plain = parse_manifest(None, OCI_INDEX_BODY.as_bytes()).unwrap();
    assert_eq!(parse_manifest(None, &with_extras).unwrap(), plain);
}

#[test]
fn schema_version_must_be_two() {
    let missing = mutate(OCI_MANIFEST_BODY, |value| remove(value, "schemaVersion"));
    assert_eq!(error(None, &missing), ManifestError::SchemaVersionMissing);
    let null = mutate(OCI_MANIFEST_BODY, |value| {
        value["schemaVersion"] = Value::Null
    });
    assert_eq!(error(None, &null), ManifestError::SchemaVersionMissing);
    for version in ["1", "3", "2.0", "-2", "2e0", "18446744073709551618"] {
        let body = OCI_MANIFEST_BODY.replacen(
            "\"schemaVersion\": 2",
            &format!("\"schemaVersion\": {version}"),
            1,
        );
        assert_eq!(
            error(None, body.as_bytes()),
            ManifestError::SchemaVersionUnsupported,
            "{version}"
        );
    }
}

#[test]
fn fields_of_the_other_kind_make_content_ambiguous() {
    let cases = [
        (
            Some(OCI_IMAGE_MANIFEST),
            mutate(OCI_MANIFEST_BODY, |value| value["manifests"] = json!([])),
            "manifests",
        ),
        (
            Some(DOCKER_MANIFEST),
            mutate(DOCKER_MANIFEST_BODY, |value| value["manifests"] = json!([])),
            "manifests",
        ),
        (
            Some(OCI_IMAGE_INDEX),
            mutate(OCI_INDEX_BODY, |value| {
                value["config"] = json!({"mediaType": OCI_EMPTY, "digest": DIGEST_A, "size": 2});
            }),
            "config",
        ),
        (
            None,
            mutate(OCI_INDEX_BODY, |value| value["layers"] = json!([])),
            "layers",
        ),
        (
            None,
            mutate(OCI_MANIFEST_BODY, |value| {
                remove(value, "mediaType");
                value["manifests"] = json!([]);
            }),
            "config",
        ),
    ];
    for (content_type, body, field) in cases {
        let found = error(content_type, &body);
        assert_eq!(found, ManifestError::ContentAmbiguous { field }, "{field}");
        assert!(found.detail().contains(if field == "manifests" {
            "manifests"
        } else {
            "config"
        }));
    }
    // An explicit null carries no descriptors: it is treated as absent.
    let null_manifests = mutate(OCI_MANIFEST_BODY, |value| value["manifests"] = Value::Null);
    assert!(parse_manifest(None, &null_manifests).is_ok());
}

#[test]
fn required_fields_are_required() {
    let cases = [
        (
            Some(OCI_IMAGE_MANIFEST),
            mutate(OCI_MANIFEST_BODY, |value| remove(value, "config")),
            ManifestError::ConfigMissing,
        ),
        (
            None,
            mutate(OCI_MANIFEST_BODY, |value| remove(value, "layers")),
            ManifestError::LayersMissing,
        ),
        (
            Some(DOCKER_MANIFEST_LIST),
            mutate(DOCKER_LIST_BODY, |value| remove(value, "manifests")),
            ManifestError::ManifestsMissing,
        ),
        (
            None,
            mutate(OCI_INDEX_BODY, |value| remove(value, "manifests")),
            ManifestError::ManifestsMissing,
        ),
    ];
    for (content_type, body, expected) in cases {
        assert_eq!(error(content_type, &body), expected);
    }
}

#[test]
fn empty_lists_are_allowed() {
    let no_layers = mutate(ARTIFACT_BODY, |value| value["layers"] = json!([]));
    let parsed = parse_manifest(None, &no_layers).unwrap();
    assert!(parsed.layers().is_empty());
    assert_eq!(parsed.blob_digests().count(), 1);
    let no_manifests = mutate(OCI_INDEX_BODY, |value| value["manifests"] = json!([]));
    assert!(
        parse_manifest(None, &no_manifests)
            .unwrap()
            .manifests()
            .is_empty()
    );
}

#[test]
fn manifest_artifact_type_must_be_a_media_type() {
    for fixture in [ARTIFACT_BODY, OCI_INDEX_BODY] {
        let body = mutate(fixture, |value| value["artifactType"] = json!("spdx"));
        assert_eq!(error(None, &body), ManifestError::ArtifactTypeInvalid);
    }
}

fn layers(count: usize) -> Value {
    let layer = json!({"mediaType": OCI_LAYER_TAR_GZIP, "digest": DIGEST_A, "size": 1});
    Value::Array(vec![layer; count])
}

#[test]
fn descriptor_lists_are_capped() {
    let at_limit = mutate(OCI_MANIFEST_BODY, |value| {
        value["layers"] = layers(MANIFEST_DESCRIPTORS_MAX);
    });
    let parsed = parse_manifest(None, &at_limit).unwrap();
    assert_eq!(parsed.layers().len(), MANIFEST_DESCRIPTORS_MAX);
    let over = mutate(OCI_MANIFEST_BODY, |value| {
        value["layers"] = layers(MANIFEST_DESCRIPTORS_MAX + 1);
    });
    assert_eq!(error(None, &over), ManifestError::TooManyDescriptors);
    let over_index = mutate(OCI_INDEX_BODY, |value| {
        value["manifests"] = layers(MANIFEST_DESCRIPTORS_MAX + 1);
    });
    assert_eq!(error(None, &over_index), ManifestError::TooManyDescriptors);
    // Entries past the limit must still be valid JSON.
    let text = String::from_utf8(over).unwrap();
    let broken = text.replacen("]", ",]", 1);
    assert!(matches!(
        error(None, broken.as_bytes()),
        ManifestError::Json { .. }
    ));
}

type Change = fn(&mut Value);

#[test]
fn every_descriptor_rule_names_the_descriptor() {
    use DescriptorLocation::{Config, Layer, Manifest, Subject};
    use DescriptorProblem as Problem;
    let cases: [(&str, Change, DescriptorLocation, DescriptorProblem); 19] = [
        (
            OCI_MANIFEST_BODY,
            |value| remove(&mut value["config"], "mediaType"),
            Config,
            Problem::MediaTypeMissing,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| value["layers"][1]["mediaType"] = json!("tar"),
            Layer(1),
            Problem::MediaTypeInvalid,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| value["layers"][0]["mediaType"] = json!(""),
            Layer(0),
            Problem::MediaTypeInvalid,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| remove(&mut value["layers"][0], "digest"),
            Layer(0),
            Problem::DigestMissing,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| value["layers"][1]["digest"] = json!("sha256:xyz"),
            Layer(1),
            Problem::DigestInvalid,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| value["config"]["digest"] = json!(DIGEST_A.to_ascii_uppercase()),
            Config,
            Problem::DigestInvalid,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| value["config"]["digest"] = json!(format!("sha256:{}", "a".repeat(63))),
            Config,
            Problem::DigestInvalid,
        ),
        (
            OCI_INDEX_BODY,
            |value| value["manifests"][2]["digest"] = json!("md5:d41d8cd98f00b204e9800998ecf8427e"),
            Manifest(2),
            Problem::DigestAlgorithmUnsupported,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| remove(&mut value["layers"][1], "size"),
            Layer(1),
            Problem::SizeMissing,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| value["layers"][0]["size"] = json!(-1),
            Layer(0),
            Problem::SizeNegative,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| value["layers"][0]["size"] = json!(-1.5),
            Layer(0),
            Problem::SizeNegative,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| value["layers"][0]["size"] = json!(1.5),
            Layer(0),
            Problem::SizeNotInteger,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| value["layers"][0]["size"] = json!(9_223_372_036_854_775_808u64),
            Layer(0),
            Problem::SizeTooLarge,
        ),
        (
            OCI_MANIFEST_BODY,
            |value| value["layers"][0]["size"] = json!(1e19),
            Layer(0),
            Problem::SizeTooLarge,
        ),
        (
            OCI_INDEX_BODY,
            |value| value["manifests"][0]["artifactType"] = json!("sbom"),
            Manifest(0),
            Problem::ArtifactTypeInvalid,
        ),
        (
            ARTIFACT_BODY,
            |value| value["config"]["data"] = json!("e30"),
            Config,
            Problem::DataInvalid,
        ),
        (
            ARTIFACT_BODY,
            |value| value["config"]["data"] = json!("e3 0"),
            Config,
            Problem::DataInvalid,
        ),
        (
            ARTIFACT_BODY,
            |value| value["config"]["size"] = json!(3),
            Config,
            Problem::DataSizeMismatch,
        ),
        (
            ARTIFACT_BODY,
            |value| value["subject"]["digest"] = json!("sha256"),
            Subject,
            Problem::DigestInvalid,
        ),
    ];
    for (fixture, change, location, problem) in cases {
        let body = mutate(fixture, change);
        let found = error(None, &body);
        assert_eq!(
            found,
            ManifestError::Descriptor { location, problem },
            "{location} {problem:?}"
        );
        assert_eq!(found.descriptor(), Some(location));
        assert_eq!(found.detail(), problem.detail());
    }
}

#[test]
fn size_limits_are_exact() {
    let sizes = [
        ("0", Ok(0)),
        ("-0", Err(DescriptorProblem::SizeNotInteger)),
        ("9223372036854775807", Ok(i64::MAX as u64)),
        ("9223372036854775808", Err(DescriptorProblem::SizeTooLarge)),
        ("18446744073709551616", Err(DescriptorProblem::SizeTooLarge)),
        ("-9223372036854775809", Err(DescriptorProblem::SizeNegative)),
        ("1e3", Err(DescriptorProblem::SizeNotInteger)),
        ("7023.0", Err(DescriptorProblem::SizeNotInteger)),
    ];
    for (size, expected) in sizes {
        let body = OCI_MANIFEST_BODY.replacen("\"size\": 7023", &format!("\"size\": {size}"), 1);
        let found = parse_manifest(None, body.as_bytes())
            .map(|parsed| parsed.config().unwrap().size)
            .map_err(|error| match error {
                ManifestError::Descriptor { problem, .. } => problem,
                other => panic!("{size}: {other:?}"),
            });
        assert_eq!(found, expected, "{size}");
    }
    let string_size = OCI_MANIFEST_BODY.replacen("\"size\": 7023", "\"size\": \"7023\"", 1);
    assert!(matches!(
        error(None, string_size.as_bytes()),
        ManifestError::Json {
            problem: JsonProblem::Data,
            ..
        }
    ));
}

#[test]
fn base64_lengths_are_computed_without_decoding() {
    let cases = [
        ("", Some(0)),
        ("e30=", Some(2)),
        ("YQ==", Some(1)),
        ("YWJj", Some(3)),
        ("YWJjZA==", Some(4)),
        ("+/+/", Some(3)),
        ("YQ=", None),
        ("Y===", None),
        ("====", None),
        ("YQ=a", None),
        ("YW-j", None),
        ("YW_j", None),
    ];
    for (text, expected) in cases {
        assert_eq!(base64_decoded_len(text), expected, "{text:?}");
    }
}

#[test]
fn platform_requires_architecture_and_os() {
    let body = mutate(OCI_INDEX_BODY, |value| {
        remove(&mut value["manifests"][1]["platform"], "os")
    });
    assert!(matches!(
        error(None, &body),
        ManifestError::Json {
            problem: JsonProblem::Data,
            ..
        }
    ));
}

#[test]
fn errors_map_to_codes_and_statuses() {
    let descriptor = |problem| ManifestError::Descriptor {
        location: DescriptorLocation::Config,
        problem,
    };
    let cases = [
        (ManifestError::TooLarge, ErrorCode::ManifestInvalid, 413),
        (
            ManifestError::UnsupportedMediaType,
            ErrorCode::ManifestInvalid,
            415,
        ),
        (ManifestError::NotAnObject, ErrorCode::ManifestInvalid, 400),
        (
            ManifestError::MediaTypeMismatch,
            ErrorCode::ManifestInvalid,
            400,
        ),
        (
            descriptor(DescriptorProblem::DigestInvalid),
            ErrorCode::DigestInvalid,
            400,
        ),
        (
            descriptor(DescriptorProblem::DigestAlgorithmUnsupported),
            ErrorCode::Unsupported,
            400,
        ),
        (
            descriptor(DescriptorProblem::SizeNegative),
            ErrorCode::ManifestInvalid,
            400,
        ),
    ];
    for (error, code, status) in cases {
        assert_eq!(error.error_code(), code, "{error:?}");
        assert_eq!(error.status(), status, "{error:?}");
    }
}

#[test]
fn display_names_the_descriptor_and_the_position() {
    let descriptor = ManifestError::Descriptor {
        location: DescriptorLocation::Layer(3),
        problem: DescriptorProblem::DigestInvalid,
    };
    assert_eq!(
        descriptor.to_string(),
        "layers[3]: descriptor digest is invalid"
    );
    let json = ManifestError::Json {
        line: 3,
        column: 16,
        problem: JsonProblem::Data,
    };
    assert!(json.to_string().ends_with("at line 3 column 16"), "{json}");
    assert_eq!(DescriptorLocation::Manifest(0).to_string(), "manifests[0]");
    assert_eq!(DescriptorLocation::Subject.to_string(), "subject");
    assert_eq!(ManifestError::KindUnknown.descriptor(), None);
    assert_eq!(ManifestError::KindUnknown.json_position(), None);
}

#[test]
fn public_types_serialize_with_spec_names() {
    let parsed = parse_manifest(None, OCI_INDEX_BODY.as_bytes()).unwrap();
    let Document::Index(index) = parsed.document() else {
        panic!("not an index")
    };
    let value = serde_json::to_value(index).unwrap();
    assert_eq!(value["schemaVersion"], json!(2));
    assert_eq!(
        value["manifests"][2]["platform"]["os.version"],
        json!("10.0.17763.5576")
    );
    assert_eq!(
        value["manifests"][2]["platform"]["os.features"],
        json!(["win32k"])
    );
    let first = value["manifests"][0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(keys, ["digest", "mediaType", "platform", "size"]);
    assert!(value.get("subject").is_none());
}

#[test]
fn fixtures_survive_a_serialization_round_trip() {
    for (fixture, kind) in FIXTURES {
        let parsed = parse_manifest(None, fixture.as_bytes()).unwrap();
        assert_eq!(parsed.kind(), kind);
        let reserialized = match parsed.document() {
            Document::Manifest(manifest) => serde_json::to_vec(manifest),
            Document::Index(index) => serde_json::to_vec(index),
        }
        .unwrap();
        let again = parse_manifest(Some(kind.media_type()), &reserialized).unwrap();
        assert_eq!(again, parsed);
        let public: Result<Value, _> = serde_json::from_slice(&reserialized);
        assert!(public.is_ok());
    }
}

fn content_type_choice() -> impl Strategy<Value = Option<&'static str>> {
    proptest::sample::select(vec![
        None,
        Some(OCI_IMAGE_MANIFEST),
        Some(OCI_IMAGE_INDEX),
        Some(DOCKER_MANIFEST),
        Some(DOCKER_MANIFEST_LIST),
        Some("application/json"),
    ])
}

fn descriptor_strategy() -> impl Strategy<Value = Descriptor> {
    let media_types = vec![
        OCI_LAYER_TAR_GZIP,
        OCI_IMAGE_MANIFEST,
        "application/x.a+json",
    ];
    (
        proptest::sample::select(media_types),
        proptest::collection::vec(proptest::sample::select(b"0123456789abcdef".to_vec()), 64),
        0..=i64::MAX as u64,
        proptest::option::of(proptest::collection::btree_map(
            any::<String>(),
            any::<String>(),
            0..3,
        )),
    )
        .prop_map(|(media_type, hex, size, annotations)| Descriptor {
            media_type: media_type.to_string(),
            digest: format!("sha256:{}", String::from_utf8(hex).unwrap()),
            size,
            urls: None,
            annotations,
            data: None,
            platform: None,
            artifact_type: None,
        })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        content_type in content_type_choice(),
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let _ = parse_manifest(content_type, &body);
    }

    #[test]
    fn corrupted_fixtures_never_panic(
        content_type in content_type_choice(),
        fixture in 0usize..FIXTURES.len(),
        position in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut body = FIXTURES[fixture].0.as_bytes().to_vec();
        let at = position.index(body.len());
        body[at] = byte;
        if let Ok(parsed) = parse_manifest(content_type, &body) {
            prop_assert_eq!(parsed.blob_digests().count(),
                parsed.config().into_iter().count() + parsed.layers().len());
        }
    }

    #[test]
    fn generated_manifests_round_trip(
        config in descriptor_strategy(),
        layers in proptest::collection::vec(descriptor_strategy(), 0..4),
        subject in proptest::option::of(descriptor_strategy()),
        annotations in proptest::option::of(
            proptest::collection::btree_map(any::<String>(), any::<String>(), 0..3),
        ),
    ) {
        let manifest = ImageManifest {
            schema_version: SCHEMA_VERSION,
            media_type: None,
            artifact_type: None,
            config,
            layers,
            subject,
            annotations,
        };
        let body = serde_json::to_vec(&manifest).unwrap();
        let parsed = parse_manifest(None, &body).unwrap();
        prop_assert_eq!(parsed.kind(), ManifestKind::OciManifest);
        prop_assert_eq!(parsed.into_document(), Document::Manifest(Box::new(manifest)));
    }

    #[test]
    fn generated_indexes_round_trip(
        manifests in proptest::collection::vec(descriptor_strategy(), 0..4),
        docker in any::<bool>(),
    ) {
        let kind =
            if docker { ManifestKind::DockerManifestList } else { ManifestKind::OciIndex };
        let index = ImageIndex {
            schema_version: SCHEMA_VERSION,
            media_type: Some(kind.media_type().to_string()),
            artifact_type: None,
            manifests,
            subject: None,
            annotations: None,
        };
        let body = serde_json::to_vec(&index).unwrap();
        let parsed = parse_manifest(Some(kind.media_type()), &body).unwrap();
        prop_assert_eq!(parsed.kind(), kind);
        prop_assert_eq!(parsed.manifest_digests().count(), index.manifests.len());
        prop_assert_eq!(parsed.into_document(), Document::Index(Box::new(index)));
    }
}
