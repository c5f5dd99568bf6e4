//! The few file operations that differ between Linux and macOS, behind `cfg` in this one module:
//! early writeback of upload data and the durable-sync call; and the advisory lock that gives an
//! upload session one request at a time (`flock`, the same on both).
//!
//! Everything else the engine does is portable POSIX through monoio.

use std::io;
use std::os::fd::AsRawFd;

use monoio::fs::File;

/// Asks the kernel to start writing `length` bytes at `offset` to the device now, without waiting.
/// A large upload then reaches the disk while it is still streaming in, so the `fsync` at commit
/// waits only for the tail instead of the whole blob. Advisory: failures are ignored, because the
/// commit's `fsync` is what makes the data durable (docs/design.md, A2).
#[cfg(target_os = "linux")]
pub(crate) fn start_writeback(file: &File, offset: u64, length: u64) {
    let (Ok(offset), Ok(length)) = (i64::try_from(offset), i64::try_from(length)) else {
        return;
    };
    // SAFETY: the descriptor belongs to `file`, which the borrow keeps open for the call;
    // sync_file_range reads no memory of ours, and an error is only a return value.
    let _ = unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset,
            length,
            libc::SYNC_FILE_RANGE_WRITE,
        )
    };
}

/// Elsewhere there is no non-blocking writeback request; the commit's sync does all the work.
#[cfg(not(target_os = "linux"))]
pub(crate) fn start_writeback(_file: &File, _offset: u64, _length: u64) {}

/// Makes a file's data (and the size that goes with it) durable.
#[cfg(not(target_os = "macos"))]
pub(crate) async fn sync_data(file: &File) -> io::Result<()> {
    file.sync_data().await
}

/// On macOS `fsync` leaves the bytes in the drive's cache; only `F_FULLFSYNC` flushes it (A2).
#[cfg(target_os = "macos")]
pub(crate) async fn sync_data(file: &File) -> io::Result<()> {
    // SAFETY: the descriptor belongs to `file`, kept open by the borrow; F_FULLFSYNC takes no
    // argument and touches no memory of ours.
    let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_FULLFSYNC) };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes a folder's entries (creates, renames, links, unlinks) durable (A3).
pub(crate) async fn sync_directory(directory: &File) -> io::Result<()> {
    // A folder has no data to speak of: the full sync is what commits its entries.
    #[cfg(target_os = "macos")]
    return sync_data(directory).await;
    #[cfg(not(target_os = "macos"))]
    directory.sync_all().await
}

/// Takes the exclusive advisory lock of `file` without waiting: `Ok(false)` when another open
/// file (another request, core or process) holds it.
pub(crate) fn try_lock(file: &impl AsRawFd) -> io::Result<bool> {
    // SAFETY: flock on a descriptor `file` keeps open for the call; it touches no memory of ours.
    let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if result == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    if error.kind() == io::ErrorKind::WouldBlock {
        return Ok(false);
    }
    Err(error)
}

/// Releases the lock [`try_lock`] took. Failure changes nothing: the close releases it too.
pub(crate) fn unlock(file: &impl AsRawFd) {
    // SAFETY: as in try_lock.
    let _ = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
}
