//! Test-only access to the real AWS payloads in `tests/fixtures/`.

use super::{Detail, HttpRequest, Trigger};
use crate::error::DecodeError;
use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

/// A fixture parsed as JSON; a missing or unparsable file is an error naming it.
pub(crate) fn fixture(relative: &str) -> Result<Value, DecodeError> {
    let path = format!("{ROOT}{relative}");
    let bytes = std::fs::read(&path)
        .map_err(|e| DecodeError::Json { input: "fixture", message: format!("{path}: {e}") })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| DecodeError::Json { input: "fixture", message: format!("{path}: {e}") })
}

/// The HTTP detail of a trigger's first item.
pub(crate) fn http(trigger: &Trigger) -> Option<&HttpRequest> {
    match trigger.items.first().and_then(|i| i.detail.as_ref()) {
        Some(Detail::Http(h)) => Some(h),
        _ => None,
    }
}

/// Every strict prefix of a fixture (cut every `step` bytes, and one byte short) fails to
/// decode with a JSON error: truncated input never panics or half-decodes.
pub(crate) fn assert_truncations_fail(relative: &str, step: usize) -> Result<(), DecodeError> {
    let path = format!("{ROOT}{relative}");
    let bytes = std::fs::read(&path)
        .map_err(|e| DecodeError::Json { input: "fixture", message: format!("{path}: {e}") })?;
    let end = bytes.iter().rposition(|b| *b == b'}').unwrap_or(0);
    let cuts = (0..end).step_by(step.max(1)).chain(std::iter::once(end));
    for cut in cuts {
        let prefix = bytes.get(..cut).unwrap_or_default();
        let result = super::decode_event(prefix);
        assert!(matches!(result, Err(DecodeError::Json { .. })), "{relative} cut at {cut}: {result:?}");
    }
    Ok(())
}

/// Replaces every node of a fixture, one at a time, with values of every JSON type (and
/// numbers no u64 holds) and decodes the result: each either decodes or is an error whose
/// message starts with the input it was reading, and none panics. Returns how many variants were decoded.
pub(crate) fn assert_mutations_decode_or_fail(relative: &str) -> Result<usize, DecodeError> {
    let original = fixture(relative)?;
    let replacements = [
        Value::Null,
        Value::Bool(true),
        serde_json::json!(-1),
        serde_json::json!(1e300),
        serde_json::json!(u64::MAX),
        serde_json::json!("x"),
        serde_json::json!([]),
        serde_json::json!({}),
    ];
    let mut pointers = Vec::new();
    collect_pointers(&original, String::new(), &mut pointers);
    let mut count = 0;
    for pointer in &pointers {
        for replacement in &replacements {
            let mut event = original.clone();
            if let Some(slot) = event.pointer_mut(pointer) {
                *slot = replacement.clone();
            }
            if let Err(e) = super::decode_event_value(&event) {
                let message = e.to_string();
                let input = message.split(':').next().unwrap_or_default();
                assert!(
                    input == "event" || input.ends_with(" event") || input.ends_with(" context"),
                    "{relative} {pointer} = {replacement}: {message}"
                );
            }
            count += 1;
        }
    }
    Ok(count)
}

fn collect_pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                collect_pointers(child, super::json::join(&at, key), out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                collect_pointers(child, format!("{at}/{index}"), out);
            }
        }
        _ => {}
    }
    if !at.is_empty() {
        out.push(at);
    }
}
