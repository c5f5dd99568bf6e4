//! Every bound the server enforces, named once. The wire limits come from `proto::limits` and are
//! re-exported here, so a reviewer finds all of them through this one module; the storage
//! engine's are in `storage_engine::limits`. Sizes are in bytes unless the name says otherwise.

use std::time::Duration;

pub use proto::limits::*;

/// Bytes a connection reads from its socket at a time, and the read buffer it starts with.
pub const CONNECTION_READ_BYTES: usize = 64 * 1024;

/// Requests one connection may carry before the server closes it; keeps every loop bounded
/// without a client noticing (clients reconnect).
pub const CONNECTION_REQUESTS_MAX: u64 = 1 << 32;

/// How long a connection may send nothing, between requests or in the middle of one, or take
/// none of a response's bytes, before it is closed. Idle time, not total time: a slow 10 GiB push
/// or pull is never cut off while bytes move. `runtime.idleTimeoutSeconds` overrides it.
pub const CONNECTION_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Most `runtime.idleTimeoutSeconds` may ask for: an hour. Past that a stalled client holds its
/// descriptor, its buffers and any blob file it was reading for longer than anyone waits.
pub const CONNECTION_IDLE_TIMEOUT_MAX: Duration = Duration::from_secs(60 * 60);

/// How long a request head may take from its first byte to its blank line; past it the client
/// gets 408 and the connection closes. Without it a client sending one byte every minute holds
/// its connection for hours (slowloris). zot's Go server sets the same `ReadHeaderTimeout`; heads
/// are a few hundred bytes, sent in one write by every real client. `runtime.headTimeoutSeconds`
/// overrides it. Waiting for a request's first byte is the idle timeout's business.
pub const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Most `runtime.headTimeoutSeconds` may ask for: ten minutes.
pub const REQUEST_HEAD_TIMEOUT_MAX: Duration = Duration::from_secs(10 * 60);

/// How long the 408 for a head that did not arrive in time may take to go out. A best effort for
/// a client that is already misbehaving, so it must not hold the connection much longer.
pub const REQUEST_TIMEOUT_ANSWER_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a connection the server closes while its client may still be sending (a refused
/// head, a 413, a broken body) keeps reading and dropping what arrives after its answer went
/// out. Closing a socket with unread bytes makes the kernel send a reset, which can destroy the
/// answer before the client reads it; this gives the client time to read it and close first.
pub const CLOSE_LINGER_TIMEOUT: Duration = Duration::from_millis(500);

/// Bytes a closing connection drops while it lingers; past this it closes at once.
pub const CLOSE_LINGER_BYTES_MAX: usize = 1 << 20;

/// How long a connection that has not yet sent its first request waits for it once the server
/// drains. Connections accepted as the drain began (the listener's queue is served, not reset)
/// have usually sent their request already; an idle one closes after this, well within the
/// grace period.
pub const DRAIN_FIRST_REQUEST_WAIT: Duration = Duration::from_millis(500);

/// Body bytes the server reads and drops when a service answered without reading the whole body
/// (an error before an upload, say). Past this the connection closes instead.
pub const CONNECTION_DRAIN_BYTES_MAX: u64 = 1 << 20;

/// A request's first bytes are parsed on every read up to this many, so that a stream that
/// cannot be HTTP (a TLS handshake on this plain port) is refused at once; past it, only when the
/// head is complete, which keeps a byte-at-a-time client linear.
pub const HEAD_EARLY_PARSE_BYTES_MAX: usize = 1024;

/// Bodies up to this size are written in one system call with their head.
pub const RESPONSE_COALESCE_BYTES_MAX: usize = 16 * 1024;

/// Interrupted write calls (`EINTR`) retried in a row before a response write gives up; a signal
/// storm that long is not a client being slow.
pub const WRITE_INTERRUPTIONS_MAX: u32 = 64;

/// Bytes one `sendfile(2)` call may send; a larger range takes several calls, so one connection
/// cannot hold the core for a whole multi-gigabyte blob.
pub const SENDFILE_CALL_BYTES_MAX: usize = 4 << 20;

/// Size of the buffers an upload body is read into and handed to the engine: large enough that
/// system calls and hashing calls don't dominate, small enough to bound an upload's memory
/// (times the engine's writes in flight, plus the one being filled). Measured with zb at
/// `-c 16` on one core: 512 KiB with 2 writes in flight pushes 100 MB blobs as fast as 1 MiB
/// with 4 (745–817 against 825–852 MB/s, within the noise), and the server's peak memory stays
/// at 7.4, 7.8 and 14.5 MiB for 1, 10 and 100 MB blobs instead of growing to 28 MiB.
pub const UPLOAD_BUFFER_BYTES: usize = 512 << 10;

/// Largest config file `zot serve` and `zot verify` read. zot's own configs are a few KiB even
/// with every extension configured; a file far larger is a mistake, not a config.
pub const CONFIG_FILE_BYTES_MAX: usize = 1 << 20;

/// Most runtime threads `runtime.threads` may ask for. Each thread owns a runtime, a listener and
/// its buffers; machines with more cores than this are rare, and a typo like `40000` should stop
/// start-up rather than exhaust memory.
pub const RUNTIME_THREADS_MAX: usize = 1024;

/// Most `storage.subPaths` entries. zot routes by a repository's first path component, so each
/// entry is one top-level namespace with a root of its own; thousands of them is a mistake.
pub const SUB_PATHS_MAX: usize = 1024;

/// Open connections one core serves at once unless `runtime.connectionsPerCoreMax` says
/// otherwise. Past it the core stops accepting (its queued connections wait in the kernel's
/// backlog) until one closes, so a flood of idle connections cannot exhaust descriptors or memory.
pub const CONNECTIONS_PER_CORE_DEFAULT: usize = 4096;

/// Most `runtime.connectionsPerCoreMax` may ask for: each connection holds a descriptor and a
/// read buffer of [`CONNECTION_READ_BYTES`], so a million per core is already 64 GiB of buffers.
pub const CONNECTIONS_PER_CORE_MAX: usize = 1 << 20;

/// How often each core removes its repositories' upload sessions older than the session age
/// (`storage_engine::limits::UPLOAD_SESSION_AGE_DEFAULT`, a day). Hourly keeps abandoned uploads
/// from holding disk much past their age, at the cost of one listing per repository an hour.
pub const UPLOAD_EXPIRY_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Manifest bytes each core keeps in memory for GETs (`registry::manifest_cache`). Manifests are
/// a few KiB, so this holds thousands; the bound is per core.
pub const MANIFEST_CACHE_BYTES_MAX: usize = 32 << 20;
