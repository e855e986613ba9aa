//! The event entry point recognises every accepted input and gives exactly the spans the
//! underlying builders give; errors name the input and are counted.

use super::*;
use crate::config::Config;
use crate::stepfn::Options;
use base64::Engine;

const NOW: u64 = 1_713_959_700_000_000_000;
const LINES: &str = include_str!(
    "../../tests/fixtures/stepfunctions/aws-samples-masking-sensitive-express-step-functions/express-execution-log-messages.ndjson"
);
const HISTORY: &str = r#"{"events": [
    {"id": 1, "previousEventId": 0, "timestamp": "2024-07-30T19:55:53.018000+00:00", "type": "ExecutionStarted",
     "executionStartedEventDetails": {"input": "{}", "inputDetails": {"truncated": false}}},
    {"id": 2, "previousEventId": 1, "timestamp": "2024-07-30T19:55:53.025000+00:00", "type": "PassStateEntered",
     "stateEnteredEventDetails": {"name": "P"}},
    {"id": 3, "previousEventId": 2, "timestamp": "2024-07-30T19:55:53.026000+00:00", "type": "PassStateExited",
     "stateExitedEventDetails": {"name": "P"}},
    {"id": 4, "previousEventId": 3, "timestamp": "2024-07-30T19:55:53.030000+00:00", "type": "ExecutionSucceeded",
     "executionSucceededEventDetails": {"output": "{}"}}]}"#;
const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:M:e-1";

fn processor(json: &str) -> Processor {
    Config::from_json(json)
        .and_then(|c| crate::Processor::new(&c))
        .unwrap_or_else(|e| panic!("config: {e}"))
}

fn event(bytes: &[u8]) -> Result<ExportTraceServiceRequest, DecodeError> {
    processor("{}").process_event(bytes, &EventContext::default(), NOW)
}

fn logs(bytes: &[u8]) -> ExportTraceServiceRequest {
    spans_from_logs(bytes, &Options::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// A CloudWatch Logs subscription document holding `messages`.
fn document(messages: &[&str]) -> String {
    let events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| serde_json::json!({"id": format!("3789{i}"), "timestamp": 1_713_959_670_672u64, "message": m}))
        .collect();
    serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012",
        "logGroup": "/aws/vendedlogs/states/LoggingAndMaskingWorkflow-Logs",
        "logStream": "states/LoggingAndMaskingWorkflow/2024-04-24-11-50/00000000",
        "subscriptionFilters": ["relink"], "logEvents": events,
    })
    .to_string()
}

fn awslogs(document: &str) -> Vec<u8> {
    let data =
        base64::engine::general_purpose::STANDARD.encode(crate::otlp::gzip(document.as_bytes()));
    serde_json::json!({"awslogs": {"data": data}})
        .to_string()
        .into_bytes()
}

#[test]
fn log_lines_in_every_framing_give_the_workflow_spans() {
    let expected = logs(LINES.as_bytes());
    assert_eq!(expected.resource_spans.len(), 1);
    let lines: Vec<&str> = LINES.lines().collect();
    let array = format!("[{}]", lines.join(","));
    let one = lines.first().copied().unwrap_or_default();
    assert_eq!(event(LINES.as_bytes()).as_ref(), Ok(&expected), "ndjson");
    assert_eq!(
        event(array.as_bytes()).as_ref(),
        Ok(&expected),
        "json array"
    );
    assert_eq!(event(one.as_bytes()), Ok(logs(one.as_bytes())), "one line");
}

#[test]
fn subscription_data_of_execution_logs_gives_the_workflow_spans() {
    let lines: Vec<&str> = LINES.lines().collect();
    let expected = logs(LINES.as_bytes());
    let whole = document(&lines);
    assert_eq!(
        event(&awslogs(&whole)).as_ref(),
        Ok(&expected),
        "awslogs.data"
    );
    assert_eq!(
        event(whole.as_bytes()).as_ref(),
        Ok(&expected),
        "one inflated document"
    );
    // A Firehose delivery: documents back to back, the execution split across them.
    let (a, b) = lines.split_at(2);
    let firehose = format!("{}{}", document(a), document(b));
    assert_eq!(
        event(firehose.as_bytes()).as_ref(),
        Ok(&expected),
        "firehose delivery"
    );
}

#[test]
fn subscription_data_of_other_logs_is_the_cloudwatch_logs_trigger() {
    let fixture = include_str!("../../tests/fixtures/datadog-lambda-python/cloudwatch-logs.json");
    let trigger = crate::event::decode_event(fixture.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let expected = infer_request(&trigger, &InferOptions::default());
    assert_eq!(event(fixture.as_bytes()), Ok(expected));
    // Inflated documents (a Firehose delivery), with what the host knows applied.
    let plain = document(&[
        "START RequestId: 6b0b7b1a Version: $LATEST",
        "END RequestId: 6b0b7b1a",
    ]);
    let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"",
        "subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1432826855000,
        "message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
    let ctx = EventContext::default().with_service_name("log-shipper");
    let options = InferOptions {
        service_name: Some("log-shipper".into()),
        ..InferOptions::default()
    };
    for bytes in [plain.as_str(), control, &format!("{control}{plain}")] {
        let trigger = decode_logs_json(bytes.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let expected = infer_request(&trigger, &options);
        assert_eq!(
            processor("{}").process_event(bytes.as_bytes(), &ctx, NOW),
            Ok(expected),
            "{bytes}"
        );
    }
}

#[test]
fn history_takes_the_arn_from_the_context_or_the_output() {
    let with_arn = format!(
        r#"{{"executionArn": "{ARN}", {}"#,
        HISTORY.trim_start_matches('{')
    );
    let expected = spans_from_history(HISTORY.as_bytes(), Some(ARN), &Options::default());
    assert!(expected.is_ok());
    assert_eq!(event(with_arn.as_bytes()), expected);
    let ctx = EventContext::default().with_execution_arn(ARN);
    assert_eq!(
        processor("{}").process_event(HISTORY.as_bytes(), &ctx, NOW),
        expected
    );
    assert_eq!(
        event(HISTORY.as_bytes()).map_err(|e| e.to_string()),
        Err("stepfunctions history: missing field `executionArn`".into())
    );
}

#[test]
fn trigger_events_give_inferred_spans_with_the_context_applied() {
    let fixture =
        include_str!("../../tests/fixtures/aws-lambda-rust-runtime/example-sqs-event.json");
    let trigger = crate::event::decode_event(fixture.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let ctx = EventContext::default()
        .with_service_name("orders")
        .with_invocation_start(NOW);
    let options = InferOptions {
        service_name: Some("orders".into()),
        invocation_start_unix_nano: Some(NOW),
        ..InferOptions::default()
    };
    let mut p = processor("{}");
    assert_eq!(
        p.process_event(fixture.as_bytes(), &ctx, NOW),
        Ok(infer_request(&trigger, &options))
    );
    assert_eq!((p.counters().requests, p.counters().spans_in), (1, 1));
    // A payload that only carries a context object has no inferred span.
    let context_only = r#"{"Execution": {"Id": "arn:aws:states:us-east-1:1:execution:M:e"},
        "State": {"Name": "S", "EnteredTime": "2024-07-30T19:55:53.018Z"}}"#;
    assert_eq!(
        event(context_only.as_bytes()),
        Ok(ExportTraceServiceRequest::default())
    );
}

#[test]
fn errors_name_the_input_and_are_counted() {
    let mut p = processor(r#"{"limits": {"max_request_bytes": 4096}}"#);
    let ctx = EventContext::default();
    let mut err = |bytes: &[u8]| {
        p.process_event(bytes, &ctx, NOW)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        err(b"{\"a\": 1} {\"b\""),
        Err("event: invalid json: trailing characters at line 1 column 10".into())
    );
    assert_eq!(
        err(b"{\"a\": 1}"),
        Err("event: not a known aws event payload (top-level keys: a)".into())
    );
    assert_eq!(
        err(b"{}"),
        Err("event: not a known aws event payload (an empty json object)".into())
    );
    assert_eq!(
        err(b"[1, 2]"),
        Err("event: not a known aws event payload (a json array)".into())
    );
    // Record-based payloads say what their first record names.
    let mut unknown = |records: &str| {
        err(format!("{{\"Records\": {records}}}").as_bytes())
            .unwrap_err()
            .replace(
                "event: not a known aws event payload (top-level keys: Records; ",
                "",
            )
    };
    assert_eq!(
        unknown(r#"[{"eventSource": "aws:ses", "ses": {}}]"#),
        "Records[0] is from `aws:ses`)"
    );
    assert_eq!(
        unknown(r#"[{"EventSource": "aws:codecommit"}]"#),
        "Records[0] is from `aws:codecommit`)"
    );
    assert_eq!(
        unknown(r#"[{"cf": {"config": {}}}]"#),
        "Records[0] is from CloudFront (Lambda@Edge))"
    );
    assert_eq!(unknown("[]"), "Records is empty)");
    assert_eq!(unknown("[{}]"), "Records[0] names no eventSource)");
    let bad_line = LINES
        .lines()
        .next()
        .unwrap_or_default()
        .replace("\"type\":\"ExecutionStarted\",", "\"type\":7,");
    assert_eq!(
        err(format!("[{bad_line}]").as_bytes()),
        Err("stepfunctions log: invalid field `0.type`: expected a string, found a number".into())
    );
    assert_eq!(
        err(b"{\"Records\":[{\"eventSource\":\"aws:sqs\"}]}"),
        Err("sqs event: missing field `Records.0.messageId`".into())
    );
    assert_eq!(
        err(&[b' '; 4097]),
        Err("event: 4097 bytes exceeds the limit of 4096 bytes".into())
    );
    let e = &p.counters().errors;
    assert_eq!(
        (
            e.event_json,
            e.event_unknown,
            e.event_invalid,
            e.event_too_large
        ),
        (1, 8, 2, 1)
    );
    assert_eq!(
        (p.counters().requests, p.counters().requests_unchanged),
        (12, 12)
    );
}

#[test]
fn disabled_step_functions_refuse_workflow_records() {
    let mut p = processor(r#"{"stepfunctions": {"enabled": false}}"#);
    let ctx = EventContext::default();
    let mut err = |bytes: &[u8]| {
        p.process_event(bytes, &ctx, NOW)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let off = |what: &str| {
        Err(format!(
            "event: not a known aws event payload (step functions {what}, which `stepfunctions.enabled: false` turns off)"
        ))
    };
    let one = LINES.lines().next().unwrap_or_default();
    assert_eq!(err(LINES.as_bytes()), off("execution log lines"));
    assert_eq!(
        err(format!("[{one}]").as_bytes()),
        off("execution log lines")
    );
    assert_eq!(err(one.as_bytes()), off("an execution log line"));
    assert_eq!(err(HISTORY.as_bytes()), off("an execution history"));
    // Subscription data of execution logs is then an ordinary CloudWatch Logs trigger.
    let whole = document(&LINES.lines().collect::<Vec<_>>());
    let out = p.process_event(&awslogs(&whole), &ctx, NOW);
    let names: Vec<String> = out
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(
        names,
        vec!["process /aws/vendedlogs/states/LoggingAndMaskingWorkflow-Logs"]
    );
}

#[test]
fn options_come_from_the_config() {
    let mut p = processor(r#"{"stepfunctions": {"include_data": true, "max_events": 3}}"#);
    assert_eq!(
        p.process_event(LINES.as_bytes(), &EventContext::default(), NOW)
            .map_err(|e| e.to_string()),
        Err("stepfunctions log lines: 4 bytes exceeds the limit of 3 bytes".into())
    );
    let mut p = processor(r#"{"stepfunctions": {"include_data": true}}"#);
    let with_data = spans_from_logs(
        LINES.as_bytes(),
        &Options {
            include_data: true,
            ..Options::default()
        },
    );
    assert_eq!(
        p.process_event(LINES.as_bytes(), &EventContext::default(), NOW),
        with_data
    );
}

/// A raw event saved with a UTF-8 byte order mark (as Windows tools save JSON) gives the
/// same spans as without it.
#[test]
fn a_byte_order_mark_before_an_event_is_ignored() {
    let event =
        include_bytes!("../../tests/fixtures/aws-lambda-rust-runtime/example-s3-event.json");
    let with_bom = [&b"\xef\xbb\xbf"[..], event].concat();
    let plain = self::event(event).unwrap_or_else(|e| panic!("{e}"));
    assert!(!plain.resource_spans.is_empty());
    assert_eq!(self::event(&with_bom), Ok(plain));
}
