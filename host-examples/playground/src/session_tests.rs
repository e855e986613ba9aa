//! The browser binding's calls, natively: configuration problems as the page lists them,
//! the golden relink scenarios through a session (the page's path), events, errors.

use super::*;
use serde_json::{json, Value};
use std::path::PathBuf;

const NOW: u64 = 1_709_929_300_000_000_000;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn file_json(path: &str) -> Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn valid_config_has_no_problems() {
    assert_eq!(check_config_problems("{}"), "[]");
    assert_eq!(
        check_config_problems(r#"{"adoption": {"enabled": true}}"#),
        "[]"
    );
}

#[test]
fn every_config_problem_is_listed_with_its_field() {
    let problems = parse(&check_config_problems(
        r#"{"adoption": {"enabled": true}, "direct_links": {"enabled": false}, "index": {"ttl_seconds": 0}}"#,
    ));
    assert_eq!(
        problems,
        json!([
            {"field": "adoption.enabled", "message": "config: `adoption.enabled` requires `direct_links.enabled`"},
            {"field": "index.ttl_seconds", "message": "config: `index.ttl_seconds` is 0, expected 1 to 86400"},
        ])
    );
}

#[test]
fn json_config_problems_have_no_field_and_give_the_position() {
    assert_eq!(
        parse(&check_config_problems(
            "{\n  \"index\": {\"ttl_secs\": 5}\n}"
        )),
        json!([{
            "field": null,
            "message": "config: invalid json: unknown field `ttl_secs`, expected `max_entries` or `ttl_seconds` at line 2 column 22",
        }])
    );
    assert_eq!(
        parse(&check_config_problems("{,")),
        json!([{"field": null, "message": "config: invalid json: key must be a string at line 1 column 2"}])
    );
}

#[test]
fn an_invalid_config_builds_no_session() {
    let err = Session::new(r#"{"limits": {"max_links_per_span": 0}}"#).err();
    assert_eq!(
        err.as_deref(),
        Some("config: `limits.max_links_per_span` is 0, expected 1 to 100000")
    );
}

#[test]
fn otlp_to_json_gives_the_canonical_encoding() {
    let canonical =
        String::from_utf8(read("tests/otlp/lenient_input.canonical.json")).unwrap_or_default();
    assert_eq!(
        otlp_to_json(&read("tests/otlp/lenient_input.json")),
        Ok(canonical.trim_end().to_string())
    );
    assert_eq!(
        otlp_to_json(&read("tests/otlp/lenient_input.pb")).map(|j| parse(&j)),
        Ok(file_json("tests/otlp/lenient_input.canonical.json"))
    );
}

#[test]
fn otlp_to_json_names_the_bad_field() {
    assert_eq!(
        otlp_to_json(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}"#),
        Err(r#"otlp json: resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex digits, got "zz""#.into())
    );
}

/// A protobuf request with a string that is not UTF-8 is shown before and after with
/// U+FFFD in its place: the page compares the same spans, not an empty "before".
#[test]
fn a_request_with_a_string_not_utf8_is_shown_repaired_on_both_sides() {
    let input = read("tests/malformed/otlp/bitflip-utf8.pb");
    let before = otlp_to_json(&input).unwrap_or_default();
    assert!(before.contains('\u{fffd}'), "{before}");
    let mut session = Session::new("{}").unwrap_or_else(|e| panic!("{e}"));
    let outcome = session.process_traces(&input, NOW);
    assert_eq!(outcome.error, None);
    assert_eq!(parse(&outcome.input_json), parse(&before));
    assert_eq!(parse(&outcome.counters_json)["requests_repaired"], json!(1));
}

/// The page's path through a golden scenario gives the golden outputs and counters.
#[test]
fn golden_scenario_through_a_session() {
    let case = "tests/golden/relink/s3-put-then-notify";
    let config = String::from_utf8(read(&format!("{case}/config.json"))).unwrap_or_default();
    let mut session = Session::new(&config).unwrap_or_else(|e| panic!("{e}"));
    for n in 1..=2 {
        let input = read(&format!("{case}/input-{n}.json"));
        let out = session.process_traces(&input, NOW + n * 1_000_000_000);
        assert_eq!(out.error, None);
        assert_eq!(out.encoding, "json");
        assert_eq!(Ok(out.input_json.clone()), otlp_to_json(&input));
        assert_eq!(
            parse(&out.output_json),
            file_json(&format!("{case}/expected-{n}.json"))
        );
        assert_eq!(
            parse(&String::from_utf8_lossy(&out.output)),
            file_json(&format!("{case}/expected-{n}.json"))
        );
    }
    let mut counters = parse(&session.counters_json());
    let mut expected = file_json(&format!("{case}/counters.json"));
    if let Some(index) = counters.get_mut("index").and_then(Value::as_object_mut) {
        index.remove("memory_bytes");
    }
    assert_eq!(Some(&counters), expected.get_mut("counters").map(|c| &*c));
}

#[test]
fn undecodable_traces_pass_through_with_the_error() {
    let mut session = Session::new("{}").unwrap_or_else(|e| panic!("{e}"));
    let input = br#"{"resourceSpans": [{"scopeSpans": 7}]}"#;
    let out = session.process_traces(input, NOW);
    assert_eq!(out.output, input.to_vec());
    assert_eq!(out.input_json, "");
    assert_eq!(out.output_json, "");
    assert_eq!(
        out.error.as_deref(),
        Some("otlp json: resourceSpans[0].scopeSpans: expected an array, got a number")
    );
    assert_eq!(
        parse(&out.counters_json)["errors"]["request_decode"],
        json!(1)
    );
    assert_eq!(parse(&session.counters_json())["requests"], json!(1));
}

/// An event's spans are the inferred spans (the event golden), relinked: the S3 object's
/// span pointer (`u`) is added, and the producer written before gets a direct link.
#[test]
fn event_gives_its_inferred_spans_relinked() {
    let mut session = Session::new("{}").unwrap_or_else(|e| panic!("{e}"));
    let producer = read("tests/golden/relink/s3-put-then-notify/input-1.json");
    assert_eq!(session.process_traces(&producer, NOW).error, None);
    let event = read("tests/fixtures/aws-lambda-rust-runtime/example-s3-event.json");
    let out = session.process_event(&event, NOW);
    assert_eq!(out.error, None);
    assert_eq!(
        parse(&out.input_json),
        file_json("tests/golden/event/aws-lambda-rust-runtime/example-s3-event/inferred.json")
    );
    let after = parse(&out.output_json);
    let span = &after["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    let links = span["links"].as_array().cloned().unwrap_or_default();
    let attr = |link: &Value, key: &str| {
        link["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|kv| kv["key"] == key))
            .map(|kv| kv["value"]["stringValue"].clone())
    };
    let kinds: Vec<_> = links
        .iter()
        .map(|l| (attr(l, "ptr.dir"), attr(l, "relink.rule")))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Some(json!("u")), None),
            (None, Some(json!("aws.s3.object"))),
            // The pointer of the key as the notification wrote it (`Happy%20Face.jpg`).
            (Some(json!("u")), None),
        ]
    );
    assert_eq!(
        parse(&out.counters_json)["links"],
        json!({"pointer": 2, "exact": 1, "request_id": 0, "heuristic": 0, "context": 0, "deterministic": 0, "adoption": 0, "over_limit": 0})
    );
    assert_eq!(out.output, out.output_json.into_bytes());
}

#[test]
fn undecodable_event_gives_the_decoder_error_and_no_spans() {
    let mut session = Session::new("{}").unwrap_or_else(|e| panic!("{e}"));
    let out = session.process_event(br#"{"Records":[{"eventSource":"aws:s3"}]}"#, NOW);
    assert_eq!(
        out.error.as_deref(),
        Some("s3 event: missing field `Records.0.s3.object.key`")
    );
    assert_eq!(
        (
            out.output.len(),
            out.input_json.as_str(),
            out.output_json.as_str()
        ),
        (0, "", "")
    );
    // The core counts the refused call as an unchanged request with an event error.
    let counters = parse(&session.counters_json());
    assert_eq!(
        (
            counters["requests"].clone(),
            counters["errors"]["event_invalid"].clone()
        ),
        (json!(1), json!(1))
    );
}

#[test]
fn event_over_the_size_limit_is_refused() {
    let mut session =
        Session::new(r#"{"limits": {"max_event_bytes": 16}}"#).unwrap_or_else(|e| panic!("{e}"));
    let out = session.process_event(br#"{"Records": [], "padding": 1}"#, NOW);
    assert_eq!(
        out.error.as_deref(),
        Some("event: 29 bytes exceeds the limit of 16 bytes")
    );
    assert_eq!(out.output_json, "");
}

/// `(name, trace id, span id, parent span id)` of every span, sorted: from a stepfn golden
/// `expected.json`, or from OTLP/JSON.
fn span_ids_of_golden(case: &str) -> Vec<(String, String, String, String)> {
    let spans = file_json(&format!("tests/golden/stepfn/{case}/expected.json"));
    let field = |s: &Value, k: &str| s[k].as_str().unwrap_or("").to_string();
    let mut out: Vec<_> = spans
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                field(s, "name"),
                field(s, "trace_id"),
                field(s, "span_id"),
                field(s, "parent_span_id"),
            )
        })
        .collect();
    out.sort();
    out
}

fn span_ids_of_otlp(json: &str) -> Vec<(String, String, String, String)> {
    let request = parse(json);
    let field = |s: &Value, k: &str| s[k].as_str().unwrap_or("").to_string();
    let mut out = Vec::new();
    for rs in request["resourceSpans"].as_array().into_iter().flatten() {
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            for s in ss["spans"].as_array().into_iter().flatten() {
                out.push((
                    field(s, "name"),
                    field(s, "traceId"),
                    field(s, "spanId"),
                    field(s, "parentSpanId"),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn step_functions_logs_give_the_golden_spans() {
    let mut session = Session::new("{}").unwrap_or_else(|e| panic!("{e}"));
    let out = session.process_step_functions_logs(
        &read("tests/golden/stepfn/hand-task-retries-logs/input.logs.ndjson"),
        NOW,
    );
    assert_eq!(out.error, None);
    assert_eq!(
        span_ids_of_otlp(&out.output_json),
        span_ids_of_golden("hand-task-retries-logs")
    );
    assert_eq!(
        span_ids_of_otlp(&out.input_json),
        span_ids_of_golden("hand-task-retries-logs")
    );
    assert_eq!(parse(&out.counters_json)["spans_in"], json!(7));
}

#[test]
fn step_functions_history_needs_the_execution_named() {
    let mut session = Session::new("{}").unwrap_or_else(|e| panic!("{e}"));
    let input = read("tests/golden/stepfn/hand-redrive-history/input.history.json");
    let arn = "arn:aws:states:us-east-1:123456789012:execution:ImportJob:import-0730";
    let out = session.process_step_functions_history(&input, Some(arn), NOW);
    assert_eq!(out.error, None);
    assert_eq!(
        span_ids_of_otlp(&out.output_json),
        span_ids_of_golden("hand-redrive-history")
    );
    let unnamed = session.process_step_functions_history(&input, None, NOW);
    assert_eq!(
        unnamed.error.as_deref(),
        Some("stepfunctions history: missing field `executionArn`")
    );
    assert_eq!(unnamed.output_json, "");
}

#[test]
fn step_functions_logs_that_are_not_logs_name_the_problem() {
    let mut session = Session::new("{}").unwrap_or_else(|e| panic!("{e}"));
    let out = session.process_step_functions_logs(b"{\"id\": \"1\"}", NOW);
    assert_eq!(
        out.error.as_deref(),
        Some("stepfunctions log: missing field `event_timestamp`")
    );
}

/// The page goes through the core's event entry point, so the configuration's
/// `stepfunctions` section applies to execution records as it does in every host.
#[test]
fn step_functions_inputs_follow_the_configuration() {
    let logs = read("tests/golden/stepfn/hand-redrive-logs/input.logs.ndjson");
    let data_attrs = |json: &str| json.matches(".input\"").count();
    let mut plain = Session::new("{}").unwrap_or_else(|e| panic!("{e}"));
    let mut with_data = Session::new(r#"{"stepfunctions": {"include_data": true}}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let out = with_data.process_step_functions_logs(&logs, NOW);
    assert_eq!(out.error, None);
    assert!(
        data_attrs(&out.output_json)
            > data_attrs(&plain.process_step_functions_logs(&logs, NOW).output_json)
    );
    let mut off =
        Session::new(r#"{"stepfunctions": {"enabled": false}}"#).unwrap_or_else(|e| panic!("{e}"));
    let refused = off.process_step_functions_logs(&logs, NOW);
    assert!(refused.error.is_some(), "{refused:?}");
    assert_eq!(refused.output_json, "");
}
