//! `zot serve` as a user runs it: the real binary with a zot config, on a free loopback port,
//! several cores, each driver; pushes and pulls over many connections (so requests land on
//! cores that do not own the repository), then SIGTERM and a clean exit.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::binary::{ServeConfig, Served, serve, serve_config, serve_refused};
use common::{Client, RootGuard, sha256};

fn push_image(address: SocketAddr, repository: &str) -> (String, Vec<u8>) {
    // Each step on a new connection, so the kernel spreads them over the cores.
    let config = format!(r#"{{"architecture":"amd64","os":"linux","repository":"{repository}"}}"#);
    let layer = format!("layer of {repository}").repeat(1000).into_bytes();
    let mut digests = Vec::new();
    for blob in [config.as_bytes(), layer.as_slice()] {
        let mut client = Client::connect(address);
        let reply = client.send(
            "POST",
            &format!("/v2/{repository}/blobs/uploads/"),
            &[],
            b"",
        );
        assert_eq!(
            reply.status,
            202,
            "{:?}",
            String::from_utf8_lossy(&reply.body)
        );
        let location = reply.header("Location").unwrap().to_owned();
        let mut client = Client::connect(address);
        let reply = client.send("PATCH", &location, &[], blob);
        assert_eq!(reply.status, 202);
        let digest = sha256(blob);
        let mut client = Client::connect(address);
        let reply = client.send("PUT", &format!("{location}?digest={digest}"), &[], b"");
        assert_eq!(
            reply.status,
            201,
            "{:?}",
            String::from_utf8_lossy(&reply.body)
        );
        digests.push((digest, blob.len()));
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
        digests[0].0, digests[0].1, digests[1].0, digests[1].1
    )
    .into_bytes();
    let mut client = Client::connect(address);
    let reply = client.send(
        "PUT",
        &format!("/v2/{repository}/manifests/latest"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &manifest,
    );
    assert_eq!(
        reply.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    (sha256(&manifest), layer)
}

#[test]
fn serves_on_every_core_with_each_driver_and_stops_cleanly() {
    for driver in ["io_uring", "legacy"] {
        let served = serve(driver, 2);
        let lines = served.core_lines(2);
        let expected = if driver == "io_uring" {
            "io_uring"
        } else {
            "legacy"
        };
        assert!(
            lines.iter().all(|line| line.contains(expected)),
            "{lines:?}"
        );
        let repositories: Vec<String> = (0..6).map(|index| format!("team/app{index}")).collect();
        let mut pushed = Vec::new();
        for repository in &repositories {
            pushed.push(push_image(served.address, repository));
        }
        for (repository, (digest, layer)) in repositories.iter().zip(&pushed) {
            for _ in 0..2 {
                let mut client = Client::connect(served.address);
                let reply = client.get(&format!("/v2/{repository}/manifests/latest"));
                assert_eq!(reply.status, 200);
                assert_eq!(sha256(&reply.body), *digest);
                let reply = client.get(&format!("/v2/{repository}/blobs/{}", sha256(layer)));
                assert!(reply.status == 200 && reply.body == *layer);
                let reply = client.get(&format!("/v2/{repository}/tags/list"));
                assert_eq!(reply.json()["tags"], serde_json::json!(["latest"]));
            }
        }
        // The catalog merges every core's repositories, in order, with paging.
        let mut client = Client::connect(served.address);
        let reply = client.get("/v2/_catalog");
        assert_eq!(
            reply.json()["repositories"],
            serde_json::json!(repositories)
        );
        let reply = client.get("/v2/_catalog?n=4");
        assert_eq!(
            reply.json()["repositories"],
            serde_json::json!(repositories[..4])
        );
        assert_eq!(
            reply.header("Link"),
            Some("</v2/_catalog?last=team%2Fapp3&n=4>; rel=\"next\"")
        );
        // `client` stays connected, idle, while the server stops.
        served.stop();
        drop(client);
    }
}

#[test]
fn a_restarted_server_serves_what_it_stored_on_other_cores() {
    let folder = common::temporary_root("serve-restart", "auto");
    let root = folder.join("data");
    let _guard = RootGuard(folder);
    let served = serve_config(ServeConfig {
        root: Some(root.clone()),
        ..ServeConfig::new("auto", 2)
    });
    let (digest, _) = push_image(served.address, "kept/app");
    served.stop();
    // Three cores now: ownership is recomputed, nothing on disk depends on it.
    let served = serve_config(ServeConfig {
        root: Some(root),
        ..ServeConfig::new("auto", 3)
    });
    let mut client = Client::connect(served.address);
    let reply = client.get("/v2/kept/app/manifests/latest");
    assert_eq!((reply.status, sha256(&reply.body)), (200, digest));
    served.stop();
}

#[test]
fn with_no_config_it_serves_the_embedded_default() {
    // 127.0.0.1:5000 with storage in ./zot-data, as the README's first command runs it.
    let folder = common::temporary_root("serve-default", "auto");
    std::fs::create_dir_all(&folder).unwrap();
    let _guard = RootGuard(folder.clone());
    let mut child = Command::new(env!("CARGO_BIN_EXE_zot"))
        .arg("serve")
        .current_dir(&folder)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let first = stderr.lines().next().unwrap().unwrap();
    assert_eq!(first, "zot serve: listening on 127.0.0.1:5000");
    // Every core reports in, in the log, before it serves.
    let mut log = BufReader::new(child.stdout.take().unwrap()).lines();
    let cores = std::thread::available_parallelism().unwrap().get();
    let mut core_lines = 0;
    while core_lines < cores {
        let line = log.next().unwrap().unwrap();
        if line.contains(" core ") {
            assert!(line.contains("INFO"), "{line}");
            core_lines += 1;
        }
    }
    let mut client = Client::connect("127.0.0.1:5000".parse().unwrap());
    assert_eq!(client.get("/v2/").status, 200);
    drop(client);
    assert!(folder.join("zot-data").is_dir());
    let (_, output) = std::sync::mpsc::channel();
    Served::adopt(child, "127.0.0.1:5000".parse().unwrap(), output, &folder).stop();
}

/// Runs skopeo with `arguments`; a missing skopeo fails the test (scripts/test installs it).
fn skopeo(arguments: &[&str]) -> String {
    let output = Command::new("skopeo")
        .args(arguments)
        .output()
        .unwrap_or_else(|error| {
            panic!("skopeo is not installed ({error}); scripts/test installs it, and this test never skips")
        });
    assert!(
        output.status.success(),
        "skopeo {arguments:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Writes an OCI layout with one real image (a gzip tar layer, a config naming its diff id)
/// tagged `tag`; returns the manifest's and the layer's digests.
fn write_layout(folder: &std::path::Path, tag: &str) -> (String, String) {
    use storage_engine::zot_fixture::{gzip_stored, tar_archive};
    let blobs = folder.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = sha256(bytes);
        std::fs::write(blobs.join(&digest[7..]), bytes).unwrap();
        digest
    };
    let tar = tar_archive(&[("hello.txt", b"hello from zot for rust\n".as_slice())]);
    let layer_bytes = gzip_stored(&tar);
    let layer = put(&layer_bytes);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}},"config":{{}}}}"#,
        sha256(&tar)
    );
    let config_digest = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer}","size":{}}}]}}"#,
        config.len(),
        layer_bytes.len()
    );
    let manifest_digest = put(manifest.as_bytes());
    std::fs::write(
        folder.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        folder.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}]}}"#,
            manifest.len()
        ),
    )
    .unwrap();
    (manifest_digest, layer)
}

#[test]
fn skopeo_pushes_inspects_lists_pulls_and_deletes() {
    for driver in ["io_uring", "legacy"] {
        let served = serve(driver, 2);
        let work = served.folder.join("skopeo");
        let source = work.join("source");
        let (manifest, layer) = write_layout(&source, "v1");
        let registry = format!("docker://{}/demo/app", served.address);
        skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", source.display()),
            &format!("{registry}:v1"),
        ]);
        let inspected: serde_json::Value = serde_json::from_str(&skopeo(&[
            "inspect",
            "--tls-verify=false",
            &format!("{registry}:v1"),
        ]))
        .unwrap();
        assert_eq!(inspected["Digest"], manifest);
        assert_eq!(inspected["Layers"], serde_json::json!([layer]));
        let tags: serde_json::Value =
            serde_json::from_str(&skopeo(&["list-tags", "--tls-verify=false", &registry])).unwrap();
        assert_eq!(tags["Tags"], serde_json::json!(["v1"]));
        // Back out into a new layout: the same manifest and layer, byte for byte.
        let back = work.join("back");
        skopeo(&[
            "copy",
            "--src-tls-verify=false",
            &format!("{registry}:v1"),
            &format!("oci:{}:v1", back.display()),
        ]);
        for digest in [&manifest, &layer] {
            let copied = std::fs::read(back.join("blobs/sha256").join(&digest[7..])).unwrap();
            assert_eq!(sha256(&copied), *digest);
        }
        skopeo(&["delete", "--tls-verify=false", &format!("{registry}:v1")]);
        let mut client = Client::connect(served.address);
        let reply = client.get("/v2/demo/app/tags/list");
        assert_eq!(reply.json()["tags"], serde_json::json!([]));
        drop(client);
        served.stop();
    }
}

#[test]
fn the_log_has_a_line_per_request_at_debug_and_every_error_with_its_code() {
    let folder = common::temporary_root("serve-log", "auto");
    std::fs::create_dir_all(&folder).unwrap();
    let _guard = RootGuard(folder.clone());
    let log_file = folder.join("zot.log");
    let served = serve_config(ServeConfig {
        log: format!(r#"{{"level":"debug","output":{log_file:?}}}"#),
        ..ServeConfig::new("auto", 2)
    });
    let mut client = Client::connect(served.address);
    assert_eq!(client.get("/v2/").status, 200);
    assert_eq!(client.get("/v2/nobody/tags/list").status, 404);
    let missing = format!("/v2/nobody/blobs/{}", sha256(b"missing"));
    assert_eq!(client.send("HEAD", &missing, &[], b"").status, 404);
    drop(client);
    served.stop();
    // A file output means JSON lines, one object each.
    let text = std::fs::read_to_string(&log_file).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    let find = |message: &str, path: &str| {
        lines
            .iter()
            .find(|line| line["fields"]["message"] == message && line["fields"]["path"] == path)
            .unwrap_or_else(|| panic!("no {message:?} line for {path} in {text}"))
            .clone()
    };
    let ok = find("request", "/v2/");
    assert_eq!(ok["level"], "DEBUG");
    assert_eq!(ok["fields"]["status"], 200);
    let refused = find("request refused", "/v2/nobody/tags/list");
    assert_eq!(refused["level"], "WARN");
    assert_eq!(refused["fields"]["code"], "NAME_UNKNOWN");
    assert_eq!(refused["fields"]["method"], "GET");
    // A HEAD miss is how clients ask before a push: logged at debug, with its code.
    let probe = find("request", &missing);
    assert_eq!(probe["level"], "DEBUG");
    assert_eq!(probe["fields"]["status"], 404);
    assert_eq!(probe["fields"]["code"], "BLOB_UNKNOWN");
    assert!(lines.iter().any(|line| {
        line["fields"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("core ")
    }));
}

#[test]
fn a_second_server_on_the_same_port_or_root_refuses_to_start() {
    let served = serve("auto", 2);
    // The same port, another root: the cores' SO_REUSEPORT binds would have joined the first
    // server's group and split its connections; the start fails instead.
    let (code, stderr) = serve_refused(ServeConfig {
        port: served.address.port(),
        ..ServeConfig::new("auto", 2)
    });
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
    // The same root, another port: two servers would each think they own its repositories.
    let (code, stderr) = serve_refused(ServeConfig {
        root: Some(served.root.clone()),
        ..ServeConfig::new("auto", 2)
    });
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("another process serves it"), "{stderr}");
    // The first one never noticed.
    let mut client = Client::connect(served.address);
    assert_eq!(client.get("/v2/").status, 200);
    drop(client);
    served.stop();
}

/// A server of `mode` on one core with a limit of two connections, and two clients it has
/// answered once each: the core is at its limit.
fn full_core(mode: (&'static str, &str)) -> (Served, Client, Client) {
    let mut config = common::binary::mode_config(mode, 1);
    config
        .runtime_extra
        .push_str(r#","connectionsPerCoreMax":2"#);
    let served = serve_config(config);
    let mut first = Client::connect(served.address);
    let mut second = Client::connect(served.address);
    assert_eq!(first.get("/v2/").status, 200);
    assert_eq!(second.get("/v2/").status, 200);
    (served, first, second)
}

#[test]
fn a_core_at_its_connection_limit_serves_more_only_as_connections_close() {
    use std::io::{Read, Write};
    for mode in common::binary::MODES {
        let (served, first, mut second) = full_core(mode);
        // A third connection is not served while two are open: with a listener per core it
        // waits in the backlog; with the acceptor it is closed at once.
        let mut third = std::net::TcpStream::connect(served.address).unwrap();
        third
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let _ = third.write_all(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n");
        let mut byte = [0u8; 1];
        match third.read(&mut byte) {
            Ok(0) => assert_eq!(mode.1, "acceptor", "closed unserved"),
            Ok(_) => panic!("a third connection was served past the limit in {mode:?}"),
            Err(error) => assert!(
                matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::ConnectionReset
                ),
                "{error}"
            ),
        }
        drop(first);
        if mode.1 == "reuseport" {
            // The queued connection is accepted as soon as one closes.
            third
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let reply = common::read_reply(&mut third, false);
            assert_eq!(reply.status, 200);
        } else {
            // A new connection is served once the core has seen the close.
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            loop {
                let mut fourth = std::net::TcpStream::connect(served.address).unwrap();
                fourth
                    .set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                let _ = fourth.write_all(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n");
                let mut head = [0u8; 12];
                if fourth.read_exact(&mut head).is_ok() {
                    assert_eq!(&head, b"HTTP/1.1 200");
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "never served again");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        assert_eq!(second.get("/v2/").status, 200);
        drop(second);
        served.stop();
    }
}

#[test]
fn a_root_written_by_zot_is_served_as_it_is_and_pulled_by_skopeo() {
    use storage_engine::zot_fixture::ZotFixture;
    let folder = common::temporary_root("serve-zot-root", "auto");
    let _guard = RootGuard(folder.clone());
    let root = folder.join("zot-root");
    let fixture = ZotFixture::typical(&root).unwrap();
    let served = serve_config(ServeConfig {
        root: Some(root.clone()),
        ..ServeConfig::new("auto", 2)
    });
    let mut client = Client::connect(served.address);
    assert_eq!(
        client.get("/v2/_catalog").json()["repositories"],
        serde_json::json!(fixture.repositories())
    );
    // Every tag of every repository, nested ones included, byte for byte as zot stored it.
    for repository in fixture.repositories() {
        let tags = fixture.tags(&repository);
        let names: Vec<&str> = tags.iter().map(|(tag, _)| tag.as_str()).collect();
        assert_eq!(
            client.get(&format!("/v2/{repository}/tags/list")).json()["tags"],
            serde_json::json!(names)
        );
        for (tag, digest) in &tags {
            let stored = std::fs::read(
                fixture
                    .repository_folder(&repository)
                    .join("blobs/sha256")
                    .join(&digest[7..]),
            )
            .unwrap();
            let raw = skopeo(&[
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{}/{repository}:{tag}", served.address),
            ]);
            assert_eq!(raw.as_bytes(), stored, "{repository}:{tag}");
        }
    }
    // Pulls into skopeo's `dir:` layout, which keeps manifests and blobs as they come: an
    // image whose layer two repositories share, another, and a multi-platform index whole.
    for (reference, all) in [
        ("a/b:v1", false),
        ("library/alpine:latest", false),
        ("a/b/c:multi", true),
    ] {
        let out = folder.join(format!("pulled-{}", reference.replace(['/', ':'], "-")));
        let mut arguments = vec!["copy", "--src-tls-verify=false"];
        if all {
            arguments.push("--all");
        }
        let source = format!("docker://{}/{reference}", served.address);
        let target = format!("dir:{}", out.display());
        arguments.extend([source.as_str(), target.as_str()]);
        skopeo(&arguments);
        let (repository, tag) = reference.split_once(':').unwrap();
        let (_, digest) = fixture
            .tags(repository)
            .into_iter()
            .find(|(name, _)| name == tag)
            .unwrap();
        let stored = |digest: &str| -> Vec<u8> {
            let path = fixture
                .repository_folder(repository)
                .join("blobs/sha256")
                .join(&digest[7..]);
            std::fs::read(path).unwrap()
        };
        let top = stored(&digest);
        assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), top);
        let top: serde_json::Value = serde_json::from_slice(&top).unwrap();
        let images: Vec<serde_json::Value> = match top["manifests"].as_array() {
            Some(children) => children
                .iter()
                .map(|child| {
                    let child = child["digest"].as_str().unwrap();
                    let bytes = stored(child);
                    let copied = std::fs::read(out.join(format!("{}.manifest.json", &child[7..])));
                    assert_eq!(copied.unwrap(), bytes, "{reference}: platform {child}");
                    serde_json::from_slice(&bytes).unwrap()
                })
                .collect(),
            None => vec![top],
        };
        assert_eq!(images.len(), if all { 2 } else { 1 });
        for image in images {
            let layers = image["layers"].as_array().unwrap().iter();
            for descriptor in layers.chain([&image["config"]]) {
                let blob = descriptor["digest"].as_str().unwrap();
                let bytes = std::fs::read(out.join(&blob[7..]))
                    .unwrap_or_else(|error| panic!("{reference}: {blob}: {error}"));
                assert_eq!(sha256(&bytes), blob);
            }
        }
    }
    drop(client);
    served.stop();
}

#[test]
fn sub_paths_route_a_namespace_to_its_own_root_as_zot_does() {
    let folder = common::temporary_root("serve-sub-paths", "auto");
    std::fs::create_dir_all(&folder).unwrap();
    let _guard = RootGuard(folder.clone());
    let main_root = folder.join("main");
    let team_root = folder.join("team-root");
    let config = || ServeConfig {
        root: Some(main_root.clone()),
        storage_extra: format!(
            r#","subPaths":{{"/team":{{"rootDirectory":{team_root:?},"dedupe":true}}}}"#
        ),
        ..ServeConfig::new("auto", 2)
    };
    let served = serve_config(config());
    let mut pushed = Vec::new();
    for repository in ["team/app", "team/tools/lint", "team", "other/app"] {
        pushed.push((repository, push_image(served.address, repository).0));
    }
    // zot's routing: `team/...` lives under the sub path's root with its full name; `team`
    // alone and every other name in the main root.
    let is_repository =
        |root: &std::path::Path, name: &str| root.join(name).join("index.json").is_file();
    assert!(is_repository(&team_root, "team/app"));
    assert!(is_repository(&team_root, "team/tools/lint"));
    assert!(is_repository(&main_root, "team"));
    assert!(is_repository(&main_root, "other/app"));
    assert!(!is_repository(&main_root, "team/app"));
    assert!(!is_repository(&team_root, "other/app"));
    // The sub path's dedupe keeps its master copies in its own `_blobstore`.
    assert!(team_root.join("_blobstore/blobs/sha256").is_dir());
    let mut client = Client::connect(served.address);
    assert_eq!(
        client.get("/v2/_catalog").json()["repositories"],
        serde_json::json!(["other/app", "team", "team/app", "team/tools/lint"])
    );
    // A mount across roots copies or links as the file systems allow.
    let layer = sha256("layer of other/app".repeat(1000).as_bytes());
    let reply = client.send(
        "POST",
        &format!("/v2/team/copied/blobs/uploads/?mount={layer}&from=other/app"),
        &[],
        b"",
    );
    assert_eq!(reply.status, 201);
    assert!(
        team_root
            .join("team/copied/blobs/sha256")
            .join(&layer[7..])
            .is_file()
    );
    drop(client);
    served.stop();
    // After a restart each repository is found in its own root again.
    let served = serve_config(config());
    let mut client = Client::connect(served.address);
    for (repository, digest) in &pushed {
        let reply = client.get(&format!("/v2/{repository}/manifests/latest"));
        assert_eq!(
            (reply.status, sha256(&reply.body)),
            (200, digest.clone()),
            "{repository}"
        );
    }
    drop(client);
    served.stop();
}

#[test]
fn a_drain_serves_a_connection_that_just_arrived_and_ends_idle_ones_cleanly() {
    for mode in common::binary::MODES {
        let served = serve_config(common::binary::mode_config(mode, 2));
        let mut kept = Client::connect(served.address);
        assert_eq!(kept.get("/v2/").status, 200);
        // Connected, nothing sent yet: it may sit in a listener's queue or be accepted already.
        let mut fresh = Client::connect(served.address);
        served.terminate();
        // The request crosses the drain's start, as a client's does during a rolling restart.
        std::thread::sleep(Duration::from_millis(100));
        let reply = fresh.get("/v2/");
        assert_eq!(reply.status, 200, "{mode:?}");
        assert_eq!(reply.header("connection"), Some("close"), "{mode:?}");
        fresh.assert_ended();
        // The kept-alive connection had been answered: it is ended, not reset.
        kept.assert_ended();
        served.wait_stopped();
    }
}

#[test]
fn a_drain_serves_the_connections_queued_at_a_full_core() {
    use std::io::Write;
    // One core at its limit leaves the third connection, request sent, in the listener's
    // queue. The drain ends the two idle ones, and the queued one is served instead of reset.
    let (served, mut first, mut second) = full_core(common::binary::MODES[0]);
    let mut queued = std::net::TcpStream::connect(served.address).unwrap();
    queued
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    queued
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n")
        .unwrap();
    served.terminate();
    first.assert_ended();
    drop(first);
    let reply = common::read_reply(&mut queued, false);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("connection"), Some("close"));
    second.assert_ended();
    served.wait_stopped();
}

#[test]
fn sigterm_right_after_the_listening_line_is_a_clean_stop() {
    // The listening line comes before the cores have opened their stores; a supervisor may
    // stop the server at once. The signal handlers are in place from the bind, so that is a
    // clean shutdown (exit 0), not the default termination by signal.
    for _ in 0..5 {
        serve("auto", 2).stop();
    }
}
