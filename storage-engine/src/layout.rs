//! Where each file of a root lives (docs/design.md, section 2). Every path is built here, from a
//! validated repository name, a digest or a session identifier the engine made (invariant I9):
//! no other code joins client bytes onto a path.

use std::fmt;
use std::path::{Path, PathBuf};

use proto::limits::UPLOAD_SESSION_BYTES_MAX;
use proto::oci::{Algorithm, Digest, RepositoryName};

/// A repository's folder and the names inside it.
#[derive(Clone, Debug)]
pub struct RepositoryPaths {
    directory: PathBuf,
}

impl RepositoryPaths {
    pub fn new(root: &Path, name: RepositoryName<'_>) -> RepositoryPaths {
        let mut directory = root.to_path_buf();
        // Components are validated: never empty, `.`, `..`, or containing `/` or NUL.
        for component in name.components() {
            directory.push(component);
        }
        RepositoryPaths { directory }
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    pub fn oci_layout(&self) -> PathBuf {
        self.directory.join("oci-layout")
    }

    pub fn index(&self) -> PathBuf {
        self.directory.join("index.json")
    }

    pub fn blobs(&self) -> PathBuf {
        self.directory.join("blobs")
    }

    pub fn blob_folder(&self, algorithm: Algorithm) -> PathBuf {
        self.blobs().join(algorithm.name())
    }

    pub fn blob(&self, digest: Digest<'_>) -> PathBuf {
        self.blob_folder(digest.algorithm()).join(digest.encoded())
    }

    pub fn uploads(&self) -> PathBuf {
        self.directory.join(".uploads")
    }

    pub fn upload_data(&self, session: &SessionId) -> PathBuf {
        self.uploads().join(session.as_str())
    }

    pub fn upload_state(&self, session: &SessionId) -> PathBuf {
        self.uploads().join(format!("{}.state", session.as_str()))
    }
}

/// The dedupe store's folder for an algorithm: `<root>/_blobstore/blobs/<algorithm>`.
pub fn blobstore_folder(root: &Path, algorithm: Algorithm) -> PathBuf {
    root.join("_blobstore").join("blobs").join(algorithm.name())
}

/// The dedupe store's master copy of a digest.
pub fn blobstore_blob(root: &Path, digest: Digest<'_>) -> PathBuf {
    blobstore_folder(root, digest.algorithm()).join(digest.encoded())
}

/// Prefix of every temporary file; open deletes them all (docs/design.md, section 4).
pub const TEMPORARY_PREFIX: &str = ".tmp-";

/// A fresh temporary name in `folder`.
pub fn temporary_path(folder: &Path) -> PathBuf {
    folder.join(format!("{TEMPORARY_PREFIX}{}", random_hex()))
}

/// An upload session's identifier: 32 lowercase hexadecimal digits when this engine makes it,
/// or any 1 to `UPLOAD_SESSION_BYTES_MAX` hexadecimal digits and dashes, so that zot's UUIDs
/// still name their sessions. Either way it is safe as a file name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    /// A new random identifier (128 bits from the operating system's generator).
    pub fn generate() -> SessionId {
        SessionId(random_hex())
    }

    /// Validates an identifier from a request path or a file name.
    pub fn parse(text: &str) -> Option<SessionId> {
        let valid = !text.is_empty()
            && text.len() <= UPLOAD_SESSION_BYTES_MAX
            && !text.starts_with('-')
            && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        valid.then(|| SessionId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "SessionId({})", self.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// 128 random bits as 32 lowercase hexadecimal digits. Session identifiers are capabilities (a
/// client that guesses one could write into another's upload), so they come from the OS.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random generator works");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_names_are_nested_folders() {
        let name = RepositoryName::parse("library/alpine").unwrap();
        let paths = RepositoryPaths::new(Path::new("/srv/zot"), name);
        assert_eq!(paths.directory(), Path::new("/srv/zot/library/alpine"));
        let digest = Digest::parse(
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        )
        .unwrap();
        assert_eq!(
            paths.blob(digest),
            Path::new(
                "/srv/zot/library/alpine/blobs/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            )
        );
    }

    #[test]
    fn session_identifiers_are_safe_file_names() {
        let generated = SessionId::generate();
        assert_eq!(generated.as_str().len(), 32);
        assert_eq!(SessionId::parse(generated.as_str()), Some(generated));
        assert!(SessionId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").is_some());
        for bad in [
            "",
            "..",
            "a/b",
            "-a",
            "abc.state",
            "g",
            &"a".repeat(UPLOAD_SESSION_BYTES_MAX + 1),
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad:?}");
        }
    }
}
