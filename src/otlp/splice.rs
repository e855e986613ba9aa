//! Rewrites a scanned request with some spans replaced: every byte outside the replaced
//! spans is copied as it arrived (unknown fields, field order and all), and the length
//! prefixes of the `ScopeSpans` and `ResourceSpans` that enclose a replaced span are
//! rewritten for their new sizes.
//!
//! The result decodes to the input's request with those spans replaced: each span is one
//! element of a repeated field, so swapping its bytes swaps exactly that element.

use super::scan::{Frame, Scan};
use super::wire::{varint_len, write_varint};

/// The input with span `i` of `scan.spans` re-encoded as `payload`, for each
/// `(i, payload)` in `replacements` (in increasing `i`, each span at most once; others
/// are ignored).
pub fn splice(input: &[u8], scan: &Scan<'_>, replacements: &[(usize, Vec<u8>)]) -> Vec<u8> {
    let mut scope_len: Vec<Option<usize>> = vec![None; scan.scopes.len()];
    let mut resource_len: Vec<Option<usize>> = vec![None; scan.resources.len()];
    let mut grown = 0;
    let mut kept: Vec<&(usize, Vec<u8>)> = Vec::with_capacity(replacements.len());
    for r in replacements {
        if r.0 < scan.spans.len() && kept.last().is_none_or(|l| r.0 > l.0) {
            kept.push(r);
        }
    }
    for (i, payload) in &kept {
        let Some(span) = scan.spans.get(*i) else {
            continue;
        };
        let Some(len) = scope_len.get_mut(span.scope) else {
            continue;
        };
        let old = span.frame.end.saturating_sub(span.frame.start);
        let new = field_len(&span.frame, payload.len());
        grown += new.saturating_sub(old);
        let current = len.unwrap_or(span_payload_len(&scan.scopes, span.scope));
        *len = Some(current.saturating_sub(old) + new);
    }
    for (s, len) in scope_len.iter().enumerate() {
        let (Some(new_payload), Some((r, frame))) = (len, scan.scopes.get(s)) else {
            continue;
        };
        let Some(rlen) = resource_len.get_mut(*r) else {
            continue;
        };
        let old = frame.end.saturating_sub(frame.start);
        let new = field_len(frame, *new_payload);
        grown += new.saturating_sub(old);
        let current = rlen.unwrap_or(
            scan.resources
                .get(*r)
                .map_or(0, |f| f.end.saturating_sub(f.payload)),
        );
        *rlen = Some(current.saturating_sub(old) + new);
    }

    let mut out = Vec::with_capacity(input.len() + grown);
    let mut cursor = 0;
    let (mut open_resource, mut open_scope) = (None, None);
    for (i, payload) in kept {
        let Some(span) = scan.spans.get(*i) else {
            continue;
        };
        if open_resource != Some(span.resource) {
            if let (Some(frame), Some(Some(len))) = (
                scan.resources.get(span.resource),
                resource_len.get(span.resource),
            ) {
                cursor = header(&mut out, input, cursor, frame, *len);
            }
            open_resource = Some(span.resource);
        }
        if open_scope != Some(span.scope) {
            if let (Some((_, frame)), Some(Some(len))) =
                (scan.scopes.get(span.scope), scope_len.get(span.scope))
            {
                cursor = header(&mut out, input, cursor, frame, *len);
            }
            open_scope = Some(span.scope);
        }
        header(&mut out, input, cursor, &span.frame, payload.len());
        out.extend_from_slice(payload);
        cursor = span.frame.end;
    }
    out.extend_from_slice(input.get(cursor..).unwrap_or_default());
    out
}

/// Copies the input up to `frame`, then its key and the new length prefix; returns the
/// offset to copy from next (the frame's payload).
fn header(out: &mut Vec<u8>, input: &[u8], cursor: usize, frame: &Frame, len: usize) -> usize {
    out.extend_from_slice(input.get(cursor..frame.len_at).unwrap_or_default());
    write_varint(out, len as u64);
    frame.payload
}

/// A field's size with a payload of `payload` bytes (the key kept as it arrived).
fn field_len(frame: &Frame, payload: usize) -> usize {
    frame.len_at.saturating_sub(frame.start) + varint_len(payload as u64) + payload
}

fn span_payload_len(scopes: &[(usize, Frame)], s: usize) -> usize {
    scopes
        .get(s)
        .map_or(0, |(_, f)| f.end.saturating_sub(f.payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::scan::{scan, Interest};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    const NONE: Interest<'static> = Interest {
        span_attributes: &[],
        link_attributes: &[],
    };

    fn span(name: &str) -> Span {
        Span {
            name: name.into(),
            ..Default::default()
        }
    }

    fn request(names: &[&[&[&str]]]) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: names
                .iter()
                .map(|scopes| ResourceSpans {
                    scope_spans: scopes
                        .iter()
                        .map(|spans| ScopeSpans {
                            spans: spans.iter().map(|n| span(n)).collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn replaced_spans_decode_in_place_and_lengths_grow_across_varint_sizes() {
        let before = request(&[&[&["a", "b"], &["c"]], &[&["d"]]]);
        let input = before.encode_to_vec();
        let scanned = scan(&input, &NONE).unwrap_or_default();
        assert_eq!(scanned.spans.len(), 4);
        // "b" grows past 127 bytes, so its length prefix (and its scope's and resource's)
        // takes two bytes; "d" shrinks.
        let long = "x".repeat(300);
        let replacements = vec![
            (1, span(&long).encode_to_vec()),
            (3, Span::default().encode_to_vec()),
        ];
        let out = splice(&input, &scanned, &replacements);
        let mut want = before.clone();
        want.resource_spans[0].scope_spans[0].spans[1] = span(&long);
        want.resource_spans[1].scope_spans[0].spans[0] = Span::default();
        assert_eq!(ExportTraceServiceRequest::decode(out.as_slice()), Ok(want));
    }

    #[test]
    fn untouched_bytes_are_kept_including_unknown_fields() {
        let mut input = request(&[&[&["a"]]]).encode_to_vec();
        // An unknown top-level field (tag 9, varint) before and after.
        input.splice(0..0, [0x48, 0x01]);
        input.extend_from_slice(&[0x48, 0x02]);
        let scanned = scan(&input, &NONE).unwrap_or_default();
        let out = splice(&input, &scanned, &[(0, span("z").encode_to_vec())]);
        assert_eq!(out.get(..2), Some(&[0x48, 0x01][..]));
        assert_eq!(out.get(out.len() - 2..), Some(&[0x48, 0x02][..]));
        assert_eq!(
            ExportTraceServiceRequest::decode(out.as_slice()),
            Ok(request(&[&[&["z"]]]))
        );
        assert_eq!(splice(&input, &scanned, &[]), input);
        // Out-of-order and out-of-range replacements are ignored.
        assert_eq!(splice(&input, &scanned, &[(5, vec![1])]), input);
    }
}
