//! Golden tests for trace context carriers: every `tests/golden/propagation/<case>/input.json`
//! is read through the carrier it names and the result compared with `expected.json`.
//!
//! `input.json` is `{"carrier": "headers"|"json"|"sqs"|"sns", "value": ..., "prefix": ...}`.
//! For `headers`, `value` maps names to a string or a list of strings (a repeated header).
//! `prefix` is optional; it defaults to where the carrier sits in a Lambda event. `source` says
//! where the values come from and is not read. `expected.json`
//! is the serialized `Vec<Found>`. `UPDATE_GOLDEN=1 cargo test --test propagation_golden`
//! rewrites the expected files; review the diff like code.

mod common;

use relink::propagation::{
    from_headers, from_json_carrier, from_sns_attributes, from_sqs_attributes, Found,
};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/propagation")
}

/// Runs one case's input through the carrier it names.
fn run(case: &str, input: &Value) -> Result<Vec<Found>, String> {
    let kind = input["carrier"]
        .as_str()
        .ok_or(format!("{case}: input.json: carrier must be a string"))?;
    let value = input
        .get("value")
        .ok_or(format!("{case}: input.json: value is missing"))?;
    let default_prefix = match kind {
        "headers" => "headers",
        "json" => "detail._datadog",
        "sqs" => "messageAttributes",
        "sns" => "Sns.MessageAttributes",
        other => return Err(format!("{case}: input.json: unknown carrier {other:?}")),
    };
    let prefix = input
        .get("prefix")
        .and_then(Value::as_str)
        .unwrap_or(default_prefix);
    Ok(match kind {
        "headers" => {
            let object = value
                .as_object()
                .ok_or(format!("{case}: input.json: value must be an object"))?;
            let mut pairs = Vec::new();
            for (name, v) in object {
                match v {
                    Value::String(s) => pairs.push((name.as_str(), s.as_str())),
                    Value::Array(items) => {
                        for item in items {
                            let s = item.as_str().ok_or(format!(
                                "{case}: input.json: value.{name} items must be strings"
                            ))?;
                            pairs.push((name.as_str(), s));
                        }
                    }
                    _ => {
                        return Err(format!(
                            "{case}: input.json: value.{name} must be a string or a list"
                        ))
                    }
                }
            }
            from_headers(pairs, prefix)
        }
        "json" => from_json_carrier(value, prefix),
        "sqs" => from_sqs_attributes(value, prefix),
        _ => from_sns_attributes(value, prefix),
    })
}

#[test]
fn propagation_golden() {
    let update = common::update_golden();
    let mut cases: Vec<PathBuf> = fs::read_dir(golden_dir())
        .expect("tests/golden/propagation exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no golden cases found");

    let mut failures = Vec::new();
    for dir in &cases {
        let case = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        let input: Value =
            serde_json::from_str(&fs::read_to_string(dir.join("input.json")).expect("input.json"))
                .unwrap_or_else(|e| panic!("{case}/input.json: {e}"));
        let found = match run(&case, &input) {
            Ok(found) => found,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let actual = serde_json::to_string_pretty(&found).expect("Found serializes") + "\n";
        let expected_path = dir.join("expected.json");
        if update {
            fs::write(&expected_path, &actual).expect("write expected.json");
            continue;
        }
        match fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!("{case}: expected\n{expected}got\n{actual}")),
            Err(_) => failures.push(format!(
                "{case}: no expected.json (run with UPDATE_GOLDEN=1)"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
