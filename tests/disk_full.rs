//! A registry whose file system fills up: pushes fail with a 5xx OCI error and leave nothing
//! partial visible, reads keep working, and pushes succeed again once there is room. The file
//! system is a size-limited tmpfs the test mounts (the tests run as root, as CI does).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::binary::{MODES, ServeConfig, mode_config, serve_config};
use common::{Client, RootGuard, sha256};

/// A tmpfs of a given size, unmounted (and its folder removed) when dropped.
struct SmallFileSystem {
    mount_point: PathBuf,
}

impl SmallFileSystem {
    fn mount(mount_point: &Path, size_mebibytes: u32) -> SmallFileSystem {
        std::fs::create_dir_all(mount_point).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size_mebibytes}m"),
                "tmpfs",
            ])
            .arg(mount_point)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mounting a tmpfs failed: this test needs root (CI runs as root) and never skips"
        );
        SmallFileSystem {
            mount_point: mount_point.to_owned(),
        }
    }

    /// Grows the file system: what an operator freeing space looks like to the registry.
    fn grow(&self, size_mebibytes: u32) {
        self.remount(&format!("size={size_mebibytes}m"));
    }

    /// Remounts with `options` (`ro`, `rw`, `size=…`).
    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.mount_point)
            .status()
            .unwrap();
        assert!(status.success(), "remount,{options}");
    }
}

impl Drop for SmallFileSystem {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("--lazy")
            .arg(&self.mount_point)
            .status();
    }
}

fn push_blob(client: &mut Client, repository: &str, bytes: &[u8]) -> (u16, String) {
    let reply = client.post_blob(repository, bytes);
    let code = if reply.status >= 400 {
        reply.error_code()
    } else {
        String::new()
    };
    (reply.status, code)
}

fn manifest(config: &str, config_size: usize, layer: &str, layer_size: usize) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
    )
    .into_bytes()
}

#[test]
fn a_full_disk_refuses_pushes_cleanly_keeps_reads_and_recovers() {
    for mode in MODES {
        let folder = common::temporary_root("disk-full", mode.0);
        let _guard = RootGuard(folder.clone());
        let small = SmallFileSystem::mount(&folder.join("mount"), 6);
        let served = serve_config(ServeConfig {
            root: Some(small.mount_point.join("data")),
            ..mode_config(mode, 2)
        });
        let mut client = Client::connect(served.address);
        // An image that fits.
        let config = b"{\"os\":\"linux\"}".to_vec();
        let layer = vec![7u8; 512 * 1024];
        assert_eq!(push_blob(&mut client, "fits", &config).0, 201);
        assert_eq!(push_blob(&mut client, "fits", &layer).0, 201);
        let fits = manifest(&sha256(&config), config.len(), &sha256(&layer), layer.len());
        let reply = client.send(
            "PUT",
            "/v2/fits/manifests/v1",
            &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            &fits,
        );
        assert_eq!(reply.status, 201);

        // A layer larger than the room left: monolithic, then streamed in a session.
        let big: Vec<u8> = (0..8 * 1024 * 1024u32)
            .map(|index| (index % 251) as u8)
            .collect();
        let big_digest = sha256(&big);
        let (status, code) = push_blob(&mut client, "big", &big);
        assert!((500..600).contains(&status), "monolithic push: {status}");
        assert_eq!(code, "UNKNOWN");
        let mut client = Client::connect(served.address);
        let reply = client.send("POST", "/v2/big/blobs/uploads/", &[], b"");
        assert_eq!(reply.status, 202);
        let location = reply.header("Location").unwrap().to_owned();
        let reply = client.send("PATCH", &location, &[], &big);
        assert!(
            (500..600).contains(&reply.status),
            "PATCH: {}",
            reply.status
        );
        assert!(!reply.body.is_empty(), "an OCI error body");
        let mut client = Client::connect(served.address);
        // Nothing partial is visible: no blob, the session where it was.
        let reply = client.send("HEAD", &format!("/v2/big/blobs/{big_digest}"), &[], b"");
        assert_eq!(reply.status, 404);
        let status = client.get(&location);
        assert_eq!((status.status, status.header("Range")), (204, Some("0-0")));
        // Reads go on.
        let reply = client.get("/v2/fits/manifests/v1");
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (200, fits.as_slice())
        );
        let reply = client.get(&format!("/v2/fits/blobs/{}", sha256(&layer)));
        assert_eq!((reply.status, reply.body.len()), (200, layer.len()));
        assert_eq!(
            client.get("/v2/fits/tags/list").json()["tags"],
            serde_json::json!(["v1"])
        );

        // Room again: the same pushes succeed, the session included.
        small.grow(64);
        let reply = client.send("PATCH", &location, &[], &big);
        assert_eq!(
            reply.status,
            202,
            "{:?}",
            String::from_utf8_lossy(&reply.body)
        );
        let reply = client.send("PUT", &format!("{location}?digest={big_digest}"), &[], b"");
        assert_eq!(reply.status, 201);
        assert_eq!(push_blob(&mut client, "big", &config).0, 201);
        let big_manifest = manifest(&sha256(&config), config.len(), &big_digest, big.len());
        let reply = client.send(
            "PUT",
            "/v2/big/manifests/v1",
            &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            &big_manifest,
        );
        assert_eq!(reply.status, 201);
        let reply = client.get(&format!("/v2/big/blobs/{big_digest}"));
        assert_eq!(sha256(&reply.body), big_digest);
        drop(client);
        served.stop();
        drop(small);
    }
}

#[test]
fn a_read_only_root_refuses_the_start_with_the_reason() {
    let folder = common::temporary_root("read-only", "auto");
    let _guard = RootGuard(folder.clone());
    let small = SmallFileSystem::mount(&folder.join("mount"), 16);
    let root = small.mount_point.join("data");
    let config = || ServeConfig {
        root: Some(root.clone()),
        ..ServeConfig::new("auto", 2)
    };
    let served = serve_config(config());
    let mut client = Client::connect(served.address);
    assert_eq!(push_blob(&mut client, "kept", &[3u8; 4096]).0, 201);
    drop(client);
    served.stop();
    // A server cannot run on a root it cannot write (its lock file, its uploads): it says so at
    // once and exits 1. A running server keeps its lock file open for writing, so the kernel
    // refuses to make its file system read-only underneath it.
    small.remount("ro");
    let (code, stderr) = common::binary::serve_refused(config());
    small.remount("rw");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    // Writable again: it starts and serves what it had.
    let served = serve_config(config());
    let mut client = Client::connect(served.address);
    let reply = client.send(
        "HEAD",
        &format!("/v2/kept/blobs/{}", sha256(&[3u8; 4096])),
        &[],
        b"",
    );
    assert_eq!(reply.status, 200);
    drop(client);
    served.stop();
}
