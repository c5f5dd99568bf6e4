//! [`parse_manifest`]: the rules every pushed manifest is checked against.

use serde_json::Number;

use super::wire::{DescriptorList, Object, WireDescriptor, WireManifest};
use super::{
    Descriptor, DescriptorLocation, DescriptorProblem, Document, ImageIndex, ImageManifest,
    JsonProblem, ManifestError, ParsedManifest, SCHEMA_VERSION,
};
use crate::limits::MANIFEST_BYTES_MAX;
use crate::oci::digest::{Digest, DigestError};
use crate::oci::media_type::{self, ManifestKind};

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
pub(super) fn base64_decoded_len(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
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
