//! Real container tools against the real `zot serve`: buildah builds an image and pushes it (OCI
//! and Docker v2s2 manifests), podman pulls it back into fresh storage and pushes it to a second
//! repository (a cross-repository mount); every digest is checked through the HTTP API too.
//!
//! buildah and podman run as root with vfs storage and their state (storage, run files,
//! registries.conf, storage.conf, policy) in the test's folder; the machine's /etc/containers is
//! left alone. One thing stays shared: containers/image's blob info cache
//! (/var/lib/containers/cache for root), which has no flag; its entries name the server's
//! `host:port`, so another server's entries do not apply. A missing buildah or podman fails the
//! test: scripts/test installs both.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::binary::{ServeConfig, Served, serve_config};
use common::{Client, sha256};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const LABEL_NAME: &str = "org.zot-for-rust.test";

/// One test's containers state: what the tools write, but for the blob info cache, lives under
/// `folder`.
struct Containers {
    folder: PathBuf,
    registries_conf: PathBuf,
    policy: PathBuf,
}

impl Containers {
    /// Writes a registries.conf that marks `host` (our plain-HTTP server) insecure and a policy
    /// that accepts any image, so neither tool reads the machine's copies.
    fn new(folder: &Path, host: &str) -> Containers {
        std::fs::create_dir_all(folder).unwrap();
        let registries_conf = folder.join("registries.conf");
        std::fs::write(
            &registries_conf,
            format!(
                "unqualified-search-registries = []\n\n\
                 [[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
            ),
        )
        .unwrap();
        let policy = folder.join("policy.json");
        std::fs::write(
            &policy,
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .unwrap();
        Containers {
            folder: folder.to_owned(),
            registries_conf,
            policy,
        }
    }

    /// Runs `program` (buildah or podman) with the storage named `store` and `arguments`;
    /// returns its stdout. A failing command or a missing program fails the test.
    fn run(&self, program: &str, store: &str, arguments: &[&str]) -> String {
        let storage = self.folder.join(store);
        // podman refuses a runroot longer than 50 bytes (it holds sockets), hence the short
        // names right under the test's folder.
        assert!(
            storage.join("run").as_os_str().len() <= 50,
            "{}: too long a runroot for podman; set TMPDIR to a shorter folder",
            storage.join("run").display()
        );
        // The same settings as the flags below: podman insists on a storage.conf naming both
        // roots, and this one keeps the machine's (if any) out of the test.
        let storage_conf = storage.join("storage.conf");
        if !storage_conf.exists() {
            std::fs::create_dir_all(&storage).unwrap();
            std::fs::write(
                &storage_conf,
                format!(
                    "[storage]\ndriver = \"vfs\"\ngraphroot = {:?}\nrunroot = {:?}\n",
                    storage.join("storage"),
                    storage.join("run")
                ),
            )
            .unwrap();
        }
        let mut command = Command::new(program);
        command
            .arg("--root")
            .arg(storage.join("storage"))
            .arg("--runroot")
            .arg(storage.join("run"))
            .args(["--storage-driver", "vfs"]);
        if program == "podman" {
            // Root without systemd: no cgroup manager to talk to, no journald for events, and
            // libpod's own temporary state under the test's folder instead of /run/libpod.
            command
                .args(["--cgroup-manager", "cgroupfs", "--events-backend", "none"])
                .arg("--tmpdir")
                .arg(storage.join("tmp"));
        }
        command
            .args(arguments)
            .env("CONTAINERS_REGISTRIES_CONF", &self.registries_conf)
            .env("CONTAINERS_STORAGE_CONF", &storage_conf)
            .env("TMPDIR", &self.folder);
        let started = Instant::now();
        let output = command.output().unwrap_or_else(|error| {
            panic!(
                "{program} is not installed ({error}); scripts/test installs it, and this test \
                 never skips"
            )
        });
        assert!(
            output.status.success(),
            "{program} {arguments:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{program} {arguments:?} took {:?}",
            started.elapsed()
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn buildah(&self, arguments: &[&str]) -> String {
        self.run("buildah", "buildah", arguments)
    }

    /// podman with its own storage, empty at first: everything it has comes from the server.
    fn podman(&self, arguments: &[&str]) -> String {
        self.run("podman", "podman", arguments)
    }

    fn policy_argument(&self) -> String {
        format!("--signature-policy={}", self.policy.display())
    }

    /// A `--digestfile` path under the folder, and the digest the tool wrote there.
    fn digest_file(&self, name: &str) -> PathBuf {
        self.folder.join(format!("{name}.digest"))
    }
}

fn read_digest(path: &Path) -> String {
    let digest = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("no digest file {}: {error}", path.display()));
    let digest = digest.trim().to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest:?}"
    );
    digest
}

/// GETs the manifest `reference` of `repository` with `accept`, checks the body hashes to the
/// `Docker-Content-Digest` header and is of `media_type`; returns the digest and the manifest.
fn get_manifest(
    served: &Served,
    repository: &str,
    reference: &str,
    media_type: &str,
) -> (String, serde_json::Value) {
    let mut client = Client::connect(served.address);
    let reply = client.send(
        "GET",
        &format!("/v2/{repository}/manifests/{reference}"),
        &[("Accept", &format!("{OCI_MANIFEST}, {DOCKER_MANIFEST}"))],
        b"",
    );
    assert_eq!(
        reply.status,
        200,
        "{repository}:{reference}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    let digest = reply
        .header("Docker-Content-Digest")
        .expect("Docker-Content-Digest")
        .to_owned();
    assert_eq!(sha256(&reply.body), digest, "{repository}:{reference}");
    assert_eq!(reply.header("Content-Type"), Some(media_type));
    let manifest = reply.json();
    assert_eq!(manifest["mediaType"], media_type);
    (digest, manifest)
}

/// The config and layer digests a manifest names, config first.
fn blob_digests(manifest: &serde_json::Value) -> Vec<String> {
    let mut digests = vec![manifest["config"]["digest"].as_str().unwrap().to_owned()];
    for layer in manifest["layers"].as_array().unwrap() {
        digests.push(layer["digest"].as_str().unwrap().to_owned());
    }
    digests
}

/// GETs a blob and checks it hashes to its digest.
fn get_blob(served: &Served, repository: &str, digest: &str) -> Vec<u8> {
    let mut client = Client::connect(served.address);
    let reply = client.get(&format!("/v2/{repository}/blobs/{digest}"));
    assert_eq!(reply.status, 200, "{repository}@{digest}");
    assert_eq!(sha256(&reply.body), digest);
    reply.body
}

/// Waits for the server's log line that says `needle`, for a request the client already got an
/// answer to (the line may trail the response a little).
fn wait_for_log_line(served: &Served, needle: &str, seen: &mut Vec<String>) {
    if seen.iter().any(|line| line.contains(needle)) {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(line) = served.output.recv_timeout(Duration::from_millis(200)) {
            let found = line.contains(needle);
            seen.push(line);
            if found {
                return;
            }
        }
    }
    panic!("no log line with {needle:?} in {seen:#?}");
}

fn push_with_buildah_and_pull_with_podman(driver: &'static str, threads: usize) {
    // Debug logging: one line per request, so the test can see the mount podman asks for.
    let served = serve_config(ServeConfig {
        log: r#"{"level":"debug"}"#.to_owned(),
        ..ServeConfig::new(driver, threads)
    });
    let host = served.host();
    let containers = Containers::new(&served.folder, &host);
    let policy = containers.policy_argument();

    // ---- buildah: an image from scratch with one file and one label --------------------------
    let content = format!("hello from zot for rust on {driver}\n");
    let source = containers.folder.join("hello.txt");
    std::fs::write(&source, &content).unwrap();
    let container = containers.buildah(&["from", &policy, "scratch"]);
    let container = container.trim();
    assert!(!container.is_empty());
    containers.buildah(&["copy", container, source.to_str().unwrap(), "/hello.txt"]);
    containers.buildah(&[
        "config",
        "--label",
        &format!("{LABEL_NAME}={driver}"),
        container,
    ]);
    containers.buildah(&["commit", &policy, container, "localhost/hello:built"]);

    let oci_digest_file = containers.digest_file("oci");
    let docker_digest_file = containers.digest_file("docker");
    for (format, tag, digest_file) in [
        ("oci", "v1", &oci_digest_file),
        ("docker", "v1-docker", &docker_digest_file),
    ] {
        containers.buildah(&[
            "push",
            &policy,
            "--tls-verify=false",
            "--format",
            format,
            "--digestfile",
            digest_file.to_str().unwrap(),
            "localhost/hello:built",
            &format!("docker://{host}/team/hello:{tag}"),
        ]);
    }
    let oci_digest = read_digest(&oci_digest_file);
    let docker_digest = read_digest(&docker_digest_file);
    assert_ne!(oci_digest, docker_digest, "two formats, two manifests");

    // ---- The server's view: both tags, each manifest hashing to what buildah reported --------
    let mut client = Client::connect(served.address);
    let reply = client.get("/v2/team/hello/tags/list");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["tags"], serde_json::json!(["v1", "v1-docker"]));
    drop(client);
    let (digest, oci_manifest) = get_manifest(&served, "team/hello", "v1", OCI_MANIFEST);
    assert_eq!(
        digest, oci_digest,
        "buildah's --digestfile and the server agree"
    );
    let (digest, docker_manifest) =
        get_manifest(&served, "team/hello", "v1-docker", DOCKER_MANIFEST);
    assert_eq!(digest, docker_digest);
    // By digest, the same bytes as by tag.
    assert_eq!(
        get_manifest(&served, "team/hello", &oci_digest, OCI_MANIFEST).0,
        oci_digest
    );
    // Both manifests name the same config and the same compressed layer.
    let blobs = blob_digests(&oci_manifest);
    assert_eq!(blobs.len(), 2, "one config, one layer: {oci_manifest}");
    assert_eq!(blob_digests(&docker_manifest), blobs);
    for digest in &blobs {
        get_blob(&served, "team/hello", digest);
    }
    let config: serde_json::Value =
        serde_json::from_slice(&get_blob(&served, "team/hello", &blobs[0])).unwrap();
    assert_eq!(config["config"]["Labels"][LABEL_NAME], driver, "{config}");
    let diff_ids = config["rootfs"]["diff_ids"].clone();

    // ---- podman: pull into empty storage, same digests, the file back out -------------------
    let reference = format!("{host}/team/hello:v1");
    containers.podman(&["pull", &policy, "--tls-verify=false", &reference]);
    let inspected: serde_json::Value =
        serde_json::from_str(&containers.podman(&["image", "inspect", &reference])).unwrap();
    let image = &inspected[0];
    assert_eq!(image["Digest"], oci_digest.as_str(), "{image}");
    assert_eq!(image["Id"].as_str().unwrap(), &blobs[0][7..], "{image}");
    assert_eq!(image["Labels"][LABEL_NAME], driver, "{image}");
    assert_eq!(image["RootFS"]["Layers"], diff_ids, "{image}");
    assert_eq!(image["ManifestType"], OCI_MANIFEST);
    // As root with vfs, mounting an image is a plain directory: no container runtime needed.
    let mounted = containers.podman(&["image", "mount", &reference]);
    let copied = std::fs::read_to_string(Path::new(mounted.trim()).join("hello.txt"));
    containers.podman(&["image", "unmount", &reference]);
    assert_eq!(copied.unwrap(), content);
    // Saved as an OCI layout, the image is the pushed manifest and blobs, byte for byte.
    let saved = containers.folder.join("saved");
    containers.podman(&[
        "save",
        "--format",
        "oci-dir",
        "--output",
        saved.to_str().unwrap(),
        &reference,
    ]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(saved.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], oci_digest.as_str());
    for digest in std::iter::once(&oci_digest).chain(&blobs) {
        let bytes = std::fs::read(saved.join("blobs/sha256").join(&digest[7..])).unwrap();
        assert_eq!(sha256(&bytes), *digest);
    }
    // ---- podman push to another repository: the layer is mounted, not uploaded again --------
    let copy_digest_file = containers.digest_file("copy");
    containers.podman(&[
        "push",
        &policy,
        "--tls-verify=false",
        "--digestfile",
        copy_digest_file.to_str().unwrap(),
        &reference,
        &format!("docker://{host}/other/copy:v1"),
    ]);
    // Nothing changed on the way, so podman pushes the very manifest it pulled.
    let copy_digest = read_digest(&copy_digest_file);
    assert_eq!(copy_digest, oci_digest);
    let (digest, copy_manifest) = get_manifest(&served, "other/copy", "v1", OCI_MANIFEST);
    assert_eq!(digest, copy_digest);
    assert_eq!(blob_digests(&copy_manifest), blobs);
    for digest in &blobs {
        get_blob(&served, "other/copy", digest);
    }
    // containers/image remembers (in its blob info cache) that team/hello on this server holds
    // the compressed layer, so it asks to mount it from there: a POST answered 201 (a mount)
    // rather than 202 (an upload session).
    let mut seen = Vec::new();
    wait_for_log_line(
        &served,
        r#"method="POST" path="/v2/other/copy/blobs/uploads/" status=201"#,
        &mut seen,
    );

    // The Docker v2s2 tag pulls too, with its own manifest over the same layer.
    let docker_reference = format!("{host}/team/hello:v1-docker");
    containers.podman(&["pull", &policy, "--tls-verify=false", &docker_reference]);
    let inspected: serde_json::Value =
        serde_json::from_str(&containers.podman(&["image", "inspect", &docker_reference])).unwrap();
    // One image (one config) with two manifests now: `Digest` stays the first one pulled,
    // `RepoDigests` names both.
    let image = &inspected[0];
    assert_eq!(image["Id"].as_str().unwrap(), &blobs[0][7..], "{image}");
    let repository_digests = image["RepoDigests"].as_array().unwrap();
    for digest in [&oci_digest, &docker_digest] {
        let expected = format!("{host}/team/hello@{digest}");
        assert!(
            repository_digests
                .iter()
                .any(|named| *named == expected.as_str()),
            "{expected} not in {repository_digests:?}"
        );
    }

    let mut client = Client::connect(served.address);
    let reply = client.get("/v2/_catalog");
    assert_eq!(
        reply.json()["repositories"],
        serde_json::json!(["other/copy", "team/hello"])
    );
    drop(client);
    served.stop();
}

#[test]
fn buildah_pushes_and_podman_pulls_and_pushes_back_on_each_driver() {
    for driver in ["io_uring", "legacy"] {
        let started = Instant::now();
        push_with_buildah_and_pull_with_podman(driver, 2);
        eprintln!("{driver}: {:?}", started.elapsed());
    }
}
