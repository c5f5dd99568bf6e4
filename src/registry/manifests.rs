//! `/v2/<name>/manifests/<reference>`: put, get, head and delete.

use proto::oci::manifest::parse_manifest;
use proto::oci::{ErrorCode, ManifestKind, Reference, RepositoryName, Tag};

use crate::http::{RequestHead, Response, ResponseBody};
use crate::registry::errors::{error_response, error_response_with_status};
use crate::registry::{Registry, query_values};

pub(super) async fn get(
    registry: &Registry,
    head: &RequestHead,
    name: RepositoryName<'_>,
    reference: Reference<'_>,
) -> Response {
    let _owner = registry.owner.lock().await;
    let mut store = registry.store.borrow_mut();
    let Some((repository, disk)) = store.repository_and_disk(name.as_str()) else {
        return error_response(ErrorCode::NameUnknown, name.as_str());
    };
    if head.is_head() {
        return match repository.resolve_for_read(disk, reference).await {
            Ok(Some((digest, record))) => Response::new(200)
                .header("Content-Type", record.media_type)
                .header("Docker-Content-Digest", digest.as_str())
                .body(ResponseBody::HeadOnly {
                    length: record.size,
                }),
            Ok(None) => error_response(ErrorCode::ManifestUnknown, ""),
            Err(error) => error_response(error.error_code(), &error.to_string()),
        };
    }
    match repository.manifest(disk, reference).await {
        Ok(content) => Response::new(200)
            .header("Content-Type", content.media_type)
            .header("Docker-Content-Digest", content.digest.as_str())
            .body(ResponseBody::Bytes(content.bytes)),
        Err(error) => error_response(error.error_code(), &error.to_string()),
    }
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
