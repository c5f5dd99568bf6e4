//! The OCI Distribution API on one core: routes each request to the storage engine and answers
//! with the spec's status codes, headers and error bodies.
//!
//! Being built (issue 4). This core owns every repository it serves; sharding repositories across
//! cores, with requests forwarded to the owner core, comes with the multi-core runtime.
//!
//! The store sits in a `RefCell` borrowed across awaits: every borrow happens under `owner`, the
//! core's task lock, so no two tasks ever hold it at once.
#![allow(clippy::await_holding_refcell_ref)]

mod blobs;
mod errors;
mod listing;
mod lock;
mod manifests;
mod uploads;

use std::cell::RefCell;
use std::sync::Arc;

use proto::http1::query::percent_decode_path;
use proto::http1::query::{QueryComponent, QueryPairs};
use proto::limits::REQUEST_LINE_BYTES_MAX;
use proto::oci::{ErrorCode, Route, RouteError};
use storage_engine::{Disk, Root, Store};

use crate::http::{BodyReader, RequestHead, Response, Service};
pub use errors::{error_response, status_of};
use lock::OwnerLock;

/// What one core serves: its store, and the upload sessions its connections have open.
#[derive(Debug)]
pub struct Registry {
    root: Arc<Root>,
    disk: Disk,
    /// The store, changed only under `owner` (invariant I8: one writer per repository).
    store: RefCell<Store>,
    owner: OwnerLock,
    /// Whether DELETE of blobs and manifests is allowed.
    pub deletes_allowed: bool,
    /// Whether Docker v2 schema 2 manifests and manifest lists are accepted (zot's
    /// `http.compat: ["docker2s2"]`, on unless the config turns it off); refused with 415.
    pub docker_manifests_allowed: bool,
}

impl Registry {
    pub fn new(store: Store) -> Registry {
        Registry {
            root: Arc::clone(store.root()),
            disk: store.disk().clone(),
            store: RefCell::new(store),
            owner: OwnerLock::default(),
            deletes_allowed: true,
            docker_manifests_allowed: true,
        }
    }
}

impl Service for Registry {
    async fn call(&self, head: &RequestHead, body: &mut BodyReader<'_>) -> Response {
        let mut scratch = [0u8; REQUEST_LINE_BYTES_MAX];
        let path = match percent_decode_path(&head.path, &mut scratch) {
            Ok(path) => path.to_owned(),
            Err(_) => return error_response(ErrorCode::NameInvalid, "path is not valid UTF-8"),
        };
        let route = match Route::parse(&path) {
            Ok(route) => route,
            Err(RouteError::NotFound) => return Response::new(404),
            Err(RouteError::Name(error)) => {
                return error_response(ErrorCode::NameInvalid, &error.to_string());
            }
            Err(RouteError::Reference(error)) => {
                return error_response(ErrorCode::ManifestInvalid, &error.to_string());
            }
            Err(RouteError::Digest(error)) => {
                let code = match error {
                    proto::oci::DigestError::UnsupportedAlgorithm => ErrorCode::Unsupported,
                    _ => ErrorCode::DigestInvalid,
                };
                return error_response(code, &error.to_string());
            }
            Err(RouteError::Session) => {
                return error_response(ErrorCode::BlobUploadUnknown, "invalid session");
            }
            Err(_) => return Response::new(404),
        };
        let method = head.method.as_str();
        let response = match (route, method) {
            (Route::ApiVersion, "GET" | "HEAD") => Response::new(200)
                .header("Content-Type", "application/json")
                .body(crate::http::ResponseBody::Bytes(b"{}".to_vec())),
            (Route::Catalog, "GET") => listing::catalog(self, head).await,
            (Route::Discover, "GET") => listing::discover(),
            (Route::Tags { name }, "GET") => listing::tags(self, head, name).await,
            (Route::Referrers { name, digest }, "GET") => {
                listing::referrers(self, head, name, digest).await
            }
            (Route::Manifest { name, reference }, "GET" | "HEAD") => {
                manifests::get(self, head, name, reference).await
            }
            (Route::Manifest { name, reference }, "PUT") => {
                manifests::put(self, head, body, name, reference).await
            }
            (Route::Manifest { name, reference }, "DELETE") => {
                manifests::delete(self, name, reference).await
            }
            (Route::Blob { name, digest }, "GET" | "HEAD") => {
                blobs::get(self, head, name, digest).await
            }
            (Route::Blob { name, digest }, "DELETE") => blobs::delete(self, name, digest).await,
            (Route::UploadStart { name }, "POST") => uploads::start(self, head, body, name).await,
            (Route::Upload { name, session }, "PATCH") => {
                uploads::patch(self, head, body, name, session).await
            }
            (Route::Upload { name, session }, "PUT") => {
                uploads::finish(self, head, body, name, session).await
            }
            (Route::Upload { name, session }, "GET") => uploads::status(self, name, session).await,
            (Route::Upload { name, session }, "DELETE") => {
                uploads::cancel(self, name, session).await
            }
            _ => Response::new(405),
        };
        response.header("Docker-Distribution-API-Version", "registry/2.0")
    }
}

/// The decoded value of the first `key=` pair of the query.
fn query_value(head: &RequestHead, key: &str) -> Option<String> {
    let query = head.query.as_deref()?;
    proto::http1::query::find_first(query, key).and_then(decode)
}

/// The decoded values of every `key=` pair of the query, in order (several `?tag=`).
fn query_values(head: &RequestHead, key: &str) -> Vec<String> {
    let Some(query) = head.query.as_deref() else {
        return Vec::new();
    };
    QueryPairs::new(query)
        .filter(|(candidate, _)| candidate.eq_decoded(key))
        .filter_map(|(_, value)| decode(value))
        .collect()
}

fn decode(component: QueryComponent<'_>) -> Option<String> {
    let mut scratch = [0u8; proto::limits::QUERY_VALUE_BYTES_MAX];
    component.decode(&mut scratch).ok().map(str::to_owned)
}
