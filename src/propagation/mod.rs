//! Trace context formats and the carriers AWS payloads put them in.
//!
//! - [`w3c`]: `traceparent` / `tracestate`.
//! - [`xray`]: the `X-Amzn-Trace-Id` / `AWSTraceHeader` header.
//! - [`datadog`]: `x-datadog-trace-id`, `x-datadog-parent-id`, sampling, `_dd.p.tid`.
//! - [`carrier`]: where the headers live: HTTP headers, SQS/SNS message attributes
//!   (String and Binary), JSON objects such as `_datadog`.

pub mod carrier;
pub mod datadog;
mod ids;
pub(crate) use ids::lower_hex;
pub mod w3c;
pub mod xray;

pub use carrier::{
    from_base64_datadog, from_headers, from_json_carrier, from_sns_attributes, from_sqs_attributes,
    is_carrier_key, sns_datadog_object, sqs_datadog_object,
};
pub use ids::{SpanId, TraceId};

use serde::Serialize;

/// The header format a context was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    W3c,
    Xray,
    Datadog,
}

/// An upstream span: what a consumer should be parented under or linked to.
///
/// It serializes with its ids in hex and, under `datadog`, as Datadog writes them
/// (`x-datadog-trace-id`: the low 64 bits in decimal, `_dd.p.tid`: the high 64 bits in
/// hex when not 0, `x-datadog-parent-id`: decimal), so a context can be compared with a
/// Datadog span whatever format carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanContext {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// `None` when the carrier says nothing about sampling.
    pub sampled: Option<bool>,
    /// W3C tracestate, kept verbatim so it can be written on a span link.
    pub tracestate: Option<String>,
    pub format: Format,
}

/// How a [`SpanContext`] is printed.
#[derive(Serialize)]
struct SpanContextView<'a> {
    trace_id: TraceId,
    span_id: SpanId,
    #[serde(skip_serializing_if = "Option::is_none")]
    sampled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracestate: Option<&'a str>,
    format: Format,
    datadog: DatadogIds,
}

/// A context's ids in Datadog's header forms.
#[derive(Serialize)]
struct DatadogIds {
    trace_id: String,
    parent_id: String,
    #[serde(rename = "_dd.p.tid", skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
}

impl Serialize for SpanContext {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let high = self.trace_id.high();
        SpanContextView {
            trace_id: self.trace_id,
            span_id: self.span_id,
            sampled: self.sampled,
            tracestate: self.tracestate.as_deref(),
            format: self.format,
            datadog: DatadogIds {
                trace_id: self.trace_id.low().to_string(),
                parent_id: self.span_id.as_u64().to_string(),
                tid: (high != 0).then(|| format!("{high:016x}")),
            },
        }
        .serialize(serializer)
    }
}

/// A context together with where in the payload it was found, e.g.
/// `messageAttributes._datadog` or `attributes.AWSTraceHeader`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    #[serde(flatten)]
    pub context: SpanContext,
    pub carrier: String,
}

impl Found {
    /// Whether `other` names the same span in the same format: a repeat, kept once.
    pub fn repeats(&self, other: &Found) -> bool {
        let (a, b) = (&self.context, &other.context);
        (a.format, a.trace_id, a.span_id) == (b.format, b.trace_id, b.span_id)
    }
}
