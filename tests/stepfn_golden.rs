//! Golden tests for Step Functions spans: every folder in tests/golden/stepfn/ is one case
//! (see the README there for the file formats). The spans are rendered as a readable JSON
//! list and compared with `expected.json`; `UPDATE_GOLDEN=1` rewrites the expectations,
//! which are then reviewed like code. Every case is also checked for the invariants any
//! span tree must keep (unique ids, parents present, ends after starts, one trace per
//! execution), so a wrong expectation cannot hide a broken tree.

mod common;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, status, Span};
use relink::stepfn::{spans_from_history, spans_from_logs, Options};
use relink::time::{format_rfc3339_millis, parse_rfc3339};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

#[test]
fn golden_cases() {
    let dir = root().join("golden/stepfn");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 20,
        "expected the golden cases, found {}",
        cases.len()
    );
    let update = common::update_golden();
    let mut failures = Vec::new();
    for case in &cases {
        let (rendered, otlp) = run_case(case);
        for (file, actual) in [
            ("expected.json", Some(rendered)),
            ("expected.otlp.json", otlp),
        ] {
            let path = case.join(file);
            // The OTLP form is kept only where a case has the file (the CLI test reads it).
            let Some(actual) = actual.filter(|_| file == "expected.json" || path.exists()) else {
                continue;
            };
            if update {
                std::fs::write(&path, &actual).unwrap_or_else(|e| panic!("{e}"));
                continue;
            }
            let expected = std::fs::read_to_string(&path).unwrap_or_default();
            if expected != actual {
                failures.push(format!("{}\n--- actual ---\n{actual}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (UPDATE_GOLDEN=1 to rewrite, then review):\n{}",
        failures.join("\n")
    );
}

/// Runs one case: its input through the public API, its output rendered (or its error),
/// and the spans as pretty OTLP/JSON (what `relink event` prints).
fn run_case(case: &Path) -> (String, Option<String>) {
    let config: Value = read_json(&case.join("config.json")).unwrap_or(json!({}));
    let options = Options {
        include_data: config
            .get("include_data")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ..Options::default()
    };
    let arn = config.get("execution_arn").and_then(Value::as_str);
    let file = |name: &str| std::fs::read(case.join(name)).ok();
    let result = if let Some(bytes) = file("input.history.json") {
        spans_from_history(&bytes, arn, &options)
    } else if let Some(bytes) = file("input.logs.ndjson").or_else(|| file("input.logs.json")) {
        spans_from_logs(&bytes, &options)
    } else if let Some(pointer) = read_json(&case.join("input.fixture.json")) {
        let (format, bytes) = from_fixture(&pointer);
        let arn = pointer.get("execution_arn").and_then(Value::as_str).or(arn);
        match format.as_str() {
            "history" => spans_from_history(&bytes, arn, &options),
            _ => spans_from_logs(&bytes, &options),
        }
    } else {
        panic!("{}: no input file", case.display());
    };
    match result {
        Ok(request) => {
            check_invariants(case, &request);
            let otlp: Value =
                serde_json::from_slice(&relink::otlp::encode_json(&request)).unwrap_or_default();
            (render(&request), Some(format!("{}\n", pretty(&otlp))))
        }
        Err(error) => (
            format!("{}\n", pretty(&json!({ "error": error.to_string() }))),
            None,
        ),
    }
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Loads the input an `input.fixture.json` points at and undoes LocalStack's snapshot
/// normalisation (the README lists the rules).
fn from_fixture(pointer: &Value) -> (String, Vec<u8>) {
    let get = |key: &str| pointer.get(key).and_then(Value::as_str);
    let path = root()
        .join("fixtures")
        .join(get("fixture").unwrap_or_default());
    let format = get("format").unwrap_or("logs").to_owned();
    let Some(test) = get("test") else {
        return (
            format,
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        );
    };
    let snapshot = read_json(&path).unwrap_or_else(|| panic!("{}: missing", path.display()));
    let content = get("content").unwrap_or_default();
    let mut value = snapshot
        .pointer(&format!(
            "/{}/recorded-content/{content}",
            test.replace('~', "~0").replace('/', "~1")
        ))
        .cloned()
        .unwrap_or_else(|| panic!("{test} / {content} not in {}", path.display()));
    let start = parse_rfc3339(
        pointer
            .pointer("/timestamps/start")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    )
    .unwrap_or_else(|| panic!("timestamps.start must be RFC 3339"));
    let step = pointer
        .pointer("/timestamps/step_ms")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        * 1_000_000;
    let events = match value.get_mut("events") {
        Some(Value::Array(events)) => events,
        _ => value
            .as_array_mut()
            .unwrap_or_else(|| panic!("{test}: no events")),
    };
    for event in events.iter_mut().filter_map(Value::as_object_mut) {
        let id = event
            .get("id")
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
        let time = start + id.unwrap_or(0).saturating_sub(1) * step;
        if event.get("timestamp").and_then(Value::as_str) == Some("timestamp") {
            event.insert(
                "timestamp".into(),
                Value::String(format_rfc3339_millis(time)),
            );
        }
        if event.get("event_timestamp").and_then(Value::as_str) == Some("timestamp") {
            event.insert(
                "event_timestamp".into(),
                Value::String((time / 1_000_000).to_string()),
            );
        }
        for details in event.values_mut().filter_map(Value::as_object_mut) {
            restringify(details);
        }
    }
    (format, serde_json::to_vec(&value).unwrap_or_default())
}

/// LocalStack parses JSON-string fields into objects; the real services send strings.
fn restringify(details: &mut Map<String, Value>) {
    for key in ["input", "output", "parameters", "cause"] {
        if let Some(value) = details.get_mut(key).filter(|v| !v.is_string()) {
            *value = Value::String(value.to_string());
        }
    }
}

fn check_invariants(case: &Path, request: &ExportTraceServiceRequest) {
    for resource in &request.resource_spans {
        let spans: Vec<&Span> = resource
            .scope_spans
            .iter()
            .flat_map(|s| s.spans.iter())
            .collect();
        let ids: HashSet<&Vec<u8>> = spans.iter().map(|s| &s.span_id).collect();
        assert_eq!(
            ids.len(),
            spans.len(),
            "{}: duplicate span ids",
            case.display()
        );
        let trace = spans.first().map(|s| &s.trace_id);
        for s in &spans {
            assert_eq!(
                Some(&s.trace_id),
                trace,
                "{}: {} in another trace",
                case.display(),
                s.name
            );
            assert!(
                s.end_time_unix_nano >= s.start_time_unix_nano,
                "{}: {} ends before it starts",
                case.display(),
                s.name
            );
            let is_execution = s.kind == span::SpanKind::Server as i32;
            assert!(
                is_execution || ids.contains(&s.parent_span_id),
                "{}: {} has a parent that is not in the output",
                case.display(),
                s.name
            );
        }
        assert_eq!(
            spans
                .iter()
                .filter(|s| s.kind == span::SpanKind::Server as i32)
                .count(),
            1,
            "{}",
            case.display()
        );
    }
}

/// The spans as a JSON list, each object's keys in reading order (name first).
fn render(request: &ExportTraceServiceRequest) -> String {
    let spans = request
        .resource_spans
        .iter()
        .flat_map(|r| r.scope_spans.iter())
        .flat_map(|s| s.spans.iter());
    let items: Vec<String> = spans.map(|s| indent(&render_span(s), "  ")).collect();
    format!("[\n  {}\n]\n", items.join(",\n  "))
}

fn render_span(s: &Span) -> String {
    let kind = span::SpanKind::try_from(s.kind)
        .map(|k| k.as_str_name())
        .unwrap_or("?");
    let status = match &s.status {
        Some(st) if st.code == status::StatusCode::Error as i32 => {
            json!({ "code": "ERROR", "message": st.message })
        }
        _ => json!("UNSET"),
    };
    let fields = [
        ("name", json!(s.name)),
        ("trace_id", json!(hex::encode(&s.trace_id))),
        ("span_id", json!(hex::encode(&s.span_id))),
        (
            "parent_span_id",
            if s.parent_span_id.is_empty() {
                Value::Null
            } else {
                json!(hex::encode(&s.parent_span_id))
            },
        ),
        ("kind", json!(kind.trim_start_matches("SPAN_KIND_"))),
        (
            "start",
            json!(format_rfc3339_millis(s.start_time_unix_nano)),
        ),
        ("end", json!(format_rfc3339_millis(s.end_time_unix_nano))),
        ("status", status),
        ("attributes", attributes(&s.attributes)),
        (
            "events",
            Value::Array(
                s.events
                    .iter()
                    .map(|e| {
                        json!({
                            "time": format_rfc3339_millis(e.time_unix_nano),
                            "name": e.name,
                            "attributes": attributes(&e.attributes),
                        })
                    })
                    .collect(),
            ),
        ),
        (
            "links",
            Value::Array(
                s.links
                    .iter()
                    .map(|l| {
                        json!({
                            "trace_id": hex::encode(&l.trace_id),
                            "span_id": hex::encode(&l.span_id),
                            "attributes": attributes(&l.attributes),
                        })
                    })
                    .collect(),
            ),
        ),
    ];
    let lines: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("  {}: {}", json!(k), indent(&pretty(v), "  ")))
        .collect();
    format!("{{\n{}\n}}", lines.join(",\n"))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Indents every line but the first (which continues the line it is written on).
fn indent(text: &str, by: &str) -> String {
    text.replace('\n', &format!("\n{by}"))
}

fn attributes(list: &[KeyValue]) -> Value {
    let mut out = Map::new();
    for kv in list {
        let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => json!(s),
            Some(any_value::Value::IntValue(i)) => json!(i),
            Some(any_value::Value::BoolValue(b)) => json!(b),
            Some(any_value::Value::DoubleValue(d)) => json!(d),
            other => json!(format!("{other:?}")),
        };
        out.insert(kv.key.clone(), value);
    }
    Value::Object(out)
}
