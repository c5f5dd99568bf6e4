//! The ORAS Python SDK (oras-py, pinned in scripts/requirements.txt) against `zot serve` on
//! each driver: tests/clients/oras_roundtrip.py pushes an artifact, pulls it back, attaches two
//! artifacts whose `subject` is it and lists them through the referrers API; this test checks
//! what the script saw against what it reads from the registry and the files itself. A missing
//! venv or SDK fails the test (scripts/test installs them); it never skips.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::binary::serve;
use common::{Client, sha256};

const REPOSITORY: &str = "demo/artifact";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const ARTIFACT_CONFIG_TYPE: &str = "application/vnd.example.roundtrip.config.v1+json";
const SBOM_TYPE: &str = "application/vnd.example.sbom.v1+json";
const SIGNATURE_TYPE: &str = "application/vnd.example.signature.v1+json";
/// The whole script takes about a second; the SDK retries a failed request with sleeps of
/// 3, 4, 11, 29 and 83 seconds, so a misbehaving server shows up as a timeout, not a hang.
const SCRIPT_SECONDS_MAX: u64 = 90;

fn repository_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python, which scripts/test creates; not whatever `python3` is on PATH, which
/// may lack the SDK or carry another version of it.
fn venv_python() -> PathBuf {
    let python = repository_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: this test needs the oras Python SDK in the repository's venv and never \
         skips; run scripts/test, which creates .venv and installs scripts/requirements.txt",
        python.display()
    );
    python
}

/// The version of `package` that scripts/requirements.txt pins.
fn pinned_version(package: &str) -> String {
    let text = std::fs::read_to_string(repository_root().join("scripts/requirements.txt"))
        .expect("scripts/requirements.txt");
    let prefix = format!("{package}==");
    text.lines()
        .find_map(|line| line.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("scripts/requirements.txt pins no {package}"))
        .to_owned()
}

/// Runs tests/clients/oras_roundtrip.py against `host` in `work` and returns the JSON it prints.
fn oras_roundtrip(host: &str, work: &Path) -> Value {
    std::fs::create_dir_all(work).unwrap();
    let stdout_path = work.join("script.stdout");
    let stderr_path = work.join("script.stderr");
    let mut child = Command::new(venv_python())
        .arg(repository_root().join("tests/clients/oras_roundtrip.py"))
        .args([host, work.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).unwrap())
        .stderr(File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("could not start the venv's python ({error}); run scripts/test")
        });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(SCRIPT_SECONDS_MAX) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "oras_roundtrip.py still running after {SCRIPT_SECONDS_MAX} s; its stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert_ne!(
        status.code(),
        Some(3),
        "the oras Python SDK is missing from .venv: run scripts/test, which installs \
         scripts/requirements.txt; this test never skips\n{stderr}"
    );
    assert!(
        status.success(),
        "oras_roundtrip.py failed ({status}):\n{stderr}"
    );
    let stdout = std::fs::read(&stdout_path).unwrap();
    serde_json::from_slice(&stdout).unwrap_or_else(|error| {
        panic!(
            "oras_roundtrip.py printed no JSON ({error}):\n{}\n{stderr}",
            String::from_utf8_lossy(&stdout)
        )
    })
}

/// `value` as a query component: `/` and `+` percent-encoded (media types hold nothing else
/// that needs it).
fn percent_encoded(value: &str) -> String {
    assert!(
        value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"/+.-_".contains(&byte)),
        "{value}"
    );
    value.replace('/', "%2F").replace('+', "%2B")
}

/// The referrers index's descriptors as digest → (artifactType, size, annotations).
fn referrers_by_digest(index: &Value) -> BTreeMap<String, (Value, Value, Value)> {
    index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("no manifests list: {index}"))
        .iter()
        .map(|descriptor| {
            assert_eq!(descriptor["mediaType"], MANIFEST_MEDIA_TYPE, "{descriptor}");
            (
                descriptor["digest"].as_str().unwrap().to_owned(),
                (
                    descriptor["artifactType"].clone(),
                    descriptor["size"].clone(),
                    descriptor["annotations"].clone(),
                ),
            )
        })
        .collect()
}

fn check_roundtrip(served_host: &str, client: &mut Client, work: &Path) {
    let observed = oras_roundtrip(served_host, work);
    assert_eq!(
        observed["oras_version"],
        pinned_version("oras"),
        "the venv's oras is not the pinned one: run scripts/test to reinstall"
    );
    let input = |name: &str| std::fs::read(work.join("input").join(name)).unwrap();
    for (name, digest) in observed["inputs"].as_object().unwrap() {
        assert_eq!(*digest, sha256(&input(name)), "{name}");
    }

    // The push: 201 with the manifest's digest and where it lives.
    let push = &observed["push"];
    assert_eq!(push["status"], 201, "{push}");
    let digest = push["digest"]
        .as_str()
        .expect("Docker-Content-Digest")
        .to_owned();
    assert_eq!(
        push["location"],
        format!("/v2/{REPOSITORY}/manifests/{digest}")
    );
    assert_eq!(push["subject"], Value::Null);

    // The stored manifest, read here: its bytes hash to that digest, and it names exactly the
    // files and the config the script pushed.
    let reply = client.send(
        "GET",
        &format!("/v2/{REPOSITORY}/manifests/v1"),
        &[("Accept", MANIFEST_MEDIA_TYPE)],
        b"",
    );
    assert_eq!(reply.status, 200);
    assert_eq!(sha256(&reply.body), digest);
    assert_eq!(reply.header("Docker-Content-Digest"), Some(digest.as_str()));
    assert_eq!(reply.header("Content-Type"), Some(MANIFEST_MEDIA_TYPE));
    let manifest = reply.json();
    assert_eq!(manifest, observed["manifest"]);
    assert_eq!(
        manifest["annotations"],
        json!({"org.example.purpose": "roundtrip"})
    );
    assert_eq!(manifest["config"]["mediaType"], ARTIFACT_CONFIG_TYPE);
    assert_eq!(manifest["config"]["digest"], sha256(&input("config.json")));
    let layers = manifest["layers"].as_array().unwrap();
    let expected_layers = [
        ("hello.txt", "text/plain"),
        ("data.bin", "application/vnd.oci.image.layer.v1.tar"),
    ];
    assert_eq!(layers.len(), expected_layers.len(), "{manifest}");
    for (layer, (name, media_type)) in layers.iter().zip(expected_layers) {
        let bytes = input(name);
        assert_eq!(layer["digest"], sha256(&bytes), "{name}");
        assert_eq!(layer["size"], bytes.len(), "{name}");
        assert_eq!(layer["mediaType"], media_type, "{name}");
        assert_eq!(layer["annotations"]["org.opencontainers.image.title"], name);
        let blob = client.get(&format!("/v2/{REPOSITORY}/blobs/{}", sha256(&bytes)));
        assert!(blob.status == 200 && blob.body == bytes, "blob of {name}");
        // What oras pulled is byte for byte what it pushed.
        let pulled = std::fs::read(work.join("pulled").join(name)).unwrap();
        assert!(pulled == bytes, "pulled {name} differs");
        assert_eq!(observed["pulled"][name], sha256(&bytes));
    }
    assert_eq!(observed["pulled"].as_object().unwrap().len(), 2);
    let seen_get = &observed["manifest_get"];
    assert_eq!(seen_get["status"], 200);
    assert_eq!(seen_get["digest_header"], digest);
    assert_eq!(seen_get["digest_of_body"], digest);

    // The two referrers: each push names the subject in OCI-Subject.
    let mut referrer_digests = BTreeMap::new();
    for (key, artifact_type) in [("sbom_push", SBOM_TYPE), ("signature_push", SIGNATURE_TYPE)] {
        let push = &observed[key];
        assert_eq!(push["status"], 201, "{key}: {push}");
        assert_eq!(push["subject"], digest, "{key}: OCI-Subject");
        let referrer = push["digest"].as_str().unwrap().to_owned();
        let reply = client.get(&format!("/v2/{REPOSITORY}/manifests/{referrer}"));
        assert_eq!((reply.status, sha256(&reply.body)), (200, referrer.clone()));
        let stored = reply.json();
        assert_eq!(stored["subject"]["digest"], digest, "{key}: {stored}");
        assert_eq!(stored["subject"]["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(stored["config"]["mediaType"], artifact_type);
        referrer_digests.insert(artifact_type, (referrer, reply.body.len()));
    }
    let (sbom_digest, sbom_size) = referrer_digests[SBOM_TYPE].clone();
    let (signature_digest, signature_size) = referrer_digests[SIGNATURE_TYPE].clone();
    let sbom_entry = (
        json!(SBOM_TYPE),
        json!(sbom_size),
        json!({"org.example.kind": "sbom"}),
    );
    // oras-py always writes an `annotations` object, empty when given none.
    let signature_entry = (json!(SIGNATURE_TYPE), json!(signature_size), json!({}));

    // Unfiltered: both, typed by their configs' media types (oras-py writes no artifactType).
    let reply = client.get(&format!("/v2/{REPOSITORY}/referrers/{digest}"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Content-Type"), Some(INDEX_MEDIA_TYPE));
    assert_eq!(reply.header("OCI-Filters-Applied"), None);
    let index = reply.json();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], INDEX_MEDIA_TYPE);
    assert_eq!(
        referrers_by_digest(&index),
        BTreeMap::from([
            (sbom_digest.clone(), sbom_entry.clone()),
            (signature_digest.clone(), signature_entry),
        ])
    );
    let seen = &observed["referrers"];
    assert_eq!(seen["status"], 200);
    assert_eq!(seen["content_type"], INDEX_MEDIA_TYPE);
    assert_eq!(seen["filters_applied"], Value::Null);
    assert_eq!(seen["index"], index);

    // Filtered by the SBOM's type: only it, and the header says the filter was applied.
    let reply = client.get(&format!(
        "/v2/{REPOSITORY}/referrers/{digest}?artifactType={}",
        percent_encoded(SBOM_TYPE)
    ));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("OCI-Filters-Applied"), Some("artifactType"));
    let filtered = reply.json();
    assert_eq!(
        referrers_by_digest(&filtered),
        BTreeMap::from([(sbom_digest.clone(), sbom_entry)])
    );
    let seen = &observed["referrers_sbom"];
    assert_eq!(seen["status"], 200);
    assert_eq!(seen["filters_applied"], "artifactType");
    assert_eq!(seen["index"], filtered);

    // A referrer has no referrers of its own; a type nobody pushed filters everything out.
    let reply = client.get(&format!("/v2/{REPOSITORY}/referrers/{sbom_digest}"));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["manifests"], json!([]));
    let reply = client.get(&format!(
        "/v2/{REPOSITORY}/referrers/{digest}?artifactType=application/vnd.example.none"
    ));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("OCI-Filters-Applied"), Some("artifactType"));
    assert_eq!(reply.json()["manifests"], json!([]));

    // A raw `+` in a query is a space, as Go's net/url (and so zot) reads it: the type then
    // names nothing. Clients percent-encode it (oras-py's callers must; oras-go does).
    let reply = client.get(&format!(
        "/v2/{REPOSITORY}/referrers/{digest}?artifactType={SBOM_TYPE}"
    ));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("OCI-Filters-Applied"), Some("artifactType"));
    assert_eq!(reply.json()["manifests"], json!([]));

    let reply = client.get(&format!("/v2/{REPOSITORY}/tags/list"));
    assert_eq!(reply.json()["tags"], json!(["sbom", "signature", "v1"]));
}

#[test]
fn oras_python_sdk_pushes_pulls_and_finds_referrers() {
    for driver in ["io_uring", "legacy"] {
        let served = serve(driver, 2);
        let mut client = Client::connect(served.address);
        check_roundtrip(&served.host(), &mut client, &served.folder.join("oras"));
        drop(client);
        served.stop();
    }
}
