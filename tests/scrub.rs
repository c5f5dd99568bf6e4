//! `zot scrub CONFIG` on a root laid out as zot lays it out: clean, then with a blob whose bytes
//! changed and a manifest gone, then while a server still serves the root.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::RootGuard;
use common::binary::{ServeConfig, serve_config};
use storage_engine::zot_fixture::ZotFixture;

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
    let config = folder.join("config.json");
    std::fs::write(
        &config,
        format!(r#"{{"distSpecVersion":"1.1.1","storage":{{"rootDirectory":{root:?}}}}}"#),
    )
    .unwrap();

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
