//! The receivers beyond OTLP/HTTP/1.1: OTLP/gRPC (framing, gzip, status codes, trailers),
//! HTTP/2 on the OTLP/HTTP port, TLS and mTLS on both, the bearer token, and their reload.
//! Clients are hyper's HTTP/1.1 and HTTP/2 client connections over rustls
//! (`support::h2`); certificates are made at test time (`support::certs`).

mod grpc;
mod tls;

use relink::otlp::{self, Encoding, ExportTraceServiceRequest};

use crate::support::root;

/// A golden case's batch `n` as protobuf, and what relink makes of it.
pub fn golden_protobuf(case: &str, n: u32) -> (Vec<u8>, ExportTraceServiceRequest) {
    let dir = root().join("tests/golden/relink").join(case);
    let read = |name: String| crate::support::read(&dir.join(name));
    let input = otlp::decode_json(&read(format!("input-{n}.json")))
        .unwrap_or_else(|e| panic!("{case} input-{n}: {e}"));
    let expected = otlp::decode_json(&read(format!("expected-{n}.json")))
        .unwrap_or_else(|e| panic!("{case} expected-{n}: {e}"));
    (otlp::encode_protobuf(&input), expected)
}

pub fn decode_protobuf(bytes: &[u8]) -> ExportTraceServiceRequest {
    otlp::decode(bytes, Encoding::Protobuf).unwrap_or_else(|e| panic!("{e}"))
}
