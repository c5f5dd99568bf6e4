//! A root directory and how the engine treats it: the settings every core shares, read-only
//! after start-up (so `Root` is `Send + Sync` and lives in an `Arc`); and `Roots`, the default
//! root with zot's `storage.subPaths` roots, which route repositories by their first component.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    /// zot's `storage.subPaths`: by first name component (`team` for the route `/team`), the
    /// root that holds that namespace's repositories. A repository `team/app` then lives at
    /// `<sub path root>/team/app`, as zot lays it out; a one-component name stays in the default
    /// root. Sub path configs' own `sub_paths` are empty.
    pub sub_paths: BTreeMap<String, StoreConfig>,
}

impl StoreConfig {
    /// zot's defaults for local storage: dedupe on, sessions expire after a day.
    pub fn new(root_directory: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            root_directory: root_directory.into(),
            dedupe: true,
            upload_session_age_max: UPLOAD_SESSION_AGE_DEFAULT,
            sub_paths: BTreeMap::new(),
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

/// The default root and the sub path roots, shared by every core.
#[derive(Debug)]
pub struct Roots {
    default: Arc<Root>,
    /// By first name component.
    sub_paths: BTreeMap<String, Arc<Root>>,
}

impl Roots {
    pub fn new(config: StoreConfig) -> Roots {
        let mut config = config;
        let sub_paths = std::mem::take(&mut config.sub_paths)
            .into_iter()
            .map(|(component, sub_config)| {
                assert!(
                    sub_config.sub_paths.is_empty(),
                    "sub paths do not nest (zot's config has no such thing)"
                );
                assert!(
                    !component.is_empty() && !component.contains('/'),
                    "a sub path routes one first name component"
                );
                (component, Arc::new(Root::new(sub_config)))
            })
            .collect();
        Roots {
            default: Arc::new(Root::new(config)),
            sub_paths,
        }
    }

    /// `storage.rootDirectory`'s root.
    pub fn default_root(&self) -> &Arc<Root> {
        &self.default
    }

    /// The root that holds repository `name`: its first component's sub path root when the name
    /// has more than one component and a sub path routes it, else the default root (zot's
    /// `getRoutePrefix`).
    pub fn for_name(&self, name: &str) -> &Arc<Root> {
        match name.split_once('/') {
            Some((first, _)) => self.sub_paths.get(first).unwrap_or(&self.default),
            None => &self.default,
        }
    }

    /// Every root: the default first, then the sub paths' by component, each with the
    /// component it routes (`None` for the default).
    pub fn all(&self) -> impl Iterator<Item = (Option<&str>, &Arc<Root>)> {
        std::iter::once((None, &self.default)).chain(
            self.sub_paths
                .iter()
                .map(|(component, root)| (Some(component.as_str()), root)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_route_by_their_first_component_when_they_have_more_than_one() {
        let mut config = StoreConfig::new("/main");
        config
            .sub_paths
            .insert("team".to_owned(), StoreConfig::new("/team-root"));
        let roots = Roots::new(config);
        let directory = |name: &str| roots.for_name(name).directory().to_owned();
        assert_eq!(directory("team/app"), Path::new("/team-root"));
        assert_eq!(directory("team/a/b"), Path::new("/team-root"));
        assert_eq!(directory("team"), Path::new("/main"));
        assert_eq!(directory("teams/app"), Path::new("/main"));
        assert_eq!(directory("other/team/app"), Path::new("/main"));
        let all: Vec<Option<&str>> = roots.all().map(|(component, _)| component).collect();
        assert_eq!(all, [None, Some("team")]);
    }
}
