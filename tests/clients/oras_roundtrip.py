"""Drives a registry with the ORAS Python SDK (oras-py) the way a user of the SDK would, for
tests/client_oras.rs.

Usage: oras_roundtrip.py HOST:PORT WORK_FOLDER

In WORK_FOLDER it writes the files to push under input/, then, against the plain-HTTP registry
at HOST:PORT:
  1. pushes input/hello.txt and input/data.bin with a config and manifest annotations as
     demo/artifact:v1 (OrasClient.push),
  2. pulls demo/artifact:v1 back into pulled/ (OrasClient.pull) and reads its manifest
     (OrasClient.get_manifest, and the raw bytes through the SDK's session),
  3. pushes two artifacts whose `subject` is that manifest (OrasClient.push with an
     oras.oci.Subject): an SBOM (demo/artifact:sbom) and a signature (demo/artifact:signature),
     each typed by its config's media type (this SDK version writes no `artifactType`),
  4. lists the referrers of the first manifest through the SDK's session (the SDK has no
     referrers call), without a filter and with `?artifactType=` the SBOM's type.

It prints one JSON object of what it observed (statuses, headers, digests, the sha256 of every
file it pushed and pulled, the referrers indexes) for the Rust test to check against what it
reads from the registry itself. It checks nothing beyond what the SDK itself raises on: any SDK
error makes it exit non-zero with the traceback on stderr. Exit status 3 means the SDK is not
installed: scripts/test installs it into .venv.
"""

import hashlib
import json
import os
import sys
import urllib.parse

try:
    import oras.client
    import oras.oci
    import oras.version
except ImportError as error:
    sys.stderr.write(
        f"the oras Python SDK is not installed ({error}): run scripts/test, which installs "
        "scripts/requirements.txt into .venv\n"
    )
    sys.exit(3)

REPOSITORY = "demo/artifact"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
ARTIFACT_CONFIG_TYPE = "application/vnd.example.roundtrip.config.v1+json"
SBOM_TYPE = "application/vnd.example.sbom.v1+json"
SIGNATURE_TYPE = "application/vnd.example.signature.v1+json"


def sha256_of_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(65536), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)


def response_facts(response):
    """Status and the headers a push answers with."""
    return {
        "status": response.status_code,
        "digest": response.headers.get("Docker-Content-Digest"),
        "location": response.headers.get("Location"),
        "subject": response.headers.get("OCI-Subject"),
    }


def referrers(client, host, digest, artifact_type=None):
    url = f"http://{host}/v2/{REPOSITORY}/referrers/{digest}"
    if artifact_type is not None:
        # Percent-encoded: a raw `+` in a query means a space (as in Go's net/url, which zot
        # uses), and every media type with a structured suffix has one.
        url += "?artifactType=" + urllib.parse.quote(artifact_type, safe="")
    response = client.do_request(url, "GET", headers={"Accept": INDEX_MEDIA_TYPE})
    return {
        "status": response.status_code,
        "content_type": response.headers.get("Content-Type"),
        "filters_applied": response.headers.get("OCI-Filters-Applied"),
        "index": response.json(),
    }


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    host, work = sys.argv[1], os.path.abspath(sys.argv[2])
    # push() refuses files outside the working folder unless told otherwise; stay inside it.
    os.makedirs(work, exist_ok=True)
    os.chdir(work)

    # Bytes of every value, and more than one TCP segment, so a short read would show.
    data = bytes(range(256)) * 400 + b"tail"
    write("input/hello.txt", b"hello from oras-py\n")
    write("input/data.bin", data)
    write("input/config.json", b'{"purpose":"roundtrip"}')
    write("input/sbom.json", b'{"spdxVersion":"SPDX-2.3","name":"artifact"}')
    write("input/sbom-config.json", b'{"kind":"sbom"}')
    write("input/signature.sig", b"not a real signature, but bytes all the same")
    write("input/signature-config.json", b'{"kind":"signature"}')
    inputs = {
        name: sha256_of_file(os.path.join("input", name))
        for name in sorted(os.listdir("input"))
    }

    client = oras.client.OrasClient(hostname=host, insecure=True)
    target = f"{host}/{REPOSITORY}:v1"
    pushed = client.push(
        target=target,
        files=["input/hello.txt:text/plain", "input/data.bin"],
        manifest_config=f"input/config.json:{ARTIFACT_CONFIG_TYPE}",
        manifest_annotations={"org.example.purpose": "roundtrip"},
        quiet=True,
    )

    pulled_paths = client.pull(target=target, outdir=os.path.join(work, "pulled"))
    pulled = {
        os.path.relpath(path, os.path.join(work, "pulled")): sha256_of_file(path)
        for path in pulled_paths
    }
    manifest = client.get_manifest(target)
    # The manifest's bytes as stored, through the SDK's own session: a subject must name them.
    raw = client.do_request(
        f"http://{host}/v2/{REPOSITORY}/manifests/v1",
        "GET",
        headers={"Accept": MANIFEST_MEDIA_TYPE},
    )
    raw_digest = "sha256:" + hashlib.sha256(raw.content).hexdigest()

    subject = oras.oci.Subject(
        mediaType=MANIFEST_MEDIA_TYPE, digest=raw_digest, size=len(raw.content)
    )
    sbom = client.push(
        target=f"{host}/{REPOSITORY}:sbom",
        files=["input/sbom.json:application/spdx+json"],
        manifest_config=f"input/sbom-config.json:{SBOM_TYPE}",
        manifest_annotations={"org.example.kind": "sbom"},
        subject=subject,
        quiet=True,
    )
    signature = client.push(
        target=f"{host}/{REPOSITORY}:signature",
        files=["input/signature.sig"],
        manifest_config=f"input/signature-config.json:{SIGNATURE_TYPE}",
        subject=subject,
        quiet=True,
    )

    observed = {
        "oras_version": oras.version.__version__,
        "inputs": inputs,
        "push": response_facts(pushed),
        "pulled": pulled,
        "manifest": manifest,
        "manifest_get": {
            "status": raw.status_code,
            "digest_header": raw.headers.get("Docker-Content-Digest"),
            "content_type": raw.headers.get("Content-Type"),
            "digest_of_body": raw_digest,
        },
        "sbom_push": response_facts(sbom),
        "signature_push": response_facts(signature),
        "referrers": referrers(client, host, raw_digest),
        "referrers_sbom": referrers(client, host, raw_digest, SBOM_TYPE),
    }
    json.dump(observed, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
