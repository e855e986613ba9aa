//! Every shared AWS fixture through `decode_event`, checked against
//! `tests/golden/event/<source>/<fixture>/expected.json` (the decoded Trigger, or the error
//! for payloads that are not trigger events, such as Lambda responses) and `inferred.json`
//! (the inferred spans as OTLP/JSON, what `relink event --otlp` prints). Hand-built cases
//! live in `tests/golden/event/hand/<case>/input.json`.

mod common;

use std::path::Path;

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
    for source in common::EVENT_SOURCES {
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

/// The ids a hand case's `oracle.json` states, computed outside relink by
/// `tests/golden/event/hand/oracle.py` (hashlib, Datadog's published algorithm), equal
/// relink's: the state span each Step Functions context object joins (trace id, `_dd.p.tid`,
/// parent id, in Datadog's forms) and every S3 pointer hash, in the order found.
#[test]
fn hand_built_cases_match_the_independent_oracle() {
    let dir = common::root().join("tests/golden/event/hand");
    let mut failures = Vec::new();
    let mut checked = 0;
    for oracle_path in common::files_under(&dir, "oracle.json") {
        let case = oracle_path.parent().unwrap_or(Path::new("."));
        let oracle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&oracle_path).unwrap_or_default())
                .unwrap_or_default();
        let input = std::fs::read(case.join("input.json")).unwrap_or_default();
        let trigger = match relink::decode_event(&input) {
            Ok(t) => serde_json::to_value(&t).unwrap_or_default(),
            Err(e) => {
                failures.push(format!("{}: {e}", case.display()));
                continue;
            }
        };
        let mut found = Found::default();
        found.walk(&trigger, 0);
        let want_contexts = oracle.get("stepfunctions_contexts").cloned();
        let want_s3 = oracle.get("s3_hashes").cloned();
        checked += 1;
        if want_contexts != Some(serde_json::Value::Array(found.contexts.clone())) {
            failures.push(format!(
                "{}: step functions contexts {:?}, oracle {want_contexts:?}",
                case.display(),
                found.contexts
            ));
        }
        if want_s3 != Some(serde_json::Value::Array(found.s3.clone())) {
            failures.push(format!(
                "{}: s3 hashes {:?}, oracle {want_s3:?}",
                case.display(),
                found.s3
            ));
        }
    }
    assert!(checked >= 8, "oracle cases missing: {checked}");
    common::report(failures, checked);
}

/// What the oracle states, read from relink's decoded trigger (as `relink event` prints it).
#[derive(Default)]
struct Found {
    contexts: Vec<serde_json::Value>,
    s3: Vec<serde_json::Value>,
}

impl Found {
    fn walk(&mut self, trigger: &serde_json::Value, depth: usize) {
        let stepfunctions = trigger.get("kind").and_then(|k| k.as_str()) == Some("stepfunctions");
        let items = trigger.get("items").and_then(|i| i.as_array());
        for item in items.into_iter().flatten() {
            // The context a state's context object gives: the item's own for a context-only
            // payload, else the one at the carrier the message's object was read from.
            let carrier = item.pointer("/step_functions/carrier");
            for context in item
                .get("contexts")
                .and_then(|c| c.as_array())
                .into_iter()
                .flatten()
            {
                if stepfunctions || (carrier.is_some() && context.get("carrier") == carrier) {
                    self.contexts
                        .push(context.get("datadog").cloned().unwrap_or_default());
                }
            }
            for pointer in item
                .get("pointers")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
            {
                if pointer.get("kind").and_then(|k| k.as_str()) == Some("aws.s3.object") {
                    let hashes = pointer.get("hashes").and_then(|h| h.as_array());
                    self.s3.extend(hashes.into_iter().flatten().cloned());
                }
            }
            if let Some(payload) = item.get("payload").filter(|_| depth < 4) {
                self.walk(payload, depth + 1);
            }
        }
    }
}
