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

/// An event attribute relink could not read is said on stderr (once), so a run that made
/// no link from it says why; every span still comes out, and the exit code is 0. A run that
/// read every event says nothing.
#[test]
fn process_warns_when_event_attributes_were_not_read() {
    let case = "tests/golden/relink/s3-one-batch";
    let input = format!("{case}/input-1.json");
    let quiet = relink(&["process", "--in", &input], None);
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
    let config = std::env::temp_dir().join(format!(
        "relink-cli-small-events-{}.json",
        std::process::id()
    ));
    std::fs::write(&config, r#"{"limits": {"max_event_bytes": 16}}"#).expect("config");
    let config = config.display().to_string();
    for format in [None, Some("json")] {
        let mut args = vec!["process", "--in", &input, "--config", &config];
        if let Some(format) = format {
            args.extend(["--format", format]);
        }
        let out = relink(&args, None);
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "relink: warning: 1 event attribute(s) not read (1 over limits.max_event_bytes or \
             limits.max_nesting); their spans pass without those links\n"
        );
        let output: Value = serde_json::from_slice(&out.stdout).expect("stdout is json");
        let spans = |v: &Value| -> usize {
            let all = v["resourceSpans"].as_array().into_iter().flatten();
            all.flat_map(|r| r["scopeSpans"].as_array().into_iter().flatten())
                .map(|s| s["spans"].as_array().map_or(0, Vec::len))
                .sum()
        };
        assert_eq!(
            spans(&output),
            spans(&json_file(&input)),
            "every span comes out"
        );
        let consumer = &output["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(consumer["name"], "thumbnailer");
        assert_eq!(consumer.get("links"), None, "no link from the unread event");
    }
}

/// Both conversions, from the request as written and from it gzipped: a gzip request comes
/// out plain in the format asked for (it was decoded as that format, which failed and wrote
/// nothing).
#[test]
fn process_converts_the_output_format() {
    let case = "tests/golden/relink/s3-one-batch";
    let expected = json_file(&format!("{case}/expected-1.json"));
    let json = std::fs::read(repo().join(format!("{case}/input-1.json"))).expect("input");
    for input in [relink::otlp::gzip(&json), json] {
        let pb = relink(
            &["process", "--in", "-", "--format", "protobuf"],
            Some(&input),
        );
        assert!(
            pb.status.success(),
            "{}",
            String::from_utf8_lossy(&pb.stderr)
        );
        let back = relink(
            &["process", "--in", "-", "--format", "json"],
            Some(&pb.stdout),
        );
        assert_eq!(stdout_json(&back), expected);
        let direct = relink(&["process", "--in", "-", "--format", "json"], Some(&input));
        assert_eq!(stdout_json(&direct), expected);
    }
}

#[test]
fn process_reads_a_large_file_as_it_reads_standard_input() {
    // Files of 4 MiB and more are read into a buffer advised for huge pages (src/pages.rs);
    // the output must be the one standard input (a plain read) gives.
    let case = "tests/golden/relink/s3-one-batch";
    let text = std::fs::read(repo().join(format!("{case}/input-1.json"))).expect("input");
    let mut request = relink::otlp::decode(&text, relink::otlp::Encoding::Json).expect("json");
    let one = request.resource_spans.clone();
    let one_len = relink::otlp::encode_protobuf(&request).len().max(1);
    for _ in 0..(5 << 20) / one_len {
        request.resource_spans.extend(one.iter().cloned());
    }
    let pb = relink::otlp::encode_protobuf(&request);
    assert!(
        pb.len() > 5 << 20 && pb.len() < 16 << 20,
        "{} bytes",
        pb.len()
    );

    let dir = std::env::temp_dir().join(format!("relink-cli-large-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("in.pb");
    std::fs::write(&input, &pb).expect("write input");
    let from_file = relink(
        &["process", "--in", input.to_str().expect("utf-8 path")],
        None,
    );
    let _ = std::fs::remove_dir_all(&dir);
    let from_stdin = relink(&["process", "--in", "-"], Some(&pb));
    assert!(from_file.status.success() && from_stdin.status.success());
    assert_ne!(from_file.stdout, pb, "the batch relinks spans");
    assert_eq!(from_file.stdout, from_stdin.stdout);
}

#[test]
fn process_streams_protobuf_output_byte_for_byte_as_built_whole() {
    // Without --format the CLI writes the output in pieces (`process_traces_to`); with it,
    // from the whole output. Both must be the same bytes, on stdout and in a file.
    let case = "tests/golden/relink/s3-one-batch";
    let text = std::fs::read(repo().join(format!("{case}/input-1.json"))).expect("input");
    let request = relink::otlp::decode(&text, relink::otlp::Encoding::Json).expect("json");
    let pb = relink::otlp::encode_protobuf(&request);
    let streamed = relink(&["process", "--in", "-"], Some(&pb));
    let whole = relink(&["process", "--in", "-", "--format", "protobuf"], Some(&pb));
    assert!(streamed.status.success() && whole.status.success());
    assert_ne!(streamed.stdout, pb, "the golden case relinks spans");
    assert_eq!(streamed.stdout, whole.stdout);

    let dir = std::env::temp_dir().join(format!("relink-cli-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (input, output) = (dir.join("in.pb"), dir.join("out.pb"));
    std::fs::write(&input, &pb).expect("write input");
    let to_file = relink(
        &[
            "process",
            "--in",
            input.to_str().expect("utf-8 path"),
            "--out",
            output.to_str().expect("utf-8 path"),
        ],
        None,
    );
    assert!(to_file.status.success());
    assert_eq!(std::fs::read(&output).expect("output"), whole.stdout);
    let _ = std::fs::remove_dir_all(&dir);

    let back = relink(
        &["process", "--in", "-", "--format", "json"],
        Some(&streamed.stdout),
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

/// The `datadog` forms of the context each record's Step Functions context object joins,
/// as `relink event` prints them under `contexts` (nested payloads included).
fn state_contexts(trigger: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let stepfunctions = trigger["kind"] == "stepfunctions";
    for item in trigger["items"].as_array().into_iter().flatten() {
        let carrier = &item["step_functions"]["carrier"];
        for context in item["contexts"].as_array().into_iter().flatten() {
            if stepfunctions || (!carrier.is_null() && &context["carrier"] == carrier) {
                let mut ids = context["datadog"].clone();
                ids["trace_id_hex"] = context["trace_id"].clone();
                ids["span_id_hex"] = context["span_id"].clone();
                ids["sampled"] = context["sampled"].clone();
                out.push(ids);
            }
        }
        if !item["payload"].is_null() {
            out.extend(state_contexts(&item["payload"]));
        }
    }
    out
}

#[test]
fn event_prints_the_context_a_step_functions_state_gives_its_consumer() {
    // Datadog's ids for these payloads (datadog-lambda-js spec tests, see
    // tests/datadog_vectors.rs); hex forms are the same numbers.
    for (fixture, trace_low, parent) in [
        (
            "tests/fixtures/datadog-lambda-js/sfn-sqs.json",
            "7148114900282288397",
            "6711327198021343353",
        ),
        (
            "tests/fixtures/datadog-lambda-js/sfn-sns-sqs.json",
            "1657966791618574655",
            "5100002956473485303",
        ),
        (
            "tests/fixtures/datadog-lambda-js/sfn-eventbridge-sqs.json",
            "7858567057595668526",
            "3674709292670593712",
        ),
        (
            "tests/golden/event/hand/stepfunctions-payload/input.json",
            "435175499815315247",
            "3929055471293792800",
        ),
    ] {
        let printed = stdout_json(&relink(&["event", fixture], None));
        let contexts = state_contexts(&printed);
        assert_eq!(contexts.len(), 1, "{fixture}: {contexts:?}");
        let c = &contexts[0];
        assert_eq!(c["trace_id"], trace_low, "{fixture}");
        assert_eq!(c["parent_id"], parent, "{fixture}");
        assert_eq!(c["sampled"], true, "{fixture}");
        let hex_trace = c["trace_id_hex"].as_str().unwrap_or_default();
        let low = u64::from_str_radix(hex_trace.get(16..).unwrap_or_default(), 16);
        assert_eq!(low.map(|v| v.to_string()).ok().as_deref(), Some(trace_low));
        assert_eq!(
            c["_dd.p.tid"].as_str(),
            hex_trace.get(..16),
            "{fixture}: _dd.p.tid is the high half"
        );
        let span = u64::from_str_radix(c["span_id_hex"].as_str().unwrap_or_default(), 16);
        assert_eq!(span.map(|v| v.to_string()).ok().as_deref(), Some(parent));
    }
}

#[test]
fn event_prints_both_hashes_of_a_url_encoded_s3_key() {
    let case = "tests/golden/event/hand/s3-urlencoded-key";
    let printed = stdout_json(&relink(&["event", &format!("{case}/input.json")], None));
    assert_eq!(printed, json_file(&format!("{case}/expected.json")));
    let pointer = &printed["items"][0]["pointers"][0];
    assert_eq!(pointer["key"], "summer trip/1.jpg");
    assert_eq!(pointer["key_encoded"], "summer+trip%2F1.jpg");
    // hashlib's, from tests/golden/event/hand/s3-urlencoded-key/oracle.json.
    assert_eq!(
        pointer["hashes"],
        json_file(&format!("{case}/oracle.json"))["s3_hashes"]
    );
}

#[test]
fn event_decodes_bare_records_and_names_the_bad_element() {
    for case in [
        "dynamodb-single-record",
        "pipes-sqs-stepfunctions",
        "pipes-kinesis",
    ] {
        let dir = format!("tests/golden/event/hand/{case}");
        let out = relink(&["event", &format!("{dir}/input.json")], None);
        assert_eq!(
            stdout_json(&out),
            json_file(&format!("{dir}/expected.json"))
        );
    }
    let input = "tests/golden/event/hand/pipes-mixed-array/input.json";
    let out = relink(&["event", input], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "relink: {input}: event: invalid field `2.eventSource`: a batch of sqs records cannot hold `aws:kinesis`\n"
        )
    );
    assert!(out.stdout.is_empty());
}
