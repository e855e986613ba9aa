//! W3C Trace Context: `traceparent` and `tracestate`.
// PLACEHOLDER: implemented by the propagation work item.
use super::SpanContext;

/// Parses a `traceparent` header value (version 00, and future versions per the spec).
pub fn parse_traceparent(_value: &str, _tracestate: Option<&str>) -> Option<SpanContext> {
    None
}
