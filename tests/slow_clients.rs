//! Slow and stalled clients against the real `zot` binary in both modes, with short timeouts
//! (`idleTimeoutSeconds` 2, `headTimeoutSeconds` 3): a head trickled in byte by byte is cut at
//! the head timeout while a normal client is served promptly; a head or body that stops is
//! closed at the idle timeout and changes nothing; a client that stops reading a large blob is
//! closed and the blob file released; slow clients that keep going are served whole.
//!
//! Every bound on time is loose above (a loaded 2-core machine runs timers late) and tight below
//! (timers never fire early), and a timeout not enforced fails the test at its upper bound.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::binary::{MODES, Served, mode_config, serve_config};
use common::{Client, Reply, sha256};

/// `runtime.idleTimeoutSeconds` of every server here.
const IDLE: Duration = Duration::from_secs(2);
/// `runtime.headTimeoutSeconds`: longer than the idle timeout, so that a cut a trickling client
/// sees at or after it can only be the head deadline's.
const HEAD: Duration = Duration::from_secs(3);
/// How late a timeout may be seen on a loaded machine.
const SLACK: Duration = Duration::from_secs(5);
/// How early: the server's clock starts at or after the client's, so only reading the two at
/// slightly different moments.
const EARLY: Duration = Duration::from_millis(100);
/// A normal request while slow clients hold connections on the same core.
const PROMPT: Duration = Duration::from_secs(1);
/// The blob a stalled reader and a slow reader ask for: far more than loopback's socket buffers
/// hold (a few MiB each way), so a client that reads nothing stalls the server's writes.
const LARGE_BLOB_BYTES: usize = 64 << 20;

/// A server of `mode` on one core (every slow client shares the core of the normal ones) with
/// the short timeouts.
fn start(mode: (&'static str, &'static str)) -> Served {
    let mut config = mode_config(mode, 1);
    config.runtime_extra.push_str(&format!(
        r#","idleTimeoutSeconds":{},"headTimeoutSeconds":{}"#,
        IDLE.as_secs(),
        HEAD.as_secs()
    ));
    serve_config(config)
}

/// Runs `test` against a server of each mode, the two at once on their own threads (the tests
/// mostly wait for timeouts), then stops the servers cleanly.
fn on_both_modes(test: fn(&Served, &str)) {
    let threads: Vec<_> = MODES
        .into_iter()
        .map(|mode| {
            std::thread::spawn(move || {
                let served = start(mode);
                test(&served, mode.0);
                served.stop();
            })
        })
        .collect();
    for thread in threads {
        if let Err(panic) = thread.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Bytes that are not all alike, so a misplaced range would show in a digest.
fn pattern(length: usize) -> Vec<u8> {
    (0..length as u32)
        .map(|n| (n.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// The server ended the connection (or never will: the caller's bound decides).
fn is_closed(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
    )
}

/// Reads until the server closes `stream` (end of stream or reset) and returns how long after
/// `since` that was seen and what came before; fails when it is still open at `since + limit`.
fn wait_for_close(
    stream: &mut TcpStream,
    since: Instant,
    limit: Duration,
    what: &str,
) -> (Duration, Vec<u8>) {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    // Each pass waits at most 100 ms; the limit ends it.
    loop {
        assert!(
            since.elapsed() < limit,
            "{what}: still open after {:?}",
            since.elapsed()
        );
        match stream.read(&mut chunk) {
            Ok(0) => return (since.elapsed(), received),
            Ok(count) => received.extend_from_slice(&chunk[..count]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(error) if is_closed(&error) => return (since.elapsed(), received),
            Err(error) => panic!("{what}: {error}"),
        }
    }
}

/// Asserts that a connection cut at `after` was cut by a timer of `timeout`: not before it, and
/// not much after.
fn assert_cut_at(after: Duration, timeout: Duration, what: &str) {
    assert!(
        after >= timeout - EARLY,
        "{what}: closed after {after:?}, before the {timeout:?} timeout"
    );
    assert!(
        after < timeout + SLACK,
        "{what}: closed only after {after:?}, the timeout is {timeout:?}"
    );
}

/// The status of the answer in `bytes`, if any came.
fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next()?;
    line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Asserts that what a cut connection received is nothing or one answer of `status` that
/// announces the close.
fn assert_nothing_or(bytes: &[u8], status: u16, what: &str) {
    if bytes.is_empty() {
        return;
    }
    let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
    assert_eq!(status_of(bytes), Some(status), "{what}: {text:?}");
    assert!(
        text.contains("\r\nconnection: close\r\n"),
        "{what}: {text:?}"
    );
}

/// `GET /v2/` on a new connection, timed.
fn timed_version_check(address: SocketAddr) -> Duration {
    let started = Instant::now();
    let reply = Client::connect(address).get("/v2/");
    let took = started.elapsed();
    assert_eq!(reply.status, 200);
    took
}

fn head_blob(client: &mut Client, repository: &str, digest: &str) -> Reply {
    client.send(
        "HEAD",
        &format!("/v2/{repository}/blobs/{digest}"),
        &[],
        b"",
    )
}

// ---- heads -----------------------------------------------------------------------------------

/// Sends a head one byte every half second, never idle for the idle timeout, and never ending;
/// returns when the server cut it (from the first byte) and what it answered.
fn trickle_head(address: SocketAddr) -> (Duration, Vec<u8>) {
    let head = format!(
        "GET /v2/ HTTP/1.1\r\nHost: registry\r\nX-Slow: {}",
        "a".repeat(100)
    );
    let mut stream = connect(address);
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let started = Instant::now();
    let mut chunk = [0u8; 1024];
    // One byte per pass; the time bound ends it long before the head would.
    for byte in head.bytes() {
        assert!(
            started.elapsed() < HEAD + SLACK,
            "a head trickled in for {:?} is still being read",
            started.elapsed()
        );
        if let Err(error) = stream.write_all(&[byte]) {
            assert!(is_closed(&error), "{error}");
            return (started.elapsed(), Vec::new());
        }
        match stream.read(&mut chunk) {
            Ok(0) => return (started.elapsed(), Vec::new()),
            Ok(count) => {
                let (after, rest) = wait_for_close(&mut stream, started, HEAD + SLACK, "trickle");
                return (after, [&chunk[..count], &rest].concat());
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(error) if is_closed(&error) => return (started.elapsed(), Vec::new()),
            Err(error) => panic!("{error}"),
        }
    }
    panic!("the whole head went out: it is too short for the test");
}

fn trickled_heads_are_cut_and_others_served(served: &Served, mode: &str) {
    const SLOW_CLIENTS: usize = 8;
    let address = served.address;
    let slow: Vec<_> = (0..SLOW_CLIENTS)
        .map(|_| std::thread::spawn(move || trickle_head(address)))
        .collect();
    // While every slow client holds its connection (well before the head timeout), normal
    // requests on the same core are answered at once.
    std::thread::sleep(Duration::from_millis(500));
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        slowest = slowest.max(timed_version_check(address));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        slowest < PROMPT,
        "{mode}: GET /v2/ took {slowest:?} beside {SLOW_CLIENTS} slow clients"
    );
    let mut answered = 0;
    for thread in slow {
        let (after, bytes) = thread.join().unwrap();
        let what = format!("{mode}: trickled head");
        assert_cut_at(after, HEAD, &what);
        assert_nothing_or(&bytes, 408, &what);
        answered += usize::from(!bytes.is_empty());
    }
    eprintln!("{mode}: {answered} of {SLOW_CLIENTS} trickling clients read their 408");
    // The core is still fine afterwards.
    assert!(timed_version_check(address) < PROMPT);
}

#[test]
fn a_trickled_head_is_cut_at_the_head_timeout_while_others_are_served() {
    on_both_modes(trickled_heads_are_cut_and_others_served);
}

// ---- heads and bodies that stop --------------------------------------------------------------

/// Sends `request` (a head and perhaps part of a body) and nothing more; returns when the server
/// cut the connection and what it answered.
fn send_and_stop(address: SocketAddr, request: &[u8], what: &str) -> (Duration, Vec<u8>) {
    let mut stream = connect(address);
    stream.write_all(request).unwrap();
    let started = Instant::now();
    wait_for_close(&mut stream, started, IDLE + SLACK, what)
}

fn stopped_heads_and_bodies_are_closed(served: &Served, mode: &str) {
    let address = served.address;
    // A new client for each step: a kept-alive one would be closed, rightly, while the test
    // waits out a timeout.
    let client = || Client::connect(address);

    // A head that stops: 408 (the client is listening, so it gets it) at the idle timeout, which
    // is shorter than the head timeout here.
    let what = format!("{mode}: head that stops");
    let (after, bytes) = send_and_stop(address, b"GET /v2/ HTTP/1.1\r\nHost: reg", &what);
    assert_cut_at(after, IDLE, &what);
    assert_eq!(
        status_of(&bytes),
        Some(408),
        "{what}: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert_nothing_or(&bytes, 408, &what);

    // A monolithic POST whose body stops: closed at the idle timeout, no blob, no new repository.
    // The repository exists before (a POST creates its repository before the body comes, as
    // zot's does), so the catalog shows whether anything else appeared.
    client().push_blob("slow/posts", b"already here");
    let catalog = client().get("/v2/_catalog").json();
    let body = pattern(1000);
    let digest = sha256(&body);
    let mut request = format!(
        "POST /v2/slow/posts/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: reg\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body[..400]);
    let what = format!("{mode}: POST body that stops");
    let (after, bytes) = send_and_stop(address, &request, &what);
    assert_cut_at(after, IDLE, &what);
    assert_nothing_or(&bytes, 400, &what);
    assert_eq!(head_blob(&mut client(), "slow/posts", &digest).status, 404);
    assert_eq!(client().get("/v2/_catalog").json(), catalog, "{what}");

    // A PATCH whose body stops: closed at the idle timeout, and the session is where the last
    // whole PATCH left it, so the upload goes on from there.
    let mut patcher = client();
    let reply = patcher.send("POST", "/v2/slow/patches/blobs/uploads/", &[], b"");
    assert_eq!(reply.status, 202);
    let location = reply.header("Location").unwrap().to_owned();
    let reply = patcher.send("PATCH", &location, &[], &body[..100]);
    assert_eq!((reply.status, reply.header("Range")), (202, Some("0-99")));
    let mut request =
        format!("PATCH {location} HTTP/1.1\r\nHost: reg\r\nContent-Length: 900\r\n\r\n")
            .into_bytes();
    request.extend_from_slice(&body[100..400]);
    let what = format!("{mode}: PATCH body that stops");
    let (after, bytes) = send_and_stop(address, &request, &what);
    assert_cut_at(after, IDLE, &what);
    assert_nothing_or(&bytes, 400, &what);
    let mut patcher = client();
    let status = patcher.get(&location);
    assert_eq!(
        (status.status, status.header("Range")),
        (204, Some("0-99")),
        "{what}"
    );
    let reply = patcher.send(
        "PUT",
        &format!("{location}?digest={digest}"),
        &[],
        &body[100..],
    );
    assert_eq!(reply.status, 201, "{what}");
    assert_eq!(
        patcher
            .get(&format!("/v2/slow/patches/blobs/{digest}"))
            .body,
        body
    );
}

#[test]
fn a_head_or_body_that_stops_is_closed_at_the_idle_timeout_and_changes_nothing() {
    on_both_modes(stopped_heads_and_bodies_are_closed);
}

// ---- responses nobody reads, or reads slowly --------------------------------------------------

/// The large blob and its digest, made once for both modes.
fn large_blob() -> &'static (Vec<u8>, String) {
    static BLOB: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    BLOB.get_or_init(|| {
        let blob = pattern(LARGE_BLOB_BYTES);
        let digest = sha256(&blob);
        (blob, digest)
    })
}

/// The server's open descriptors.
fn descriptors(served: &Served) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", served.pid()))
        .unwrap()
        .count()
}

/// The server's descriptor count once it has stayed the same for half a second (within 10 s).
fn settled_descriptors(served: &Served) -> usize {
    let started = Instant::now();
    let mut count = descriptors(served);
    let mut since = Instant::now();
    // Each pass sleeps 50 ms; the 10 s bound ends it.
    while since.elapsed() < Duration::from_millis(500) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "descriptors never settle"
        );
        std::thread::sleep(Duration::from_millis(50));
        let now = descriptors(served);
        if now != count {
            count = now;
            since = Instant::now();
        }
    }
    count
}

/// Reads a blob's response head, then its body a MiB at a time with pauses, for longer than the
/// idle timeout in all; returns the body.
fn read_slowly(address: SocketAddr, path: &str) -> Vec<u8> {
    let mut stream = connect(address);
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: reg\r\n\r\n").as_bytes())
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // One byte per pass; a head is bounded by the server's head limit.
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 64 * 1024, "no end of head");
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert_eq!(status_of(&head), Some(200));
    let mut body = vec![0u8; LARGE_BLOB_BYTES];
    let started = Instant::now();
    for piece in body.chunks_mut(1 << 20) {
        std::thread::sleep(Duration::from_millis(60));
        stream.read_exact(piece).unwrap();
    }
    assert!(
        started.elapsed() > IDLE,
        "read too fast ({:?}) to show a slow reader is kept",
        started.elapsed()
    );
    body
}

fn unread_responses_are_cut_and_slow_readers_served(served: &Served, mode: &str) {
    let address = served.address;
    let (blob, digest) = large_blob();
    let path = format!("/v2/slow/large/blobs/{digest}");
    {
        let mut client = Client::connect(address);
        assert_eq!(&client.push_blob("slow/large", blob), digest);
    }
    let idle_descriptors = settled_descriptors(served);

    // A client that asks for the blob and reads nothing.
    let mut stalled = connect(address);
    stalled
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: reg\r\n\r\n").as_bytes())
        .unwrap();
    let requested = Instant::now();
    // Its socket and the blob file are open while the server waits for it, and others are
    // served meanwhile.
    let mut open_seen = false;
    let mut slowest = Duration::ZERO;
    // Each pass sleeps 100 ms or ends the loop; the time bound ends it.
    let closed_after = loop {
        let open = descriptors(served);
        if open >= idle_descriptors + 2 {
            open_seen = true;
            let mut client = Client::connect(address);
            let started = Instant::now();
            assert_eq!(client.get("/v2/").status, 200);
            assert_eq!(head_blob(&mut client, "slow/large", digest).status, 200);
            slowest = slowest.max(started.elapsed());
        } else if open_seen && open <= idle_descriptors {
            break requested.elapsed();
        }
        assert!(
            requested.elapsed() < IDLE + SLACK,
            "{mode}: a response nobody reads still holds {open} descriptors (idle: \
             {idle_descriptors}) after {:?}",
            requested.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let what = format!("{mode}: unread blob response");
    assert_cut_at(closed_after, IDLE, &what);
    assert!(slowest < PROMPT, "{what}: others waited {slowest:?}");
    // What the kernel still had queued arrives, then the end: far less than the blob.
    let mut rest = Vec::new();
    match stalled.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(error) => assert!(is_closed(&error), "{what}: {error}"),
    }
    assert!(
        rest.len() < LARGE_BLOB_BYTES,
        "{what}: {} bytes came",
        rest.len()
    );

    assert_eq!(settled_descriptors(served), idle_descriptors, "{mode}");

    // A client that reads the same blob slowly, but keeps reading, gets all of it.
    let body = read_slowly(address, &path);
    assert!(
        body.len() == blob.len() && sha256(&body) == *digest,
        "{mode}: the slowly read blob differs"
    );
    assert_eq!(settled_descriptors(served), idle_descriptors, "{mode}");
}

#[test]
fn a_client_that_stops_reading_is_cut_and_one_that_reads_slowly_gets_everything() {
    on_both_modes(unread_responses_are_cut_and_slow_readers_served);
}

// ---- bodies that keep coming ------------------------------------------------------------------

fn slow_bodies_are_served(served: &Served, mode: &str) {
    let address = served.address;
    let body = pattern(6000);
    let digest = sha256(&body);
    let mut stream = connect(address);
    stream
        .write_all(
            format!(
                "POST /v2/slow/bodies/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: reg\r\n\
                 Content-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    // Six pieces with pauses shorter than the idle timeout: longer in all than both timeouts.
    let started = Instant::now();
    for piece in body.chunks(1000) {
        std::thread::sleep(IDLE * 2 / 5);
        stream.write_all(piece).unwrap();
    }
    assert!(started.elapsed() > HEAD.max(IDLE));
    let reply = common::read_reply(&mut stream, false);
    assert_eq!(reply.status, 201, "{mode}: a slow body that keeps coming");
    let mut client = Client::connect(address);
    assert_eq!(
        client.get(&format!("/v2/slow/bodies/blobs/{digest}")).body,
        body
    );
}

#[test]
fn a_body_that_keeps_coming_slowly_is_served() {
    on_both_modes(slow_bodies_are_served);
}
