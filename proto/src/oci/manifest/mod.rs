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

mod error;
#[cfg(test)]
mod tests;
mod validate;
mod wire;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::oci::digest::{Digest, DigestError};
use crate::oci::media_type::ManifestKind;

pub use error::{DescriptorLocation, DescriptorProblem, JsonProblem, ManifestError};
pub use validate::parse_manifest;

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
    /// [`media_type::is_nondistributable_layer`](crate::oci::media_type::is_nondistributable_layer)). Empty for an index. The subject is not a
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
