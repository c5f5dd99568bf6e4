//! Upload sessions: bytes streamed into `.uploads/<session>` and hashed as they arrive, resumable
//! after a restart through the `.state` file, and committed into `blobs/` against the digest the
//! client names (docs/design.md 4.2). An upload needs no repository owner: it runs on the core
//! that holds the connection, and only its last step publishes a name under `blobs/`.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use monoio::fs::File;
use monoio::task::JoinHandle;
use proto::oci::{Algorithm, Digest, DigestBuf, RepositoryName};

use crate::blob;
use crate::disk::Disk;
use crate::error::{IoFailure, UploadError};
use crate::hasher::StreamHasher;
use crate::layout::{RepositoryPaths, SessionId};
use crate::limits::{
    COPY_BUFFER_BYTES, UPLOAD_WRITEBACK_INTERVAL_BYTES, UPLOAD_WRITES_IN_FLIGHT_MAX,
};
use crate::platform;
use crate::root::Root;
use crate::upload_state::{SLOT_BYTES, SLOT_COUNT, UploadState};

/// Whether a session keeps a `.state` file so it can continue after a restart. A monolithic
/// upload (one request carries the whole blob) does not need one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resumable {
    Yes,
    No,
}

/// A blob that a commit made visible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedBlob {
    pub digest: DigestBuf,
    pub size: u64,
}

type WriteTask = JoinHandle<(io::Result<()>, Vec<u8>)>;

/// The `.state` file of a resumable session.
#[derive(Debug)]
struct StateFile {
    file: File,
    path: PathBuf,
    /// The slot holding the newest record; the next record goes into the other one.
    newest_slot: usize,
    /// Whether the `.uploads` folder was synced since the session's files were created.
    folder_synced: bool,
}

/// One upload session, owned by the task serving it.
pub struct Upload {
    root: Arc<Root>,
    disk: Disk,
    paths: RepositoryPaths,
    session: SessionId,
    data_path: PathBuf,
    /// Open until the session finishes; shared with the write tasks in flight.
    data: Option<Rc<File>>,
    state: Option<StateFile>,
    hasher: StreamHasher,
    created_unix_seconds: u64,
    /// Bytes appended: hashed, and their writes issued.
    size: u64,
    /// Bytes known to be on the device.
    synced: u64,
    /// Bytes whose writeback the kernel was asked to start.
    writeback_requested: u64,
    /// Writes issued and not yet finished, oldest first, each with the end of its byte range.
    in_flight: VecDeque<(WriteTask, u64)>,
    /// Buffers of finished writes not yet handed back, at most `UPLOAD_WRITES_IN_FLIGHT_MAX`.
    spare_buffers: Vec<Vec<u8>>,
    /// A write failed: the file may have a hole, so nothing more is accepted.
    broken: bool,
    /// Committed or cancelled: its files are gone.
    finished: bool,
}

impl Drop for Upload {
    /// Lets the next request take the session at once. The lock would also go with the file's
    /// close, but a close queued on io_uring may run after the client's next request arrives.
    fn drop(&mut self) {
        if let Some(state) = &self.state {
            platform::unlock(&state.file);
        }
    }
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Upload")
            .field("session", &self.session)
            .field("data_path", &self.data_path)
            .field("size", &self.size)
            .field("synced", &self.synced)
            .field("writes_in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// Starts a session in repository `name`, hashing with `algorithm`.
    pub async fn create(
        root: &Arc<Root>,
        disk: &Disk,
        name: RepositoryName<'_>,
        algorithm: Algorithm,
        resumable: Resumable,
    ) -> Result<Upload, UploadError> {
        let paths = root.repository(name);
        let session = SessionId::generate();
        let data_path = paths.upload_data(&session);
        let data = match disk.create_new(&data_path).await {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(UploadError::RepositoryUnknown);
            }
            Err(error) => return Err(io_failure("create upload", &data_path, error)),
        };
        let hasher = StreamHasher::new(algorithm);
        let created_unix_seconds = unix_now();
        let state = match resumable {
            Resumable::No => None,
            Resumable::Yes => {
                let path = paths.upload_state(&session);
                let file = match disk.create_new(&path).await {
                    Ok(file) => file,
                    Err(error) => {
                        let _ = data.close().await;
                        if !disk.crashed() {
                            let _ = disk.remove_file(&data_path).await;
                        }
                        return Err(io_failure("create upload state", &path, error));
                    }
                };
                // Nobody else knows the new name yet, so the lock is free; holding it keeps a
                // resume on another core from starting before this request is done.
                if let Err(error) = platform::try_lock(&file) {
                    return Err(io_failure("lock upload state", &path, error));
                }
                Some(StateFile {
                    file,
                    path,
                    // Slot 1 counts as newest so that the first record goes into slot 0.
                    newest_slot: 1,
                    folder_synced: false,
                })
            }
        };
        let mut upload = Upload {
            root: Arc::clone(root),
            disk: disk.clone(),
            paths,
            session,
            data_path,
            data: Some(Rc::new(data)),
            state,
            hasher,
            created_unix_seconds,
            size: 0,
            synced: 0,
            writeback_requested: 0,
            in_flight: VecDeque::new(),
            spare_buffers: Vec::new(),
            broken: false,
            finished: false,
        };
        if upload.state.is_some() {
            // The empty session's record, so a restart finds offset 0 (step 1 of 4.2).
            upload.write_state().await?;
        }
        Ok(upload)
    }

    /// Continues a session after a restart or on another core: reads its `.state`, cuts the
    /// data back to the acknowledged offset (I6) and restores the hasher. A session that is
    /// missing, damaged or expired is deleted and reported unknown.
    pub async fn resume(
        root: &Arc<Root>,
        disk: &Disk,
        name: RepositoryName<'_>,
        session: &SessionId,
    ) -> Result<Upload, UploadError> {
        let paths = root.repository(name);
        let data_path = paths.upload_data(session);
        let state_path = paths.upload_state(session);
        // The session is taken before anything is read or changed: one request at a time, on any
        // core or in any process, may continue it.
        let state_file = match disk.open_write(&state_path).await {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(UploadError::SessionUnknown);
            }
            Err(error) => return Err(io_failure("open upload state", &state_path, error)),
        };
        match platform::try_lock(&state_file) {
            Ok(true) => {}
            Ok(false) => {
                let _ = state_file.close().await;
                return Err(UploadError::SessionBusy);
            }
            Err(error) => {
                let _ = state_file.close().await;
                return Err(io_failure("lock upload state", &state_path, error));
            }
        }
        let (read, mut state_bytes) = disk
            .read_at(&state_file, Vec::with_capacity(SLOT_COUNT * SLOT_BYTES), 0)
            .await;
        match read {
            Ok(count) => state_bytes.truncate(count),
            Err(error) => return Err(io_failure("read upload state", &state_path, error)),
        }
        let discard = async || {
            if !disk.crashed() {
                let _ = disk.remove_file(&data_path).await;
                let _ = disk.remove_file(&state_path).await;
            }
            UploadError::SessionUnknown
        };
        let Ok((state, newest_slot)) = UploadState::decode_newest(&state_bytes) else {
            return Err(discard().await);
        };
        let age_seconds = unix_now().saturating_sub(state.created_unix_seconds);
        if age_seconds > root.config().upload_session_age_max.as_secs() {
            return Err(discard().await);
        }
        let Some(hasher) = StreamHasher::deserialize(state.algorithm, &state.hasher_state) else {
            return Err(discard().await);
        };
        let (length, links) = match disk.file_size_and_links(&data_path).await {
            Ok(found) => found,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(discard().await);
            }
            Err(error) => return Err(io_failure("stat upload", &data_path, error)),
        };
        if links > 1 {
            // The commit linked these bytes into `blobs/` (or `_blobstore`) and a crash cut it
            // before it removed the session: the data file IS the blob now. Continuing would
            // truncate or append to a published blob (I12), so the session is over; its names
            // go, the blob's stay.
            return Err(discard().await);
        }
        if length < state.offset {
            return Err(UploadError::StateDamaged {
                detail: format!(
                    "{} holds {length} bytes but its state acknowledges {}",
                    data_path.display(),
                    state.offset
                ),
            });
        }
        if length > state.offset {
            disk.truncate(&data_path, state.offset)
                .await
                .map_err(|error| io_failure("truncate upload", &data_path, error))?;
        }
        let data = disk
            .open_write(&data_path)
            .await
            .map_err(|error| io_failure("open upload", &data_path, error))?;
        Ok(Upload {
            root: Arc::clone(root),
            disk: disk.clone(),
            paths,
            session: session.clone(),
            data_path,
            data: Some(Rc::new(data)),
            state: Some(StateFile {
                file: state_file,
                path: state_path,
                newest_slot,
                folder_synced: true,
            }),
            hasher,
            created_unix_seconds: state.created_unix_seconds,
            size: state.offset,
            synced: state.offset,
            writeback_requested: state.offset,
            in_flight: VecDeque::new(),
            spare_buffers: Vec::new(),
            broken: false,
            finished: false,
        })
    }

    pub fn session(&self) -> &SessionId {
        &self.session
    }

    /// Bytes received so far: the offset the next chunk must start at.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends streamed bytes: hashes them now and issues their write, keeping up to
    /// `UPLOAD_WRITES_IN_FLIGHT_MAX` writes in flight. Returns an emptied buffer from a finished
    /// write for the caller to fill next, so a steady upload allocates nothing.
    pub async fn append(&mut self, bytes: Vec<u8>) -> Result<Option<Vec<u8>>, UploadError> {
        assert!(!self.finished, "append to a finished upload");
        if self.broken {
            return Err(self.broken_error());
        }
        if bytes.is_empty() {
            return Ok(Some(bytes));
        }
        let mut spare = self.spare_buffers.pop();
        if self.in_flight.len() >= UPLOAD_WRITES_IN_FLIGHT_MAX {
            let finished = self.finish_oldest_write().await?;
            self.keep_spare(spare.replace(finished));
        }
        self.hasher.update(&bytes);
        let position = self.size;
        self.size += bytes.len() as u64;
        let (disk, data, path) = (
            self.disk.clone(),
            Rc::clone(self.data()),
            self.data_path.clone(),
        );
        let task =
            monoio::spawn(async move { disk.write_all_at(&data, &path, bytes, position).await });
        self.in_flight.push_back((task, self.size));
        debug_assert!(self.in_flight.len() <= UPLOAD_WRITES_IN_FLIGHT_MAX);
        Ok(spare)
    }

    /// An emptied buffer of a finished write, if the upload holds one: after
    /// [`Upload::acknowledge`] or a failed [`Upload::commit`] the buffers of the writes they
    /// waited for are kept here, so a chunked upload reuses them instead of allocating.
    pub fn take_spare_buffer(&mut self) -> Option<Vec<u8>> {
        self.spare_buffers.pop()
    }

    fn keep_spare(&mut self, buffer: Option<Vec<u8>>) {
        if let Some(buffer) = buffer
            && self.spare_buffers.len() < UPLOAD_WRITES_IN_FLIGHT_MAX
        {
            self.spare_buffers.push(buffer);
        }
    }

    fn data(&self) -> &Rc<File> {
        self.data
            .as_ref()
            .expect("the data file is open until the session finishes")
    }

    /// Appends a chunk that the client says starts at `offset`: anything but the current size is
    /// an [`UploadError::OffsetMismatch`] and changes nothing.
    pub async fn append_at(
        &mut self,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, UploadError> {
        if offset != self.size {
            return Err(UploadError::OffsetMismatch {
                expected: self.size,
                received: offset,
            });
        }
        self.append(bytes).await
    }

    /// Makes everything appended so far durable and records it in `.state`: after this returns,
    /// a restart continues at [`Upload::size`] (I6, I7). The server calls it before answering
    /// 202 to a PATCH. Returns the acknowledged offset.
    pub async fn acknowledge(&mut self) -> Result<u64, UploadError> {
        assert!(!self.finished, "acknowledge a finished upload");
        self.settle_writes().await?;
        if self.state.is_some() {
            self.write_state().await?;
        }
        Ok(self.size)
    }

    /// Leaves the session at its last acknowledged offset after a request that failed part-way
    /// (a broken or dropped body): waits for the writes still in flight, then lets the lock go.
    /// Dropping the upload instead would unlock at once while a spawned write still runs; the
    /// next request on the session truncates to the offset and writes there, and the late write
    /// could land over its bytes, which the hasher never saw (I1).
    pub async fn abandon(mut self) {
        while let Some((task, _)) = self.in_flight.pop_front() {
            let _ = task.await;
        }
    }

    /// Deletes the session and its bytes.
    pub async fn cancel(mut self) -> Result<(), UploadError> {
        assert!(!self.finished, "cancel a finished upload");
        // Written bytes are thrown away, but no write may still use the file when it goes.
        while let Some((task, _)) = self.in_flight.pop_front() {
            let _ = task.await;
        }
        self.remove_files().await
    }

    /// Finishes the upload as blob `expected`: compares the digest computed while the bytes
    /// streamed in, syncs the data and publishes it under `blobs/` (4.2 steps 4 to 6). On a
    /// mismatch nothing changes: the session stays as it was, to be retried or cancelled.
    pub async fn commit(&mut self, expected: Digest<'_>) -> Result<CommittedBlob, UploadError> {
        assert!(!self.finished, "commit a finished upload");
        self.settle_writes().await?;
        let computed = if expected.algorithm() == self.hasher.algorithm() {
            self.hasher.clone().finish()
        } else {
            // The client named another algorithm than the session hashed with: the one case
            // where the engine reads the bytes back.
            self.hash_again(expected.algorithm()).await?
        };
        if computed.as_digest() != expected {
            return Err(UploadError::DigestMismatch {
                expected: expected.into(),
                computed,
            });
        }
        blob::publish(
            &self.root,
            &self.disk,
            &self.paths,
            &self.data_path,
            expected,
        )
        .await
        .map_err(UploadError::Io)?;
        let size = self.size;
        // The blob is durable; a crash now leaves session files that open or expiry removes.
        self.remove_files().await?;
        Ok(CommittedBlob {
            digest: expected.into(),
            size,
        })
    }

    /// Waits for every write in flight, then makes the data durable.
    async fn settle_writes(&mut self) -> Result<(), UploadError> {
        while !self.in_flight.is_empty() {
            let buffer = self.finish_oldest_write().await?;
            self.keep_spare(Some(buffer));
        }
        if self.broken {
            return Err(self.broken_error());
        }
        if self.synced < self.size {
            self.disk
                .sync_data(self.data(), &self.data_path)
                .await
                .map_err(|error| self.fail("sync upload", error))?;
            self.synced = self.size;
        }
        Ok(())
    }

    /// Waits for the oldest write; returns its buffer, emptied.
    async fn finish_oldest_write(&mut self) -> Result<Vec<u8>, UploadError> {
        let (task, written) = self.in_flight.pop_front().expect("a write is in flight");
        let (result, mut buffer) = task.await;
        result.map_err(|error| self.fail("write upload", error))?;
        // Writes finish in order of issue, so everything up to `written` is in the page cache.
        if written - self.writeback_requested >= UPLOAD_WRITEBACK_INTERVAL_BYTES {
            platform::start_writeback(
                self.data(),
                self.writeback_requested,
                written - self.writeback_requested,
            );
            self.writeback_requested = written;
        }
        buffer.clear();
        Ok(buffer)
    }

    /// Writes the current state into the slot that does not hold the newest record, syncs it,
    /// and on the first record syncs the `.uploads` folder so the session's names survive too.
    async fn write_state(&mut self) -> Result<(), UploadError> {
        let record = UploadState {
            offset: self.size,
            algorithm: self.hasher.algorithm(),
            created_unix_seconds: self.created_unix_seconds,
            hasher_state: self.hasher.serialize(),
        };
        let state = self.state.as_mut().expect("a resumable session");
        let slot = (state.newest_slot + 1) % SLOT_COUNT;
        let position = (slot * SLOT_BYTES) as u64;
        let (result, _) = self
            .disk
            .write_all_at(&state.file, &state.path, record.encode_slot(), position)
            .await;
        let result = match result {
            Ok(()) => self.disk.sync_data(&state.file, &state.path).await,
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            let path = state.path.clone();
            return Err(self.fail_at("write upload state", path, error));
        }
        state.newest_slot = slot;
        if !state.folder_synced {
            let folder = self.paths.uploads();
            self.disk
                .sync_directory(&folder)
                .await
                .map_err(|error| io_failure("sync uploads folder", &folder, error))?;
            if let Some(state) = self.state.as_mut() {
                state.folder_synced = true;
            }
        }
        Ok(())
    }

    /// Hashes the data file again with `algorithm`.
    async fn hash_again(&self, algorithm: Algorithm) -> Result<DigestBuf, UploadError> {
        let mut hasher = StreamHasher::new(algorithm);
        let mut buffer = Vec::with_capacity(COPY_BUFFER_BYTES);
        let mut position = 0u64;
        while position < self.size {
            let (read, returned) = self.disk.read_at(self.data(), buffer, position).await;
            buffer = returned;
            let count = read.map_err(|error| io_failure("read upload", &self.data_path, error))?;
            if count == 0 {
                return Err(UploadError::StateDamaged {
                    detail: format!(
                        "{} ends before {} bytes",
                        self.data_path.display(),
                        self.size
                    ),
                });
            }
            let count = count.min(usize::try_from(self.size - position).unwrap_or(usize::MAX));
            hasher.update(&buffer[..count]);
            position += count as u64;
            buffer.clear();
        }
        Ok(hasher.finish())
    }

    async fn remove_files(&mut self) -> Result<(), UploadError> {
        self.finished = true;
        // Closed before they are unlinked: the last close of an unlinked file frees its blocks,
        // and on io_uring a close queued by a drop would do that on this core at its next
        // submission (about 20 ms for 100 MiB), where an unlink goes to the kernel's workers.
        // No write is in flight here, so the upload holds the only reference.
        if let Some(data) = self.data.take().and_then(|data| Rc::try_unwrap(data).ok()) {
            let _ = data.close().await;
        }
        let state_path = match self.state.take() {
            Some(state) => {
                let _ = state.file.close().await;
                Some(state.path)
            }
            None => None,
        };
        if self.disk.crashed() {
            return Ok(());
        }
        if let Err(error) = self.disk.remove_file(&self.data_path).await
            && error.kind() != io::ErrorKind::NotFound
        {
            return Err(io_failure("remove upload", &self.data_path, error));
        }
        if let Some(path) = &state_path
            && let Err(error) = self.disk.remove_file(path).await
            && error.kind() != io::ErrorKind::NotFound
        {
            return Err(io_failure("remove upload state", path, error));
        }
        Ok(())
    }

    fn fail(&mut self, operation: &'static str, error: io::Error) -> UploadError {
        let path = self.data_path.clone();
        self.fail_at(operation, path, error)
    }

    fn fail_at(&mut self, operation: &'static str, path: PathBuf, error: io::Error) -> UploadError {
        self.broken = true;
        io_failure(operation, path, error)
    }

    fn broken_error(&self) -> UploadError {
        UploadError::StateDamaged {
            detail: format!(
                "an earlier write to {} failed; the session must be resumed",
                self.data_path.display()
            ),
        }
    }
}

fn io_failure(operation: &'static str, path: impl Into<PathBuf>, error: io::Error) -> UploadError {
    UploadError::Io(IoFailure::new(operation, path, error))
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
