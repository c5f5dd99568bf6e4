//! A repository's `index.json`: the OCI image index listing its manifests, where a tag is the
//! `org.opencontainers.image.ref.name` annotation of a descriptor (docs/design.md, 2.2).
//!
//! Only the owner core changes an index (invariant I8), so this type is plain data. Fields this
//! engine does not know, at the top level and in descriptors, are kept and written back, so
//! rewriting an index zot wrote changes only what the operation changes.

use core::fmt;
use std::collections::HashSet;

use proto::oci::{Digest, Tag};
use serde_json::{Map, Value};

/// The annotation that names a tag.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// The media type an `index.json` declares.
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// Why an `index.json` cannot be used. Each names the rule it breaks; the server reports the
/// repository as damaged and `zot scrub` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexError {
    /// Not JSON, or not a JSON object (I4).
    NotAnObject,
    /// `schemaVersion` missing or not 2.
    SchemaVersion,
    /// `manifests` missing or not an array.
    ManifestsMissing,
    /// The descriptor at this position lacks a valid `mediaType`, `digest` or `size`.
    Descriptor(usize),
    /// The ref-name annotation of the descriptor at this position is not a valid tag.
    Tag(usize),
    /// Two descriptors carry the same tag (I5); the second one's position.
    DuplicateTag(usize),
}

impl fmt::Display for IndexError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexError::NotAnObject => formatter.write_str("index.json is not a JSON object"),
            IndexError::SchemaVersion => formatter.write_str("index.json schemaVersion is not 2"),
            IndexError::ManifestsMissing => {
                formatter.write_str("index.json has no manifests array")
            }
            IndexError::Descriptor(position) => {
                write!(
                    formatter,
                    "index.json manifests[{position}] is not a valid descriptor"
                )
            }
            IndexError::Tag(position) => {
                write!(
                    formatter,
                    "index.json manifests[{position}] has an invalid tag"
                )
            }
            IndexError::DuplicateTag(position) => {
                write!(
                    formatter,
                    "index.json manifests[{position}] repeats a tag (I5)"
                )
            }
        }
    }
}

impl std::error::Error for IndexError {}

/// One descriptor of the index: what the engine reads from it, and all of it as found.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexEntry {
    digest: String,
    media_type: String,
    size: u64,
    tag: Option<String>,
    /// The whole descriptor object, unknown fields included; written back as it is.
    raw: Map<String, Value>,
}

impl IndexEntry {
    pub fn digest(&self) -> &str {
        &self.digest
    }

    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tag this descriptor carries, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    fn new(digest: Digest<'_>, media_type: &str, size: u64, tag: Option<Tag<'_>>) -> IndexEntry {
        let mut raw = Map::new();
        raw.insert("mediaType".to_owned(), Value::from(media_type));
        raw.insert("digest".to_owned(), Value::from(digest.as_str()));
        raw.insert("size".to_owned(), Value::from(size));
        if let Some(tag) = tag {
            let mut annotations = Map::new();
            annotations.insert(REF_NAME_ANNOTATION.to_owned(), Value::from(tag.as_str()));
            raw.insert("annotations".to_owned(), Value::Object(annotations));
        }
        IndexEntry {
            digest: digest.as_str().to_owned(),
            media_type: media_type.to_owned(),
            size,
            tag: tag.map(|tag| tag.as_str().to_owned()),
            raw,
        }
    }

    /// Reads a descriptor found at `position` of `manifests`.
    fn from_value(position: usize, value: Value) -> Result<IndexEntry, IndexError> {
        let Value::Object(raw) = value else {
            return Err(IndexError::Descriptor(position));
        };
        let text = |key: &str| raw.get(key).and_then(Value::as_str);
        let digest = text("digest")
            .filter(|digest| Digest::parse(digest).is_ok())
            .ok_or(IndexError::Descriptor(position))?
            .to_owned();
        let media_type = text("mediaType")
            .filter(|media_type| proto::oci::media_type::is_valid(media_type))
            .ok_or(IndexError::Descriptor(position))?
            .to_owned();
        let size = raw
            .get("size")
            .and_then(Value::as_u64)
            .filter(|&size| i64::try_from(size).is_ok())
            .ok_or(IndexError::Descriptor(position))?;
        let tag = match raw
            .get("annotations")
            .and_then(|a| a.get(REF_NAME_ANNOTATION))
        {
            None => None,
            Some(Value::String(tag)) if Tag::parse(tag).is_ok() => Some(tag.clone()),
            Some(_) => return Err(IndexError::Tag(position)),
        };
        Ok(IndexEntry {
            digest,
            media_type,
            size,
            tag,
            raw,
        })
    }
}

/// A repository's `index.json`, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct RepositoryIndex {
    /// Top-level fields other than `manifests`, kept as found.
    other_fields: Map<String, Value>,
    /// The descriptors, in file order; new ones are appended (docs/design.md, 2.2).
    entries: Vec<IndexEntry>,
}

impl Default for RepositoryIndex {
    fn default() -> Self {
        RepositoryIndex::empty()
    }
}

impl RepositoryIndex {
    /// The index of a new repository: no manifests.
    pub fn empty() -> RepositoryIndex {
        let mut other_fields = Map::new();
        other_fields.insert("schemaVersion".to_owned(), Value::from(2));
        other_fields.insert("mediaType".to_owned(), Value::from(INDEX_MEDIA_TYPE));
        RepositoryIndex {
            other_fields,
            entries: Vec::new(),
        }
    }

    /// Parses and checks an `index.json` (invariants I4 and I5, and descriptor validity).
    pub fn parse(bytes: &[u8]) -> Result<RepositoryIndex, IndexError> {
        let Ok(Value::Object(mut other_fields)) = serde_json::from_slice::<Value>(bytes) else {
            return Err(IndexError::NotAnObject);
        };
        if other_fields.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
            return Err(IndexError::SchemaVersion);
        }
        let Some(Value::Array(manifests)) = other_fields.remove("manifests") else {
            return Err(IndexError::ManifestsMissing);
        };
        let mut entries = Vec::with_capacity(manifests.len());
        // A set, not a scan of the entries so far: the scan is quadratic, and made opening a
        // repository with 100k tags take 25 s (storage-engine/benches/listing.rs).
        let mut tags_seen = HashSet::with_capacity(manifests.len());
        for (position, value) in manifests.into_iter().enumerate() {
            let entry = IndexEntry::from_value(position, value)?;
            if let Some(tag) = entry.tag()
                && !tags_seen.insert(tag.to_owned())
            {
                return Err(IndexError::DuplicateTag(position));
            }
            entries.push(entry);
        }
        Ok(RepositoryIndex {
            other_fields,
            entries,
        })
    }

    /// The document to write, `manifests` last.
    pub fn to_json(&self) -> Vec<u8> {
        let mut document = self.other_fields.clone();
        let manifests = self
            .entries
            .iter()
            .map(|entry| Value::Object(entry.raw.clone()));
        document.insert("manifests".to_owned(), Value::Array(manifests.collect()));
        serde_json::to_vec(&Value::Object(document)).expect("a JSON value always serializes")
    }

    /// Every descriptor, in file order.
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// The descriptor carrying `tag`.
    pub fn find_tag(&self, tag: &str) -> Option<&IndexEntry> {
        self.entries.iter().find(|entry| entry.tag() == Some(tag))
    }

    /// True when a descriptor names `digest`.
    pub fn contains_digest(&self, digest: &str) -> bool {
        self.entries.iter().any(|entry| entry.digest == digest)
    }

    /// Records a manifest put: `tags` move to `digest` (leaving whatever they named before),
    /// and with no tags the digest is listed untagged if it is not listed at all. Returns true
    /// when the index changed, so an unchanged index is not rewritten.
    pub fn put_manifest(
        &mut self,
        digest: Digest<'_>,
        media_type: &str,
        size: u64,
        tags: &[Tag<'_>],
    ) -> bool {
        let mut changed = false;
        for tag in tags {
            if let Some(entry) = self.find_tag(tag.as_str())
                && entry.digest == digest.as_str()
            {
                continue;
            }
            self.remove_tag(tag.as_str());
            // A manifest pushed by digest first and tagged later: its untagged entry becomes
            // redundant once a tagged one exists.
            self.entries
                .retain(|entry| entry.digest != digest.as_str() || entry.tag.is_some());
            self.entries
                .push(IndexEntry::new(digest, media_type, size, Some(*tag)));
            changed = true;
        }
        if tags.is_empty() && !self.contains_digest(digest.as_str()) {
            self.entries
                .push(IndexEntry::new(digest, media_type, size, None));
            changed = true;
        }
        // A full check costs a sort of every tag, too much per put on a repository with a
        // hundred thousand tags; tests and fuzzing run with debug assertions.
        debug_assert!(self.tags_are_unique());
        changed
    }

    /// Removes a tag. The manifest it named stays listed (untagged) when no other descriptor
    /// lists it, as deleting a tag must not delete the manifest. Returns true when it existed.
    pub fn remove_tag(&mut self, tag: &str) -> bool {
        let Some(position) = self
            .entries
            .iter()
            .position(|entry| entry.tag() == Some(tag))
        else {
            return false;
        };
        let removed = self.entries.remove(position);
        if !self.contains_digest(&removed.digest) {
            let mut untagged = removed;
            untagged.tag = None;
            if let Some(Value::Object(annotations)) = untagged.raw.get_mut("annotations") {
                annotations.remove(REF_NAME_ANNOTATION);
                if annotations.is_empty() {
                    untagged.raw.remove("annotations");
                }
            }
            self.entries.insert(position, untagged);
        }
        true
    }

    /// Removes every descriptor of `digest` (a manifest delete). Returns how many there were.
    pub fn remove_digest(&mut self, digest: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|entry| entry.digest != digest);
        before - self.entries.len()
    }

    fn tags_are_unique(&self) -> bool {
        let mut tags: Vec<&str> = self.entries.iter().filter_map(IndexEntry::tag).collect();
        let count = tags.len();
        tags.sort_unstable();
        tags.dedup();
        tags.len() == count
    }
}

#[cfg(test)]
mod tests;
