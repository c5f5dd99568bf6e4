//! The storage root's process lock: one server at a time writes a root, because each one
//! assumes its cores are the only writers of the repositories they own.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{IoFailure, OpenError};
use crate::platform;

/// The lock file's name, at the top of the root. zot skips files at the root when it looks for
/// repositories (it keeps `cache.db` there), and so does this engine's walk.
pub const ROOT_LOCK_FILE: &str = ".zot.lock";

/// Held for as long as a server serves the root; dropping it (or the process ending, crash
/// included, since the kernel drops `flock` locks with the descriptor) lets the next one in.
#[derive(Debug)]
pub struct RootLock {
    file: File,
    path: PathBuf,
}

impl RootLock {
    /// Creates the root when missing, then takes its lock without waiting: another live process
    /// holding it is [`OpenError::RootBusy`].
    pub fn acquire(root: &Path) -> Result<RootLock, OpenError> {
        std::fs::create_dir_all(root)
            .map_err(|source| OpenError::Root(IoFailure::new("create", root, source)))?;
        let path = root.join(ROOT_LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| OpenError::Root(IoFailure::new("open", &path, source)))?;
        let locked = platform::try_lock(&file)
            .map_err(|source| OpenError::Root(IoFailure::new("lock", &path, source)))?;
        if !locked {
            return Err(OpenError::RootBusy { path });
        }
        Ok(RootLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RootLock {
    fn drop(&mut self) {
        platform::unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("new/root");
        let first = RootLock::acquire(&nested).unwrap();
        assert_eq!(first.path(), nested.join(ROOT_LOCK_FILE));
        // flock locks belong to open file descriptions, so a second open in this process is
        // refused exactly as another process would be.
        let refused = RootLock::acquire(&nested).unwrap_err();
        assert!(matches!(refused, OpenError::RootBusy { .. }), "{refused:?}");
        assert!(refused.to_string().contains("another process"), "{refused}");
        drop(first);
        RootLock::acquire(&nested).unwrap();
    }
}
