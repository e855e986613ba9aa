//! Binary requests whose strings are not UTF-8, rewritten with U+FFFD in place of each
//! invalid sequence.
//!
//! Protobuf requires UTF-8 in `string` fields, but many runtimes neither check what they
//! send nor what they receive (gogo in the Collector's OTLP receiver, the C++ exporter), and
//! SDKs that truncate attributes by bytes cut characters in half. prost refuses such a
//! request whole, and a strict backend refuses the batch it ends up in
//! (open-telemetry/opentelemetry-collector#11449). The OTLP specification lets an
//! intermediary sanitise and recommends U+FFFD (opentelemetry-proto#845, "UTF-8 String
//! Handling"), so relink relinks the request with its strings repaired rather than
//! refusing it.
//!
//! Only the messages on the way to a bad string are re-framed; every other byte is copied,
//! so the processor then relinks the repaired bytes as it would any request (unknown fields
//! and all).

use super::scan::strings_not_utf8;
use super::wire::{write_varint, Fields, Malformed, Value};
use std::ops::Range;

/// `input` with every string that is not UTF-8 replaced by its lossy form, when the input
/// is a request prost decodes apart from those strings; `None` when it has none, is
/// malformed in another way, or would grow past `limit` bytes (each invalid byte can become
/// three).
pub fn repair_strings(input: &[u8], limit: usize) -> Option<Vec<u8>> {
    let bad = strings_not_utf8(input).ok()?;
    if bad.is_empty() {
        return None;
    }
    let growth: usize = bad
        .iter()
        .filter_map(|r| input.get(r.clone()))
        .map(|s| String::from_utf8_lossy(s).len().saturating_sub(s.len()))
        .sum();
    // Each enclosing length prefix can grow too; the output is checked once written.
    if input.len().saturating_add(growth) > limit {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() + growth + 16);
    rewrite(input, 0..input.len(), &bad, &mut out).ok()?;
    (out.len() <= limit).then_some(out)
}

/// Writes the message `input[within]` with the strings at `bad` (sorted payload ranges,
/// all inside `within`) repaired, and every field holding one re-framed.
fn rewrite(
    input: &[u8],
    within: Range<usize>,
    bad: &[Range<usize>],
    out: &mut Vec<u8>,
) -> Result<(), Malformed> {
    let mut fields = Fields::new(input, within.start, within.end)?;
    let mut copied = within.start;
    let mut payload = Vec::new();
    while let Some(f) = fields.next_field()? {
        let Value::Len { start, end } = f.value else {
            continue;
        };
        let first = bad.partition_point(|r| r.start < start);
        let inside = bad.get(first..).unwrap_or_default();
        let inside = inside.get(..inside.partition_point(|r| r.end <= end));
        let inside = inside.unwrap_or_default();
        if inside.is_empty() {
            continue;
        }
        payload.clear();
        match inside {
            [only] if *only == (start..end) => {
                let text = input.get(start..end).ok_or(Malformed)?;
                payload.extend_from_slice(String::from_utf8_lossy(text).as_bytes());
            }
            _ => rewrite(input, start..end, inside, &mut payload)?,
        }
        out.extend_from_slice(input.get(copied..f.after_key).ok_or(Malformed)?);
        write_varint(out, payload.len() as u64);
        out.extend_from_slice(&payload);
        copied = end;
    }
    out.extend_from_slice(input.get(copied..within.end).ok_or(Malformed)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::{decode_protobuf, encode_protobuf};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn request(name: &str, value: &str) -> ExportTraceServiceRequest {
        let attribute = KeyValue {
            key: "k".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..KeyValue::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        name: name.into(),
                        attributes: vec![attribute],
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    /// The request's bytes with every `from` (same length) replaced by `to`.
    fn corrupt(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let at = out.windows(from.len()).position(|w| w == from).unwrap_or(0);
        out.splice(at..at + from.len(), to.iter().copied());
        out
    }

    #[test]
    fn invalid_sequences_become_u_fffd_and_the_frames_grow() {
        // "é" cut in half (0xc3 alone), and a lone continuation byte: each one U+FFFD,
        // three bytes where there was one, so every enclosing length changes.
        let good = encode_protobuf(&request("GET Xa", "caf\u{e9}Y"));
        let bad = corrupt(&good, b"Xa", b"\xc3a");
        let bad = corrupt(&bad, b"Y", b"\x80");
        assert!(decode_protobuf(&bad).is_err());
        let repaired = repair_strings(&bad, usize::MAX).unwrap_or_default();
        let expected = encode_protobuf(&request("GET \u{fffd}a", "caf\u{e9}\u{fffd}"));
        assert_eq!(repaired, expected);
    }

    #[test]
    fn a_request_with_only_utf8_or_other_damage_is_not_repaired() {
        let good = encode_protobuf(&request("GET", "v"));
        assert_eq!(repair_strings(&good, usize::MAX), None);
        let bad = corrupt(&good, b"GET", b"\xffET");
        assert!(repair_strings(&bad, usize::MAX).is_some());
        // Three bytes where there was one: over a limit of the input's size.
        assert_eq!(repair_strings(&bad, bad.len() + 1), None);
        // Truncated as well: not something to repair.
        assert_eq!(
            repair_strings(bad.get(..bad.len() - 1).unwrap_or_default(), usize::MAX),
            None
        );
    }
}
