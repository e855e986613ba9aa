//! Test-only access to the real AWS payloads in `tests/fixtures/`.

use super::{Detail, HttpRequest, Item, MessageDetail, Trigger};
use crate::error::DecodeError;
use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

/// A fixture parsed as JSON; a missing or unparsable file is an error naming it.
pub(crate) fn fixture(relative: &str) -> Result<Value, DecodeError> {
    let path = format!("{ROOT}{relative}");
    let bytes = std::fs::read(&path).map_err(|e| DecodeError::Json {
        input: "fixture",
        message: format!("{path}: {e}"),
    })?;
    serde_json::from_slice(crate::json::without_bom(&bytes)).map_err(|e| DecodeError::Json {
        input: "fixture",
        message: format!("{path}: {e}"),
    })
}

/// The HTTP detail of a trigger's first item.
pub(crate) fn http(trigger: &Trigger) -> Option<&HttpRequest> {
    match trigger.items.first().and_then(|i| i.detail.as_ref()) {
        Some(Detail::Http(h)) => Some(h),
        _ => None,
    }
}

/// A fixture parsed as JSON, for tests that fail on a missing fixture.
pub(crate) fn load(relative: &str) -> Value {
    fixture(relative).unwrap_or_else(|e| panic!("{e}"))
}

/// The message detail of an item, for tests.
pub(crate) fn message_detail(item: &Item) -> &MessageDetail {
    match &item.detail {
        Some(Detail::Message(d)) => d,
        other => panic!("detail {other:?}"),
    }
}

/// Every JSON fixture under `tests/fixtures/` (a superset of the shared set), sorted.
pub(crate) fn all_json_files() -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(std::path::Path::new(ROOT), &mut files);
    files.sort();
    assert!(files.len() > 100, "{} fixtures", files.len());
    files
}

/// Asserts that a borrowed reader's answer, if any, is the `Value` decoders' answer for the
/// same text; true when there was one.
pub(crate) fn agrees_with_value_decoders(answer: Option<Trigger>, text: &str, what: &str) -> bool {
    match answer {
        None => false,
        Some(fast) => {
            assert_eq!(
                super::decode_event(text.as_bytes()).ok(),
                Some(fast),
                "{what}"
            );
            true
        }
    }
}
