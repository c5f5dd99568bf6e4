//! PLACEHOLDER for the registry server loop (issue 4, "Runtime" and "The API"), which is being
//! built elsewhere. Until it lands, `zot serve` validates its config and then stops here with an
//! error, so no one mistakes this build for a working registry.

use std::process::ExitCode;

use crate::config::Config;

/// Exit status of `zot serve` while the server is not built.
pub const EXIT_CODE_NOT_BUILT: u8 = 2;

/// Runs the registry on `config` until it is told to stop, and returns the process exit status.
///
/// PLACEHOLDER: the server is not built yet. This says so on stderr and fails with exit status
/// [`EXIT_CODE_NOT_BUILT`] instead of pretending to serve.
pub fn run(config: Config) -> ExitCode {
    // The config is taken by value because the real server will own it; nothing reads it yet.
    drop(config);
    eprintln!("zot serve: the server is not built yet (issue 4)");
    ExitCode::from(EXIT_CODE_NOT_BUILT)
}
