//! The OCI Distribution wire types: repository names, tags, digests, references, the route table,
//! manifests and media types, and the error codes with their JSON body.

pub mod digest;
pub mod error_code;
pub mod manifest;
pub mod media_type;
pub mod name;
pub mod reference;
pub mod route;
pub mod tag;

pub use digest::{Algorithm, Digest, DigestError};
pub use name::{NameError, RepositoryName};
pub use reference::{Reference, ReferenceError};
pub use route::{Route, RouteError};
pub use tag::{Tag, TagError};
