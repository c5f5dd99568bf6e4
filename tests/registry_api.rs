//! The distribution API against the real `zot` binary on loopback, two cores, in both modes
//! (io_uring with a listener per core; legacy with one acceptor): every route's status codes,
//! headers and error codes, and that refused requests change nothing. Two cores, so requests
//! reach repositories another core owns. Malformed, smuggling and path-traversing requests are
//! tests/hostile_http.rs's catalogue.

mod common;

use common::binary::{MODES, ServeConfig, mode_config, serve_config};
use common::{Client, sha256};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn on_both_drivers(test: impl Fn(&mut Client)) {
    on_both_drivers_with(|config| config, test);
}

/// Runs `test` against a server of each mode whose config `configure` adjusted, then stops it.
fn on_both_drivers_with(
    configure: impl Fn(ServeConfig) -> ServeConfig,
    test: impl Fn(&mut Client),
) {
    for mode in MODES {
        let served = serve_config(configure(mode_config(mode, 2)));
        let mut client = Client::connect(served.address);
        test(&mut client);
        drop(client);
        served.stop();
    }
}

/// Pushes `bytes` as a blob of `repository` with a monolithic POST; returns its digest.
fn push_blob(client: &mut Client, repository: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let reply = client.send(
        "POST",
        &format!("/v2/{repository}/blobs/uploads/?digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        bytes,
    );
    assert_eq!(
        reply.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("Docker-Content-Digest"), Some(digest.as_str()));
    assert_eq!(
        reply.header("Location"),
        Some(format!("/v2/{repository}/blobs/{digest}").as_str())
    );
    digest
}

/// An image manifest over a pushed config and layer.
fn image(client: &mut Client, repository: &str, seed: &str) -> Vec<u8> {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":"{seed}"}}"#);
    let layer = format!("layer of {seed}").repeat(100);
    let config_digest = push_blob(client, repository, config.as_bytes());
    let layer_digest = push_blob(client, repository, layer.as_bytes());
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    )
    .into_bytes()
}

#[test]
fn api_version() {
    on_both_drivers(|client| {
        for path in ["/v2/", "/v2"] {
            let reply = client.get(path);
            assert_eq!(reply.status, 200);
            assert_eq!(
                reply.header("Docker-Distribution-API-Version"),
                Some("registry/2.0")
            );
        }
        assert_eq!(client.get("/v3/").status, 404);
        // HEAD answers carry no body, errors included: the next answer follows at once.
        let reply = client.send("HEAD", "/v2/", &[], b"");
        assert_eq!(
            (reply.status, reply.header("Content-Length")),
            (200, Some("2"))
        );
        let missing = sha256(b"missing");
        let reply = client.send("HEAD", &format!("/v2/nothing/blobs/{missing}"), &[], b"");
        assert_eq!(reply.status, 404);
        assert_eq!(client.get("/v2/").body, b"{}");
    });
}

#[test]
fn blobs_head_get_and_ranges() {
    on_both_drivers(|client| {
        let bytes: Vec<u8> = (0..100_000u32).map(|n| (n % 251) as u8).collect();
        let digest = push_blob(client, "library/data", &bytes);
        let path = format!("/v2/library/data/blobs/{digest}");
        let reply = client.send("HEAD", &path, &[], b"");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("Content-Length"), Some("100000"));
        assert_eq!(reply.header("Accept-Ranges"), Some("bytes"));
        assert_eq!(reply.header("Docker-Content-Digest"), Some(digest.as_str()));
        let reply = client.get(&path);
        assert_eq!(reply.status, 200);
        assert!(reply.body == bytes);
        let reply = client.send("GET", &path, &[("Range", "bytes=10-19")], b"");
        assert_eq!(reply.status, 206);
        assert_eq!(reply.header("Content-Range"), Some("bytes 10-19/100000"));
        assert_eq!(reply.body, bytes[10..20]);
        let reply = client.send("GET", &path, &[("Range", "bytes=-5")], b"");
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (206, &bytes[99_995..])
        );
        // Several ranges: multipart/byteranges, each part with its Content-Range.
        let reply = client.send("GET", &path, &[("Range", "bytes=0-3, 99998-")], b"");
        assert_eq!(reply.status, 206);
        let content_type = reply.header("Content-Type").unwrap().to_owned();
        let boundary = content_type
            .strip_prefix("multipart/byteranges; boundary=")
            .expect("a multipart answer");
        let mut expected = Vec::new();
        for (range, bytes) in [("0-3", &bytes[..4]), ("99998-99999", &bytes[99_998..])] {
            expected.extend_from_slice(
                format!("\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {range}/100000\r\n\r\n").as_bytes(),
            );
            expected.extend_from_slice(bytes);
        }
        expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        assert_eq!(reply.body, expected);
        // Ranges that make no sense are ignored: the whole blob.
        let reply = client.send("GET", &path, &[("Range", "lines=1-2")], b"");
        assert_eq!((reply.status, reply.body.len()), (200, 100_000));
        let reply = client.send("GET", &path, &[("Range", "bytes=200000-")], b"");
        assert_eq!(reply.status, 416);
        assert_eq!(reply.header("Content-Range"), Some("bytes */100000"));
        // Unknown blob, bad digest, unsupported algorithm.
        let missing = sha256(b"missing");
        let reply = client.get(&format!("/v2/library/data/blobs/{missing}"));
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (404, "BLOB_UNKNOWN")
        );
        let reply = client.get("/v2/library/data/blobs/sha256:abc");
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (400, "DIGEST_INVALID")
        );
        let reply = client.get(&format!("/v2/library/data/blobs/md5:{}", "a".repeat(32)));
        assert_eq!(reply.error_code(), "UNSUPPORTED");
    });
}

#[test]
fn chunked_uploads_with_ranges_status_and_digest_checks() {
    on_both_drivers(|client| {
        let reply = client.send("POST", "/v2/chunks/blobs/uploads/", &[], b"");
        assert_eq!(reply.status, 202);
        assert_eq!(reply.header("Range"), Some("0-0"));
        let location = reply.header("Location").unwrap().to_owned();
        let uuid = reply.header("Docker-Upload-UUID").unwrap().to_owned();
        assert!(location.starts_with("/v2/chunks/blobs/uploads/") && location.ends_with(&uuid));
        let reply = client.send("PATCH", &location, &[("Content-Range", "0-4")], b"hello");
        assert_eq!(reply.status, 202);
        assert_eq!(reply.header("Range"), Some("0-4"));
        // Out of order and overlapping chunks: 416, and nothing changes.
        for range in ["10-14", "2-6"] {
            let reply = client.send("PATCH", &location, &[("Content-Range", range)], b"xxxxx");
            assert_eq!(
                (reply.status, reply.error_code().as_str()),
                (416, "RANGE_INVALID")
            );
        }
        // Streamed chunk without Content-Range.
        let reply = client.send("PATCH", &location, &[], b" world");
        assert_eq!((reply.status, reply.header("Range")), (202, Some("0-10")));
        let reply = client.get(&location);
        assert_eq!((reply.status, reply.header("Range")), (204, Some("0-10")));
        // A wrong digest: 400, and the session is still there.
        let wrong = sha256(b"other");
        let reply = client.send("PUT", &format!("{location}?digest={wrong}"), &[], b"");
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (400, "DIGEST_INVALID")
        );
        let digest = sha256(b"hello world!");
        let reply = client.send("PUT", &format!("{location}?digest={digest}"), &[], b"!");
        assert_eq!(reply.status, 201);
        assert_eq!(reply.header("Docker-Content-Digest"), Some(digest.as_str()));
        assert_eq!(
            client.get(&format!("/v2/chunks/blobs/{digest}")).body,
            b"hello world!"
        );
        // The session is gone.
        let reply = client.get(&location);
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (404, "BLOB_UPLOAD_UNKNOWN")
        );
        // Cancel.
        let reply = client.send("POST", "/v2/chunks/blobs/uploads/", &[], b"");
        let location = reply.header("Location").unwrap().to_owned();
        assert_eq!(client.send("DELETE", &location, &[], b"").status, 204);
        assert_eq!(client.get(&location).status, 404);
        let reply = client.get("/v2/chunks/blobs/uploads/not-a-session");
        assert_eq!(reply.error_code(), "BLOB_UPLOAD_UNKNOWN");
    });
}

#[test]
fn manifests_tags_catalog_and_deletes() {
    on_both_drivers(|client| {
        let body = image(client, "app", "one");
        let reply = client.send(
            "PUT",
            "/v2/app/manifests/v1?tag=latest&tag=stable",
            &[("Content-Type", OCI_MANIFEST)],
            &body,
        );
        assert_eq!(
            reply.status,
            201,
            "{:?}",
            String::from_utf8_lossy(&reply.body)
        );
        let digest = sha256(&body);
        assert_eq!(reply.header("Docker-Content-Digest"), Some(digest.as_str()));
        assert_eq!(
            reply.header("Location"),
            Some(format!("/v2/app/manifests/{digest}").as_str())
        );
        for reference in ["v1", "latest", "stable", digest.as_str()] {
            let reply = client.get(&format!("/v2/app/manifests/{reference}"));
            assert_eq!(reply.status, 200);
            assert_eq!(reply.header("Content-Type"), Some(OCI_MANIFEST));
            assert_eq!(reply.body, body);
            let reply = client.send("HEAD", &format!("/v2/app/manifests/{reference}"), &[], b"");
            assert_eq!(
                reply.header("Content-Length"),
                Some(body.len().to_string().as_str())
            );
        }
        let reply = client.get("/v2/app/tags/list");
        assert_eq!(
            reply.json()["tags"],
            serde_json::json!(["latest", "stable", "v1"])
        );
        let reply = client.get("/v2/app/tags/list?n=2");
        assert_eq!(
            reply.json()["tags"],
            serde_json::json!(["latest", "stable"])
        );
        assert_eq!(
            reply.header("Link"),
            Some("</v2/app/tags/list?last=stable&n=2>; rel=\"next\"")
        );
        let reply = client.get("/v2/app/tags/list?n=2&last=stable");
        assert_eq!(reply.json()["tags"], serde_json::json!(["v1"]));
        assert_eq!(reply.header("Link"), None);
        let reply = client.get("/v2/app/tags/list?n=x");
        assert_eq!(reply.error_code(), "PAGINATION_NUMBER_INVALID");
        let reply = client.get("/v2/_catalog");
        assert_eq!(reply.json()["repositories"], serde_json::json!(["app"]));
        // A manifest naming a missing blob changes nothing.
        let missing = sha256(b"never pushed");
        let bad = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{missing}","size":3}},"layers":[]}}"#
        );
        let reply = client.send(
            "PUT",
            "/v2/app/manifests/v1",
            &[("Content-Type", OCI_MANIFEST)],
            bad.as_bytes(),
        );
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (400, "MANIFEST_BLOB_UNKNOWN")
        );
        assert_eq!(client.get("/v2/app/manifests/v1").body, body);
        let reply = client.send(
            "PUT",
            "/v2/app/manifests/v2",
            &[("Content-Type", OCI_MANIFEST)],
            b"{oops",
        );
        assert_eq!(reply.error_code(), "MANIFEST_INVALID");
        // A referenced blob cannot be deleted; a tag and then the manifest can.
        let layer = sha256("layer of one".repeat(100).as_bytes());
        let reply = client.send("DELETE", &format!("/v2/app/blobs/{layer}"), &[], b"");
        assert_eq!(reply.error_code(), "DENIED");
        assert_eq!(
            client
                .send("DELETE", "/v2/app/manifests/stable", &[], b"")
                .status,
            202
        );
        assert_eq!(
            client.get("/v2/app/manifests/stable").error_code(),
            "MANIFEST_UNKNOWN"
        );
        assert_eq!(
            client
                .send("DELETE", &format!("/v2/app/manifests/{digest}"), &[], b"")
                .status,
            202
        );
        assert_eq!(client.get("/v2/app/manifests/v1").status, 404);
        assert_eq!(
            client
                .send("DELETE", &format!("/v2/app/blobs/{layer}"), &[], b"")
                .status,
            202
        );
        assert_eq!(client.get(&format!("/v2/app/blobs/{layer}")).status, 404);
        // Names: invalid and unknown.
        assert_eq!(
            client.get("/v2/UPPER/tags/list").error_code(),
            "NAME_INVALID"
        );
        assert_eq!(
            client.get("/v2/nobody/tags/list").error_code(),
            "NAME_UNKNOWN"
        );
        assert_eq!(
            client.get("/v2/nobody/manifests/latest").error_code(),
            "NAME_UNKNOWN"
        );
    });
}

#[test]
fn referrers_and_mounts() {
    on_both_drivers(|client| {
        let body = image(client, "signed", "subject");
        let subject = sha256(&body);
        assert_eq!(
            client
                .send(
                    "PUT",
                    "/v2/signed/manifests/v1",
                    &[("Content-Type", OCI_MANIFEST)],
                    &body
                )
                .status,
            201
        );
        let empty = push_blob(client, "signed", b"{}");
        let signature = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/vnd.example.sig","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":{}}}}}"#,
            body.len()
        );
        let signature_digest = sha256(signature.as_bytes());
        let reply = client.send(
            "PUT",
            &format!("/v2/signed/manifests/{signature_digest}"),
            &[("Content-Type", OCI_MANIFEST)],
            signature.as_bytes(),
        );
        assert_eq!(reply.status, 201);
        assert_eq!(reply.header("OCI-Subject"), Some(subject.as_str()));
        let reply = client.get(&format!("/v2/signed/referrers/{subject}"));
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header("Content-Type"),
            Some("application/vnd.oci.image.index.v1+json")
        );
        let index = reply.json();
        assert_eq!(index["manifests"][0]["digest"], signature_digest);
        assert_eq!(
            index["manifests"][0]["artifactType"],
            "application/vnd.example.sig"
        );
        let reply = client.get(&format!(
            "/v2/signed/referrers/{subject}?artifactType=application/vnd.example.sbom"
        ));
        assert_eq!(reply.header("OCI-Filters-Applied"), Some("artifactType"));
        assert_eq!(reply.json()["manifests"], serde_json::json!([]));
        // Mount from another repository: 201; a digest the source lacks: a normal session.
        let reply = client.send(
            "POST",
            &format!("/v2/copy/blobs/uploads/?mount={empty}&from=signed"),
            &[],
            b"",
        );
        assert_eq!(reply.status, 201);
        assert_eq!(client.get(&format!("/v2/copy/blobs/{empty}")).body, b"{}");
        let missing = sha256(b"not there");
        let reply = client.send(
            "POST",
            &format!("/v2/copy/blobs/uploads/?mount={missing}&from=signed"),
            &[],
            b"",
        );
        assert_eq!(reply.status, 202);
        assert!(reply.header("Location").is_some());
        assert_eq!(client.get("/v2/_oci/ext/discover").status, 200);
    });
}

#[test]
fn docker_manifests_are_accepted_unless_compat_turns_them_off() {
    const DOCKER: &str = "application/vnd.docker.distribution.manifest.v2+json";
    // No `compat` key accepts Docker types, as zot does; a list without docker2s2 refuses them.
    for (compat, expected) in [("", 201), (r#","compat":[]"#, 415)] {
        let configure = |config: ServeConfig| ServeConfig {
            http_extra: compat.to_owned(),
            ..config
        };
        on_both_drivers_with(configure, |client| {
            let config = push_blob(client, "docker", b"{\"os\":\"linux\"}");
            let layer = push_blob(client, "docker", b"layer");
            let body = format!(
                r#"{{"schemaVersion":2,"mediaType":"{DOCKER}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{config}","size":15}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{layer}","size":5}}]}}"#
            );
            let reply = client.send(
                "PUT",
                "/v2/docker/manifests/latest",
                &[("Content-Type", DOCKER)],
                body.as_bytes(),
            );
            assert_eq!(
                reply.status,
                expected,
                "{:?}",
                String::from_utf8_lossy(&reply.body)
            );
            let reply = client.get("/v2/docker/manifests/latest");
            if expected == 201 {
                assert_eq!(reply.header("Content-Type"), Some(DOCKER));
            } else {
                assert_eq!(reply.status, 404);
            }
        });
    }
}

#[test]
fn deletes_are_refused_with_405_when_disabled() {
    let configure = |config: ServeConfig| ServeConfig {
        runtime_extra: format!(r#"{},"deletes":false"#, config.runtime_extra),
        ..config
    };
    on_both_drivers_with(configure, |client| {
        let body = image(client, "kept", "kept");
        let digest = sha256(&body);
        let put = client.send(
            "PUT",
            "/v2/kept/manifests/v1",
            &[("Content-Type", OCI_MANIFEST)],
            &body,
        );
        assert_eq!(put.status, 201);
        let layer = sha256("layer of kept".repeat(100).as_bytes());
        // The Allow field of each 405 no longer lists DELETE.
        for (path, allow) in [
            ("/v2/kept/manifests/v1".to_owned(), "GET, HEAD, PUT"),
            (format!("/v2/kept/manifests/{digest}"), "GET, HEAD, PUT"),
            (format!("/v2/kept/blobs/{layer}"), "GET, HEAD"),
        ] {
            let reply = client.send("DELETE", &path, &[], b"");
            assert_eq!(
                (reply.status, reply.error_code().as_str()),
                (405, "UNSUPPORTED"),
                "{path}"
            );
            assert_eq!(reply.header("Allow"), Some(allow), "{path}");
        }
        assert_eq!(client.get("/v2/kept/manifests/v1").body, body);
        assert_eq!(client.get(&format!("/v2/kept/blobs/{layer}")).status, 200);
    });
}

#[test]
fn mounts_without_from_find_the_blob_wherever_it_is() {
    use std::os::unix::fs::MetadataExt;
    for dedupe in [false, true] {
        for mode in MODES {
            let served = serve_config(ServeConfig {
                storage_extra: format!(r#","dedupe":{dedupe}"#),
                ..mode_config(mode, 2)
            });
            let mut client = Client::connect(served.address);
            // Several source repositories, so some live on the other core.
            let mut blobs = Vec::new();
            for index in 0..4 {
                let bytes = format!("blob of source {index}").repeat(50).into_bytes();
                let digest = push_blob(&mut client, &format!("source/s{index}"), &bytes);
                blobs.push((digest, bytes));
            }
            for (index, (digest, bytes)) in blobs.iter().enumerate() {
                let target = format!("target/t{index}");
                let reply = client.send(
                    "POST",
                    &format!("/v2/{target}/blobs/uploads/?mount={digest}"),
                    &[],
                    b"",
                );
                assert_eq!(reply.status, 201, "{dedupe} {mode:?} {index}");
                assert_eq!(
                    reply.header("Location"),
                    Some(format!("/v2/{target}/blobs/{digest}").as_str())
                );
                assert_eq!(reply.header("Docker-Content-Digest"), Some(digest.as_str()));
                assert_eq!(
                    client.get(&format!("/v2/{target}/blobs/{digest}")).body,
                    *bytes
                );
                // A link, not a copy: both names are one file.
                let blob_path = |repository: &str| {
                    served
                        .root
                        .join(repository)
                        .join("blobs/sha256")
                        .join(&digest[7..])
                };
                let source = std::fs::metadata(blob_path(&format!("source/s{index}"))).unwrap();
                let mounted = std::fs::metadata(blob_path(&target)).unwrap();
                assert_eq!(source.ino(), mounted.ino());
            }
            // A blob nobody has: a normal upload session, as with `from`.
            let missing = sha256(b"nobody has this");
            let reply = client.send(
                "POST",
                &format!("/v2/target/t0/blobs/uploads/?mount={missing}"),
                &[],
                b"",
            );
            assert_eq!(reply.status, 202);
            assert!(reply.header("Docker-Upload-UUID").is_some());
            drop(client);
            served.stop();
        }
    }
}

#[test]
fn chunked_bodies_expect_continue_and_broken_bodies_in_uploads() {
    use std::io::Write;
    on_both_drivers(|client| {
        let address = client.address();
        let reply = client.send("POST", "/v2/chunks/blobs/uploads/", &[], b"");
        assert_eq!(reply.status, 202);
        let location = reply.header("Location").unwrap().to_owned();
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        // A PATCH body in chunked transfer coding, with an extension and a trailer.
        stream
            .write_all(
                format!(
                    "PATCH {location} HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n5;note=x\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        let reply = common::read_reply(&mut stream, false);
        assert_eq!(reply.status, 202);
        assert_eq!(reply.header("Range"), Some("0-10"));
        // The final PUT asks for 100-continue and sends its body only after the interim answer.
        let tail = b"!";
        let digest = sha256(b"hello world!");
        stream
            .write_all(
                format!(
                    "PUT {location}?digest={digest} HTTP/1.1\r\nHost: r\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        let interim = common::read_reply(&mut stream, true);
        assert_eq!(interim.status, 100);
        stream.write_all(tail).unwrap();
        let reply = common::read_reply(&mut stream, false);
        assert_eq!(reply.status, 201);
        assert_eq!(reply.header("Docker-Content-Digest"), Some(digest.as_str()));
        assert_eq!(
            client.get(&format!("/v2/chunks/blobs/{digest}")).body,
            b"hello world!"
        );
        // A broken chunked body: BLOB_UPLOAD_INVALID, the connection closes, and the session
        // keeps only what was acknowledged before.
        let reply = client.send("POST", "/v2/chunks/blobs/uploads/", &[], b"");
        let location = reply.header("Location").unwrap().to_owned();
        let reply = client.send("PATCH", &location, &[], b"abc");
        assert_eq!(reply.header("Range"), Some("0-2"));
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(
                format!(
                    "PATCH {location} HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ndefzz\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        let reply = common::read_reply(&mut stream, false);
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (400, "BLOB_UPLOAD_INVALID")
        );
        assert_eq!(reply.header("Connection"), Some("close"));
        let status = client.get(&location);
        assert_eq!((status.status, status.header("Range")), (204, Some("0-2")));
    });
}

/// A repository whose blobs folder already holds another repository (`nest/blobs/deep` pushed
/// first) is refused with NAME_INVALID, whichever core owns each, and nothing is created: found by
/// the live_server fuzz target, whose invariant check then saw `nest/blobs/deep` inside the
/// blobs folder of `nest` (I11).
#[test]
fn a_repository_is_not_created_over_one_in_its_blobs_folder() {
    on_both_drivers(|client| {
        let layer = b"nested layer";
        let digest = sha256(layer);
        let reply = client.send(
            "POST",
            &format!("/v2/nest/blobs/deep/blobs/uploads/?digest={digest}"),
            &[("Content-Type", "application/octet-stream")],
            layer,
        );
        assert_eq!(reply.status, 201, "{reply:?}");
        let reply = client.send(
            "POST",
            &format!("/v2/nest/blobs/uploads/?mount={digest}&from=nest/blobs/deep"),
            &[],
            b"",
        );
        // A mount reports the collision as an upload does: the name is invalid, not unknown.
        assert_eq!(reply.status, 400, "{reply:?}");
        assert_eq!(reply.error_code(), "NAME_INVALID", "{reply:?}");
        let reply = client.send(
            "POST",
            &format!("/v2/nest/blobs/uploads/?digest={digest}"),
            &[("Content-Type", "application/octet-stream")],
            layer,
        );
        assert_eq!(reply.error_code(), "NAME_INVALID", "{reply:?}");
        assert_eq!(
            client.get("/v2/_catalog").json()["repositories"],
            serde_json::json!(["nest/blobs/deep"])
        );
    });
}
