//! Every file operation the engine makes, on monoio, with an optional fault plan that stops the
//! engine at a chosen step: the crash-consistency tests use it to interrupt each commit and each
//! index update at every step (docs/design.md, section 4).
//!
//! monoio has no `link`, `readdir` or `ftruncate`; those three go to the standard library here,
//! as plain blocking metadata calls, and nowhere else.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::rc::Rc;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::fs::{File, OpenOptions};

use crate::platform;

/// Permissions of files the engine creates: the registry's own user only, as zot does.
const FILE_MODE: u32 = 0o600;

/// The engine's door to the file system. Cheap to clone; one per core (not `Send`).
#[derive(Clone, Debug, Default)]
pub struct Disk {
    faults: Option<Rc<FaultPlan>>,
}

/// Decides where an engine "crashes": every mutating step (create, write, sync, rename, link,
/// unlink, mkdir, truncate) counts one; at the chosen step the operation fails, a write leaves
/// only half its bytes (a torn write), and every later step fails too, as if the process had died
/// there. With no crash step it only counts, so a test learns how many steps an operation takes.
#[derive(Debug, Default)]
pub struct FaultPlan {
    crash_at_step: Option<u64>,
    /// Every `link` fails with `EXDEV`, as on a file system without hard links between these
    /// folders (A4): tests of the copy and rename fallbacks.
    links_fail: bool,
    steps_taken: Cell<u64>,
    crashed: Cell<bool>,
    trace: RefCell<Vec<String>>,
}

impl FaultPlan {
    /// Counts steps and never fails.
    pub fn counting() -> Rc<FaultPlan> {
        Rc::new(FaultPlan::default())
    }

    /// Fails step number `step` (counted from 0) and everything after it.
    pub fn crash_at(step: u64) -> Rc<FaultPlan> {
        Rc::new(FaultPlan {
            crash_at_step: Some(step),
            ..FaultPlan::default()
        })
    }

    /// Never crashes; every hard link fails as on a file system without links (A4).
    pub fn without_links() -> Rc<FaultPlan> {
        Rc::new(FaultPlan {
            links_fail: true,
            ..FaultPlan::default()
        })
    }

    /// How many steps completed.
    pub fn steps_taken(&self) -> u64 {
        self.steps_taken.get()
    }

    /// Whether the crash step was reached.
    pub fn crashed(&self) -> bool {
        self.crashed.get()
    }

    /// One line per completed step, and the crash: what a failing crash test prints.
    pub fn trace(&self) -> Vec<String> {
        self.trace.borrow().clone()
    }

    /// Counts one step; `Err` when this is the crash step or the engine already crashed.
    fn step(&self, what: &str, path: &Path) -> io::Result<()> {
        if self.crashed.get() {
            return Err(crashed_error());
        }
        let step = self.steps_taken.get();
        if self.crash_at_step == Some(step) {
            self.crashed.set(true);
            self.trace
                .borrow_mut()
                .push(format!("{step}: crash during {what} {}", path.display()));
            return Err(crashed_error());
        }
        self.steps_taken.set(step + 1);
        self.trace
            .borrow_mut()
            .push(format!("{step}: {what} {}", path.display()));
        Ok(())
    }
}

fn crashed_error() -> io::Error {
    io::Error::other("injected crash (fault plan)")
}

impl Disk {
    /// The real file system, no faults.
    pub fn new() -> Disk {
        Disk::default()
    }

    /// The file system with `plan` deciding where the engine crashes.
    pub fn with_faults(plan: Rc<FaultPlan>) -> Disk {
        Disk { faults: Some(plan) }
    }

    fn step(&self, what: &str, path: &Path) -> io::Result<()> {
        match &self.faults {
            Some(plan) => plan.step(what, path),
            None => Ok(()),
        }
    }

    /// Creates a file that must not exist yet (`O_CREAT | O_EXCL`), for reading and writing.
    pub async fn create_new(&self, path: &Path) -> io::Result<File> {
        self.step("create", path)?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(path)
            .await
    }

    /// Opens an existing file for reading.
    pub async fn open_read(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens an existing file for reading and writing (an upload being resumed).
    pub async fn open_write(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).open(path).await
    }

    /// Writes all of `buffer` at `position`. The buffer comes back, as monoio hands it back.
    pub async fn write_all_at<T: IoBuf>(
        &self,
        file: &File,
        path: &Path,
        buffer: T,
        position: u64,
    ) -> (io::Result<()>, T) {
        if let Err(error) = self.step("write", path) {
            if self.crashed() && buffer.bytes_init() > 1 {
                // The torn write: half the bytes reach the file before the "crash".
                let half = buffer.bytes_init() / 2;
                let (_, slice) = file.write_all_at(buffer.slice(0..half), position).await;
                return (Err(error), slice.into_inner());
            }
            return (Err(error), buffer);
        }
        file.write_all_at(buffer, position).await
    }

    /// Reads up to the buffer's capacity at `position`.
    pub async fn read_at<T: IoBufMut>(
        &self,
        file: &File,
        buffer: T,
        position: u64,
    ) -> (io::Result<usize>, T) {
        file.read_at(buffer, position).await
    }

    /// Makes a file's data durable.
    pub async fn sync_data(&self, file: &File, path: &Path) -> io::Result<()> {
        self.step("sync", path)?;
        platform::sync_data(file).await
    }

    /// Makes a folder's entries durable.
    pub async fn sync_directory(&self, path: &Path) -> io::Result<()> {
        self.step("sync folder", path)?;
        let directory = OpenOptions::new().read(true).open(path).await?;
        let result = platform::sync_directory(&directory).await;
        let _ = directory.close().await;
        result
    }

    /// Atomically replaces `to` with `from` (A1).
    pub async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.step("rename", to)?;
        monoio::fs::rename(from, to).await
    }

    /// Gives the file `from` the second name `to`; `AlreadyExists` if `to` exists (A4). Unlike
    /// a rename, it never replaces an existing blob.
    pub async fn link(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.step("link", to)?;
        if self.faults.as_ref().is_some_and(|plan| plan.links_fail) {
            return Err(io::Error::from_raw_os_error(libc::EXDEV));
        }
        std::fs::hard_link(from, to)
    }

    /// Removes a name.
    pub async fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.step("unlink", path)?;
        monoio::fs::remove_file(path).await
    }

    /// Creates a folder and its missing parents; an existing folder is fine.
    pub async fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.create_missing_folders(path).await.map(drop)
    }

    /// Creates a folder and its missing parents like [`Disk::create_dir_all`], then makes the
    /// new names durable (A3): the parent of each folder it created is synced, deepest first.
    /// A blob linked into a folder whose own name could vanish would vanish with it.
    pub async fn create_dir_all_durable(&self, path: &Path) -> io::Result<()> {
        let missing = self.create_missing_folders(path).await?;
        for folder in missing.iter().rev() {
            if let Some(parent) = folder.parent() {
                self.sync_directory(parent).await?;
            }
        }
        Ok(())
    }

    /// Makes each missing folder of `path`, outermost first, and returns them in that order.
    /// One `mkdir` per folder here, because several tasks may create the same folders at once
    /// (two first uploads of one digest): a folder another task made in between is as good as
    /// one made here, where monoio's create_dir_all would fail.
    async fn create_missing_folders<'a>(&self, path: &'a Path) -> io::Result<Vec<&'a Path>> {
        self.step("mkdir", path)?;
        let mut missing = Vec::new();
        for folder in path.ancestors() {
            if monoio::fs::metadata(folder).await.is_ok() {
                break;
            }
            missing.push(folder);
        }
        missing.reverse();
        for folder in &missing {
            match monoio::fs::create_dir(folder).await {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && folder.is_dir() => {}
                Err(error) => return Err(error),
            }
        }
        Ok(missing)
    }

    /// Cuts a file to `length` bytes (an upload resumed after an unacknowledged write, I6).
    pub async fn truncate(&self, path: &Path, length: u64) -> io::Result<()> {
        self.step("truncate", path)?;
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(length)
    }

    /// The size of a file, or `NotFound`.
    pub async fn file_size(&self, path: &Path) -> io::Result<u64> {
        let metadata = monoio::fs::metadata(path).await?;
        if !metadata.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "not a regular file",
            ));
        }
        Ok(metadata.len())
    }

    /// The size of a regular file and how many names it has (hard links), or `NotFound`.
    pub async fn file_size_and_links(&self, path: &Path) -> io::Result<(u64, u64)> {
        let metadata = std::fs::metadata(path)?;
        if !metadata.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "not a regular file",
            ));
        }
        Ok((
            metadata.len(),
            std::os::unix::fs::MetadataExt::nlink(&metadata),
        ))
    }

    /// Reads a whole small file (an `index.json`, a manifest, a `.state`).
    pub async fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        monoio::fs::read(path).await
    }

    /// Writes `bytes` as the new content of `path` by atomic replacement: a temporary file in the
    /// same folder, `fsync`, rename over `path`, `fsync` the folder (docs/design.md, 4.4).
    pub async fn replace_file(&self, path: &Path, bytes: Vec<u8>) -> io::Result<()> {
        let folder = path.parent().expect("the engine's files live in folders");
        let temporary = crate::layout::temporary_path(folder);
        let file = self.create_new(&temporary).await?;
        let result = async {
            let (written, _) = self.write_all_at(&file, &temporary, bytes, 0).await;
            written?;
            self.sync_data(&file, &temporary).await?;
            self.rename(&temporary, path).await?;
            self.sync_directory(folder).await
        }
        .await;
        let _ = file.close().await;
        if result.is_err() && !self.crashed() {
            let _ = std::fs::remove_file(&temporary);
        }
        result
    }

    /// Whether the fault plan stopped the engine; cleanup is skipped then, as a crash skips it.
    pub fn crashed(&self) -> bool {
        self.faults.as_ref().is_some_and(|plan| plan.crashed())
    }
}
