//! An offline checker of a stopped root directory: it walks the root the way the engine does at
//! open (docs/design.md, 2.1) and reports every violation of the invariants of section 3 that
//! the bytes at rest can show. The crash-consistency tests run it after every injected crash,
//! and `zot scrub` will print its report.
//!
//! It is synchronous and uses `std::fs`: it is an offline verification tool, run on a root no
//! server is serving, never on a serving core, so blocking reads cost nothing that matters.
//!
//! Checked:
//! - I1, only with [`CheckOptions::hash_blobs`] for the hashing itself (it reads every byte of
//!   the root); file names that are not digests and unknown algorithm folders are always
//!   reported.
//! - I2, I3 (transitively: the blobs of an index's child manifests too; nondistributable layers
//!   are exempt, since they are never pushed), I4, I5.
//! - I6: the `.state` decodes and its offset is within the data file. That its hasher state is
//!   the hash of exactly that prefix is not checked: replaying it needs the engine's hasher
//!   serialization, which lands with the upload code.
//! - I10, I11.
//!
//! Not checked, because they are properties of the running process, not of the bytes at rest:
//! - I7 (acknowledged means durable): needs the order of `fsync` calls and answers. The crash
//!   tests check it by cutting power after each step and running this checker.
//! - I8 (one writer per `index.json`): a property of the sharding, visible only while running.
//! - I9 (file names come only from validated values): a property of the code that builds paths.
//!   Its effect on disk, a stray name, shows up as an I1 or I11 violation here.
//! - I12 (blobs never modified in place): a modified blob shows up as an I1 violation when blobs
//!   are hashed.
//!
//! Temporary files (`.tmp-…`, and `<encoded>.tmp-…` links of section 4.3) are allowed, because
//! open deletes them; they are counted in [`Report::temporary_files`].

use core::fmt;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use proto::limits::{MANIFEST_BYTES_MAX, REPOSITORY_NAME_COMPONENTS_MAX};
use proto::oci::manifest::parse_manifest;
use proto::oci::media_type::is_nondistributable_layer;
use proto::oci::{Algorithm, Digest, ParsedManifest, RepositoryName};
use serde_json::Value;

use crate::hasher::StreamHasher;
use crate::index::{IndexError, REF_NAME_ANNOTATION, RepositoryIndex};
use crate::layout::TEMPORARY_PREFIX;
use crate::upload_state::{SLOT_BYTES, SLOT_COUNT, UploadState};

/// Bytes read per call while hashing a blob: large enough that system calls do not dominate,
/// small enough to keep the checker's memory flat whatever the blob size.
const HASH_BUFFER_BYTES: usize = 256 * 1024;

/// Largest `.state` file read: its slots. Anything larger is not a state file.
const UPLOAD_STATE_FILE_BYTES_MAX: u64 = (SLOT_COUNT * SLOT_BYTES) as u64;

/// What a temporary file's name contains: the engine's `.tmp-<random>` (design 4). Matched
/// anywhere in a name under `blobs/`, since no digest contains a dot.
const TEMPORARY_MARKER: &str = TEMPORARY_PREFIX;

/// The invariants of docs/design.md, section 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Invariant {
    I1,
    I2,
    I3,
    I4,
    I5,
    I6,
    I7,
    I8,
    I9,
    I10,
    I11,
    I12,
}

impl Invariant {
    /// Every invariant, in order.
    pub const ALL: [Invariant; 12] = [
        Invariant::I1,
        Invariant::I2,
        Invariant::I3,
        Invariant::I4,
        Invariant::I5,
        Invariant::I6,
        Invariant::I7,
        Invariant::I8,
        Invariant::I9,
        Invariant::I10,
        Invariant::I11,
        Invariant::I12,
    ];

    /// The invariant's number in docs/design.md.
    pub const fn number(self) -> u8 {
        match self {
            Invariant::I1 => 1,
            Invariant::I2 => 2,
            Invariant::I3 => 3,
            Invariant::I4 => 4,
            Invariant::I5 => 5,
            Invariant::I6 => 6,
            Invariant::I7 => 7,
            Invariant::I8 => 8,
            Invariant::I9 => 9,
            Invariant::I10 => 10,
            Invariant::I11 => 11,
            Invariant::I12 => 12,
        }
    }

    /// The invariant's title in docs/design.md.
    pub const fn description(self) -> &'static str {
        match self {
            Invariant::I1 => "content matches its name",
            Invariant::I2 => "every tag and manifest in index.json is present",
            Invariant::I3 => "a manifest's references are present",
            Invariant::I4 => "index.json is always whole",
            Invariant::I5 => "tags are unique",
            Invariant::I6 => "upload state describes a prefix",
            Invariant::I7 => "acknowledged means durable",
            Invariant::I8 => "one writer per index.json",
            Invariant::I9 => "file names come only from validated values",
            Invariant::I10 => "every repository is a layout",
            Invariant::I11 => "repositories don't nest inside storage folders",
            Invariant::I12 => "blob files are never modified in place",
        }
    }

    /// True for the invariants this checker can see on a stopped root (see the module docs).
    pub const fn is_checked_offline(self) -> bool {
        !matches!(
            self,
            Invariant::I7 | Invariant::I8 | Invariant::I9 | Invariant::I12
        )
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "I{}", self.number())
    }
}

/// What to check beyond the cheap structural checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Hash every blob (I1). Reads every byte of the root; files hard-linked under several
    /// names are read once.
    pub hash_blobs: bool,
}

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    /// The file or folder at fault, relative to the root.
    pub path: PathBuf,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} {}: {}",
            self.invariant,
            self.path.display(),
            self.detail
        )
    }
}

/// A file or folder the checker could not read, so whatever it holds was not verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    /// Relative to the root, or the root itself when the root cannot be read.
    pub path: PathBuf,
    pub detail: String,
}

/// What [`check_root`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Every repository found, sorted.
    pub repositories: Vec<String>,
    /// Every violation, in the order the walk met them (repositories sorted, files sorted).
    pub violations: Vec<Violation>,
    /// What could not be read, and so was not checked.
    pub read_errors: Vec<ReadError>,
    /// Temporary files seen. Allowed: open deletes them.
    pub temporary_files: usize,
    /// Distinct files hashed (hard links to one file count once). Zero without `hash_blobs`.
    pub blobs_hashed: usize,
}

impl Report {
    /// True when nothing is broken and everything could be read.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty() && self.read_errors.is_empty()
    }

    /// The violations of one invariant.
    pub fn violations_of(&self, invariant: Invariant) -> impl Iterator<Item = &Violation> {
        self.violations
            .iter()
            .filter(move |violation| violation.invariant == invariant)
    }
}

/// One line per violation, then one per read error (`error <path>: <detail>`). A clean report
/// prints nothing.
impl fmt::Display for Report {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for violation in &self.violations {
            writeln!(formatter, "{violation}")?;
        }
        for error in &self.read_errors {
            writeln!(
                formatter,
                "error {}: {}",
                error.path.display(),
                error.detail
            )?;
        }
        Ok(())
    }
}

/// Checks the stopped root directory `root` (see the module docs for what is checked).
pub fn check_root(root: &Path, options: &CheckOptions) -> Report {
    let mut checker = Checker {
        root,
        options,
        report: Report::default(),
        hashed_files: HashMap::new(),
        buffer: Vec::new(),
    };
    match fs::metadata(root) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => {
            checker.report.read_errors.push(ReadError {
                path: root.to_path_buf(),
                detail: "the root is not a folder".to_owned(),
            });
            return checker.report;
        }
        Err(error) => {
            checker.report.read_errors.push(ReadError {
                path: root.to_path_buf(),
                detail: error.to_string(),
            });
            return checker.report;
        }
    }
    let mut repositories = Vec::new();
    checker.discover(root, None, false, 1, &mut repositories);
    repositories.sort();
    let blobstore = root.join("_blobstore").join("blobs");
    if blobstore.is_dir() {
        checker.check_blobs_folder(&blobstore);
    }
    for name in &repositories {
        checker.check_repository(name);
    }
    checker.report.repositories = repositories;
    checker.report
}

/// A blob file's identity on disk, so that hard links are hashed once.
type FileIdentity = (u64, u64);

struct Checker<'a> {
    root: &'a Path,
    options: &'a CheckOptions,
    report: Report,
    /// Files already hashed, with the hexadecimal digest they hashed to, per algorithm.
    hashed_files: HashMap<(FileIdentity, Algorithm), String>,
    /// The one read buffer, allocated on first use.
    buffer: Vec<u8>,
}

impl Checker<'_> {
    fn relative(&self, path: &Path) -> PathBuf {
        path.strip_prefix(self.root).unwrap_or(path).to_path_buf()
    }

    fn violation(&mut self, invariant: Invariant, path: &Path, detail: String) {
        let path = self.relative(path);
        self.report.violations.push(Violation {
            invariant,
            path,
            detail,
        });
    }

    fn read_error(&mut self, path: &Path, error: &io::Error) {
        let path = self.relative(path);
        self.report.read_errors.push(ReadError {
            path,
            detail: error.to_string(),
        });
    }

    /// The entries of `folder` sorted by name, with names that are not UTF-8 left out (no
    /// repository name, digest or session identifier is). `None` after reporting a read error.
    fn sorted_entries(&mut self, folder: &Path) -> Option<Vec<(String, fs::FileType)>> {
        let reader = match fs::read_dir(folder) {
            Ok(reader) => reader,
            Err(error) => {
                self.read_error(folder, &error);
                return None;
            }
        };
        let mut entries = Vec::new();
        for entry in reader {
            let entry = match entry.and_then(|entry| Ok((entry.file_name(), entry.file_type()?))) {
                Ok(entry) => entry,
                Err(error) => {
                    self.read_error(folder, &error);
                    continue;
                }
            };
            if let (Some(name), file_type) = (entry.0.to_str(), entry.1) {
                entries.push((name.to_owned(), file_type));
            }
        }
        entries.sort_by(|left, right| left.0.cmp(&right.0));
        Some(entries)
    }

    /// Design 2.1: finds the repositories under `folder`, whose entries have names with
    /// `components` components. `folder_is_repository` keeps the walk out of its `blobs/`.
    fn discover(
        &mut self,
        folder: &Path,
        name: Option<&str>,
        folder_is_repository: bool,
        components: usize,
        repositories: &mut Vec<String>,
    ) {
        assert!(components <= REPOSITORY_NAME_COMPONENTS_MAX);
        let Some(entries) = self.sorted_entries(folder) else {
            return;
        };
        for (entry, file_type) in entries {
            // `_blobstore`, `_trivy`, markers, `.uploads`, `.sync`, temporary files: never a
            // name component. Files (`cache.db`, `index.json`) and symbolic links are skipped.
            if entry.starts_with('_') || entry.starts_with('.') || !file_type.is_dir() {
                continue;
            }
            if folder_is_repository && entry == "blobs" {
                continue;
            }
            let child_name = match name {
                Some(name) => format!("{name}/{entry}"),
                None => entry.clone(),
            };
            let path = folder.join(&entry);
            let valid = RepositoryName::parse(&child_name).is_ok();
            let is_repository = valid && path.join("oci-layout").symlink_metadata().is_ok();
            if is_repository {
                repositories.push(child_name.clone());
            } else if valid && path.join("index.json").symlink_metadata().is_ok() {
                self.violation(
                    Invariant::I10,
                    &path,
                    "has index.json but no oci-layout, so it is not served".to_owned(),
                );
            }
            if components < REPOSITORY_NAME_COMPONENTS_MAX {
                self.discover(
                    &path,
                    Some(&child_name),
                    is_repository,
                    components + 1,
                    repositories,
                );
            }
        }
    }

    fn check_repository(&mut self, name: &str) {
        let folder = self.root.join(name);
        self.check_layout_file(&folder.join("oci-layout"));
        if let Some(entries) = self.sorted_entries(&folder) {
            let temporary = entries
                .iter()
                .filter(|(entry, file_type)| {
                    !file_type.is_dir() && entry.starts_with(TEMPORARY_MARKER)
                })
                .count();
            self.report.temporary_files += temporary;
        }
        let blobs = folder.join("blobs");
        if blobs.is_dir() {
            self.check_blobs_folder(&blobs);
        }
        if let Some(index) = self.read_index(&folder.join("index.json")) {
            self.check_index_references(&folder, &index);
        }
        let uploads = folder.join(".uploads");
        if uploads.is_dir() {
            self.check_uploads(&uploads);
        }
    }

    /// I10: `oci-layout` is a JSON object with `imageLayoutVersion` "1.0.0".
    fn check_layout_file(&mut self, path: &Path) {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) => {
                self.violation(
                    Invariant::I10,
                    path,
                    format!("oci-layout cannot be read: {error}"),
                );
                return;
            }
        };
        let version = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|value| Some(value.get("imageLayoutVersion")?.as_str()?.to_owned()));
        match version.as_deref() {
            Some("1.0.0") => {}
            Some(other) => {
                self.violation(
                    Invariant::I10,
                    path,
                    format!("imageLayoutVersion is {other:?}, not \"1.0.0\""),
                );
            }
            None => {
                self.violation(
                    Invariant::I10,
                    path,
                    "not a JSON object with an imageLayoutVersion string".to_owned(),
                );
            }
        }
    }

    /// I1 and I11 for a `blobs/` folder (a repository's or `_blobstore`'s).
    fn check_blobs_folder(&mut self, blobs: &Path) {
        let Some(entries) = self.sorted_entries(blobs) else {
            return;
        };
        for (entry, file_type) in entries {
            let path = blobs.join(&entry);
            if !file_type.is_dir() {
                if entry.starts_with(TEMPORARY_MARKER) {
                    self.report.temporary_files += 1;
                } else {
                    self.violation(
                        Invariant::I1,
                        &path,
                        "a file outside any algorithm folder of blobs/".to_owned(),
                    );
                }
                continue;
            }
            if let Some(algorithm) = Algorithm::from_name(&entry) {
                self.check_algorithm_folder(&path, algorithm);
            } else if self.holds_layout(&path, REPOSITORY_NAME_COMPONENTS_MAX) {
                self.violation(
                    Invariant::I11,
                    &path,
                    "a repository folder inside blobs/".to_owned(),
                );
            } else {
                self.violation(
                    Invariant::I1,
                    &path,
                    format!("{entry:?} is not a digest algorithm this registry computes"),
                );
            }
        }
    }

    fn check_algorithm_folder(&mut self, folder: &Path, algorithm: Algorithm) {
        let Some(entries) = self.sorted_entries(folder) else {
            return;
        };
        for (entry, file_type) in entries {
            let path = folder.join(&entry);
            if entry.contains(TEMPORARY_MARKER) {
                self.report.temporary_files += 1;
                continue;
            }
            if file_type.is_dir() {
                if self.holds_layout(&path, REPOSITORY_NAME_COMPONENTS_MAX) {
                    self.violation(
                        Invariant::I11,
                        &path,
                        "a repository folder inside blobs/".to_owned(),
                    );
                } else {
                    self.violation(
                        Invariant::I1,
                        &path,
                        "a folder where a blob file belongs".to_owned(),
                    );
                }
                continue;
            }
            if !file_type.is_file() {
                self.violation(
                    Invariant::I1,
                    &path,
                    "not a regular file (a symbolic link?)".to_owned(),
                );
                continue;
            }
            let digest_text = format!("{}:{entry}", algorithm.name());
            if Digest::parse(&digest_text).is_err() {
                self.violation(
                    Invariant::I1,
                    &path,
                    format!("the file name is not a {algorithm} digest"),
                );
                continue;
            }
            if self.options.hash_blobs {
                match self.hash_file(&path, algorithm) {
                    Ok(actual) if actual == entry => {}
                    Ok(actual) => {
                        self.violation(
                            Invariant::I1,
                            &path,
                            format!("the content hashes to {algorithm}:{actual}"),
                        );
                    }
                    Err(error) => self.read_error(&path, &error),
                }
            }
        }
    }

    /// True when `folder` or a folder below it, down to `depth_left` levels, holds an
    /// `oci-layout`: a repository someone created there.
    fn holds_layout(&mut self, folder: &Path, depth_left: usize) -> bool {
        if folder.join("oci-layout").symlink_metadata().is_ok() {
            return true;
        }
        if depth_left == 0 {
            return false;
        }
        let Some(entries) = self.sorted_entries(folder) else {
            return false;
        };
        entries.into_iter().any(|(entry, file_type)| {
            file_type.is_dir() && self.holds_layout(&folder.join(entry), depth_left - 1)
        })
    }

    /// The lowercase hexadecimal digest of the file, read once per file even when linked under
    /// several names.
    fn hash_file(&mut self, path: &Path, algorithm: Algorithm) -> io::Result<String> {
        let mut file = File::open(path)?;
        let metadata = file.metadata()?;
        let identity = file_identity(&metadata);
        if let Some(identity) = identity
            && let Some(known) = self.hashed_files.get(&(identity, algorithm))
        {
            return Ok(known.clone());
        }
        if self.buffer.is_empty() {
            self.buffer = vec![0; HASH_BUFFER_BYTES];
        }
        let length = metadata.len();
        let hex = hash_stream(algorithm, &mut file, length, &mut self.buffer)?;
        self.report.blobs_hashed += 1;
        if let Some(identity) = identity {
            self.hashed_files.insert((identity, algorithm), hex.clone());
        }
        Ok(hex)
    }

    /// I4 and I5: the parsed `index.json`, or `None` when there is nothing more to check. An
    /// absent `index.json` is an empty index (design 4.1, step 2). With duplicate tags, the
    /// index is checked further with the repeats' tags dropped.
    fn read_index(&mut self, path: &Path) -> Option<RepositoryIndex> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Some(RepositoryIndex::empty());
            }
            Err(error) => {
                self.read_error(path, &error);
                return None;
            }
        };
        match RepositoryIndex::parse(&bytes) {
            Ok(index) => Some(index),
            Err(IndexError::DuplicateTag(_)) => {
                let mut document: Value =
                    serde_json::from_slice(&bytes).expect("RepositoryIndex::parse read it as JSON");
                for (tag, first, repeat) in drop_repeated_tags(&mut document) {
                    self.violation(
                        Invariant::I5,
                        path,
                        format!("tag {tag:?} is on manifests[{first}] and manifests[{repeat}]"),
                    );
                }
                let without_repeats = serde_json::to_vec(&document).expect("a JSON value");
                match RepositoryIndex::parse(&without_repeats) {
                    Ok(index) => Some(index),
                    Err(error) => {
                        self.violation(Invariant::I4, path, error.to_string());
                        None
                    }
                }
            }
            Err(error) => {
                self.violation(Invariant::I4, path, error.to_string());
                None
            }
        }
    }

    /// I2 for every descriptor, then I3 for every manifest they name.
    fn check_index_references(&mut self, folder: &Path, index: &RepositoryIndex) {
        let index_path = folder.join("index.json");
        let mut to_check: Vec<(String, ParsedManifest)> = Vec::new();
        let mut queued: HashSet<String> = HashSet::new();
        let listed: HashSet<&str> = index.entries().iter().map(|entry| entry.digest()).collect();
        for (position, entry) in index.entries().iter().enumerate() {
            let label = match entry.tag() {
                Some(tag) => format!("tag {tag:?}"),
                None => format!("manifests[{position}]"),
            };
            let digest = entry.digest();
            let found = self.read_manifest(folder, digest, entry.size(), entry.media_type());
            match found {
                ManifestRead::Parsed(parsed) => {
                    if queued.insert(digest.to_owned()) {
                        to_check.push((digest.to_owned(), parsed));
                    }
                }
                ManifestRead::Problem(problem) => {
                    self.violation(Invariant::I2, &index_path, format!("{label} {problem}"));
                }
                ManifestRead::Unreadable => {}
            }
        }
        // Each digest is queued at most once, so this ends after as many rounds as there are
        // distinct manifests.
        while let Some((digest, parsed)) = to_check.pop() {
            self.check_manifest_references(
                folder,
                &digest,
                &parsed,
                &listed,
                &mut to_check,
                &mut queued,
            );
        }
    }

    /// I3 for one manifest: its blobs are present, and its child manifests are present. A child
    /// that `index.json` lists (in `listed`) is checked through its own descriptor (I2), with the
    /// media type and size it was stored with: the index's descriptor of it need not repeat
    /// them, since a registry only requires a child to be present (zot and distribution check
    /// nothing more, and neither does put_manifest). A child only the index names (layouts other
    /// tools wrote) is served as the index's descriptor says, so it must parse as that and have
    /// that size. Either way it is queued for the same check.
    fn check_manifest_references(
        &mut self,
        folder: &Path,
        digest: &str,
        parsed: &ParsedManifest,
        listed: &HashSet<&str>,
        to_check: &mut Vec<(String, ParsedManifest)>,
        queued: &mut HashSet<String>,
    ) {
        let manifest_path = blob_path(folder, digest);
        let blobs = parsed
            .config()
            .into_iter()
            .chain(parsed.layers())
            .filter(|descriptor| !is_nondistributable_layer(&descriptor.media_type));
        for descriptor in blobs {
            match blob_size(&blob_path(folder, &descriptor.digest)) {
                Ok(Some(_)) => {}
                Ok(None) => self.violation(
                    Invariant::I3,
                    &manifest_path,
                    format!(
                        "references blob {} which is not under blobs/",
                        descriptor.digest
                    ),
                ),
                Err(error) => self.read_error(&blob_path(folder, &descriptor.digest), &error),
            }
        }
        for child in parsed.manifests() {
            if listed.contains(child.digest.as_str()) {
                continue;
            }
            let read = self.read_manifest(folder, &child.digest, child.size, &child.media_type);
            match read {
                ManifestRead::Parsed(child_parsed) => {
                    if queued.insert(child.digest.clone()) {
                        to_check.push((child.digest.clone(), child_parsed));
                    }
                }
                ManifestRead::Problem(problem) => self.violation(
                    Invariant::I3,
                    &manifest_path,
                    format!("lists a manifest that {problem}"),
                ),
                ManifestRead::Unreadable => {}
            }
        }
    }

    /// Reads the manifest `digest` of the repository in `folder` and parses it as `media_type`.
    fn read_manifest(
        &mut self,
        folder: &Path,
        digest: &str,
        size: u64,
        media_type: &str,
    ) -> ManifestRead {
        let path = blob_path(folder, digest);
        let actual_size = match blob_size(&path) {
            Ok(Some(actual_size)) => actual_size,
            Ok(None) => {
                return ManifestRead::Problem(format!("names {digest} which is not under blobs/"));
            }
            Err(error) => {
                self.read_error(&path, &error);
                return ManifestRead::Unreadable;
            }
        };
        if actual_size != size {
            return ManifestRead::Problem(format!(
                "says {digest} is {size} bytes but blobs/ holds {actual_size}"
            ));
        }
        if actual_size > MANIFEST_BYTES_MAX as u64 {
            return ManifestRead::Problem(format!(
                "names {digest}, {actual_size} bytes: too large for a manifest"
            ));
        }
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => {
                self.read_error(&path, &error);
                return ManifestRead::Unreadable;
            }
        };
        match parse_manifest(Some(media_type), &bytes) {
            Ok(parsed) => ManifestRead::Parsed(parsed),
            Err(error) => ManifestRead::Problem(format!(
                "names {digest} which does not parse as {media_type}: {error}"
            )),
        }
    }

    /// I6 (and I11 for folders) in a repository's `.uploads/`.
    fn check_uploads(&mut self, uploads: &Path) {
        let Some(entries) = self.sorted_entries(uploads) else {
            return;
        };
        for (entry, file_type) in &entries {
            let path = uploads.join(entry);
            if entry.starts_with(TEMPORARY_MARKER) {
                self.report.temporary_files += 1;
                continue;
            }
            if file_type.is_dir() {
                if self.holds_layout(&path, REPOSITORY_NAME_COMPONENTS_MAX) {
                    self.violation(
                        Invariant::I11,
                        &path,
                        "a repository folder inside .uploads/".to_owned(),
                    );
                }
                continue;
            }
            let Some(session) = entry.strip_suffix(".state") else {
                // An upload's data: zot's and this engine's sessions, zot's staged index.json.
                continue;
            };
            let data_length = match fs::metadata(uploads.join(session)) {
                Ok(metadata) => metadata.len(),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    self.violation(
                        Invariant::I6,
                        &path,
                        format!("orphaned: the data file {session} does not exist"),
                    );
                    continue;
                }
                Err(error) => {
                    self.read_error(&uploads.join(session), &error);
                    continue;
                }
            };
            let bytes = match read_bounded(&path, UPLOAD_STATE_FILE_BYTES_MAX) {
                Ok(Some(bytes)) => bytes,
                Ok(None) => {
                    self.violation(
                        Invariant::I6,
                        &path,
                        format!("longer than {UPLOAD_STATE_FILE_BYTES_MAX} bytes: not a state"),
                    );
                    continue;
                }
                Err(error) => {
                    self.read_error(&path, &error);
                    continue;
                }
            };
            match read_upload_state(&bytes) {
                None => self.violation(
                    Invariant::I6,
                    &path,
                    "no valid upload state record".to_owned(),
                ),
                Some(state) if state.offset > data_length => self.violation(
                    Invariant::I6,
                    &path,
                    format!(
                        "offset {} is past the end of {session} ({data_length} bytes)",
                        state.offset
                    ),
                ),
                Some(_) => {}
            }
        }
    }
}

/// What reading a manifest named by a descriptor gave.
enum ManifestRead {
    Parsed(ParsedManifest),
    /// What is wrong, worded to follow the descriptor's label.
    Problem(String),
    /// Not readable; a read error was recorded.
    Unreadable,
}

/// `<repository>/blobs/<algorithm>/<encoded>` for a validated digest.
fn blob_path(folder: &Path, digest: &str) -> PathBuf {
    let parsed = Digest::parse(digest).expect("digests from parsed documents are validated");
    folder
        .join("blobs")
        .join(parsed.algorithm().name())
        .join(parsed.encoded())
}

/// The size of the blob file at `path`, `None` when there is none.
fn blob_size(path: &Path) -> io::Result<Option<u64>> {
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => Ok(Some(metadata.len())),
        Ok(_) => Ok(None),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The whole file when it is at most `bytes_max` long, `None` when it is longer.
fn read_bounded(path: &Path, bytes_max: u64) -> io::Result<Option<Vec<u8>>> {
    let file = File::open(path)?;
    let mut bytes = Vec::new();
    file.take(bytes_max + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= bytes_max).then_some(bytes))
}

/// Hashes exactly `length` bytes of `file` with `buffer`-sized reads; the hexadecimal digest.
fn hash_stream(
    algorithm: Algorithm,
    file: &mut File,
    length: u64,
    buffer: &mut [u8],
) -> io::Result<String> {
    assert!(!buffer.is_empty());
    let mut hasher = StreamHasher::new(algorithm);
    let mut remaining = length;
    // Each round reads at least one byte or returns, so at most `length` rounds.
    while remaining > 0 {
        let want = usize::try_from(remaining).map_or(buffer.len(), |left| left.min(buffer.len()));
        let read = file.read(&mut buffer[..want])?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was hashed",
            ));
        }
        hasher.update(&buffer[..read]);
        remaining -= read as u64;
    }
    Ok(hasher.finish().as_digest().encoded().to_owned())
}

#[cfg(unix)]
fn file_identity(metadata: &fs::Metadata) -> Option<FileIdentity> {
    use std::os::unix::fs::MetadataExt;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn file_identity(_metadata: &fs::Metadata) -> Option<FileIdentity> {
    None
}

/// Removes the ref-name annotation from every descriptor that repeats an earlier descriptor's
/// tag; returns each repeat as (tag, first position, repeat position).
fn drop_repeated_tags(document: &mut Value) -> Vec<(String, usize, usize)> {
    let mut first_positions: HashMap<String, usize> = HashMap::new();
    let mut repeats = Vec::new();
    let Some(manifests) = document.get_mut("manifests").and_then(Value::as_array_mut) else {
        return repeats;
    };
    for (position, descriptor) in manifests.iter_mut().enumerate() {
        let Some(annotations) = descriptor
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let Some(tag) = annotations.get(REF_NAME_ANNOTATION).and_then(Value::as_str) else {
            continue;
        };
        let tag = tag.to_owned();
        match first_positions.get(&tag) {
            Some(&first) => {
                annotations.remove(REF_NAME_ANNOTATION);
                repeats.push((tag, first, position));
            }
            None => {
                first_positions.insert(tag, position);
            }
        }
    }
    repeats
}

/// Reads a `.state` file: the newest valid record of its slots, or of a bare record.
fn read_upload_state(bytes: &[u8]) -> Option<UploadState> {
    UploadState::decode_newest(bytes)
        .ok()
        .map(|(state, _)| state)
}

#[cfg(test)]
mod tests;
