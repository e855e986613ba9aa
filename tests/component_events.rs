//! The expected outputs of the component's `process-event` entry point, computed with the
//! native core exactly as `src/bindings/component.rs` composes it (decode the event, infer
//! its spans with the host's Lambda context, process them as the consumer side on a fresh
//! default processor, encode OTLP/JSON). Every component host (the relay's wasmtime,
//! Python `wasmtime`, Node via jco) then checks its output against these files, so the
//! component and the native core agree. Cases are listed in `tests/component/cases.json`.

mod common;

use relink::config::Config;
use relink::inferred::{infer_request, InferOptions};
use serde_json::Value;

fn base_now(manifest: &Value) -> u64 {
    manifest["base_now"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn options(context: &Value) -> InferOptions {
    InferOptions {
        service_name: context["service_name"].as_str().map(String::from),
        invocation_start_unix_nano: context["invocation_start_unix_nano"].as_str().and_then(|s| s.parse().ok()),
        ..InferOptions::default()
    }
}

#[test]
fn event_entry_point_outputs_match_golden() {
    let root = common::root();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(root.join("tests/component/cases.json")).unwrap_or_default())
            .unwrap_or_default();
    let now = base_now(&manifest);
    let events = manifest["events"].as_array().cloned().unwrap_or_default();
    let mut failures = Vec::new();
    for case in &events {
        let event = std::fs::read(root.join(case["event"].as_str().unwrap_or_default())).unwrap_or_default();
        let trigger = match relink::decode_event(&event) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{}: {e}", case["event"]));
                continue;
            }
        };
        let Ok(mut processor) = Config::default().build() else {
            failures.push("default config does not build".into());
            continue;
        };
        let mut request = infer_request(&trigger, &options(&case["context"]));
        processor.process_inferred(&trigger, &mut request, now);
        let json: Value = serde_json::from_slice(&relink::otlp::encode_json(&request)).unwrap_or_default();
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
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(root.join("tests/component/cases.json")).unwrap_or_default())
            .unwrap_or_default();
    let cases = manifest["event_errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let event = case["event"].as_str().unwrap_or_default();
        let message = relink::decode_event(event.as_bytes()).err().map(|e| e.to_string());
        assert_eq!(message.as_deref(), case["error"][1].as_str(), "{event}");
    }
}
