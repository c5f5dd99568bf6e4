//! The `storage` section: the root directory, dedupe, commit, and the `subPaths` that give a
//! top-level namespace a root of its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proto::oci::name::RepositoryName;

use crate::config::error::{ConfigError, ConfigWarning};
use crate::config::keys;
use crate::config::object::{self, Field, Section, quote_text};
use crate::limits::SUB_PATHS_MAX;

/// `storage`: where repositories live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageConfig {
    /// `storage.rootDirectory`: the root every repository without a `subPaths` entry lives in.
    /// Required in a config file. A relative path is relative to the working directory, as in
    /// zot; it is kept as written.
    pub root_directory: PathBuf,
    /// `storage.dedupe` (zot's default: true): store a blob pushed to several repositories once,
    /// hard-linked from each.
    pub dedupe: bool,
    /// `storage.commit` (zot's default: false). In zot it makes writes synchronous; this build
    /// always makes an upload durable before acknowledging it (docs/design.md), so the value is
    /// kept for reporting only.
    pub commit: bool,
    /// `storage.subPaths`: route prefix (`/team`) to its own storage. Keys are lowercase and hold
    /// exactly one repository-name component after the `/`.
    pub sub_paths: BTreeMap<String, SubPathConfig>,
}

/// One `storage.subPaths` entry. zot decodes entries without the top-level defaults, so every
/// flag defaults to false here, dedupe included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubPathConfig {
    /// `rootDirectory` of the entry (required).
    pub root_directory: PathBuf,
    /// `dedupe` of the entry (default false).
    pub dedupe: bool,
    /// `commit` of the entry (default false).
    pub commit: bool,
}

impl StorageConfig {
    /// The repository name's storage: the `subPaths` entry of its first component when the name
    /// has more than one component and such an entry exists, else `None` for the main root. This
    /// is zot's routing rule (`GetRoutePrefix`): `team/app` goes to `/team`, `team` alone does not.
    pub fn sub_path_for(&self, repository_name: &str) -> Option<(&str, &SubPathConfig)> {
        let (first, _rest) = repository_name.split_once('/')?;
        self.sub_paths
            .iter()
            .find(|(prefix, _)| prefix.strip_prefix('/') == Some(first))
            .map(|(prefix, sub_path)| (prefix.as_str(), sub_path))
    }

    pub(crate) fn parse(
        mut section: Section<'_>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<StorageConfig, ConfigError> {
        let root_directory_path = object::child_path(section.path(), "rootDirectory");
        let root_directory = match section.take("rootDirectory") {
            Some(taken) => root_directory(taken.field())?,
            None => {
                return Err(ConfigError::Missing {
                    path: root_directory_path,
                });
            }
        };
        let dedupe = match section.take("dedupe") {
            Some(taken) => taken.field().boolean()?,
            None => true,
        };
        let commit = match section.take("commit") {
            Some(taken) => taken.field().boolean()?,
            None => false,
        };
        let sub_paths = match section.take("subPaths") {
            Some(taken) => sub_paths(taken.field(), &root_directory, warnings)?,
            None => BTreeMap::new(),
        };
        section.finish(keys::STORAGE, warnings)?;
        Ok(StorageConfig {
            root_directory,
            dedupe,
            commit,
            sub_paths,
        })
    }
}

fn sub_paths(
    field: Field<'_, '_>,
    main_root: &Path,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<BTreeMap<String, SubPathConfig>, ConfigError> {
    let entries = object::map_entries(field)?;
    if entries.len() > SUB_PATHS_MAX {
        return Err(ConfigError::InvalidValue {
            path: field.path.to_owned(),
            reason: format!(
                "has {} entries; at most {SUB_PATHS_MAX} are allowed",
                entries.len()
            ),
        });
    }
    let mut sub_paths: BTreeMap<String, SubPathConfig> = BTreeMap::new();
    // Each entry's key path, for messages about two entries.
    let mut paths: BTreeMap<String, String> = BTreeMap::new();
    for (prefix, taken) in entries {
        check_prefix(&prefix, &taken.path)?;
        let mut section = Section::new(&taken.path, taken.value)?;
        let root_path = object::child_path(&taken.path, "rootDirectory");
        let root_directory = match section.take("rootDirectory") {
            Some(root) => root_directory(root.field())?,
            None => return Err(ConfigError::Missing { path: root_path }),
        };
        let dedupe = match section.take("dedupe") {
            Some(dedupe) => dedupe.field().boolean()?,
            None => false,
        };
        let commit = match section.take("commit") {
            Some(commit) => commit.field().boolean()?,
            None => false,
        };
        section.finish(keys::STORAGE, warnings)?;

        if same_root(&root_directory, main_root) {
            return Err(ConfigError::InvalidValue {
                path: root_path,
                reason: format!(
                    "{} is storage.rootDirectory itself; a sub path needs a root of its own",
                    quote_path(&root_directory)
                ),
            });
        }
        if nested(&root_directory, main_root) || nested(main_root, &root_directory) {
            return Err(ConfigError::InvalidValue {
                path: root_path,
                reason: format!(
                    "{} and storage.rootDirectory {} lie one inside the other; each root must be \
                     a separate folder",
                    quote_path(&root_directory),
                    quote_path(main_root)
                ),
            });
        }
        for (other_prefix, other) in &sub_paths {
            let other_path = &paths[other_prefix];
            if same_root(&root_directory, &other.root_directory) {
                // zot lets sub paths share a root only when their settings agree.
                if other.dedupe != dedupe {
                    return Err(ConfigError::InvalidValue {
                        path: root_path,
                        reason: format!(
                            "{} is also the root of {other_path} with another dedupe setting; \
                             sub paths sharing a root must agree",
                            quote_path(&root_directory)
                        ),
                    });
                }
            } else if nested(&root_directory, &other.root_directory)
                || nested(&other.root_directory, &root_directory)
            {
                return Err(ConfigError::InvalidValue {
                    path: root_path,
                    reason: format!(
                        "{} and the root of {other_path} lie one inside the other; each root \
                         must be a separate folder",
                        quote_path(&root_directory)
                    ),
                });
            }
        }
        paths.insert(prefix.clone(), taken.path.clone());
        sub_paths.insert(
            prefix,
            SubPathConfig {
                root_directory,
                dedupe,
                commit,
            },
        );
    }
    Ok(sub_paths)
}

/// A route prefix is `/` and one repository-name component: zot routes a repository by its first
/// component only, so a longer prefix would never match. The prefix has already been folded to
/// lowercase, as zot's loader folds every key.
fn check_prefix(prefix: &str, path: &str) -> Result<(), ConfigError> {
    let invalid = |why: &str| ConfigError::InvalidValue {
        path: path.to_owned(),
        reason: format!("route prefix {} {why}", quote_text(prefix)),
    };
    let Some(component) = prefix.strip_prefix('/') else {
        return Err(invalid("must start with '/'"));
    };
    if component.is_empty() {
        return Err(invalid(
            "names no namespace; the main root already serves '/'",
        ));
    }
    if component.contains('/') {
        return Err(invalid(
            "has more than one component; zot routes by a repository's first component only, \
             so it would never match",
        ));
    }
    if let Err(error) = RepositoryName::parse(component) {
        return Err(invalid(&format!(
            "is not '/' and a repository-name component: {error}"
        )));
    }
    Ok(())
}

fn root_directory(field: Field<'_, '_>) -> Result<PathBuf, ConfigError> {
    let text = field.string()?;
    if text.is_empty() {
        return Err(field.invalid("is not a directory: the path is empty"));
    }
    if text.contains('\0') {
        return Err(field.invalid("is not a directory: the path holds a NUL byte"));
    }
    Ok(PathBuf::from(text))
}

/// The same root, as zot compares (ignoring case) or once made absolute.
fn same_root(left: &Path, right: &Path) -> bool {
    let ignoring_case = match (left.to_str(), right.to_str()) {
        (Some(left), Some(right)) => left.eq_ignore_ascii_case(right),
        _ => false,
    };
    ignoring_case || absolute(left) == absolute(right)
}

/// `inner` lies strictly inside `outer`, compared by components once both are absolute.
fn nested(inner: &Path, outer: &Path) -> bool {
    let (inner, outer) = (absolute(inner), absolute(outer));
    inner != outer && inner.starts_with(&outer)
}

/// `path` made absolute against the working directory and with `.` components dropped, without
/// touching the file system; `path` itself when there is no working directory.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn quote_path(path: &Path) -> String {
    quote_text(&path.to_string_lossy())
}
