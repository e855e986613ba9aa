//! Unit tests for [`super`]: one carrier shape per test, values from the real fixtures
//! (datadog-lambda-python, aws-lambda-rust-runtime) where they exist.
use super::*;
use crate::propagation::{SpanContext, SpanId, TraceId};
use serde_json::json;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const XRAY: &str = "Root=1-65eb7350-000000006dfd06bf489aa4e5;Parent=48cc02b6aafae897;Sampled=1";
/// sqs-string-msg-attribute.json `_datadog`.
const DD_SQS: &str = r#"{"x-datadog-trace-id":"2684756524522091840","x-datadog-parent-id":"7431398482019833808","x-datadog-sampled":"1","x-datadog-sampling-priority":"1"}"#;

fn found(format: Format, trace: &str, span: &str, sampled: Option<bool>, carrier: &str) -> Found {
    Found {
        context: SpanContext {
            trace_id: TraceId::from_hex(trace).unwrap(),
            span_id: SpanId::from_hex(span).unwrap(),
            sampled,
            tracestate: None,
            format,
        },
        carrier: carrier.to_owned(),
    }
}

fn w3c(carrier: &str) -> Found {
    found(
        Format::W3c,
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        Some(true),
        carrier,
    )
}

fn xray(carrier: &str) -> Found {
    found(
        Format::Xray,
        "65eb7350000000006dfd06bf489aa4e5",
        "48cc02b6aafae897",
        Some(true),
        carrier,
    )
}

fn dd_sqs(carrier: &str) -> Found {
    found(
        Format::Datadog,
        "000000000000000025422bd5a88d3540",
        "6721a18bd12b57d0",
        Some(true),
        carrier,
    )
}

fn with_state(mut f: Found, state: &str) -> Found {
    f.context.tracestate = Some(state.to_owned());
    f
}

#[test]
fn headers_all_formats_in_order_case_insensitive() {
    let headers = [
        ("X-Datadog-Trace-Id", "2684756524522091840"),
        ("X-DATADOG-PARENT-ID", "7431398482019833808"),
        ("x-datadog-sampling-priority", "1"),
        ("X-Amzn-Trace-Id", XRAY),
        ("Content-Type", "application/json"),
        ("TraceParent", TP),
        ("tracestate", "rojo=00f067aa0ba902b7"),
    ];
    assert_eq!(
        from_headers(headers, "headers"),
        vec![
            with_state(w3c("headers.traceparent"), "rojo=00f067aa0ba902b7"),
            xray("headers.x-amzn-trace-id"),
            dd_sqs("headers.x-datadog-trace-id"),
        ]
    );
}
