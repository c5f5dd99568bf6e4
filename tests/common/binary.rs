//! The real `zot` binary for the integration tests: started with a zot config on a free
//! loopback port, read until it says where it listens, stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use super::{RootGuard, temporary_root};

/// What a test server is started with; the rest of the config is zot's defaults.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// `runtime.driver`: `auto`, `io_uring` or `legacy`.
    pub driver: &'static str,
    /// `runtime.threads`.
    pub threads: usize,
    /// `storage.rootDirectory`; a fresh folder under the test's temporary folder when `None`.
    pub root: Option<PathBuf>,
    /// The config's `log` object.
    pub log: String,
    /// More members of the `storage` object, as JSON text starting with a comma, or empty.
    pub storage_extra: String,
    /// `http.port`; 0 picks a free one.
    pub port: u16,
    /// More members of the `http` object, as JSON text starting with a comma, or empty.
    pub http_extra: String,
    /// More members of the `runtime` object, as JSON text starting with a comma, or empty.
    pub runtime_extra: String,
    /// The `zot` executable: this test build's (`CARGO_BIN_EXE_zot`) when `None`, else for
    /// example [`release_binary`]'s.
    pub binary: Option<PathBuf>,
    /// Runs the server as this user and group id (the tests run as root): permission errors
    /// only happen to a process without root's override.
    pub user: Option<u32>,
}

impl ServeConfig {
    pub fn new(driver: &'static str, threads: usize) -> ServeConfig {
        ServeConfig {
            driver,
            threads,
            root: None,
            log: r#"{"level":"info"}"#.to_owned(),
            storage_extra: String::new(),
            port: 0,
            http_extra: String::new(),
            runtime_extra: String::new(),
            binary: None,
            user: None,
        }
    }
}

/// The release build of `binary` from package `package`, built on first use with the cargo that
/// builds these tests (a no-op when `scripts/test` built it already). Tests that measure or
/// race the server (crashes, soak) use it: the optimised code is what users run, and its timing
/// differs from the debug build's.
pub fn release_binary(package: &str, binary: &str) -> PathBuf {
    // The release folder beside this test build's profile folder (`target/debug`).
    let test_build = PathBuf::from(env!("CARGO_BIN_EXE_zot"));
    let profile_folder = test_build.parent().expect("the binary has a folder");
    let executable = profile_folder
        .parent()
        .expect("the profile folder has a target folder")
        .join("release")
        .join(binary);
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--locked", "--quiet", "-p", package])
        .args(["--bin", binary])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "cargo build --release -p {package} failed"
    );
    assert!(
        executable.is_file(),
        "no release build at {}",
        executable.display()
    );
    executable
}

/// A running `zot serve`. Dropping it kills the process, so a failing test leaves none behind;
/// `stop` is the clean way out and checks the exit.
#[derive(Debug)]
pub struct Served {
    child: Option<Child>,
    pub address: SocketAddr,
    /// Every line the server writes, stderr and stdout together, in arrival order per stream.
    pub output: Receiver<String>,
    /// The test's temporary folder (config, default root, anything else the test puts there).
    pub folder: PathBuf,
    /// The storage root the server serves.
    pub root: PathBuf,
    /// Lines read before the "listening on" one: stdout and stderr are forwarded by separate
    /// threads, so a log line can overtake it.
    early_lines: Vec<String>,
    _guard: RootGuard,
}

/// The two ways this build runs: io_uring with a listener per core (Linux servers), and the
/// legacy driver with one acceptor thread (the macOS path, run here so it is tested).
pub const MODES: [(&str, &str); 2] = [("io_uring", "reuseport"), ("legacy", "acceptor")];

/// A config for one of [`MODES`] on `threads` cores.
pub fn mode_config((driver, accept): (&'static str, &str), threads: usize) -> ServeConfig {
    ServeConfig {
        runtime_extra: format!(r#","accept":"{accept}""#),
        ..ServeConfig::new(driver, threads)
    }
}

/// The `zb` load generator, built once per test binary. zb is another package's binary, so
/// Cargo gives no `CARGO_BIN_EXE_zb`: it is built with the same Cargo, profile and target folder
/// as `zot`, and run from beside `zot`.
pub fn zb_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let zot = PathBuf::from(env!("CARGO_BIN_EXE_zot"));
        let release = zot
            .parent()
            .and_then(|folder| folder.file_name())
            .is_some_and(|name| name == "release");
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "-p", "zb", "--bin", "zb"]);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building zb failed");
        let binary = zot.with_file_name("zb");
        assert!(binary.exists(), "no zb at {}", binary.display());
        binary
    })
}

/// Starts `zot serve` on `threads` cores of `driver` with a fresh root.
pub fn serve(driver: &'static str, threads: usize) -> Served {
    serve_config(ServeConfig::new(driver, threads))
}

/// Starts `zot serve` with `config` and waits for its "listening on" line.
pub fn serve_config(config: ServeConfig) -> Served {
    let folder = temporary_root("serve", config.driver);
    let guard = RootGuard(folder.clone());
    let (config_path, root) = write_config(&folder, &config);
    let mut child = spawn_serve(&config, &config_path, Stdio::piped());
    // stderr carries the "listening on" line, stdout the log (zot's default log.output).
    let (sender, receiver) = channel();
    forward_lines(child.stderr.take().unwrap(), sender.clone());
    forward_lines(child.stdout.take().unwrap(), sender);
    let mut served = Served {
        child: Some(child),
        address: "0.0.0.0:0".parse().unwrap(),
        output: receiver,
        folder,
        root,
        early_lines: Vec::new(),
        _guard: guard,
    };
    loop {
        let line = served
            .output
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("zot serve did not start: {:?}", served.early_lines));
        if let Some(text) = line.strip_prefix("zot serve: listening on ") {
            served.address = text.parse().unwrap();
            return served;
        }
        served.early_lines.push(line);
    }
}

/// Runs `zot serve` with `config` expecting it to refuse to start: returns its exit code and
/// stderr. Fails the test if it is still running after 10 s.
pub fn serve_refused(config: ServeConfig) -> (Option<i32>, String) {
    let folder = temporary_root("serve-refused", config.driver);
    let _guard = RootGuard(folder.clone());
    let (config_path, _) = write_config(&folder, &config);
    let mut child = spawn_serve(&config, &config_path, Stdio::null());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("zot serve was expected to refuse to start, and is still running");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

/// `zot serve CONFIG` with its stderr piped and its stdout as given, as `config`'s binary and
/// user.
fn spawn_serve(config: &ServeConfig, config_path: &Path, stdout: Stdio) -> Child {
    let test_build = Path::new(env!("CARGO_BIN_EXE_zot"));
    let mut command = Command::new(config.binary.as_deref().unwrap_or(test_build));
    if let Some(user) = config.user {
        std::os::unix::process::CommandExt::uid(&mut command, user);
        std::os::unix::process::CommandExt::gid(&mut command, user);
    }
    command
        .args(["serve", config_path.to_str().unwrap()])
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Writes `config` as `folder/config.json`; returns its path and the storage root it names.
fn write_config(folder: &Path, config: &ServeConfig) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(folder).unwrap();
    let root = config.root.clone().unwrap_or_else(|| folder.join("data"));
    let config_path = folder.join("config.json");
    let text = format!(
        r#"{{"distSpecVersion":"1.1.1","storage":{{"rootDirectory":{root:?}{storage}}},"http":{{"address":"127.0.0.1","port":"{port}"{http}}},"log":{log},"runtime":{{"threads":{threads},"driver":"{driver}"{runtime}}}}}"#,
        storage = config.storage_extra,
        port = config.port,
        http = config.http_extra,
        runtime = config.runtime_extra,
        log = config.log,
        threads = config.threads,
        driver = config.driver,
    );
    std::fs::write(&config_path, text).unwrap();
    (config_path, root)
}

/// Sends each line of `stream` to `sender` until either end closes.
pub fn forward_lines(stream: impl std::io::Read + Send + 'static, sender: Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
}

impl Served {
    /// Wraps a server the test started itself (for example with no config at all).
    pub fn adopt(
        child: Child,
        address: SocketAddr,
        output: Receiver<String>,
        folder: &Path,
    ) -> Served {
        Served {
            child: Some(child),
            address,
            output,
            folder: folder.to_owned(),
            root: folder.to_owned(),
            early_lines: Vec::new(),
            _guard: RootGuard(folder.join("adopted-nothing")),
        }
    }

    /// The server's process id, to look at its descriptors in `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("still running").id()
    }

    /// `host:port` as clients name the registry.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    /// Waits until every core says it serves; returns those lines.
    pub fn core_lines(&self, threads: usize) -> Vec<String> {
        let mut lines: Vec<String> = self
            .early_lines
            .iter()
            .filter(|line| line.contains(" core "))
            .cloned()
            .collect();
        while lines.len() < threads {
            let line = self
                .output
                .recv_timeout(Duration::from_secs(20))
                .expect("core start lines");
            if line.contains(" core ") {
                lines.push(line);
            }
        }
        lines
    }

    /// SIGKILL, as a crash or a power cut looks to the files: nothing runs after it.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("stopped once");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, then a clean exit well within the grace period: idle keep-alive connections
    /// (the callers may hold some) close at once instead of waiting it out.
    pub fn stop(self) {
        self.terminate();
        self.wait_stopped();
    }

    /// SIGTERM, without waiting: the server starts draining.
    pub fn terminate(&self) {
        // SAFETY: kill(2) with a process id we spawned and a valid signal; no memory involved.
        let result = unsafe { libc::kill(self.pid() as i32, libc::SIGTERM) };
        assert_eq!(result, 0);
    }

    /// Waits for the exit that [`Served::terminate`] asked for: status 0, in under 5 s.
    pub fn wait_stopped(mut self) {
        let mut child = self.child.take().expect("stopped once");
        let started = Instant::now();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "zot serve exits 0 after SIGTERM");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "stopping took {:?}",
            started.elapsed()
        );
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
