//! Why a manifest was refused: the error of [`super::parse_manifest`] and where it points.

use core::fmt;

use crate::oci::error_code::ErrorCode;

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
    /// The body is larger than [`MANIFEST_BYTES_MAX`](crate::limits::MANIFEST_BYTES_MAX). Answered with 413.
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
    /// More than [`MANIFEST_DESCRIPTORS_MAX`](crate::limits::MANIFEST_DESCRIPTORS_MAX) entries in `layers` or `manifests`.
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
