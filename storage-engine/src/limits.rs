//! Every bound the storage engine enforces, named once (docs/design.md, section 6). The wire
//! limits it shares with the server, such as the manifest size, live in `proto::limits`.

/// Largest serialized hasher state an upload's `.state` record may carry. SHA-512's is about
/// 200 bytes; anything far larger was not written by this engine.
pub const UPLOAD_HASHER_STATE_BYTES_MAX: usize = 512;
