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

pub use digest::{Algorithm, Digest, DigestBuf, DigestError};
pub use error_code::{BodyTooLarge, ErrorCode, ErrorEntry};
pub use manifest::{
    Descriptor, DescriptorLocation, DescriptorProblem, Document, ImageIndex, ImageManifest,
    JsonProblem, ManifestError, ParsedManifest, Platform,
};
pub use media_type::{ManifestKind, MediaTypeError};
pub use name::{NameError, RepositoryName};
pub use reference::{Reference, ReferenceError};
pub use route::{Route, RouteError};
pub use tag::{Tag, TagError};
