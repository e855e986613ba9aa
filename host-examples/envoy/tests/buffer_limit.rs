//! Envoy's buffer limits against the filter: a relinked body that would pass the limit of
//! the request's protocol (HTTP/1: `per_connection_buffer_limit_bytes`; HTTP/2:
//! `initial_stream_window_size`) is not set, because Envoy re-checks the watermark of its
//! buffer when the filter replaces the buffered body and answers 413; the original goes on
//! and is counted. The harness's watermark model is shown refusing the grown body when the
//! filter is not told the limit.

mod common;

use common::*;
use relink::otlp::Encoding;
use relink_harness::envoy::{LogLine, Request, Settings};

const COUNTER: &str = "wasmcustom.relink_exports_over_buffer_limit";

/// The producer export (protobuf) and what the native core makes of it.
fn producer_and_relinked() -> (Vec<u8>, Vec<u8>) {
    let producer = to_protobuf(&producer());
    let relinked = native("{}", &[(&producer, Encoding::Protobuf)]).remove(0);
    assert!(
        relinked.len() > producer.len() + 8,
        "relinking grows the body"
    );
    (producer, relinked)
}

/// Envoy configured with these limits, and the filter told the same.
fn settings(http1: usize, http2: usize, max_body: usize) -> Settings {
    let mut s = common::settings("{}");
    s.buffer_limit = http1;
    s.stream_window = http2;
    s.vm_configuration = format!(
        r#"{{"max_body_bytes": {max_body}, "per_connection_buffer_limit_bytes": {http1}, "initial_stream_window_size": {http2}}}"#
    )
    .into_bytes();
    s
}

#[test]
fn a_relinked_http1_body_past_the_limit_is_left_as_it_came_and_counted() {
    let (producer, relinked) = producer_and_relinked();
    let limit = relinked.len() - 1;
    let mut vm = started(&settings(limit, 1 << 28, producer.len()));
    let exchange = vm
        .send(&export("application/x-protobuf", &producer, 2))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        exchange.local_reply, None,
        "Envoy did not refuse the export"
    );
    assert_eq!(exchange.upstream_body, producer);
    assert_eq!(vm.metric(COUNTER), Some(1));
    assert_eq!(
        vm.logs(),
        [LogLine {
            level: 3,
            message: format!(
                "relinked body of {} bytes exceeds Envoy's buffer limit (per_connection_buffer_limit_bytes: {limit}); original body of {} bytes passed through unchanged",
                relinked.len(),
                producer.len()
            )
        }]
    );
}

#[test]
fn a_relinked_body_exactly_at_the_limit_is_set() {
    // WatermarkBuffer fires above its high watermark, not at it.
    let (producer, relinked) = producer_and_relinked();
    let mut vm = started(&settings(relinked.len(), 1 << 28, producer.len()));
    let exchange = vm
        .send(&export("application/x-protobuf", &producer, 3))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exchange.local_reply, None);
    assert_eq!(exchange.upstream_body, relinked);
    assert_eq!(vm.metric(COUNTER), Some(0));
}

#[test]
fn envoy_refuses_a_grown_body_when_the_filter_is_not_told_the_limit() {
    let (producer, relinked) = producer_and_relinked();
    let mut s = common::settings("{}");
    s.buffer_limit = relinked.len() - 1;
    // The filter believes Envoy's default limit (1 MiB).
    s.vm_configuration = format!(r#"{{"max_body_bytes": {}}}"#, producer.len()).into_bytes();
    let mut vm = started(&s);
    let exchange = vm
        .send(&export("application/x-protobuf", &producer, 2))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        exchange.local_reply,
        Some(413),
        "replacing the buffered body re-checks the watermark"
    );
    assert_eq!(exchange.upstream_body, b"", "the export is lost");
}

#[test]
fn the_limit_follows_the_protocol_http2_takes_the_stream_window() {
    let (producer, relinked) = producer_and_relinked();
    let (frame, relinked_frame) = (grpc_frame(&producer), grpc_frame(&relinked));
    // HTTP/1's limit is too small for the relinked body, HTTP/2's window is not.
    let http1 = relinked.len() - 1;
    let mut vm = started(&settings(http1, 1 << 20, frame.len()));
    let grpc = Request::post(
        GRPC_EXPORT,
        &[("content-type", "application/grpc")],
        split(&frame, 2),
    )
    .over_http2();
    let exchange = vm.send(&grpc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exchange.upstream_body, relinked_frame);
    let exchange = vm
        .send(&export("application/x-protobuf", &producer, 2))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exchange.upstream_body, producer);
    assert_eq!(vm.metric(COUNTER), Some(1));

    // And the other way round: a small stream window holds gRPC exports back.
    let window = relinked_frame.len() - 1;
    let mut vm = started(&settings(1 << 20, window, frame.len()));
    let exchange = vm.send(&grpc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exchange.local_reply, None);
    assert_eq!(exchange.upstream_body, frame);
    assert_eq!(vm.metric(COUNTER), Some(1));
    let logs = vm.take_logs();
    assert!(
        logs.iter()
            .any(|l| l.message.contains("(initial_stream_window_size: ")),
        "{logs:?}"
    );
}

#[test]
fn a_body_envoy_did_not_buffer_is_not_checked_and_is_relinked() {
    // One HTTP/2 DATA frame with END_STREAM: the filter sees the codec's chunk, not Envoy's
    // buffer, and a larger replacement goes upstream without a watermark check.
    let (producer, relinked) = producer_and_relinked();
    let frame = grpc_frame(&producer);
    let window = grpc_frame(&relinked).len() - 1;
    let mut vm = started(&settings(1 << 20, window, frame.len()));
    let grpc = Request::post(
        GRPC_EXPORT,
        &[("content-type", "application/grpc")],
        vec![frame],
    )
    .over_http2();
    let exchange = vm.send(&grpc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exchange.local_reply, None);
    assert_eq!(exchange.upstream_body, grpc_frame(&relinked));
    assert_eq!(vm.metric(COUNTER), Some(0));
}

#[test]
fn a_chunk_that_takes_the_buffer_past_the_limit_is_refused_before_the_filter_sees_it() {
    // Why `max_body_bytes` stays at half the limit by default: Envoy adds each chunk to its
    // buffer before the filter can let the body go.
    let body = many_spans(40);
    let mut s = common::settings("{}");
    s.buffer_limit = body.len() - 1;
    s.vm_configuration = format!(
        r#"{{"max_body_bytes": {}, "per_connection_buffer_limit_bytes": {}}}"#,
        body.len() - 2,
        body.len() - 1
    )
    .into_bytes();
    let mut vm = started(&s);
    let exchange = vm
        .send(&export("application/json", &body, 2))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exchange.local_reply, Some(413));
    let body_calls = exchange
        .calls
        .iter()
        .filter(|c| c.export == "proxy_on_request_body")
        .count();
    assert_eq!(body_calls, 1, "the second chunk never reached the filter");

    let mut s = common::settings("{}");
    s.buffer_limit = body.len() * 2;
    s.vm_configuration = format!(
        r#"{{"max_body_bytes": {}, "per_connection_buffer_limit_bytes": {}}}"#,
        body.len() - 2,
        body.len() * 2
    )
    .into_bytes();
    let mut vm = started(&s);
    let exchange = vm
        .send(&export("application/json", &body, 2))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exchange.local_reply, None);
    assert_eq!(
        exchange.upstream_body, body,
        "over max_body_bytes: passed on"
    );
}
