//! Binary protobuf codec for `ExportTraceServiceRequest`, on prost.
//!
//! prost already does what a receiver needs: it validates UTF-8 in strings, rejects
//! truncated buffers and wrong wire types, caps message nesting at 100 levels (so a deep
//! `ArrayValue` cannot overflow the stack), and encodes fields in tag order, as Google's
//! protobuf runtimes do (the Python SDK's output re-encodes byte for byte, see
//! tests/otlp_python_sdk.rs). Unknown fields are dropped on decode.
//! Ids are kept as the bytes that arrived, whatever their length: protobuf input is
//! passed on as faithfully as possible.

use crate::error::DecodeError;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// Decodes a binary protobuf `ExportTraceServiceRequest`.
///
/// Errors name the field path, outermost first
/// (`resource_spans.scope_spans.spans.trace_id: invalid wire type: ...`).
pub fn decode_protobuf(bytes: &[u8]) -> Result<ExportTraceServiceRequest, DecodeError> {
    ExportTraceServiceRequest::decode(bytes).map_err(|e| DecodeError::Otlp {
        encoding: "protobuf",
        message: outermost_first(&e.to_string()),
    })
}

/// prost renders its error as `failed to decode Protobuf message: Span.trace_id:
/// ScopeSpans.spans: ...: description`, innermost field first. This rewrites it as
/// `resource_spans.scope_spans.spans.trace_id: description`, the way the JSON decoder
/// names paths. Text that does not have that shape is kept as it is.
fn outermost_first(text: &str) -> String {
    let mut rest = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(text);
    let mut fields = Vec::new();
    while let Some((head, tail)) = rest.split_once(": ") {
        let Some((message, field)) = head.split_once('.') else {
            break;
        };
        let ident =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ident(message) || !ident(field) {
            break;
        }
        fields.push(field);
        rest = tail;
    }
    if fields.is_empty() {
        return rest.to_owned();
    }
    fields.reverse();
    // A nesting bomb yields about a hundred fields; keep both ends of the path.
    const HEAD: usize = 8;
    const TAIL: usize = 6;
    if fields.len() > HEAD + TAIL + 1 {
        let more = fields.len() - HEAD - TAIL;
        let head = fields.get(..HEAD).unwrap_or_default().join(".");
        let tail = fields
            .get(fields.len() - TAIL..)
            .unwrap_or_default()
            .join(".");
        return format!("{head}.({more} more).{tail}: {rest}");
    }
    format!("{}: {rest}", fields.join("."))
}

/// Encodes a request as binary protobuf (deterministic: fields in tag order).
pub fn encode_protobuf(request: &ExportTraceServiceRequest) -> Vec<u8> {
    request.encode_to_vec()
}
