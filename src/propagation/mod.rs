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
pub mod w3c;
pub mod xray;

pub use carrier::{
    from_headers, from_json_carrier, from_sns_attributes, from_sqs_attributes, is_carrier_key,
    sns_datadog_object, sqs_datadog_object,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpanContext {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// `None` when the carrier says nothing about sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampled: Option<bool>,
    /// W3C tracestate, kept verbatim so it can be written on a span link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
    pub format: Format,
}

/// A context together with where in the payload it was found, e.g.
/// `messageAttributes._datadog` or `attributes.AWSTraceHeader`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    #[serde(flatten)]
    pub context: SpanContext,
    pub carrier: String,
}
