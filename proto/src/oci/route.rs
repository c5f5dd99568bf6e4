//! The route table of the distribution API: an already percent-decoded request path to the
//! endpoint it names, borrowing from the path, without regular expressions.
//!
//! A repository name may itself hold components called `blobs`, `manifests`, `tags`, `uploads`,
//! `referrers` or `list`, so the router reads a path from its END: the last two or three segments
//! pick the shape, and everything between `/v2/` and that suffix is the name. The rule, applied to
//! every ambiguous path the tests list, is:
//!
//! 1. A path matches the pattern `/v2/{name}/<suffix>` only when the `/` before the suffix is not
//!    the one after `v2`. `/v2/tags/list` therefore matches nothing (NotFound), while
//!    `/v2//tags/list` matches with the empty name and fails as an invalid name.
//! 2. The shape is chosen by the literal segments of the suffix alone; its variable parts (name,
//!    reference, digest, session) are then validated, empty ones included, so the error names
//!    the part that is wrong: `/v2/a/manifests/` is an invalid reference, not NotFound.
//! 3. An empty segment where a literal is expected means no shape: `/v2/a/tags/list/` and
//!    `/v2/a/manifests/latest/` are NotFound. The one exception is the spec's own
//!    `/v2/<name>/blobs/uploads/`, whose trailing slash is part of the shape.
//! 4. Where two patterns match, the more literal one wins: `/v2/a/blobs/uploads` is UploadStart,
//!    not a blob whose digest is `uploads` (which could never be valid anyway).
//!
//! The router takes at most three segments off the end, whatever the path holds, and the name is
//! checked against [`REPOSITORY_NAME_BYTES_MAX`] before it is scanned, so the work is linear in
//! the path and the component scan never exceeds `REPOSITORY_NAME_COMPONENTS_MAX`.
//!
//! [`REPOSITORY_NAME_BYTES_MAX`]: crate::limits::REPOSITORY_NAME_BYTES_MAX

use core::fmt;

use crate::limits::UPLOAD_SESSION_BYTES_MAX;
use crate::oci::digest::{Digest, DigestError};
use crate::oci::name::{NameError, RepositoryName};
use crate::oci::reference::{Reference, ReferenceError};

/// The API root without its trailing slash, which clients may leave out.
const API_ROOT: &str = "/v2";
/// Where every other route starts.
const API_PREFIX: &str = "/v2/";
/// Where zot's own extensions live; whatever follows is theirs to route.
const EXTENSION_PREFIX: &str = "_zot/ext/";

/// Why a path names no endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// Not under `/v2`, or no route shape matches. Answered with 404 and no OCI error code.
    NotFound,
    /// A route shape matches but its repository name is invalid. Answered with NAME_INVALID.
    Name(NameError),
    /// A manifest route whose reference is neither a tag nor a digest.
    Reference(ReferenceError),
    /// A blob or referrers route whose digest is invalid. Answered with DIGEST_INVALID (or
    /// UNSUPPORTED for a well-formed unknown algorithm).
    Digest(DigestError),
    /// An upload route whose session identifier is not one this server could have made
    /// (`[A-Za-z0-9_-]`, at most [`UPLOAD_SESSION_BYTES_MAX`] bytes). Answered with
    /// BLOB_UPLOAD_UNKNOWN.
    Session,
}

impl fmt::Display for RouteError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NotFound => formatter.write_str("no route matches the path"),
            RouteError::Name(error) => fmt::Display::fmt(error, formatter),
            RouteError::Reference(error) => fmt::Display::fmt(error, formatter),
            RouteError::Digest(error) => fmt::Display::fmt(error, formatter),
            RouteError::Session => formatter.write_str("upload session identifier is invalid"),
        }
    }
}

impl std::error::Error for RouteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RouteError::Name(error) => Some(error),
            RouteError::Reference(error) => Some(error),
            RouteError::Digest(error) => Some(error),
            RouteError::NotFound | RouteError::Session => None,
        }
    }
}

/// An endpoint of the distribution API (and the extension points zot adds), with the parts of
/// the path it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route<'a> {
    /// `/v2/` or `/v2`: the API version check.
    ApiVersion,
    /// `/v2/_catalog`.
    Catalog,
    /// `/v2/_oci/ext/discover`: the extensions list.
    Discover,
    /// `/v2/_zot/ext/<anything>` with a non-empty `<anything>`; `path` is everything after
    /// `/v2/` (starting with `_zot/ext/`), unvalidated: each extension routes its own paths.
    Extension {
        /// The path after `/v2/`.
        path: &'a str,
    },
    /// `/v2/<name>/tags/list`.
    Tags {
        /// The repository.
        name: RepositoryName<'a>,
    },
    /// `/v2/<name>/manifests/<reference>`.
    Manifest {
        /// The repository.
        name: RepositoryName<'a>,
        /// The tag or digest.
        reference: Reference<'a>,
    },
    /// `/v2/<name>/blobs/<digest>`.
    Blob {
        /// The repository.
        name: RepositoryName<'a>,
        /// The blob's digest.
        digest: Digest<'a>,
    },
    /// `/v2/<name>/blobs/uploads/`, or the same without the trailing slash.
    UploadStart {
        /// The repository.
        name: RepositoryName<'a>,
    },
    /// `/v2/<name>/blobs/uploads/<session>`.
    Upload {
        /// The repository.
        name: RepositoryName<'a>,
        /// The session identifier, `[A-Za-z0-9_-]{1,UPLOAD_SESSION_BYTES_MAX}`: safe as a file
        /// name (no dots, no slashes).
        session: &'a str,
    },
    /// `/v2/<name>/referrers/<digest>`.
    Referrers {
        /// The repository.
        name: RepositoryName<'a>,
        /// The digest of the manifest whose referrers are listed.
        digest: Digest<'a>,
    },
}

impl<'a> Route<'a> {
    /// Routes an already percent-decoded path (without its query). See the module comment for
    /// how ambiguous paths are decided.
    pub fn parse(path: &'a str) -> Result<Route<'a>, RouteError> {
        if path == API_ROOT {
            return Ok(Route::ApiVersion);
        }
        let rest = path.strip_prefix(API_PREFIX).ok_or(RouteError::NotFound)?;
        if let Some(route) = parse_fixed(rest) {
            return Ok(route);
        }
        parse_repository_route(rest)
    }

    /// The repository the route is about, if any.
    pub fn name(&self) -> Option<RepositoryName<'a>> {
        match *self {
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::UploadStart { name }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. } => Some(name),
            Route::ApiVersion | Route::Catalog | Route::Discover | Route::Extension { .. } => None,
        }
    }
}

/// Writes the canonical path of the route (`/v2/` with its slash, UploadStart with its trailing
/// slash). For every route [`Route::parse`] returns, parsing this text gives the route back.
impl fmt::Display for Route<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::ApiVersion => formatter.write_str(API_PREFIX),
            Route::Catalog => write!(formatter, "{API_PREFIX}_catalog"),
            Route::Discover => write!(formatter, "{API_PREFIX}_oci/ext/discover"),
            Route::Extension { path } => write!(formatter, "{API_PREFIX}{path}"),
            Route::Tags { name } => write!(formatter, "{API_PREFIX}{name}/tags/list"),
            Route::Manifest { name, reference } => {
                write!(formatter, "{API_PREFIX}{name}/manifests/{reference}")
            }
            Route::Blob { name, digest } => write!(formatter, "{API_PREFIX}{name}/blobs/{digest}"),
            Route::UploadStart { name } => write!(formatter, "{API_PREFIX}{name}/blobs/uploads/"),
            Route::Upload { name, session } => {
                write!(formatter, "{API_PREFIX}{name}/blobs/uploads/{session}")
            }
            Route::Referrers { name, digest } => {
                write!(formatter, "{API_PREFIX}{name}/referrers/{digest}")
            }
        }
    }
}

/// The routes without a repository, all starting with `_` (or empty), which no valid name does:
/// checking them first can never hide a repository route.
fn parse_fixed(rest: &str) -> Option<Route<'_>> {
    match rest {
        "" => Some(Route::ApiVersion),
        "_catalog" => Some(Route::Catalog),
        "_oci/ext/discover" => Some(Route::Discover),
        _ if rest.len() > EXTENSION_PREFIX.len() && rest.starts_with(EXTENSION_PREFIX) => {
            Some(Route::Extension { path: rest })
        }
        _ => None,
    }
}

/// The routes of the form `{name}/<suffix>`, read from the end of `rest` (the path after
/// `/v2/`).
fn parse_repository_route(rest: &str) -> Result<Route<'_>, RouteError> {
    let (before_last, last) = split_last_segment(rest).ok_or(RouteError::NotFound)?;
    let (before_second, second) = split_last_segment(before_last).ok_or(RouteError::NotFound)?;
    match (second, last) {
        ("tags", "list") => Ok(Route::Tags {
            name: parse_name(before_second)?,
        }),
        ("manifests", reference) => {
            let name = parse_name(before_second)?;
            let reference = Reference::parse(reference).map_err(RouteError::Reference)?;
            Ok(Route::Manifest { name, reference })
        }
        ("blobs", "uploads") => Ok(Route::UploadStart {
            name: parse_name(before_second)?,
        }),
        ("blobs", digest) => {
            let name = parse_name(before_second)?;
            Ok(Route::Blob {
                name,
                digest: parse_digest(digest)?,
            })
        }
        ("referrers", digest) => {
            let name = parse_name(before_second)?;
            Ok(Route::Referrers {
                name,
                digest: parse_digest(digest)?,
            })
        }
        ("uploads", session) => parse_upload_route(before_second, session),
        _ => Err(RouteError::NotFound),
    }
}

/// `{name}/blobs/uploads/` and `{name}/blobs/uploads/{session}`, given what stands before
/// `/uploads/` and the segment after it.
fn parse_upload_route<'a>(
    before_uploads: &'a str,
    session: &'a str,
) -> Result<Route<'a>, RouteError> {
    let (before_blobs, blobs) = split_last_segment(before_uploads).ok_or(RouteError::NotFound)?;
    if blobs != "blobs" {
        return Err(RouteError::NotFound);
    }
    let name = parse_name(before_blobs)?;
    if session.is_empty() {
        return Ok(Route::UploadStart { name });
    }
    if !is_session(session) {
        return Err(RouteError::Session);
    }
    Ok(Route::Upload { name, session })
}

/// `(before, last)` around the last `/`, or `None` when `text` has no `/` (no segment stands
/// before the last one).
fn split_last_segment(text: &str) -> Option<(&str, &str)> {
    let slash = text.rfind('/')?;
    Some((&text[..slash], &text[slash + 1..]))
}

fn parse_name(text: &str) -> Result<RepositoryName<'_>, RouteError> {
    RepositoryName::parse(text).map_err(RouteError::Name)
}

fn parse_digest(text: &str) -> Result<Digest<'_>, RouteError> {
    Digest::parse(text).map_err(RouteError::Digest)
}

/// `[A-Za-z0-9_-]{1,UPLOAD_SESSION_BYTES_MAX}`: the identifiers the server makes, which later
/// become file names.
fn is_session(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= UPLOAD_SESSION_BYTES_MAX
        && bytes
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use proptest::prelude::*;

    use super::*;
    use crate::limits::{REPOSITORY_NAME_BYTES_MAX, REPOSITORY_NAME_COMPONENTS_MAX, TAG_BYTES_MAX};
    use crate::oci::tag::TagError;

    const SHA256_EMPTY: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn name(text: &'static str) -> RepositoryName<'static> {
        RepositoryName::parse(text).unwrap()
    }

    fn reference(text: &'static str) -> Reference<'static> {
        Reference::parse(text).unwrap()
    }

    fn digest() -> Digest<'static> {
        Digest::parse(SHA256_EMPTY).unwrap()
    }

    fn check(cases: &[(&str, Result<Route<'_>, RouteError>)]) {
        for (path, expected) in cases {
            assert_eq!(Route::parse(path), *expected, "{path:?}");
        }
    }

    #[test]
    fn every_route_shape() {
        let blob = format!("/v2/library/alpine/blobs/{SHA256_EMPTY}");
        let manifest_by_digest = format!("/v2/library/alpine/manifests/{SHA256_EMPTY}");
        let referrers = format!("/v2/library/alpine/referrers/{SHA256_EMPTY}");
        let sha512 = format!("sha512:{}", "ab".repeat(64));
        let blob_sha512 = format!("/v2/a/blobs/{sha512}");
        check(&[
            ("/v2", Ok(Route::ApiVersion)),
            ("/v2/", Ok(Route::ApiVersion)),
            ("/v2/_catalog", Ok(Route::Catalog)),
            ("/v2/_oci/ext/discover", Ok(Route::Discover)),
            (
                "/v2/_zot/ext/search",
                Ok(Route::Extension {
                    path: "_zot/ext/search",
                }),
            ),
            // Extension paths stay raw: their own router decides about `//` and the like.
            (
                "/v2/_zot/ext/mgmt//x/",
                Ok(Route::Extension {
                    path: "_zot/ext/mgmt//x/",
                }),
            ),
            (
                "/v2/library/alpine/tags/list",
                Ok(Route::Tags {
                    name: name("library/alpine"),
                }),
            ),
            (
                "/v2/library/alpine/manifests/latest",
                Ok(Route::Manifest {
                    name: name("library/alpine"),
                    reference: reference("latest"),
                }),
            ),
            (
                &manifest_by_digest,
                Ok(Route::Manifest {
                    name: name("library/alpine"),
                    reference: reference(SHA256_EMPTY),
                }),
            ),
            (
                &blob,
                Ok(Route::Blob {
                    name: name("library/alpine"),
                    digest: digest(),
                }),
            ),
            (
                &blob_sha512,
                Ok(Route::Blob {
                    name: name("a"),
                    digest: Digest::parse(&sha512).unwrap(),
                }),
            ),
            (
                "/v2/a/blobs/uploads/",
                Ok(Route::UploadStart { name: name("a") }),
            ),
            (
                "/v2/a/blobs/uploads",
                Ok(Route::UploadStart { name: name("a") }),
            ),
            (
                "/v2/a/blobs/uploads/abc-DEF_123",
                Ok(Route::Upload {
                    name: name("a"),
                    session: "abc-DEF_123",
                }),
            ),
            (
                &referrers,
                Ok(Route::Referrers {
                    name: name("library/alpine"),
                    digest: digest(),
                }),
            ),
        ]);
    }

    #[test]
    fn names_holding_route_words_are_read_from_the_end() {
        let blob = format!("/v2/a/blobs/uploads/x/blobs/{SHA256_EMPTY}");
        let referrers = format!("/v2/referrers/referrers/{SHA256_EMPTY}");
        let blob_named_blobs = format!("/v2/blobs/blobs/{SHA256_EMPTY}");
        check(&[
            (
                "/v2/a/blobs/b/manifests/latest",
                Ok(Route::Manifest {
                    name: name("a/blobs/b"),
                    reference: reference("latest"),
                }),
            ),
            (
                "/v2/x/manifests/tags/list",
                Ok(Route::Tags {
                    name: name("x/manifests"),
                }),
            ),
            ("/v2/tags/tags/list", Ok(Route::Tags { name: name("tags") })),
            ("/v2/list/tags/list", Ok(Route::Tags { name: name("list") })),
            (
                "/v2/a/tags/list/manifests/v1",
                Ok(Route::Manifest {
                    name: name("a/tags/list"),
                    reference: reference("v1"),
                }),
            ),
            (
                "/v2/a/manifests/manifests/manifests",
                Ok(Route::Manifest {
                    name: name("a/manifests"),
                    reference: reference("manifests"),
                }),
            ),
            (
                "/v2/blobs/blobs/uploads/",
                Ok(Route::UploadStart {
                    name: name("blobs"),
                }),
            ),
            (
                "/v2/uploads/blobs/uploads",
                Ok(Route::UploadStart {
                    name: name("uploads"),
                }),
            ),
            (
                "/v2/a/blobs/uploads/blobs/uploads/",
                Ok(Route::UploadStart {
                    name: name("a/blobs/uploads"),
                }),
            ),
            (
                "/v2/a/blobs/uploads/uploads",
                Ok(Route::Upload {
                    name: name("a"),
                    session: "uploads",
                }),
            ),
            (
                &blob,
                Ok(Route::Blob {
                    name: name("a/blobs/uploads/x"),
                    digest: digest(),
                }),
            ),
            (
                &blob_named_blobs,
                Ok(Route::Blob {
                    name: name("blobs"),
                    digest: digest(),
                }),
            ),
            (
                &referrers,
                Ok(Route::Referrers {
                    name: name("referrers"),
                    digest: digest(),
                }),
            ),
            // The more literal shape wins: not a blob whose digest is "uploads".
            (
                "/v2/a/blobs/uploads",
                Ok(Route::UploadStart { name: name("a") }),
            ),
            // No name stands before the suffix: the `/` before it is the one after `v2`.
            ("/v2/tags/list", Err(RouteError::NotFound)),
            ("/v2/manifests/latest", Err(RouteError::NotFound)),
            ("/v2/blobs/uploads/", Err(RouteError::NotFound)),
            ("/v2/blobs/uploads", Err(RouteError::NotFound)),
            ("/v2/blobs/uploads/abc", Err(RouteError::NotFound)),
            ("/v2/referrers/x", Err(RouteError::NotFound)),
            // Names cannot start with `_`, so the fixed routes hide no repository route, and a
            // fixed route with a suffix is a repository route with an invalid name.
            (
                "/v2/_zot/ext/x/tags/list",
                Ok(Route::Extension {
                    path: "_zot/ext/x/tags/list",
                }),
            ),
            (
                "/v2/_catalog/tags/list",
                Err(RouteError::Name(NameError::InvalidComponent)),
            ),
        ]);
    }

    #[test]
    fn empty_segments_and_trailing_slashes_are_strict() {
        check(&[
            // An empty name or name component is an invalid name.
            ("/v2//tags/list", Err(RouteError::Name(NameError::Empty))),
            (
                "/v2/a//tags/list",
                Err(RouteError::Name(NameError::EmptyComponent)),
            ),
            (
                "/v2//a/tags/list",
                Err(RouteError::Name(NameError::EmptyComponent)),
            ),
            (
                "/v2//blobs/uploads/",
                Err(RouteError::Name(NameError::Empty)),
            ),
            // An empty variable part is an invalid one.
            (
                "/v2/a/manifests/",
                Err(RouteError::Reference(ReferenceError::Tag(TagError::Empty))),
            ),
            (
                "/v2/a/blobs/",
                Err(RouteError::Digest(DigestError::Malformed)),
            ),
            (
                "/v2/a/referrers/",
                Err(RouteError::Digest(DigestError::Malformed)),
            ),
            // An empty segment where a literal belongs is no shape at all.
            ("/v2/a/tags/list/", Err(RouteError::NotFound)),
            ("/v2/a/tags//list", Err(RouteError::NotFound)),
            ("/v2/a/manifests/latest/", Err(RouteError::NotFound)),
            ("/v2/a/manifests//latest", Err(RouteError::NotFound)),
            ("/v2/a/blobs/uploads//", Err(RouteError::NotFound)),
            ("/v2/a/blobs/uploads/abc/", Err(RouteError::NotFound)),
            ("/v2/a/blobs//uploads/", Err(RouteError::NotFound)),
            ("/v2//", Err(RouteError::NotFound)),
            ("/v2///", Err(RouteError::NotFound)),
            ("/v2/_catalog/", Err(RouteError::NotFound)),
            ("/v2/_oci/ext/discover/", Err(RouteError::NotFound)),
            ("/v2/_zot/ext/", Err(RouteError::NotFound)),
            ("/v2/_zot/ext", Err(RouteError::NotFound)),
        ]);
    }

    #[test]
    fn paths_outside_the_api_or_without_a_shape_are_not_found() {
        check(&[
            ("", Err(RouteError::NotFound)),
            ("/", Err(RouteError::NotFound)),
            ("v2/", Err(RouteError::NotFound)),
            ("/V2/", Err(RouteError::NotFound)),
            ("/v2x", Err(RouteError::NotFound)),
            ("/v2x/a/tags/list", Err(RouteError::NotFound)),
            ("/v1/a/tags/list", Err(RouteError::NotFound)),
            ("/v3/", Err(RouteError::NotFound)),
            ("//v2/a/tags/list", Err(RouteError::NotFound)),
            ("/v2/a", Err(RouteError::NotFound)),
            ("/v2/a/b", Err(RouteError::NotFound)),
            ("/v2/a/tags", Err(RouteError::NotFound)),
            ("/v2/a/tags/lists", Err(RouteError::NotFound)),
            ("/v2/a/tags/list?n=1", Err(RouteError::NotFound)),
            ("/v2/a/unknown/x", Err(RouteError::NotFound)),
            ("/v2/a/uploads/x", Err(RouteError::NotFound)),
            ("/v2/a/uploads/", Err(RouteError::NotFound)),
            ("/v2/a/Blobs/uploads/", Err(RouteError::NotFound)),
            ("/v2/_catalogue", Err(RouteError::NotFound)),
            ("/v2/_zot/extension", Err(RouteError::NotFound)),
            ("/v2/_oci/ext/discovery", Err(RouteError::NotFound)),
        ]);
    }

    #[test]
    fn invalid_parts_of_a_recognised_shape_are_their_own_errors() {
        let too_long_name = format!(
            "/v2/{}/tags/list",
            "a".repeat(REPOSITORY_NAME_BYTES_MAX + 1)
        );
        let too_many = format!(
            "/v2/{}/tags/list",
            vec!["a"; REPOSITORY_NAME_COMPONENTS_MAX + 1].join("/")
        );
        let long_session = format!(
            "/v2/a/blobs/uploads/{}",
            "s".repeat(UPLOAD_SESSION_BYTES_MAX + 1)
        );
        let longest_session = "s".repeat(UPLOAD_SESSION_BYTES_MAX);
        let longest_session_path = format!("/v2/a/blobs/uploads/{longest_session}");
        let too_long_tag = format!("/v2/a/manifests/{}", "t".repeat(TAG_BYTES_MAX + 1));
        check(&[
            (
                "/v2/A/tags/list",
                Err(RouteError::Name(NameError::InvalidCharacter)),
            ),
            (
                "/v2/../tags/list",
                Err(RouteError::Name(NameError::InvalidComponent)),
            ),
            (
                "/v2/a/../b/manifests/v1",
                Err(RouteError::Name(NameError::InvalidComponent)),
            ),
            (
                "/v2/a\0b/blobs/uploads/",
                Err(RouteError::Name(NameError::InvalidCharacter)),
            ),
            (
                "/v2/a\\b/blobs/uploads/x",
                Err(RouteError::Name(NameError::InvalidCharacter)),
            ),
            (&too_long_name, Err(RouteError::Name(NameError::TooLong))),
            (
                &too_many,
                Err(RouteError::Name(NameError::TooManyComponents)),
            ),
            // The name is checked first: it is the leftmost part of the path.
            (
                "/v2/A/manifests/.x",
                Err(RouteError::Name(NameError::InvalidCharacter)),
            ),
            (
                "/v2/A/blobs/x",
                Err(RouteError::Name(NameError::InvalidCharacter)),
            ),
            (
                "/v2/A/blobs/uploads/x.y",
                Err(RouteError::Name(NameError::InvalidCharacter)),
            ),
            (
                "/v2/a/manifests/.x",
                Err(RouteError::Reference(ReferenceError::Tag(
                    TagError::InvalidFirstCharacter,
                ))),
            ),
            (
                &too_long_tag,
                Err(RouteError::Reference(ReferenceError::Tag(
                    TagError::TooLong,
                ))),
            ),
            (
                "/v2/a/manifests/sha256:abc",
                Err(RouteError::Reference(ReferenceError::Digest(
                    DigestError::EncodedInvalid,
                ))),
            ),
            (
                "/v2/a/manifests/md5:abc",
                Err(RouteError::Reference(ReferenceError::Digest(
                    DigestError::UnsupportedAlgorithm,
                ))),
            ),
            (
                "/v2/a/blobs/latest",
                Err(RouteError::Digest(DigestError::Malformed)),
            ),
            (
                "/v2/a/blobs/sha256:abc",
                Err(RouteError::Digest(DigestError::EncodedInvalid)),
            ),
            (
                "/v2/a/referrers/md5:abc",
                Err(RouteError::Digest(DigestError::UnsupportedAlgorithm)),
            ),
            (
                "/v2/a/referrers/latest",
                Err(RouteError::Digest(DigestError::Malformed)),
            ),
            ("/v2/a/blobs/uploads/x.y", Err(RouteError::Session)),
            ("/v2/a/blobs/uploads/..", Err(RouteError::Session)),
            ("/v2/a/blobs/uploads/a:b", Err(RouteError::Session)),
            ("/v2/a/blobs/uploads/a b", Err(RouteError::Session)),
            (&long_session, Err(RouteError::Session)),
            (
                &longest_session_path,
                Ok(Route::Upload {
                    name: name("a"),
                    session: &longest_session,
                }),
            ),
        ]);
    }

    #[test]
    fn huge_paths_fail_on_the_name_limit() {
        let path = format!("/v2/{}tags/list", "a/".repeat(100_000));
        assert_eq!(
            Route::parse(&path),
            Err(RouteError::Name(NameError::TooLong))
        );
        let path = format!("/v2/{}", "a/".repeat(100_000));
        assert_eq!(Route::parse(&path), Err(RouteError::NotFound));
    }

    #[test]
    fn name_is_given_for_repository_routes_only() {
        assert_eq!(Route::ApiVersion.name(), None);
        assert_eq!(Route::Catalog.name(), None);
        assert_eq!(Route::Discover.name(), None);
        assert_eq!(
            Route::Extension {
                path: "_zot/ext/search"
            }
            .name(),
            None
        );
        let with_names = [
            "/v2/a/b/tags/list".to_string(),
            "/v2/a/b/manifests/latest".to_string(),
            format!("/v2/a/b/blobs/{SHA256_EMPTY}"),
            "/v2/a/b/blobs/uploads/".to_string(),
            "/v2/a/b/blobs/uploads/session".to_string(),
            format!("/v2/a/b/referrers/{SHA256_EMPTY}"),
        ];
        for path in &with_names {
            let route = Route::parse(path).unwrap();
            assert_eq!(route.name(), Some(name("a/b")), "{path:?}");
        }
    }

    #[test]
    fn errors_display_and_chain_their_cause() {
        assert_eq!(
            RouteError::NotFound.to_string(),
            "no route matches the path"
        );
        assert!(RouteError::NotFound.source().is_none());
        assert!(RouteError::Session.source().is_none());
        let error = RouteError::Name(NameError::Empty);
        assert_eq!(error.to_string(), NameError::Empty.to_string());
        assert!(error.source().is_some());
        let error = RouteError::Digest(DigestError::Malformed);
        assert_eq!(error.to_string(), DigestError::Malformed.to_string());
        assert!(error.source().is_some());
        let error = RouteError::Reference(ReferenceError::Tag(TagError::Empty));
        assert_eq!(error.to_string(), TagError::Empty.to_string());
        assert!(error.source().is_some());
    }

    const ROUTE_WORDS: [&str; 7] = [
        "blobs",
        "manifests",
        "tags",
        "uploads",
        "referrers",
        "list",
        "v2",
    ];
    const SEPARATORS: [&str; 6] = [".", "_", "__", "-", "--", "---"];

    fn text_from(
        alphabet: &'static [u8],
        lengths: core::ops::RangeInclusive<usize>,
    ) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(alphabet), lengths)
            .prop_map(|bytes| String::from_utf8(bytes).unwrap())
    }

    fn alphanumeric_run() -> impl Strategy<Value = String> {
        text_from(b"abcdefghijklmnopqrstuvwxyz0123456789", 1..=3)
    }

    /// One name component built from the grammar, or a word the router itself uses.
    fn component() -> impl Strategy<Value = String> {
        let separated = prop::collection::vec(
            (prop::sample::select(&SEPARATORS[..]), alphanumeric_run()),
            0..=2,
        );
        let grammar = (alphanumeric_run(), separated).prop_map(|(first, rest)| {
            rest.into_iter()
                .fold(first, |text, (separator, run)| text + separator + &run)
        });
        prop_oneof![3 => grammar, 1 => prop::sample::select(&ROUTE_WORDS[..]).prop_map(String::from)]
    }

    fn name_text() -> impl Strategy<Value = String> {
        prop::collection::vec(component(), 1..=8).prop_map(|components| components.join("/"))
    }

    fn tag_text() -> impl Strategy<Value = String> {
        const LATER: &[u8] = b"abcXYZ0189._-";
        (
            text_from(b"aZ09_", 1..=1),
            text_from(LATER, 0..=TAG_BYTES_MAX - 1),
        )
            .prop_map(|(first, rest)| first + &rest)
    }

    fn digest_text() -> impl Strategy<Value = String> {
        const HEX: &[u8] = b"0123456789abcdef";
        prop_oneof![
            text_from(HEX, 64..=64).prop_map(|hex| format!("sha256:{hex}")),
            text_from(HEX, 128..=128).prop_map(|hex| format!("sha512:{hex}")),
        ]
    }

    fn session_text() -> impl Strategy<Value = String> {
        text_from(b"azAZ09_-", 1..=UPLOAD_SESSION_BYTES_MAX)
    }

    fn extension_text() -> impl Strategy<Value = String> {
        text_from(b"az/_.-", 1..=16).prop_map(|tail| format!("{EXTENSION_PREFIX}{tail}"))
    }

    /// Every route shape there is; the round trip below covers each.
    const SHAPE_COUNT: usize = 10;

    fn route_of_shape<'a>(
        shape: usize,
        name: RepositoryName<'a>,
        reference: Reference<'a>,
        digest: Digest<'a>,
        session: &'a str,
        extension: &'a str,
    ) -> Route<'a> {
        match shape {
            0 => Route::ApiVersion,
            1 => Route::Catalog,
            2 => Route::Discover,
            3 => Route::Extension { path: extension },
            4 => Route::Tags { name },
            5 => Route::Manifest { name, reference },
            6 => Route::Blob { name, digest },
            7 => Route::UploadStart { name },
            8 => Route::Upload { name, session },
            _ => Route::Referrers { name, digest },
        }
    }

    /// Whether `part` lies inside `whole` in memory, i.e. was borrowed from it.
    fn is_borrowed_from(part: &str, whole: &str) -> bool {
        let start = part.as_ptr() as usize;
        let whole_start = whole.as_ptr() as usize;
        start >= whole_start && start + part.len() <= whole_start + whole.len()
    }

    proptest! {
        #[test]
        fn formatted_routes_parse_back_to_themselves(
            shape in 0..SHAPE_COUNT,
            name in name_text(),
            reference_text in prop_oneof![tag_text(), digest_text()],
            digest in digest_text(),
            session in session_text(),
            extension in extension_text(),
        ) {
            let name = RepositoryName::parse(&name).unwrap();
            let reference = Reference::parse(&reference_text).unwrap();
            let digest = Digest::parse(&digest).unwrap();
            let route = route_of_shape(shape, name, reference, digest, &session, &extension);
            let path = route.to_string();
            let parsed = Route::parse(&path);
            prop_assert_eq!(parsed, Ok(route), "{}", path);
            if let Some(parsed_name) = parsed.unwrap().name() {
                prop_assert!(is_borrowed_from(parsed_name.as_str(), &path));
            }
        }

        #[test]
        fn paths_of_route_words_never_panic_and_round_trip_when_routed(
            pieces in prop::collection::vec(
                prop::sample::select(vec![
                    "/", "v2", "a", "A", "..", "blobs", "uploads", "manifests", "tags", "list",
                    "referrers", "_catalog", "_zot", "ext", SHA256_EMPTY, "md5:0", "x.y",
                ]),
                0..10,
            )
        ) {
            let path = pieces.concat();
            if let Ok(route) = Route::parse(&path) {
                let formatted = route.to_string();
                prop_assert_eq!(Route::parse(&formatted), Ok(route), "{}", path);
                if let Some(name) = route.name() {
                    prop_assert!(is_borrowed_from(name.as_str(), &path));
                }
            }
        }
    }
}
