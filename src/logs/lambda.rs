//! What a Lambda log record says about its invocation: a trace context and a request id.
//!
//! Lambda writes its logs in a handful of documented shapes, and a log shipper sees them
//! either as a JSON object or as a line of text under `log` (tail, Docker, forward) or
//! `message` (CloudWatch Logs subscriptions, Firehose):
//! - Telemetry API events and JSON-format system logs: `{"time", "type": "platform.start",
//!   "record": {"requestId", "tracing": {"spanId", "type": "X-Amzn-Trace-Id", "value":
//!   "Root=...;Parent=...;Sampled=1"}}}` ("Lambda Telemetry API Event schema reference");
//!   `function` events carry the function's line as `record` (a string, or an object in
//!   JSON format).
//! - JSON-format application logs: `{"timestamp", "level", "requestId", "message"}` (the
//!   Node.js and Python runtime interface clients); no trace id.
//! - Text-format lines: `START RequestId: <id> Version: $LATEST`, `END RequestId: <id>`,
//!   `REPORT RequestId: <id> ... XRAY TraceId: 1-... SegmentId: <16 hex> Sampled: true`,
//!   and runtime lines `<time>\t<request id>\t<LEVEL>\t<message>` (Node.js) or
//!   `[LEVEL]\t<time>\t<request id>\t<message>` (Python).
//! - Fields logging libraries add: `xray_trace_id` (Powertools: a bare `1-...` root),
//!   `_X_AMZN_TRACE_ID` (the environment variable: a full X-Ray header), `xrayTraceId`;
//!   request ids as `function_request_id` (Powertools), `AWSRequestId` (Java), `aws_request_id`.

use crate::propagation::{xray, SpanId, TraceId};
use serde_json::{Map, Value};

/// A trace, and the span within it when the record names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub trace_id: TraceId,
    pub span_id: Option<SpanId>,
}

/// Top-level fields whose string value is a line of log text.
pub(super) const TEXT_FIELDS: [&str; 3] = ["log", "message", "record"];
/// Fields holding an X-Ray trace id or header.
const TRACE_FIELDS: [&str; 3] = ["_X_AMZN_TRACE_ID", "xray_trace_id", "xrayTraceId"];
/// Fields holding a Lambda request id.
const REQUEST_FIELDS: [&str; 4] = [
    "requestId",
    "function_request_id",
    "AWSRequestId",
    "aws_request_id",
];
/// Longest text scanned for ids: log lines longer than this are payload dumps, and a trace
/// header in one is more likely the payload's than the invocation's.
const MAX_SCAN: usize = 64 * 1024;

/// The trace context a record states itself, strongest evidence first: the platform
/// event's `tracing`, then a trace field, then a header or REPORT line in the text.
pub fn context(record: &Map<String, Value>) -> Option<Context> {
    if let Some(ctx) = record
        .get("record")
        .and_then(Value::as_object)
        .and_then(tracing)
    {
        return Some(ctx);
    }
    let nested = record.get("record").and_then(Value::as_object);
    for fields in std::iter::once(record).chain(nested) {
        for key in TRACE_FIELDS {
            if let Some(ctx) = fields
                .get(key)
                .and_then(Value::as_str)
                .and_then(trace_value)
            {
                return Some(ctx);
            }
        }
    }
    texts(record).find_map(|text| report_line(text).or_else(|| header_in_text(text)))
}

/// The Lambda request id a record names, from a field or from its text.
pub fn request_id(record: &Map<String, Value>) -> Option<&str> {
    let nested = record.get("record").and_then(Value::as_object);
    for fields in std::iter::once(record).chain(nested) {
        for key in REQUEST_FIELDS {
            if let Some(id) = fields
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| is_request_id(s))
            {
                return Some(id);
            }
        }
    }
    texts(record).find_map(request_id_in_text)
}

/// The text lines of a record: the string values of its text fields.
fn texts(record: &Map<String, Value>) -> impl Iterator<Item = &str> {
    TEXT_FIELDS
        .iter()
        .filter_map(|key| record.get(*key).and_then(Value::as_str))
        .filter(|text| text.len() <= MAX_SCAN)
}

/// `record.tracing` of a platform event: the header in `value`, and the invocation's own
/// span in `spanId` when present (the header's `Parent` is the caller's segment).
fn tracing(record: &Map<String, Value>) -> Option<Context> {
    let tracing = record.get("tracing")?.as_object()?;
    if tracing.get("type").and_then(Value::as_str) != Some("X-Amzn-Trace-Id") {
        return None;
    }
    let header = trace_value(tracing.get("value")?.as_str()?)?;
    let span_id = tracing
        .get("spanId")
        .and_then(Value::as_str)
        .and_then(SpanId::from_lower_hex);
    Some(Context {
        trace_id: header.trace_id,
        span_id: span_id.filter(SpanId::is_valid).or(header.span_id),
    })
}

/// A full X-Ray header (`Root=...;Parent=...`) or a bare root (`1-5759e988-...`).
fn trace_value(value: &str) -> Option<Context> {
    let value = value.trim();
    if value.contains("Root=") {
        return header(value);
    }
    let trace_id = xray::parse_root(value).filter(TraceId::is_valid)?;
    Some(Context {
        trace_id,
        span_id: None,
    })
}

/// An X-Ray header, with or without `Parent`.
fn header(value: &str) -> Option<Context> {
    if let Some(ctx) = xray::parse(value) {
        return Some(Context {
            trace_id: ctx.trace_id,
            span_id: Some(ctx.span_id),
        });
    }
    let root = value
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))?;
    let trace_id = xray::parse_root(root.trim()).filter(TraceId::is_valid)?;
    Some(Context {
        trace_id,
        span_id: None,
    })
}

/// `Root=1-...[;Parent=...][;Sampled=...]` anywhere in a line of text.
fn header_in_text(text: &str) -> Option<Context> {
    let start = text.find("Root=1-")?;
    let rest = text.get(start..)?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '=' | ';' | '-')))
        .unwrap_or(rest.len());
    header(rest.get(..end)?)
}

/// A REPORT line's `XRAY TraceId: 1-... SegmentId: <16 hex>`: the segment is the
/// invocation's own.
fn report_line(text: &str) -> Option<Context> {
    let root = word_after(text, "XRAY TraceId: ")?;
    let trace_id = xray::parse_root(root).filter(TraceId::is_valid)?;
    let span_id = word_after(text, "SegmentId: ")
        .and_then(SpanId::from_lower_hex)
        .filter(SpanId::is_valid);
    Some(Context { trace_id, span_id })
}

/// `RequestId: <id>` (START, END, REPORT) or the request id field of a runtime text line.
fn request_id_in_text(text: &str) -> Option<&str> {
    if let Some(id) = word_after(text, "RequestId: ").filter(|s| is_request_id(s)) {
        return Some(id);
    }
    // Runtime lines put the request id in the second (Node.js) or third (Python) field.
    text.splitn(4, '\t')
        .take(3)
        .find(|field| is_request_id(field))
}

/// The whitespace-delimited word that follows `label`.
fn word_after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let start = text.find(label)? + label.len();
    let rest = text.get(start..)?;
    rest.split_whitespace().next()
}

/// Lambda request ids are UUIDs: 8-4-4-4-12 hex digits.
fn is_request_id(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}
