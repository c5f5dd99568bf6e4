//! oci-client (the oras-project Rust client, formerly oci-distribution) against the real
//! `zot serve` over plain HTTP, on each driver: push an image and pull it back, pull its
//! manifest and blobs one by one, list tags, push an index and a second tag, and upload blobs
//! chunked, streamed, monolithically and by cross-repository mount, checking every digest.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::binary::{Served, serve};
use common::{Client, sha256};
use futures_util::StreamExt;
use oci_client::Reference;
use oci_client::client::{
    BlobResponse, ClientConfig, ClientProtocol, Config, ImageLayer, SizedStream,
    linux_amd64_resolver,
};
use oci_client::manifest::{
    IMAGE_CONFIG_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE, ImageIndexEntry, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageIndex, OciManifest, Platform,
};
use oci_client::secrets::RegistryAuth;

const REPOSITORY: &str = "oci/app";

/// oci-client's chunked push splits a blob into PATCHes of at most this many bytes (its
/// `PUSH_CHUNK_MAX_SIZE`, not public); a larger layer makes it send several.
const CLIENT_CHUNK_BYTES: usize = 4096 * 1024;

/// An oci-client for plain HTTP that resolves an index to its linux/amd64 image.
fn oci_client(monolithic: bool) -> oci_client::Client {
    oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        use_monolithic_push: monolithic,
        platform_resolver: Some(Box::new(linux_amd64_resolver)),
        // A server that stops answering fails the test instead of hanging it.
        read_timeout: Some(Duration::from_secs(30)),
        connect_timeout: Some(Duration::from_secs(5)),
        ..ClientConfig::default()
    })
}

/// What oci-client logs at WARN and above. It works around a registry that breaks the spec
/// with only a warning (a chunked upload answered with the wrong status is redone in one
/// piece, a manifest PUT without `Location` is forgiven), so the test reads its warnings.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Warnings {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Warnings {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Runs `future` to completion on a current-thread tokio runtime of its own.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

/// Bytes that differ at every position for a while, so a misplaced chunk changes the digest.
fn pattern(label: &str, bytes: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(bytes);
    let mut index: u32 = 0;
    while data.len() < bytes {
        data.extend_from_slice(format!("{label}:{index};").as_bytes());
        index += 1;
    }
    data.truncate(bytes);
    assert_eq!(data.len(), bytes);
    data
}

/// Our own GET of a manifest, checked against its `Docker-Content-Digest`; returns the body.
fn http_manifest(served: &Served, repository: &str, reference: &str, media_type: &str) -> Vec<u8> {
    let mut client = Client::connect(served.address);
    let reply = client.send(
        "GET",
        &format!("/v2/{repository}/manifests/{reference}"),
        &[("Accept", media_type)],
        b"",
    );
    assert_eq!(reply.status, 200, "{reference}");
    assert_eq!(reply.header("Content-Type"), Some(media_type));
    assert_eq!(
        reply.header("Docker-Content-Digest"),
        Some(sha256(&reply.body).as_str())
    );
    reply.body
}

fn http_blob(served: &Served, repository: &str, digest: &str) -> Option<Vec<u8>> {
    let mut client = Client::connect(served.address);
    let reply = client.get(&format!("/v2/{repository}/blobs/{digest}"));
    match reply.status {
        200 => Some(reply.body),
        404 => None,
        status => panic!("GET blob {digest} in {repository}: {status}"),
    }
}

/// Every byte of a pulled stream.
async fn collect(mut stream: SizedStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Bounded by the stream: the server sends Content-Length bytes, then it ends.
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.expect("a chunk of the blob"));
    }
    if let Some(length) = stream.content_length {
        assert_eq!(bytes.len() as u64, length);
    }
    bytes
}

async fn push_and_pull(served: &Served) {
    let host = served.host();
    let auth = RegistryAuth::Anonymous;
    let client = oci_client(false);
    let reference = Reference::with_tag(host.clone(), REPOSITORY.to_owned(), "latest".to_owned());

    // An image: a config and two layers, one small and one past the client's chunk size, so
    // the chunked push sends it in two PATCHes with Content-Range.
    let config = Config::oci_v1(
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec(),
        None,
    );
    let layers = vec![
        ImageLayer::oci_v1(pattern("small", 1000), None),
        ImageLayer::oci_v1(pattern("large", CLIENT_CHUNK_BYTES + 12345), None),
    ];
    // Hashed once: sha2 is slow in a debug build, about 40 ms a MiB.
    let layer_digests: Vec<String> = layers.iter().map(|layer| sha256(&layer.data)).collect();
    let pushed = client
        .push(&reference, &layers, config.clone(), &auth, None)
        .await
        .expect("push");
    let manifest_body = http_manifest(served, REPOSITORY, "latest", OCI_IMAGE_MEDIA_TYPE);
    let manifest_digest = sha256(&manifest_body);
    assert_eq!(
        pushed.manifest_url,
        format!("http://{host}/v2/{REPOSITORY}/manifests/{manifest_digest}")
    );
    assert_eq!(
        pushed.config_url,
        format!(
            "http://{host}/v2/{REPOSITORY}/blobs/{}",
            sha256(&config.data)
        )
    );
    // What we store is what the client sent: every blob, byte for byte.
    for (layer, digest) in layers.iter().zip(&layer_digests) {
        let stored = http_blob(served, REPOSITORY, digest);
        assert!(stored.as_deref() == Some(&layer.data[..]));
    }

    // A whole pull: the manifest, the config and the layers, in order, with their digests.
    let image = client
        .pull(&reference, &auth, vec![IMAGE_LAYER_MEDIA_TYPE])
        .await
        .expect("pull");
    assert_eq!(image.digest.as_deref(), Some(manifest_digest.as_str()));
    assert_eq!(image.config.data, config.data);
    assert_eq!(image.config.media_type, IMAGE_CONFIG_MEDIA_TYPE);
    assert_eq!(image.layers.len(), layers.len());
    let manifest = image.manifest.expect("pull returns the manifest");
    let listed: Vec<&str> = manifest
        .layers
        .iter()
        .map(|layer| layer.digest.as_str())
        .collect();
    assert_eq!(listed, layer_digests);
    // oci-client checked each pulled layer against its listed digest; equal bytes mean equal
    // digests without hashing 4 MiB again.
    for (pulled, pushed) in image.layers.iter().zip(&layers) {
        assert!(pulled.data == pushed.data);
        assert_eq!(pulled.media_type, IMAGE_LAYER_MEDIA_TYPE);
    }
    // A layer type the caller does not accept is refused.
    let refused = client
        .pull(&reference, &auth, vec!["application/x-other"])
        .await;
    assert!(refused.is_err());

    // The manifest alone, by tag and by digest; its digest by HEAD.
    let (pulled, digest) = client
        .pull_manifest(&reference, &auth)
        .await
        .expect("pull_manifest");
    assert_eq!(digest, manifest_digest);
    let OciManifest::Image(pulled) = pulled else {
        panic!("an image manifest, got {pulled:?}");
    };
    // oci-client's manifests have no `PartialEq`; their JSON forms compare as well.
    assert_eq!(
        serde_json::to_value(&pulled).unwrap(),
        serde_json::to_value(&manifest).unwrap()
    );
    let by_digest =
        Reference::with_digest(host.clone(), REPOSITORY.to_owned(), manifest_digest.clone());
    let (raw, digest) = client
        .pull_manifest_raw(&by_digest, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .expect("pull_manifest_raw");
    assert_eq!(
        (&raw[..], digest.as_str()),
        (&manifest_body[..], manifest_digest.as_str())
    );
    for head in [&reference, &by_digest] {
        let digest = client
            .fetch_manifest_digest(head, &auth)
            .await
            .expect("fetch_manifest_digest");
        assert_eq!(digest, manifest_digest);
    }

    // One blob, written into a Vec; a blob that is not there.
    let large = &manifest.layers[1];
    let mut bytes = Vec::new();
    client
        .pull_blob(&reference, large, &mut bytes)
        .await
        .expect("pull_blob");
    assert_eq!(large.digest, layer_digests[1]);
    assert!(bytes == layers[1].data);
    // A range of it, as a resumed download asks: 206 and just those bytes.
    let offset = CLIENT_CHUNK_BYTES as u64 - 100;
    let partial = client
        .pull_blob_stream_partial(&reference, large, offset, Some(300))
        .await
        .expect("pull_blob_stream_partial");
    let BlobResponse::Partial(stream) = partial else {
        panic!("a 206 for a range");
    };
    assert_eq!(stream.content_length, Some(300));
    let offset = usize::try_from(offset).unwrap();
    assert!(collect(stream).await == layers[1].data[offset..offset + 300]);
    // The rest of it, from an offset to the end.
    let BlobResponse::Partial(stream) = client
        .pull_blob_stream_partial(&reference, large, 1, None)
        .await
        .expect("pull_blob_stream_partial to the end")
    else {
        panic!("a 206 for an open range");
    };
    assert!(collect(stream).await == layers[1].data[1..]);
    assert!(client.blob_exists(&reference, &large.digest).await.unwrap());
    let absent = sha256(b"never pushed");
    assert!(!client.blob_exists(&reference, &absent).await.unwrap());
    let missing = OciDescriptor {
        digest: absent,
        ..large.clone()
    };
    let mut bytes = Vec::new();
    assert!(
        client
            .pull_blob(&reference, &missing, &mut bytes)
            .await
            .is_err()
    );

    // A second tag on the same manifest, then an index tagged `multi` that points at it.
    let second = Reference::with_tag(host.clone(), REPOSITORY.to_owned(), "v2".to_owned());
    let url = client
        .push_manifest(&second, &OciManifest::Image(manifest.clone()))
        .await
        .expect("push second tag");
    assert_eq!(
        url,
        format!("http://{host}/v2/{REPOSITORY}/manifests/{manifest_digest}")
    );
    let platform: Platform =
        serde_json::from_value(serde_json::json!({"architecture": "amd64", "os": "linux"}))
            .unwrap();
    let index = OciImageIndex {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_INDEX_MEDIA_TYPE.to_owned()),
        manifests: vec![ImageIndexEntry {
            media_type: OCI_IMAGE_MEDIA_TYPE.to_owned(),
            digest: manifest_digest.clone(),
            size: i64::try_from(manifest_body.len()).unwrap(),
            platform: Some(platform),
            annotations: None,
            artifact_type: None,
        }],
        artifact_type: None,
        annotations: None,
    };
    let multi = Reference::with_tag(host.clone(), REPOSITORY.to_owned(), "multi".to_owned());
    let url = client
        .push_manifest_list(&multi, &auth, index)
        .await
        .expect("push index");
    let index_body = http_manifest(served, REPOSITORY, "multi", OCI_IMAGE_INDEX_MEDIA_TYPE);
    let index_digest = sha256(&index_body);
    assert_eq!(
        url,
        format!("http://{host}/v2/{REPOSITORY}/manifests/{index_digest}")
    );
    let (pulled, digest) = client.pull_manifest(&multi, &auth).await.unwrap();
    assert_eq!(digest, index_digest);
    assert!(matches!(pulled, OciManifest::ImageIndex(ref index) if index.manifests.len() == 1));
    // Through the index to the linux/amd64 image.
    let (resolved, digest, list_digest) = client
        .pull_image_manifest_and_list_digest(&multi, &auth)
        .await
        .expect("resolve the index");
    assert_eq!(
        serde_json::to_value(&resolved).unwrap(),
        serde_json::to_value(&manifest).unwrap()
    );
    assert_eq!(digest, manifest_digest);
    assert_eq!(list_digest, Some(index_digest));

    let tags = client
        .list_tags(&reference, &auth, None, None)
        .await
        .expect("list_tags");
    assert_eq!(tags.name, REPOSITORY);
    assert_eq!(tags.tags, ["latest", "multi", "v2"]);
    let page = client
        .list_tags(&reference, &auth, Some(1), Some("latest"))
        .await
        .expect("list_tags page");
    assert_eq!(page.tags, ["multi"]);
}

async fn other_uploads(served: &Served) {
    let host = served.host();
    let chunked = oci_client(false);
    let streamed =
        Reference::with_tag(host.clone(), "oci/streamed".to_owned(), "latest".to_owned());

    // A stream of three pieces, each its own PATCH; the client hashes as it sends. Unlike
    // `push_blob`, this has no silent monolithic fallback, so a chunk the server refuses fails.
    let pieces: Vec<Vec<u8>> = ["one", "two", "three"]
        .iter()
        .map(|label| pattern(label, 70_000))
        .collect();
    let whole = pieces.concat();
    let stream =
        futures_util::stream::iter(pieces.into_iter().map(|piece| {
            Ok::<_, oci_client::errors::OciDistributionError>(bytes::Bytes::from(piece))
        }));
    let response = chunked
        .push_blob_stream_chunked(&streamed, stream)
        .await
        .expect("push_blob_stream_chunked");
    assert_eq!(response.blob_digest, sha256(&whole));
    assert_eq!(response.size, whole.len() as u64);
    assert_eq!(
        response.blob_url,
        format!("http://{host}/v2/oci/streamed/blobs/{}", sha256(&whole))
    );
    assert!(http_blob(served, "oci/streamed", &sha256(&whole)).as_deref() == Some(&whole[..]));

    // The same kind of stream with the digest given up front.
    let digest = sha256(b"given digest");
    let stream = futures_util::stream::iter([Ok::<_, oci_client::errors::OciDistributionError>(
        bytes::Bytes::from_static(b"given digest"),
    )]);
    chunked
        .push_blob_stream(&streamed, stream, &digest, None)
        .await
        .expect("push_blob_stream");
    assert!(http_blob(served, "oci/streamed", &digest).as_deref() == Some(&b"given digest"[..]));

    // One POST and one PUT with the whole blob.
    let monolithic = oci_client(true);
    let single = Reference::with_tag(host.clone(), "oci/single".to_owned(), "latest".to_owned());
    let blob = pattern("monolithic", 300_000);
    let url = monolithic
        .push_blob(&single, blob.clone(), &sha256(&blob))
        .await
        .expect("monolithic push_blob");
    assert_eq!(
        url,
        format!("http://{host}/v2/oci/single/blobs/{}", sha256(&blob))
    );
    assert!(http_blob(served, "oci/single", &sha256(&blob)).as_deref() == Some(&blob[..]));

    // A mount links the streamed blob into another repository without sending it.
    let target = Reference::with_tag(host.clone(), "oci/mounted".to_owned(), "latest".to_owned());
    assert_eq!(http_blob(served, "oci/mounted", &sha256(&whole)), None);
    chunked
        .mount_blob(&target, &streamed, &sha256(&whole))
        .await
        .expect("mount_blob");
    assert!(http_blob(served, "oci/mounted", &sha256(&whole)).as_deref() == Some(&whole[..]));
}

#[test]
fn oci_client_pushes_and_pulls_on_each_driver() {
    // reqwest is built with rustls and no crypto provider (we only speak plain HTTP), yet it
    // sets up TLS when a client is built, so one provider must be installed first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let warnings = Warnings::default();
    let writer = warnings.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .finish();
    // This thread only: the runtimes are current-thread, so every oci-client event is here.
    let _subscriber = tracing::subscriber::set_default(subscriber);
    for driver in ["io_uring", "legacy"] {
        let served = serve(driver, 2);
        block_on(push_and_pull(&served));
        block_on(other_uploads(&served));
        assert_eq!(warnings.text(), "", "oci-client worked around {driver}");
        served.stop();
    }
}
