//! Soak: the real `zot serve` on both cores under minutes of mixed load, proving that what it
//! holds stays flat: memory (VmHWM, VmRSS), descriptors, threads, CPU at rest, and the files of
//! upload sessions. The load is zb runs of every kind (monolithic, chunked and mixed pushes,
//! pulls, catalog, and their cleanup DELETEs) beside an in-test client that does what zb does
//! not: three ways of uploading, HEAD and GET of what is missing, range GETs, cross-repository
//! mounts, uploads abandoned or cut off mid-body, and deletes of manifests and blobs.
//!
//! `ZOT_SOAK_SECONDS` sets the seconds of load (default 180, what CI runs); two thirds of it
//! run the default mode (io_uring, a listener per core) and one third the legacy driver with
//! one acceptor thread. The server is the release build (built first when missing). The test
//! takes about 10 to 15 s more than the load (measured on 2 cores).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Reply;
use common::binary::{ServeConfig, mode_config, release_binary, serve_config, zb_binary};
use common::random::Random;

/// Seconds of load when `ZOT_SOAK_SECONDS` is not set: long enough for a leak of a few hundred
/// bytes per request to show over the noise, short enough for every CI run.
const SOAK_SECONDS_DEFAULT: u64 = 180;
/// The shortest load that still leaves each phase a warm-up and a second half of several
/// samples (the legacy phase gets a third: 10 s, 10 samples in its second half).
const SOAK_SECONDS_MIN: u64 = 30;
/// Runtime threads of the server: both cores of the CI machine.
const SERVER_THREADS: usize = 2;
/// The first fifth of each phase warms up: allocator arenas, the manifest cache, buffers of the
/// most concurrent moment so far. Memory is measured against the end of it.
const WARM_UP_DIVISOR: u64 = 5;
const SAMPLE_INTERVAL: Duration = Duration::from_millis(500);

/// The end VmHWM may be at most this factor of the warm-up VmHWM, plus the bytes below, plus
/// what the manifest caches may have gained since the warm-up. The factor and the bytes cover a
/// moment of more uploads at once than the warm-up saw: each holds up to three 512 KiB buffers
/// while its writes are in flight, and zb's 4 plus the client's 2 can push at once, about
/// 9 MiB. Measured (180 s, 2 cores, debug build, 8 phases): VmHWM 13 to 17 MiB after the
/// warm-up, 0.7 to 3.6 MiB more at the end.
const HWM_GROWTH_FACTOR: f64 = 1.25;
const MEMORY_SLACK_BYTES: u64 = 8 << 20;
/// How far VmRSS may rise over the second half of the load (the median of its last quarter
/// against that of its first), and how far above the second half's median the last sample and
/// the server at rest after the load may be, beyond what the manifest caches may have gained.
/// Upload buffers are mapped and unmapped per request, so samples swing by little: measured
/// 0.2 to 1.3 MiB of rise between those quarters (about 45 s apart in the 180 s run's first
/// phase, 30,000 to 60,000 requests), most of it the manifest caches filling. A leak of 200
/// bytes per request, put in the server on purpose, failed this check and the VmHWM one in
/// the 180 s run.
const RSS_CLIMB_MARGIN_BYTES: u64 = 4 << 20;
/// How long the server may take to close its side of every connection after the clients close
/// theirs. It notices each close on its next read, at once, and a connection it ends itself (a
/// cut-off body) lingers at most `CLOSE_LINGER_TIMEOUT`, 0.5 s; polling absorbs scheduling.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);
/// CPU the server may use while nothing talks to it, over `IDLE_CPU_WINDOW`: its hourly expiry
/// timer and nothing else runs, so anything measurable is a busy loop.
const IDLE_CPU_SECONDS_MAX: f64 = 0.1;
const IDLE_CPU_WINDOW: Duration = Duration::from_secs(2);
/// Server CPU per request from the middle of the load to its end, at most this times what it
/// was from the warm-up to the middle. Work per request that grows with what the server has
/// served (a list that only grows, scanned on every request) doubles it well before the end;
/// the two windows' mixes differ by which zb runs fall in them, which moves it by up to about
/// 40% (measured).
const CPU_PER_REQUEST_GROWTH_MAX: f64 = 2.0;
/// How long io_uring's workers may outlive the load: the kernel ends one after 5 s without
/// work (`IO_WORKER_IDLE_TIMEOUT`, fs/io-wq.c), the last of each ring stays.
const IO_WORKERS_SETTLE_TIMEOUT: Duration = Duration::from_secs(12);

/// Threads of the in-test client, each with its own repositories so that one thread's deletes
/// never race another's pushes.
const CLIENT_THREADS: usize = 2;
/// Upload sessions each client thread abandons for good (the others it abandons, it cancels
/// later with DELETE): they must be the only files left under `.uploads/` at the end.
const SESSIONS_LEFT_OPEN_PER_THREAD: usize = 2;
/// Repositories each client thread pushes to, reused all run long as a real registry's are.
const CLIENT_REPOSITORIES: u64 = 4;
/// After this many operations a client thread replaces its kept-alive connection.
const CONNECTION_OPERATIONS_MAX: u64 = 40;
/// Attempts at a request that may find its session still locked by a request the client cut
/// off (the server releases it when it has read the cut).
const BUSY_ATTEMPTS_MAX: usize = 200;
const BUSY_PAUSE: Duration = Duration::from_millis(10);

/// zb's flags for every run. Sizes stand in for its 1MB, 10MB and 100MB: small enough that a
/// run takes seconds on a debug build, the largest still several upload buffers long.
const ZB_CONCURRENCY: &str = "4";
const ZB_REQUESTS: &str = "24";
const ZB_SIZES: &str = "20000,300000,3000000";
/// Every run names its repositories with this, so each run reuses the repositories of the
/// runs before it: a registry's set of repositories is mostly stable, and each repository
/// costs the server memory for as long as it exists (about 4 KiB even when empty).
const ZB_RUN_IDENTIFIER: &str = "soak";
/// The zb tests of each run, in turn: every kind of push, pulls, the mix of both, catalog. The
/// ones with the largest blobs come first, so that the warm-up sees the most memory uploads
/// take at once. With each, how many images each zb worker pushes in setup and pulls (GETs the
/// manifest of, so the servers may cache it).
const ZB_TESTS: [(&str, u64); 8] = [
    ("^Push Chunk Mixed", 0),
    ("^Pull Mixed", 3),
    ("^Push Monolith Mixed", 0),
    ("^Pull 75% and Push 25% Mixed 10MB$", 1),
    ("^Push Monolith 1MB$", 0),
    ("^Push Chunk Streamed 1MB$", 0),
    ("^Get Catalog$", 0),
    ("^Pull 1MB$", 1),
];
/// zb's manifests are about 450 bytes.
const ZB_MANIFEST_BYTES_MAX: u64 = 1024;
/// What a manifest in a server's manifest cache costs besides its bytes: its digest twice (the
/// map's key and the eviction order, 80-byte allocations), the map's slot at its lowest
/// occupancy, the order's slot, and allocator headers.
const MANIFEST_CACHE_ENTRY_OVERHEAD_BYTES: u64 = 384;

fn soak_seconds() -> u64 {
    let seconds = match std::env::var("ZOT_SOAK_SECONDS") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("ZOT_SOAK_SECONDS is whole seconds, not {text:?}")),
        Err(_) => SOAK_SECONDS_DEFAULT,
    };
    assert!(
        seconds >= SOAK_SECONDS_MIN,
        "ZOT_SOAK_SECONDS must be at least {SOAK_SECONDS_MIN}"
    );
    seconds
}

#[test]
fn soak_mixed_load_keeps_memory_descriptors_threads_and_upload_files_flat() {
    let seconds = soak_seconds();
    // Built before the clock starts: the first build takes longer than the load. The server is
    // the release build, whose memory and descriptors are what users see.
    zb_binary();
    let binary = release_binary("zot", "zot");
    let default_seconds = seconds * 2 / 3;
    let phases = [
        (
            "default",
            ServeConfig {
                binary: Some(binary.clone()),
                ..ServeConfig::new("auto", SERVER_THREADS)
            },
            default_seconds,
        ),
        (
            "legacy+acceptor",
            ServeConfig {
                binary: Some(binary),
                ..mode_config(("legacy", "acceptor"), SERVER_THREADS)
            },
            seconds - default_seconds,
        ),
    ];
    for (label, config, phase_seconds) in phases {
        soak_phase(label, config, Duration::from_secs(phase_seconds));
    }
}

/// What the server holds at one moment, from `/proc/<pid>/`.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Since the load started.
    at: Duration,
    rss_bytes: u64,
    hwm_bytes: u64,
    /// Threads of the server's own (main, cores, acceptor): constant.
    own_threads: u64,
    /// io_uring's kernel workers (`iou-wrk-*`), started for file operations that would block
    /// and ended after about 5 s without work: they come and go with the load.
    io_workers: u64,
    descriptors: u64,
    cpu_seconds: f64,
    /// `Progress::manifest_cache_bytes` so far.
    manifest_cache_bytes: u64,
    /// Requests answered so far: the client's as they go, each zb run's when it ends.
    requests: u64,
}

fn proc_status_field(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("server alive");
    let line = text
        .lines()
        .find(|line| line.starts_with(field) && line[field.len()..].starts_with(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let mut words = line[field.len() + 1..].split_whitespace();
    let value: u64 = words.next().unwrap().parse().unwrap();
    match words.next() {
        Some("kB") => value * 1024,
        None => value,
        Some(unit) => panic!("unexpected unit {unit} for {field}"),
    }
}

/// The server's own threads and io_uring's workers, by their names.
fn thread_counts(pid: u32) -> (u64, u64) {
    let (mut own, mut io_workers) = (0, 0);
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("server alive") {
        let Ok(task) = task else { continue };
        // A thread may end between the listing and the read.
        let Ok(name) = std::fs::read_to_string(task.path().join("comm")) else {
            continue;
        };
        if name.starts_with("iou-wrk") {
            io_workers += 1;
        } else {
            own += 1;
        }
    }
    (own, io_workers)
}

fn descriptor_count(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("server alive")
        .count() as u64
}

/// Where each descriptor points, to name what a leak holds.
fn descriptor_targets(pid: u32) -> BTreeMap<String, usize> {
    let mut targets = BTreeMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("server alive") {
        let Ok(entry) = entry else { continue };
        let target = std::fs::read_link(entry.path())
            .map(|path| path.display().to_string())
            .unwrap_or_else(|_| "(closed)".to_owned());
        // Sockets and pipes differ by inode; their kind is what tells.
        let kind = target.split(':').next().unwrap_or("").to_owned();
        let key = if target.starts_with('/') {
            target
        } else {
            kind
        };
        *targets.entry(key).or_default() += 1;
    }
    targets
}

/// User plus system CPU time of the whole process.
fn cpu_seconds(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("server alive");
    // Fields after the command name, which is in parentheses and may hold spaces: state is
    // field 3 of proc(5), utime 14 and stime 15.
    let after = &text[text.rfind(')').expect("stat names the command") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a system constant.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    assert!(ticks_per_second > 0);
    ticks as f64 / ticks_per_second as f64
}

fn sample(pid: u32, at: Duration, progress: &Progress) -> Sample {
    let (own_threads, io_workers) = thread_counts(pid);
    Sample {
        at,
        rss_bytes: proc_status_field(pid, "VmRSS"),
        hwm_bytes: proc_status_field(pid, "VmHWM"),
        own_threads,
        io_workers,
        descriptors: descriptor_count(pid),
        cpu_seconds: cpu_seconds(pid),
        requests: progress.requests(),
        manifest_cache_bytes: progress.manifest_cache_bytes.load(Ordering::Relaxed),
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
fn poll_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if started.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// Requests made so far, and whether the load must stop early (a failure was seen).
#[derive(Debug, Default)]
struct Progress {
    client_requests: AtomicU64,
    zb_requests: AtomicU64,
    /// The most memory the servers' manifest caches may have taken so far: each core keeps
    /// the manifests it served by GET, deleted ones too, up to 32 MiB a core. A run of hours
    /// fills them; the memory checks allow for it.
    manifest_cache_bytes: AtomicU64,
    stop: AtomicBool,
    failures: Mutex<Vec<String>>,
}

impl Progress {
    fn requests(&self) -> u64 {
        self.client_requests.load(Ordering::Relaxed) + self.zb_requests.load(Ordering::Relaxed)
    }

    fn fail(&self, failure: String) {
        self.failures.lock().unwrap().push(failure);
        self.stop.store(true, Ordering::Relaxed);
    }

    fn running(&self, deadline: Instant) -> bool {
        !self.stop.load(Ordering::Relaxed) && Instant::now() < deadline
    }
}

fn soak_phase(label: &str, config: ServeConfig, load: Duration) {
    let served = serve_config(config);
    served.core_lines(SERVER_THREADS);
    let pid = served.pid();
    let address = served.address;

    // At rest before any request: what the server holds for itself (listeners, rings,
    // eventfds, the root lock, the signal pipe). Read twice, a moment apart, to be sure it is
    // the resting value.
    std::thread::sleep(Duration::from_millis(300));
    let idle_descriptors = descriptor_count(pid);
    let idle_threads = proc_status_field(pid, "Threads");
    let (idle_own_threads, _) = thread_counts(pid);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(descriptor_count(pid), idle_descriptors, "{label}: at rest");
    assert_eq!(
        proc_status_field(pid, "Threads"),
        idle_threads,
        "{label}: at rest"
    );
    let idle_targets = descriptor_targets(pid);

    let progress = Arc::new(Progress::default());
    let started = Instant::now();
    let deadline = started + load;
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampling_done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (samples, progress, done) = (samples.clone(), progress.clone(), sampling_done.clone());
        std::thread::spawn(move || {
            // Bounded by the load's end (the flag) plus the longest zb run after the deadline.
            while !done.load(Ordering::Relaxed) {
                let taken = sample(pid, started.elapsed(), &progress);
                samples.lock().unwrap().push(taken);
                std::thread::sleep(SAMPLE_INTERVAL);
            }
        })
    };
    let zb_runner = {
        let progress = progress.clone();
        std::thread::spawn(move || run_zb_until(address, deadline, &progress))
    };
    let clients: Vec<_> = (0..CLIENT_THREADS)
        .map(|thread| {
            let progress = progress.clone();
            std::thread::spawn(move || client_until(address, thread, deadline, &progress))
        })
        .collect();
    let zb_runs = zb_runner.join().expect("the zb runner does not panic");
    let mut sessions_left_open = Vec::new();
    for client in clients {
        sessions_left_open.extend(client.join().expect("client threads do not panic"));
    }
    let load_seconds = started.elapsed().as_secs_f64();
    sampling_done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let failures = progress.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{label}: {} failures under load, the first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let samples = samples.lock().unwrap().clone();
    let requests = progress.requests();
    let client_requests = progress.client_requests.load(Ordering::Relaxed);

    // Descriptors: every client has closed; the server closes its side on its next read.
    let descriptors_settled =
        poll_until(SETTLE_TIMEOUT, || descriptor_count(pid) == idle_descriptors);
    let after_descriptors = descriptor_count(pid);
    let after_targets = descriptor_targets(pid);
    // The count is live: one more connection shows as one more descriptor, and goes again.
    let probe_seen = {
        let mut connection = Connection::open(address).unwrap();
        let reply = connection.send("GET", "/v2/", &[], Body::None).unwrap();
        assert_eq!(reply.status, 200);
        poll_until(SETTLE_TIMEOUT, || {
            descriptor_count(pid) == idle_descriptors + 1
        })
    };
    let probe_closed = poll_until(SETTLE_TIMEOUT, || descriptor_count(pid) == idle_descriptors);

    // Threads: io_uring's workers end once the work is gone, so the count comes back to what it
    // was at rest. Meanwhile, the CPU the server uses at rest is measured.
    let cpu_before_rest = cpu_seconds(pid);
    let rest_started = Instant::now();
    let threads_settled = poll_until(IO_WORKERS_SETTLE_TIMEOUT, || {
        proc_status_field(pid, "Threads") == idle_threads
    });
    let end_threads = proc_status_field(pid, "Threads");
    let end_thread_counts = thread_counts(pid);
    std::thread::sleep(IDLE_CPU_WINDOW.saturating_sub(rest_started.elapsed()));
    let rest_seconds = rest_started.elapsed().as_secs_f64();
    let idle_cpu =
        (cpu_seconds(pid) - cpu_before_rest) * IDLE_CPU_WINDOW.as_secs_f64() / rest_seconds;

    // Memory, from the samples of the load and the server at rest after it.
    let warm_up_end = load / WARM_UP_DIVISOR as u32;
    let warm_up = *samples
        .iter()
        .find(|s| s.at >= warm_up_end)
        .expect("samples past the warm-up");
    let end_hwm = proc_status_field(pid, "VmHWM");
    let rest_rss = proc_status_field(pid, "VmRSS");
    let cache_allowance_end = progress.manifest_cache_bytes.load(Ordering::Relaxed);
    let hwm_bound = (warm_up.hwm_bytes as f64 * HWM_GROWTH_FACTOR) as u64
        + MEMORY_SLACK_BYTES
        + (cache_allowance_end - warm_up.manifest_cache_bytes);
    let second_half: Vec<Sample> = samples
        .iter()
        .filter(|s| s.at >= load / 2 && s.at <= load)
        .copied()
        .collect();
    assert!(
        second_half.len() >= 8,
        "{label}: {} samples",
        second_half.len()
    );
    let rss_median = |samples: &[Sample]| {
        let mut values: Vec<u64> = samples.iter().map(|s| s.rss_bytes).collect();
        values.sort_unstable();
        values[values.len() / 2]
    };
    let second_half_median = rss_median(&second_half);
    let middle = second_half[0];
    let last = *second_half.last().unwrap();
    let quarter = second_half.len() / 4;
    let (early_quarter, late_quarter) = (
        &second_half[..quarter],
        &second_half[second_half.len() - quarter..],
    );
    let (early_median, late_median) = (rss_median(early_quarter), rss_median(late_quarter));
    // What the manifest caches may have gained since: a legitimate, bounded growth.
    let cache_since = |from: &Sample| cache_allowance_end - from.manifest_cache_bytes;
    let peak_descriptors = samples.iter().map(|s| s.descriptors).max().unwrap();
    let peak_io_workers = samples.iter().map(|s| s.io_workers).max().unwrap();
    let own_threads_seen: Vec<u64> = samples.iter().map(|s| s.own_threads).collect();
    let cpu_per_thousand = |from: &Sample, to: &Sample| {
        (to.cpu_seconds - from.cpu_seconds) * 1000.0 / (to.requests - from.requests).max(1) as f64
    };
    let (cpu_early, cpu_late) = (
        cpu_per_thousand(&warm_up, &middle),
        cpu_per_thousand(&middle, &last),
    );

    // Upload files: only the sessions deliberately left open remain, each a data file and its
    // `.state`; nothing else (no temporary file, no session of a cut-off upload).
    let uploads = upload_files(&served.root);
    let open_count = sessions_left_open.len();
    println!(
        "soak {label}: {load_seconds:.0} s of load, {requests} requests ({client_requests} by the \
         client, the rest by {zb_runs} zb runs); VmHWM warm-up {:.1} MiB, end {:.1} (bound \
         {:.1}); VmRSS second half median {:.1} MiB, first/last quarter {:.1}/{:.1}, last \
         {:.1}, at rest {:.1} (manifest cache allowance {:.1}); descriptors idle \
         {idle_descriptors}, peak {peak_descriptors}, after {after_descriptors}; threads at \
         rest/end {idle_threads}/{end_threads} (io_uring workers peak {peak_io_workers}); \
         server CPU {:.1} s ({cpu_early:.2} s per 1000 requests warm-up to middle, \
         {cpu_late:.2} middle to end, {idle_cpu:.2} s in {IDLE_CPU_WINDOW:?} at rest); upload \
         files left {} data + {} state for {open_count} sessions left open",
        mebibytes(warm_up.hwm_bytes),
        mebibytes(end_hwm),
        mebibytes(hwm_bound),
        mebibytes(second_half_median),
        mebibytes(early_median),
        mebibytes(late_median),
        mebibytes(last.rss_bytes),
        mebibytes(rest_rss),
        mebibytes(cache_allowance_end),
        last.cpu_seconds - samples[0].cpu_seconds,
        uploads.data,
        uploads.state,
    );

    assert!(
        descriptors_settled,
        "{label}: {after_descriptors} descriptors after the load, {idle_descriptors} at rest \
         before it\nbefore: {idle_targets:?}\nafter:  {after_targets:?}"
    );
    assert!(
        probe_seen && probe_closed,
        "{label}: one open connection shows as one more descriptor ({probe_seen}), and its \
         close as one fewer ({probe_closed})"
    );
    assert!(
        own_threads_seen
            .iter()
            .all(|&count| count == idle_own_threads),
        "{label}: the server's own threads changed under load: {idle_own_threads} at rest, \
         {own_threads_seen:?}"
    );
    assert!(
        threads_settled,
        "{label}: {end_threads} threads after the load, {idle_threads} at rest before it \
         (own, io_uring workers): {end_thread_counts:?}"
    );
    assert!(
        idle_cpu <= IDLE_CPU_SECONDS_MAX,
        "{label}: {idle_cpu} s of CPU in {IDLE_CPU_WINDOW:?} at rest"
    );
    assert!(
        cpu_late <= cpu_early * CPU_PER_REQUEST_GROWTH_MAX,
        "{label}: server CPU per 1000 requests grew from {cpu_early} s to {cpu_late} s"
    );
    assert!(
        end_hwm <= hwm_bound,
        "{label}: VmHWM grew from {} after the warm-up to {end_hwm}",
        warm_up.hwm_bytes
    );
    for (what, value, since) in [
        ("the last sample of the load", last.rss_bytes, &middle),
        ("the server at rest after the load", rest_rss, &middle),
        ("the median of the last quarter", late_median, &middle),
    ] {
        let bound = second_half_median + RSS_CLIMB_MARGIN_BYTES + cache_since(since);
        assert!(
            value <= bound,
            "{label}: VmRSS of {what} is {value}, above the second half's median \
             {second_half_median} plus the margin: {bound}"
        );
    }
    let climb_bound = early_median + RSS_CLIMB_MARGIN_BYTES + cache_since(&early_quarter[0]);
    assert!(
        late_median <= climb_bound,
        "{label}: VmRSS climbed over the second half: median {early_median} in its first \
         quarter, {late_median} in its last (bound {climb_bound})"
    );
    assert_eq!(uploads.other, 0, "{label}: {uploads:?}");
    assert_eq!(uploads.data, open_count, "{label}: {uploads:?}");
    assert_eq!(uploads.state, open_count, "{label}: {uploads:?}");

    // Cancelling them leaves no upload file at all, and no blob: everything pushed was deleted.
    let mut connection = Connection::open(address).unwrap();
    for location in &sessions_left_open {
        let reply = connection
            .send("DELETE", location, &[], Body::None)
            .unwrap();
        assert_eq!(reply.status, 204, "{label}: DELETE {location}");
    }
    drop(connection);
    let uploads = upload_files(&served.root);
    assert_eq!(
        (uploads.data, uploads.state, uploads.other),
        (0, 0, 0),
        "{label}: {uploads:?}"
    );
    let blobs = blob_files(&served.root);
    assert!(blobs.is_empty(), "{label}: blobs left: {blobs:?}");
    served.stop();
}

/// Files found under every `.uploads/` folder of a root.
#[derive(Debug, Default)]
struct UploadFiles {
    /// Session data files.
    data: usize,
    /// Their `.state` files.
    state: usize,
    /// Anything else: temporary files of manifest puts, or what should not be there.
    other: usize,
    /// The first few names, for a failure's message.
    names: Vec<String>,
}

/// Names of upload files a failure shows.
const UPLOAD_NAMES_SHOWN_MAX: usize = 16;

fn upload_files(root: &Path) -> UploadFiles {
    let mut found = UploadFiles::default();
    visit_folders(root, 0, &mut |folder| {
        if folder.file_name().is_some_and(|name| name == ".uploads") {
            for entry in std::fs::read_dir(folder).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                let session_like = |text: &str| {
                    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_hexdigit())
                };
                match name.strip_suffix(".state") {
                    Some(session) if session_like(session) => found.state += 1,
                    None if session_like(&name) => found.data += 1,
                    _ => found.other += 1,
                }
                if found.names.len() < UPLOAD_NAMES_SHOWN_MAX {
                    found.names.push(name);
                }
            }
        }
    });
    found
}

/// Every file under a `blobs/` folder of a repository or of `_blobstore/`.
fn blob_files(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    visit_folders(root, 0, &mut |folder| {
        if folder.file_name().is_some_and(|name| name == "blobs") {
            for algorithm in std::fs::read_dir(folder).unwrap() {
                let algorithm = algorithm.unwrap().path();
                if !algorithm.is_dir() {
                    found.push(algorithm.display().to_string());
                    continue;
                }
                for blob in std::fs::read_dir(&algorithm).unwrap() {
                    found.push(blob.unwrap().path().display().to_string());
                }
            }
        }
    });
    found
}

/// Calls `visit` on `folder` and every folder below it, to a bounded depth (repository names
/// here have at most four components, plus `blobs/<algorithm>`).
fn visit_folders(folder: &Path, depth: usize, visit: &mut dyn FnMut(&Path)) {
    const DEPTH_MAX: usize = 8;
    assert!(
        depth <= DEPTH_MAX,
        "{} is deeper than expected",
        folder.display()
    );
    visit(folder);
    for entry in std::fs::read_dir(folder).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            visit_folders(&entry.path(), depth + 1, visit);
        }
    }
}

/// Runs zb, one run after the other through `ZB_TESTS`, until the deadline; each run must
/// answer every request as expected and clean up. Returns the number of runs.
fn run_zb_until(address: SocketAddr, deadline: Instant, progress: &Progress) -> usize {
    let url = format!("http://{address}");
    let mut runs = 0;
    // Bounded by the deadline: each run takes seconds.
    while progress.running(deadline) {
        let (tests, images_pulled_per_worker) = ZB_TESTS[runs % ZB_TESTS.len()];
        runs += 1;
        let output = Command::new(zb_binary())
            .args(["-c", ZB_CONCURRENCY, "-n", ZB_REQUESTS, "--sizes", ZB_SIZES])
            .args([
                "--run-identifier",
                ZB_RUN_IDENTIFIER,
                "-o",
                "json",
                "-t",
                tests,
            ])
            .arg(&url)
            .output()
            .expect("zb runs");
        if !output.status.success() {
            progress.fail(format!(
                "zb -t {tests:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
            break;
        }
        let report: serde_json::Value = match serde_json::from_slice(&output.stdout) {
            Ok(report) => report,
            Err(error) => {
                progress.fail(format!("zb -t {tests:?}: not JSON: {error}"));
                break;
            }
        };
        let Some(tests_run) = report["tests"].as_array().filter(|tests| !tests.is_empty()) else {
            progress.fail(format!("zb -t {tests:?} ran no test: {report}"));
            break;
        };
        for test in tests_run {
            let clean = test["completed"] == test["requests"]
                && test["failed"] == 0
                && test["errors"] == serde_json::json!({})
                && test["cleanup_errors"] == serde_json::json!({})
                && test["status"]["4xx"] == 0
                && test["status"]["5xx"] == 0;
            if !clean {
                progress.fail(format!("zb: {test}"));
            }
            let answers: u64 = ["2xx", "3xx", "4xx", "5xx"]
                .iter()
                .map(|class| test["status"][class].as_u64().unwrap_or(0))
                .sum();
            progress.zb_requests.fetch_add(answers, Ordering::Relaxed);
        }
        // Workers pull over connections to either core: both may cache each manifest.
        let workers: u64 = ZB_CONCURRENCY.parse().unwrap();
        progress.manifest_cache_bytes.fetch_add(
            images_pulled_per_worker
                * workers
                * SERVER_THREADS as u64
                * (ZB_MANIFEST_BYTES_MAX + MANIFEST_CACHE_ENTRY_OVERHEAD_BYTES),
            Ordering::Relaxed,
        );
    }
    runs
}

/// A request body.
#[derive(Debug, Clone, Copy)]
enum Body<'a> {
    None,
    /// With `Content-Length`.
    Bytes(&'a [u8]),
    /// With `Transfer-Encoding: chunked`, in chunks of at most this many bytes.
    Chunked(&'a [u8], usize),
    /// Only a `Content-Length` of this many bytes: the caller writes what it wants of them.
    Promised(usize),
}

/// A kept-alive HTTP/1.1 connection with a buffered reader (the common client reads heads a
/// byte per call, too slow for minutes of load).
#[derive(Debug)]
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(address: SocketAddr) -> Result<Connection, String> {
        let stream = TcpStream::connect(address).map_err(|error| format!("connect: {error}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Ok(Connection {
            reader: BufReader::new(stream),
        })
    }

    /// Writes a request's head, and as much of the body as it says.
    fn write_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<(), String> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: soak\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut bytes = Vec::new();
        match body {
            Body::None => {
                if matches!(method, "PUT" | "POST" | "PATCH") {
                    request.push_str("Content-Length: 0\r\n");
                }
                request.push_str("\r\n");
                bytes.extend_from_slice(request.as_bytes());
            }
            Body::Bytes(body) => {
                request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                bytes.extend_from_slice(request.as_bytes());
                bytes.extend_from_slice(body);
            }
            Body::Promised(length) => {
                request.push_str(&format!("Content-Length: {length}\r\n\r\n"));
                bytes.extend_from_slice(request.as_bytes());
            }
            Body::Chunked(body, chunk_bytes) => {
                assert!(chunk_bytes > 0);
                request.push_str("Transfer-Encoding: chunked\r\n\r\n");
                bytes.extend_from_slice(request.as_bytes());
                for chunk in body.chunks(chunk_bytes) {
                    bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    bytes.extend_from_slice(chunk);
                    bytes.extend_from_slice(b"\r\n");
                }
                bytes.extend_from_slice(b"0\r\n\r\n");
            }
        }
        self.reader
            .get_mut()
            .write_all(&bytes)
            .map_err(|error| format!("{method} {path}: write: {error}"))
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Reply, String> {
        self.write_request(method, path, headers, body)?;
        self.read_reply(method == "HEAD")
            .map_err(|error| format!("{method} {path}: {error}"))
    }

    fn read_reply(&mut self, head_request: bool) -> Result<Reply, String> {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|error| format!("read: {error}"))?;
        let status: u16 = line
            .get(9..12)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut headers = Vec::new();
        // Bounded: a head has at most this many fields before it is refused here.
        for _ in 0..100 {
            line.clear();
            self.reader
                .read_line(&mut line)
                .map_err(|error| format!("read: {error}"))?;
            let field = line.trim_end();
            if field.is_empty() {
                let length: usize = headers
                    .iter()
                    .find(|(name, _): &&(String, String)| name == "content-length")
                    .map_or(Ok(0), |(_, value)| value.parse())
                    .map_err(|error| format!("Content-Length: {error}"))?;
                let has_body = !head_request && status != 204 && status != 304;
                let mut body = vec![0u8; if has_body { length } else { 0 }];
                self.reader
                    .read_exact(&mut body)
                    .map_err(|error| format!("read body: {error}"))?;
                return Ok(Reply {
                    status,
                    headers,
                    body,
                });
            }
            let (name, value) = field
                .split_once(':')
                .ok_or_else(|| format!("bad header {field:?}"))?;
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        Err("more than 100 header fields".to_owned())
    }
}

/// One client thread's state across its operations.
#[derive(Debug)]
struct Client<'a> {
    address: SocketAddr,
    thread: usize,
    progress: &'a Progress,
    connection: Option<Connection>,
    random: Random,
    /// Operations done, which also names what each one pushes.
    operations: u64,
    sessions_left_open: Vec<String>,
}

fn expect(step: &str, reply: &Reply, status: u16) -> Result<(), String> {
    if reply.status == status {
        Ok(())
    } else {
        Err(format!(
            "{step}: {} instead of {status}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        ))
    }
}

fn location(step: &str, reply: &Reply) -> Result<String, String> {
    reply
        .header("location")
        .map(str::to_owned)
        .ok_or_else(|| format!("{step}: no Location"))
}

/// `location` with `?digest=` (or `&digest=` when it already has a query).
fn with_digest(location: &str, digest: &str) -> String {
    let separator = if location.contains('?') { '&' } else { '?' };
    format!("{location}{separator}digest={digest}")
}

fn client_until(
    address: SocketAddr,
    thread: usize,
    deadline: Instant,
    progress: &Progress,
) -> Vec<String> {
    let mut client = Client {
        address,
        thread,
        progress,
        connection: None,
        random: Random((0x9e37_79b9_7f4a_7c15 ^ ((thread as u64 + 1) << 32)) | 1),
        operations: 0,
        sessions_left_open: Vec::new(),
    };
    // Bounded by the deadline.
    while progress.running(deadline) {
        let operation = client.operations;
        client.operations += 1;
        if operation.is_multiple_of(CONNECTION_OPERATIONS_MAX) {
            client.connection = None;
        }
        let outcome = match operation % 6 {
            0 | 3 => client.push_read_and_delete(),
            1 => client.ask_for_what_is_missing(),
            2 => client.abandon_upload(),
            4 => client.cut_a_chunk_off(),
            _ => client.cut_a_monolithic_upload_off(),
        };
        if let Err(failure) = outcome {
            progress.fail(format!("client {thread}, operation {operation}: {failure}"));
        }
    }
    client.sessions_left_open
}

impl Client<'_> {
    fn repository(&self, kind: &str) -> String {
        format!(
            "soak/client{}/{kind}{}",
            self.thread,
            self.operations % CLIENT_REPOSITORIES
        )
    }

    /// The kept-alive connection, opened when there is none.
    fn connection(&mut self) -> Result<&mut Connection, String> {
        if self.connection.is_none() {
            self.connection = Some(Connection::open(self.address)?);
        }
        Ok(self.connection.as_mut().expect("opened above"))
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Reply, String> {
        self.progress
            .client_requests
            .fetch_add(1, Ordering::Relaxed);
        let result = self.connection()?.send(method, path, headers, body);
        if result.is_err() {
            self.connection = None;
        }
        result
    }

    /// Sends a request on an upload session again while the server answers that another
    /// request holds the session.
    fn send_while_busy(&mut self, method: &str, session: &str) -> Result<Reply, String> {
        // Bounded: BUSY_ATTEMPTS_MAX attempts.
        for _ in 1..BUSY_ATTEMPTS_MAX {
            let reply = self.send(method, session, &[], Body::None)?;
            let busy = reply.status == 400
                && String::from_utf8_lossy(&reply.body).contains("BLOB_UPLOAD_INVALID");
            if !busy {
                return Ok(reply);
            }
            std::thread::sleep(BUSY_PAUSE);
        }
        self.send(method, session, &[], Body::None)
    }

    /// Uploads `bytes` to `repository` one of three ways, by `way`: monolithic POST, chunks
    /// with `Content-Range`, or a chunked-encoding PATCH finished by a PUT with the rest.
    fn upload(&mut self, repository: &str, bytes: &[u8], way: u64) -> Result<String, String> {
        let digest = common::sha256(bytes);
        let uploads = format!("/v2/{repository}/blobs/uploads/");
        if way == 0 {
            let reply = self.send(
                "POST",
                &with_digest(&uploads, &digest),
                &[("Content-Type", "application/octet-stream")],
                Body::Bytes(bytes),
            )?;
            expect("monolithic POST", &reply, 201)?;
        } else {
            let mut session = self.open_session(repository)?;
            let (patched, rest) = bytes.split_at(bytes.len() / 2);
            if way == 1 {
                let mut offset = 0;
                for chunk in patched.chunks(patched.len().div_ceil(3).max(1)) {
                    let range = format!("{offset}-{}", offset + chunk.len() - 1);
                    let reply = self.send(
                        "PATCH",
                        &session,
                        &[
                            ("Content-Type", "application/octet-stream"),
                            ("Content-Range", &range),
                        ],
                        Body::Bytes(chunk),
                    )?;
                    expect("PATCH chunk", &reply, 202)?;
                    offset += chunk.len();
                    if reply.header("range") != Some(&format!("0-{}", offset - 1)) {
                        return Err(format!("PATCH chunk: Range {:?}", reply.header("range")));
                    }
                    session = location("PATCH chunk", &reply)?;
                }
            } else {
                let reply = self.send(
                    "PATCH",
                    &session,
                    &[("Content-Type", "application/octet-stream")],
                    Body::Chunked(patched, 16 << 10),
                )?;
                expect("PATCH streamed", &reply, 202)?;
                session = location("PATCH streamed", &reply)?;
            }
            let reply = self.send(
                "PUT",
                &with_digest(&session, &digest),
                &[("Content-Type", "application/octet-stream")],
                Body::Bytes(rest),
            )?;
            expect("PUT upload", &reply, 201)?;
        }
        Ok(digest)
    }

    /// Pushes an image, reads it back every way (HEAD, GET, tag list, ranges), mounts its layer
    /// into another repository, then deletes all of it and sees it gone.
    fn push_read_and_delete(&mut self) -> Result<(), String> {
        let repository = self.repository("app");
        let mirror = self.repository("mirror");
        let layer_bytes = self.random.between(1 << 10, 256 << 10) as usize;
        let layer = self.random.bytes(layer_bytes);
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","soak":"{}-{}"}}"#,
            self.thread, self.operations
        );
        let way = self.operations / 6 % 3;
        let layer_digest = self.upload(&repository, &layer, way)?;
        let config_digest = self.upload(&repository, config.as_bytes(), 0)?;
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        );
        let manifest_digest = common::sha256(manifest.as_bytes());
        let tag = format!("t{}", self.operations % 3);
        let manifest_type = "application/vnd.oci.image.manifest.v1+json";
        let reply = self.send(
            "PUT",
            &format!("/v2/{repository}/manifests/{tag}"),
            &[("Content-Type", manifest_type)],
            Body::Bytes(manifest.as_bytes()),
        )?;
        expect("PUT manifest", &reply, 201)?;
        if reply.header("docker-content-digest") != Some(manifest_digest.as_str()) {
            return Err(format!("PUT manifest: digest {:?}", reply.headers));
        }

        let by_tag = format!("/v2/{repository}/manifests/{tag}");
        let by_digest = format!("/v2/{repository}/manifests/{manifest_digest}");
        let accept = [("Accept", manifest_type)];
        let reply = self.send("HEAD", &by_tag, &accept, Body::None)?;
        expect("HEAD manifest", &reply, 200)?;
        let reply = self.send("GET", &by_digest, &accept, Body::None)?;
        expect("GET manifest", &reply, 200)?;
        if reply.body != manifest.as_bytes() {
            return Err("GET manifest: other bytes".to_owned());
        }
        // The one GET of this manifest: one core caches it.
        self.progress.manifest_cache_bytes.fetch_add(
            manifest.len() as u64 + MANIFEST_CACHE_ENTRY_OVERHEAD_BYTES,
            Ordering::Relaxed,
        );
        let reply = self.send(
            "GET",
            &format!("/v2/{repository}/tags/list"),
            &[],
            Body::None,
        )?;
        expect("GET tags", &reply, 200)?;
        if !String::from_utf8_lossy(&reply.body).contains(&format!("\"{tag}\"")) {
            return Err(format!(
                "tags list without {tag}: {}",
                String::from_utf8_lossy(&reply.body)
            ));
        }

        let layer_path = format!("/v2/{repository}/blobs/{layer_digest}");
        let reply = self.send("HEAD", &layer_path, &[], Body::None)?;
        expect("HEAD layer", &reply, 200)?;
        if reply.header("content-length") != Some(&layer.len().to_string()) {
            return Err(format!("HEAD layer: {:?}", reply.headers));
        }
        let start = self.random.between(0, layer.len() as u64 / 2) as usize;
        let end = self.random.between(start as u64, layer.len() as u64) as usize;
        let range = format!("bytes={start}-{end}");
        let reply = self.send("GET", &layer_path, &[("Range", &range)], Body::None)?;
        expect("GET layer range", &reply, 206)?;
        if reply.body != layer[start..=end] {
            return Err(format!("GET layer {range}: other bytes"));
        }
        let reply = self.send("GET", &layer_path, &[("Range", "bytes=-100")], Body::None)?;
        expect("GET layer suffix", &reply, 206)?;
        if reply.body != layer[layer.len() - 100..] {
            return Err("GET layer bytes=-100: other bytes".to_owned());
        }
        let reply = self.send(
            "GET",
            &layer_path,
            &[("Range", "bytes=0-9,20-29")],
            Body::None,
        )?;
        expect("GET layer two ranges", &reply, 206)?;
        let content_type = reply.header("content-type").unwrap_or("");
        if !content_type.starts_with("multipart/byteranges") || reply.body.len() < 20 {
            return Err(format!("GET two ranges: {content_type}"));
        }
        let reply = self.send("GET", &layer_path, &[], Body::None)?;
        expect("GET layer", &reply, 200)?;
        if reply.body != layer {
            return Err("GET layer: other bytes".to_owned());
        }

        let reply = self.send(
            "POST",
            &format!("/v2/{mirror}/blobs/uploads/?mount={layer_digest}&from={repository}"),
            &[],
            Body::None,
        )?;
        expect("mount", &reply, 201)?;
        let mirrored = format!("/v2/{mirror}/blobs/{layer_digest}");
        let reply = self.send("HEAD", &mirrored, &[], Body::None)?;
        expect("HEAD mounted", &reply, 200)?;
        let reply = self.send("DELETE", &mirrored, &[], Body::None)?;
        expect("DELETE mounted", &reply, 202)?;

        let reply = self.send("DELETE", &by_digest, &[], Body::None)?;
        expect("DELETE manifest", &reply, 202)?;
        let reply = self.send("GET", &by_tag, &accept, Body::None)?;
        expect("GET deleted manifest", &reply, 404)?;
        for digest in [&layer_digest, &config_digest] {
            let blob = format!("/v2/{repository}/blobs/{digest}");
            let reply = self.send("DELETE", &blob, &[], Body::None)?;
            expect("DELETE blob", &reply, 202)?;
            let reply = self.send("HEAD", &blob, &[], Body::None)?;
            expect("HEAD deleted blob", &reply, 404)?;
        }
        let reply = self.send("HEAD", &mirrored, &[], Body::None)?;
        expect("HEAD deleted mount", &reply, 404)
    }

    /// What clients ask of a registry that has nothing for them, on a connection of its own
    /// that closes after: each answer says so without failing the connection.
    fn ask_for_what_is_missing(&mut self) -> Result<(), String> {
        let repository = self.repository("app");
        let missing = common::sha256(&self.random.next().to_le_bytes());
        let kept = self.connection.take();
        let result = (|| {
            for (method, path, status) in [
                ("GET", "/v2/".to_owned(), 200),
                ("HEAD", format!("/v2/{repository}/blobs/{missing}"), 404),
                ("GET", format!("/v2/{repository}/blobs/{missing}"), 404),
                ("HEAD", format!("/v2/{repository}/manifests/{missing}"), 404),
                ("GET", format!("/v2/{repository}/manifests/nothing"), 404),
                ("GET", "/v2/soak/nowhere/tags/list".to_owned(), 404),
                (
                    "GET",
                    format!("/v2/{repository}/blobs/uploads/00000000000000000000000000000000"),
                    404,
                ),
                ("GET", "/v2/_catalog?n=10".to_owned(), 200),
            ] {
                let reply = self.send(method, &path, &[], Body::None)?;
                expect(&format!("{method} {path}"), &reply, status)?;
            }
            Ok(())
        })();
        self.connection = kept;
        result
    }

    /// POST to start an upload session in `repository`; its location.
    fn open_session(&mut self, repository: &str) -> Result<String, String> {
        let reply = self.send(
            "POST",
            &format!("/v2/{repository}/blobs/uploads/"),
            &[],
            Body::None,
        )?;
        expect("POST upload", &reply, 202)?;
        location("POST upload", &reply)
    }

    /// Starts an upload in one of this thread's repositories and PATCHes `bytes` to it; the
    /// session's location after the PATCH.
    fn upload_a_chunk(&mut self, bytes: &[u8]) -> Result<String, String> {
        let repository = self.repository("app");
        let session = self.open_session(&repository)?;
        let reply = self.send(
            "PATCH",
            &session,
            &[("Content-Type", "application/octet-stream")],
            Body::Bytes(bytes),
        )?;
        expect("PATCH", &reply, 202)?;
        location("PATCH", &reply)
    }

    /// Starts an upload and sends part of it, then walks away. The first few stay open to the
    /// end; the others are looked at and cancelled, as a client that gave up would.
    fn abandon_upload(&mut self) -> Result<(), String> {
        let bytes = self.random.bytes(4096);
        let session = self.upload_a_chunk(&bytes)?;
        if self.sessions_left_open.len() < SESSIONS_LEFT_OPEN_PER_THREAD {
            self.sessions_left_open.push(session);
            return Ok(());
        }
        let reply = self.send("GET", &session, &[], Body::None)?;
        expect("GET upload status", &reply, 204)?;
        if reply.header("range") != Some("0-4095") {
            return Err(format!("upload status: {:?}", reply.headers));
        }
        let reply = self.send("DELETE", &session, &[], Body::None)?;
        expect("DELETE upload", &reply, 204)?;
        let reply = self.send("GET", &session, &[], Body::None)?;
        expect("GET cancelled upload", &reply, 404)
    }

    /// A PATCH cut off mid-body by a client that goes away: the session keeps what was
    /// acknowledged before it, and is then cancelled.
    fn cut_a_chunk_off(&mut self) -> Result<(), String> {
        let first = self.random.bytes(8192);
        let session = self.upload_a_chunk(&first)?;
        // The cut-off PATCH on a connection of its own: its head promises more than follows.
        let mut cut = Connection::open(self.address)?;
        self.progress
            .client_requests
            .fetch_add(1, Ordering::Relaxed);
        let second = self.random.bytes(64 << 10);
        cut.write_request(
            "PATCH",
            &session,
            &[("Content-Type", "application/octet-stream")],
            Body::Promised(second.len() * 2),
        )
        .and_then(|()| {
            cut.reader
                .get_mut()
                .write_all(&second)
                .map_err(|error| format!("write: {error}"))
        })?;
        let _ = cut.reader.get_mut().shutdown(Shutdown::Both);
        drop(cut);
        // The server may not have read the cut-off PATCH yet (it came on another connection,
        // maybe to the other core), and holds the session while it reads it: a request in
        // between is refused as busy. Once it has, the session is where the first PATCH left it.
        let reply = self.send_while_busy("GET", &session)?;
        expect("GET status after a cut", &reply, 204)?;
        if reply.header("range") != Some("0-8191") {
            return Err(format!("status after a cut: {:?}", reply.headers));
        }
        let reply = self.send_while_busy("DELETE", &session)?;
        expect("DELETE upload", &reply, 204)?;
        Ok(())
    }

    /// A monolithic upload cut off mid-body: the server drops the session it started, so the
    /// blob never appears and no file stays behind (checked at the end).
    fn cut_a_monolithic_upload_off(&mut self) -> Result<(), String> {
        let repository = self.repository("app");
        let bytes = self.random.bytes(128 << 10);
        let digest = common::sha256(&bytes);
        let mut cut = Connection::open(self.address)?;
        self.progress
            .client_requests
            .fetch_add(1, Ordering::Relaxed);
        cut.write_request(
            "POST",
            &with_digest(&format!("/v2/{repository}/blobs/uploads/"), &digest),
            &[("Content-Type", "application/octet-stream")],
            Body::Promised(bytes.len()),
        )
        .and_then(|()| {
            cut.reader
                .get_mut()
                .write_all(&bytes[..bytes.len() / 2])
                .map_err(|error| format!("write: {error}"))
        })?;
        let _ = cut.reader.get_mut().shutdown(Shutdown::Both);
        drop(cut);
        let reply = self.send(
            "HEAD",
            &format!("/v2/{repository}/blobs/{digest}"),
            &[],
            Body::None,
        )?;
        expect("HEAD blob of a cut upload", &reply, 404)
    }
}
