//! The `zot` server as a library: its configuration and its named limits.

pub mod config;
pub mod limits;
