//! Manifest documents (OCI image spec v1.1 image manifest and index, and Docker v2 schema 2
//! manifest and manifest list, which share their JSON shape) and [`parse_manifest`], the
//! validator every pushed manifest goes through.
//!
//! Parsing goes through private "wire" types in which every field is optional, so a missing or
//! malformed field is reported precisely (which descriptor, which rule) instead of as a generic
//! JSON error; the validated result is made of the public types below. Derived `Deserialize`
//! rejects duplicate known fields and ignores unknown ones. Derived `Deserialize` would also
//! accept a JSON array in place of an object (fields by position); the wire types refuse that,
//! since two parsers disagreeing about one document is how ambiguous-manifest attacks work.

use core::fmt;
use std::collections::BTreeMap;

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Number;

use crate::limits::{MANIFEST_BYTES_MAX, MANIFEST_DESCRIPTORS_MAX};
use crate::oci::digest::{Digest, DigestError};
use crate::oci::error_code::ErrorCode;
use crate::oci::media_type::{self, ManifestKind};

/// The only `schemaVersion` the image spec and Docker schema 2 define.
pub const SCHEMA_VERSION: u32 = 2;

/// Arbitrary string metadata (`annotations`), sorted by key.
pub type Annotations = BTreeMap<String, String>;

/// A descriptor: a typed, sized, content-addressed reference to a blob or a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The referenced content's media type (a bare RFC 6838 media type).
    pub media_type: String,
    /// The referenced content's digest; [`Descriptor::parsed_digest`] gives it parsed.
    pub digest: String,
    /// The referenced content's length in bytes; at most `i64::MAX` after [`parse_manifest`].
    pub size: u64,
    /// Where else the content may be fetched from (foreign and nondistributable layers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Arbitrary metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
    /// The content itself, base64-encoded (image spec 1.1, for small blobs such as `{}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The platform the referenced manifest runs on (entries of an index).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type of the referenced manifest (entries of a referrers index).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// The digest, parsed. Never an error for a descriptor that came out of [`parse_manifest`].
    pub fn parsed_digest(&self) -> Result<Digest<'_>, DigestError> {
        Digest::parse(&self.digest)
    }
}

/// The platform an index entry is built for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    /// CPU architecture, Go's `GOARCH` values (`amd64`, `arm64`, ...).
    pub architecture: String,
    /// Operating system, Go's `GOOS` values (`linux`, `windows`, ...).
    pub os: String,
    /// Operating system version (Windows builds, e.g. `10.0.17763.1040`).
    #[serde(rename = "os.version", skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// Required operating system features.
    #[serde(rename = "os.features", skip_serializing_if = "Option::is_none")]
    pub os_features: Option<Vec<String>>,
    /// CPU variant (`v7`, `v8`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Reserved by the image spec for future use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
}

/// An image manifest (OCI image manifest or Docker v2 schema 2 manifest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The manifest's own media type; optional for OCI, required for Docker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for manifests that are not container images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The configuration blob (the empty descriptor for artifacts without one).
    pub config: Descriptor,
    /// The layer blobs, in order; may be empty (image spec 1.1 artifacts).
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (signatures, SBOMs...), for the referrers API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Arbitrary metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
}

/// An image index (OCI image index or Docker manifest list).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The index's own media type; optional for OCI, required for Docker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for indexes that are not multi-platform images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The listed manifests; may be empty.
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to, for the referrers API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Arbitrary metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
}

/// A validated manifest document: an image manifest or an index. Boxed because the two differ
/// in size by hundreds of bytes and a `ParsedManifest` is moved around the storage code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Document {
    /// [`ManifestKind::OciManifest`] or [`ManifestKind::DockerManifest`].
    Manifest(Box<ImageManifest>),
    /// [`ManifestKind::OciIndex`] or [`ManifestKind::DockerManifestList`].
    Index(Box<ImageIndex>),
}

/// A manifest that passed [`parse_manifest`], with what the registry needs from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedManifest {
    kind: ManifestKind,
    document: Document,
}

impl ParsedManifest {
    /// The manifest's kind.
    pub fn kind(&self) -> ManifestKind {
        self.kind
    }

    /// The media type of the kind: what the registry answers in `Content-Type`.
    pub fn media_type(&self) -> &'static str {
        self.kind.media_type()
    }

    /// The validated document.
    pub fn document(&self) -> &Document {
        &self.document
    }

    /// The validated document, by value.
    pub fn into_document(self) -> Document {
        self.document
    }

    /// The artifact type as the distribution spec's referrers API reports it: the manifest's
    /// `artifactType`, else for an image manifest its config's `mediaType`; an index without
    /// `artifactType` has none.
    pub fn artifact_type(&self) -> Option<&str> {
        match &self.document {
            Document::Manifest(manifest) => Some(
                manifest
                    .artifact_type
                    .as_deref()
                    .unwrap_or(manifest.config.media_type.as_str()),
            ),
            Document::Index(index) => index.artifact_type.as_deref(),
        }
    }

    /// The config descriptor of an image manifest; `None` for an index.
    pub fn config(&self) -> Option<&Descriptor> {
        match &self.document {
            Document::Manifest(manifest) => Some(&manifest.config),
            Document::Index(_) => None,
        }
    }

    /// The layer descriptors of an image manifest; empty for an index.
    pub fn layers(&self) -> &[Descriptor] {
        match &self.document {
            Document::Manifest(manifest) => &manifest.layers,
            Document::Index(_) => &[],
        }
    }

    /// The child manifest descriptors of an index; empty for an image manifest.
    pub fn manifests(&self) -> &[Descriptor] {
        match &self.document {
            Document::Manifest(_) => &[],
            Document::Index(index) => &index.manifests,
        }
    }

    /// The `subject` descriptor, if any.
    pub fn subject(&self) -> Option<&Descriptor> {
        match &self.document {
            Document::Manifest(manifest) => manifest.subject.as_ref(),
            Document::Index(index) => index.subject.as_ref(),
        }
    }

    /// The manifest's own annotations, if any.
    pub fn annotations(&self) -> Option<&Annotations> {
        match &self.document {
            Document::Manifest(manifest) => manifest.annotations.as_ref(),
            Document::Index(index) => index.annotations.as_ref(),
        }
    }

    /// The digests of the blobs an image manifest references: its config, then its layers in
    /// order (nondistributable layers included: see
    /// [`media_type::is_nondistributable_layer`]). Empty for an index. The subject is not a
    /// blob and is not included.
    pub fn blob_digests(&self) -> impl Iterator<Item = Digest<'_>> {
        // Every digest was validated by parse_manifest, so none is dropped by `ok()`.
        self.config()
            .into_iter()
            .chain(self.layers())
            .filter_map(|descriptor| descriptor.parsed_digest().ok())
    }

    /// The digests of the manifests an index lists, in order. Empty for an image manifest.
    /// The subject is not included: it need not exist when the manifest is pushed.
    pub fn manifest_digests(&self) -> impl Iterator<Item = Digest<'_>> {
        self.manifests()
            .iter()
            .filter_map(|descriptor| descriptor.parsed_digest().ok())
    }
}

/// Which descriptor of a manifest failed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptorLocation {
    /// The `config` descriptor.
    Config,
    /// The entry of `layers` at this position (from 0).
    Layer(usize),
    /// The entry of `manifests` at this position (from 0).
    Manifest(usize),
    /// The `subject` descriptor.
    Subject,
}

impl fmt::Display for DescriptorLocation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DescriptorLocation::Config => formatter.write_str("config"),
            DescriptorLocation::Layer(position) => write!(formatter, "layers[{position}]"),
            DescriptorLocation::Manifest(position) => write!(formatter, "manifests[{position}]"),
            DescriptorLocation::Subject => formatter.write_str("subject"),
        }
    }
}

/// What is wrong with one descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DescriptorProblem {
    /// No `mediaType`.
    MediaTypeMissing,
    /// `mediaType` is not an RFC 6838 media type.
    MediaTypeInvalid,
    /// No `digest`.
    DigestMissing,
    /// `digest` is malformed, or its encoded part does not fit its algorithm.
    DigestInvalid,
    /// `digest` is well-formed but names an algorithm this registry does not implement.
    DigestAlgorithmUnsupported,
    /// No `size`.
    SizeMissing,
    /// `size` is negative.
    SizeNegative,
    /// `size` is written with a fraction or an exponent (or as `-0`) within the int64 range.
    SizeNotInteger,
    /// `size` is larger than `i64::MAX`.
    SizeTooLarge,
    /// `artifactType` is not an RFC 6838 media type.
    ArtifactTypeInvalid,
    /// `data` is not padded base64 (RFC 4648 section 4).
    DataInvalid,
    /// `data` decodes to a length other than `size`.
    DataSizeMismatch,
}

impl DescriptorProblem {
    /// A short description for the error body.
    pub const fn detail(self) -> &'static str {
        match self {
            DescriptorProblem::MediaTypeMissing => "descriptor has no mediaType",
            DescriptorProblem::MediaTypeInvalid => "descriptor mediaType is not a valid media type",
            DescriptorProblem::DigestMissing => "descriptor has no digest",
            DescriptorProblem::DigestInvalid => "descriptor digest is invalid",
            DescriptorProblem::DigestAlgorithmUnsupported => {
                "descriptor digest algorithm is not supported"
            }
            DescriptorProblem::SizeMissing => "descriptor has no size",
            DescriptorProblem::SizeNegative => "descriptor size is negative",
            DescriptorProblem::SizeNotInteger => "descriptor size is not an integer",
            DescriptorProblem::SizeTooLarge => "descriptor size does not fit in int64",
            DescriptorProblem::ArtifactTypeInvalid => {
                "descriptor artifactType is not a valid media type"
            }
            DescriptorProblem::DataInvalid => "descriptor data is not base64",
            DescriptorProblem::DataSizeMismatch => "descriptor data does not match its size",
        }
    }
}

/// Which kind of JSON failure serde_json reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonProblem {
    /// Not JSON at all, or trailing characters after the document.
    Syntax,
    /// Valid JSON of the wrong shape: a field of the wrong type, a duplicate field, an array
    /// where an object belongs.
    Data,
    /// The document ends early.
    Eof,
}

/// Why a manifest body was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManifestError {
    /// The body is larger than [`MANIFEST_BYTES_MAX`]. Answered with 413.
    TooLarge,
    /// The `Content-Type` (or, without one, the body's `mediaType`) is not a manifest kind this
    /// registry stores: Docker schema 1, a blob type, or anything else. Answered with 415.
    UnsupportedMediaType,
    /// The body is not UTF-8; the first `valid_up_to` bytes are.
    NotUtf8 {
        /// Length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// The body is not a JSON object (an empty body included).
    NotAnObject,
    /// serde_json refused the body, at this line and column (both from 1).
    Json {
        /// Line of the failure, from 1.
        line: usize,
        /// Column of the failure, from 1 (0 when serde_json could not tell).
        column: usize,
        /// What kind of failure.
        problem: JsonProblem,
    },
    /// No `schemaVersion`.
    SchemaVersionMissing,
    /// `schemaVersion` is not the integer 2.
    SchemaVersionUnsupported,
    /// The body's `mediaType` is not an RFC 6838 media type.
    MediaTypeInvalid,
    /// The body's `mediaType` differs from the `Content-Type`.
    MediaTypeMismatch,
    /// A Docker manifest or manifest list without `mediaType` in its body.
    MediaTypeMissing,
    /// Neither `Content-Type`, `mediaType`, `manifests` nor `config` tells the kind.
    KindUnknown,
    /// The body holds a field of the other kind (`manifests` in an image manifest, `config` or
    /// `layers` in an index). The image spec requires refusing such documents: a document two
    /// readers take for different kinds is an attack (CVE-2021-41190).
    ContentAmbiguous {
        /// The field that does not belong.
        field: &'static str,
    },
    /// The manifest's `artifactType` is not an RFC 6838 media type.
    ArtifactTypeInvalid,
    /// An image manifest without `config`.
    ConfigMissing,
    /// An image manifest without `layers` (an empty list is fine).
    LayersMissing,
    /// An index without `manifests` (an empty list is fine).
    ManifestsMissing,
    /// More than [`MANIFEST_DESCRIPTORS_MAX`] entries in `layers` or `manifests`.
    TooManyDescriptors,
    /// One descriptor is invalid.
    Descriptor {
        /// Which descriptor.
        location: DescriptorLocation,
        /// What is wrong with it.
        problem: DescriptorProblem,
    },
}

impl ManifestError {
    /// A short description for the `detail` of the error body.
    pub fn detail(&self) -> &'static str {
        match self {
            ManifestError::TooLarge => "manifest is too large",
            ManifestError::UnsupportedMediaType => "manifest media type is not supported",
            ManifestError::NotUtf8 { .. } => "manifest is not UTF-8",
            ManifestError::NotAnObject => "manifest is not a JSON object",
            ManifestError::Json {
                problem: JsonProblem::Syntax,
                ..
            } => "manifest is not valid JSON",
            ManifestError::Json {
                problem: JsonProblem::Data,
                ..
            } => "manifest field has the wrong type or is repeated",
            ManifestError::Json {
                problem: JsonProblem::Eof,
                ..
            } => "manifest JSON ends early",
            ManifestError::SchemaVersionMissing => "manifest has no schemaVersion",
            ManifestError::SchemaVersionUnsupported => "manifest schemaVersion is not 2",
            ManifestError::MediaTypeInvalid => "manifest mediaType is not a valid media type",
            ManifestError::MediaTypeMismatch => "manifest mediaType does not match Content-Type",
            ManifestError::MediaTypeMissing => "docker manifest has no mediaType",
            ManifestError::KindUnknown => "manifest kind cannot be determined",
            ManifestError::ContentAmbiguous { field: "manifests" } => {
                "image manifest must not have manifests"
            }
            ManifestError::ContentAmbiguous { .. } => "index must not have config or layers",
            ManifestError::ArtifactTypeInvalid => "manifest artifactType is not a valid media type",
            ManifestError::ConfigMissing => "image manifest has no config",
            ManifestError::LayersMissing => "image manifest has no layers",
            ManifestError::ManifestsMissing => "index has no manifests",
            ManifestError::TooManyDescriptors => "manifest lists too many descriptors",
            ManifestError::Descriptor { problem, .. } => problem.detail(),
        }
    }

    /// The descriptor that failed, for the errors about one descriptor.
    pub const fn descriptor(&self) -> Option<DescriptorLocation> {
        match self {
            ManifestError::Descriptor { location, .. } => Some(*location),
            _ => None,
        }
    }

    /// Where serde_json stopped, as (line, column), for JSON errors.
    pub const fn json_position(&self) -> Option<(usize, usize)> {
        match self {
            ManifestError::Json { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }

    /// The distribution error code to answer with.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            ManifestError::Descriptor {
                problem: DescriptorProblem::DigestInvalid,
                ..
            } => ErrorCode::DigestInvalid,
            ManifestError::Descriptor {
                problem: DescriptorProblem::DigestAlgorithmUnsupported,
                ..
            } => ErrorCode::Unsupported,
            _ => ErrorCode::ManifestInvalid,
        }
    }

    /// The HTTP status to answer with (413 and 415 where the spec and zot use them, else 400).
    pub const fn status(&self) -> u16 {
        match self {
            ManifestError::TooLarge => 413,
            ManifestError::UnsupportedMediaType => 415,
            _ => 400,
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::Descriptor { location, problem } => {
                write!(formatter, "{location}: {}", problem.detail())
            }
            ManifestError::Json { line, column, .. } => {
                write!(
                    formatter,
                    "{} at line {line} column {column}",
                    self.detail()
                )
            }
            ManifestError::NotUtf8 { valid_up_to } => {
                write!(formatter, "{} after byte {valid_up_to}", self.detail())
            }
            _ => formatter.write_str(self.detail()),
        }
    }
}

impl std::error::Error for ManifestError {}

/// Validates a pushed manifest body against the distribution spec v1.1 and the image spec v1.1
/// and returns what the registry needs from it. `content_type` is the request's `Content-Type`
/// value, parameters and all (they are ignored, as the spec says).
///
/// The kind comes from `Content-Type` when given, else from the body's `mediaType`, else from
/// the body's shape (`manifests` makes an OCI index, `config` an OCI image manifest). The body
/// is never rewritten: the registry stores the bytes it was given.
pub fn parse_manifest(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<ParsedManifest, ManifestError> {
    if body.len() > MANIFEST_BYTES_MAX {
        return Err(ManifestError::TooLarge);
    }
    let declared = content_type.map(kind_from_content_type).transpose()?;
    let text = core::str::from_utf8(body).map_err(|error| ManifestError::NotUtf8 {
        valid_up_to: error.valid_up_to(),
    })?;
    if !starts_with_object(text) {
        return Err(ManifestError::NotAnObject);
    }
    let Object(wire) = serde_json::from_str::<Object<WireManifest>>(text).map_err(json_error)?;
    check_schema_version(wire.schema_version.as_ref())?;
    let kind = decide_kind(declared, &wire)?;
    check_fields_belong_to(kind, &wire)?;
    let document = if kind.is_index() {
        Document::Index(Box::new(build_index(wire)?))
    } else {
        Document::Manifest(Box::new(build_manifest(wire)?))
    };
    Ok(ParsedManifest { kind, document })
}

fn kind_from_content_type(content_type: &str) -> Result<ManifestKind, ManifestError> {
    ManifestKind::from_media_type(media_type::strip_parameters(content_type))
        .ok_or(ManifestError::UnsupportedMediaType)
}

/// True when the first byte after JSON whitespace (RFC 8259 `ws`) opens an object.
fn starts_with_object(text: &str) -> bool {
    let first = text
        .bytes()
        .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
    first == Some(b'{')
}

fn json_error(error: serde_json::Error) -> ManifestError {
    use serde_json::error::Category;
    let problem = match error.classify() {
        Category::Data => JsonProblem::Data,
        Category::Eof => JsonProblem::Eof,
        // Reading from a slice performs no I/O; anything else is a syntax error.
        Category::Syntax | Category::Io => JsonProblem::Syntax,
    };
    ManifestError::Json {
        line: error.line(),
        column: error.column(),
        problem,
    }
}

fn check_schema_version(schema_version: Option<&Number>) -> Result<(), ManifestError> {
    let schema_version = schema_version.ok_or(ManifestError::SchemaVersionMissing)?;
    if schema_version.as_u64() == Some(u64::from(SCHEMA_VERSION)) {
        Ok(())
    } else {
        Err(ManifestError::SchemaVersionUnsupported)
    }
}

fn decide_kind(
    declared: Option<ManifestKind>,
    wire: &WireManifest,
) -> Result<ManifestKind, ManifestError> {
    let body_media_type = wire.media_type.as_deref();
    if let Some(body_media_type) = body_media_type {
        media_type::validate(body_media_type).map_err(|_| ManifestError::MediaTypeInvalid)?;
    }
    let kind = match (declared, body_media_type) {
        (Some(kind), Some(body_media_type)) => {
            if !media_type::media_type_eq(kind.media_type(), body_media_type) {
                return Err(ManifestError::MediaTypeMismatch);
            }
            kind
        }
        (Some(kind), None) => kind,
        (None, Some(body_media_type)) => ManifestKind::from_media_type(body_media_type)
            .ok_or(ManifestError::UnsupportedMediaType)?,
        (None, None) => kind_from_shape(wire)?,
    };
    if kind.is_docker() && body_media_type.is_none() {
        return Err(ManifestError::MediaTypeMissing);
    }
    Ok(kind)
}

fn kind_from_shape(wire: &WireManifest) -> Result<ManifestKind, ManifestError> {
    if wire.manifests.is_some() {
        Ok(ManifestKind::OciIndex)
    } else if wire.config.is_some() {
        Ok(ManifestKind::OciManifest)
    } else {
        Err(ManifestError::KindUnknown)
    }
}

fn check_fields_belong_to(kind: ManifestKind, wire: &WireManifest) -> Result<(), ManifestError> {
    let foreign_field = if kind.is_index() {
        if wire.config.is_some() {
            Some("config")
        } else if wire.layers.is_some() {
            Some("layers")
        } else {
            None
        }
    } else if wire.manifests.is_some() {
        Some("manifests")
    } else {
        None
    };
    if let Some(field) = foreign_field {
        return Err(ManifestError::ContentAmbiguous { field });
    }
    match &wire.artifact_type {
        Some(artifact_type) if !media_type::is_valid(artifact_type) => {
            Err(ManifestError::ArtifactTypeInvalid)
        }
        _ => Ok(()),
    }
}

fn build_manifest(wire: WireManifest) -> Result<ImageManifest, ManifestError> {
    let Object(config) = wire.config.ok_or(ManifestError::ConfigMissing)?;
    let layers = wire.layers.ok_or(ManifestError::LayersMissing)?;
    let layers = validate_list(layers, DescriptorLocation::Layer)?;
    Ok(ImageManifest {
        schema_version: SCHEMA_VERSION,
        media_type: wire.media_type,
        artifact_type: wire.artifact_type,
        config: validate_descriptor(config, DescriptorLocation::Config)?,
        layers,
        subject: validate_subject(wire.subject)?,
        annotations: wire.annotations,
    })
}

fn build_index(wire: WireManifest) -> Result<ImageIndex, ManifestError> {
    let manifests = wire.manifests.ok_or(ManifestError::ManifestsMissing)?;
    Ok(ImageIndex {
        schema_version: SCHEMA_VERSION,
        media_type: wire.media_type,
        artifact_type: wire.artifact_type,
        manifests: validate_list(manifests, DescriptorLocation::Manifest)?,
        subject: validate_subject(wire.subject)?,
        annotations: wire.annotations,
    })
}

fn validate_list(
    list: DescriptorList,
    location: fn(usize) -> DescriptorLocation,
) -> Result<Vec<Descriptor>, ManifestError> {
    if list.overflowed {
        return Err(ManifestError::TooManyDescriptors);
    }
    list.descriptors
        .into_iter()
        .enumerate()
        .map(|(position, descriptor)| validate_descriptor(descriptor, location(position)))
        .collect()
}

fn validate_subject(
    subject: Option<Object<WireDescriptor>>,
) -> Result<Option<Descriptor>, ManifestError> {
    subject
        .map(|Object(subject)| validate_descriptor(subject, DescriptorLocation::Subject))
        .transpose()
}

fn validate_descriptor(
    wire: WireDescriptor,
    location: DescriptorLocation,
) -> Result<Descriptor, ManifestError> {
    check_descriptor(&wire)
        .map(|size| Descriptor {
            // check_descriptor proved both present.
            media_type: wire.media_type.unwrap_or_default(),
            digest: wire.digest.unwrap_or_default(),
            size,
            urls: wire.urls,
            annotations: wire.annotations,
            data: wire.data,
            platform: wire.platform.map(|Object(platform)| platform),
            artifact_type: wire.artifact_type,
        })
        .map_err(|problem| ManifestError::Descriptor { location, problem })
}

/// Checks every rule of one descriptor and returns its size.
fn check_descriptor(wire: &WireDescriptor) -> Result<u64, DescriptorProblem> {
    let media_type = wire
        .media_type
        .as_deref()
        .ok_or(DescriptorProblem::MediaTypeMissing)?;
    if !media_type::is_valid(media_type) {
        return Err(DescriptorProblem::MediaTypeInvalid);
    }
    let digest = wire
        .digest
        .as_deref()
        .ok_or(DescriptorProblem::DigestMissing)?;
    Digest::parse(digest).map_err(|error| match error {
        DigestError::UnsupportedAlgorithm => DescriptorProblem::DigestAlgorithmUnsupported,
        _ => DescriptorProblem::DigestInvalid,
    })?;
    let size = check_size(wire.size.as_ref().ok_or(DescriptorProblem::SizeMissing)?)?;
    match wire.artifact_type.as_deref() {
        Some(artifact_type) if !media_type::is_valid(artifact_type) => {
            return Err(DescriptorProblem::ArtifactTypeInvalid);
        }
        _ => {}
    }
    if let Some(data) = wire.data.as_deref() {
        let decoded_len = base64_decoded_len(data).ok_or(DescriptorProblem::DataInvalid)?;
        if decoded_len != size {
            return Err(DescriptorProblem::DataSizeMismatch);
        }
    }
    Ok(size)
}

/// A size is a JSON integer in `0..=i64::MAX` (the image spec's int64, never negative).
fn check_size(size: &Number) -> Result<u64, DescriptorProblem> {
    if let Some(signed) = size.as_i64() {
        return u64::try_from(signed).map_err(|_| DescriptorProblem::SizeNegative);
    }
    if size.as_u64().is_some() {
        // A non-negative integer that as_i64 refused is above i64::MAX.
        return Err(DescriptorProblem::SizeTooLarge);
    }
    // serde_json keeps integers beyond the 64-bit range, every fraction or exponent, and `-0`
    // as floats. `-0` is thus refused like `0.0`: telling them apart would need the raw text.
    match size.as_f64() {
        Some(float) if float < 0.0 => Err(DescriptorProblem::SizeNegative),
        // `i64::MAX as f64` rounds up to 2^63, the first value past the int64 range.
        Some(float) if float >= i64::MAX as f64 => Err(DescriptorProblem::SizeTooLarge),
        _ => Err(DescriptorProblem::SizeNotInteger),
    }
}

/// The decoded length of padded base64 (RFC 4648 section 4), or `None` if `text` is not that.
fn base64_decoded_len(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let padding = bytes.iter().rev().take_while(|&&byte| byte == b'=').count();
    if padding > 2 {
        return None;
    }
    let alphabet = |byte: &u8| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/');
    if !bytes[..bytes.len() - padding].iter().all(alphabet) {
        return None;
    }
    // With padding, the length is a non-zero multiple of 4, so this never underflows.
    u64::try_from(bytes.len() / 4 * 3 - padding).ok()
}

// ---- Wire types ------------------------------------------------------------------------------

/// A manifest or index as sent, every field optional so each rule is checked by hand.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireManifest {
    schema_version: Option<Number>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Object<WireDescriptor>>,
    layers: Option<DescriptorList>,
    manifests: Option<DescriptorList>,
    subject: Option<Object<WireDescriptor>>,
    annotations: Option<Annotations>,
}

/// A descriptor as sent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDescriptor {
    media_type: Option<String>,
    digest: Option<String>,
    size: Option<Number>,
    urls: Option<Vec<String>>,
    annotations: Option<Annotations>,
    data: Option<String>,
    platform: Option<Object<Platform>>,
    artifact_type: Option<String>,
}

/// A JSON array of descriptors, kept up to [`MANIFEST_DESCRIPTORS_MAX`] entries. Entries past
/// the limit are parsed and dropped without being stored, so a 4 MiB body of `{}`s cannot make
/// the parser allocate hundreds of descriptors per kilobyte.
struct DescriptorList {
    descriptors: Vec<WireDescriptor>,
    overflowed: bool,
}

impl<'de> Deserialize<'de> for DescriptorList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(DescriptorListVisitor)
    }
}

struct DescriptorListVisitor;

impl<'de> Visitor<'de> for DescriptorListVisitor {
    type Value = DescriptorList;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an array of descriptors")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<DescriptorList, A::Error> {
        let mut descriptors = Vec::new();
        while descriptors.len() < MANIFEST_DESCRIPTORS_MAX {
            match sequence.next_element::<Object<WireDescriptor>>()? {
                Some(Object(descriptor)) => descriptors.push(descriptor),
                None => {
                    return Ok(DescriptorList {
                        descriptors,
                        overflowed: false,
                    });
                }
            }
        }
        // Bounded by the body's length, which parse_manifest capped.
        let mut overflowed = false;
        while sequence.next_element::<IgnoredAny>()?.is_some() {
            overflowed = true;
        }
        Ok(DescriptorList {
            descriptors,
            overflowed,
        })
    }
}

/// A struct that must be a JSON object: derived `Deserialize` alone also takes an array.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(MapOnly(deserializer)).map(Object)
    }
}

/// Hands a derived struct visitor to `deserialize_map`, which refuses arrays, instead of
/// `deserialize_struct`, which takes both.
struct MapOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
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

    const DIGEST_A: &str =
        "sha256:b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910";

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
        let parsed =
            parse_manifest(Some(OCI_IMAGE_MANIFEST), OCI_MANIFEST_BODY.as_bytes()).unwrap();
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
        let parsed =
            parse_manifest(Some(DOCKER_MANIFEST), DOCKER_MANIFEST_BODY.as_bytes()).unwrap();
        assert_eq!(parsed.kind(), ManifestKind::DockerManifest);
        assert_eq!(parsed.artifact_type(), Some(DOCKER_CONTAINER_CONFIG));
        let foreign = &parsed.layers()[1];
        assert!(media_type::is_nondistributable_layer(&foreign.media_type));
        assert_eq!(foreign.urls.as_ref().unwrap().len(), 1);
        assert_eq!(parsed.blob_digests().count(), 3);
    }

    #[test]
    fn docker_manifest_list_is_accepted() {
        let parsed =
            parse_manifest(Some(DOCKER_MANIFEST_LIST), DOCKER_LIST_BODY.as_bytes()).unwrap();
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
        let public = format!(
            r#"{{"mediaType":"{OCI_IMAGE_CONFIG}","digest":"{DIGEST_A}","size":1,"size":2}}"#
        );
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
                    value["config"] =
                        json!({"mediaType": OCI_EMPTY, "digest": DIGEST_A, "size": 2});
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
                |value| {
                    value["manifests"][2]["digest"] = json!("md5:d41d8cd98f00b204e9800998ecf8427e")
                },
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
            let body =
                OCI_MANIFEST_BODY.replacen("\"size\": 7023", &format!("\"size\": {size}"), 1);
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
}
