//! The keys zot reads that this build does not implement, section by section, so that loading
//! tells them apart from typos: a zot key is reported as not implemented (or refused when ignoring
//! it is unsafe), any other leftover key as unknown.
//!
//! Source: zot's `pkg/api/config/config.go` (the `Config`, `GlobalStorageConfig`,
//! `StorageConfig`, `HTTPConfig` and `LogConfig` structs) and its generated
//! `pkg/cli/server/zot-config-schema.json`. Names are written in zot's documented spelling;
//! matching ignores case, as zot's loader does.

/// A zot key this build reads no further than its name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ZotKey {
    /// The key's name within its object.
    pub(crate) name: &'static str,
    /// When set, a non-null value stops start-up, ending the sentence "ignoring it would ...".
    pub(crate) refusal: Option<&'static str>,
}

const fn ignored(name: &'static str) -> ZotKey {
    ZotKey {
        name,
        refusal: None,
    }
}

const fn refused(name: &'static str, refusal: &'static str) -> ZotKey {
    ZotKey {
        name,
        refusal: Some(refusal),
    }
}

/// Top-level keys. zot also decodes its build facts (`goVersion`, `commit`, ...) from a config
/// when present, so a config written back by zot can hold them.
pub(crate) const TOP_LEVEL: &[ZotKey] = &[
    ignored("extensions"),
    ignored("scheduler"),
    ignored("cluster"),
    ignored("goVersion"),
    ignored("commit"),
    ignored("releaseTag"),
    ignored("binaryType"),
];

/// Keys of `storage` and of each `storage.subPaths` entry (zot decodes both as `StorageConfig`).
/// `gcReferrers` and `untaggedImageRetentionDelay` come from zot releases before retention
/// policies; `remoteSessionCache` and `sessionDriver` from the newest.
pub(crate) const STORAGE: &[ZotKey] = &[
    ignored("remoteCache"),
    ignored("gc"),
    ignored("gcDelay"),
    ignored("gcInterval"),
    ignored("gcMaxSchedulerDelay"),
    ignored("gcReferrers"),
    ignored("untaggedImageRetentionDelay"),
    ignored("retention"),
    ignored("storageDriver"),
    ignored("cacheDriver"),
    ignored("remoteSessionCache"),
    ignored("sessionDriver"),
];

/// Keys of `http`. Serving without the authentication, authorization or TLS a config asks for
/// would expose the registry, so those stop start-up instead of being ignored.
pub(crate) const HTTP: &[ZotKey] = &[
    ignored("externalUrl"),
    ignored("allowOrigin"),
    ignored("ratelimit"),
    refused("tls", "serve plain HTTP where TLS was asked for"),
    refused(
        "auth",
        "let anyone in without the authentication it asks for",
    ),
    refused("accessControl", "give everyone access the policy denies"),
];

/// Keys of `log`.
pub(crate) const LOG: &[ZotKey] = &[ignored("audit")];

/// Keys of `runtime`: this section is this build's own, so zot knows none of them.
pub(crate) const RUNTIME: &[ZotKey] = &[];
