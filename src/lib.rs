//! The `zot` server as a library: its configuration, its named limits, and the serve entry point
//! that `src/main.rs` calls after parsing the command line.

pub mod config;
pub mod limits;
pub mod serve;
