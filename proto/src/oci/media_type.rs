//! Media types the registry knows (OCI image spec and Docker image manifest v2), the manifest
//! kinds it stores, the RFC 6838 media type grammar and the `Content-Type` parameter stripper.
//!
//! How media types are compared: RFC 9110 section 8.3.1 says the type and subtype tokens are
//! case-insensitive, and RFC 6838 section 4.2 says the same of registered names. Every comparison
//! in this module (and in the manifest validator that uses it) is therefore an ASCII
//! case-insensitive comparison of the bare `type/subtype`, after parameters and surrounding
//! whitespace are stripped. Nothing is lowercased in place: the registry stores and echoes the
//! bytes the client sent.

use core::fmt;

use crate::limits::MEDIA_TYPE_BYTES_MAX;

// ---- OCI image spec v1.1 ---------------------------------------------------------------------

/// An OCI image manifest.
pub const OCI_IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index (a list of manifests, e.g. one per platform).
pub const OCI_IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The OCI image configuration blob.
pub const OCI_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The empty descriptor's content (`{}`): the config of artifacts that need none.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// An uncompressed layer tar archive.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// A gzip-compressed layer tar archive.
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// A zstd-compressed layer tar archive.
pub const OCI_LAYER_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// An uncompressed layer whose distribution is restricted (deprecated by image spec 1.1, still
/// seen in Windows images): its bytes may live outside the registry, at the descriptor's `urls`.
pub const OCI_LAYER_NONDISTRIBUTABLE_TAR: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// A gzip-compressed nondistributable layer.
pub const OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/// A zstd-compressed nondistributable layer.
pub const OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

// ---- Docker image manifest v2 ----------------------------------------------------------------

/// A Docker image manifest, version 2 schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A Docker manifest list (the Docker counterpart of the OCI image index).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The Docker container configuration blob.
pub const DOCKER_CONTAINER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// A gzip-compressed Docker layer.
pub const DOCKER_LAYER_TAR_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// A Docker foreign layer: like the OCI nondistributable layers, fetched from its `urls`.
pub const DOCKER_FOREIGN_LAYER_TAR_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// Docker schema 1 manifest. Known only so it is refused as unsupported, never stored.
pub const DOCKER_SCHEMA1_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker schema 1 signed manifest. Known only so it is refused as unsupported, never stored.
pub const DOCKER_SCHEMA1_SIGNED_MANIFEST: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// RFC 6838 section 4.2: `restricted-name = restricted-name-first *126restricted-name-chars`,
/// so a type or a subtype is at most 127 bytes. A grammar bound, not a policy choice.
const RESTRICTED_NAME_BYTES_MAX: usize = 127;

/// The kinds of manifest the registry stores. Everything else is refused as unsupported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ManifestKind {
    /// [`OCI_IMAGE_MANIFEST`].
    OciManifest,
    /// [`OCI_IMAGE_INDEX`].
    OciIndex,
    /// [`DOCKER_MANIFEST`].
    DockerManifest,
    /// [`DOCKER_MANIFEST_LIST`].
    DockerManifestList,
}

impl ManifestKind {
    /// Every kind, in declaration order.
    pub const ALL: [ManifestKind; 4] = [
        ManifestKind::OciManifest,
        ManifestKind::OciIndex,
        ManifestKind::DockerManifest,
        ManifestKind::DockerManifestList,
    ];

    /// The kind's media type, as the registry sends it in `Content-Type`.
    pub const fn media_type(self) -> &'static str {
        match self {
            ManifestKind::OciManifest => OCI_IMAGE_MANIFEST,
            ManifestKind::OciIndex => OCI_IMAGE_INDEX,
            ManifestKind::DockerManifest => DOCKER_MANIFEST,
            ManifestKind::DockerManifestList => DOCKER_MANIFEST_LIST,
        }
    }

    /// The kind a bare media type names, compared case-insensitively (see the module docs).
    /// Parameters are not stripped here: pass `Content-Type` values through [`strip_parameters`].
    pub fn from_media_type(media_type: &str) -> Option<ManifestKind> {
        ManifestKind::ALL
            .into_iter()
            .find(|kind| media_type_eq(kind.media_type(), media_type))
    }

    /// True for the kinds that list other manifests (OCI index, Docker manifest list).
    pub const fn is_index(self) -> bool {
        matches!(
            self,
            ManifestKind::OciIndex | ManifestKind::DockerManifestList
        )
    }

    /// True for the Docker kinds, which must carry `mediaType` in their body.
    pub const fn is_docker(self) -> bool {
        matches!(
            self,
            ManifestKind::DockerManifest | ManifestKind::DockerManifestList
        )
    }
}

impl fmt::Display for ManifestKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.media_type())
    }
}

/// Why a string is not an RFC 6838 media type (`type "/" subtype`, without parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaTypeError {
    /// Longer than [`MEDIA_TYPE_BYTES_MAX`].
    TooLong,
    /// No `/` between type and subtype (an empty string included).
    SlashMissing,
    /// The type is empty, longer than 127 bytes, does not start with a letter or digit, or holds
    /// a byte outside `restricted-name-chars`.
    TypeInvalid,
    /// The subtype breaks the same rules as [`MediaTypeError::TypeInvalid`] (a second `/`
    /// included).
    SubtypeInvalid,
}

impl fmt::Display for MediaTypeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            MediaTypeError::TooLong => "media type is too long",
            MediaTypeError::SlashMissing => "media type is not of the form type/subtype",
            MediaTypeError::TypeInvalid => "media type has an invalid type name",
            MediaTypeError::SubtypeInvalid => "media type has an invalid subtype name",
        })
    }
}

impl std::error::Error for MediaTypeError {}

/// Checks `text` against RFC 6838 section 4.2: `type-name "/" subtype-name`, each a
/// `restricted-name` of 1 to 127 bytes, and the whole at most [`MEDIA_TYPE_BYTES_MAX`].
/// Parameters are not allowed: the image spec's descriptors carry bare media types.
pub fn validate(text: &str) -> Result<(), MediaTypeError> {
    let bytes = text.as_bytes();
    if bytes.len() > MEDIA_TYPE_BYTES_MAX {
        return Err(MediaTypeError::TooLong);
    }
    let slash = bytes
        .iter()
        .position(|&b| b == b'/')
        .ok_or(MediaTypeError::SlashMissing)?;
    if !is_restricted_name(&bytes[..slash]) {
        return Err(MediaTypeError::TypeInvalid);
    }
    if !is_restricted_name(&bytes[slash + 1..]) {
        return Err(MediaTypeError::SubtypeInvalid);
    }
    Ok(())
}

/// True when [`validate`] accepts `text`.
pub fn is_valid(text: &str) -> bool {
    validate(text).is_ok()
}

/// The bare media type of a `Content-Type` value: everything before the first `;`, with
/// optional whitespace trimmed from both ends. `application/vnd.oci.image.manifest.v1+json;
/// charset=utf-8` gives `application/vnd.oci.image.manifest.v1+json`.
///
/// Cutting at the first `;` is exact even with quoted parameter values, since neither a type
/// nor a subtype may contain `;` or `"`. The result is not validated and keeps its case.
pub fn strip_parameters(content_type: &str) -> &str {
    let bare = match content_type.find(';') {
        Some(semicolon) => &content_type[..semicolon],
        None => content_type,
    };
    bare.trim_matches([' ', '\t'])
}

/// True when two bare media types are equal, ignoring ASCII case (RFC 9110 section 8.3.1).
pub fn media_type_eq(left: &str, right: &str) -> bool {
    left.eq_ignore_ascii_case(right)
}

/// True for the Docker schema 1 media types, which the registry refuses as unsupported.
pub fn is_docker_schema1(media_type: &str) -> bool {
    media_type_eq(media_type, DOCKER_SCHEMA1_MANIFEST)
        || media_type_eq(media_type, DOCKER_SCHEMA1_SIGNED_MANIFEST)
}

/// True for layer types whose content may live outside the registry (OCI nondistributable,
/// Docker foreign). A registry may accept a manifest that lists them without holding the blob.
pub fn is_nondistributable_layer(media_type: &str) -> bool {
    [
        OCI_LAYER_NONDISTRIBUTABLE_TAR,
        OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP,
        OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD,
        DOCKER_FOREIGN_LAYER_TAR_GZIP,
    ]
    .into_iter()
    .any(|known| media_type_eq(known, media_type))
}

/// `restricted-name-first *126restricted-name-chars`.
fn is_restricted_name(bytes: &[u8]) -> bool {
    match bytes.split_first() {
        Some((&first, rest)) => {
            bytes.len() <= RESTRICTED_NAME_BYTES_MAX
                && first.is_ascii_alphanumeric()
                && rest.iter().all(|&b| is_restricted_name_char(b))
        }
        None => false,
    }
}

/// `restricted-name-chars`: ALPHA, DIGIT and `! # $ & - ^ _ . +`.
fn is_restricted_name_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'!' | b'#' | b'$' | b'&' | b'-' | b'^' | b'_' | b'.' | b'+'
        )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_media_type() {
        for kind in ManifestKind::ALL {
            assert_eq!(ManifestKind::from_media_type(kind.media_type()), Some(kind));
            assert!(is_valid(kind.media_type()), "{kind}");
        }
    }

    #[test]
    fn kinds_are_classified() {
        let cases = [
            (ManifestKind::OciManifest, false, false),
            (ManifestKind::OciIndex, true, false),
            (ManifestKind::DockerManifest, false, true),
            (ManifestKind::DockerManifestList, true, true),
        ];
        for (kind, index, docker) in cases {
            assert_eq!(kind.is_index(), index, "{kind}");
            assert_eq!(kind.is_docker(), docker, "{kind}");
        }
    }

    #[test]
    fn kind_lookup_ignores_case_but_not_parameters() {
        let upper = OCI_IMAGE_MANIFEST.to_ascii_uppercase();
        assert_eq!(
            ManifestKind::from_media_type(&upper),
            Some(ManifestKind::OciManifest)
        );
        let with_parameter = format!("{OCI_IMAGE_MANIFEST}; charset=utf-8");
        assert_eq!(ManifestKind::from_media_type(&with_parameter), None);
        let cases = [
            "",
            OCI_IMAGE_CONFIG,
            OCI_EMPTY,
            DOCKER_SCHEMA1_MANIFEST,
            DOCKER_SCHEMA1_SIGNED_MANIFEST,
            "application/json",
            "application/vnd.oci.image.manifest.v1+json ",
        ];
        for case in cases {
            assert_eq!(ManifestKind::from_media_type(case), None, "{case:?}");
        }
    }

    #[test]
    fn every_known_constant_is_a_valid_media_type() {
        let constants = [
            OCI_IMAGE_MANIFEST,
            OCI_IMAGE_INDEX,
            OCI_IMAGE_CONFIG,
            OCI_EMPTY,
            OCI_LAYER_TAR,
            OCI_LAYER_TAR_GZIP,
            OCI_LAYER_TAR_ZSTD,
            OCI_LAYER_NONDISTRIBUTABLE_TAR,
            OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP,
            OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD,
            DOCKER_MANIFEST,
            DOCKER_MANIFEST_LIST,
            DOCKER_CONTAINER_CONFIG,
            DOCKER_LAYER_TAR_GZIP,
            DOCKER_FOREIGN_LAYER_TAR_GZIP,
            DOCKER_SCHEMA1_MANIFEST,
            DOCKER_SCHEMA1_SIGNED_MANIFEST,
        ];
        for constant in constants {
            assert_eq!(validate(constant), Ok(()), "{constant}");
        }
    }

    #[test]
    fn valid_media_types_are_accepted() {
        let cases = [
            "a/b",
            "text/plain",
            "application/vnd.cncf.helm.config.v1+json",
            "application/vnd.dev.cosign.simplesigning.v1+json",
            "application/spdx+json",
            "0/9",
            "x!#$&-^_.+/y!#$&-^_.+",
            "Application/JSON",
        ];
        for case in cases {
            assert_eq!(validate(case), Ok(()), "{case:?}");
            assert!(is_valid(case), "{case:?}");
        }
        let longest = format!("{}/{}", "t".repeat(127), "s".repeat(127));
        assert_eq!(longest.len(), MEDIA_TYPE_BYTES_MAX);
        assert_eq!(validate(&longest), Ok(()));
    }

    #[test]
    fn invalid_media_types_are_rejected_with_their_reason() {
        let cases = [
            ("", MediaTypeError::SlashMissing),
            ("application", MediaTypeError::SlashMissing),
            ("/json", MediaTypeError::TypeInvalid),
            ("application/", MediaTypeError::SubtypeInvalid),
            ("-app/json", MediaTypeError::TypeInvalid),
            ("app/.json", MediaTypeError::SubtypeInvalid),
            ("app/+json", MediaTypeError::SubtypeInvalid),
            ("app lication/json", MediaTypeError::TypeInvalid),
            (
                "application/json; charset=utf-8",
                MediaTypeError::SubtypeInvalid,
            ),
            (" application/json", MediaTypeError::TypeInvalid),
            ("application/json ", MediaTypeError::SubtypeInvalid),
            ("application/vnd/json", MediaTypeError::SubtypeInvalid),
            ("application/js*on", MediaTypeError::SubtypeInvalid),
            ("appl\u{e9}cation/json", MediaTypeError::TypeInvalid),
            ("application/json\0", MediaTypeError::SubtypeInvalid),
            ("*/*", MediaTypeError::TypeInvalid),
        ];
        for (case, expected) in cases {
            assert_eq!(validate(case), Err(expected), "{case:?}");
            assert!(!is_valid(case), "{case:?}");
        }
    }

    #[test]
    fn each_part_is_capped_at_127_bytes() {
        let long_type = format!("{}/s", "t".repeat(128));
        assert_eq!(validate(&long_type), Err(MediaTypeError::TypeInvalid));
        let long_subtype = format!("t/{}", "s".repeat(128));
        assert_eq!(validate(&long_subtype), Err(MediaTypeError::SubtypeInvalid));
        let too_long = format!("{}/{}", "t".repeat(127), "s".repeat(128));
        assert_eq!(validate(&too_long), Err(MediaTypeError::TooLong));
    }

    #[test]
    fn parameters_and_whitespace_are_stripped() {
        let cases = [
            (
                "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
                "application/vnd.oci.image.manifest.v1+json",
            ),
            ("application/json", "application/json"),
            (" \tapplication/json\t ", "application/json"),
            ("application/json ;q=1;x=\"a;b\"", "application/json"),
            ("application/json;", "application/json"),
            ("Application/JSON ; a=b", "Application/JSON"),
            (";charset=utf-8", ""),
            ("", ""),
            ("   ", ""),
        ];
        for (value, expected) in cases {
            assert_eq!(strip_parameters(value), expected, "{value:?}");
        }
    }

    #[test]
    fn comparison_ignores_ascii_case_only() {
        assert!(media_type_eq("application/JSON", "APPLICATION/json"));
        assert!(!media_type_eq("application/json", "application/json "));
        assert!(!media_type_eq("application/json", "application/jsonx"));
    }

    #[test]
    fn schema1_and_nondistributable_types_are_recognised() {
        assert!(is_docker_schema1(DOCKER_SCHEMA1_MANIFEST));
        assert!(is_docker_schema1(
            &DOCKER_SCHEMA1_SIGNED_MANIFEST.to_ascii_uppercase()
        ));
        assert!(!is_docker_schema1(DOCKER_MANIFEST));
        for layer in [
            OCI_LAYER_NONDISTRIBUTABLE_TAR,
            OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP,
            OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD,
            DOCKER_FOREIGN_LAYER_TAR_GZIP,
        ] {
            assert!(is_nondistributable_layer(layer), "{layer}");
        }
        for layer in [
            OCI_LAYER_TAR,
            OCI_LAYER_TAR_GZIP,
            OCI_LAYER_TAR_ZSTD,
            DOCKER_LAYER_TAR_GZIP,
        ] {
            assert!(!is_nondistributable_layer(layer), "{layer}");
        }
    }

    /// A second, deliberately naive reading of RFC 6838 section 4.2 written with `char`s and
    /// `split_once`, to cross-check the byte-level validator.
    fn reference_is_valid(text: &str) -> bool {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c);
        let name_ok = |name: &str| {
            let mut chars = name.chars();
            match chars.next() {
                Some(first) => {
                    first.is_ascii_alphanumeric() && chars.all(allowed) && name.len() <= 127
                }
                None => false,
            }
        };
        match text.split_once('/') {
            Some((kind, subtype)) => text.len() <= 255 && name_ok(kind) && name_ok(subtype),
            None => false,
        }
    }

    fn media_type_like() -> impl Strategy<Value = String> {
        let alphabet: Vec<char> = "aZ09!#$&-^_.+/;= \t*\u{e9}\"".chars().collect();
        proptest::collection::vec(proptest::sample::select(alphabet), 0..140)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn validator_agrees_with_reference_model(text in media_type_like()) {
            prop_assert_eq!(is_valid(&text), reference_is_valid(&text));
        }

        #[test]
        fn validator_never_panics_on_arbitrary_strings(text in any::<String>()) {
            let _ = validate(&text);
        }

        #[test]
        fn stripping_ignores_anything_after_the_first_semicolon(
            bare in media_type_like(),
            parameters in any::<String>(),
        ) {
            let bare: String = bare.chars().filter(|&c| c != ';').collect();
            let value = format!("{bare};{parameters}");
            prop_assert_eq!(strip_parameters(&value), strip_parameters(&bare));
            prop_assert_eq!(strip_parameters(&bare), bare.trim_matches([' ', '\t']));
        }
    }
}
