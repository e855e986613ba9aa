//! Hostile and broken inputs: every golden input truncated, with events dropped, with each
//! field replaced by each JSON type, with chains of previous events pointing anywhere, nested
//! deeper than any stack would take recursively, and larger than the limit. The readers
//! must answer `Ok` or a `DecodeError`, never panic, and keep the span tree well formed.

use relink::stepfn::{spans_from_history, spans_from_logs, Options, DEFAULT_MAX_EVENTS};
use relink::DecodeError;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:Robust:r-1";

fn inputs(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/stepfn");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join(name)))
                .collect()
        })
        .unwrap_or_default();
    cases.sort();
    cases.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn history(bytes: &[u8]) -> Result<usize, DecodeError> {
    let request = spans_from_history(bytes, Some(ARN), &Options::default())?;
    Ok(request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum())
}

fn logs(bytes: &[u8]) -> Result<usize, DecodeError> {
    let request = spans_from_logs(bytes, &Options::default())?;
    Ok(request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum())
}

#[test]
fn truncated_inputs_never_panic() {
    let histories = inputs("input.history.json");
    let log_files = inputs("input.logs.ndjson");
    assert!(histories.len() >= 5 && log_files.len() >= 5);
    for bytes in &histories {
        for end in (0..bytes.len()).step_by(23) {
            let _ = history(bytes.get(..end).unwrap_or_default());
        }
    }
    for bytes in &log_files {
        for end in (0..bytes.len()).step_by(11) {
            let _ = logs(bytes.get(..end).unwrap_or_default());
        }
    }
}

#[test]
fn dropped_events_still_give_spans() {
    for bytes in inputs("input.history.json")
        .into_iter()
        .filter(|b| history(b).is_ok())
    {
        let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let events = root
            .get("events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for skip in 0..events.len() {
            let kept: Vec<Value> = events
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, e)| e.clone())
                .collect();
            let result = history(json!({ "events": kept }).to_string().as_bytes());
            assert!(
                matches!(result, Ok(n) if n >= 1),
                "dropping event {skip}: {result:?}"
            );
        }
    }
    for bytes in inputs("input.logs.ndjson")
        .into_iter()
        .filter(|b| logs(b).is_ok())
    {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        for skip in 0..lines.len() {
            let kept: Vec<&str> = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, l)| *l)
                .collect();
            let result = logs(kept.join("\n").as_bytes());
            assert!(
                result.is_ok() || lines.len() == 1,
                "dropping line {skip}: {result:?}"
            );
        }
    }
}

#[test]
fn every_field_of_every_type_never_panics() {
    let replacements = [
        json!(null),
        json!(-1),
        json!(1e300),
        json!(u64::MAX),
        json!("[0]"),
        json!({}),
    ];
    let all = inputs("input.history.json");
    let picked = ["hand-map-failed-iteration-history", "hand-redrive-history"].map(|case| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/stepfn")
            .join(case)
            .join("input.history.json");
        std::fs::read(path).unwrap_or_default()
    });
    assert!(all.iter().any(|b| *b == picked[0]) && all.iter().any(|b| *b == picked[1]));
    for bytes in &picked {
        let Ok(root) = serde_json::from_slice::<Value>(bytes) else {
            continue;
        };
        let count = root
            .get("events")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        for i in 0..count {
            let keys: Vec<String> = root
                .pointer(&format!("/events/{i}"))
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            for key in keys {
                for replacement in &replacements {
                    let mut mutated = root.clone();
                    if let Some(slot) = mutated.pointer_mut(&format!("/events/{i}/{key}")) {
                        *slot = replacement.clone();
                    }
                    let _ = history(mutated.to_string().as_bytes());
                }
            }
        }
    }
}

#[test]
fn previous_events_pointing_anywhere_never_panic() {
    let types = [
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "ParallelStateStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "MapIterationFailed",
        "ParallelStateEntered",
        "MapStateExited",
        "ExecutionRedriven",
        "TaskStateAborted",
    ];
    for seed in 0..60u64 {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n.max(1)
        };
        let events: Vec<Value> = (1..60u64)
            .map(|id| {
                let ty = types.get(next(types.len() as u64) as usize).copied().unwrap_or("PassStateEntered");
                json!({
                    "id": id, "previousEventId": next(id + 5), "timestamp": 1_722_369_353 + next(100),
                    "type": ty,
                    "stateEnteredEventDetails": {"name": "S"}, "stateExitedEventDetails": {"name": "S"},
                    "mapIterationStartedEventDetails": {"name": "S", "index": next(3)},
                    "mapIterationFailedEventDetails": {"name": "S", "index": next(3)},
                })
            })
            .collect();
        let result = history(json!({ "events": events }).to_string().as_bytes());
        assert!(result.is_ok(), "seed {seed}: {result:?}");
    }
}

#[test]
fn deep_nesting_is_not_recursive() {
    // Map inside a Map iteration inside a Map iteration ... 5000 levels deep.
    let mut events =
        vec![json!({"id": 1, "previousEventId": 0, "timestamp": 1.0, "type": "ExecutionStarted"})];
    let mut id = 1u64;
    for _ in 0..5000 {
        for ty in ["MapStateEntered", "MapStateStarted", "MapIterationStarted"] {
            id += 1;
            events.push(json!({"id": id, "previousEventId": id - 1, "timestamp": 2.0, "type": ty,
                "stateEnteredEventDetails": {"name": "M"}, "mapIterationStartedEventDetails": {"name": "M", "index": 0}}));
        }
    }
    events.push(
        json!({"id": id + 1, "previousEventId": id, "timestamp": 3.0, "type": "ExecutionFailed"}),
    );
    // Execution + 5000 Map states + 5000 iterations.
    assert_eq!(
        history(json!({ "events": events }).to_string().as_bytes()),
        Ok(10_001)
    );
}

#[test]
fn the_event_limit_holds() {
    assert_eq!(DEFAULT_MAX_EVENTS, 25_000);
    let options = Options {
        max_events: 3,
        ..Options::default()
    };
    let line = |id: usize| {
        format!(
            r#"{{"id":"{id}","type":"PassStateEntered","details":{{"name":"P"}},"previous_event_id":"{}","event_timestamp":"1713959670680","execution_arn":"{ARN}","redrive_count":"0"}}"#,
            id - 1
        )
    };
    let count = |r: Result<
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
        DecodeError,
    >| {
        r.map(|req| {
            req.resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum::<usize>()
        })
    };
    let at_limit: Vec<String> = (1..=3).map(line).collect();
    assert_eq!(
        count(spans_from_logs(at_limit.join("\n").as_bytes(), &options)),
        Ok(4)
    );
    let over: Vec<String> = (1..=4).map(line).collect();
    let too_large = Err(DecodeError::TooLarge {
        input: "stepfunctions log lines",
        limit: 3,
        actual: 4,
    });
    assert_eq!(
        count(spans_from_logs(over.join("\n").as_bytes(), &options)),
        too_large
    );
    assert_eq!(
        count(spans_from_logs(
            format!("[{}]", over.join(",")).as_bytes(),
            &options
        )),
        too_large
    );
    let history_events: Vec<Value> = (1..=4)
        .map(|id| json!({"id": id, "timestamp": 1, "type": "ExecutionStarted"}))
        .collect();
    assert_eq!(
        count(spans_from_history(
            json!({ "events": history_events }).to_string().as_bytes(),
            Some(ARN),
            &options
        )),
        Err(DecodeError::TooLarge {
            input: "stepfunctions history events",
            limit: 3,
            actual: 4
        })
    );
}
