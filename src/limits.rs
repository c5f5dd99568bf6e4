//! Every bound the server itself enforces, named once. The wire limits live in `proto::limits`
//! and the storage engine's in `storage_engine::limits`.
//!
//! Sizes are in bytes unless the name says otherwise; counts end in `_max`.

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
