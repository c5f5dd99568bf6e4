//! Listings: `/v2/_catalog`, `/v2/<name>/tags/list`, `/v2/<name>/referrers/<digest>` and
//! `/v2/_oci/ext/discover`, with `n`/`last` paging and the `Link` header.

use proto::oci::{Digest, ErrorCode, RepositoryName};
use serde_json::{Map, Value, json};
use storage_engine::Page;

use crate::http::{RequestHead, Response, ResponseBody};
use crate::registry::errors::error_response;
use crate::registry::{Registry, query_value};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// `n` and `last` of a listing request; `Err` answers PAGINATION_NUMBER_INVALID.
fn paging(head: &RequestHead) -> Result<(Option<usize>, Option<String>), Response> {
    let count = match query_value(head, "n") {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(count) => Some(count),
            Err(_) => {
                return Err(error_response(
                    ErrorCode::PaginationNumberInvalid,
                    "n is not a non-negative number",
                ));
            }
        },
    };
    Ok((
        count,
        query_value(head, "last").filter(|last| !last.is_empty()),
    ))
}

fn json_response(value: &Value) -> Response {
    Response::new(200)
        .header("Content-Type", "application/json")
        .body(ResponseBody::Bytes(
            serde_json::to_vec(value).expect("a JSON value always serializes"),
        ))
}

/// The `Link` to the next page, when there is one.
fn with_link(response: Response, path: &str, page: &Page<'_>, count: Option<usize>) -> Response {
    match (page.more, page.entries.last(), count) {
        (true, Some(last), Some(count)) => {
            let last = percent_encode_query(last);
            response.header(
                "Link",
                format!("<{path}?last={last}&n={count}>; rel=\"next\""),
            )
        }
        _ => response,
    }
}

/// Names and tags are `[a-z0-9._/-]` and `[A-Za-z0-9._-]`: only `/` is worth encoding.
fn percent_encode_query(text: &str) -> String {
    text.replace('/', "%2F")
}

/// The catalog: every core lists its own repositories after `last`; the merge of the sorted lists
/// is the page. Each core returns at most `count` names, so a page costs the same whatever the
/// number of repositories.
pub(super) async fn catalog(registry: &Registry, head: &RequestHead) -> Response {
    let (count, last) = match paging(head) {
        Ok(paging) => paging,
        Err(response) => return response,
    };
    let mut names: Vec<String> = Vec::new();
    let mut more = false;
    for core in 0..registry.shards.cores() {
        let last = last.clone();
        let (core_names, core_more) = registry
            .run_on_core(core, move |registry: std::rc::Rc<Registry>| {
                Box::pin(async move {
                    let _owner = registry.owner.lock().await;
                    let store = registry.store.borrow();
                    let page = store.catalog_page(count, last.as_deref());
                    let names: Vec<String> =
                        page.entries.iter().map(|name| name.to_string()).collect();
                    (names, page.more)
                })
            })
            .await;
        names.extend(core_names);
        more |= core_more;
    }
    names.sort_unstable();
    if let Some(count) = count
        && names.len() > count
    {
        names.truncate(count);
        more = true;
    }
    let entries: Vec<&str> = names.iter().map(String::as_str).collect();
    let page = Page { entries, more };
    let response = json_response(&json!({ "repositories": page.entries }));
    with_link(response, "/v2/_catalog", &page, count)
}

pub(super) async fn tags(
    registry: &Registry,
    head: &RequestHead,
    name: RepositoryName<'_>,
) -> Response {
    let (count, last) = match paging(head) {
        Ok(paging) => paging,
        Err(response) => return response,
    };
    let _owner = registry.owner.lock().await;
    let store = registry.store.borrow();
    let Some(repository) = store.repository(name.as_str()) else {
        return error_response(ErrorCode::NameUnknown, name.as_str());
    };
    let page = repository.tags_page(count, last.as_deref());
    let response = json_response(&json!({ "name": name.as_str(), "tags": page.entries }));
    with_link(
        response,
        &format!("/v2/{}/tags/list", name.as_str()),
        &page,
        count,
    )
}

pub(super) async fn referrers(
    registry: &Registry,
    head: &RequestHead,
    name: RepositoryName<'_>,
    digest: Digest<'_>,
) -> Response {
    let artifact_type = query_value(head, "artifactType").filter(|value| !value.is_empty());
    let _owner = registry.owner.lock().await;
    let mut store = registry.store.borrow_mut();
    let Some((repository, disk)) = store.repository_and_disk(name.as_str()) else {
        return error_response(ErrorCode::NameUnknown, name.as_str());
    };
    let referrers = match repository
        .referrers(disk, digest, artifact_type.as_deref())
        .await
    {
        Ok(referrers) => referrers,
        Err(error) => return error_response(error.error_code(), &error.to_string()),
    };
    let manifests: Vec<Value> = referrers
        .into_iter()
        .map(|referrer| {
            let mut descriptor = Map::new();
            descriptor.insert("mediaType".into(), referrer.media_type.into());
            descriptor.insert("digest".into(), referrer.digest.as_str().into());
            descriptor.insert("size".into(), referrer.size.into());
            if let Some(artifact_type) = referrer.artifact_type {
                descriptor.insert("artifactType".into(), artifact_type.into());
            }
            if let Some(annotations) = referrer.annotations {
                descriptor.insert("annotations".into(), json!(annotations));
            }
            Value::Object(descriptor)
        })
        .collect();
    let index = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
    let mut response = json_response(&index);
    response = Response::new(200)
        .header("Content-Type", OCI_INDEX)
        .body(response.body);
    if artifact_type.is_some() {
        response = response.header("OCI-Filters-Applied", "artifactType");
    }
    response
}

pub(super) fn discover() -> Response {
    json_response(&json!({ "extensions": [] }))
}
