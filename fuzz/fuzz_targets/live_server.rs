//! Fuzz target: arbitrary bytes sent to a live zot server running in this process (the real
//! per-core runtime, HTTP connection loop, registry and storage engine, on a temporary root with
//! a few repositories already pushed). After each input the server must still answer `GET /v2/`
//! with 200 on a new connection; every hundred inputs its roots must pass the offline invariant
//! check (`zot scrub`'s, without hashing blobs) while it sits idle; and every few thousand it is
//! stopped, its roots checked again with every blob hashed, and a fresh root replaces them.
//!
//! A failed check is reported on the input that ran just before it, which need not be the one
//! that did the damage: the target then writes every input the root has served, in order, to a
//! folder next to the artifacts, and prints how to replay them with a check after each one.
//!
//! The input is the raw bytes of the connection, so seeds and crash artifacts are plain HTTP that
//! `nc` can replay. Two things are derived from it: every `@upload@` is replaced by the session
//! of an upload opened just before (session identifiers are random, so the fuzzer could never
//! guess one), and a hash of the bytes picks whether and where they are split into two writes
//! with a pause between, so the server also sees requests arrive in pieces.
#![no_main]

use std::borrow::Cow;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown as SocketShutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use storage_engine::invariants::{CheckOptions, check_root};
use zot::config::Config;
use zot::runtime::{RunError, RunReport, Server, Shutdown};
use zot::serve::{runtime_config, serve_cores};

/// The server's idle timeout: the time a connection may send nothing, mid-request or between
/// requests. The real server waits a minute; here it bounds how long an input that stops
/// mid-request can hold the server, and so the time per input.
const IDLE_TIMEOUT: Duration = Duration::from_millis(100);

/// How long one input's exchange may take, from connecting to the server closing the connection.
/// The client half-closes after its last byte, so the server sees the end at once; anything
/// longer than this (many idle timeouts) is a connection the server never finishes.
const EXCHANGE_BOUND: Duration = Duration::from_secs(3);

/// How long the `GET /v2/` after each input may take. libFuzzer's CI timeout is 10 s per input,
/// and the exchange plus the probe must fit well inside it.
const PROBE_BOUND: Duration = Duration::from_secs(3);

/// How long a freshly started server may take to answer its first `GET /v2/`; it starts within
/// an input (every [`INPUTS_PER_ROOT`]), so this stays under libFuzzer's CI timeout of 10 s too.
const START_BOUND: Duration = Duration::from_secs(5);

/// Inputs served on one root before the server is stopped, the root checked with every blob
/// hashed, and replaced. Bounds the disk an unending run uses (each input can push at most its
/// own length in blobs, plus a few small files) and the inputs kept to replay a failed check.
const INPUTS_PER_ROOT: u64 = 2000;

/// Inputs between two checks of the idle server's roots, without hashing blobs: frequent enough
/// that a failure names a short stretch of inputs, rare enough to cost little per input.
const INPUTS_PER_CHECK: u64 = 100;

/// Checks the roots after every this many inputs instead of [`INPUTS_PER_CHECK`], hashing every
/// blob as the check before a root is replaced does: 1 when replaying a failed root's inputs, to
/// find the one that broke it.
const CHECK_EVERY_VARIABLE: &str = "ZOT_LIVE_FUZZ_CHECK_EVERY";

/// Runtime threads of the server: two, so requests for a repository the other core owns take
/// the forwarding path between cores, as in a real multi-core server.
const CORES: usize = 2;

/// The pause between the two writes of a split input: long enough that the server usually reads
/// the first part alone, short enough not to dominate an input's time.
const SPLIT_PAUSE: Duration = Duration::from_micros(200);

/// Replaced in the input by the identifier of an upload session opened for it.
const UPLOAD_TOKEN: &[u8] = b"@upload@";

/// The repository that session is opened in (the `upload_*` seeds name it).
const UPLOAD_REPOSITORY: &str = "fuzz/alpine";

/// Every root folder of this target starts so, followed by the process id and the root's number.
const ROOT_PREFIX: &str = "zot-live-fuzz-";

/// Folders of the temporary folder looked at when sweeping roots of dead runs.
const SWEEP_ENTRIES_MAX: usize = 100_000;

/// Reads and writes one exchange may take; each one moves bytes or waits for the socket, so the
/// time bound ends it first, this only keeps the loop visibly bounded.
const EXCHANGE_STEPS_MAX: usize = 1 << 20;

/// Bytes of a response the fixtures and the probe read; theirs are small.
const RESPONSE_BYTES_MAX: usize = 1 << 20;

/// Selects the runtime driver of every root instead of alternating: `auto`, `io_uring` or
/// `legacy`.
const DRIVER_VARIABLE: &str = "ZOT_LIVE_FUZZ_DRIVER";

/// What is pushed to every fresh root, and the digests the server must answer with. The seeds in
/// fuzz/seeds/live_server and the dictionary name these digests.
mod fixtures {
    pub const CONFIG: &[u8] =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    pub const CONFIG_DIGEST: &str =
        "sha256:c5b1d63604f273462ef36fadac3182d43ae6a6138731cf594b314835cf1c034f";
    pub const LAYER: &[u8] = b"live fuzz layer\n";
    pub const LAYER_DIGEST: &str =
        "sha256:fa9d91dc8f3c4f3779f9a3a2e996019f618c85f832347e6543549efba5fb27ac";
    pub const EMPTY_CONFIG: &[u8] = b"{}";
    pub const EMPTY_CONFIG_DIGEST: &str =
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    pub const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:c5b1d63604f273462ef36fadac3182d43ae6a6138731cf594b314835cf1c034f","size":78},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:fa9d91dc8f3c4f3779f9a3a2e996019f618c85f832347e6543549efba5fb27ac","size":16}]}"#;
    pub const MANIFEST_DIGEST: &str =
        "sha256:8b08e58d73fbe37db81eab1bcd67ee4508b10796e750bd3d97a3b700ce8dd4e4";
    pub const INDEX: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:8b08e58d73fbe37db81eab1bcd67ee4508b10796e750bd3d97a3b700ce8dd4e4","size":399,"platform":{"architecture":"amd64","os":"linux"}}]}"#;
    pub const INDEX_DIGEST: &str =
        "sha256:785f75c9291ac270c82fca5104c3f17aad32befb7ce21f6e988d69ad8dcb9270";
    pub const REFERRER: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sbom","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:fa9d91dc8f3c4f3779f9a3a2e996019f618c85f832347e6543549efba5fb27ac","size":16}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:8b08e58d73fbe37db81eab1bcd67ee4508b10796e750bd3d97a3b700ce8dd4e4","size":399}}"#;
    pub const REFERRER_DIGEST: &str =
        "sha256:6b96c9c3dc09b535c5ea3ee4017f8195b530fc5b85d6135e4d5d5531340eb04d";

    pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";

    /// Repositories holding every blob above; the second is owned by whichever core the first
    /// is not, with two cores, as often as not, and the third lives in the `/sub` sub path root.
    pub const REPOSITORIES: [&str; 3] = ["fuzz/alpine", "library/busybox", "sub/tools"];
}

/// The server of this process and how many inputs its root has served.
struct Live {
    running: Running,
    /// Every input the current root has served, in order, to replay a failed check.
    history: Vec<Vec<u8>>,
    /// The number of the current root, counting from 0.
    generation: u64,
    /// Inputs between two idle checks.
    inputs_per_check: u64,
    /// Whether the idle checks hash every blob (when `ZOT_LIVE_FUZZ_CHECK_EVERY` is set).
    idle_checks_hash: bool,
}

/// One started server on its own root.
struct Running {
    address: SocketAddr,
    shutdown: Shutdown,
    thread: Option<JoinHandle<Result<RunReport, RunError>>>,
    /// Holds the main root (`main`) and the `/sub` sub path root (`sub`).
    folder: PathBuf,
}

static LIVE: OnceLock<Mutex<Live>> = OnceLock::new();

/// The folder of the root being served, for the exit handler to remove.
static CURRENT_FOLDER: Mutex<Option<PathBuf>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let live = LIVE.get_or_init(|| {
        sweep_dead_roots();
        // SAFETY: `remove_folder_at_exit` is an `extern "C" fn()` that never unwinds (it only
        // removes a folder, ignoring errors) and stays valid for the life of the process.
        let registered = unsafe { libc::atexit(remove_folder_at_exit) };
        assert_eq!(registered, 0, "atexit could not register the cleanup");
        Mutex::new(Live {
            running: Running::start(0),
            history: Vec::new(),
            generation: 0,
            inputs_per_check: inputs_per_check().unwrap_or(INPUTS_PER_CHECK),
            idle_checks_hash: inputs_per_check().is_some(),
        })
    });
    // A panic while it was held is a reported failure already; the process is ending.
    let mut live = live.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if live.history.len() as u64 >= INPUTS_PER_ROOT {
        live.rotate();
    }
    live.history.push(data.to_vec());
    let address = live.running.address;
    let input = substitute_upload(address, data);
    let split = split_point(&input);
    if let Err(problem) = exchange(address, &input, split) {
        panic!("the server did not finish the input's connection: {problem}");
    }
    if let Err(problem) = probe(address) {
        panic!("GET /v2/ failed after the input: {problem}");
    }
    if (live.history.len() as u64).is_multiple_of(live.inputs_per_check) {
        // Every connection has closed, so the server is idle and its files are what it
        // acknowledged: the offline check holds of them as of a stopped server's.
        let checked = check_roots(&live.running.folder, live.idle_checks_hash);
        if let Err(problem) = checked {
            live.fail_check(&problem);
        }
    }
});

impl Live {
    /// Stops the server, checks its roots with every blob hashed and removes them, and starts a
    /// fresh one.
    fn rotate(&mut self) {
        let next = Running::start(self.generation + 1);
        let previous = std::mem::replace(&mut self.running, next);
        let folder = previous.folder.clone();
        previous.stop();
        if let Err(problem) = check_roots(&folder, true) {
            self.fail_check(&problem);
        }
        // Best effort: what stays behind is swept by the next run once this process is gone.
        let _ = std::fs::remove_dir_all(&folder);
        self.history.clear();
        self.generation += 1;
    }

    /// Writes the root's inputs to a folder for replaying, then fails with `problem`.
    fn fail_check(&self, problem: &str) -> ! {
        let folder = artifact_prefix().join(format!(
            "live_server-history-{}-{}",
            std::process::id(),
            self.generation
        ));
        let written = std::fs::create_dir_all(&folder).and_then(|()| {
            for (position, input) in self.history.iter().enumerate() {
                std::fs::write(folder.join(format!("{position:05}")), input)?;
            }
            Ok(())
        });
        let replay = match written {
            Ok(()) => format!(
                "the {} inputs this root served are in {}; replay them with a check after each:\n\
                 \t{CHECK_EVERY_VARIABLE}=1 cargo fuzz run --sanitizer none live_server {}/*",
                self.history.len(),
                folder.display(),
                folder.display()
            ),
            Err(error) => format!(
                "(could not write the inputs to {}: {error})",
                folder.display()
            ),
        };
        panic!("{problem}\n{replay}");
    }
}

/// What `ZOT_LIVE_FUZZ_CHECK_EVERY` says, when it is set.
fn inputs_per_check() -> Option<u64> {
    match std::env::var(CHECK_EVERY_VARIABLE) {
        Err(_) => None,
        Ok(text) => match text.parse::<u64>() {
            Ok(count) if count > 0 => Some(count),
            _ => panic!("{CHECK_EVERY_VARIABLE}={text:?}: expected a whole number above 0"),
        },
    }
}

/// The folder libFuzzer writes artifacts to (its `-artifact_prefix=`, which cargo fuzz sets to
/// fuzz/artifacts/TARGET/), else the working folder.
fn artifact_prefix() -> PathBuf {
    std::env::args()
        .find_map(|argument| {
            argument
                .strip_prefix("-artifact_prefix=")
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Checks both roots under `folder` (`main` and the `/sub` sub path's `sub`) against the
/// invariants of docs/design.md, hashing every blob when `hash_blobs`.
fn check_roots(folder: &Path, hash_blobs: bool) -> Result<(), String> {
    for root in ["main", "sub"] {
        let directory = folder.join(root);
        let report = check_root(&directory, &CheckOptions { hash_blobs });
        if !report.is_clean() {
            return Err(format!(
                "root {} breaks invariants (blobs hashed: {hash_blobs}): violations {:#?}, unreadable {:#?}",
                directory.display(),
                report.violations,
                report.read_errors
            ));
        }
    }
    Ok(())
}

impl Running {
    /// Starts a server on a fresh root numbered `generation` and pushes the fixtures.
    fn start(generation: u64) -> Running {
        let folder =
            std::env::temp_dir().join(format!("{ROOT_PREFIX}{}-{generation}", std::process::id()));
        match std::fs::remove_dir_all(&folder) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => panic!("cannot clear {}: {error}", folder.display()),
        }
        for root in ["main", "sub"] {
            std::fs::create_dir_all(folder.join(root))
                .unwrap_or_else(|error| panic!("cannot create {}: {error}", folder.display()));
        }
        *CURRENT_FOLDER
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(folder.clone());
        let mut config = Config::parse(&config_text(&folder, generation))
            .expect("the target's config is valid")
            .config;
        // Below what a config file may say (whole seconds): set on the parsed config.
        config.runtime.idle_timeout = IDLE_TIMEOUT;
        let mut runtime = runtime_config(&config, SocketAddr::from(([127, 0, 0, 1], 0)));
        // libFuzzer handles SIGINT itself, and the server is stopped through its handle.
        runtime.handle_signals = false;
        // Nothing is in flight when it is stopped: every input's connection has closed.
        runtime.grace = Duration::from_secs(1);
        let server = Server::bind(runtime).expect("a loopback port to listen on");
        let address = server.local_addr();
        let shutdown = server.shutdown_handle();
        let thread = std::thread::Builder::new()
            .name(format!("live-server-{generation}"))
            .spawn(move || serve_cores(server, &config))
            .expect("a thread for the server");
        let mut running = Running {
            address,
            shutdown,
            thread: Some(thread),
            folder,
        };
        running.wait_until_serving();
        push_fixtures(address);
        running
    }

    /// Waits for the first 200 to `GET /v2/`, failing if the server thread ends first.
    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + START_BOUND;
        let mut last_problem = String::new();
        while Instant::now() < deadline {
            if self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
                let ended = self.thread.take().expect("checked above").join();
                panic!("the server ended while starting: {ended:?}");
            }
            match probe(self.address) {
                Ok(()) => return,
                Err(problem) => last_problem = problem,
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the server did not answer GET /v2/ within {START_BOUND:?}: {last_problem}");
    }

    /// Stops the server and waits for its threads to end.
    fn stop(mut self) {
        self.shutdown.trigger();
        let thread = self.thread.take().expect("a running server has its thread");
        match thread.join() {
            Ok(Ok(_report)) => {}
            Ok(Err(error)) => panic!("the server failed: {error}"),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// The config of root `generation`: even roots run the automatic driver (io_uring where it can
/// be built, else the legacy one) with a listener per core, odd roots the legacy driver with one
/// acceptor thread, the two modes the integration tests run. `ZOT_LIVE_FUZZ_DRIVER` pins the
/// driver instead.
fn config_text(folder: &Path, generation: u64) -> String {
    let pinned = std::env::var(DRIVER_VARIABLE).ok();
    let (driver, accept) = match pinned.as_deref() {
        Some("auto") => ("auto", "auto"),
        Some("io_uring") => ("io_uring", "auto"),
        Some("legacy") => ("legacy", "acceptor"),
        Some(other) => panic!("{DRIVER_VARIABLE}={other:?}: expected auto, io_uring or legacy"),
        None if generation.is_multiple_of(2) => ("auto", "auto"),
        None => ("legacy", "acceptor"),
    };
    let main = folder.join("main");
    let sub = folder.join("sub");
    let root_text = |path: &Path| {
        serde_json::Value::String(path.to_str().expect("a UTF-8 temporary folder").to_owned())
    };
    serde_json::json!({
        "distSpecVersion": "1.1.1",
        "storage": {
            "rootDirectory": root_text(&main),
            "subPaths": { "/sub": { "rootDirectory": root_text(&sub) } },
        },
        "http": { "address": "127.0.0.1", "port": "0", "compat": ["docker2s2"] },
        "log": { "level": "error" },
        "runtime": { "threads": CORES, "driver": driver, "accept": accept },
    })
    .to_string()
}

/// Pushes the fixture blobs into every fixture repository, then the image manifest (tagged),
/// an index of it and an artifact whose subject it is; asserts each was stored as expected.
fn push_fixtures(address: SocketAddr) {
    for repository in fixtures::REPOSITORIES {
        for (blob, digest) in [
            (fixtures::CONFIG, fixtures::CONFIG_DIGEST),
            (fixtures::LAYER, fixtures::LAYER_DIGEST),
            (fixtures::EMPTY_CONFIG, fixtures::EMPTY_CONFIG_DIGEST),
        ] {
            let path = format!("/v2/{repository}/blobs/uploads/?digest={digest}");
            let reply = request(address, "POST", &path, "application/octet-stream", blob);
            assert_eq!(
                reply.status, 201,
                "pushing blob {digest} to {repository}: {reply:?}"
            );
        }
        for (reference, media_type, manifest, digest) in [
            (
                "latest",
                fixtures::MANIFEST_TYPE,
                fixtures::MANIFEST,
                fixtures::MANIFEST_DIGEST,
            ),
            (
                "multi",
                fixtures::INDEX_TYPE,
                fixtures::INDEX,
                fixtures::INDEX_DIGEST,
            ),
            (
                fixtures::REFERRER_DIGEST,
                fixtures::MANIFEST_TYPE,
                fixtures::REFERRER,
                fixtures::REFERRER_DIGEST,
            ),
        ] {
            let path = format!("/v2/{repository}/manifests/{reference}");
            let reply = request(address, "PUT", &path, media_type, manifest);
            assert_eq!(reply.status, 201, "pushing {path}: {reply:?}");
            assert_eq!(
                reply.header("docker-content-digest"),
                Some(digest),
                "the fixture's digest constant is stale: {path}"
            );
        }
    }
}

/// The input with every `@upload@` replaced by the identifier of an upload session opened for it
/// in [`UPLOAD_REPOSITORY`]; the input itself when it has none.
fn substitute_upload(address: SocketAddr, data: &[u8]) -> Cow<'_, [u8]> {
    if !data
        .windows(UPLOAD_TOKEN.len())
        .any(|window| window == UPLOAD_TOKEN)
    {
        return Cow::Borrowed(data);
    }
    let path = format!("/v2/{UPLOAD_REPOSITORY}/blobs/uploads/");
    let reply = request(address, "POST", &path, "application/octet-stream", b"");
    assert_eq!(reply.status, 202, "opening an upload session: {reply:?}");
    let location = reply.header("location").expect("a 202 names its session");
    let session = location
        .rsplit('/')
        .next()
        .expect("rsplit yields at least one part");
    assert!(!session.is_empty(), "an empty session in {location:?}");
    let mut substituted = Vec::with_capacity(data.len() + 64);
    let mut rest = data;
    // Each pass consumes at least one byte, so it ends within the input's length.
    while !rest.is_empty() {
        if rest.starts_with(UPLOAD_TOKEN) {
            substituted.extend_from_slice(session.as_bytes());
            rest = &rest[UPLOAD_TOKEN.len()..];
        } else {
            substituted.push(rest[0]);
            rest = &rest[1..];
        }
    }
    Cow::Owned(substituted)
}

/// Where the input is cut into two writes: `None` for a quarter of inputs and those shorter than
/// two bytes, else a point strictly inside. Derived from the bytes (FNV-1a), so a rerun of an
/// artifact cuts it the same way, and a mutation moves the cut.
fn split_point(input: &[u8]) -> Option<usize> {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0100_0000_01b3;
    if input.len() < 2 {
        return None;
    }
    let hash = input.iter().fold(FNV_OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    });
    if hash.is_multiple_of(4) {
        return None;
    }
    let inner = u64::try_from(input.len() - 1).expect("a slice length fits in u64");
    let cut = 1 + usize::try_from((hash >> 2) % inner).expect("below the input's length");
    assert!(cut > 0 && cut < input.len());
    Some(cut)
}

/// Sends `input` on a new connection (in two writes when `split` says so), half-closes it, and
/// reads whatever comes back until the server closes the connection. Reading and writing
/// interleave, so a server answering a pipelined input while the rest is still being sent never
/// deadlocks against this client. Errs when the server keeps the connection past
/// [`EXCHANGE_BOUND`].
fn exchange(address: SocketAddr, input: &[u8], split: Option<usize>) -> Result<(), String> {
    let deadline = Instant::now() + EXCHANGE_BOUND;
    let mut stream = TcpStream::connect_timeout(&address, EXCHANGE_BOUND)
        .map_err(|error| format!("connect: {error}"))?;
    stream
        .set_nodelay(true)
        .and_then(|()| stream.set_nonblocking(true))
        .map_err(|error| format!("socket options: {error}"))?;
    let first_part_end = split.unwrap_or(input.len());
    let mut written = 0usize;
    let mut writing = true;
    let mut received = 0usize;
    let mut buffer = vec![0u8; 64 * 1024];
    for _ in 0..EXCHANGE_STEPS_MAX {
        let mut progressed = false;
        if writing {
            let part_end = if written < first_part_end {
                first_part_end
            } else {
                input.len()
            };
            if written < part_end {
                match stream.write(&input[written..part_end]) {
                    Ok(count) => {
                        written += count;
                        progressed = count > 0;
                        if written == first_part_end && split.is_some() {
                            std::thread::sleep(SPLIT_PAUSE);
                        }
                    }
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                    Err(error) if error.kind() == ErrorKind::Interrupted => progressed = true,
                    // The server closed early (an error answer that closes, say): what it sent
                    // is still to be read.
                    Err(_) => writing = false,
                }
            }
            if written == input.len() {
                // The end of the input: the server sees end of file after the last byte.
                let _ = stream.shutdown(SocketShutdown::Write);
                writing = false;
                progressed = true;
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(count) => {
                received += count;
                progressed = true;
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == ErrorKind::Interrupted => progressed = true,
            // A reset is a close too: the server closed with bytes of ours unread.
            Err(error) if error.kind() == ErrorKind::ConnectionReset => return Ok(()),
            Err(error) => return Err(format!("read after {received} bytes: {error}")),
        }
        if !progressed {
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "still open after {EXCHANGE_BOUND:?}: {written} of {} bytes written, {received} received",
                    input.len()
                ));
            }
            wait_for_socket(&stream, writing, deadline - now);
        }
    }
    Err(format!("more than {EXCHANGE_STEPS_MAX} steps"))
}

/// Waits until `stream` is readable (or writable, when `writing`), or `timeout` passes.
fn wait_for_socket(stream: &TcpStream, writing: bool, timeout: Duration) {
    let events = if writing {
        libc::POLLIN | libc::POLLOUT
    } else {
        libc::POLLIN
    };
    let mut descriptor = libc::pollfd {
        fd: stream.as_raw_fd(),
        events,
        revents: 0,
    };
    // At least 1 ms, so a sub-millisecond remainder waits instead of spinning.
    let milliseconds =
        libc::c_int::try_from(timeout.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `descriptor` is one valid `pollfd` that lives across the call, matching the count
    // of 1, and its descriptor stays open while `stream` is borrowed.
    let _ = unsafe { libc::poll(&raw mut descriptor, 1, milliseconds) };
}

/// `GET /v2/` on a new connection must answer 200 within [`PROBE_BOUND`].
fn probe(address: SocketAddr) -> Result<(), String> {
    let reply = try_request(address, "GET", "/v2/", "", b"")?;
    if reply.status == 200 {
        Ok(())
    } else {
        Err(format!("answered {}: {}", reply.status, reply.body))
    }
}

/// One answer, read whole.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// Names in lowercase.
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

/// [`try_request`] for the target's own requests, which must succeed.
fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Reply {
    try_request(address, method, path, content_type, body)
        .unwrap_or_else(|problem| panic!("{method} {path}: {problem}"))
}

/// Sends one request with `Connection: close` on a new connection and reads the answer to the end,
/// within [`PROBE_BOUND`].
fn try_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Reply, String> {
    let deadline = Instant::now() + PROBE_BOUND;
    let mut stream = TcpStream::connect_timeout(&address, PROBE_BOUND)
        .map_err(|error| format!("connect: {error}"))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: live-fuzz\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !content_type.is_empty() {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .set_write_timeout(Some(PROBE_BOUND))
        .map_err(|error| format!("socket options: {error}"))?;
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|error| format!("write: {error}"))?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    // Each pass reads at least a byte, or ends; the size and time bounds end it too.
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(format!(
                "no end within {PROBE_BOUND:?}; read {:?}",
                String::from_utf8_lossy(&answer)
            ));
        }
        stream
            .set_read_timeout(Some(remaining))
            .map_err(|error| format!("socket options: {error}"))?;
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => answer.extend_from_slice(&buffer[..count]),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => {
                return Err(format!(
                    "read: {error}; read {:?}",
                    String::from_utf8_lossy(&answer)
                ));
            }
        }
        if answer.len() > RESPONSE_BYTES_MAX {
            return Err(format!("an answer over {RESPONSE_BYTES_MAX} bytes"));
        }
    }
    parse_reply(&answer)
}

/// The status, headers and body of one HTTP/1.1 answer.
fn parse_reply(answer: &[u8]) -> Result<Reply, String> {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Err(format!("no complete head: {text:?}"));
    };
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP/1.1 status line: {status_line:?}"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// Removes the root folders of this target left by runs whose process is gone (a crash aborts
/// before any cleanup). Folders of live processes, a parallel `-jobs` run say, are left alone.
fn sweep_dead_roots() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.take(SWEEP_ENTRIES_MAX).flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|name| name.strip_prefix(ROOT_PREFIX))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next() else {
            continue;
        };
        if pid.is_empty() || !pid.bytes().all(|byte| byte.is_ascii_digit()) {
            continue;
        }
        let Ok(pid) = pid.parse::<libc::pid_t>() else {
            continue;
        };
        // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
        let exists = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !exists {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Removes the folder being served when the process exits normally (libFuzzer's `exit` at the
/// end of `-max_total_time` or `-runs`). The server threads are idle then: every input has ended.
extern "C" fn remove_folder_at_exit() {
    // `try_lock`: exit from a thread holding the lock must not deadlock here.
    if let Ok(guard) = CURRENT_FOLDER.try_lock()
        && let Some(folder) = guard.as_ref()
    {
        let _ = std::fs::remove_dir_all(folder);
    }
}
