//! Opening a root (docs/design.md 2.1 and 4.6): finding its repositories, and clearing what a
//! crash or an abandoned client left in them (temporary files, orphaned or damaged upload
//! state, expired sessions).

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use proto::limits::REPOSITORY_NAME_COMPONENTS_MAX;
use proto::oci::RepositoryName;

use crate::disk::Disk;
use crate::error::IoFailure;
use crate::layout::{RepositoryPaths, SessionId, TEMPORARY_PREFIX};
use crate::limits::{ROOT_OPEN_THREADS_MAX, ROOT_WALK_ENTRIES_MAX};
use crate::root::Root;
use crate::upload::unix_now;
use crate::upload_state::UploadState;

/// A folder found by the walk: a repository, or the folder of one whose creation a crash cut
/// short (docs/design.md 4.1), which holds temporary files but no `oci-layout` yet.
#[derive(Debug)]
pub(crate) struct FoundRepository {
    pub name: String,
    /// Whether the folder holds `oci-layout`. When not, only its temporary files matter.
    pub is_repository: bool,
    /// Temporary files in its folder, deleted before it is served.
    pub temporary_files: Vec<PathBuf>,
    /// The bytes of its `index.json`, `None` when there is none (an empty index). Read only for
    /// repositories the caller owns.
    pub index: Option<Vec<u8>>,
    /// The names in its `.uploads/`, for the cleanup at open. Read only for owned repositories.
    pub uploads: HashSet<String>,
}

/// One folder to read, and where it sits in the tree.
#[derive(Debug)]
struct Visit {
    folder: PathBuf,
    /// The repository name the folder would have; empty for the root.
    name: String,
    depth: usize,
}

/// What reading one folder found.
#[derive(Debug)]
struct Visited {
    found: Option<FoundRepository>,
    children: Vec<Visit>,
    entries: usize,
}

/// Walks the root for repositories: folders with an `oci-layout` whose path is a valid name.
/// Skips names starting with `_` or `.` (zot's `_blobstore`, `_trivy`, markers), files at the
/// root (`cache.db`), and a repository's `blobs/` and `.uploads/`. Bounded in depth by the name
/// grammar and in total by `ROOT_WALK_ENTRIES_MAX`. Folders that are not repositories but hold
/// temporary files are returned too, so that open deletes those files (section 4: nothing
/// acknowledged depends on one).
///
/// For each repository `owns` accepts, the same pass reads `index.json` and lists `.uploads/`.
/// Each level of the tree is read by up to `ROOT_OPEN_THREADS_MAX` threads: with a cold cache,
/// opening is a chain of small reads that each wait for the device, and only reads in flight
/// together overlap (monoio's legacy driver runs file operations inline, so tasks would not).
pub(crate) fn find_repositories(
    root: &Path,
    owns: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<FoundRepository>, IoFailure> {
    let mut found = Vec::new();
    let mut entries_seen = 0usize;
    let mut level = vec![Visit {
        folder: root.to_path_buf(),
        name: String::new(),
        depth: 0,
    }];
    // One pass per level, and names are at most REPOSITORY_NAME_COMPONENTS_MAX deep.
    while !level.is_empty() {
        let mut next = Vec::new();
        for visited in visit_level(&level, owns)? {
            entries_seen += visited.entries;
            if entries_seen > ROOT_WALK_ENTRIES_MAX {
                return Err(IoFailure::new(
                    "walk root",
                    root,
                    io::Error::other("more entries than ROOT_WALK_ENTRIES_MAX"),
                ));
            }
            next.extend(visited.children);
            found.extend(visited.found);
        }
        level = next;
    }
    found.sort_by(|left, right| left.name.cmp(&right.name));
    Ok(found)
}

/// Reads every folder of one level, on up to `ROOT_OPEN_THREADS_MAX` threads that take the
/// next folder as they finish one. Results come back in the level's order.
fn visit_level(
    level: &[Visit],
    owns: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<Visited>, IoFailure> {
    let threads = level.len().min(ROOT_OPEN_THREADS_MAX);
    if threads <= 1 {
        return level
            .iter()
            .map(|visit| visit_folder(visit, owns))
            .collect();
    }
    let next_index = AtomicUsize::new(0);
    let mut results: Vec<(usize, Result<Visited, IoFailure>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    // Each pass takes a folder no other thread took; at most `level.len()`.
                    loop {
                        let index = next_index.fetch_add(1, Ordering::Relaxed);
                        let Some(visit) = level.get(index) else {
                            break done;
                        };
                        done.push((index, visit_folder(visit, owns)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a walk thread panicked"))
            .collect()
    });
    assert_eq!(results.len(), level.len(), "every folder visited once");
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Reads one folder: its entries, and for an owned repository its `index.json` and `.uploads/`.
fn visit_folder(visit: &Visit, owns: &(dyn Fn(&str) -> bool + Sync)) -> Result<Visited, IoFailure> {
    let Visit {
        folder,
        name,
        depth,
    } = visit;
    let nothing = Visited {
        found: None,
        children: Vec::new(),
        entries: 0,
    };
    let reader = match std::fs::read_dir(folder) {
        Ok(reader) => reader,
        // A folder that vanished or that we may not read holds nothing we can serve.
        Err(_) if *depth > 0 => return Ok(nothing),
        Err(error) => return Err(IoFailure::new("read folder", folder, error)),
    };
    let mut entries = 0;
    let mut is_repository = false;
    let mut temporary_files = Vec::new();
    let mut children = Vec::new();
    for entry in reader {
        entries += 1;
        if entries > ROOT_WALK_ENTRIES_MAX {
            break;
        }
        let entry = entry.map_err(|error| IoFailure::new("read folder", folder, error))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let file_type = entry
            .file_type()
            .map_err(|error| IoFailure::new("stat", entry.path(), error))?;
        if file_type.is_file() {
            if *depth > 0 && file_name == "oci-layout" {
                is_repository = true;
            } else if *depth > 0 && file_name.starts_with(TEMPORARY_PREFIX) {
                temporary_files.push(entry.path());
            }
            continue;
        }
        if !file_type.is_dir() || file_name.starts_with(['_', '.']) {
            continue;
        }
        children.push(file_name.to_owned());
    }
    let child_depth = depth + 1;
    let children = children
        .into_iter()
        .filter(|child| !(is_repository && child == "blobs"))
        .filter_map(|child| {
            let child_name = if name.is_empty() {
                child.clone()
            } else {
                format!("{name}/{child}")
            };
            let valid = child_depth <= REPOSITORY_NAME_COMPONENTS_MAX
                && RepositoryName::parse(&child_name).is_ok();
            valid.then(|| Visit {
                folder: folder.join(&child),
                name: child_name,
                depth: child_depth,
            })
        })
        .collect();
    let mut found = None;
    if is_repository || !temporary_files.is_empty() {
        let owned = is_repository && owns(name);
        let (index, uploads) = if owned {
            (read_index(folder)?, list_uploads(&folder.join(".uploads"))?)
        } else {
            (None, HashSet::new())
        };
        found = Some(FoundRepository {
            name: name.clone(),
            is_repository,
            temporary_files,
            index,
            uploads,
        });
    }
    Ok(Visited {
        found,
        children,
        entries,
    })
}

fn read_index(folder: &Path) -> Result<Option<Vec<u8>>, IoFailure> {
    let path = folder.join("index.json");
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(IoFailure::new("read index", path, error)),
    }
}

/// The names in an `.uploads/` folder; none when it is missing.
pub(crate) fn list_uploads(folder: &Path) -> Result<HashSet<String>, IoFailure> {
    let reader = match std::fs::read_dir(folder) {
        Ok(reader) => reader,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(error) => return Err(IoFailure::new("read folder", folder, error)),
    };
    let mut names = HashSet::new();
    for entry in reader.take(ROOT_WALK_ENTRIES_MAX) {
        let entry = entry.map_err(|error| IoFailure::new("read folder", folder, error))?;
        if let Some(name) = entry.file_name().to_str() {
            names.insert(name.to_owned());
        }
    }
    Ok(names)
}

/// Deletes what no acknowledged operation depends on (4.6 steps 2 and 3): temporary files,
/// `.state` files without data, sessions whose state is damaged, and sessions older than the
/// configured age. Returns how many sessions were removed.
pub(crate) async fn clean_repository(
    root: &Root,
    disk: &Disk,
    paths: &RepositoryPaths,
    found: &FoundRepository,
) -> Result<usize, IoFailure> {
    remove_temporary_files(disk, &found.temporary_files).await?;
    expire_sessions(root, disk, paths, &found.uploads, true).await
}

/// Deletes temporary files a crash left (section 4): in a repository's folder, or in the folder
/// of a repository whose creation was cut short before its `oci-layout` was in place.
pub(crate) async fn remove_temporary_files(
    disk: &Disk,
    temporary_files: &[PathBuf],
) -> Result<(), IoFailure> {
    for path in temporary_files {
        remove_if_present(disk, path).await?;
    }
    Ok(())
}

/// Deletes expired sessions of a repository whose `.uploads/` holds `names` (and, when
/// `at_open`, everything else open clears there). Returns how many sessions went.
pub(crate) async fn expire_sessions(
    root: &Root,
    disk: &Disk,
    paths: &RepositoryPaths,
    names: &HashSet<String>,
    at_open: bool,
) -> Result<usize, IoFailure> {
    let folder = paths.uploads();
    let age_max = root.config().upload_session_age_max;
    let now = unix_now();
    let mut removed = 0;
    for name in names {
        let path = folder.join(name);
        if name.starts_with(TEMPORARY_PREFIX) {
            if at_open {
                remove_if_present(disk, &path).await?;
            }
            continue;
        }
        if let Some(session) = name.strip_suffix(".state").and_then(SessionId::parse) {
            // A running server expires sessions while requests use others: a session whose
            // state a request holds locked is in use, however old, and stays. One that is not
            // stays locked here until it is gone, so no request takes it half-removed.
            let _idle = if at_open {
                None
            } else {
                match lock_idle_session(&path)? {
                    SessionLock::InUse => continue,
                    SessionLock::Missing => continue,
                    SessionLock::Held(file) => Some(file),
                }
            };
            let data = paths.upload_data(&session);
            let expired = match disk.read(&path).await {
                Ok(bytes) => match UploadState::decode_newest(&bytes) {
                    Ok((state, _)) => {
                        now.saturating_sub(state.created_unix_seconds) > age_max.as_secs()
                    }
                    // Damaged in both slots: never acknowledged past a state that survives.
                    Err(_) => true,
                },
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(IoFailure::new("read upload state", path, error)),
            };
            let orphaned = !names.contains(session.as_str());
            // Data with more than one name was published by a commit a crash cut before its
            // clean-up (see `Upload::resume`): the session is finished, never to continue.
            let published = !orphaned
                && disk
                    .file_size_and_links(&data)
                    .await
                    .is_ok_and(|(_, links)| links > 1);
            if expired || orphaned || published {
                remove_if_present(disk, &data).await?;
                remove_if_present(disk, &path).await?;
                removed += 1;
            }
            continue;
        }
        // A data file without `.state`: a monolithic upload in progress (or cut short by a
        // crash), or a session zot left, which cannot continue without its hasher state. Either
        // way it goes once it is older than the session age.
        let state_name = format!("{name}.state");
        if !names.contains(&state_name) && is_older_than(&path, age_max) {
            remove_if_present(disk, &path).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// A session state's lock, as the expiry of a running server finds it.
enum SessionLock {
    /// A request holds it.
    InUse,
    /// The state went meanwhile (its request completed or cancelled it).
    Missing,
    /// Taken; closing the file releases it.
    Held(std::fs::File),
}

fn lock_idle_session(state: &Path) -> Result<SessionLock, IoFailure> {
    let file = match std::fs::File::open(state) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(SessionLock::Missing),
        Err(error) => return Err(IoFailure::new("open upload state", state, error)),
    };
    let locked = crate::platform::try_lock(&file)
        .map_err(|error| IoFailure::new("lock upload state", state, error))?;
    Ok(if locked {
        SessionLock::Held(file)
    } else {
        SessionLock::InUse
    })
}

fn is_older_than(path: &Path, age: std::time::Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|elapsed| elapsed > age)
}

async fn remove_if_present(disk: &Disk, path: &Path) -> Result<(), IoFailure> {
    match disk.remove_file(path).await {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(IoFailure::new("remove", path, error)),
    }
}
