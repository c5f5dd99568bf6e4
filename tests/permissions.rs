//! Permission errors: `zot serve` run as an unprivileged user (the tests run as root, as CI
//! does, and root's override would hide every such error) on a root it may not write, or where
//! single folders and files are taken away from it. Start-up refuses with the path and the
//! reason; a request that meets one fails alone with a 5xx OCI error, changes nothing, and the
//! server goes on serving everything else, and serves that request again once the operator
//! fixes the permission. Never a panic.

mod common;

use std::os::unix::fs::{PermissionsExt, chown};
use std::path::Path;

use common::binary::{MODES, ServeConfig, Served, mode_config, serve_config, serve_refused};
use common::{Client, Reply, RootGuard, sha256};

/// `nobody` on Debian (and most Linux systems): an id that owns nothing the test did not give it.
const UNPRIVILEGED: u32 = 65534;

/// Fails loudly unless the test runs as root: without root it can neither give files away nor
/// take them back, and CI must not skip this.
fn require_root() {
    // SAFETY: geteuid(2) has no preconditions and touches no memory.
    let user = unsafe { libc::geteuid() };
    assert_eq!(
        user, 0,
        "tests/permissions.rs needs root (CI runs as root) to run the server as another user; it never skips"
    );
}

/// Gives `path` and everything under it to `owner`.
fn give(path: &Path, owner: u32) {
    chown(path, Some(owner), Some(owner)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            give(&entry.unwrap().path(), owner);
        }
    }
}

/// Takes the folder `path` (not what is in it) from the server's user: it may still enter and
/// read it, but not add, rename or remove names there.
fn take_folder(path: &Path) {
    chown(path, Some(0), Some(0)).unwrap();
    set_mode(path, 0o755);
}

/// Sets `path`'s mode bits.
fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn manifest(config: &[u8], layer: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
        sha256(config),
        config.len(),
        sha256(layer),
        layer.len()
    )
    .into_bytes()
}

fn put_manifest(client: &mut Client, repository: &str, tag: &str, bytes: &[u8]) -> Reply {
    client.send(
        "PUT",
        &format!("/v2/{repository}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        bytes,
    )
}

/// Pushes a config, a layer and a manifest tagged `tag`; returns the manifest.
fn push_image(client: &mut Client, repository: &str, tag: &str, seed: u8) -> Vec<u8> {
    let config = format!("{{\"os\":\"linux\",\"seed\":{seed}}}").into_bytes();
    let layer = vec![seed; 64 * 1024];
    assert_eq!(client.post_blob(repository, &config).status, 201);
    assert_eq!(client.post_blob(repository, &layer).status, 201);
    let bytes = manifest(&config, &layer);
    assert_eq!(put_manifest(client, repository, tag, &bytes).status, 201);
    bytes
}

/// Asserts a refused request's answer: a 5xx with an OCI error body that says what failed
/// without saying where the root is (the log has the whole reason, paths included).
fn assert_server_error(reply: &Reply, root: &Path, what: &str) {
    assert!(
        (500..600).contains(&reply.status),
        "{what}: {}",
        reply.status
    );
    assert_eq!(reply.error_code(), "UNKNOWN", "{what}");
    let body = String::from_utf8_lossy(&reply.body);
    assert!(
        body.contains("Permission denied"),
        "{what}: the reason is given: {body}"
    );
    assert!(
        !body.contains(root.to_str().unwrap()),
        "{what}: the answer names a server path: {body}"
    );
}

/// No line the server wrote so far reports a panic, and the refused requests were logged as
/// failures with the path that failed.
fn assert_logged_without_panic(served: &Served, root: &Path) {
    let mut failures_with_paths = 0;
    while let Ok(line) = served.output.try_recv() {
        assert!(!line.contains("panicked"), "the server panicked: {line}");
        if line.contains("request failed") && line.contains(root.to_str().unwrap()) {
            failures_with_paths += 1;
        }
    }
    assert!(
        failures_with_paths >= 5,
        "each refused request is logged with its path ({failures_with_paths} were)"
    );
}

/// Starts `zot serve` as the unprivileged user on `root`, expecting the refusal of a root it may
/// not use: exit 1, "Permission denied", no panic. Returns its stderr.
fn refused_as_unprivileged(root: &Path) -> String {
    let (code, stderr) = serve_refused(ServeConfig {
        root: Some(root.to_path_buf()),
        user: Some(UNPRIVILEGED),
        ..ServeConfig::new("auto", 1)
    });
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("permission denied"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_root_the_user_cannot_write_or_read_refuses_the_start_with_the_reason() {
    require_root();
    let folder = common::temporary_root("permissions-start", "auto");
    let _guard = RootGuard(folder.clone());
    // Owned by root and not writable by others: no lock file, no repository can be made.
    let root = folder.join("data");
    std::fs::create_dir_all(&root).unwrap();
    set_mode(&root, 0o755);
    let stderr = refused_as_unprivileged(&root);
    assert!(stderr.contains(root.to_str().unwrap()), "{stderr}");
    // Not even readable: refused the same way, before any port is bound.
    set_mode(&root, 0o700);
    refused_as_unprivileged(&root);
    // A root whose parent the user cannot enter, and that does not exist yet.
    let hidden = folder.join("hidden");
    std::fs::create_dir_all(&hidden).unwrap();
    set_mode(&hidden, 0o700);
    refused_as_unprivileged(&hidden.join("data"));
}

#[test]
fn permission_errors_fail_one_request_and_change_nothing() {
    require_root();
    for mode in MODES {
        let folder = common::temporary_root("permissions", mode.0);
        let _guard = RootGuard(folder.clone());
        let root = folder.join("data");
        std::fs::create_dir_all(&root).unwrap();
        give(&root, UNPRIVILEGED);
        let served = serve_config(ServeConfig {
            root: Some(root.clone()),
            user: Some(UNPRIVILEGED),
            ..mode_config(mode, 2)
        });
        let mut client = Client::connect(served.address);
        let open_manifest = push_image(&mut client, "open/app", "v1", 1);
        let locked_manifest = push_image(&mut client, "locked/app", "v1", 2);
        let locked = root.join("locked/app");

        // blobs/sha256 taken away: a new blob cannot be named there.
        let blobs = locked.join("blobs/sha256");
        take_folder(&blobs);
        let new_layer = vec![3u8; 100 * 1024];
        let new_digest = sha256(&new_layer);
        assert_server_error(
            &client.post_blob("locked/app", &new_layer),
            &root,
            "a monolithic push into an unwritable blobs/",
        );
        let mut client = Client::connect(served.address);
        let reply = client.send(
            "HEAD",
            &format!("/v2/locked/app/blobs/{new_digest}"),
            &[],
            b"",
        );
        assert_eq!(reply.status, 404, "nothing partial is visible");
        // A chunked upload: its chunks land in .uploads/, which is still writable; the PUT that
        // publishes fails, and the session stays where it was for the retry.
        let reply = client.send("POST", "/v2/locked/app/blobs/uploads/", &[], b"");
        assert_eq!(reply.status, 202);
        let location = reply.header("Location").unwrap().to_owned();
        let reply = client.send("PATCH", &location, &[], &new_layer);
        assert_eq!(reply.status, 202);
        let reply = client.send("PUT", &format!("{location}?digest={new_digest}"), &[], b"");
        assert_server_error(
            &reply,
            &root,
            "the PUT that publishes into an unwritable blobs/",
        );
        let mut client = Client::connect(served.address);
        // Reads of the same repository go on, and other repositories take pushes.
        let reply = client.get("/v2/locked/app/manifests/v1");
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (200, locked_manifest.as_slice())
        );
        push_image(&mut client, "open/app", "v2", 4);

        // The repository folder taken away: index.json cannot be replaced.
        take_folder(&locked);
        let other = manifest(b"{\"os\":\"linux\",\"seed\":2}", &[2u8; 64 * 1024]);
        let mut other_tagged = other.clone();
        other_tagged.push(b' ');
        assert_server_error(
            &put_manifest(&mut client, "locked/app", "v2", &other_tagged),
            &root,
            "a manifest put into an unwritable repository",
        );
        let mut client = Client::connect(served.address);
        assert_eq!(
            client.get("/v2/locked/app/tags/list").json()["tags"],
            serde_json::json!(["v1"]),
            "the refused put changed no tag"
        );
        let reply = client.send(
            "DELETE",
            &format!("/v2/locked/app/manifests/{}", sha256(&locked_manifest)),
            &[],
            b"",
        );
        assert_server_error(
            &reply,
            &root,
            "a manifest delete in an unwritable repository",
        );
        let mut client = Client::connect(served.address);
        let reply = client.get("/v2/locked/app/manifests/v1");
        assert_eq!(reply.status, 200, "the refused delete removed nothing");

        // A new repository under a folder the user does not own.
        let team = root.join("team");
        std::fs::create_dir_all(&team).unwrap();
        set_mode(&team, 0o755);
        assert_server_error(
            &client.post_blob("team/app", b"layer"),
            &root,
            "a push that creates a repository under an unwritable folder",
        );
        let mut client = Client::connect(served.address);
        let catalog = client.get("/v2/_catalog").json();
        assert!(
            !catalog["repositories"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("team/app")),
            "{catalog}"
        );

        // A blob file the user may not read: its GET fails alone.
        let open_layer = vec![1u8; 64 * 1024];
        let open_layer_digest = sha256(&open_layer);
        let (_, encoded) = open_layer_digest.split_once(':').unwrap();
        let layer_file = root.join("open/app/blobs/sha256").join(encoded);
        // Owned by root with 0600: the server's user can no longer open it.
        chown(&layer_file, Some(0), Some(0)).unwrap();
        set_mode(&layer_file, 0o600);
        let reply = client.get(&format!("/v2/open/app/blobs/{open_layer_digest}"));
        assert_server_error(&reply, &root, "a GET of an unreadable blob");
        let mut client = Client::connect(served.address);
        let reply = client.get("/v2/open/app/manifests/v1");
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (200, open_manifest.as_slice())
        );

        // The operator fixes the permissions: everything refused above now works, the session
        // included.
        give(&root, UNPRIVILEGED);
        let reply = client.get(&format!("/v2/open/app/blobs/{open_layer_digest}"));
        assert_eq!(
            (reply.status, sha256(&reply.body)),
            (200, open_layer_digest.clone())
        );
        let status = client.get(&location);
        assert_eq!(status.status, 204, "the session survived its failed PUT");
        let reply = client.send("PUT", &format!("{location}?digest={new_digest}"), &[], b"");
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(
            put_manifest(&mut client, "locked/app", "v2", &other_tagged).status,
            201
        );
        assert_eq!(client.post_blob("team/app", b"layer").status, 201);
        drop(client);
        assert_logged_without_panic(&served, &root);
        served.stop();
    }
}
