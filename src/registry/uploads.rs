//! `/v2/<name>/blobs/uploads/`: start (plain, monolithic with `?digest=`, or a mount), PATCH
//! chunks (streamed, or with `Content-Range`), PUT to finish, GET status, DELETE to cancel.

use proto::http1::content_range::{UPLOAD_RANGE_BYTES_MAX, parse_upload_range, write_upload_range};
use proto::oci::{Algorithm, Digest, ErrorCode, RepositoryName};
use storage_engine::{Resumable, SessionId, Upload, UploadError};

use crate::http::{BodyError, BodyReader, RequestHead, Response};
use crate::limits::UPLOAD_BUFFER_BYTES;
use crate::registry::errors::{error_response, error_response_with_status};
use crate::registry::{Registry, query_value};

pub(super) async fn start(
    registry: &Registry,
    head: &RequestHead,
    body: &mut BodyReader<'_>,
    name: RepositoryName<'_>,
) -> Response {
    let digest_text = query_value(head, "digest");
    let digest = match digest_text.as_deref().map(Digest::parse) {
        Some(Ok(digest)) => Some(digest),
        Some(Err(error)) => return error_response(ErrorCode::DigestInvalid, &error.to_string()),
        None => None,
    };
    if let Some(mounted) = mount(registry, head, name).await {
        return mounted;
    }
    if let Err(response) = registry.ensure_repository(name.as_str()).await {
        return response;
    }
    let resumable = if digest.is_some() {
        Resumable::No
    } else {
        Resumable::Yes
    };
    let algorithm = digest.map_or(Algorithm::Sha256, |digest| digest.algorithm());
    let mut upload = match Upload::create(
        registry.roots.for_name(name.as_str()),
        &registry.disk,
        name,
        algorithm,
        resumable,
    )
    .await
    {
        Ok(upload) => upload,
        Err(error) => return upload_error(&error),
    };
    let Some(digest) = digest else {
        // The session lives on disk from here; the next request, on any core, resumes it.
        return accepted(name, &upload);
    };
    // Monolithic: the whole blob in this request.
    if let Err(response) = stream_body(body, &mut upload).await {
        let _ = upload.cancel().await;
        return response;
    }
    match upload.commit(digest).await {
        Ok(committed) => created(name, committed.digest.as_str()),
        Err(error) => {
            let response = upload_error(&error);
            let _ = upload.cancel().await;
            response
        }
    }
}

/// `?mount=<digest>&from=<repository>`: 201 when the blob could be linked, `None` to go on with
/// a normal session (the spec's answer when the source does not have it). Runs on the target
/// repository's owner core, which may create the repository. Without `from`, the source is the
/// dedupe store or, failing that, the first repository of any core that holds the blob.
async fn mount(
    registry: &Registry,
    head: &RequestHead,
    name: RepositoryName<'_>,
) -> Option<Response> {
    let digest_text = query_value(head, "mount")?;
    Digest::parse(&digest_text).ok()?;
    let from = match query_value(head, "from") {
        Some(from_text) => {
            RepositoryName::parse(&from_text).ok()?;
            Some(from_text)
        }
        None => None,
    };
    let name_text = name.as_str().to_owned();
    let owner = registry.shards.owner(&name_text);
    let searching = from.is_none();
    let source = match from {
        Some(from) => MountSource::Repository(from),
        None => MountSource::Blobstore,
    };
    let mut outcome = mount_on_owner(registry, owner, &name_text, &digest_text, source).await;
    if searching
        && matches!(outcome, Ok(None))
        && let Some(holder) = repository_with_blob(registry, &digest_text).await
    {
        let source = MountSource::Repository(holder);
        outcome = mount_on_owner(registry, owner, &name_text, &digest_text, source).await;
    }
    match outcome {
        Ok(Some(digest)) => Some(created(name, &digest)),
        Ok(None) => None,
        Err((code, message)) => Some(error_response(code, &message)),
    }
}

/// Where a mount takes its blob from.
enum MountSource {
    Repository(String),
    /// The dedupe store, `_blobstore`.
    Blobstore,
}

/// Mounts on the owner core of `name`: the digest of the blob linked in, `None` when the source
/// does not have it.
async fn mount_on_owner(
    registry: &Registry,
    owner: usize,
    name: &str,
    digest: &str,
    source: MountSource,
) -> Result<Option<String>, (ErrorCode, String)> {
    let name_text = name.to_owned();
    let digest_text = digest.to_owned();
    registry
        .run_on_core(owner, move |registry: std::rc::Rc<Registry>| {
            Box::pin(async move {
                let name = RepositoryName::parse(&name_text).expect("parsed before");
                let digest = Digest::parse(&digest_text).expect("parsed before");
                let _owner = registry.owner.lock().await;
                let mut store = registry.store.borrow_mut();
                let mounted = match &source {
                    MountSource::Repository(from) => {
                        let from = RepositoryName::parse(from).expect("parsed or listed before");
                        store.mount_blob(name, from, digest).await
                    }
                    MountSource::Blobstore => store.mount_blob_from_blobstore(name, digest).await,
                };
                match mounted {
                    Ok(Some(committed)) => Ok(Some(committed.digest.as_str().to_owned())),
                    Ok(None) => Ok(None),
                    Err(error) => Err((error.error_code(), error.to_string())),
                }
            })
        })
        .await
}

/// The first repository, core by core, that holds the blob `digest`.
async fn repository_with_blob(registry: &Registry, digest: &str) -> Option<String> {
    for core in 0..registry.shards.cores() {
        let digest_text = digest.to_owned();
        let found = registry
            .run_on_core(core, move |registry: std::rc::Rc<Registry>| {
                Box::pin(async move {
                    let digest = Digest::parse(&digest_text).expect("parsed before");
                    let _owner = registry.owner.lock().await;
                    let store = registry.store.borrow();
                    store.repository_with_blob(digest).await
                })
            })
            .await;
        if found.is_some() {
            return found;
        }
    }
    None
}

pub(super) async fn patch(
    registry: &Registry,
    head: &RequestHead,
    body: &mut BodyReader<'_>,
    name: RepositoryName<'_>,
    session: &str,
) -> Response {
    let mut upload = match take_session(registry, name, session).await {
        Ok(upload) => upload,
        Err(response) => return response,
    };
    if let Some(value) = head.header("Content-Range") {
        match parse_upload_range(value) {
            Ok(range) if range.start == upload.size() => {}
            Ok(_) => return range_refused(name, &upload),
            Err(error) => {
                return error_response_with_status(
                    ErrorCode::RangeInvalid,
                    416,
                    &error.to_string(),
                );
            }
        }
    }
    // A body that fails part-way (malformed chunking, a dropped connection) changes nothing:
    // its bytes are never acknowledged, so the next request on the session finds it where the
    // last good PATCH left it (I6), and the client's status request says so. The answer waits
    // for the writes in flight, so none lands after the session is free again.
    if let Err(response) = stream_body(body, &mut upload).await {
        upload.abandon().await;
        return response;
    }
    match upload.acknowledge().await {
        Ok(_) => accepted(name, &upload),
        Err(error) => upload_error(&error),
    }
}

pub(super) async fn finish(
    registry: &Registry,
    head: &RequestHead,
    body: &mut BodyReader<'_>,
    name: RepositoryName<'_>,
    session: &str,
) -> Response {
    let digest_text = query_value(head, "digest");
    let digest = match digest_text.as_deref().map(Digest::parse) {
        Some(Ok(digest)) => digest,
        Some(Err(error)) => return error_response(ErrorCode::DigestInvalid, &error.to_string()),
        None => return error_response(ErrorCode::DigestInvalid, "PUT needs ?digest="),
    };
    let mut upload = match take_session(registry, name, session).await {
        Ok(upload) => upload,
        Err(response) => return response,
    };
    if let Err(response) = stream_body(body, &mut upload).await {
        // As for a PATCH: the session stays, and no write of this request outlives it.
        upload.abandon().await;
        return response;
    }
    match upload.commit(digest).await {
        Ok(committed) => created(name, committed.digest.as_str()),
        // A wrong digest keeps the session, as the engine does.
        Err(error) => upload_error(&error),
    }
}

pub(super) async fn status(
    registry: &Registry,
    name: RepositoryName<'_>,
    session: &str,
) -> Response {
    match take_session(registry, name, session).await {
        Ok(upload) => Response::new(204)
            .header("Location", location(name, &upload))
            .header("Range", range_header(&upload))
            .header("Docker-Upload-UUID", upload.session().as_str()),
        Err(response) => response,
    }
}

pub(super) async fn cancel(
    registry: &Registry,
    name: RepositoryName<'_>,
    session: &str,
) -> Response {
    match take_session(registry, name, session).await {
        Ok(upload) => match upload.cancel().await {
            Ok(()) => Response::new(204),
            Err(error) => upload_error(&error),
        },
        Err(response) => response,
    }
}

/// The session, resumed from disk and held (locked) until the request is done: the `Upload`
/// releases it when dropped at the end of the route. Sessions are not
/// kept in memory between requests: the next chunk may come on another connection, served by
/// another core, and the `.state` of every acknowledged chunk is what all cores share.
async fn take_session(
    registry: &Registry,
    name: RepositoryName<'_>,
    session: &str,
) -> Result<Upload, Response> {
    let unknown = || error_response(ErrorCode::BlobUploadUnknown, session);
    let Some(identifier) = SessionId::parse(session) else {
        return Err(unknown());
    };
    match Upload::resume(
        registry.roots.for_name(name.as_str()),
        &registry.disk,
        name,
        &identifier,
    )
    .await
    {
        Ok(upload) => Ok(upload),
        Err(UploadError::SessionUnknown | UploadError::RepositoryUnknown) => Err(unknown()),
        Err(error) => Err(upload_error(&error)),
    }
}

/// Streams the request body into the upload, one buffer at a time.
async fn stream_body(body: &mut BodyReader<'_>, upload: &mut Upload) -> Result<(), Response> {
    let mut buffer = upload
        .take_spare_buffer()
        .unwrap_or_else(|| Vec::with_capacity(UPLOAD_BUFFER_BYTES));
    // Each pass appends at least one byte or ends; the body is finite (or times out).
    loop {
        buffer.clear();
        match body.read(&mut buffer, UPLOAD_BUFFER_BYTES).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(error) => return Err(body_error(&error)),
        }
        let full = std::mem::take(&mut buffer);
        match upload.append(full).await {
            Ok(spare) => {
                buffer = spare.unwrap_or_else(|| Vec::with_capacity(UPLOAD_BUFFER_BYTES));
            }
            Err(error) => return Err(upload_error(&error)),
        }
    }
}

fn body_error(error: &BodyError) -> Response {
    error_response(ErrorCode::BlobUploadInvalid, &error.to_string()).closing()
}

fn upload_error(error: &UploadError) -> Response {
    match error {
        UploadError::OffsetMismatch { .. } => {
            error_response_with_status(ErrorCode::RangeInvalid, 416, &error.to_string())
        }
        other => error_response(other.error_code(), &other.to_string()),
    }
}

fn location(name: RepositoryName<'_>, upload: &Upload) -> String {
    format!("/v2/{}/blobs/uploads/{}", name.as_str(), upload.session())
}

fn range_header(upload: &Upload) -> Vec<u8> {
    let mut text = [0u8; UPLOAD_RANGE_BYTES_MAX];
    let length = write_upload_range(upload.size(), &mut text);
    text[..length].to_vec()
}

fn accepted(name: RepositoryName<'_>, upload: &Upload) -> Response {
    Response::new(202)
        .header("Location", location(name, upload))
        .header("Range", range_header(upload))
        .header("Docker-Upload-UUID", upload.session().as_str())
}

fn range_refused(name: RepositoryName<'_>, upload: &Upload) -> Response {
    error_response_with_status(
        ErrorCode::RangeInvalid,
        416,
        "chunk does not start where the upload ends",
    )
    .header("Location", location(name, upload))
    .header("Range", range_header(upload))
}

fn created(name: RepositoryName<'_>, digest: &str) -> Response {
    Response::new(201)
        .header("Location", format!("/v2/{}/blobs/{digest}", name.as_str()))
        .header("Docker-Content-Digest", digest)
}
