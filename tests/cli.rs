//! Runs the built `zot` binary: `verify` on good and bad configs (exit status 0 or 2, the key path
//! on stderr), `serve` on a bad config and on none, `--version`, and checks that the example
//! configs in `examples/` load as documented.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zot::config::{Config, Driver, LogFormat};

fn zot(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zot"))
        .args(arguments)
        .output()
        .expect("the zot binary runs")
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// Writes `contents` to a fresh file and runs `zot <command> <file>`.
fn run_on(command: &str, contents: &str) -> (Output, tempfile::TempDir) {
    let folder = tempfile::tempdir().expect("temporary folder");
    let file = folder.path().join("config.json");
    std::fs::write(&file, contents).expect("write config");
    let output = zot(&[command, file.to_str().expect("UTF-8 path")]);
    (output, folder)
}

#[test]
fn verify_accepts_both_examples() {
    for name in ["config-minimal.json", "config-all.json"] {
        let file = example(name);
        let output = zot(&["verify", file.to_str().expect("UTF-8 path")]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{name}: {}",
            text(&output.stderr)
        );
        assert_eq!(text(&output.stderr), "", "{name}: no warnings expected");
        assert!(
            text(&output.stdout).contains("valid"),
            "{}",
            text(&output.stdout)
        );
    }
}

#[test]
fn the_all_keys_example_sets_every_supported_key_without_warnings() {
    let loaded = Config::load(&example("config-all.json")).expect("config-all.json loads");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = loaded.config;
    // Every key differs from its default, so a key the example forgot would show here.
    assert!(config.storage.commit);
    assert_eq!(config.storage.sub_paths.len(), 2);
    assert!(
        config
            .storage
            .sub_paths
            .values()
            .any(|sub_path| sub_path.dedupe)
    );
    assert!(
        config
            .storage
            .sub_paths
            .values()
            .any(|sub_path| sub_path.commit)
    );
    assert_eq!(config.http.port, 5000);
    assert_eq!(config.http.realm, "zot");
    assert!(config.http.compat.is_some());
    assert_eq!(config.log.format, LogFormat::Json);
    assert!(matches!(config.log.output, zot::config::LogOutput::File(_)));
    assert_eq!(config.runtime.threads.get(), 2);
    assert_eq!(config.runtime.driver, Driver::Auto);
    assert_eq!(config.runtime.accept, zot::config::Accept::Auto);
    assert_eq!(config.runtime.connections_per_core_max, 10000);
    assert_eq!(config.runtime.idle_timeout.as_secs(), 120);
    assert_eq!(config.runtime.head_timeout.as_secs(), 10);
    assert!(config.runtime.deletes);

    let minimal = Config::load(&example("config-minimal.json")).expect("config-minimal.json loads");
    assert!(minimal.warnings.is_empty(), "{:?}", minimal.warnings);
}

#[test]
fn verify_rejects_a_bad_value_with_exit_2_and_the_key_path() {
    let (output, _folder) = run_on(
        "verify",
        r#"{"storage": {"rootDirectory": "/tmp/zot"}, "http": {"port": "abc"}}"#,
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(r#"http.port: "abc" is not a port number"#),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(text(&output.stdout), "");
}

#[test]
fn verify_rejects_bad_configs_of_every_kind() {
    let cases = [
        (r#"{"storage": {}}"#, "storage.rootDirectory: is required"),
        (
            r#"{"storage": {"rootDirectory": "/tmp/zot", "dedupe": "yes"}}"#,
            "storage.dedupe",
        ),
        (
            r#"{"storage": {"rootDirectory": "/tmp/zot", "subPaths": {"a": {"rootDirectory": "/tmp/a"}}}}"#,
            r#"storage.subPaths["a"]"#,
        ),
        (
            r#"{"storage": {"rootDirectory": "/tmp/zot"}, "runtime": {"threads": 0}}"#,
            "runtime.threads",
        ),
        (
            r#"{"storage": {"rootDirectory": "/tmp/zot"}, "runtime": {"driver": "epoll"}}"#,
            "runtime.driver",
        ),
        (
            r#"{"storage": {"rootDirectory": "/tmp/zot"}, "http": {"port": 70000}}"#,
            "http.port",
        ),
        (
            r#"{"storage": {"rootDirectory": "/tmp/zot"}, "runtime": {"idleTimeoutSeconds": 0}}"#,
            "runtime.idleTimeoutSeconds: 0 is not a timeout in seconds (1 to 3600)",
        ),
        (
            r#"{"storage": {"rootDirectory": "/tmp/zot"}, "runtime": {"headTimeoutSeconds": 601}}"#,
            "runtime.headTimeoutSeconds: 601 is not a timeout in seconds (1 to 600)",
        ),
        (
            r#"{"storage": {"rootDirectory": "/tmp/zot"}, "http": {"auth": {"htpasswd": {"path": "/x"}}}}"#,
            "http.auth",
        ),
        (
            r#"{"storage": {"rootDirectory": "/tmp/zot"},"#,
            "not valid JSON at line 1",
        ),
    ];
    for (contents, words) in cases {
        let (output, _folder) = run_on("verify", contents);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{contents}: {stderr}");
        assert!(
            stderr.contains(words),
            "{contents}: {stderr:?} should mention {words:?}"
        );
    }
}

#[test]
fn verify_warns_but_accepts_unimplemented_and_unknown_keys() {
    let (output, _folder) = run_on(
        "verify",
        r#"{"storage": {"rootDirectory": "/tmp/zot", "gc": true}, "extensions": {}, "typo": 1}"#,
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.lines().count(), 3, "one line per key: {stderr}");
    assert!(
        stderr.contains("storage.gc: zot setting not implemented"),
        "{stderr}"
    );
    assert!(
        stderr.contains("extensions: zot setting not implemented"),
        "{stderr}"
    );
    assert!(stderr.contains("typo: unknown key"), "{stderr}");
}

#[test]
fn verify_reports_a_missing_file() {
    let output = zot(&["verify", "/nonexistent/zot-config.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("cannot read /nonexistent/zot-config.json"));
}

#[test]
fn verify_needs_a_file() {
    let output = zot(&["verify"]);
    assert_eq!(output.status.code(), Some(2), "clap's usage error status");
}

#[test]
fn serve_says_the_same_as_verify_about_a_bad_config() {
    let contents = r#"{"storage": {"rootDirectory": "/tmp/zot"}, "http": {"port": "x"}}"#;
    let (served, _serve_folder) = run_on("serve", contents);
    let (verified, _verify_folder) = run_on("verify", contents);
    assert_eq!(served.status.code(), Some(2));
    let serve_line = text(&served.stderr);
    let verify_line = text(&verified.stderr);
    let message = |line: &str| {
        line.rsplit_once("config.json: ")
            .map(|(_, message)| message.to_owned())
    };
    assert_eq!(
        message(&serve_line),
        message(&verify_line),
        "{serve_line} vs {verify_line}"
    );
    assert!(message(&serve_line).is_some(), "{serve_line}");
}

#[test]
fn version_prints_the_package_version() {
    for flag in ["--version", "-v"] {
        let output = zot(&[flag]);
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(
            text(&output.stdout).trim(),
            format!("zot {}", env!("CARGO_PKG_VERSION"))
        );
    }
}
