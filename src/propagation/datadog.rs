//! Datadog propagation headers.
// PLACEHOLDER: implemented by the propagation work item.
use super::SpanContext;

/// Builds a context from Datadog's headers: decimal 64-bit trace and parent ids, the
/// sampling priority, and `x-datadog-tags` carrying `_dd.p.tid` (the high 64 bits as hex).
pub fn from_fields(
    _trace_id: &str,
    _parent_id: &str,
    _sampling_priority: Option<&str>,
    _tags: Option<&str>,
) -> Option<SpanContext> {
    None
}
