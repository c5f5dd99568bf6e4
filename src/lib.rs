//! The `zot` server as a library: its configuration, its named limits, the HTTP connection layer,
//! the distribution API, and the serve entry point that `src/main.rs` calls.

pub mod config;
pub mod http;
pub mod limits;
pub mod registry;
pub mod serve;
