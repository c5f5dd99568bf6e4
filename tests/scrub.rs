//! `zot scrub CONFIG` on a root laid out as zot lays it out: clean, then with a blob whose bytes
//! changed and a manifest gone, then while a server still serves the root.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::binary::{ServeConfig, serve_config};
use common::{Client, RootGuard, sha256};
use storage_engine::zot_fixture::ZotFixture;

/// Writes `folder/config.json`, a zot config whose storage root is `root`; returns its path.
fn write_config(folder: &Path, root: &Path) -> PathBuf {
    let config = folder.join("config.json");
    std::fs::write(
        &config,
        format!(r#"{{"distSpecVersion":"1.1.1","storage":{{"rootDirectory":{root:?}}}}}"#),
    )
    .unwrap();
    config
}

fn scrub(config: &Path) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_zot"))
        .args(["scrub", config.to_str().unwrap()])
        .output()
        .unwrap();
    (
        status.code(),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

#[test]
fn scrub_finds_changed_blobs_and_missing_manifests_and_refuses_a_served_root() {
    let folder = common::temporary_root("scrub", "auto");
    std::fs::create_dir_all(&folder).unwrap();
    let _guard = RootGuard(folder.clone());
    let root = folder.join("root");
    let fixture = ZotFixture::typical(&root).unwrap();
    let config = write_config(&folder, &root);

    let (code, stdout, stderr) = scrub(&config);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let repositories = fixture.repositories().len();
    assert!(
        stdout.contains(&format!("{repositories} repositories")) && stdout.contains("0 problems"),
        "{stdout}"
    );
    assert!(!stdout.contains("PROBLEM"), "no table when clean: {stdout}");

    // A layer of `a` whose bytes changed in place, and a manifest of `a/b` gone.
    let blob = |repository: &str, digest: &str| {
        fixture
            .repository_folder(repository)
            .join("blobs/sha256")
            .join(&digest[7..])
    };
    let (_, a_manifest) = fixture.tags("a").remove(0);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob("a", &a_manifest)).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let layer_path = blob("a", &layer);
    let mut bytes = std::fs::read(&layer_path).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&layer_path, bytes).unwrap();
    let (_, b_manifest) = fixture.tags("a/b").remove(0);
    std::fs::remove_file(blob("a/b", &b_manifest)).unwrap();

    let (code, stdout, _) = scrub(&config);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("PROBLEM"), "{stdout}");
    let row = |repository: &str, invariant: &str, name: &str| {
        stdout.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3
                && fields[1] == repository
                && fields[2] == invariant
                && fields[3].ends_with(name)
        })
    };
    assert!(row("a", "I1", &layer[7..]), "{stdout}");
    assert!(row("a/b", "I2", ""), "{stdout}");

    // A root a server holds is not scrubbed: the server could change it underneath.
    let served = serve_config(ServeConfig {
        root: Some(root.clone()),
        ..ServeConfig::new("auto", 1)
    });
    let (code, stdout, _) = scrub(&config);
    assert_eq!(code, Some(2), "{stdout}");
    assert!(stdout.contains("stop it first"), "{stdout}");
    served.stop();
}

/// An image index whose descriptor of a child gives another media type and size than the child
/// was pushed with is accepted, as zot accepts it (it checks only that the child is present), and
/// the root it leaves scrubs clean. Found by the live_server fuzz target, where the offline check
/// called such a root broken (I3) although the server had done nothing wrong.
#[test]
fn an_index_describing_its_child_loosely_scrubs_clean() {
    let folder = common::temporary_root("scrub-loose-index", "auto");
    std::fs::create_dir_all(&folder).unwrap();
    let _guard = RootGuard(folder.clone());
    let root = folder.join("root");
    let served = serve_config(ServeConfig {
        root: Some(root.clone()),
        ..ServeConfig::new("auto", 2)
    });
    let mut client = Client::connect(served.address);
    let config_bytes = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer_bytes = b"a layer";
    for bytes in [&config_bytes[..], &layer_bytes[..]] {
        let digest = sha256(bytes);
        let reply = client.send(
            "POST",
            &format!("/v2/loose/blobs/uploads/?digest={digest}"),
            &[("Content-Type", "application/octet-stream")],
            bytes,
        );
        assert_eq!(reply.status, 201, "{reply:?}");
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
        sha256(config_bytes),
        config_bytes.len(),
        sha256(layer_bytes),
        layer_bytes.len()
    );
    let reply = client.send(
        "PUT",
        "/v2/loose/manifests/child",
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        manifest.as_bytes(),
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.omi.image.manifest.v1+json","digest":"{}","size":{}}}]}}"#,
        sha256(manifest.as_bytes()),
        manifest.len() + 1
    );
    let reply = client.send(
        "PUT",
        "/v2/loose/manifests/multi",
        &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
        index.as_bytes(),
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    // The child is served as it was pushed, whatever the index says of it.
    let reply = client.get(&format!(
        "/v2/loose/manifests/{}",
        sha256(manifest.as_bytes())
    ));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("Content-Type"),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
    assert_eq!(reply.body, manifest.as_bytes());
    drop(client);
    served.stop();

    let config = write_config(&folder, &root);
    let (code, stdout, stderr) = scrub(&config);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("0 problems"), "{stdout}");
}
