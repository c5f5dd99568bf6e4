//! The `zot` server as a library: its configuration, its named limits, the per-core runtime, the
//! HTTP connection layer, the distribution API, and the serve entry point `src/main.rs` calls.

pub mod config;
pub mod http;
pub mod limits;
pub mod logging;
pub mod registry;
pub mod runtime;
pub mod scrub;
pub mod serve;
