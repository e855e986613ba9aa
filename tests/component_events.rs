//! The expected outputs of the component's `process-event` entry point, computed by the
//! native core's `Processor::process_event` (fresh default processor, the case's context,
//! OTLP/JSON out). Every component host (the relay's wasmtime, Python `wasmtime`, Node via
//! jco) checks its output against these files, so the component and the native core
//! agree. Cases are listed in `host-examples/component/tests/cases.json`.

mod common;

use relink::config::Config;
use relink::processor::EventContext;
use serde_json::Value;

fn base_now(manifest: &Value) -> u64 {
    manifest["base_now"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn context(value: &Value) -> EventContext {
    let mut context = EventContext::default();
    if let Some(start) = value["invocation_start_unix_nano"]
        .as_str()
        .and_then(|s| s.parse().ok())
    {
        context = context.with_invocation_start(start);
    }
    if let Some(name) = value["service_name"].as_str() {
        context = context.with_service_name(name);
    }
    if let Some(arn) = value["execution_arn"].as_str() {
        context = context.with_execution_arn(arn);
    }
    context
}

#[test]
fn event_entry_point_outputs_match_golden() {
    let root = common::root();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(root.join("host-examples/component/tests/cases.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    let now = base_now(&manifest);
    let events = manifest["events"].as_array().cloned().unwrap_or_default();
    let mut failures = Vec::new();
    for case in &events {
        let event = std::fs::read(root.join(case["event"].as_str().unwrap_or_default()))
            .unwrap_or_default();
        let Ok(mut processor) = relink::Processor::new(&Config::default()) else {
            failures.push("default config does not build".into());
            continue;
        };
        let request = match processor.process_event(&event, &context(&case["context"]), now) {
            Ok(request) => request,
            Err(e) => {
                failures.push(format!("{}: {e}", case["event"]));
                continue;
            }
        };
        let json: Value =
            serde_json::from_slice(&relink::otlp::encode_json(&request)).unwrap_or_default();
        let expected = root.join(case["expected"].as_str().unwrap_or_default());
        if let Err(e) = common::check(&expected, &common::pretty(&json)) {
            failures.push(e);
        }
    }
    common::report(failures, events.len());
}

#[test]
fn event_errors_are_the_cores() {
    let root = common::root();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(root.join("host-examples/component/tests/cases.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    let cases = manifest["event_errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let event = case["event"].as_str().unwrap_or_default();
        let Ok(mut processor) = relink::Processor::new(&Config::default()) else {
            panic!("default config does not build");
        };
        let message = processor
            .process_event(event.as_bytes(), &EventContext::default(), 0)
            .err()
            .map(|e| e.to_string());
        assert_eq!(message.as_deref(), case["error"][1].as_str(), "{event}");
    }
}

/// Each `log_records` sequence through one enricher built from the default configuration,
/// as the component's `process-log` does: the enriched record, `null` when unchanged, or
/// the error text.
#[test]
fn log_record_outputs_match_golden() {
    let root = common::root();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(root.join("host-examples/component/tests/cases.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    let sequences = manifest["log_records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(sequences.len(), 5);
    let mut out = serde_json::Map::new();
    for sequence in &sequences {
        let mut enricher = relink::Settings::new(&Config::default())
            .map(|s| s.enricher())
            .unwrap_or_else(|e| panic!("{e}"));
        let outputs: Vec<Value> = sequence["records"]
            .as_array()
            .into_iter()
            .flatten()
            .map(
                |record| match enricher.enrich_json(record.as_str().unwrap_or_default()) {
                    Ok(Some(enriched)) => serde_json::json!({ "output": enriched }),
                    Ok(None) => serde_json::json!({ "output": record }),
                    Err(e) => serde_json::json!({ "error": ["decode", e.to_string()] }),
                },
            )
            .collect();
        out.insert(
            sequence["name"].as_str().unwrap_or_default().to_string(),
            Value::Array(outputs),
        );
    }
    let expected = root.join("host-examples/component/tests/log-records.expected.json");
    if let Err(e) = common::check(&expected, &common::pretty(&Value::Object(out))) {
        panic!("{e}");
    }
}
