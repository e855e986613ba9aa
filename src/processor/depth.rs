//! Nesting depth of attribute values and of JSON text, for `limits.max_nesting`.
//!
//! Both are measured without recursion, so measuring cannot exhaust the stack whatever the
//! input (the codecs already stop at their own bounds; this lets a deployment choose a
//! lower one). Depth counts containers: a string attribute is 0, an array of strings 1, a
//! key-value list holding an array 2; for JSON, `1` is 0, `[1]` 1, `{"a":[1]}` 2.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

/// The first attribute value nested deeper than `limit`: where it is and its depth (at
/// least `limit + 1`; the walk stops there).
pub(crate) fn request_too_deep(
    request: &ExportTraceServiceRequest,
    limit: usize,
) -> Option<(String, usize)> {
    for (r, rs) in request.resource_spans.iter().enumerate() {
        let at = |what: &str| format!("resource_spans[{r}].{what}");
        if let Some(resource) = &rs.resource {
            if let Some(depth) = attributes_too_deep(&resource.attributes, limit) {
                return Some((at("resource.attributes"), depth));
            }
        }
        for (s, ss) in rs.scope_spans.iter().enumerate() {
            let at = |what: &str| at(&format!("scope_spans[{s}].{what}"));
            if let Some(scope) = &ss.scope {
                if let Some(depth) = attributes_too_deep(&scope.attributes, limit) {
                    return Some((at("scope.attributes"), depth));
                }
            }
            for (i, span) in ss.spans.iter().enumerate() {
                let at = |what: &str| at(&format!("spans[{i}].{what}"));
                if let Some(depth) = attributes_too_deep(&span.attributes, limit) {
                    return Some((at("attributes"), depth));
                }
                for (e, event) in span.events.iter().enumerate() {
                    if let Some(depth) = attributes_too_deep(&event.attributes, limit) {
                        return Some((at(&format!("events[{e}].attributes")), depth));
                    }
                }
                for (l, link) in span.links.iter().enumerate() {
                    if let Some(depth) = attributes_too_deep(&link.attributes, limit) {
                        return Some((at(&format!("links[{l}].attributes")), depth));
                    }
                }
            }
        }
    }
    None
}

fn attributes_too_deep(attributes: &[KeyValue], limit: usize) -> Option<usize> {
    let mut stack: Vec<(&AnyValue, usize)> = attributes
        .iter()
        .filter_map(|kv| kv.value.as_ref().map(|v| (v, 0)))
        .collect();
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &AnyValue>> = match &value.value {
            Some(Value::ArrayValue(array)) => Box::new(array.values.iter()),
            Some(Value::KvlistValue(list)) => {
                Box::new(list.values.iter().filter_map(|kv| kv.value.as_ref()))
            }
            _ => continue,
        };
        let inner = depth.saturating_add(1);
        if inner > limit {
            return Some(inner);
        }
        stack.extend(children.map(|child| (child, inner)));
    }
    None
}

/// Whether JSON text nests deeper than `limit`. Brackets inside strings do not count;
/// the text need not be valid JSON (the parser reports that).
pub(crate) fn json_too_deep(text: &str, limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth = depth.saturating_add(1);
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn string(s: &str) -> AnyValue {
        AnyValue {
            value: Some(Value::StringValue(s.into())),
        }
    }

    fn array(inner: AnyValue) -> AnyValue {
        AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![string("x"), inner],
            })),
        }
    }

    fn kvlist(inner: AnyValue) -> AnyValue {
        AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(inner),
                    ..KeyValue::default()
                }],
            })),
        }
    }

    fn request_with_span_attribute(value: AnyValue) -> ExportTraceServiceRequest {
        let span = Span {
            attributes: vec![
                KeyValue {
                    key: "flat".into(),
                    value: Some(string("v")),
                    ..KeyValue::default()
                },
                KeyValue {
                    key: "deep".into(),
                    value: Some(value),
                    ..KeyValue::default()
                },
            ],
            ..Span::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![
                    ScopeSpans::default(),
                    ScopeSpans {
                        spans: vec![Span::default(), span],
                        ..ScopeSpans::default()
                    },
                ],
                ..ResourceSpans::default()
            }],
        }
    }

    #[test]
    fn attribute_depth_counts_arrays_and_kvlists() {
        // kvlist(array(kvlist("x"))): depth 3.
        let request = request_with_span_attribute(kvlist(array(kvlist(string("x")))));
        assert_eq!(request_too_deep(&request, 3), None);
        assert_eq!(
            request_too_deep(&request, 2),
            Some((
                "resource_spans[0].scope_spans[1].spans[1].attributes".into(),
                3
            ))
        );
        assert_eq!(
            request_too_deep(&request_with_span_attribute(string("x")), 0),
            None
        );
    }

    #[test]
    fn json_depth_ignores_brackets_in_strings() {
        assert!(!json_too_deep(r#"{"a":[1,{"b":"[[[[\"{{"}]}"#, 3));
        assert!(json_too_deep(r#"{"a":[1,{"b":[]}]}"#, 3));
        assert!(!json_too_deep("1", 0));
        assert!(json_too_deep("[", 0));
        // Unbalanced closers do not go below zero.
        assert!(!json_too_deep("]]]]{}", 1));
    }
}
