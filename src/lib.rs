//! The `zot` server as a library: what `src/main.rs` and the integration tests use.

pub mod http;
pub mod limits;
pub mod registry;
