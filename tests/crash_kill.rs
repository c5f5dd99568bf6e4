//! Nothing acknowledged is lost: push workloads (monolithic and streamed blobs, chunked sessions,
//! manifests with tags and subjects) run against `zot serve` while the process is killed with
//! SIGKILL at random moments, at least 100 times. After each restart the opened root passes the
//! offline check (every blob hashes to its name, every index.json parses, every tag names a
//! present manifest); after it, everything that was answered 201 is there with its bytes, and an
//! acknowledged upload session continues at its acknowledged offset or is unknown, never
//! elsewhere. And no `index.json` changes between the kill and the restarted server's first
//! request: nothing of the killed process outlives it.
//!
//! The run is repeatable from its seed, printed first: `ZOT_CRASH_SEED=<seed>` replays the same
//! choices (the moments the kernel schedules differ, so a replay is close, not exact).
//! `ZOT_CRASH_CYCLES` sets the number of kills (default 100). The server is the release build
//! (built first when missing), as users run it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::binary::{ServeConfig, serve_config};
use common::random::Random;
use common::{Reply, RootGuard};
use storage_engine::invariants::{CheckOptions, Invariant, check_root};

const CYCLES_DEFAULT: u64 = 100;
const WORKERS: u64 = 3;
/// A run slower than this fails, so a hang or a slow machine cannot stretch CI without bound.
const RUN_SECONDS_MAX: u64 = 240;
/// Operations one worker starts in one cycle at most.
const OPERATIONS_PER_WORKER_MAX: u64 = 40;
/// Earlier blobs and manifests fetched again after each restart.
const SAMPLE_COUNT: usize = 16;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// One request on a new connection; any I/O failure is `None`: not acknowledged.
fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<Reply> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: registry\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received).ok()?;
    let end = received
        .windows(4)
        .position(|window| window == b"\r\n\r\n")?;
    let text = std::str::from_utf8(&received[..end]).ok()?;
    let mut lines = text.split("\r\n");
    let status = lines.next()?.get(9..12)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut body = received[end + 4..].to_vec();
    if method == "HEAD" {
        body.clear();
    } else {
        let length: usize = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        if body.len() != length {
            return None;
        }
    }
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// What the clients were told, and what was in flight when the server died.
#[derive(Default)]
struct Ledger {
    /// Blobs answered 201 and checked after a restart since: (repository, digest) to bytes.
    blobs: BTreeMap<(String, String), Vec<u8>>,
    /// Blobs answered 201 since the last restart's check.
    fresh_blobs: BTreeMap<(String, String), Vec<u8>>,
    /// Manifests answered 201 and checked after a restart since: (repository, digest) to bytes.
    manifests: BTreeMap<(String, String), Vec<u8>>,
    /// Manifests answered 201 since the last restart's check.
    fresh_manifests: BTreeMap<(String, String), Vec<u8>>,
    /// (repository, tag) to the digests it may name: what it named at the last check, and every
    /// manifest put under it since, answered or not. Workers put the same tags concurrently, and
    /// the order of their answers need not be the order the owner core applied them, so any of
    /// these may be the one that came last.
    tags: BTreeMap<(String, String), BTreeSet<String>>,
    /// Tags some put under them was answered 201: they must exist from then on (nothing here
    /// deletes).
    tags_acknowledged: BTreeSet<(String, String)>,
    /// Every put under each tag, in the order the workers started them, with whether it was
    /// answered: shown when a tag is found naming something unexpected.
    tag_history: BTreeMap<(String, String), Vec<(String, bool)>>,
    /// Session location to the offsets it may be at (the last acknowledged end, and the end of
    /// a PATCH still unanswered) and what was sent to it.
    sessions: BTreeMap<String, OpenSession>,
    /// Sessions found after a restart at an offset they were told, then finished with more
    /// bytes and a PUT whose digest covers what they held: proof the upload continued.
    sessions_continued: u64,
    /// Sessions a restart reported unknown (404): allowed, never a wrong offset.
    sessions_unknown: u64,
}

/// An upload session a worker left open or was in when the server died.
struct OpenSession {
    /// Its repository.
    name: String,
    /// The offsets it may be at.
    allowed: BTreeSet<u64>,
    /// Every byte sent to it, the unanswered PATCH's included: each allowed end is a prefix.
    sent: Vec<u8>,
}

fn repository(random: &mut Random) -> String {
    format!("crash/r{}", random.below(6))
}

/// Runs operations against `address` until `stop`, recording what was acknowledged.
fn work(
    address: SocketAddr,
    mut random: Random,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) {
    // Bounded: the server dies within the cycle, after which every request fails fast; the
    // count keeps a fast machine from piling up more than the checks can fetch in time.
    for _ in 0..OPERATIONS_PER_WORKER_MAX {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let alive = match random.below(4) {
            0 => monolithic(address, &mut random, &ledger),
            1 => chunked(address, &mut random, &ledger),
            _ => image(address, &mut random, &ledger),
        };
        if !alive {
            return;
        }
    }
}

/// POST ?digest= with the whole blob. False when the server is gone.
fn monolithic(address: SocketAddr, random: &mut Random, ledger: &Mutex<Ledger>) -> bool {
    let name = repository(random);
    let bytes = random.some_bytes(32 * 1024);
    let digest = common::sha256(&bytes);
    let path = format!("/v2/{name}/blobs/uploads/?digest={digest}");
    match request(address, "POST", &path, None, &bytes) {
        Some(answer) => {
            assert_eq!(
                answer.status,
                201,
                "{path}: {}",
                String::from_utf8_lossy(&answer.body)
            );
            ledger
                .lock()
                .unwrap()
                .fresh_blobs
                .insert((name, digest), bytes);
            true
        }
        None => false,
    }
}

/// POST, PATCHes, then PUT ?digest= or leave the session open. False when the server is gone.
fn chunked(address: SocketAddr, random: &mut Random, ledger: &Mutex<Ledger>) -> bool {
    let name = repository(random);
    let Some(answer) = request(
        address,
        "POST",
        &format!("/v2/{name}/blobs/uploads/"),
        None,
        b"",
    ) else {
        return false;
    };
    assert_eq!(answer.status, 202);
    let location = answer
        .header("Location")
        .expect("a session location")
        .to_owned();
    ledger.lock().unwrap().sessions.insert(
        location.clone(),
        OpenSession {
            name: name.clone(),
            allowed: BTreeSet::from([0]),
            sent: Vec::new(),
        },
    );
    let mut all = Vec::new();
    for _ in 0..1 + random.below(3) {
        let chunk = random.some_bytes(16 * 1024);
        let end = (all.len() + chunk.len()) as u64;
        {
            let mut held = ledger.lock().unwrap();
            let session = held.sessions.get_mut(&location).unwrap();
            session.allowed.insert(end);
            session.sent.extend_from_slice(&chunk);
        }
        let Some(answer) = request(address, "PATCH", &location, None, &chunk) else {
            return false;
        };
        assert_eq!(answer.status, 202, "{location}");
        all.extend_from_slice(&chunk);
        // Acknowledged: only this end is allowed now.
        ledger
            .lock()
            .unwrap()
            .sessions
            .get_mut(&location)
            .unwrap()
            .allowed = BTreeSet::from([end]);
    }
    if random.below(3) == 0 {
        // Left open, for the check after the restart.
        return true;
    }
    let digest = common::sha256(&all);
    let Some(answer) = request(
        address,
        "PUT",
        &format!("{location}?digest={digest}"),
        None,
        b"",
    ) else {
        return false;
    };
    assert_eq!(answer.status, 201);
    let mut ledger = ledger.lock().unwrap();
    ledger.sessions.remove(&location);
    ledger.fresh_blobs.insert((name, digest), all);
    true
}

/// A config and a layer, then a manifest under a tag, sometimes with a subject. False when the
/// server is gone.
fn image(address: SocketAddr, random: &mut Random, ledger: &Mutex<Ledger>) -> bool {
    let name = repository(random);
    let config = format!(r#"{{"os":"linux","seed":{}}}"#, random.next()).into_bytes();
    let layer = random.some_bytes(16 * 1024);
    let mut digests = Vec::new();
    for bytes in [&config, &layer] {
        let digest = common::sha256(bytes);
        let path = format!("/v2/{name}/blobs/uploads/?digest={digest}");
        let Some(answer) = request(address, "POST", &path, None, bytes) else {
            return false;
        };
        assert_eq!(answer.status, 201);
        ledger
            .lock()
            .unwrap()
            .fresh_blobs
            .insert((name.clone(), digest.clone()), bytes.clone());
        digests.push(digest);
    }
    // A subject: an acknowledged manifest of the same repository, when there is one.
    let subject = {
        let ledger = ledger.lock().unwrap();
        ledger
            .manifests
            .iter()
            .chain(&ledger.fresh_manifests)
            .filter(|((repository, _), _)| *repository == name)
            .map(|((_, digest), bytes)| (digest.clone(), bytes.len()))
            .next_back()
    };
    let subject_field = match subject {
        Some((digest, size)) if random.below(2) == 0 => format!(
            r#","subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{size}}}"#
        ),
        _ => String::new(),
    };
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]{subject_field}}}"#,
        digests[0],
        config.len(),
        digests[1],
        layer.len()
    )
    .into_bytes();
    let digest = common::sha256(&manifest);
    let tag = format!("t{}", random.below(4));
    let key = (name.clone(), tag.clone());
    {
        let mut ledger = ledger.lock().unwrap();
        ledger
            .tags
            .entry(key.clone())
            .or_default()
            .insert(digest.clone());
        ledger
            .tag_history
            .entry(key.clone())
            .or_default()
            .push((digest.clone(), false));
    }
    let path = format!("/v2/{name}/manifests/{tag}");
    let Some(answer) = request(address, "PUT", &path, Some(OCI_MANIFEST), &manifest) else {
        return false;
    };
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let mut ledger = ledger.lock().unwrap();
    ledger
        .fresh_manifests
        .insert((name, digest.clone()), manifest);
    if let Some(entry) = ledger
        .tag_history
        .get_mut(&key)
        .and_then(|history| history.iter_mut().rev().find(|(put, _)| *put == digest))
    {
        entry.1 = true;
    }
    // The tag may name this digest from now on, or any other put under it still unanswered:
    // the order of the answers need not be the order the owner applied the puts.
    ledger.tags_acknowledged.insert(key);
    true
}

/// The offline check of a root its restarted server has opened and not yet been asked to
/// change: I1 (every blob hashed), I2, I3, I4, I5, I6, I10, I11.
fn check_idle_root(root: &Path, cycle: u64, seed: u64) {
    if !root.exists() {
        return;
    }
    let report = check_root(root, &CheckOptions { hash_blobs: true });
    assert!(
        report.is_clean(),
        "seed {seed}, cycle {cycle}: the restarted root breaks invariants:\n{report}"
    );
    assert_eq!(report.violations_of(Invariant::I1).count(), 0);
}

/// Everything acknowledged since the last check is served after the restart, and a sample of
/// what was checked before (blobs never change, so one full check each is the proof; the sample
/// catches a later loss); sessions are where they were told.
/// With `everything`, all that was ever acknowledged is fetched again (the final check).
fn check_served(
    address: SocketAddr,
    ledger: &mut Ledger,
    random: &mut Random,
    everything: bool,
    context: &str,
) {
    let sample = |map: &BTreeMap<(String, String), Vec<u8>>, random: &mut Random| {
        if everything {
            return map.clone();
        }
        let mut picked = BTreeMap::new();
        for _ in 0..SAMPLE_COUNT.min(map.len()) {
            let index = random.below(map.len() as u64) as usize;
            let (key, bytes) = map.iter().nth(index).expect("index below the length");
            picked.insert(key.clone(), bytes.clone());
        }
        picked
    };
    let old_blobs = sample(&ledger.blobs, random);
    let old_manifests = sample(&ledger.manifests, random);
    for ((name, digest), bytes) in ledger.fresh_blobs.iter().chain(&old_blobs) {
        let answer = request(
            address,
            "GET",
            &format!("/v2/{name}/blobs/{digest}"),
            None,
            b"",
        )
        .expect("the restarted server answers");
        assert_eq!(answer.status, 200, "{context}: blob {name} {digest}");
        assert_eq!(answer.body, *bytes, "{context}: blob {name} {digest}");
    }
    for ((name, digest), bytes) in ledger.fresh_manifests.iter().chain(&old_manifests) {
        let answer = request(
            address,
            "GET",
            &format!("/v2/{name}/manifests/{digest}"),
            None,
            b"",
        )
        .expect("the restarted server answers");
        assert_eq!(answer.status, 200, "{context}: manifest {name} {digest}");
        assert_eq!(answer.body, *bytes, "{context}: manifest {name} {digest}");
    }
    let fresh_blobs = std::mem::take(&mut ledger.fresh_blobs);
    ledger.blobs.extend(fresh_blobs);
    let fresh_manifests = std::mem::take(&mut ledger.fresh_manifests);
    ledger.manifests.extend(fresh_manifests);
    for (key, allowed) in &mut ledger.tags {
        let (name, tag) = key;
        let path = format!("/v2/{name}/manifests/{tag}");
        let answer =
            request(address, "HEAD", &path, None, b"").expect("the restarted server answers");
        if answer.status == 404 {
            assert!(
                !ledger.tags_acknowledged.contains(key),
                "{context}: tag {name}:{tag} lost"
            );
            continue;
        }
        let digest = answer
            .header("Docker-Content-Digest")
            .unwrap_or("")
            .to_owned();
        assert!(
            allowed.contains(&digest),
            "{context}: tag {name}:{tag} names {digest}, not one of {allowed:?}; puts under it (digest, answered): {:?}",
            ledger.tag_history.get(key)
        );
        // From now on the tag names exactly this.
        *allowed = BTreeSet::from([digest]);
    }
    for (location, session) in std::mem::take(&mut ledger.sessions) {
        let answer =
            request(address, "GET", &location, None, b"").expect("the restarted server answers");
        match answer.status {
            404 => ledger.sessions_unknown += 1,
            204 => {
                let range = answer.header("Range").unwrap_or("");
                let end = match range.split_once('-') {
                    Some(("0", "0")) => 0,
                    Some((_, last)) => last.parse::<u64>().expect("a Range end") + 1,
                    None => panic!("{context}: session {location} answered Range {range:?}"),
                };
                let allowed = &session.allowed;
                assert!(
                    allowed.contains(&end),
                    "{context}: session {location} resumes at {end}, not one of {allowed:?}"
                );
                let blob = continue_session(address, &location, &session, end, random, context);
                ledger.sessions_continued += 1;
                ledger.fresh_blobs.insert(blob.0, blob.1);
            }
            status => panic!("{context}: session {location} answered {status}"),
        }
    }
}

/// Finishes a session the restarted server holds at `end`: one more chunk from there, then a
/// PUT whose digest covers the first `end` bytes sent before the crash and the new chunk. A 201
/// proves the server kept exactly those bytes (and its hasher's state) across the kill. Returns
/// the blob, to be checked after the next restart like any other.
fn continue_session(
    address: SocketAddr,
    location: &str,
    session: &OpenSession,
    end: u64,
    random: &mut Random,
    context: &str,
) -> ((String, String), Vec<u8>) {
    let kept = usize::try_from(end).unwrap();
    assert!(kept <= session.sent.len());
    let chunk = random.some_bytes(16 * 1024);
    let answer =
        request(address, "PATCH", location, None, &chunk).expect("the restarted server answers");
    assert_eq!(
        answer.status, 202,
        "{context}: continuing session {location} at {end}"
    );
    let mut bytes = session.sent[..kept].to_vec();
    bytes.extend_from_slice(&chunk);
    let digest = common::sha256(&bytes);
    let answer = request(
        address,
        "PUT",
        &format!("{location}?digest={digest}"),
        None,
        b"",
    )
    .expect("the restarted server answers");
    assert_eq!(
        answer.status,
        201,
        "{context}: finishing session {location} continued at {end}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    ((session.name.clone(), digest), bytes)
}

#[test]
fn nothing_acknowledged_is_lost_across_sigkill() {
    let seed = std::env::var("ZOT_CRASH_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let cycles: u64 = std::env::var("ZOT_CRASH_CYCLES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(CYCLES_DEFAULT);
    // The release build: its timing is what users run, and crashes land elsewhere in it than in
    // the debug build's slower code.
    let binary = common::binary::release_binary("zot", "zot");
    eprintln!(
        "crash_kill: seed {seed} (ZOT_CRASH_SEED={seed} repeats it), {cycles} cycles, {}",
        binary.display()
    );
    let mut random = Random(seed);
    let folder = common::temporary_root("crash-kill", "both");
    let _guard = RootGuard(folder.clone());
    let root = folder.join("data");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let started = Instant::now();
    let mut kills = 0;
    let mut after_kill = BTreeMap::new();
    for cycle in 0..cycles {
        assert!(
            started.elapsed() < Duration::from_secs(RUN_SECONDS_MAX),
            "seed {seed}: {kills} kills took longer than {RUN_SECONDS_MAX} s"
        );
        let driver = if cycle % 2 == 0 { "io_uring" } else { "legacy" };
        let served = serve_config(ServeConfig {
            root: Some(root.clone()),
            binary: Some(binary.clone()),
            ..ServeConfig::new(driver, 2)
        });
        // After the restart's open, which clears what a crash may leave (temporary files, a
        // session whose creation was cut before its first state), and before any new request.
        // The listening line comes before the cores open their stores: wait for both.
        served.core_lines(2);
        check_idle_root(&root, cycle, seed);
        let now = index_files(&root);
        // Nothing writes an index between the kill and the first request: not the killed
        // process (its I/O ended with it), not open.
        for (path, bytes) in &now {
            assert!(
                after_kill.get(path).is_none_or(|before| before == bytes),
                "seed {seed}, cycle {cycle}: {} changed between the kill and the restarted server's first request",
                path.display()
            );
        }
        let context = format!("seed {seed}, cycle {cycle}");
        let mut held = ledger.lock().unwrap();
        check_served(served.address, &mut held, &mut random, false, &context);
        drop(held);
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let worker_random = Random(random.next() | 1);
                let (ledger, stop, address) = (ledger.clone(), stop.clone(), served.address);
                std::thread::spawn(move || work(address, worker_random, ledger, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20 + random.below(230)));
        served.kill();
        kills += 1;
        after_kill = index_files(&root);
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            worker
                .join()
                .expect("a worker saw a wrong answer (its panic is above)");
        }
    }
    let served = serve_config(ServeConfig {
        root: Some(root.clone()),
        binary: Some(binary),
        ..ServeConfig::new("auto", 2)
    });
    served.core_lines(2);
    check_idle_root(&root, cycles, seed);
    let mut ledger = ledger.lock().unwrap();
    let context = format!("seed {seed}, after the last kill");
    check_served(served.address, &mut ledger, &mut random, true, &context);
    eprintln!(
        "crash_kill: seed {seed}: {kills} kills in {:?}; {} blobs, {} manifests, {} tags acknowledged and found; {} open sessions continued after a restart, {} reported unknown",
        started.elapsed(),
        ledger.blobs.len(),
        ledger.manifests.len(),
        ledger.tags.len(),
        ledger.sessions_continued,
        ledger.sessions_unknown
    );
    assert!(
        ledger.sessions_continued > 0,
        "the workload left sessions open across kills"
    );
    assert!(kills >= cycles.min(100));
    assert!(
        !ledger.manifests.is_empty(),
        "the workload acknowledged something"
    );
    served.stop();
}

/// Every `index.json` under `root` (not under any `blobs/`), with its bytes.
fn index_files(root: &Path) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !path.ends_with("blobs") {
                    folders.push(path);
                }
            } else if path.file_name().is_some_and(|name| name == "index.json") {
                found.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    found
}
