//! Exact-output tests for inferred spans. Triggers are built by hand in the shapes the
//! decoders produce (field values from the fixtures under tests/fixtures); each test
//! compares a readable rendering of every span, field by field.

mod http;
mod messaging;
mod render;
mod storage;
mod structure;

use crate::event::{Detail, Item, MessageDetail, Source, Trigger, TriggerKind};
use crate::pointer::{Message, Pointer};
use crate::propagation::{Format, Found, SpanContext, SpanId, TraceId};

pub(super) use render::{render_request, render_spans};

pub(super) fn trigger(kind: TriggerKind, source: Source, items: Vec<Item>) -> Trigger {
    Trigger {
        kind,
        via: None,
        source,
        items,
        step_functions: None,
    }
}

pub(super) fn found(
    trace: &str,
    span: &str,
    sampled: Option<bool>,
    format: Format,
    carrier: &str,
) -> Found {
    Found {
        context: SpanContext {
            trace_id: TraceId::from_hex(trace).unwrap_or_default(),
            span_id: SpanId::from_hex(span).unwrap_or_default(),
            sampled,
            tracestate: None,
            format,
        },
        carrier: carrier.to_string(),
    }
}

/// The X-Ray context `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`.
pub(super) fn xray() -> Found {
    found(
        "5759e988bd862e3fe1be46a994272793",
        "53995c3f42cd8ad8",
        Some(true),
        Format::Xray,
        "attributes.AWSTraceHeader",
    )
}

/// The W3C example context `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`.
pub(super) fn w3c() -> Found {
    let mut f = found(
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        Some(true),
        Format::W3c,
        "headers",
    );
    f.context.tracestate = Some("congo=t61rcWkgMzE".into());
    f
}

pub(super) fn sqs_source() -> Source {
    Source {
        arn: Some("arn:aws:sqs:us-west-2:123456789012:SQSQueue".into()),
        name: Some("SQSQueue".into()),
        region: Some("us-west-2".into()),
        account: Some("123456789012".into()),
        ..Default::default()
    }
}

/// An SQS record as the decoder gives it: message id, SentTimestamp, body size, pointer.
pub(super) fn sqs_item(id: &str, sent_ms: u64, contexts: Vec<Found>) -> Item {
    Item {
        id: Some(id.into()),
        time_unix_nano: Some(sent_ms * 1_000_000),
        contexts,
        pointers: vec![Pointer::Message(Message {
            service: "sqs",
            id: id.into(),
        })],
        detail: Some(Detail::Message(MessageDetail {
            body_size: Some(12),
            receive_count: Some(1),
            ..Default::default()
        })),
        ..Default::default()
    }
}
