//! Criterion benchmark of the request-head parser and the chunked decoder on realistic registry
//! requests, with httparse parsing the same bytes in the same run for comparison.
//!
//! httparse is a dev-dependency for this comparison only. It validates less (no framing, no Host,
//! no percent-encoding checks), so matching its throughput while doing all of that is the bar.
//! Each group reports bytes per second; requests per second is the inverse of the time per
//! iteration, since one iteration parses one request.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use proto::http1::chunked::ChunkedDecoder;
use proto::http1::{Header, Status, parse_request};

/// A JWT-shaped bearer token of `length` bytes, as registries hand out after a token exchange.
fn bearer_token(length: usize) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut token = String::with_capacity(length);
    for index in 0..length {
        if index == 36 || index == length - 344 {
            token.push('.');
        } else {
            token.push(alphabet[(index * 7 + index / 3) % alphabet.len()] as char);
        }
    }
    token
}

/// docker push: a chunked PATCH of a blob upload session.
fn docker_patch() -> Vec<u8> {
    format!(
        "PATCH /v2/library/ubuntu/blobs/uploads/6f7b3b0c-2c1e-4f5d-9a8b-0e1f2a3b4c5d HTTP/1.1\r\n\
Host: registry.example.com:5000\r\n\
User-Agent: docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0-45-generic os/linux arch/amd64 UpstreamClient(Docker-Client/27.3.1 \\(linux\\))\r\n\
Transfer-Encoding: chunked\r\n\
Authorization: Bearer {}\r\n\
Content-Type: application/octet-stream\r\n\
Accept-Encoding: gzip\r\n\
\r\n",
        bearer_token(700)
    )
    .into_bytes()
}

/// containerd pull: a ranged GET of a layer with a 1 KiB bearer token.
fn containerd_get_blob() -> Vec<u8> {
    format!(
        "GET /v2/library/nginx/blobs/sha256:3f8a4339aadda5897b744682f5f774dc69991a81af8d715d37a616bb4c99edf5 HTTP/1.1\r\n\
Host: registry.example.com\r\n\
User-Agent: containerd/v1.7.22\r\n\
Accept: application/vnd.docker.image.rootfs.diff.tar.gzip, */*\r\n\
Range: bytes=1048576-\r\n\
Authorization: Bearer {}\r\n\
Accept-Encoding: gzip\r\n\
\r\n",
        bearer_token(1024)
    )
    .into_bytes()
}

/// A manifest existence check with the Accept list clients send.
fn head_manifest() -> Vec<u8> {
    b"HEAD /v2/library/nginx/manifests/1.27-alpine HTTP/1.1\r\n\
Host: registry.example.com\r\n\
User-Agent: containerd/v1.7.22\r\n\
Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*\r\n\
Accept-Encoding: gzip\r\n\
\r\n"
        .to_vec()
}

fn parse_with_proto(input: &[u8]) -> usize {
    let mut headers = [Header::EMPTY; 32];
    match parse_request(input, &mut headers) {
        Ok(Status::Complete((request, consumed))) => {
            black_box(request.framing);
            black_box(request.headers.len());
            consumed
        }
        other => panic!("benchmark request did not parse: {other:?}"),
    }
}

fn parse_with_httparse(input: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(input) {
        Ok(httparse::Status::Complete(consumed)) => {
            black_box(request.headers.len());
            consumed
        }
        other => panic!("benchmark request did not parse: {other:?}"),
    }
}

fn request_heads(criterion: &mut Criterion) {
    let requests = [
        ("docker_patch_chunked", docker_patch()),
        ("containerd_get_blob_range_bearer_1k", containerd_get_blob()),
        ("head_manifest_accept_list", head_manifest()),
    ];
    for (name, input) in &requests {
        assert_eq!(parse_with_proto(input), input.len());
        assert_eq!(parse_with_httparse(input), input.len());
        let mut group = criterion.benchmark_group(format!("request_head/{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter("proto"),
            input,
            |bencher, input| bencher.iter(|| parse_with_proto(black_box(input))),
        );
        group.bench_with_input(
            BenchmarkId::from_parameter("httparse"),
            input,
            |bencher, input| bencher.iter(|| parse_with_httparse(black_box(input))),
        );
        group.finish();
    }
}

/// A 1 MiB blob as docker sends it: 32 KiB chunks, as Go's chunked writer flushes them.
fn chunked_body() -> (Vec<u8>, usize) {
    let chunk = vec![0x5au8; 32 * 1024];
    let mut body = Vec::new();
    for _ in 0..32 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    (body, 32 * chunk.len())
}

fn decode_with_proto(input: &[u8]) -> usize {
    let mut decoder = ChunkedDecoder::new();
    let mut position = 0;
    let mut data_bytes = 0;
    loop {
        let decoded = decoder.decode(&input[position..]).expect("valid body");
        data_bytes += decoded.data.len();
        position += decoded.consumed;
        if decoded.done {
            return data_bytes;
        }
    }
}

/// The same walk with httparse's chunk-size parser (it has no body decoder; this loop is the
/// minimum a server must add around it, without trailer support).
fn decode_with_httparse(input: &[u8]) -> usize {
    let mut position = 0;
    let mut data_bytes = 0;
    loop {
        match httparse::parse_chunk_size(&input[position..]) {
            Ok(httparse::Status::Complete((used, 0))) => {
                assert_eq!(&input[position + used..position + used + 2], b"\r\n");
                return data_bytes;
            }
            Ok(httparse::Status::Complete((used, size))) => {
                let size = size as usize;
                position += used;
                black_box(&input[position..position + size]);
                data_bytes += size;
                position += size;
                assert_eq!(&input[position..position + 2], b"\r\n");
                position += 2;
            }
            other => panic!("benchmark body did not parse: {other:?}"),
        }
    }
}

fn chunked_bodies(criterion: &mut Criterion) {
    let (body, data_bytes) = chunked_body();
    assert_eq!(decode_with_proto(&body), data_bytes);
    assert_eq!(decode_with_httparse(&body), data_bytes);
    let mut group = criterion.benchmark_group("chunked_body/1MiB_in_32KiB_chunks");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("proto", |bencher| {
        bencher.iter(|| decode_with_proto(black_box(&body)))
    });
    group.bench_function("httparse", |bencher| {
        bencher.iter(|| decode_with_httparse(black_box(&body)))
    });
    group.finish();
}

criterion_group!(benches, request_heads, chunked_bodies);
criterion_main!(benches);
