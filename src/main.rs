//! The `zot` command. The registry server is not built yet (see the `zot serve` issue); until it
//! is, this binary says so and exits with an error instead of pretending to serve.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "zot {}: the registry server is not implemented yet; only the wire library (proto) is.",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
