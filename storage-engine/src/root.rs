//! A root directory and how the engine treats it: the settings every core shares, read-only
//! after start-up (so `Root` is `Send + Sync` and lives in an `Arc`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use proto::oci::RepositoryName;

use crate::layout::RepositoryPaths;
use crate::limits::UPLOAD_SESSION_AGE_DEFAULT;

/// How a root is stored; the server fills it from zot's `storage` configuration.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// `storage.rootDirectory`.
    pub root_directory: PathBuf,
    /// `storage.dedupe`: keep one master copy per digest in `_blobstore` and hard-link it into
    /// each repository that has the blob.
    pub dedupe: bool,
    /// Upload sessions older than this are deleted.
    pub upload_session_age_max: Duration,
}

impl StoreConfig {
    /// zot's defaults for local storage: dedupe on, sessions expire after a day.
    pub fn new(root_directory: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            root_directory: root_directory.into(),
            dedupe: true,
            upload_session_age_max: UPLOAD_SESSION_AGE_DEFAULT,
        }
    }
}

/// The shared, immutable view of a root.
#[derive(Debug)]
pub struct Root {
    config: StoreConfig,
}

impl Root {
    pub fn new(config: StoreConfig) -> Root {
        Root { config }
    }

    pub fn directory(&self) -> &Path {
        &self.config.root_directory
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub fn dedupe(&self) -> bool {
        self.config.dedupe
    }

    pub fn repository(&self, name: RepositoryName<'_>) -> RepositoryPaths {
        RepositoryPaths::new(self.directory(), name)
    }
}
