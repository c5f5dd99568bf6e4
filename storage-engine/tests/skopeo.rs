//! skopeo against the engine's layouts, on both drivers: images the engine writes are read by
//! `skopeo inspect` and `skopeo copy oci:` with every byte and digest intact, and a root skopeo
//! writes as an OCI layout opens in the engine and serves its tags, manifests and blobs
//! (docs/design.md: "a root written here must stay a valid layout that zot and `skopeo copy
//! oci:` can read"). A missing skopeo fails these tests: scripts/test installs it.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TempFolder, bytes, on_both_drivers};
use proto::oci::media_type::{
    OCI_IMAGE_CONFIG, OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST, OCI_LAYER_TAR_GZIP,
};
use proto::oci::{Algorithm, Digest, Reference, RepositoryName, Tag};
use serde_json::{Value, json};
use storage_engine::hasher::digest_of;
use storage_engine::invariants::{CheckOptions, check_root};
use storage_engine::zot_fixture::{gzip_stored, tar_archive};
use storage_engine::{BlobFile, Disk, Resumable, Store, StoreConfig};

/// The annotation an OCI layout's `index.json` names tags with.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

// ---- Running skopeo ------------------------------------------------------------------------

/// Runs `skopeo --insecure-policy ARGUMENTS` and returns its standard output. `--insecure-policy`
/// because these copies are between local folders, and the test must not depend on the
/// machine's /etc/containers/policy.json. Panics, naming the command and its stderr, when skopeo
/// is missing or fails: a missing skopeo is a failure, never a skipped test.
fn skopeo(arguments: &[&str]) -> Vec<u8> {
    let output = match Command::new("skopeo")
        .arg("--insecure-policy")
        .args(arguments)
        .output()
    {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "skopeo is not installed, and this test needs it (it never skips): run scripts/test, \
             which installs it, or `apt-get install skopeo`"
        ),
        Err(error) => panic!("could not run skopeo {arguments:?}: {error}"),
    };
    assert!(
        output.status.success(),
        "skopeo {arguments:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// `skopeo inspect` (without `--raw`): its JSON summary of an image.
fn skopeo_inspect(arguments: &[&str]) -> Value {
    let mut all = vec!["inspect"];
    all.extend_from_slice(arguments);
    let output = skopeo(&all);
    serde_json::from_slice(&output).unwrap_or_else(|error| {
        panic!(
            "skopeo inspect {arguments:?} printed no JSON ({error}):\n{}",
            String::from_utf8_lossy(&output)
        )
    })
}

/// An `oci:` transport reference to `tag` in the layout at `folder`.
fn oci(folder: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", folder.display())
}

// ---- Real layer content --------------------------------------------------------------------

fn sha256(content: &[u8]) -> String {
    digest_of(Algorithm::Sha256, content).as_str().to_owned()
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("a sha256 digest")
}

fn descriptor(media_type: &str, content: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": sha256(content), "size": content.len()})
}

/// One single-platform image: config, layers and manifest, as bytes.
struct Image {
    config: Vec<u8>,
    /// Each layer's media type and bytes.
    layers: Vec<(&'static str, Vec<u8>)>,
    manifest: Vec<u8>,
}

impl Image {
    /// A real image for `architecture`: two gzip layers, and a config whose `diff_ids` are the
    /// digests of the uncompressed tars. Both layers are compressed because skopeo compresses a
    /// plain tar layer on its way into an `oci:` layout, which would change the digests this
    /// test compares byte for byte.
    fn new(architecture: &str, seed: u64) -> Image {
        let base = tar_archive(&[
            ("etc/hostname", b"app\n"),
            ("app/data.bin", &bytes(seed, 150_000)),
        ]);
        let top = tar_archive(&[("app/architecture", architecture.as_bytes())]);
        let layers = vec![
            (OCI_LAYER_TAR_GZIP, gzip_stored(&base)),
            (OCI_LAYER_TAR_GZIP, gzip_stored(&top)),
        ];
        let config = serde_json::to_vec(&json!({
            "architecture": architecture,
            "os": "linux",
            "created": "2024-01-02T03:04:05Z",
            "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/app/run"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(&base), sha256(&top)]},
        }))
        .unwrap();
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_IMAGE_MANIFEST,
            "config": descriptor(OCI_IMAGE_CONFIG, &config),
            "layers": layers
                .iter()
                .map(|(media_type, content)| descriptor(media_type, content))
                .collect::<Vec<_>>(),
        }))
        .unwrap();
        Image {
            config,
            layers,
            manifest,
        }
    }

    fn digest(&self) -> String {
        sha256(&self.manifest)
    }

    fn layer_digests(&self) -> Vec<String> {
        self.layers
            .iter()
            .map(|(_, content)| sha256(content))
            .collect()
    }

    /// Config and layers, the blobs the manifest references.
    fn blobs(&self) -> Vec<&[u8]> {
        let mut blobs = vec![self.config.as_slice()];
        blobs.extend(self.layers.iter().map(|(_, content)| content.as_slice()));
        blobs
    }
}

/// An image index listing `images` with their platforms.
fn image_index(images: &[(&Image, &str)]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_INDEX,
        "manifests": images
            .iter()
            .map(|(image, architecture)| {
                let mut entry = descriptor(OCI_IMAGE_MANIFEST, &image.manifest);
                entry["platform"] = json!({"architecture": architecture, "os": "linux"});
                entry
            })
            .collect::<Vec<_>>(),
    }))
    .unwrap()
}

// ---- Driving the engine --------------------------------------------------------------------

fn name(text: &str) -> RepositoryName<'_> {
    RepositoryName::parse(text).unwrap()
}

async fn push_blob(store: &mut Store, repository: &str, content: &[u8]) {
    store.create_repository(name(repository)).await.unwrap();
    let mut upload = store
        .start_upload(name(repository), Algorithm::Sha256, Resumable::No)
        .await
        .unwrap();
    upload.append(content.to_vec()).await.unwrap();
    let digest = digest_of(Algorithm::Sha256, content);
    let committed = upload.commit(digest.as_digest()).await.unwrap();
    assert_eq!(committed.size, content.len() as u64);
}

/// Puts a manifest by `reference` (a tag or its digest) with extra `tags`; returns its digest.
async fn put_manifest(
    store: &mut Store,
    repository: &str,
    reference: &str,
    tags: &[&str],
    media_type: &str,
    body: &[u8],
) -> String {
    let tags: Vec<Tag<'_>> = tags.iter().map(|tag| Tag::parse(tag).unwrap()).collect();
    let (repository, disk) = store.repository_and_disk(repository).unwrap();
    let put = repository
        .put_manifest(
            disk,
            Reference::parse(reference).unwrap(),
            &tags,
            Some(media_type),
            body,
        )
        .await
        .unwrap();
    assert_eq!(put.digest.as_str(), sha256(body));
    put.digest.as_str().to_owned()
}

async fn push_image(store: &mut Store, repository: &str, image: &Image) {
    for blob in image.blobs() {
        push_blob(store, repository, blob).await;
    }
    let digest = image.digest();
    put_manifest(
        store,
        repository,
        &digest,
        &[],
        OCI_IMAGE_MANIFEST,
        &image.manifest,
    )
    .await;
}

/// A blob read through the engine's read path, whole.
async fn read_blob(store: &Store, repository: &str, digest: &str) -> Vec<u8> {
    let paths = store.repository(repository).unwrap().paths().clone();
    let blob = BlobFile::open(&paths, Digest::parse(digest).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{repository} has no blob {digest}"));
    let size = usize::try_from(blob.size()).unwrap();
    let mut content = Vec::with_capacity(size);
    // Bounded: every pass reads at least one byte or ends the loop.
    while content.len() < size {
        let (read, buffer) = blob
            .read_at(
                Vec::with_capacity(size - content.len()),
                content.len() as u64,
            )
            .await;
        let read = read.unwrap();
        assert!(read > 0, "{digest} ended early at {}", content.len());
        content.extend_from_slice(&buffer[..read]);
    }
    blob.close().await;
    content
}

// ---- Checking layouts ----------------------------------------------------------------------

/// Every file under an OCI layout's `blobs/sha256/`, by digest; asserts each hashes to its name.
fn layout_blobs(layout: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut blobs = BTreeMap::new();
    for entry in std::fs::read_dir(layout.join("blobs").join("sha256")).unwrap() {
        let entry = entry.unwrap();
        let digest = format!("sha256:{}", entry.file_name().to_str().unwrap());
        let content = std::fs::read(entry.path()).unwrap();
        assert_eq!(sha256(&content), digest, "a blob does not match its name");
        blobs.insert(digest, content);
    }
    blobs
}

/// Every invariant docs/design.md lists that the bytes at rest can show, blobs hashed.
fn assert_clean(root: &Path) {
    let report = check_root(root, &CheckOptions { hash_blobs: true });
    assert!(report.is_clean(), "{}: {report}", root.display());
}

/// A layout's `oci-layout` file, parsed.
fn layout_marker(layout: &Path) -> Value {
    let marker: Value =
        serde_json::from_slice(&std::fs::read(layout.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(
        marker["imageLayoutVersion"],
        "1.0.0",
        "{}",
        layout.display()
    );
    marker
}

/// Every descriptor of a layout's `index.json`, in order.
fn layout_descriptors(layout: &Path) -> Vec<Value> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    index["manifests"].as_array().unwrap().clone()
}

/// The descriptors of a layout's `index.json`, by the tag each carries.
fn layout_tags(layout: &Path) -> BTreeMap<String, Value> {
    layout_descriptors(layout)
        .into_iter()
        .filter_map(|entry| {
            let tag = entry["annotations"][REF_NAME].as_str()?;
            Some((tag.to_owned(), entry))
        })
        .collect()
}

/// The content of every blob of `images` and of `extra` manifests, by digest.
fn expected_blobs(images: &[&Image], extra: &[&[u8]]) -> BTreeMap<String, Vec<u8>> {
    let mut expected = BTreeMap::new();
    for image in images {
        for blob in image.blobs() {
            expected.insert(sha256(blob), blob.to_vec());
        }
        expected.insert(image.digest(), image.manifest.clone());
    }
    for manifest in extra {
        expected.insert(sha256(manifest), manifest.to_vec());
    }
    expected
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|item| item.as_str().unwrap().to_owned())
        .collect()
}

// ---- Engine → skopeo -----------------------------------------------------------------------

#[test]
fn skopeo_inspects_and_copies_what_the_engine_wrote() {
    on_both_drivers(|_, folder| async move {
        let root = folder.join("data");
        let layout = root.join("library/app");
        let amd64 = Image::new("amd64", 1);
        let arm64 = Image::new("arm64", 2);
        let index = image_index(&[(&amd64, "amd64"), (&arm64, "arm64")]);
        {
            // zot's defaults, dedupe included: repository blobs are links into _blobstore/.
            let mut store = Store::open(StoreConfig::new(&root), Disk::new())
                .await
                .unwrap();
            push_image(&mut store, "library/app", &amd64).await;
            push_image(&mut store, "library/app", &arm64).await;
            put_manifest(
                &mut store,
                "library/app",
                "v1",
                &["latest"],
                OCI_IMAGE_MANIFEST,
                &amd64.manifest,
            )
            .await;
            put_manifest(
                &mut store,
                "library/app",
                "multi",
                &[],
                OCI_IMAGE_INDEX,
                &index,
            )
            .await;
        }
        assert_clean(&root);

        // inspect: the exact manifest and config bytes, and the summary of both tags.
        for tag in ["v1", "latest"] {
            assert_eq!(
                skopeo(&["inspect", "--raw", &oci(&layout, tag)]),
                amd64.manifest
            );
            assert_eq!(
                skopeo(&["inspect", "--config", "--raw", &oci(&layout, tag)]),
                amd64.config
            );
            let summary = skopeo_inspect(&[&oci(&layout, tag)]);
            assert_eq!(summary["Digest"], amd64.digest(), "{summary}");
            assert_eq!(string_list(&summary["Layers"]), amd64.layer_digests());
            assert_eq!(summary["Architecture"], "amd64");
            assert_eq!(summary["Os"], "linux");
        }
        assert_eq!(skopeo(&["inspect", "--raw", &oci(&layout, "multi")]), index);
        // Through the index, skopeo picks the child for the platform it is asked for.
        let arm = skopeo_inspect(&["--override-arch", "arm64", &oci(&layout, "multi")]);
        assert_eq!(string_list(&arm["Layers"]), arm64.layer_digests(), "{arm}");
        assert_eq!(arm["Architecture"], "arm64");

        // copy to dir: the manifest and every blob, each file hashing to its digest.
        let copy = TempFolder::new("skopeo-dir");
        let directory = copy.path().join("v1");
        skopeo(&[
            "copy",
            &oci(&layout, "v1"),
            &format!("dir:{}", directory.display()),
        ]);
        assert_eq!(
            std::fs::read(directory.join("manifest.json")).unwrap(),
            amd64.manifest
        );
        let mut copied_names = Vec::new();
        for entry in std::fs::read_dir(&directory).unwrap() {
            copied_names.push(entry.unwrap().file_name().into_string().unwrap());
        }
        copied_names.sort();
        let mut expected_names: Vec<String> = amd64
            .blobs()
            .iter()
            .map(|blob| hex_of(&sha256(blob)).to_owned())
            .collect();
        expected_names.extend(["manifest.json".to_owned(), "version".to_owned()]);
        expected_names.sort();
        assert_eq!(copied_names, expected_names);
        for blob in amd64.blobs() {
            let digest = sha256(blob);
            let copied = std::fs::read(directory.join(hex_of(&digest))).unwrap();
            assert_eq!(sha256(&copied), digest);
            assert_eq!(copied, blob);
        }

        // copy --all of the index to a new layout: the index, both images, byte for byte.
        let copied_layout = copy.path().join("multi");
        skopeo(&[
            "copy",
            "--all",
            &oci(&layout, "multi"),
            &oci(&copied_layout, "multi"),
        ]);
        let tags = layout_tags(&copied_layout);
        assert_eq!(tags.keys().collect::<Vec<_>>(), ["multi"]);
        // Only the tagged index is listed: its platform manifests are blobs beside it.
        assert_eq!(layout_descriptors(&copied_layout).len(), 1);
        // skopeo reads layouts without looking at `oci-layout`, so compare the engine's with
        // the one skopeo writes.
        assert_eq!(layout_marker(&layout), layout_marker(&copied_layout));
        assert_eq!(tags["multi"]["digest"], sha256(&index));
        assert_eq!(tags["multi"]["mediaType"], OCI_IMAGE_INDEX);
        assert_eq!(tags["multi"]["size"], index.len());
        assert_eq!(
            layout_blobs(&copied_layout),
            expected_blobs(&[&amd64, &arm64], &[&index])
        );
    });
}

// ---- skopeo → engine -----------------------------------------------------------------------

/// Lays `image` out as skopeo's `dir:` transport does, by hand, so the image reaches skopeo
/// without the engine.
fn write_dir_image(directory: &Path, image: &Image) {
    std::fs::create_dir_all(directory).unwrap();
    std::fs::write(
        directory.join("version"),
        "Directory Transport Version: 1.1\n",
    )
    .unwrap();
    std::fs::write(directory.join("manifest.json"), &image.manifest).unwrap();
    for blob in image.blobs() {
        std::fs::write(directory.join(hex_of(&sha256(blob))), blob).unwrap();
    }
}

#[test]
fn a_root_skopeo_wrote_opens_and_serves_in_the_engine() {
    on_both_drivers(|_, folder| async move {
        let amd64 = Image::new("amd64", 3);
        let arm64 = Image::new("arm64", 4);
        let index = image_index(&[(&amd64, "amd64"), (&arm64, "arm64")]);

        // An image that only skopeo writes into the root: dir: → oci:, under two tags.
        let source = folder.join("source");
        write_dir_image(&source, &amd64);
        let root: PathBuf = folder.join("data");
        let repo_layout = root.join("other/repo");
        // skopeo creates the layout's own folder, not its parents.
        std::fs::create_dir_all(root.join("other")).unwrap();
        for tag in ["1.0", "latest"] {
            skopeo(&[
                "copy",
                &format!("dir:{}", source.display()),
                &oci(&repo_layout, tag),
            ]);
        }
        // An index: the engine writes it to a scratch root, skopeo copies it into this one.
        let scratch = folder.join("scratch");
        {
            let mut store = Store::open(StoreConfig::new(&scratch), Disk::new())
                .await
                .unwrap();
            push_image(&mut store, "app", &amd64).await;
            push_image(&mut store, "app", &arm64).await;
            put_manifest(&mut store, "app", "multi", &[], OCI_IMAGE_INDEX, &index).await;
        }
        let multi_layout = root.join("other/multi");
        skopeo(&[
            "copy",
            "--all",
            &oci(&scratch.join("app"), "multi"),
            &oci(&multi_layout, "multi"),
        ]);
        // What skopeo wrote is the layout the engine reads: tags as ref-name annotations.
        let skopeo_tags = layout_tags(&repo_layout);
        assert_eq!(skopeo_tags.keys().collect::<Vec<_>>(), ["1.0", "latest"]);
        let skopeo_descriptors = layout_descriptors(&repo_layout);
        assert_eq!(skopeo_descriptors.len(), 2);

        // A root only skopeo wrote already holds every invariant the engine keeps.
        assert_clean(&root);

        let mut store = Store::open(StoreConfig::new(&root), Disk::new())
            .await
            .unwrap();
        assert_eq!(
            store.catalog_page(None, None).entries,
            ["other/multi", "other/repo"]
        );

        // Tags, manifests (exact bytes and media type) and blobs of the image.
        let (repository, disk) = store.repository_and_disk("other/repo").unwrap();
        assert_eq!(repository.tags_page(None, None).entries, ["1.0", "latest"]);
        for tag in ["1.0", "latest"] {
            let manifest = repository
                .manifest(disk, Reference::parse(tag).unwrap())
                .await
                .unwrap();
            assert_eq!(manifest.digest.as_str(), amd64.digest());
            assert_eq!(skopeo_tags[tag]["digest"], amd64.digest());
            assert_eq!(manifest.media_type, OCI_IMAGE_MANIFEST);
            assert_eq!(manifest.bytes, amd64.manifest);
        }
        for blob in amd64.blobs() {
            let digest = sha256(blob);
            assert_eq!(read_blob(&store, "other/repo", &digest).await, blob);
        }
        let (repository, disk) = store.repository_and_disk("other/repo").unwrap();
        let config = repository
            .blob_stat(disk, Digest::parse(&sha256(&amd64.config)).unwrap())
            .await
            .unwrap();
        assert_eq!(config.size, amd64.config.len() as u64);
        assert_eq!(config.media_type.as_deref(), Some(OCI_IMAGE_CONFIG));

        // The index. skopeo's index.json lists only the tagged index, not the platform
        // manifests it copied beside it (the first test checks that of skopeo). The engine
        // still serves them by digest, found through the index that lists them, with the
        // media type the index gives them (zot answers MANIFEST_UNKNOWN here: it looks
        // manifests up in index.json alone, so a platform pull from such a layout fails).
        let (repository, disk) = store.repository_and_disk("other/multi").unwrap();
        assert_eq!(repository.tags_page(None, None).entries, ["multi"]);
        let served = repository
            .manifest(disk, Reference::parse("multi").unwrap())
            .await
            .unwrap();
        assert_eq!(served.digest.as_str(), sha256(&index));
        assert_eq!(served.media_type, OCI_IMAGE_INDEX);
        assert_eq!(served.bytes, index);
        for image in [&amd64, &arm64] {
            let digest = image.digest();
            let (repository, disk) = store.repository_and_disk("other/multi").unwrap();
            let child = repository
                .manifest(disk, Reference::parse(&digest).unwrap())
                .await
                .unwrap();
            assert_eq!(child.bytes, image.manifest);
            assert_eq!(child.media_type, OCI_IMAGE_MANIFEST);
            let (_, record) = repository
                .resolve_for_read(disk, Reference::parse(&digest).unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(record.size, image.manifest.len() as u64);
            assert_eq!(
                read_blob(&store, "other/multi", &digest).await,
                image.manifest
            );
            for blob in image.blobs() {
                assert_eq!(read_blob(&store, "other/multi", &sha256(blob)).await, blob);
            }
        }

        // A tag the engine adds keeps skopeo's descriptors as they were, and skopeo reads all.
        put_manifest(
            &mut store,
            "other/repo",
            "engine",
            &[],
            OCI_IMAGE_MANIFEST,
            &amd64.manifest,
        )
        .await;
        let after = layout_descriptors(&repo_layout);
        assert_eq!(after.len(), 3, "{after:?}");
        assert_eq!(after[..2], skopeo_descriptors[..]);
        assert_eq!(after[2]["annotations"][REF_NAME], "engine");
        assert_eq!(after[2]["digest"], amd64.digest());
        assert_clean(&root);
        for tag in ["1.0", "latest", "engine"] {
            assert_eq!(
                skopeo(&["inspect", "--raw", &oci(&repo_layout, tag)]),
                amd64.manifest
            );
        }
    });
}
