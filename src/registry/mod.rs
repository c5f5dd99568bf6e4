//! The OCI Distribution API on one core: routes each request to the storage engine and answers
//! with the spec's status codes, headers and error bodies.
//!
//! Repositories are sharded across cores ([`shards`]): manifests, tags, referrers, deletes and
//! repository creation run on the repository's owner core, forwarded there when the connection
//! is on another; blob reads and uploads run on the connection's core.
//!
//! The store sits in a `RefCell` borrowed across awaits: every borrow happens under `owner`, the
//! core's task lock, so no two tasks ever hold it at once.
#![allow(clippy::await_holding_refcell_ref)]

mod blobs;
mod errors;
mod listing;
mod lock;
mod manifest_cache;
mod manifests;
pub mod shards;
mod uploads;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use proto::http1::query::percent_decode_path;
use proto::http1::query::{QueryComponent, QueryPairs};
use proto::limits::REQUEST_LINE_BYTES_MAX;
use proto::oci::{ErrorCode, Route, RouteError};
use storage_engine::{Disk, Roots, Store};

use crate::http::{BodyError, BodyReader, RequestHead, Response, ResponseBody, Service};
use errors::error_response_with_status;
pub use errors::{error_response, status_of};
use lock::OwnerLock;
use manifest_cache::ManifestCache;
use shards::Shards;

/// What one core serves: the store of the repositories it owns, and the way to the others.
#[derive(Debug)]
pub struct Registry {
    /// The default root and the sub path roots, to find a repository's files without the store.
    roots: Arc<Roots>,
    disk: Disk,
    shards: Shards,
    /// The store, changed only under `owner` (invariant I8: one writer per repository).
    store: RefCell<Store>,
    owner: OwnerLock,
    /// Manifest bytes read on this core, for GETs of any repository (whose owner said first that
    /// it has the digest).
    manifest_cache: RefCell<ManifestCache>,
    options: RegistryOptions,
    /// This registry itself, so work meant for this core runs here rather than through the inbox.
    me: Weak<Registry>,
}

/// What the configuration decides about the API.
#[derive(Clone, Copy, Debug)]
pub struct RegistryOptions {
    /// Whether DELETE of blobs and manifests is allowed (405 otherwise).
    pub deletes_allowed: bool,
    /// Whether Docker v2 schema 2 manifests and manifest lists are accepted (zot's
    /// `http.compat: ["docker2s2"]`, on unless the config turns it off); refused with 415.
    pub docker_manifests_allowed: bool,
}

impl Default for RegistryOptions {
    fn default() -> RegistryOptions {
        RegistryOptions {
            deletes_allowed: true,
            docker_manifests_allowed: true,
        }
    }
}

impl Registry {
    /// A registry that owns every repository (one core).
    pub fn new(store: Store, options: RegistryOptions) -> Rc<Registry> {
        Registry::sharded(store, Shards::single(), options)
    }

    /// The registry of one core of several: `store` holds the repositories `shards` says this
    /// core owns.
    pub fn sharded(store: Store, shards: Shards, options: RegistryOptions) -> Rc<Registry> {
        Rc::new_cyclic(|me| Registry {
            roots: Arc::clone(store.roots()),
            disk: store.disk().clone(),
            shards,
            store: RefCell::new(store),
            owner: OwnerLock::default(),
            manifest_cache: RefCell::new(ManifestCache::new(
                crate::limits::MANIFEST_CACHE_BYTES_MAX,
            )),
            options,
            me: me.clone(),
        })
    }

    /// Removes this core's upload sessions older than the session age that no request is
    /// using; returns how many went. Holds the owner lock throughout, like any metadata change.
    pub async fn expire_uploads(&self) -> Result<usize, String> {
        let _owner = self.owner.lock().await;
        let store = self.store.borrow();
        store
            .expire_uploads()
            .await
            .map_err(|error| error.to_string())
    }

    /// Runs `work` on core `core` with its registry: here, or through that core's inbox.
    async fn run_on_core<T, F>(&self, core: usize, work: F) -> T
    where
        T: Send + 'static,
        F: FnOnce(Rc<Registry>) -> Pin<Box<dyn Future<Output = T>>> + Send + 'static,
    {
        if core == self.shards.core() {
            let me = self
                .me
                .upgrade()
                .expect("a registry lives in its Rc while it serves");
            return work(me).await;
        }
        self.shards.run_on(core, work).await
    }
}

/// The methods some route implements. Any other method, known to HTTP or not, is answered 501
/// whatever the path (RFC 9110 section 9.1); one of these on a route that does not take it is
/// answered 405 with `Allow`.
const METHODS_IMPLEMENTED: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

impl Service for Registry {
    async fn call(&self, head: &RequestHead, body: &mut BodyReader<'_>) -> Response {
        if !METHODS_IMPLEMENTED.contains(&head.method.as_str()) {
            let response = error_response_with_status(
                ErrorCode::Unsupported,
                501,
                "the method is not implemented",
            );
            log_request(head, &response);
            return with_version(response);
        }
        let path = match decode_path(head) {
            Ok(path) => path,
            Err(response) => return with_version(response),
        };
        let route = match parse_route(&path) {
            Ok(route) => route,
            Err(response) => return with_version(response),
        };
        let response = match (route, head.method.as_str()) {
            (Route::ApiVersion, "GET" | "HEAD") => Response::new(200)
                .header("Content-Type", "application/json")
                .body(ResponseBody::Bytes(b"{}".to_vec())),
            (Route::Catalog, "GET") => listing::catalog(self, head).await,
            (Route::Discover, "GET") => listing::discover(),
            (Route::Blob { name, digest }, "GET" | "HEAD") => {
                blobs::get(self, head, name, digest).await
            }
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
            (Route::Manifest { name, .. }, "PUT") => match read_manifest(body).await {
                Ok(bytes) => self.on_owner(name.as_str(), head, Some(bytes)).await,
                Err(response) => response,
            },
            (Route::Manifest { .. } | Route::Blob { .. }, "DELETE")
                if !self.options.deletes_allowed =>
            {
                error_response_with_status(ErrorCode::Unsupported, 405, "deletes are disabled")
                    .header("Allow", allowed_methods(route, false))
            }
            (Route::Manifest { name, reference }, "GET" | "HEAD") => {
                manifests::read(self, head, name, reference).await
            }
            (Route::Manifest { name, .. }, "DELETE")
            | (Route::Tags { name }, "GET")
            | (Route::Referrers { name, .. }, "GET")
            | (Route::Blob { name, .. }, "DELETE") => {
                self.on_owner(name.as_str(), head, None).await
            }
            // No extension is served: the path names nothing, whatever the method.
            (Route::Extension { .. }, _) => {
                error_response_with_status(ErrorCode::Unsupported, 404, "no such extension")
            }
            // RFC 9110 section 15.5.6: a 405 lists the methods the target takes.
            _ => error_response_with_status(
                ErrorCode::Unsupported,
                405,
                "the route does not take this method",
            )
            .header(
                "Allow",
                allowed_methods(route, self.options.deletes_allowed),
            ),
        };
        log_request(head, &response);
        with_version(response)
    }
}

/// The methods `route` takes, for the `Allow` field of a 405; the match in
/// [`Registry::call`] is the authority, and this list follows it.
fn allowed_methods(route: Route<'_>, deletes_allowed: bool) -> &'static str {
    match (route, deletes_allowed) {
        (Route::ApiVersion, _) => "GET, HEAD",
        (Route::Catalog | Route::Discover | Route::Tags { .. } | Route::Referrers { .. }, _) => {
            "GET"
        }
        (Route::Manifest { .. }, true) => "GET, HEAD, PUT, DELETE",
        (Route::Manifest { .. }, false) => "GET, HEAD, PUT",
        (Route::Blob { .. }, true) => "GET, HEAD, DELETE",
        (Route::Blob { .. }, false) => "GET, HEAD",
        (Route::UploadStart { .. }, _) => "POST",
        (Route::Upload { .. }, _) => "GET, PATCH, PUT, DELETE",
        (Route::Extension { .. }, _) => unreachable!("extensions answer 404 for every method"),
    }
}

/// One line per request at debug; error answers always, with the route and the OCI code.
fn log_request(head: &RequestHead, response: &Response) {
    let (method, path, status) = (head.method.as_str(), head.path.as_str(), response.status);
    let code = response.error_code.unwrap_or("");
    if status >= 500 {
        let detail = response
            .error_detail
            .as_deref()
            .map_or("", |detail| &**detail);
        tracing::error!(method, path, status, code, detail, "request failed");
    } else if status == 404 && method == "HEAD" {
        // Clients ask "is it there?" with HEAD before every push of a blob or manifest; a
        // miss is the normal answer, not a refusal worth a warning.
        tracing::debug!(method, path, status, code, "request");
    } else if status >= 400 {
        tracing::warn!(method, path, status, code, "request refused");
    } else {
        tracing::debug!(method, path, status, "request");
    }
}

impl Registry {
    /// Creates repository `name` on its owner core if it does not exist (a first push).
    async fn ensure_repository(&self, name: &str) -> Result<(), Response> {
        let name = name.to_owned();
        let owner = self.shards.owner(&name);
        let outcome = self
            .run_on_core(owner, move |registry: Rc<Registry>| {
                Box::pin(async move {
                    let name = proto::oci::RepositoryName::parse(&name).expect("parsed before");
                    let _owner = registry.owner.lock().await;
                    let mut store = registry.store.borrow_mut();
                    store
                        .create_repository(name)
                        .await
                        .map(drop)
                        .map_err(|error| (error.error_code(), error.to_string()))
                })
            })
            .await;
        outcome.map_err(|(code, message)| error_response(code, &message))
    }

    /// Runs a request about repository `name` on its owner core: here, or forwarded.
    async fn on_owner(&self, name: &str, head: &RequestHead, body: Option<Vec<u8>>) -> Response {
        let owner = self.shards.owner(name);
        if owner == self.shards.core() {
            return handle_owned(self, head, body).await;
        }
        let head = head.clone();
        let forwarded = self
            .shards
            .run_on(owner, move |registry: Rc<Registry>| {
                Box::pin(async move {
                    Forwarded::from_response(handle_owned(&registry, &head, body).await)
                })
            })
            .await;
        forwarded.into_response()
    }
}

/// The requests that run on the repository's owner core, there.
async fn handle_owned(registry: &Registry, head: &RequestHead, body: Option<Vec<u8>>) -> Response {
    let path = match decode_path(head) {
        Ok(path) => path,
        Err(response) => return response,
    };
    let route = match parse_route(&path) {
        Ok(route) => route,
        Err(response) => return response,
    };
    match (route, head.method.as_str()) {
        (Route::Manifest { name, reference }, "PUT") => {
            let bytes = body.expect("the connection's core read the manifest");
            manifests::put(registry, head, bytes, name, reference).await
        }
        (Route::Manifest { name, reference }, "DELETE") => {
            manifests::delete(registry, name, reference).await
        }
        (Route::Tags { name }, "GET") => listing::tags(registry, head, name).await,
        (Route::Referrers { name, digest }, "GET") => {
            listing::referrers(registry, head, name, digest).await
        }
        (Route::Blob { name, digest }, "DELETE") => blobs::delete(registry, name, digest).await,
        _ => unreachable!("only owner routes are forwarded"),
    }
}

/// An answer made on the owner core, carried back to the connection's core. Owner routes answer
/// with bytes, never with a file, so this is all an answer needs.
struct Forwarded {
    status: u16,
    error_code: Option<&'static str>,
    error_detail: Option<Box<Box<str>>>,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Option<Vec<u8>>,
    head_length: Option<u64>,
    close: bool,
}

impl Forwarded {
    fn from_response(mut response: Response) -> Forwarded {
        let (body, head_length) = match std::mem::replace(&mut response.body, ResponseBody::Empty) {
            ResponseBody::Empty => (None, None),
            ResponseBody::Bytes(bytes) => (Some(bytes), None),
            ResponseBody::HeadOnly { length } => (None, Some(length)),
            ResponseBody::File { .. } | ResponseBody::FileParts { .. } => {
                unreachable!("owner routes never answer with a file")
            }
        };
        Forwarded {
            status: response.status,
            error_code: response.error_code,
            error_detail: response.error_detail.take(),
            headers: response.headers().to_vec(),
            body,
            head_length,
            close: response.close,
        }
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(self.status);
        for (name, value) in self.headers {
            response = response.header(name, value);
        }
        response.close = self.close;
        response.error_code = self.error_code;
        response.error_detail = self.error_detail;
        match (self.body, self.head_length) {
            (Some(bytes), _) => response.body(ResponseBody::Bytes(bytes)),
            (None, Some(length)) => response.body(ResponseBody::HeadOnly { length }),
            (None, None) => response,
        }
    }
}

fn with_version(response: Response) -> Response {
    response.header("Docker-Distribution-API-Version", "registry/2.0")
}

/// The manifest body, refused past `MANIFEST_BYTES_MAX` (413).
async fn read_manifest(body: &mut BodyReader<'_>) -> Result<Vec<u8>, Response> {
    match body.read_to_end(proto::limits::MANIFEST_BYTES_MAX).await {
        Ok(bytes) => Ok(bytes),
        Err(BodyError::TooLarge) => Err(error_response_with_status(
            ErrorCode::SizeInvalid,
            413,
            "manifest is larger than 4 MiB",
        )
        .closing()),
        Err(error) => Err(error_response(ErrorCode::ManifestInvalid, &error.to_string()).closing()),
    }
}

/// The percent-decoded path.
fn decode_path(head: &RequestHead) -> Result<String, Response> {
    let mut scratch = [0u8; REQUEST_LINE_BYTES_MAX];
    percent_decode_path(&head.path, &mut scratch)
        .map(str::to_owned)
        .map_err(|_| error_response(ErrorCode::NameInvalid, "path is not valid UTF-8"))
}

/// The route of a decoded path, or the OCI error for a path that names something invalid.
fn parse_route(path: &str) -> Result<Route<'_>, Response> {
    // No such endpoint: 404 as the spec's routes imply, with an OCI body saying why, so that
    // even a mistyped path gets a clear answer.
    let not_found = || error_response_with_status(ErrorCode::Unsupported, 404, "no such route");
    Route::parse(path).map_err(|error| match error {
        RouteError::NotFound => not_found(),
        RouteError::Name(error) => error_response(ErrorCode::NameInvalid, &error.to_string()),
        RouteError::Reference(error) => {
            error_response(ErrorCode::ManifestInvalid, &error.to_string())
        }
        RouteError::Digest(proto::oci::DigestError::UnsupportedAlgorithm) => {
            error_response(ErrorCode::Unsupported, "digest algorithm is not supported")
        }
        RouteError::Digest(error) => error_response(ErrorCode::DigestInvalid, &error.to_string()),
        RouteError::Session => error_response(ErrorCode::BlobUploadUnknown, "invalid session"),
        _ => not_found(),
    })
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
