//! `zot scrub CONFIG`: checks every root of a stopped registry (the main root and each
//! `storage.subPaths` root) against the digests of its files and the invariants of
//! docs/design.md, prints a table of what is damaged, and exits non-zero when anything is.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use storage_engine::invariants::{CheckOptions, Report, check_root};
use storage_engine::{OpenError, RootLock};

use crate::config::Config;

/// Exit status when a root holds damage or could not be read whole.
pub const EXIT_CODE_DAMAGED: u8 = 1;

/// Exit status when scrubbing could not run: a server holds a root, or its lock failed.
pub const EXIT_CODE_NOT_RUN: u8 = 2;

/// One root to check, with the config key it comes from.
struct ScrubbedRoot {
    key: String,
    directory: PathBuf,
}

/// Scrubs every root of `config`, writing the table and a summary to `out`: exit 0 when every
/// root is clean.
pub fn run(config: &Config, out: &mut impl Write) -> io::Result<ExitCode> {
    let mut roots = vec![ScrubbedRoot {
        key: "storage.rootDirectory".to_owned(),
        directory: config.storage.root_directory.clone(),
    }];
    for (prefix, sub_path) in &config.storage.sub_paths {
        roots.push(ScrubbedRoot {
            key: format!("storage.subPaths.{prefix}"),
            directory: sub_path.root_directory.clone(),
        });
    }
    let mut damaged = false;
    let mut header_written = false;
    for root in &roots {
        if !root.directory.exists() {
            writeln!(
                out,
                "zot scrub: {} {}: no such folder yet, nothing to check",
                root.key,
                root.directory.display()
            )?;
            continue;
        }
        // Held while checking, so no server starts on the root half-way through.
        let _lock = match RootLock::acquire(&root.directory) {
            Ok(lock) => lock,
            Err(error @ OpenError::RootBusy { .. }) => {
                writeln!(out, "zot scrub: {}: {error}; stop it first", root.key)?;
                return Ok(ExitCode::from(EXIT_CODE_NOT_RUN));
            }
            Err(error) => {
                writeln!(out, "zot scrub: {}: {error}", root.key)?;
                return Ok(ExitCode::from(EXIT_CODE_NOT_RUN));
            }
        };
        let report = check_root(&root.directory, &CheckOptions { hash_blobs: true });
        if !report.is_clean() {
            if !header_written {
                writeln!(
                    out,
                    "{:<40} {:<30} {:<9} {:<50} PROBLEM",
                    "ROOT", "REPOSITORY", "INVARIANT", "PATH"
                )?;
                header_written = true;
            }
            write_rows(out, &root.directory, &report)?;
            damaged = true;
        }
        writeln!(
            out,
            "zot scrub: {} {}: {} repositories, {} blobs hashed, {} problems, {} unreadable",
            root.key,
            root.directory.display(),
            report.repositories.len(),
            report.blobs_hashed,
            report.violations.len(),
            report.read_errors.len()
        )?;
    }
    Ok(if damaged {
        ExitCode::from(EXIT_CODE_DAMAGED)
    } else {
        ExitCode::SUCCESS
    })
}

/// One row per violation and per unreadable path, named by the repository it lies in.
fn write_rows(out: &mut impl Write, root: &Path, report: &Report) -> io::Result<()> {
    let root_text = root.display().to_string();
    for violation in &report.violations {
        writeln!(
            out,
            "{:<40} {:<30} {:<9} {:<50} {}",
            root_text,
            repository_of(report, &violation.path),
            violation.invariant.to_string(),
            violation.path.display().to_string(),
            violation.detail
        )?;
    }
    for error in &report.read_errors {
        writeln!(
            out,
            "{:<40} {:<30} {:<9} {:<50} unreadable: {}",
            root_text,
            repository_of(report, &error.path),
            "-",
            error.path.display().to_string(),
            error.detail
        )?;
    }
    Ok(())
}

/// The deepest repository whose folder holds `path` (relative to the root), or `-`.
fn repository_of<'a>(report: &'a Report, path: &Path) -> &'a str {
    report
        .repositories
        .iter()
        .filter(|repository| path.starts_with(repository.as_str()))
        .max_by_key(|repository| repository.len())
        .map_or("-", String::as_str)
}
