//! The `relink` binary end to end: output equals the golden files the library tests check,
//! and bad input gives one stderr line, exit code 2 and nothing lost.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn relink(args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_relink"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn relink");
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or_default())
            .expect("write stdin");
    }
    child.wait_with_output().expect("wait for relink")
}

fn json_file(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo().join(path)).expect(path)).expect(path)
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is json")
}

#[test]
fn event_prints_the_golden_trigger() {
    for (fixture, golden) in [
        (
            "tests/fixtures/aws-lambda-rust-runtime/example-s3-event.json",
            "aws-lambda-rust-runtime/example-s3-event",
        ),
        (
            "tests/fixtures/datadog-lambda-python/sqs-batch.json",
            "datadog-lambda-python/sqs-batch",
        ),
        (
            "tests/fixtures/powertools-lambda-python/dynamoStreamEvent.json",
            "powertools-lambda-python/dynamoStreamEvent",
        ),
    ] {
        let golden_dir = format!("tests/golden/event/{golden}");
        let out = relink(&["event", fixture], None);
        assert_eq!(
            stdout_json(&out),
            json_file(&format!("{golden_dir}/expected.json")),
            "{fixture}"
        );
    }
}

#[test]
fn event_otlp_prints_the_processed_inferred_spans() {
    // The event entry point: the inferred spans, processed (here: the S3 pointer link).
    let case = "tests/golden/relink/s3-raw-notify-then-put";
    let out = relink(&["event", &format!("{case}/event-1.json"), "--otlp"], None);
    assert_eq!(
        stdout_json(&out),
        json_file(&format!("{case}/expected-1.json"))
    );
    // An SQS batch's message contexts are already links of its inferred span.
    let out = relink(
        &[
            "event",
            "tests/fixtures/datadog-lambda-python/sqs-batch.json",
            "--otlp",
        ],
        None,
    );
    assert_eq!(
        stdout_json(&out),
        json_file("tests/golden/event/datadog-lambda-python/sqs-batch/inferred.json")
    );
}

#[test]
fn event_prints_step_functions_logs_as_spans() {
    let case = "tests/golden/stepfn/hand-task-retries-logs";
    let expected = json_file(&format!("{case}/expected.otlp.json"));
    let input = format!("{case}/input.logs.ndjson");
    assert_eq!(stdout_json(&relink(&["event", &input], None)), expected);
    assert_eq!(
        stdout_json(&relink(&["event", &input, "--otlp"], None)),
        expected
    );
    let bytes = std::fs::read(repo().join(&input)).expect("logs");
    assert_eq!(
        stdout_json(&relink(&["event", "-"], Some(&bytes))),
        expected,
        "stdin"
    );
    // Subscription data of execution logs: a trigger, unless spans are asked for.
    let case = "tests/golden/relink/stepfn-link";
    let awslogs = format!("{case}/event-4.json");
    let trigger = stdout_json(&relink(&["event", &awslogs], None));
    assert_eq!(trigger.get("kind"), Some(&Value::from("cloudwatch-logs")));
    let spans = stdout_json(&relink(&["event", &awslogs, "--otlp"], None));
    assert_eq!(spans, json_file(&format!("{case}/expected-4.json")));
}

#[test]
fn event_prints_execution_history_as_spans() {
    let case = "tests/golden/stepfn/hand-every-state-type-history";
    let input = format!("{case}/input.history.json");
    let arn = "arn:aws:states:us-east-1:123456789012:execution:OrderWorkflow:order-42";
    let out = relink(&["event", &input, "--execution-arn", arn], None);
    assert_eq!(
        stdout_json(&out),
        json_file(&format!("{case}/expected.otlp.json"))
    );
    // The output does not name its execution: without the ARN, a clear error.
    let out = relink(&["event", &input], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("relink: {input}: stepfunctions history: missing field `executionArn`\n")
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn event_config_sets_the_step_functions_options() {
    let dir = std::env::temp_dir().join(format!("relink-cli-sfn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("off.json");
    std::fs::write(&config, r#"{"stepfunctions": {"enabled": false}}"#).expect("write config");
    let input = "tests/golden/stepfn/hand-task-retries-logs/input.logs.ndjson";
    let out = relink(
        &[
            "event",
            input,
            "--config",
            config.to_str().unwrap_or_default(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "relink: {input}: event: not a known aws event payload (step functions execution log lines, which `stepfunctions.enabled: false` turns off)\n"
        )
    );
}

#[test]
fn event_reads_stdin_and_prints_kind_first() {
    let bytes = std::fs::read(repo().join("tests/fixtures/datadog-lambda-python/sns-batch.json"))
        .expect("fixture");
    let out = relink(&["event", "-"], Some(&bytes));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("{\n  \"kind\": \"sns\","), "{text}");
}

#[test]
fn process_matches_the_golden_first_batch() {
    let case = "tests/golden/relink/s3-one-batch";
    let out = relink(&["process", "--in", &format!("{case}/input-1.json")], None);
    assert_eq!(
        stdout_json(&out),
        json_file(&format!("{case}/expected-1.json"))
    );
}

#[test]
fn process_converts_the_output_format() {
    let case = "tests/golden/relink/s3-one-batch";
    let pb = relink(
        &[
            "process",
            "--in",
            &format!("{case}/input-1.json"),
            "--format",
            "protobuf",
        ],
        None,
    );
    assert!(pb.status.success());
    let back = relink(
        &["process", "--in", "-", "--format", "json"],
        Some(&pb.stdout),
    );
    assert_eq!(
        stdout_json(&back),
        json_file(&format!("{case}/expected-1.json"))
    );
}

#[test]
fn bad_input_is_one_line_exit_2_and_passes_through() {
    let garbage = b"{\"resourceSpans\": [{\"scopeSpans\": 7}]}";
    let out = relink(&["process", "--in", "-"], Some(garbage));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(out.stdout, garbage, "the request passes through unchanged");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("relink: -: otlp json: resourceSpans[0].scopeSpans"),
        "{err}"
    );

    let out = relink(
        &["event", "-"],
        Some(b"{\"Records\":[{\"eventSource\":\"aws:sqs\"}]}"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "relink: -: sqs event: missing field `Records.0.messageId`\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn config_errors_name_the_file_and_field() {
    let dir = std::env::temp_dir().join(format!("relink-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("bad.json");
    std::fs::write(&config, r#"{"index": {"max_entries": 0}}"#).expect("write config");
    let out = relink(
        &[
            "process",
            "--in",
            "tests/golden/relink/s3-one-batch/input-1.json",
            "--config",
            config.to_str().unwrap_or_default(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json") && err.contains("index.max_entries"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_64() {
    assert_eq!(relink(&[], None).status.code(), Some(64));
    assert_eq!(relink(&["frobnicate"], None).status.code(), Some(64));
    assert_eq!(relink(&["process"], None).status.code(), Some(64));
    assert_eq!(
        relink(&["process", "--in", "-", "--format", "xml"], None)
            .status
            .code(),
        Some(64)
    );
    assert_eq!(relink(&["event", "a", "b"], None).status.code(), Some(64));
    assert_eq!(
        relink(&["event", "a", "--execution-arn"], None)
            .status
            .code(),
        Some(64)
    );
    let help = relink(&["--help"], None);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("GetExecutionHistory output print as their spans (OTLP/JSON)"),
        "{text}"
    );
}
