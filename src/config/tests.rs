//! Unit tests of config loading: every key, its default, wrong types, bad values, and the
//! warnings for keys this build does not implement or nobody knows.

use std::num::NonZeroUsize;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::limits::{
    CONFIG_FILE_BYTES_MAX, CONNECTION_IDLE_TIMEOUT, CONNECTION_IDLE_TIMEOUT_MAX,
    CONNECTIONS_PER_CORE_DEFAULT, CONNECTIONS_PER_CORE_MAX, REQUEST_HEAD_TIMEOUT,
    REQUEST_HEAD_TIMEOUT_MAX, RUNTIME_THREADS_MAX, SUB_PATHS_MAX,
};

// ---- helpers ---------------------------------------------------------------------------------

/// `{"storage": {"rootDirectory": "/srv/zot"}}` with `extra` merged in at the top level, one
/// section deep (a section in `extra` replaces or extends the base one key by key).
fn with(extra: Value) -> Value {
    let mut document = json!({"storage": {"rootDirectory": "/srv/zot"}});
    let (Value::Object(base), Value::Object(extra)) = (&mut document, extra) else {
        panic!("with() takes an object");
    };
    for (key, value) in extra {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(section)), Value::Object(fields)) => section.extend(fields),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
    document
}

fn load(document: Value) -> LoadedConfig {
    match Config::from_value(&document) {
        Ok(loaded) => loaded,
        Err(error) => panic!("{document} should load, got: {error}"),
    }
}

/// Loads `document`, asserting that it loads without warnings.
fn config(document: Value) -> Config {
    let loaded = load(document.clone());
    assert!(
        loaded.warnings.is_empty(),
        "{document}: unexpected warnings {:?}",
        loaded.warnings
    );
    loaded.config
}

fn error(document: Value) -> ConfigError {
    match Config::from_value(&document) {
        Ok(loaded) => panic!("{document} should fail, loaded {loaded:?}"),
        Err(error) => error,
    }
}

/// Asserts that `document` fails on `path` and that the one-line message names the path and
/// holds `words`.
fn assert_error(document: Value, path: &str, words: &str) {
    let error = error(document.clone());
    assert_eq!(error.path(), Some(path), "{document}: {error}");
    let message = error.to_string();
    assert!(message.starts_with(&format!("{path}: ")), "{message}");
    assert!(
        message.contains(words),
        "{message:?} should contain {words:?}"
    );
    assert!(!message.contains('\n'), "{message:?} is not one line");
}

fn assert_wrong_type(document: Value, path: &str) {
    let error = error(document.clone());
    assert!(
        matches!(error, ConfigError::WrongType { .. }),
        "{document}: {error:?}"
    );
    assert_eq!(error.path(), Some(path));
}

fn warnings(document: Value) -> Vec<ConfigWarning> {
    load(document).warnings
}

fn warning(path: &str, kind: WarningKind) -> ConfigWarning {
    ConfigWarning {
        path: path.to_owned(),
        kind,
    }
}

// ---- defaults --------------------------------------------------------------------------------

#[test]
fn embedded_default_is_what_serve_without_a_file_runs() {
    let config = Config::embedded_default();
    assert_eq!(config.http.address, "127.0.0.1");
    assert_eq!(config.http.port, 5000);
    assert_eq!(config.storage.root_directory, PathBuf::from("./zot-data"));
    assert!(config.storage.dedupe);
    assert!(!config.storage.commit);
    assert!(config.storage.sub_paths.is_empty());
    assert_eq!(config.log.level, LogLevel::Info);
    assert_eq!(config.log.output, LogOutput::Stdout);
    assert_eq!(config.log.format, LogFormat::Text);
    assert_eq!(config.runtime, RuntimeConfig::default_for_this_machine());
    assert_eq!(config.dist_spec_version, DIST_SPEC_VERSION);
    assert!(config.http.accepts_docker_manifests());
}

#[test]
fn a_file_with_only_the_root_gets_zot_defaults() {
    let config = config(json!({"storage": {"rootDirectory": "/srv/zot"}}));
    assert_eq!(config.storage.root_directory, PathBuf::from("/srv/zot"));
    assert!(config.storage.dedupe, "zot's dedupe default is true");
    assert!(!config.storage.commit);
    assert!(config.storage.sub_paths.is_empty());
    assert_eq!(config.http, HttpConfig::zot_default());
    assert_eq!(config.http.address, "127.0.0.1");
    assert_eq!(config.http.port, 8080, "zot's config.New() port");
    assert_eq!(config.http.realm, "");
    assert_eq!(config.http.compat, None);
    assert_eq!(
        config.log.level,
        LogLevel::Debug,
        "zot's config.New() level"
    );
    assert_eq!(config.log.output, LogOutput::Stdout);
    assert_eq!(config.log.format, LogFormat::Text);
    assert_eq!(config.dist_spec_version, DIST_SPEC_VERSION);
}

#[test]
fn runtime_threads_default_to_one_per_core() {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let config = config(with(json!({})));
    assert_eq!(config.runtime.threads.get(), cores.min(RUNTIME_THREADS_MAX));
    assert_eq!(config.runtime.driver, Driver::Auto);
}

#[test]
fn empty_sections_take_the_defaults() {
    let config = config(with(json!({"http": {}, "log": {}, "runtime": {}})));
    assert_eq!(config.http, HttpConfig::zot_default());
    assert_eq!(config.log, LogConfig::zot_default());
    assert_eq!(config.runtime, RuntimeConfig::default_for_this_machine());
}

#[test]
fn null_counts_as_absent() {
    let config = config(json!({
        "distSpecVersion": null,
        "storage": {"rootDirectory": "/srv/zot", "dedupe": null, "subPaths": null},
        "http": {"port": null},
        "log": null,
    }));
    assert!(config.storage.dedupe);
    assert_eq!(config.http.port, 8080);
    assert_eq!(config.log, LogConfig::zot_default());
}

// ---- every supported key ---------------------------------------------------------------------

#[test]
fn every_supported_key_is_read() {
    let config = config(json!({
        "distSpecVersion": "1.1.1",
        "storage": {
            "rootDirectory": "/srv/zot",
            "dedupe": false,
            "commit": true,
            "subPaths": {
                "/a": {"rootDirectory": "/srv/a", "dedupe": true, "commit": true},
            },
        },
        "http": {"address": "0.0.0.0", "port": "5001", "realm": "zot", "compat": ["docker2s2"]},
        "log": {"level": "warn", "output": "/var/log/zot.log", "format": "json"},
        "runtime": {
            "threads": 3,
            "driver": "legacy",
            "accept": "acceptor",
            "connectionsPerCoreMax": 100,
            "idleTimeoutSeconds": 120,
            "headTimeoutSeconds": 10,
            "deletes": false,
        },
    }));
    let expected = Config {
        dist_spec_version: DIST_SPEC_VERSION.to_owned(),
        storage: StorageConfig {
            root_directory: PathBuf::from("/srv/zot"),
            dedupe: false,
            commit: true,
            sub_paths: [(
                "/a".to_owned(),
                SubPathConfig {
                    root_directory: PathBuf::from("/srv/a"),
                    dedupe: true,
                    commit: true,
                },
            )]
            .into(),
        },
        http: HttpConfig {
            address: "0.0.0.0".to_owned(),
            port: 5001,
            realm: "zot".to_owned(),
            compat: Some(vec![Compatibility::DockerManifestV2Schema2]),
        },
        log: LogConfig {
            level: LogLevel::Warn,
            output: LogOutput::File(PathBuf::from("/var/log/zot.log")),
            format: LogFormat::Json,
        },
        runtime: RuntimeConfig {
            threads: NonZeroUsize::new(3).expect("3 is not zero"),
            driver: Driver::Legacy,
            accept: Accept::Acceptor,
            connections_per_core_max: 100,
            idle_timeout: std::time::Duration::from_secs(120),
            head_timeout: std::time::Duration::from_secs(10),
            deletes: false,
        },
    };
    assert_eq!(config, expected);
}

#[test]
fn keys_match_without_regard_to_case_as_in_zot() {
    let config = config(json!({
        "DistSpecVersion": "1.1.1",
        "Storage": {"RootDirectory": "/srv/zot", "DEDUPE": false, "SubPaths": {}},
        "HTTP": {"Port": 9000, "ADDRESS": "::1"},
        "Log": {"Level": "error"},
        "Runtime": {"Threads": 1, "DRIVER": "io_uring"},
    }));
    assert!(!config.storage.dedupe);
    assert_eq!(config.http.port, 9000);
    assert_eq!(config.http.address, "::1");
    assert_eq!(config.log.level, LogLevel::Error);
    assert_eq!(config.runtime.driver, Driver::IoUring);
}

#[test]
fn keys_equal_but_for_case_are_an_error() {
    let error = error(json!({"storage": {"rootDirectory": "/a", "RootDirectory": "/b"}}));
    assert!(
        matches!(error, ConfigError::DuplicateKey { .. }),
        "{error:?}"
    );
    assert!(
        error
            .path()
            .is_some_and(|path| path.starts_with("storage.")),
        "{error}"
    );
    assert!(error.to_string().contains("given twice"), "{error}");
}

// ---- distSpecVersion -------------------------------------------------------------------------

#[test]
fn dist_spec_version_other_than_served_is_a_warning_like_in_zot() {
    let loaded = load(with(json!({"distSpecVersion": "1.1.0-dev"})));
    assert_eq!(
        loaded.warnings,
        [warning(
            "distSpecVersion",
            WarningKind::DistSpecVersion {
                configured: "1.1.0-dev".to_owned()
            }
        )]
    );
    assert_eq!(loaded.config.dist_spec_version, DIST_SPEC_VERSION);
    assert!(loaded.warnings[0].to_string().contains("\"1.1.0-dev\""));
    assert!(warnings(with(json!({"distSpecVersion": DIST_SPEC_VERSION}))).is_empty());
}

#[test]
fn dist_spec_version_must_be_a_string() {
    assert_wrong_type(with(json!({"distSpecVersion": 1.1})), "distSpecVersion");
}

// ---- storage ---------------------------------------------------------------------------------

#[test]
fn root_directory_is_required() {
    assert!(
        matches!(error(json!({})), ConfigError::Missing { path } if path == "storage.rootDirectory")
    );
    assert!(matches!(
        error(json!({"storage": {"dedupe": true}})),
        ConfigError::Missing { path } if path == "storage.rootDirectory"
    ));
    assert_eq!(
        error(json!({})).to_string(),
        "storage.rootDirectory: is required"
    );
}

#[test]
fn root_directory_relative_and_absolute_are_kept_as_written() {
    for root in [
        "/srv/zot",
        "zot-data",
        "./zot-data",
        "../elsewhere/zot",
        "/srv/zot/",
    ] {
        let config = config(json!({"storage": {"rootDirectory": root}}));
        assert_eq!(config.storage.root_directory, PathBuf::from(root));
    }
}

#[test]
fn root_directory_bad_values() {
    assert_error(
        json!({"storage": {"rootDirectory": ""}}),
        "storage.rootDirectory",
        "empty",
    );
    assert_error(
        json!({"storage": {"rootDirectory": "/a\u{0}b"}}),
        "storage.rootDirectory",
        "NUL",
    );
    assert_wrong_type(
        json!({"storage": {"rootDirectory": 5}}),
        "storage.rootDirectory",
    );
    assert_wrong_type(
        json!({"storage": {"rootDirectory": ["/a"]}}),
        "storage.rootDirectory",
    );
    assert_wrong_type(json!({"storage": "/srv/zot"}), "storage");
}

#[test]
fn booleans_convert_as_zot_converts_them() {
    for (written, expected) in [
        (json!(true), true),
        (json!(false), false),
        (json!(1), true),
        (json!(0), false),
        (json!(2.5), true),
        (json!("true"), true),
        (json!("True"), true),
        (json!("1"), true),
        (json!("t"), true),
        (json!("FALSE"), false),
        (json!("f"), false),
        (json!(""), false),
    ] {
        let config = config(with(
            json!({"storage": {"dedupe": written.clone(), "commit": written.clone()}}),
        ));
        assert_eq!(config.storage.dedupe, expected, "dedupe {written}");
        assert_eq!(config.storage.commit, expected, "commit {written}");
    }
}

#[test]
fn booleans_bad_values() {
    assert_error(
        with(json!({"storage": {"dedupe": "yes"}})),
        "storage.dedupe",
        "\"yes\" is not a boolean",
    );
    assert_error(
        with(json!({"storage": {"commit": "on"}})),
        "storage.commit",
        "not a boolean",
    );
    assert_wrong_type(
        with(json!({"storage": {"dedupe": [true]}})),
        "storage.dedupe",
    );
    assert_wrong_type(with(json!({"storage": {"commit": {}}})), "storage.commit");
}

#[test]
fn sub_paths_are_read_with_zot_entry_defaults() {
    let config = config(with(json!({"storage": {"subPaths": {
        "/a": {"rootDirectory": "/srv/a"},
        "/b": {"rootDirectory": "relative/b", "dedupe": true, "commit": "true"},
    }}})));
    let sub_paths = &config.storage.sub_paths;
    assert_eq!(sub_paths.len(), 2);
    // zot decodes entries without the top-level defaults: dedupe is false unless written.
    assert_eq!(
        sub_paths["/a"],
        SubPathConfig {
            root_directory: PathBuf::from("/srv/a"),
            dedupe: false,
            commit: false
        }
    );
    assert_eq!(
        sub_paths["/b"],
        SubPathConfig {
            root_directory: PathBuf::from("relative/b"),
            dedupe: true,
            commit: true
        }
    );
}

#[test]
fn sub_path_prefixes_fold_to_lowercase_as_in_zot() {
    let config = config(with(
        json!({"storage": {"subPaths": {"/Team": {"rootDirectory": "/srv/t"}}}}),
    ));
    assert!(config.storage.sub_paths.contains_key("/team"));
    let error = error(with(json!({"storage": {"subPaths": {
        "/a": {"rootDirectory": "/srv/a"},
        "/A": {"rootDirectory": "/srv/b"},
    }}})));
    assert!(
        matches!(error, ConfigError::DuplicateKey { .. }),
        "{error:?}"
    );
}

#[test]
fn sub_path_routing_follows_the_first_component() {
    let config = config(with(
        json!({"storage": {"subPaths": {"/team": {"rootDirectory": "/srv/t"}}}}),
    ));
    let storage = &config.storage;
    assert_eq!(
        storage.sub_path_for("team/app").map(|(prefix, _)| prefix),
        Some("/team")
    );
    assert_eq!(
        storage
            .sub_path_for("team/app/nested")
            .map(|(prefix, _)| prefix),
        Some("/team")
    );
    assert_eq!(
        storage.sub_path_for("team"),
        None,
        "a one-component name stays in the main root"
    );
    assert_eq!(storage.sub_path_for("other/app"), None);
    assert_eq!(storage.sub_path_for("teams/app"), None);
}

#[test]
fn sub_path_invalid_prefixes() {
    let cases = [
        ("team", "must start with '/'"),
        ("", "must start with '/'"),
        ("/", "names no namespace"),
        ("/a/b", "more than one component"),
        ("/a/", "more than one component"),
        ("/-a", "repository-name component"),
        ("/a..b", "repository-name component"),
        ("/a b", "repository-name component"),
        ("/.", "repository-name component"),
        ("/..", "repository-name component"),
    ];
    for (prefix, words) in cases {
        let document =
            with(json!({"storage": {"subPaths": {prefix: {"rootDirectory": "/srv/x"}}}}));
        let path = format!("storage.subPaths[{}]", Value::String(prefix.to_owned()));
        assert_error(document, &path, words);
    }
}

#[test]
fn sub_path_entry_bad_values() {
    let entry = |value: Value| with(json!({"storage": {"subPaths": {"/a": value}}}));
    assert!(matches!(
        error(entry(json!({"dedupe": true}))),
        ConfigError::Missing { path } if path == "storage.subPaths[\"/a\"].rootDirectory"
    ));
    assert_wrong_type(entry(json!("/srv/a")), "storage.subPaths[\"/a\"]");
    assert_error(
        entry(json!({"rootDirectory": "/srv/a", "dedupe": "maybe"})),
        "storage.subPaths[\"/a\"].dedupe",
        "not a boolean",
    );
    assert_error(
        entry(json!({"rootDirectory": ""})),
        "storage.subPaths[\"/a\"].rootDirectory",
        "empty",
    );
    assert_wrong_type(
        with(json!({"storage": {"subPaths": ["/a"]}})),
        "storage.subPaths",
    );
}

#[test]
fn sub_path_roots_must_be_separate_folders() {
    let sub = |root: &str| with(json!({"storage": {"subPaths": {"/a": {"rootDirectory": root}}}}));
    let path = "storage.subPaths[\"/a\"].rootDirectory";
    assert_error(sub("/srv/zot"), path, "storage.rootDirectory itself");
    // zot compares these roots ignoring case.
    assert_error(sub("/SRV/zot"), path, "storage.rootDirectory itself");
    assert_error(sub("/srv/zot/"), path, "storage.rootDirectory itself");
    assert_error(sub("/srv/zot/a"), path, "one inside the other");
    assert_error(sub("/srv"), path, "one inside the other");
    // A sibling whose name merely starts the same is a separate folder.
    assert_eq!(config(sub("/srv/zot1")).storage.sub_paths.len(), 1);
}

#[test]
fn sub_paths_may_share_a_root_only_with_the_same_settings() {
    let document = |dedupe_b: bool| {
        with(json!({"storage": {"subPaths": {
            "/a": {"rootDirectory": "/srv/shared", "dedupe": true},
            "/b": {"rootDirectory": "/srv/shared", "dedupe": dedupe_b},
        }}}))
    };
    assert_eq!(config(document(true)).storage.sub_paths.len(), 2);
    assert_error(
        document(false),
        "storage.subPaths[\"/b\"].rootDirectory",
        "must agree",
    );
    let nested = with(json!({"storage": {"subPaths": {
        "/a": {"rootDirectory": "/srv/a"},
        "/b": {"rootDirectory": "/srv/a/b"},
    }}}));
    assert_error(
        nested,
        "storage.subPaths[\"/b\"].rootDirectory",
        "one inside the other",
    );
}

#[test]
fn sub_paths_are_bounded() {
    let entries: serde_json::Map<String, Value> = (0..=SUB_PATHS_MAX)
        .map(|index| {
            (
                format!("/p{index}"),
                json!({"rootDirectory": format!("/srv/p{index}")}),
            )
        })
        .collect();
    assert_error(
        with(json!({"storage": {"subPaths": entries}})),
        "storage.subPaths",
        "at most",
    );
}

// ---- http ------------------------------------------------------------------------------------

#[test]
fn port_is_a_string_or_a_number_as_in_zot() {
    for (written, expected) in [
        (json!("8080"), 8080),
        (json!(8080), 8080),
        (json!("1"), 1),
        (json!(65535), 65535),
        (json!("65535"), 65535),
        (json!("08080"), 8080),
        // zot's examples/config-autoport.json: the operating system picks a free port.
        (json!("0"), 0),
        (json!(0), 0),
    ] {
        assert_eq!(
            config(with(json!({"http": {"port": written.clone()}})))
                .http
                .port,
            expected,
            "{written}"
        );
    }
}

#[test]
fn port_bad_values() {
    let port = |value: Value| with(json!({"http": {"port": value}}));
    assert_eq!(
        error(port(json!("abc"))).to_string(),
        "http.port: \"abc\" is not a port number (0 to 65535)"
    );
    for bad in [
        json!("x"),
        json!("70000"),
        json!(70000),
        json!(65536),
        json!("-1"),
        json!(-1),
        json!("+80"),
        json!(" 80"),
        json!(""),
        json!(80.5),
        json!("99999999999999999999999"),
    ] {
        assert_error(port(bad), "http.port", "is not a port number");
    }
    assert_wrong_type(port(json!(true)), "http.port");
    assert_wrong_type(port(json!([80])), "http.port");
}

#[test]
fn address_accepts_ip_addresses_host_names_and_empty() {
    for address in [
        "127.0.0.1",
        "0.0.0.0",
        "::",
        "::1",
        "fe80::1",
        "localhost",
        "registry.example.com",
        "registry.example.com.",
        "",
    ] {
        assert_eq!(
            config(with(json!({"http": {"address": address}})))
                .http
                .address,
            address
        );
    }
}

#[test]
fn address_bad_values() {
    let address = |value: Value| with(json!({"http": {"address": value}}));
    assert_error(address(json!("[::1]")), "http.address", "without brackets");
    assert_error(
        address(json!("127.0.0.1:5000")),
        "http.address",
        "http.port",
    );
    assert_error(
        address(json!("bad host!")),
        "http.address",
        "not an IP address or a host name",
    );
    assert_error(
        address(json!("-lead.example")),
        "http.address",
        "not an IP address",
    );
    assert_error(address(json!("a..b")), "http.address", "not an IP address");
    assert_wrong_type(address(json!(127)), "http.address");
}

#[test]
fn realm_is_a_string() {
    assert_eq!(
        config(with(json!({"http": {"realm": "my registry"}})))
            .http
            .realm,
        "my registry"
    );
    assert_wrong_type(with(json!({"http": {"realm": 1}})), "http.realm");
}

#[test]
fn compat_lists_docker2s2() {
    let compat = |value: Value| config(with(json!({"http": {"compat": value}}))).http;
    let listed = compat(json!(["docker2s2"]));
    assert_eq!(
        listed.compat,
        Some(vec![Compatibility::DockerManifestV2Schema2])
    );
    assert!(listed.accepts_docker_manifests());
    // A single string is a list of one, as zot's decoder reads it.
    assert_eq!(
        compat(json!("docker2s2")).compat,
        Some(vec![Compatibility::DockerManifestV2Schema2])
    );
    assert_eq!(
        compat(json!(["docker2s2", "docker2s2"]))
            .compat
            .map(|list| list.len()),
        Some(1)
    );
    let empty = compat(json!([]));
    assert_eq!(empty.compat, Some(vec![]));
    assert!(
        !empty.accepts_docker_manifests(),
        "an explicit list without docker2s2 turns it off"
    );
    assert!(
        HttpConfig::zot_default().accepts_docker_manifests(),
        "absent: accepted"
    );
}

#[test]
fn compat_bad_values() {
    let compat = |value: Value| with(json!({"http": {"compat": value}}));
    assert_error(
        compat(json!(["docker2s2", "oci"])),
        "http.compat[1]",
        "\"oci\" is not a compatibility mode",
    );
    assert_error(
        compat(json!("Docker2S2")),
        "http.compat",
        "not a compatibility mode",
    );
    assert_wrong_type(compat(json!([5])), "http.compat[0]");
    assert_wrong_type(compat(json!({"docker2s2": true})), "http.compat");
}

// ---- log -------------------------------------------------------------------------------------

#[test]
fn log_levels_are_zerolog_names_ignoring_case() {
    for (written, expected) in [
        ("trace", LogLevel::Trace),
        ("debug", LogLevel::Debug),
        ("info", LogLevel::Info),
        ("INFO", LogLevel::Info),
        ("Warn", LogLevel::Warn),
        ("error", LogLevel::Error),
        ("fatal", LogLevel::Error),
        ("panic", LogLevel::Error),
        ("disabled", LogLevel::Off),
    ] {
        assert_eq!(
            config(with(json!({"log": {"level": written}}))).log.level,
            expected,
            "{written}"
        );
    }
}

#[test]
fn log_level_bad_values() {
    assert_error(
        with(json!({"log": {"level": "verbose"}})),
        "log.level",
        "\"verbose\" is not a log level",
    );
    assert_error(
        with(json!({"log": {"level": ""}})),
        "log.level",
        "is not a log level",
    );
    assert_wrong_type(with(json!({"log": {"level": 1}})), "log.level");
}

#[test]
fn log_output_and_format() {
    let log = |value: Value| config(with(json!({"log": value}))).log;
    assert_eq!(log(json!({"output": ""})).output, LogOutput::Stdout);
    let to_file = log(json!({"output": "/var/log/zot.log"}));
    assert_eq!(
        to_file.output,
        LogOutput::File(PathBuf::from("/var/log/zot.log"))
    );
    assert!(to_file.writes_json(), "a log file gets JSON lines");
    assert_eq!(log(json!({"format": "text"})).format, LogFormat::Text);
    assert!(!log(json!({"format": "text"})).writes_json());
    assert!(log(json!({"format": "json"})).writes_json());
    assert_error(
        with(json!({"log": {"format": "xml"}})),
        "log.format",
        "not a log format",
    );
    assert_error(
        with(json!({"log": {"output": "a\u{0}"}})),
        "log.output",
        "NUL",
    );
    assert_wrong_type(with(json!({"log": {"output": false}})), "log.output");
    assert_wrong_type(with(json!({"log": "debug"})), "log");
}

// ---- runtime ---------------------------------------------------------------------------------

#[test]
fn runtime_threads_and_driver() {
    let runtime = |value: Value| config(with(json!({"runtime": value}))).runtime;
    assert_eq!(runtime(json!({"threads": 1})).threads.get(), 1);
    assert_eq!(
        runtime(json!({"threads": RUNTIME_THREADS_MAX}))
            .threads
            .get(),
        RUNTIME_THREADS_MAX
    );
    assert_eq!(runtime(json!({"driver": "auto"})).driver, Driver::Auto);
    assert_eq!(
        runtime(json!({"driver": "io_uring"})).driver,
        Driver::IoUring
    );
    assert_eq!(runtime(json!({"driver": "legacy"})).driver, Driver::Legacy);
}

#[test]
fn runtime_bad_values() {
    let runtime = |value: Value| with(json!({"runtime": value}));
    assert_error(
        runtime(json!({"threads": 0})),
        "runtime.threads",
        "0 is not a thread count",
    );
    assert_error(
        runtime(json!({"threads": RUNTIME_THREADS_MAX + 1})),
        "runtime.threads",
        "not a thread count",
    );
    assert_error(
        runtime(json!({"threads": -2})),
        "runtime.threads",
        "not a thread count",
    );
    assert_error(
        runtime(json!({"threads": 2.5})),
        "runtime.threads",
        "not a thread count",
    );
    assert_wrong_type(runtime(json!({"threads": "4"})), "runtime.threads");
    assert_error(
        runtime(json!({"driver": "uring"})),
        "runtime.driver",
        "\"uring\" is not a driver",
    );
    assert_error(
        runtime(json!({"driver": "IO_URING"})),
        "runtime.driver",
        "not a driver",
    );
    assert_wrong_type(runtime(json!({"driver": 1})), "runtime.driver");
    assert_wrong_type(with(json!({"runtime": 4})), "runtime");
}

#[test]
fn runtime_accept_connections_and_deletes() {
    let runtime = |value: Value| config(with(json!({"runtime": value}))).runtime;
    let defaults = runtime(json!({}));
    assert_eq!(defaults.accept, Accept::Auto);
    assert_eq!(
        defaults.connections_per_core_max,
        CONNECTIONS_PER_CORE_DEFAULT
    );
    assert!(defaults.deletes);
    assert_eq!(
        runtime(json!({"accept": "reuseport"})).accept,
        Accept::ReusePort
    );
    assert_eq!(
        runtime(json!({"accept": "acceptor"})).accept,
        Accept::Acceptor
    );
    assert_eq!(
        runtime(json!({"connectionsPerCoreMax": 1})).connections_per_core_max,
        1
    );
    assert!(!runtime(json!({"deletes": false})).deletes);
    let bad = |value: Value| with(json!({"runtime": value}));
    assert_error(
        bad(json!({"accept": "single"})),
        "runtime.accept",
        "\"single\" is not an accept mode",
    );
    assert_error(
        bad(json!({"connectionsPerCoreMax": 0})),
        "runtime.connectionsPerCoreMax",
        "0 is not a connection count",
    );
    assert_error(
        bad(json!({"connectionsPerCoreMax": CONNECTIONS_PER_CORE_MAX + 1})),
        "runtime.connectionsPerCoreMax",
        "not a connection count",
    );
    assert_wrong_type(
        bad(json!({"connectionsPerCoreMax": "10"})),
        "runtime.connectionsPerCoreMax",
    );
    assert_error(
        bad(json!({"deletes": "no"})),
        "runtime.deletes",
        "\"no\" is not a boolean",
    );
}

#[test]
fn runtime_timeouts() {
    let runtime = |value: Value| config(with(json!({"runtime": value}))).runtime;
    let defaults = runtime(json!({}));
    assert_eq!(defaults.idle_timeout, CONNECTION_IDLE_TIMEOUT);
    assert_eq!(defaults.idle_timeout.as_secs(), 60);
    assert_eq!(defaults.head_timeout, REQUEST_HEAD_TIMEOUT);
    assert_eq!(defaults.head_timeout.as_secs(), 5);
    let set = runtime(json!({"idleTimeoutSeconds": 1, "headTimeoutSeconds": 1}));
    assert_eq!(set.idle_timeout.as_secs(), 1);
    assert_eq!(set.head_timeout.as_secs(), 1);
    let set = runtime(json!({
        "idleTimeoutSeconds": CONNECTION_IDLE_TIMEOUT_MAX.as_secs(),
        "headTimeoutSeconds": REQUEST_HEAD_TIMEOUT_MAX.as_secs(),
    }));
    assert_eq!(set.idle_timeout.as_secs(), 3600);
    assert_eq!(set.head_timeout.as_secs(), 600);
    // A head timeout longer than the idle one is allowed: the idle timeout still cuts a head
    // that stops, the head timeout one that trickles.
    let set = runtime(json!({"idleTimeoutSeconds": 2, "headTimeoutSeconds": 30}));
    assert_eq!(
        (set.idle_timeout.as_secs(), set.head_timeout.as_secs()),
        (2, 30)
    );

    let bad = |value: Value| with(json!({"runtime": value}));
    for (key, max) in [
        ("idleTimeoutSeconds", CONNECTION_IDLE_TIMEOUT_MAX.as_secs()),
        ("headTimeoutSeconds", REQUEST_HEAD_TIMEOUT_MAX.as_secs()),
    ] {
        let path = format!("runtime.{key}");
        let range = format!("is not a timeout in seconds (1 to {max})");
        assert_error(bad(json!({key: 0})), &path, &format!("0 {range}"));
        assert_error(bad(json!({key: max + 1})), &path, &range);
        assert_error(bad(json!({key: -1})), &path, &range);
        assert_error(bad(json!({key: 1.5})), &path, &range);
        assert_wrong_type(bad(json!({key: "5"})), &path);
        assert_wrong_type(bad(json!({key: true})), &path);
    }
}

// ---- keys this build does not read -----------------------------------------------------------

#[test]
fn every_unimplemented_zot_key_is_one_warning_with_its_path() {
    let tables: [(&str, &[keys::ZotKey]); 4] = [
        ("", keys::TOP_LEVEL),
        ("storage", keys::STORAGE),
        ("http", keys::HTTP),
        ("log", keys::LOG),
    ];
    for (section, table) in tables {
        for key in table.iter().filter(|key| key.refusal.is_none()) {
            let document = if section.is_empty() {
                with(json!({key.name: {"anything": 1}}))
            } else {
                with(json!({section: {key.name: {"anything": 1}}}))
            };
            let path = if section.is_empty() {
                key.name.to_owned()
            } else {
                format!("{section}.{}", key.name)
            };
            let found = warnings(document);
            assert_eq!(found, [warning(&path, WarningKind::NotImplemented)]);
            let line = found[0].to_string();
            assert!(
                line.starts_with(&format!("{path}: ")) && line.contains("not implemented"),
                "{line}"
            );
        }
    }
}

#[test]
fn unimplemented_keys_in_sub_path_entries_are_warned_with_their_path() {
    let found = warnings(with(json!({"storage": {"subPaths": {
        "/a": {"rootDirectory": "/srv/a", "gc": true, "gcDelay": "1h", "storageDriver": {"name": "s3"}},
    }}})));
    let mut paths: Vec<&str> = found.iter().map(|warning| warning.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "storage.subPaths[\"/a\"].gc",
            "storage.subPaths[\"/a\"].gcDelay",
            "storage.subPaths[\"/a\"].storageDriver",
        ]
    );
    assert!(
        found
            .iter()
            .all(|warning| warning.kind == WarningKind::NotImplemented)
    );
}

#[test]
fn a_typical_zot_config_warns_once_per_unimplemented_key() {
    let found = warnings(json!({
        "distSpecVersion": "1.1.1",
        "storage": {"rootDirectory": "/tmp/zot", "gc": true, "gcDelay": "1h", "gcInterval": "24h"},
        "http": {"address": "127.0.0.1", "port": "8080", "ratelimit": {"rate": 10}},
        "log": {"level": "debug", "audit": "/tmp/audit.log"},
        "extensions": {"search": {"enable": true}, "ui": {"enable": true}},
        "scheduler": {"numWorkers": 3},
    }));
    assert_eq!(found.len(), 7, "{found:?}");
    for path in [
        "storage.gc",
        "storage.gcDelay",
        "storage.gcInterval",
        "http.ratelimit",
        "log.audit",
        "extensions",
        "scheduler",
    ] {
        assert!(
            found.contains(&warning(path, WarningKind::NotImplemented)),
            "{path} in {found:?}"
        );
    }
}

#[test]
fn unsafe_to_ignore_keys_stop_loading() {
    for key in ["tls", "auth", "accessControl"] {
        let error = error(with(json!({"http": {key: {"cert": "/etc/cert.pem"}}})));
        let path = format!("http.{key}");
        assert!(
            matches!(&error, ConfigError::Unsupported { .. }),
            "{error:?}"
        );
        assert_eq!(error.path(), Some(path.as_str()));
        assert!(
            error
                .to_string()
                .starts_with(&format!("{path}: zot setting not implemented")),
            "{error}"
        );
    }
    // null configures nothing, so there is nothing unsafe to ignore; still reported.
    assert_eq!(
        warnings(with(json!({"http": {"auth": null}}))),
        [warning("http.auth", WarningKind::NotImplemented)]
    );
}

#[test]
fn unknown_keys_are_one_warning_each_in_every_section() {
    let found = warnings(json!({
        "storage": {"rootDirectory": "/srv/zot", "dedup": true, "subPaths": {"/a": {"rootDirectory": "/srv/a", "root": "x"}}},
        "http": {"host": "x"},
        "log": {"levle": "info"},
        "runtime": {"cores": 4},
        "rootDirectory": "/tmp/zot",
    }));
    let mut paths: Vec<&str> = found.iter().map(|warning| warning.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "http.host",
            "log.levle",
            "rootDirectory",
            "runtime.cores",
            "storage.dedup",
            "storage.subPaths[\"/a\"].root"
        ]
    );
    assert!(
        found
            .iter()
            .all(|warning| warning.kind == WarningKind::Unknown)
    );
    assert!(found[0].to_string().contains("unknown key"));
}

#[test]
fn odd_keys_are_quoted_on_one_line() {
    let found = warnings(with(json!({"http": {"two\nlines": 1, "a.b": 2}})));
    let mut paths: Vec<String> = found.iter().map(|warning| warning.path.clone()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["http[\"a.b\"]", "http[\"two\\nlines\"]"]);
    assert!(
        found
            .iter()
            .all(|warning| !warning.to_string().contains('\n'))
    );
}

// ---- the document as a whole -----------------------------------------------------------------

#[test]
fn text_that_is_not_json_reports_its_position() {
    let error =
        Config::parse("{\n  \"storage\": {\n    \"rootDirectory\": \"/srv\",\n  }\n}").err();
    let Some(ConfigError::Syntax {
        line,
        column,
        message,
    }) = error
    else {
        panic!("expected a syntax error, got {error:?}");
    };
    assert_eq!((line, column), (4, 3));
    assert!(!message.contains("at line"), "{message}");
}

#[test]
fn the_document_must_be_an_object() {
    for document in [json!([]), json!("storage"), json!(null), json!(1)] {
        assert_wrong_type(document, "(top level)");
    }
}

#[test]
fn text_over_the_size_limit_is_refused_before_parsing() {
    let text = format!(
        "{{\"storage\": {{\"rootDirectory\": \"/srv\"}}, \"pad\": \"{}\"}}",
        " ".repeat(CONFIG_FILE_BYTES_MAX)
    );
    assert!(
        matches!(Config::parse(&text), Err(ConfigError::TooLarge { bytes_max }) if bytes_max == CONFIG_FILE_BYTES_MAX)
    );
}

#[test]
fn long_values_are_elided_in_messages() {
    let long = "x".repeat(10_000);
    let message = error(with(json!({"http": {"port": long}}))).to_string();
    assert!(message.len() < 200, "{message}");
    assert!(message.contains('…'), "{message}");
}

#[test]
fn load_reads_a_file_and_reports_missing_files() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let file = folder.path().join("config.json");
    std::fs::write(
        &file,
        r#"{"storage": {"rootDirectory": "/srv/zot"}, "http": {"port": 5001}}"#,
    )
    .expect("write config");
    let loaded = Config::load(&file).expect("loads");
    assert_eq!(loaded.config.http.port, 5001);
    let missing = folder.path().join("missing.json");
    let error = Config::load(&missing).expect_err("missing file");
    assert!(
        matches!(&error, ConfigError::Read { file, .. } if *file == missing),
        "{error:?}"
    );
    assert!(error.to_string().contains("missing.json"), "{error}");
}

#[test]
fn load_refuses_files_over_the_size_limit() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let file = folder.path().join("big.json");
    std::fs::write(&file, vec![b' '; CONFIG_FILE_BYTES_MAX + 1]).expect("write config");
    assert!(matches!(
        Config::load(&file),
        Err(ConfigError::TooLarge { .. })
    ));
}

#[test]
fn load_reporting_prints_one_line_per_warning_or_the_error() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let file = folder.path().join("config.json");
    std::fs::write(
        &file,
        r#"{"storage": {"rootDirectory": "/srv/zot", "gc": true}, "bogus": 1}"#,
    )
    .expect("write config");
    let mut output = Vec::new();
    assert!(load_reporting("zot verify", &file, &mut output).is_some());
    let text = String::from_utf8(output).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines
            .iter()
            .all(|line| line.starts_with("zot verify: warning: ")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line
                .ends_with("storage.gc: zot setting not implemented by this build; ignored")),
        "{text}"
    );
    assert!(
        lines.iter().any(|line| line.contains("bogus: unknown key")),
        "{text}"
    );

    std::fs::write(
        &file,
        r#"{"storage": {"rootDirectory": "/srv/zot"}, "http": {"port": "x"}}"#,
    )
    .expect("write config");
    let mut output = Vec::new();
    assert!(load_reporting("zot serve", &file, &mut output).is_none());
    let text = String::from_utf8(output).expect("UTF-8");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("zot serve: error: "), "{text}");
    assert!(
        text.trim_end()
            .ends_with("http.port: \"x\" is not a port number (0 to 65535)"),
        "{text}"
    );
}
