//! The registry's on-disk store: one OCI image layout per repository, laid out as zot lays it
//! out. `docs/design.md` is the specification: the format, its numbered invariants (I1 to I12)
//! and what survives a crash at each step.
//!
//! - [`store::Store`]: the repositories one core owns, opened from a root; creation, mounts,
//!   the catalog, session expiry.
//! - [`repository::Repository`]: manifests, tags, referrers and blob deletes of one repository.
//! - [`upload::Upload`]: streamed, hashed, resumable uploads and their commit.
//! - [`blob::BlobFile`]: a blob opened for `sendfile(2)` or buffered reads.
//! - [`disk::Disk`]: every file operation, on monoio, with fault injection for crash tests.
//! - [`index`] and [`upload_state`]: the two formats, pure code.
//! - [`invariants`]: the offline check of a stopped root against I1 to I12 (tests, `zot scrub`).

pub mod blob;
pub mod disk;
pub mod error;
pub mod hasher;
pub mod index;
pub mod invariants;
pub mod layout;
pub mod limits;
mod open;
mod platform;
pub mod repository;
pub mod root;
pub mod root_lock;
pub mod store;
pub mod upload;
pub mod upload_state;
#[doc(hidden)]
pub mod zot_fixture;

pub use blob::{BlobFile, BlobRange};
pub use disk::{Disk, FaultPlan};
pub use error::{
    BlobError, IoFailure, ManifestStoreError, OpenError, RepositoryError, UploadError,
};
pub use layout::SessionId;
pub use repository::{BlobStat, ManifestContent, Page, PutManifest, Referrer, Repository};
pub use root::{Root, Roots, StoreConfig};
pub use root_lock::{ROOT_LOCK_FILE, RootLock};
pub use store::Store;
pub use upload::{CommittedBlob, Resumable, Upload};
