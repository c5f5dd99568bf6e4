//! The registry's on-disk store: one OCI image layout per repository, laid out as zot lays it
//! out. `docs/design.md` is the specification: the format, its numbered invariants (I1 to I12)
//! and what survives a crash at each step.
//!
//! Being built (issue 3). What exists so far is the pure part, with no I/O:
//! - [`index`]: a repository's `index.json`, its tags and manifests, and the changes the owner
//!   core makes to it.
//! - [`upload_state`]: the `.state` record that makes an upload resumable after a restart.
//!
//! The file I/O on monoio, the commit protocol and the in-memory indexes come next.

pub mod index;
pub mod invariants;
pub mod limits;
pub mod upload_state;
#[doc(hidden)]
pub mod zot_fixture;
