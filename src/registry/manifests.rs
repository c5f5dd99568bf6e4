//! `/v2/<name>/manifests/<reference>`: put, get, head and delete.

use proto::oci::manifest::parse_manifest;
use proto::oci::{DigestBuf, ErrorCode, ManifestKind, Reference, RepositoryName, Tag};

use crate::http::{RequestHead, Response, ResponseBody};
use crate::registry::errors::{error_response, error_response_with_status};
use crate::registry::{Registry, query_values};

/// GET and HEAD, answered on the connection's core: the owner resolves the reference from its
/// memory (the only step that needs it), and the bytes come from this core's cache or file.
pub(super) async fn read(
    registry: &Registry,
    head: &RequestHead,
    name: RepositoryName<'_>,
    reference: Reference<'_>,
) -> Response {
    let (digest, media_type, size) = match resolve(registry, name, reference).await {
        Ok(resolved) => resolved,
        Err((code, message)) => return error_response(code, &message),
    };
    let response = Response::new(200)
        .header("Content-Type", media_type)
        .header("Docker-Content-Digest", digest.as_str());
    if head.is_head() {
        return response.body(ResponseBody::HeadOnly { length: size });
    }
    let cached = registry
        .manifest_cache
        .borrow()
        .get(digest.as_str())
        .map(<[u8]>::to_vec);
    let bytes = match cached {
        Some(bytes) => bytes,
        None => {
            let path = registry
                .roots
                .for_name(name.as_str())
                .repository(name)
                .blob(digest.as_digest());
            match registry.disk.read(&path).await {
                Ok(bytes) => {
                    registry
                        .manifest_cache
                        .borrow_mut()
                        .insert(digest.as_str(), &bytes);
                    bytes
                }
                // Deleted since the owner resolved it, or listed but gone (I2 broken by hand):
                // unknown, as zot answers.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    return error_response(ErrorCode::ManifestUnknown, digest.as_str());
                }
                Err(error) => return error_response(ErrorCode::Unknown, &error.to_string()),
            }
        }
    };
    response.body(ResponseBody::Bytes(bytes))
}

/// The digest, media type and size `reference` names in repository `name`, from its owner.
async fn resolve(
    registry: &Registry,
    name: RepositoryName<'_>,
    reference: Reference<'_>,
) -> Result<(DigestBuf, String, u64), (ErrorCode, String)> {
    let owner = registry.shards.owner(name.as_str());
    let name_text = name.as_str().to_owned();
    let reference_text = reference.as_str().to_owned();
    registry
        .run_on_core(owner, move |registry: std::rc::Rc<Registry>| {
            Box::pin(async move {
                let name = RepositoryName::parse(&name_text).expect("parsed before");
                let reference = Reference::parse(&reference_text).expect("parsed before");
                let _owner = registry.owner.lock().await;
                let mut store = registry.store.borrow_mut();
                let Some((repository, disk)) = store.repository_and_disk(name.as_str()) else {
                    return Err((ErrorCode::NameUnknown, name_text));
                };
                match repository.resolve_for_read(disk, reference).await {
                    Ok(Some((digest, record))) => Ok((digest, record.media_type, record.size)),
                    Ok(None) => Err((ErrorCode::ManifestUnknown, reference_text)),
                    Err(error) => Err((error.error_code(), error.to_string())),
                }
            })
        })
        .await
}

pub(super) async fn put(
    registry: &Registry,
    head: &RequestHead,
    bytes: Vec<u8>,
    name: RepositoryName<'_>,
    reference: Reference<'_>,
) -> Response {
    let tag_texts = query_values(head, "tag");
    let mut tags = Vec::with_capacity(tag_texts.len());
    for text in &tag_texts {
        match Tag::parse(text) {
            Ok(tag) => tags.push(tag),
            Err(error) => return error_response(ErrorCode::TagInvalid, &error.to_string()),
        }
    }
    let content_type = head
        .header("Content-Type")
        .and_then(|value| std::str::from_utf8(value).ok());
    if !registry.options.docker_manifests_allowed
        && let Ok(parsed) = parse_manifest(content_type, &bytes)
        && matches!(
            parsed.kind(),
            ManifestKind::DockerManifest | ManifestKind::DockerManifestList
        )
    {
        return error_response_with_status(
            ErrorCode::ManifestInvalid,
            415,
            "Docker manifests are not accepted (http.compat)",
        );
    }
    let _owner = registry.owner.lock().await;
    let mut store = registry.store.borrow_mut();
    let disk = store.disk().clone();
    // A first push is checked before its repository is created, so a refused one leaves
    // nothing behind (the catalog would list an empty repository otherwise).
    if store.repository(name.as_str()).is_none() {
        if let Err(error) = store.check_new_repository_name(name) {
            return error_response(error.error_code(), &error.to_string());
        }
        if let Err(error) = store
            .check_manifest_for_new_repository(name, reference, content_type, &bytes)
            .await
        {
            return error_response(error.error_code(), &error.to_string());
        }
    }
    let repository = match store.create_repository(name).await {
        Ok(repository) => repository,
        Err(error) => return error_response(error.error_code(), &error.to_string()),
    };
    match repository
        .put_manifest(&disk, reference, &tags, content_type, &bytes)
        .await
    {
        Ok(put) => {
            let mut response = Response::new(201)
                .header(
                    "Location",
                    format!("/v2/{}/manifests/{}", name.as_str(), put.digest),
                )
                .header("Docker-Content-Digest", put.digest.as_str());
            if let Some(subject) = put.subject {
                response = response.header("OCI-Subject", subject.as_str());
            }
            response
        }
        Err(error) => error_response(error.error_code(), &error.to_string()),
    }
}

pub(super) async fn delete(
    registry: &Registry,
    name: RepositoryName<'_>,
    reference: Reference<'_>,
) -> Response {
    let _owner = registry.owner.lock().await;
    let mut store = registry.store.borrow_mut();
    let Some((repository, disk)) = store.repository_and_disk(name.as_str()) else {
        return error_response(ErrorCode::NameUnknown, name.as_str());
    };
    let result = match reference {
        Reference::Tag(tag) => repository.delete_tag(disk, tag).await,
        Reference::Digest(digest) => repository.delete_manifest(disk, digest).await,
    };
    match result {
        Ok(()) => Response::new(202),
        Err(error) => error_response(error.error_code(), &error.to_string()),
    }
}
