//! Every shared AWS fixture through `decode_event`, checked against
//! `tests/golden/event/<source>/<fixture>/expected.json` (the decoded Trigger, or the error
//! for payloads that are not trigger events, such as Lambda responses). Hand-built cases
//! live in `tests/golden/event/hand/<case>/input.json`.

mod common;

use std::path::Path;

/// Fixture folders that hold Lambda trigger events (Step Functions logs and histories have
/// their own harness).
const EVENT_SOURCES: &[&str] =
    &["aws-lambda-rust-runtime", "datadog-lambda-python", "powertools-lambda-python"];

fn render(input: &[u8]) -> String {
    let value = match relink::decode_event(input) {
        Ok(trigger) => serde_json::to_value(&trigger).unwrap_or_default(),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    common::pretty(&value)
}

#[test]
fn fixtures_decode_as_golden() {
    let root = common::root();
    let mut failures = Vec::new();
    let mut checked = 0;
    for source in EVENT_SOURCES {
        for fixture in common::files_under(&root.join("tests/fixtures").join(source), ".json") {
            let Some(stem) = fixture.file_stem().and_then(|s| s.to_str()) else { continue };
            let input = std::fs::read(&fixture).unwrap_or_default();
            let expected = root.join("tests/golden/event").join(source).join(stem).join("expected.json");
            checked += 1;
            if let Err(e) = common::check(&expected, &render(&input)) {
                failures.push(e);
            }
        }
    }
    common::report(failures, checked);
}

#[test]
fn hand_built_cases_decode_as_golden() {
    let dir = common::root().join("tests/golden/event/hand");
    let mut failures = Vec::new();
    let mut checked = 0;
    for input in common::files_under(&dir, "input.json") {
        let case = input.parent().unwrap_or(Path::new("."));
        let bytes = std::fs::read(&input).unwrap_or_default();
        checked += 1;
        if let Err(e) = common::check(&case.join("expected.json"), &render(&bytes)) {
            failures.push(e);
        }
    }
    common::report(failures, checked);
}
