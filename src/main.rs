//! The `zot` command line: `zot serve [CONFIG]`, `zot verify CONFIG`, `zot scrub CONFIG`,
//! `zot --version`. Parsing
//! lives here; everything else is in the library (`zot::config`, `zot::serve`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

use zot::config::{self, Config, EXIT_CODE_INVALID};

/// An OCI registry compatible with project-zot/zot.
#[derive(Debug, Parser)]
#[command(name = "zot", version, disable_version_flag = true)]
struct Command {
    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    version: Option<bool>,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Store and distribute OCI images.
    Serve {
        /// zot JSON config file. Without it: 127.0.0.1:5000, storage in ./zot-data, info logs.
        config: Option<PathBuf>,
    },
    /// Check a zot JSON config file: exit 0 when it can be served, 2 when not.
    Verify {
        /// zot JSON config file.
        config: PathBuf,
    },
    /// Check every blob and manifest of a stopped registry against its digest and the storage
    /// invariants: exit 0 when all is sound, 1 when something is damaged, 2 when it could not
    /// check (a bad config, or a server still serving the storage).
    Scrub {
        /// zot JSON config file of the registry.
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let command = Command::parse();
    let mut stderr = std::io::stderr().lock();
    match command.action {
        Action::Serve { config: None } => {
            // The cores print their start-up lines: stderr must not stay locked here.
            drop(stderr);
            zot::serve::run(Config::embedded_default())
        }
        Action::Serve { config: Some(file) } => {
            match config::load_reporting("zot serve", &file, &mut stderr) {
                Some(config) => {
                    drop(stderr);
                    zot::serve::run(config)
                }
                None => ExitCode::from(EXIT_CODE_INVALID),
            }
        }
        Action::Scrub { config: file } => {
            match config::load_reporting("zot scrub", &file, &mut stderr) {
                Some(config) => {
                    let mut stdout = std::io::stdout().lock();
                    zot::scrub::run(&config, &mut stdout).unwrap_or_else(|error| {
                        let _ = writeln!(stderr, "zot scrub: {error}");
                        ExitCode::from(zot::scrub::EXIT_CODE_NOT_RUN)
                    })
                }
                None => ExitCode::from(EXIT_CODE_INVALID),
            }
        }
        Action::Verify { config: file } => {
            match config::load_reporting("zot verify", &file, &mut stderr) {
                Some(_) => {
                    println!("zot verify: {}: valid", file.display());
                    ExitCode::SUCCESS
                }
                None => ExitCode::from(EXIT_CODE_INVALID),
            }
        }
    }
}
