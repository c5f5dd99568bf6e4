//! Every bound the storage engine enforces, named once (docs/design.md, section 6). The wire
//! limits it shares with the server, such as the manifest size, live in `proto::limits`.

/// Largest serialized hasher state an upload's `.state` record may carry. SHA-512's is about
/// 200 bytes; anything far larger was not written by this engine.
pub const UPLOAD_HASHER_STATE_BYTES_MAX: usize = 512;

/// How long an upload session may sit unfinished before it is deleted, unless configured
/// otherwise (docs/design.md, section 6).
pub const UPLOAD_SESSION_AGE_DEFAULT: std::time::Duration =
    std::time::Duration::from_secs(24 * 60 * 60);

/// Writes of one upload the engine keeps in flight before it waits for the oldest: enough for the
/// device to overlap them with hashing, few enough to bound the memory an upload pins.
pub const UPLOAD_WRITES_IN_FLIGHT_MAX: usize = 2;

/// After this many bytes of an upload reach the page cache, the engine asks the kernel to start
/// writing them out, so the commit's `fsync` waits only for the tail.
pub const UPLOAD_WRITEBACK_INTERVAL_BYTES: u64 = 8 << 20;

/// Size of the buffers used to copy a blob (mount without hard links) or to hash one again.
pub const COPY_BUFFER_BYTES: usize = 1 << 20;

/// Entries of a root's folders the open walk reads, in all; a root with more is refused rather
/// than walked without end.
pub const ROOT_WALK_ENTRIES_MAX: usize = 10_000_000;

/// Threads that read a root's folders and indexes at open. With a cold cache each read waits for
/// the device; this many in flight let it serve them together, and it is few enough to matter
/// little on a warm one.
pub const ROOT_OPEN_THREADS_MAX: usize = 16;

/// Folders looked at below `<name>/blobs` before creating repository `<name>`, to find a
/// repository created there earlier (I11). Such a folder is empty unless repositories were nested
/// in it, so a handful is the usual count; past this many the name is refused.
pub const COLLISION_SCAN_FOLDERS_MAX: usize = 10_000;
