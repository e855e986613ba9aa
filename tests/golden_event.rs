//! Every shared AWS fixture through `decode_event`, checked against
//! `tests/golden/event/<source>/<fixture>/expected.json` (the decoded Trigger, or the error
//! for payloads that are not trigger events, such as Lambda responses) and `inferred.json`
//! (the inferred spans as OTLP/JSON, what `relink event --otlp` prints). Hand-built cases
//! live in `tests/golden/event/hand/<case>/input.json`.

mod common;

use std::path::Path;

/// Fixture folders that hold Lambda trigger events (Step Functions logs and histories have
/// their own harness).
const EVENT_SOURCES: &[&str] = &[
    "aws-lambda-rust-runtime",
    "datadog-lambda-python",
    "powertools-lambda-python",
];

/// The decoded trigger (or error) and, for a trigger, its inferred spans.
fn render(input: &[u8]) -> (String, Option<String>) {
    match relink::decode_event(input) {
        Ok(trigger) => {
            let request = relink::inferred::infer_request(&trigger, &Default::default());
            let otlp: serde_json::Value =
                serde_json::from_slice(&relink::otlp::encode_json(&request)).unwrap_or_default();
            let decoded = serde_json::to_value(&trigger).unwrap_or_default();
            (common::pretty(&decoded), Some(common::pretty(&otlp)))
        }
        Err(e) => (
            common::pretty(&serde_json::json!({ "error": e.to_string() })),
            None,
        ),
    }
}

/// Checks one case directory, collecting mismatches.
fn check_case(case: &Path, input: &[u8], failures: &mut Vec<String>) {
    let (decoded, inferred) = render(input);
    if let Err(e) = common::check(&case.join("expected.json"), &decoded) {
        failures.push(e);
    }
    let inferred_path = case.join("inferred.json");
    match inferred {
        Some(otlp) => {
            if let Err(e) = common::check(&inferred_path, &otlp) {
                failures.push(e);
            }
        }
        None if inferred_path.exists() => failures.push(format!(
            "{}: no trigger decoded, so no spans",
            inferred_path.display()
        )),
        None => {}
    }
}

#[test]
fn fixtures_decode_as_golden() {
    let root = common::root();
    let mut failures = Vec::new();
    let mut checked = 0;
    for source in EVENT_SOURCES {
        for fixture in common::files_under(&root.join("tests/fixtures").join(source), ".json") {
            let Some(stem) = fixture.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let input = std::fs::read(&fixture).unwrap_or_default();
            checked += 1;
            check_case(
                &root.join("tests/golden/event").join(source).join(stem),
                &input,
                &mut failures,
            );
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
        check_case(case, &bytes, &mut failures);
    }
    common::report(failures, checked);
}
