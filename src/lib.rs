//! The zot registry server as a library: the binary and the integration tests use it.

pub mod runtime;
