//! `zb`, the load generator, against the real `zot serve`: it lists zot's 16 tests in zot's
//! order, runs every one of them without a failure, reports them in the JSON contract, cleans
//! up every tag it pushed, `-t` selects tests by regex, and `--run-identifier` makes runs
//! reuse their repositories.
//!
//! zb is another package's binary: `common::binary::zb_binary` builds it beside `zot`.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Output};

use common::Client;
use common::binary::{serve, zb_binary};

/// zot's zb test names, in zot's order.
const TEST_NAMES: [&str; 16] = [
    "Get Catalog",
    "Push Monolith 1MB",
    "Push Monolith 10MB",
    "Push Monolith 100MB",
    "Push Chunk Streamed 1MB",
    "Push Chunk Streamed 10MB",
    "Push Chunk Streamed 100MB",
    "Pull 1MB",
    "Pull 10MB",
    "Pull 100MB",
    "Pull Mixed 20% 1MB, 70% 10MB, 10% 100MB",
    "Push Monolith Mixed 20% 1MB, 70% 10MB, 10% 100MB",
    "Push Chunk Mixed 33% 1MB, 33% 10MB, 33% 100MB",
    "Pull 75% and Push 25% Mixed 1MB",
    "Pull 75% and Push 25% Mixed 10MB",
    "Pull 75% and Push 25% Mixed 100MB",
];

/// Small sizes keep the whole suite within seconds.
const SIZES: &str = "1000,10000,100000";

fn zb(arguments: &[&str]) -> Output {
    let output = Command::new(zb_binary())
        .args(arguments)
        .output()
        .expect("zb runs");
    assert!(
        output.status.success(),
        "zb {arguments:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    output
}

fn json_run(address: SocketAddr, extra: &[&str]) -> serde_json::Value {
    let url = format!("http://{address}");
    let mut arguments = vec!["-c", "4", "-n", "8", "--sizes", SIZES, "-o", "json"];
    arguments.extend_from_slice(extra);
    arguments.push(&url);
    let output = zb(&arguments);
    serde_json::from_slice(&output.stdout).expect("zb -o json prints one JSON document")
}

fn get_json(address: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let reply = Client::connect(address).send("GET", path, &[], b"");
    let body = serde_json::from_slice(&reply.body).unwrap_or(serde_json::Value::Null);
    (reply.status, body)
}

#[test]
fn zb_lists_zots_tests_in_zots_order() {
    let output = zb(&["-l"]);
    let listed: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, TEST_NAMES);

    let output = zb(&["-l", "-t", "^(Push Monolith|Pull) 1MB$"]);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "Push Monolith 1MB\nPull 1MB\n"
    );
}

#[test]
fn zb_runs_every_test_against_zot_without_failures_and_cleans_up() {
    let served = serve("auto", 2);
    let report = json_run(served.address, &[]);

    assert_eq!(report["zb"]["concurrency"], 4);
    assert_eq!(report["zb"]["requests"], 8);
    assert_eq!(report["zb"]["sparse"], false);
    assert_eq!(report["zb"]["sizes_bytes"]["large"], 100_000);
    let tests = report["tests"].as_array().unwrap();
    let names: Vec<&str> = tests
        .iter()
        .map(|test| test["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, TEST_NAMES);
    for test in tests {
        let name = test["name"].as_str().unwrap();
        assert_eq!(test["requests"], 8, "{name}");
        assert_eq!(test["completed"], 8, "{name}: {test}");
        assert_eq!(test["failed"], 0, "{name}: {test}");
        assert_eq!(test["errors"], serde_json::json!({}), "{name}");
        assert_eq!(test["cleanup_errors"], serde_json::json!({}), "{name}");
        assert_eq!(test["status"]["4xx"], 0, "{name}");
        assert_eq!(test["status"]["5xx"], 0, "{name}");
        assert!(test["status"]["2xx"].as_u64().unwrap() >= 8, "{name}");
        assert!(test["seconds"].as_f64().unwrap() > 0.0, "{name}");
        assert!(
            test["requests_per_second"].as_f64().unwrap() > 0.0,
            "{name}"
        );
        assert!(test["latency_ms"]["p99"].as_f64().unwrap() > 0.0, "{name}");
        assert!(
            test["client_cpu_seconds"].as_f64().unwrap() >= 0.0,
            "{name}"
        );
        let moves_blobs = name != "Get Catalog";
        assert_eq!(
            test["payload_bytes"].as_u64().unwrap() > 0,
            moves_blobs,
            "{name}"
        );
        let pulls = name.starts_with("Pull");
        assert_eq!(test["ttfb_ms"].is_object(), pulls, "{name}");
    }
    // Pulls of the 1000-byte layer move the layer and the config, 8 times.
    let pull_small = &tests[7];
    let per_pull = pull_small["payload_bytes"].as_u64().unwrap() / 8;
    assert!(per_pull > 1000 && per_pull < 2000, "{pull_small}");

    // Cleanup deleted every manifest zb pushed: no repository keeps a tag.
    let (status, catalog) = get_json(served.address, "/v2/_catalog");
    assert_eq!(status, 200);
    let repositories = catalog["repositories"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!repositories.is_empty(), "zb pushed somewhere: {catalog}");
    for repository in repositories {
        let repository = repository.as_str().unwrap();
        assert!(repository.starts_with("zb/"), "{repository}");
        let (status, tags) = get_json(served.address, &format!("/v2/{repository}/tags/list"));
        if status == 200 {
            assert_eq!(
                tags["tags"].as_array().map_or(0, Vec::len),
                0,
                "{repository}: {tags}"
            );
        } else {
            assert_eq!(status, 404, "{repository}");
        }
    }
    served.stop();
}

#[test]
fn zb_runs_only_the_tests_its_regex_selects_and_sparse_blobs_work() {
    let served = serve("auto", 1);
    let report = json_run(served.address, &["-t", "Pull 1MB", "--sparse"]);
    let tests = report["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 1, "{report}");
    assert_eq!(tests[0]["name"], "Pull 1MB");
    assert_eq!(tests[0]["completed"], 8);
    assert_eq!(tests[0]["failed"], 0);
    assert_eq!(report["zb"]["sparse"], true);
    // Setup pushed the image the pulls read, timed apart from them.
    assert!(tests[0]["setup_seconds"].as_f64().unwrap() > 0.0);
    served.stop();
}

/// CNCF distribution (Debian's `docker-registry`) on a free loopback port with storage in
/// `folder`; killed when dropped.
struct Distribution {
    child: std::process::Child,
    address: SocketAddr,
}

impl Distribution {
    fn start(folder: &std::path::Path) -> Distribution {
        std::fs::create_dir_all(folder).unwrap();
        // A free port: bound, read, released; distribution binds it right after.
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let config = folder.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n",
                folder.join("storage").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("docker-registry is not installed ({error}); scripts/test installs it, and this test never skips")
            });
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(address).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "distribution did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Distribution { child, address }
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn zb_runs_against_cncf_distribution_too() {
    // The same workloads against another registry, as scripts/bench-peers runs them: pushes
    // of both kinds, pulls (which need the Accept distribution negotiates on) and cleanup.
    let folder = common::temporary_root("zb-distribution", "none");
    let _guard = common::RootGuard(folder.clone());
    let distribution = Distribution::start(&folder);
    let report = json_run(
        distribution.address,
        &[
            "-t",
            "^(Push Monolith|Push Chunk Streamed|Pull) 1MB$|^Get Catalog$",
        ],
    );
    let tests = report["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 4, "{report}");
    for test in tests {
        let name = test["name"].as_str().unwrap();
        assert_eq!(test["completed"], 8, "{name}: {test}");
        assert_eq!(test["failed"], 0, "{name}: {test}");
        assert_eq!(
            test["cleanup_errors"],
            serde_json::json!({}),
            "{name}: {test}"
        );
    }
}

#[test]
fn zb_runs_with_one_run_identifier_reuse_their_repositories() {
    let served = serve("auto", 1);
    let catalog = || {
        let (status, catalog) = get_json(served.address, "/v2/_catalog");
        assert_eq!(status, 200);
        let mut names: Vec<String> = catalog["repositories"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|name| name.as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let arguments = ["-t", "^Push Monolith 1MB$", "--run-identifier", "soak1"];
    let report = json_run(served.address, &arguments);
    assert_eq!(report["tests"][0]["completed"], 8, "{report}");
    let first = catalog();
    assert_eq!(first.len(), 8, "one repository per push: {first:?}");
    assert!(
        first.iter().all(|name| name.starts_with("zb/soak1-")),
        "{first:?}"
    );
    let report = json_run(served.address, &arguments);
    assert_eq!(report["tests"][0]["completed"], 8, "{report}");
    assert_eq!(
        catalog(),
        first,
        "the second run pushed to the same repositories"
    );

    // Anything that would not be a valid part of a repository name is refused.
    for bad in ["", "Soak", "so/ak", "a23456789abcdefgh"] {
        let output = Command::new(zb_binary())
            .args([
                "--run-identifier",
                bad,
                &format!("http://{}", served.address),
            ])
            .output()
            .expect("zb runs");
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("--run-identifier"),
            "{bad:?}"
        );
    }
    served.stop();
}
