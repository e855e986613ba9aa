//! Shared helpers for the Envoy harness tests: the built filter, OTLP requests from the
//! shared fixtures, and the native core to compare with.

#![allow(dead_code)]

use relink::config::Config;
use relink::otlp::{self, Encoding};
use relink_harness::envoy::{Host, Request, Settings};
use serde_json::{json, Value};
use std::sync::OnceLock;

pub const NOW: u64 = 1_700_000_000_000_000_000;
pub const TRACES: &str = "/v1/traces";
pub const GRPC_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

#[allow(unused_imports)] // each test binary uses a part of this module
pub use relink_harness::testing::{relink_golden_cases, root};

/// `dist/relink-envoy.wasm`, compiled once per test binary.
pub fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let path = root().join("dist/relink-envoy.wasm");
        let wasm = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run host-examples/envoy/build.sh first",
                path.display()
            )
        });
        Host::load(&wasm).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

pub fn settings(plugin_configuration: &str) -> Settings {
    let mut s = Settings::new(plugin_configuration);
    s.now_unix_nano = NOW;
    s
}

fn attr(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

fn otlp_json(span: Value) -> Vec<u8> {
    let request = json!({ "resourceSpans": [{
        "resource": { "attributes": [attr("service.name", "harness")] },
        "scopeSpans": [{ "scope": { "name": "harness" }, "spans": [span] }]
    }]});
    request.to_string().into_bytes()
}

fn s3_event() -> Value {
    let path = root().join("tests/fixtures/aws-lambda-rust-runtime/example-s3-event.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The S3 `PutObject` client span that wrote the fixture's object (OTLP/JSON).
pub fn producer() -> Vec<u8> {
    let event = s3_event();
    let record = &event["Records"][0];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    otlp_json(json!({
        "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
        "parentSpanId": "00f067aa0ba902b7", "name": "S3.PutObject", "kind": 3,
        "startTimeUnixNano": "1699999990000000000", "endTimeUnixNano": "1699999990100000000",
        "attributes": [
            attr("rpc.system", "aws-api"), attr("rpc.service", "S3"), attr("rpc.method", "PutObject"),
            attr("aws.request_id", &text(&record["responseElements"]["x-amz-request-id"])),
            attr("aws.s3.bucket", &text(&record["s3"]["bucket"]["name"])),
            attr("aws.s3.key", "Happy Face.jpg"),
            attr("relink.s3.etag", &format!("\"{}\"", text(&record["s3"]["object"]["eTag"]))),
        ]
    }))
}

/// The Lambda invocation the fixture's notification triggered, with the event recorded.
pub fn consumer() -> Vec<u8> {
    otlp_json(json!({
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba90201",
        "name": "s3-handler", "kind": 2,
        "startTimeUnixNano": "1699999995000000000", "endTimeUnixNano": "1699999995200000000",
        "attributes": [attr("faas.trigger", "datasource"), attr("relink.event", &s3_event().to_string())]
    }))
}

/// A span nothing applies to.
pub fn plain() -> Vec<u8> {
    otlp_json(json!({
        "traceId": "5bf92f3577b34da6a3ce929d0e0e4736", "spanId": "10f067aa0ba90201",
        "name": "GET /", "kind": 2, "attributes": [attr("http.request.method", "GET")]
    }))
}

pub fn to_protobuf(json: &[u8]) -> Vec<u8> {
    match otlp::decode(json, Encoding::Json) {
        Ok(request) => otlp::encode(&request, Encoding::Protobuf),
        Err(e) => panic!("test input: {e}"),
    }
}

/// What the native core makes of the same requests, in order, on one processor.
pub fn native(config: &str, inputs: &[(&[u8], Encoding)]) -> Vec<Vec<u8>> {
    let mut processor = match Config::from_json(config).and_then(|c| relink::Processor::new(&c)) {
        Ok(p) => p,
        Err(e) => panic!("config: {e}"),
    };
    inputs
        .iter()
        .map(|(input, encoding)| {
            processor
                .process_traces_as(input, *encoding, NOW)
                .output
                .into_owned()
        })
        .collect()
}

/// gRPC length-prefixed framing of one uncompressed message.
pub fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// An OTLP/HTTP export as an SDK exporter sends it.
pub fn export(content_type: &str, body: &[u8], chunks: usize) -> Request {
    let len = body.len().to_string();
    Request::post(
        TRACES,
        &[("content-type", content_type), ("content-length", &len)],
        split(body, chunks),
    )
}

/// Splits a body into `n` chunks of (nearly) equal size.
pub fn split(body: &[u8], n: usize) -> Vec<Vec<u8>> {
    let size = body.len().div_ceil(n.max(1)).max(1);
    body.chunks(size).map(<[u8]>::to_vec).collect()
}

/// An OTLP/JSON export of `n` client spans with distinct ids (a busy service's batch).
pub fn many_spans(n: usize) -> Vec<u8> {
    let spans: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "traceId": format!("{:032x}", 0x5bf9_2f35_77b3_4da6_a3ce_929d_0e0e_0000_u128 + i as u128),
                "spanId": format!("{:016x}", 0x10f0_67aa_0ba9_0000_u64 + i as u64),
                "name": "GET /orders", "kind": 3,
                "startTimeUnixNano": "1699999990000000000", "endTimeUnixNano": "1699999990100000000",
                "attributes": [attr("http.request.method", "GET"), attr("url.full", "https://orders.internal/orders/12345")]
            })
        })
        .collect();
    let request = json!({ "resourceSpans": [{
        "resource": { "attributes": [attr("service.name", "harness")] },
        "scopeSpans": [{ "scope": { "name": "harness" }, "spans": spans }]
    }]});
    request.to_string().into_bytes()
}

/// A VM of the built filter with these settings, up and ready.
pub fn started(settings: &Settings) -> relink_harness::envoy::Vm {
    let vm = host()
        .start(settings)
        .unwrap_or_else(|e| panic!("start: {e}"));
    assert_eq!(
        vm.startup(),
        relink_harness::envoy::Startup::Ready,
        "logs: {:?}",
        vm.logs()
    );
    vm
}
