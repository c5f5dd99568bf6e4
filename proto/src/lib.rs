//! Pure, runtime-free wire code shared by the server, the client and the load generator.
//!
//! - [`http1`]: an incremental, allocation-free HTTP/1.1 request parser, chunked body decoder,
//!   header-value helpers and a response head writer.
//! - [`oci`]: the OCI Distribution wire types: repository names, tags, digests, the route table,
//!   manifests and the error codes.
//! - [`limits`]: every bound the wire code enforces, by name.
//!
//! Nothing in this crate performs I/O or depends on an async runtime; every function works on
//! byte slices the caller owns, so the same code serves io_uring, epoll and tests alike.

#![deny(clippy::undocumented_unsafe_blocks)]
#![forbid(unsafe_op_in_unsafe_fn)]

mod cursor;
pub mod http1;
pub mod limits;
pub mod oci;
