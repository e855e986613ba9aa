//! Reading and writing OTLP attributes, and the names relink writes.
//!
//! Attribute lists are small vectors of key/value pairs; lookups are linear and bounded by
//! `limits.max_attributes_scanned`, because a span with thousands of attributes must not
//! make the processor quadratic.

use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, ArrayValue, KeyValue};

/// Span attribute: the rules that touched this span (string array).
pub const RULES: &str = "relink.rules";
/// Span attribute: the Datadog pointer hashes this span wrote or was triggered by.
pub const POINTER_HASHES: &str = "relink.pointer.hashes";
/// Span attribute: the match kinds of the links relink added (`exact`, `request-id`,
/// `heuristic`, `context`).
pub const MATCHES: &str = "relink.matches";
/// Span attribute: the trace id a span had before adoption.
pub const ORIGINAL_TRACE_ID: &str = "relink.original_trace_id";
/// Link attribute: the rule that made the link.
pub const LINK_RULE: &str = "relink.rule";
/// Link attribute: how the two sides were matched.
pub const LINK_MATCH: &str = "relink.match";
/// Link attribute: the join key (a Datadog pointer hash, or the same hash of a message id
/// or request id, see `relink::key`).
pub const LINK_KEY: &str = "relink.key";
/// Link attribute: which side the linked span is (`producer` or `consumer`).
pub const LINK_PEER: &str = "relink.peer";
/// Link attribute: the header format a messaging context was read from.
pub const LINK_CONTEXT_FORMAT: &str = "relink.context.format";
/// Link attribute: where in the message the context was found.
pub const LINK_CONTEXT_CARRIER: &str = "relink.context.carrier";
/// Link attribute (semantic conventions): the message the linked context came with.
pub const MESSAGING_MESSAGE_ID: &str = "messaging.message.id";

/// Datadog span-pointer link attributes.
pub const PTR_KIND: &str = "ptr.kind";
pub const PTR_DIR: &str = "ptr.dir";
pub const PTR_HASH: &str = "ptr.hash";
pub const LINK_KIND: &str = "link.kind";
pub const SPAN_POINTER: &str = "span-pointer";
/// The match kind of a join on ids both sides compute, written in `relink.match`.
pub const DETERMINISTIC: &str = "deterministic";
/// The attribute of the execution span relink builds that names its execution.
pub const EXECUTION_ARN: &str = "aws.step_functions.execution.arn";

/// The attribute's value, looking at no more than `limit` attributes.
pub fn get<'a>(attrs: &'a [KeyValue], key: &str, limit: usize) -> Option<&'a Value> {
    attrs
        .iter()
        .take(limit)
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// A string attribute.
pub fn get_str<'a>(attrs: &'a [KeyValue], key: &str, limit: usize) -> Option<&'a str> {
    match get(attrs, key, limit) {
        Some(Value::StringValue(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// A string or string-array attribute as a list of strings (other element types skipped).
pub fn get_strings<'a>(attrs: &'a [KeyValue], key: &str, limit: usize) -> Vec<&'a str> {
    match get(attrs, key, limit) {
        Some(Value::StringValue(s)) => vec![s.as_str()],
        Some(Value::ArrayValue(a)) => a
            .values
            .iter()
            .filter_map(|v| match &v.value {
                Some(Value::StringValue(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub use crate::otlp::kv::{string as kv, string_value as string};

/// Sets a string attribute, replacing an existing one. Returns whether anything changed.
pub fn set_str(attrs: &mut Vec<KeyValue>, key: &str, value: &str) -> bool {
    if let Some(kv) = attrs.iter_mut().find(|kv| kv.key == key) {
        if matches!(kv.value.as_ref().and_then(|v| v.value.as_ref()), Some(Value::StringValue(s)) if s == value)
        {
            return false;
        }
        kv.value = Some(string(value));
        return true;
    }
    attrs.push(kv(key, value));
    true
}

/// Adds values to a string-array attribute, keeping existing values and their order and
/// skipping duplicates. Returns whether anything changed.
pub fn merge_strings(attrs: &mut Vec<KeyValue>, key: &str, values: &[String]) -> bool {
    if values.is_empty() {
        return false;
    }
    let existing: Vec<String> = get_strings(attrs, key, usize::MAX)
        .into_iter()
        .map(String::from)
        .collect();
    let mut merged = existing.clone();
    for v in values {
        if !merged.contains(v) {
            merged.push(v.clone());
        }
    }
    if merged == existing && matches!(get(attrs, key, usize::MAX), Some(Value::ArrayValue(_))) {
        return false;
    }
    let array = AnyValue {
        value: Some(Value::ArrayValue(ArrayValue {
            values: merged.into_iter().map(string).collect(),
        })),
    };
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = Some(array),
        None => attrs.push(KeyValue {
            key: key.into(),
            value: Some(array),
            ..Default::default()
        }),
    }
    true
}

/// Removes an attribute. Returns whether it was there.
pub fn remove(attrs: &mut Vec<KeyValue>, key: &str) -> bool {
    let before = attrs.len();
    attrs.retain(|kv| kv.key != key);
    attrs.len() != before
}

/// Cuts a string attribute to at most `max` bytes on a char boundary. Returns whether it
/// changed.
pub fn truncate_str(attrs: &mut [KeyValue], key: &str, max: usize) -> bool {
    let Some(kv) = attrs.iter_mut().find(|kv| kv.key == key) else {
        return false;
    };
    let Some(Value::StringValue(s)) = kv.value.as_mut().and_then(|v| v.value.as_mut()) else {
        return false;
    };
    if s.len() <= max {
        return false;
    }
    let mut cut = max;
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(attrs: &[KeyValue], key: &str) -> Vec<String> {
        get_strings(attrs, key, 100)
            .into_iter()
            .map(String::from)
            .collect()
    }

    #[test]
    fn reads_strings_and_arrays_within_the_scan_limit() {
        let mut attrs = vec![kv("a", "1"), kv("b", "2")];
        assert_eq!(get_str(&attrs, "b", 2), Some("2"));
        assert_eq!(get_str(&attrs, "b", 1), None);
        merge_strings(&mut attrs, "c", &["x".into(), "y".into()]);
        assert_eq!(strings(&attrs, "c"), vec!["x", "y"]);
        assert_eq!(strings(&attrs, "a"), vec!["1"]);
    }

    #[test]
    fn merge_keeps_order_and_reports_changes() {
        let mut attrs = Vec::new();
        assert!(merge_strings(&mut attrs, "k", &["a".into()]));
        assert!(!merge_strings(&mut attrs, "k", &["a".into()]));
        assert!(merge_strings(&mut attrs, "k", &["b".into(), "a".into()]));
        assert_eq!(strings(&attrs, "k"), vec!["a", "b"]);
        assert!(!merge_strings(&mut attrs, "k", &[]));
    }

    #[test]
    fn set_remove_truncate() {
        let mut attrs = vec![kv("e", "héllo")];
        assert!(!set_str(&mut attrs, "e", "héllo"));
        assert!(truncate_str(&mut attrs, "e", 2));
        assert_eq!(get_str(&attrs, "e", 9), Some("h"));
        assert!(!truncate_str(&mut attrs, "e", 2));
        assert!(set_str(&mut attrs, "e", "x"));
        assert!(set_str(&mut attrs, "f", "y"));
        assert!(remove(&mut attrs, "e"));
        assert!(!remove(&mut attrs, "e"));
        assert_eq!(attrs.len(), 1);
    }
}
