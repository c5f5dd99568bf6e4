//! A builder of root directories laid out exactly as project-zot/zot lays them out on local
//! storage with dedupe on (its default), for tests: the engine's integration tests open such a
//! root, and the server tests serve one. It writes files directly, as zot would have left them;
//! it is not the engine.
//!
//! The layout facts it follows, from zot's source (`pkg/storage/imagestore/imagestore.go`,
//! `pkg/storage/constants/constants.go`, `pkg/storage/README.md`, `pkg/storage/common`):
//! - A repository is created with `blobs/`, `.uploads/`, `oci-layout` holding
//!   `{"imageLayoutVersion":"1.0.0"}` and `index.json` holding
//!   `{"schemaVersion":2,"manifests":null}`: Go's `json.Marshal` of an image-spec `Index` whose
//!   `Manifests` slice is nil. No `mediaType`, no indentation.
//! - Every `index.json` write is `json.Marshal` of that struct: compact, keys in struct order
//!   (`schemaVersion`, `manifests`), each descriptor `mediaType`, `digest`, `size`, then
//!   `annotations` only for a tag (`org.opencontainers.image.ref.name`). One descriptor per tag;
//!   a manifest pushed by digest gets one descriptor without annotations, which a later push
//!   of the same digest with a tag replaces. New descriptors are appended. The descriptor's
//!   `mediaType` is the request's `Content-Type`; no `artifactType` is stored.
//! - Manifests are written straight into the repository's `blobs/sha256/`, never deduped.
//! - Uploaded blobs, with dedupe on, have one master copy under
//!   `_blobstore/blobs/<algorithm>/<encoded>` and a hard link in each repository's `blobs/`.
//!   The root holds the BoltDB dedupe cache `cache.db` and the marker
//!   `_global_blobstore_migrated`; the CVE scanner keeps its database under `_trivy/`.
//! - Upload sessions are `.uploads/<UUID v4>` (with dashes), one file each, no state file.
//! - The children of an image index are pushed first, by digest, so they stay listed untagged.
//!
//! Blob bytes here are small and made up, but every digest and size is real.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use proto::oci::RepositoryName;
use proto::oci::media_type::{
    DOCKER_CONTAINER_CONFIG, DOCKER_LAYER_TAR_GZIP, DOCKER_MANIFEST, OCI_EMPTY, OCI_IMAGE_CONFIG,
    OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST, OCI_LAYER_TAR,
};
use sha2::Digest as _;

use crate::index::REF_NAME_ANNOTATION;

/// What zot writes into a new repository's `index.json`.
pub const ZOT_EMPTY_INDEX: &str = r#"{"schemaVersion":2,"manifests":null}"#;

/// What zot writes into `oci-layout`.
pub const ZOT_OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// The platforms given to an index's children, in turn.
const PLATFORMS: [(&str, &str); 3] = [("amd64", ""), ("arm64", "v8"), ("arm", "v7")];

/// A manifest the fixture pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedManifest {
    /// `sha256:…` of the manifest bytes.
    pub digest: String,
    pub media_type: &'static str,
    pub size: u64,
    /// The blobs it references: config first, then layers. Empty for an index.
    pub blobs: Vec<String>,
}

/// One `index.json` descriptor, as the fixture tracks it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Listed {
    media_type: &'static str,
    digest: String,
    size: u64,
    tag: Option<String>,
}

/// A zot root under construction. See the module docs for the layout.
#[derive(Debug)]
pub struct ZotFixture {
    root: PathBuf,
    /// Each repository's `index.json` descriptors; `None` until the first manifest (zot's
    /// `"manifests":null`).
    indexes: BTreeMap<String, Option<Vec<Listed>>>,
    /// Uploads made so far, for distinct session identifiers.
    uploads_made: u64,
}

impl ZotFixture {
    /// Creates `root` (and its parents) with zot's root-level files: `cache.db`, the
    /// `_blobstore` migration marker, `_blobstore/blobs/sha256/` and `_trivy/db/`.
    pub fn new(root: &Path) -> io::Result<ZotFixture> {
        fs::create_dir_all(root)?;
        // Not a real BoltDB file: the engine must never read or write it.
        let mut cache = b"zot cache.db stand-in: BoltDB pages follow\n".to_vec();
        cache.extend((0u32..4096).map(|index| (index.wrapping_mul(2_654_435_761) >> 24) as u8));
        fs::write(root.join("cache.db"), cache)?;
        fs::write(root.join("_global_blobstore_migrated"), b"")?;
        fs::create_dir_all(root.join("_blobstore").join("blobs").join("sha256"))?;
        let trivy = root.join("_trivy").join("db");
        fs::create_dir_all(&trivy)?;
        fs::write(trivy.join("trivy.db"), b"trivy database stand-in")?;
        fs::write(trivy.join("metadata.json"), br#"{"Version":2}"#)?;
        Ok(ZotFixture {
            root: root.to_path_buf(),
            indexes: BTreeMap::new(),
            uploads_made: 0,
        })
    }

    /// Builds a root with what a zot root in use typically holds: nested names, `a` beside
    /// `a/b` and `a/b/c`, several tags on one manifest, a multi-platform index, a referrer,
    /// a Docker image, a layer shared by two repositories, and a stale upload.
    pub fn typical(root: &Path) -> io::Result<ZotFixture> {
        let mut fixture = ZotFixture::new(root)?;
        let shared_layer: &[u8] = b"a layer both library/alpine and a/b push";
        let alpine = fixture.push_image(
            "library/alpine",
            &["3.20", "latest"],
            &[shared_layer, b"alpine rootfs"],
        )?;
        fixture.push_referrer(
            "library/alpine",
            &alpine,
            "application/vnd.dev.cosign.artifact.sig.v1+json",
        )?;
        fixture.push_image("a", &["v1"], &[b"repository a"])?;
        fixture.push_image("a/b", &["v1"], &[shared_layer])?;
        let amd64 = fixture.push_image("a/b/c", &[], &[b"c for amd64"])?;
        let arm64 = fixture.push_image("a/b/c", &[], &[b"c for arm64"])?;
        fixture.push_index("a/b/c", &["multi"], &[&amd64, &arm64])?;
        fixture.push_docker_image("docker/hello", &["latest"], &[b"docker layer"])?;
        fixture.add_stale_upload("library/alpine", b"half an upload")?;
        Ok(fixture)
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The repositories created, sorted.
    pub fn repositories(&self) -> Vec<String> {
        self.indexes.keys().cloned().collect()
    }

    /// The tags of `repository` with the digest each names, sorted by tag.
    pub fn tags(&self, repository: &str) -> Vec<(String, String)> {
        let mut tags: Vec<(String, String)> = self
            .indexes
            .get(repository)
            .and_then(Option::as_ref)
            .into_iter()
            .flatten()
            .filter_map(|listed| Some((listed.tag.clone()?, listed.digest.clone())))
            .collect();
        tags.sort();
        tags
    }

    /// The folder of `repository`.
    pub fn repository_folder(&self, repository: &str) -> PathBuf {
        self.root.join(repository)
    }

    /// zot's `initRepo`: `blobs/`, `.uploads/`, `oci-layout` and an empty `index.json`, each
    /// only if missing.
    pub fn create_repository(&mut self, repository: &str) -> io::Result<()> {
        assert!(
            RepositoryName::parse(repository).is_ok(),
            "fixture repository names must be valid: {repository:?}"
        );
        let folder = self.repository_folder(repository);
        fs::create_dir_all(folder.join("blobs"))?;
        fs::create_dir_all(folder.join(".uploads"))?;
        if !folder.join("oci-layout").exists() {
            fs::write(folder.join("oci-layout"), ZOT_OCI_LAYOUT)?;
        }
        if !folder.join("index.json").exists() {
            fs::write(folder.join("index.json"), ZOT_EMPTY_INDEX)?;
        }
        self.indexes.entry(repository.to_owned()).or_insert(None);
        Ok(())
    }

    /// Pushes an OCI image: its layers (as uncompressed tar media type), a config whose
    /// `diff_ids` are the layer digests, and the manifest, tagged with `tags` (by digest only
    /// when `tags` is empty).
    pub fn push_image(
        &mut self,
        repository: &str,
        tags: &[&str],
        layers: &[&[u8]],
    ) -> io::Result<PushedManifest> {
        self.push_image_of_kind(repository, tags, layers, ImageKind::Oci)
    }

    /// Pushes a Docker v2 schema 2 image, its manifest indented with three spaces as the Docker
    /// client writes it.
    pub fn push_docker_image(
        &mut self,
        repository: &str,
        tags: &[&str],
        layers: &[&[u8]],
    ) -> io::Result<PushedManifest> {
        self.push_image_of_kind(repository, tags, layers, ImageKind::Docker)
    }

    /// Pushes an OCI image index listing `children` (already pushed to `repository`), each
    /// with a platform.
    pub fn push_index(
        &mut self,
        repository: &str,
        tags: &[&str],
        children: &[&PushedManifest],
    ) -> io::Result<PushedManifest> {
        let entries: Vec<String> = children
            .iter()
            .enumerate()
            .map(|(position, child)| {
                let (architecture, variant) = PLATFORMS[position % PLATFORMS.len()];
                let variant = if variant.is_empty() {
                    String::new()
                } else {
                    format!(r#","variant":"{variant}""#)
                };
                format!(
                    r#"{{"mediaType":"{}","digest":"{}","size":{},"platform":{{"architecture":"{architecture}","os":"linux"{variant}}}}}"#,
                    child.media_type, child.digest, child.size
                )
            })
            .collect();
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_IMAGE_INDEX}","manifests":[{}]}}"#,
            entries.join(",")
        );
        self.put_manifest(
            repository,
            tags,
            OCI_IMAGE_INDEX,
            body.into_bytes(),
            Vec::new(),
        )
    }

    /// Pushes a referrer of `subject`: an artifact manifest with `artifactType`, the empty
    /// config, one payload layer and a `subject`, pushed by digest only (untagged).
    pub fn push_referrer(
        &mut self,
        repository: &str,
        subject: &PushedManifest,
        artifact_type: &str,
    ) -> io::Result<PushedManifest> {
        let empty = self.upload_blob(repository, b"{}")?;
        let payload = format!("payload of a {artifact_type} for {}", subject.digest);
        let layer = self.upload_blob(repository, payload.as_bytes())?;
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_IMAGE_MANIFEST}","artifactType":"{artifact_type}","config":{},"layers":[{}],"subject":{}}}"#,
            descriptor(OCI_EMPTY, &empty, 2),
            descriptor("application/octet-stream", &layer, payload.len() as u64),
            descriptor(subject.media_type, &subject.digest, subject.size),
        );
        self.put_manifest(
            repository,
            &[],
            OCI_IMAGE_MANIFEST,
            body.into_bytes(),
            vec![empty, layer],
        )
    }

    /// Leaves an upload session zot started and never finished: `.uploads/<UUID>` holding
    /// `bytes`. Returns its path.
    pub fn add_stale_upload(&mut self, repository: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        self.create_repository(repository)?;
        self.uploads_made += 1;
        let seed = format!("{repository} upload {}", self.uploads_made);
        let path = self
            .repository_folder(repository)
            .join(".uploads")
            .join(uuid_v4(&sha256(seed.as_bytes())));
        fs::write(&path, bytes)?;
        Ok(path)
    }

    fn push_image_of_kind(
        &mut self,
        repository: &str,
        tags: &[&str],
        layers: &[&[u8]],
        kind: ImageKind,
    ) -> io::Result<PushedManifest> {
        let (manifest_type, config_type, layer_type) = match kind {
            ImageKind::Oci => (OCI_IMAGE_MANIFEST, OCI_IMAGE_CONFIG, OCI_LAYER_TAR),
            ImageKind::Docker => (
                DOCKER_MANIFEST,
                DOCKER_CONTAINER_CONFIG,
                DOCKER_LAYER_TAR_GZIP,
            ),
        };
        let mut layer_descriptors = Vec::with_capacity(layers.len());
        let mut layer_digests = Vec::with_capacity(layers.len());
        for layer in layers {
            let digest = self.upload_blob(repository, layer)?;
            layer_descriptors.push(descriptor(layer_type, &digest, layer.len() as u64));
            layer_digests.push(digest);
        }
        let diff_ids: Vec<String> = layer_digests
            .iter()
            .map(|digest| format!("\"{digest}\""))
            .collect();
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
            diff_ids.join(",")
        );
        let config_digest = self.upload_blob(repository, config.as_bytes())?;
        let config_descriptor = descriptor(config_type, &config_digest, config.len() as u64);
        let body = match kind {
            ImageKind::Oci => format!(
                r#"{{"schemaVersion":2,"mediaType":"{manifest_type}","config":{config_descriptor},"layers":[{}]}}"#,
                layer_descriptors.join(",")
            ),
            ImageKind::Docker => docker_indented(&config_descriptor, &layer_descriptors),
        };
        let mut blobs = vec![config_digest];
        blobs.extend(layer_digests);
        self.put_manifest(repository, tags, manifest_type, body.into_bytes(), blobs)
    }

    /// zot's blob upload with dedupe: the master copy in `_blobstore`, hard-linked into the
    /// repository. Returns the digest.
    fn upload_blob(&mut self, repository: &str, bytes: &[u8]) -> io::Result<String> {
        self.create_repository(repository)?;
        let encoded = sha256(bytes);
        let master = self
            .root
            .join("_blobstore")
            .join("blobs")
            .join("sha256")
            .join(&encoded);
        if !master.exists() {
            fs::write(&master, bytes)?;
        }
        let algorithm_folder = self
            .repository_folder(repository)
            .join("blobs")
            .join("sha256");
        fs::create_dir_all(&algorithm_folder)?;
        let link = algorithm_folder.join(&encoded);
        if !link.exists() {
            fs::hard_link(&master, &link)?;
        }
        Ok(format!("sha256:{encoded}"))
    }

    /// zot's manifest put: the bytes into `blobs/sha256/`, then `index.json` rewritten.
    fn put_manifest(
        &mut self,
        repository: &str,
        tags: &[&str],
        media_type: &'static str,
        body: Vec<u8>,
        blobs: Vec<String>,
    ) -> io::Result<PushedManifest> {
        self.create_repository(repository)?;
        let encoded = sha256(&body);
        let digest = format!("sha256:{encoded}");
        let algorithm_folder = self
            .repository_folder(repository)
            .join("blobs")
            .join("sha256");
        fs::create_dir_all(&algorithm_folder)?;
        fs::write(algorithm_folder.join(&encoded), &body)?;
        let size = body.len() as u64;
        let listed = self
            .indexes
            .get_mut(repository)
            .expect("create_repository recorded it")
            .get_or_insert_with(Vec::new);
        if tags.is_empty() && !listed.iter().any(|entry| entry.digest == digest) {
            listed.push(Listed {
                media_type,
                digest: digest.clone(),
                size,
                tag: None,
            });
        }
        for tag in tags {
            if listed
                .iter()
                .any(|entry| entry.tag.as_deref() == Some(tag) && entry.digest == digest)
            {
                continue;
            }
            // A tag names one manifest, and a tagged descriptor replaces an untagged one.
            listed.retain(|entry| {
                entry.tag.as_deref() != Some(tag) && (entry.tag.is_some() || entry.digest != digest)
            });
            listed.push(Listed {
                media_type,
                digest: digest.clone(),
                size,
                tag: Some((*tag).to_owned()),
            });
        }
        let document = index_json(listed);
        fs::write(
            self.repository_folder(repository).join("index.json"),
            document,
        )?;
        Ok(PushedManifest {
            digest,
            media_type,
            size,
            blobs,
        })
    }
}

#[derive(Clone, Copy, Debug)]
enum ImageKind {
    Oci,
    Docker,
}

/// `index.json` as Go's `json.Marshal` writes an image-spec `Index`.
fn index_json(listed: &[Listed]) -> String {
    let descriptors: Vec<String> = listed
        .iter()
        .map(|entry| {
            let mut text = format!(
                r#"{{"mediaType":"{}","digest":"{}","size":{}"#,
                entry.media_type, entry.digest, entry.size
            );
            if let Some(tag) = &entry.tag {
                let tag = serde_json::to_string(tag).expect("a string serializes");
                text.push_str(&format!(
                    r#","annotations":{{"{REF_NAME_ANNOTATION}":{tag}}}"#
                ));
            }
            text.push('}');
            text
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
        descriptors.join(",")
    )
}

fn descriptor(media_type: &str, digest: &str, size: u64) -> String {
    format!(r#"{{"mediaType":"{media_type}","size":{size},"digest":"{digest}"}}"#)
}

/// A Docker schema 2 manifest laid out as the Docker client writes it (three-space indent).
fn docker_indented(config: &str, layers: &[String]) -> String {
    let indent = |compact: &str, depth: usize| -> String {
        let value: serde_json::Value = serde_json::from_str(compact).expect("built above");
        let pad = "   ".repeat(depth);
        let fields = ["mediaType", "size", "digest"]
            .iter()
            .map(|key| format!("{pad}   \"{key}\": {}", value[key]))
            .collect::<Vec<_>>()
            .join(",\n");
        format!("{{\n{fields}\n{pad}}}")
    };
    let layers: Vec<String> = layers
        .iter()
        .map(|layer| format!("      {}", indent(layer, 2)))
        .collect();
    format!(
        "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"{DOCKER_MANIFEST}\",\n   \"config\": {},\n   \"layers\": [\n{}\n   ]\n}}",
        indent(config, 1),
        layers.join(",\n")
    )
}

fn sha256(bytes: &[u8]) -> String {
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A UUID version 4 string (8-4-4-4-12 lowercase hexadecimal digits) made from `hex`, which
/// has at least 32 hexadecimal digits.
fn uuid_v4(hex: &str) -> String {
    assert!(hex.len() >= 32 && hex.bytes().all(|byte| byte.is_ascii_hexdigit()));
    let variant = match &hex[16..17] {
        "0" | "4" | "8" | "c" => "8",
        "1" | "5" | "9" | "d" => "9",
        "2" | "6" | "a" | "e" => "a",
        _ => "b",
    };
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests;

// ---- Real layer content, for clients that look inside layers (skopeo, podman) ----

/// A POSIX ustar archive of regular files, each `(path, content)`, ended by two zero blocks.
pub fn tar_archive(files: &[(&str, &[u8])]) -> Vec<u8> {
    const BLOCK: usize = 512;
    let mut archive = Vec::new();
    for (path, content) in files {
        assert!(path.len() < 100, "ustar names hold 99 bytes: {path}");
        let mut header = [0u8; BLOCK];
        let mut field = |offset: usize, value: &[u8]| {
            header[offset..offset + value.len()].copy_from_slice(value);
        };
        field(0, path.as_bytes());
        field(100, b"0000644\0");
        field(108, b"0000000\0");
        field(116, b"0000000\0");
        field(124, format!("{:011o}\0", content.len()).as_bytes());
        field(136, format!("{:011o}\0", 1_700_000_000u64).as_bytes());
        field(156, b"0");
        field(257, b"ustar\0");
        field(263, b"00");
        // The checksum is the byte sum of the header with its own field read as spaces.
        field(148, b"        ");
        let checksum: u32 = header.iter().map(|byte| u32::from(*byte)).sum();
        header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());
        archive.extend_from_slice(&header);
        archive.extend_from_slice(content);
        archive.resize(archive.len().next_multiple_of(BLOCK), 0);
    }
    archive.resize(archive.len() + 2 * BLOCK, 0);
    archive
}

/// The CRC-32 (IEEE) gzip's trailer carries, computed bit by bit.
fn crc32_ieee(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A gzip member holding `data` in stored (uncompressed) deflate blocks: a valid gzip stream
/// that any reader inflates, without a compressor among the dependencies.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    const STORED_BLOCK_BYTES_MAX: usize = 65_535;
    let mut stream = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[][..]]
    } else {
        data.chunks(STORED_BLOCK_BYTES_MAX).collect()
    };
    let block_count = blocks.len();
    for (position, block) in blocks.into_iter().enumerate() {
        let last = u8::from(position + 1 == block_count);
        let length = u16::try_from(block.len()).expect("chunked to fit");
        stream.push(last);
        stream.extend_from_slice(&length.to_le_bytes());
        stream.extend_from_slice(&(!length).to_le_bytes());
        stream.extend_from_slice(block);
    }
    stream.extend_from_slice(&crc32_ieee(data).to_le_bytes());
    stream.extend_from_slice(&(data.len() as u32).to_le_bytes());
    stream
}
