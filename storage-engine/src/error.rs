//! The engine's errors, one `#[non_exhaustive]` enum per family of operations, and their OCI
//! error codes: this file is the only place that maps an engine error to a code.
//!
//! Operating errors (a missing blob, a full disk) are values; programmer errors are assertions.

use std::fmt;
use std::io;
use std::path::PathBuf;

use proto::oci::manifest::ManifestError;
use proto::oci::{DigestBuf, ErrorCode};

/// A failed file operation, with what the engine was doing and where.
#[derive(Debug)]
pub struct IoFailure {
    pub operation: &'static str,
    pub path: PathBuf,
    pub source: io::Error,
}

impl IoFailure {
    pub fn new(operation: &'static str, path: impl Into<PathBuf>, source: io::Error) -> IoFailure {
        IoFailure {
            operation,
            path: path.into(),
            source,
        }
    }

    /// Whether the file system is full: a server answers that differently from other faults.
    pub fn is_storage_full(&self) -> bool {
        self.source.raw_os_error() == Some(libc::ENOSPC)
            || self.source.raw_os_error() == Some(libc::EDQUOT)
    }
}

impl fmt::Display for IoFailure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} {}: {}",
            self.operation,
            self.path.display(),
            self.source
        )
    }
}

/// Opening a root.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The root is missing and cannot be created, or is not a folder.
    Root(IoFailure),
    /// Another process holds the root's lock: it is being served already.
    RootBusy {
        path: PathBuf,
    },
    /// A repository's `index.json` is not a valid index (I4). The repository is left out rather
    /// than served with tags the engine cannot read; `zot scrub` names the damage.
    IndexDamaged {
        repository: String,
        detail: String,
    },
    Io(IoFailure),
}

/// Creating a repository.
#[derive(Debug)]
#[non_exhaustive]
pub enum RepositoryError {
    /// The name's folder would lie inside another repository's storage folders, or theirs in
    /// its (I11).
    NameCollision {
        detail: String,
    },
    Io(IoFailure),
}

/// Upload sessions.
#[derive(Debug)]
#[non_exhaustive]
pub enum UploadError {
    /// The repository does not exist.
    RepositoryUnknown,
    /// No such session, or it expired.
    SessionUnknown,
    /// A chunk that does not start where the upload ends (a server answers 416).
    OffsetMismatch {
        expected: u64,
        received: u64,
    },
    /// The bytes hash to another digest than the client said. The session is kept.
    DigestMismatch {
        expected: DigestBuf,
        computed: DigestBuf,
    },
    /// Another request holds the session right now (two chunks of one upload at once).
    SessionBusy,
    /// The session's files on disk disagree with its state (I6 broken): it cannot continue.
    StateDamaged {
        detail: String,
    },
    Io(IoFailure),
}

/// Blobs: stat, read, delete, mount.
#[derive(Debug)]
#[non_exhaustive]
pub enum BlobError {
    RepositoryUnknown,
    /// A mount would create a repository whose name collides with the storage's folders (I11).
    NameCollision {
        detail: String,
    },
    /// The repository has no blob with that digest.
    BlobUnknown,
    /// A manifest of the repository references the blob (I3), or the blob is a listed manifest.
    InUse {
        manifest: DigestBuf,
    },
    Io(IoFailure),
}

/// Manifests: put, get, delete, tags, referrers.
#[derive(Debug)]
#[non_exhaustive]
pub enum ManifestStoreError {
    RepositoryUnknown,
    /// Not a valid manifest of the type it claims (from `proto`).
    Invalid(ManifestError),
    /// Pushed by digest, and the body hashes to another digest.
    DigestMismatch {
        expected: DigestBuf,
        computed: DigestBuf,
    },
    /// A config or layer the manifest references is not in the repository (I3).
    BlobUnknown(DigestBuf),
    /// A manifest an index lists is not in the repository (I3).
    ChildManifestUnknown(DigestBuf),
    /// No manifest with that tag or digest.
    ManifestUnknown,
    /// Deleting it would leave an index in the repository listing a missing manifest (I3).
    Referenced {
        by: DigestBuf,
    },
    Io(IoFailure),
}

impl OpenError {
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::Unknown
    }
}

impl RepositoryError {
    pub fn error_code(&self) -> ErrorCode {
        match self {
            RepositoryError::NameCollision { .. } => ErrorCode::NameInvalid,
            RepositoryError::Io(_) => ErrorCode::Unknown,
        }
    }
}

impl UploadError {
    pub fn error_code(&self) -> ErrorCode {
        match self {
            UploadError::RepositoryUnknown => ErrorCode::NameUnknown,
            UploadError::SessionUnknown => ErrorCode::BlobUploadUnknown,
            UploadError::OffsetMismatch { .. } => ErrorCode::RangeInvalid,
            UploadError::DigestMismatch { .. } => ErrorCode::DigestInvalid,
            UploadError::SessionBusy | UploadError::StateDamaged { .. } => {
                ErrorCode::BlobUploadInvalid
            }
            UploadError::Io(_) => ErrorCode::Unknown,
        }
    }
}

impl BlobError {
    pub fn error_code(&self) -> ErrorCode {
        match self {
            BlobError::RepositoryUnknown => ErrorCode::NameUnknown,
            BlobError::NameCollision { .. } => ErrorCode::NameInvalid,
            BlobError::BlobUnknown => ErrorCode::BlobUnknown,
            BlobError::InUse { .. } => ErrorCode::Denied,
            BlobError::Io(_) => ErrorCode::Unknown,
        }
    }
}

impl ManifestStoreError {
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ManifestStoreError::RepositoryUnknown => ErrorCode::NameUnknown,
            ManifestStoreError::Invalid(error) => error.error_code(),
            ManifestStoreError::DigestMismatch { .. } => ErrorCode::DigestInvalid,
            ManifestStoreError::BlobUnknown(_) => ErrorCode::ManifestBlobUnknown,
            // The spec's table: "manifest references a manifest or blob unknown to registry".
            // Not MANIFEST_UNKNOWN, whose 404 would say the index itself is missing.
            ManifestStoreError::ChildManifestUnknown(_) => ErrorCode::ManifestBlobUnknown,
            ManifestStoreError::ManifestUnknown => ErrorCode::ManifestUnknown,
            ManifestStoreError::Referenced { .. } => ErrorCode::ManifestReferenced,
            ManifestStoreError::Io(_) => ErrorCode::Unknown,
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Root(failure) => write!(formatter, "storage root: {failure}"),
            OpenError::RootBusy { path } => write!(
                formatter,
                "storage root: another process serves it already (it holds the lock {})",
                path.display()
            ),
            OpenError::IndexDamaged { repository, detail } => {
                write!(formatter, "repository {repository}: index.json: {detail}")
            }
            OpenError::Io(failure) => failure.fmt(formatter),
        }
    }
}

impl fmt::Display for RepositoryError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepositoryError::NameCollision { detail } => {
                write!(formatter, "repository name collides on disk: {detail}")
            }
            RepositoryError::Io(failure) => failure.fmt(formatter),
        }
    }
}

impl fmt::Display for UploadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadError::RepositoryUnknown => formatter.write_str("repository unknown"),
            UploadError::SessionUnknown => formatter.write_str("upload session unknown"),
            UploadError::OffsetMismatch { expected, received } => write!(
                formatter,
                "chunk starts at {received}, the upload has {expected} bytes"
            ),
            UploadError::DigestMismatch { expected, computed } => write!(
                formatter,
                "upload digest is {computed}, not the {expected} given"
            ),
            UploadError::SessionBusy => {
                formatter.write_str("another request is continuing this upload session")
            }
            UploadError::StateDamaged { detail } => {
                write!(formatter, "upload session is damaged: {detail}")
            }
            UploadError::Io(failure) => failure.fmt(formatter),
        }
    }
}

impl fmt::Display for BlobError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobError::RepositoryUnknown => formatter.write_str("repository unknown"),
            BlobError::NameCollision { detail } => {
                write!(formatter, "repository name collides on disk: {detail}")
            }
            BlobError::BlobUnknown => formatter.write_str("blob unknown to repository"),
            BlobError::InUse { manifest } => {
                write!(formatter, "blob is referenced by manifest {manifest}")
            }
            BlobError::Io(failure) => failure.fmt(formatter),
        }
    }
}

impl fmt::Display for ManifestStoreError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestStoreError::RepositoryUnknown => formatter.write_str("repository unknown"),
            ManifestStoreError::Invalid(error) => write!(formatter, "manifest invalid: {error}"),
            ManifestStoreError::DigestMismatch { expected, computed } => write!(
                formatter,
                "manifest digest is {computed}, not the {expected} given"
            ),
            ManifestStoreError::BlobUnknown(digest) => {
                write!(formatter, "manifest references unknown blob {digest}")
            }
            ManifestStoreError::ChildManifestUnknown(digest) => {
                write!(formatter, "index references unknown manifest {digest}")
            }
            ManifestStoreError::ManifestUnknown => formatter.write_str("manifest unknown"),
            ManifestStoreError::Referenced { by } => {
                write!(formatter, "manifest is referenced by index {by}")
            }
            ManifestStoreError::Io(failure) => failure.fmt(formatter),
        }
    }
}

impl std::error::Error for OpenError {}
impl std::error::Error for RepositoryError {}
impl std::error::Error for UploadError {}
impl std::error::Error for BlobError {}
impl std::error::Error for ManifestStoreError {}
