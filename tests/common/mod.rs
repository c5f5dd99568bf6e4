//! Shared by the server's integration tests: a registry served on loopback by one core on a
//! chosen driver, and a small blocking HTTP/1.1 client that reads whole responses.

#![allow(dead_code)]

pub mod binary;
pub mod random;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use storage_engine::{Disk, Store, StoreConfig};
use zot::http::{ConnectionTimeouts, serve_connection};
use zot::registry::{Registry, RegistryOptions};

/// Each test server gets its own root folder.
static SERVERS: AtomicUsize = AtomicUsize::new(0);

pub const DRIVERS: [&str; 2] = ["io_uring", "legacy"];

/// Deletes a test server's root when the test ends.
#[derive(Debug)]
pub struct RootGuard(pub PathBuf);

impl Drop for RootGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `body` on a new thread in a monoio runtime of `driver` with timers.
pub fn spawn_runtime<F, Fut>(driver: &'static str, body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::spawn(move || match driver {
        "io_uring" => monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .enable_timer()
            .with_entries(256)
            .build()
            .expect("io_uring runtime")
            .block_on(body()),
        _ => monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("legacy runtime")
            .block_on(body()),
    });
}

/// A fresh folder name under the temporary folder for one test server.
pub fn temporary_root(label: &str, driver: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "zot-{label}-{driver}-{}-{}",
        std::process::id(),
        SERVERS.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A registry on one core of `driver`, serving a fresh root (or `root` when given).
pub fn start_registry(driver: &'static str, root: Option<PathBuf>) -> (SocketAddr, RootGuard) {
    start_registry_with(driver, root, |_| {})
}

/// The same, with `configure` applied to the registry before it serves.
pub fn start_registry_with(
    driver: &'static str,
    root: Option<PathBuf>,
    configure: impl FnOnce(&mut RegistryOptions) + Send + 'static,
) -> (SocketAddr, RootGuard) {
    let folder = root.unwrap_or_else(|| temporary_root("registry", driver));
    let guard = RootGuard(folder.clone());
    let (sender, receiver) = mpsc::channel();
    spawn_runtime(driver, move || async move {
        let store = Store::open(StoreConfig::new(&folder), Disk::new())
            .await
            .unwrap();
        let mut options = RegistryOptions::default();
        configure(&mut options);
        let registry = Registry::new(store, options);
        let listener = monoio::net::TcpListener::bind("127.0.0.1:0").unwrap();
        sender.send(listener.local_addr().unwrap()).unwrap();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let registry = std::rc::Rc::clone(&registry);
            monoio::spawn(async move {
                let timeouts = ConnectionTimeouts {
                    idle: Duration::from_secs(30),
                    ..ConnectionTimeouts::default()
                };
                serve_connection(stream, &*registry, timeouts, &zot::runtime::Draining::new())
                    .await;
            });
        }
    });
    let address = receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("registry started");
    (address, guard)
}

/// One response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("{error}: {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The first OCI error code of the body.
    pub fn error_code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

/// A kept-alive connection to the registry.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
}

impl Client {
    pub fn connect(address: SocketAddr) -> Client {
        let stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Client { stream }
    }

    /// Sends a request with `Content-Length` (when there is a body) and reads the response.
    /// `head_request` says the response has no body whatever its Content-Length.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: registry\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH") {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        self.stream.write_all(request.as_bytes()).unwrap();
        self.stream.write_all(body).unwrap();
        self.read_reply(method == "HEAD")
    }

    /// The server's address.
    pub fn address(&self) -> SocketAddr {
        self.stream.peer_addr().unwrap()
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, &[], b"")
    }

    /// A monolithic blob push (`POST .../blobs/uploads/?digest=`): its answer.
    pub fn post_blob(&mut self, repository: &str, bytes: &[u8]) -> Reply {
        let digest = sha256(bytes);
        self.send(
            "POST",
            &format!("/v2/{repository}/blobs/uploads/?digest={digest}"),
            &[],
            bytes,
        )
    }

    /// A monolithic blob push that must answer 201: the blob's digest.
    pub fn push_blob(&mut self, repository: &str, bytes: &[u8]) -> String {
        let reply = self.post_blob(repository, bytes);
        assert_eq!(
            reply.status,
            201,
            "{:?}",
            String::from_utf8_lossy(&reply.body)
        );
        sha256(bytes)
    }

    pub fn read_reply(&mut self, head_request: bool) -> Reply {
        read_reply(&mut self.stream, head_request)
    }

    /// Asserts that the server ends the connection cleanly, with no byte more and no reset.
    pub fn assert_ended(&mut self) {
        let mut rest = Vec::new();
        self.stream
            .read_to_end(&mut rest)
            .expect("the connection ends cleanly, not with a reset");
        assert!(
            rest.is_empty(),
            "bytes after the last answer: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}

/// Reads one response from `stream`: its head byte by byte (so nothing of the next response is
/// consumed), then a body of its Content-Length, unless it answers HEAD.
pub fn read_reply(stream: &mut TcpStream, head_request: bool) -> Reply {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let count = stream.read(&mut byte).unwrap();
        assert_eq!(
            count,
            1,
            "closed mid-head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| value.parse().unwrap());
    let mut body = vec![0u8; if head_request { 0 } else { length }];
    stream.read_exact(&mut body).unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    storage_engine::hasher::digest_of(proto::oci::Algorithm::Sha256, bytes)
        .as_str()
        .to_owned()
}
