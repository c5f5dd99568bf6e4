//! The registry's on-disk store. Empty until the storage-engine issue lands: see
//! `docs/ARCHITECTURE.md` for what will live here (OCI image layouts, streaming digests, atomic
//! commits, resumable uploads, zero-copy reads). Nothing here pretends to store anything yet.
