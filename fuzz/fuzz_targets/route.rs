//! Fuzz target: the router, repository names and references never panic, and what they accept
//! is borrowed from the input, re-parses to itself and keeps the path-traversal guarantees.
#![no_main]

use proto::limits::{REPOSITORY_NAME_BYTES_MAX, REPOSITORY_NAME_COMPONENTS_MAX};
use proto::oci::{Reference, RepositoryName, Route};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    check_route(text);
    check_name(text);
    check_reference(text);
});

/// Whether `part` lies inside `whole` in memory, i.e. was borrowed from it.
fn is_borrowed_from(part: &str, whole: &str) -> bool {
    let start = part.as_ptr() as usize;
    let whole_start = whole.as_ptr() as usize;
    start >= whole_start && start + part.len() <= whole_start + whole.len()
}

fn check_route(path: &str) {
    let Ok(route) = Route::parse(path) else {
        return;
    };
    assert!(path.starts_with("/v2"), "{path:?} routed outside /v2");
    let formatted = route.to_string();
    assert_eq!(
        Route::parse(&formatted),
        Ok(route),
        "{path:?} does not round-trip"
    );
    if let Some(name) = route.name() {
        assert!(
            is_borrowed_from(name.as_str(), path),
            "{path:?}: name not borrowed"
        );
        assert_eq!(RepositoryName::parse(name.as_str()), Ok(name));
        assert_name_is_safe_on_disk(name.as_str());
    }
    match route {
        Route::Manifest { reference, .. } => {
            assert!(is_borrowed_from(reference.as_str(), path));
            assert_eq!(Reference::parse(reference.as_str()), Ok(reference));
            assert!(path.ends_with(reference.as_str()));
        }
        Route::Blob { digest, .. } | Route::Referrers { digest, .. } => {
            assert!(is_borrowed_from(digest.as_str(), path));
            assert!(path.ends_with(digest.as_str()));
        }
        Route::Upload { session, .. } => {
            assert!(is_borrowed_from(session, path));
            assert!(!session.is_empty());
            assert!(
                session
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            );
        }
        Route::Extension { path: extension } => {
            assert!(is_borrowed_from(extension, path));
            assert!(extension.starts_with("_zot/ext/"));
        }
        _ => {}
    }
}

fn check_name(text: &str) {
    let Ok(name) = RepositoryName::parse(text) else {
        return;
    };
    assert_eq!(name.as_str(), text);
    assert_eq!(RepositoryName::parse(name.as_str()), Ok(name));
    assert!(text.len() <= REPOSITORY_NAME_BYTES_MAX);
    assert!(name.components().count() <= REPOSITORY_NAME_COMPONENTS_MAX);
    assert_eq!(name.components().collect::<Vec<_>>().join("/"), text);
    assert_name_is_safe_on_disk(text);
}

/// The guarantees the storage layer relies on when it turns a name into folders.
fn assert_name_is_safe_on_disk(name: &str) {
    assert!(!name.is_empty());
    assert!(!name.starts_with('/') && !name.ends_with('/'), "{name:?}");
    assert!(!name.contains("//"), "{name:?}");
    for component in name.split('/') {
        assert!(component != "." && component != "..", "{name:?}");
        assert!(!component.starts_with('.'), "{name:?}");
    }
    assert!(
        name.bytes().all(|b| b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || matches!(b, b'.' | b'_' | b'-' | b'/')),
        "{name:?}"
    );
}

fn check_reference(text: &str) {
    let Ok(reference) = Reference::parse(text) else {
        return;
    };
    assert_eq!(reference.as_str(), text);
    assert_eq!(reference.is_digest(), text.contains(':'));
    assert_eq!(reference.as_digest().is_some(), reference.is_digest());
    assert_eq!(reference.as_tag().is_some(), !reference.is_digest());
    assert_eq!(Reference::parse(&reference.to_string()), Ok(reference));
}
