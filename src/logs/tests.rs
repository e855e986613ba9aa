use super::*;

/// The `platform.start` example of AWS's "Lambda Telemetry API Event schema reference"
/// (its `type` corrected: the page's example says `platform.initStart`).
const START: &str = r#"{"time":"2022-10-12T00:00:15.064Z","type":"platform.start","record":{"requestId":"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa","version":"$LATEST","tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}}}"#;
const TRACE: &str = "62e900b2710d76f009d6e7785905449a";
const REQUEST: &str = "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa";

fn enrich(enricher: &mut Enricher, record: &str) -> Option<String> {
    enricher
        .enrich_json(record)
        .unwrap_or_else(|e| panic!("{record}: {e}"))
}

fn with_ids(record: &str, trace: &str, span: Option<&str>) -> String {
    let body = record.strip_suffix('}').unwrap_or(record);
    match span {
        Some(span) => format!(r#"{body},"trace_id":"{trace}","span_id":"{span}"}}"#),
        None => format!(r#"{body},"trace_id":"{trace}"}}"#),
    }
}

#[test]
fn platform_start_gives_the_invocation_span_and_teaches_its_request() {
    let mut e = Enricher::new(10);
    assert_eq!(
        enrich(&mut e, START),
        Some(with_ids(START, TRACE, Some("54565fb41ac79632")))
    );
    assert_eq!(e.remembered(), 1);
    // The runtime's JSON-format line (Node.js LogPatch.js shape) names only the request.
    let app = format!(
        r#"{{"timestamp":"2022-10-12T00:00:15.100Z","level":"INFO","requestId":"{REQUEST}","message":"hi"}}"#
    );
    assert_eq!(
        enrich(&mut e, &app),
        Some(with_ids(&app, TRACE, Some("54565fb41ac79632")))
    );
    // A Telemetry API `function` event in text format, Node.js runtime line.
    let function = format!(
        r#"{{"time":"2022-10-12T00:00:15.200Z","type":"function","record":"2022-10-12T00:00:15.200Z\t{REQUEST}\tINFO\thi"}}"#
    );
    let ids = e.ids(
        &serde_json::from_str(&function).unwrap_or_default(),
        &function,
    );
    assert_eq!(
        ids.map(|i| (i.trace_id.to_hex(), i.source)),
        Some((TRACE.to_string(), Source::RequestId))
    );
    // Python's text format puts the request id third; the END line names it after a label.
    for line in [
        format!("[INFO]\t2022-10-12T00:00:15.300Z\t{REQUEST}\thi"),
        format!("END RequestId: {REQUEST}"),
    ] {
        let record = serde_json::json!({ "log": line }).to_string();
        assert_eq!(
            enrich(&mut e, &record),
            Some(with_ids(&record, TRACE, Some("54565fb41ac79632")))
        );
    }
}

#[test]
fn tracing_without_span_id_uses_the_header_parent() {
    let record = START.replace(r#""spanId":"54565fb41ac79632","#, "");
    assert_eq!(
        enrich(&mut Enricher::new(0), &record),
        Some(with_ids(&record, TRACE, Some("0efbd19962d95b05")))
    );
    let other = START.replace("X-Amzn-Trace-Id", "traceparent");
    assert_eq!(enrich(&mut Enricher::new(0), &other), None);
}

#[test]
fn report_line_gives_trace_and_segment() {
    // Text-format REPORT line as AWS documents it (tab-separated, tracing active).
    let line = "REPORT RequestId: 8fc6f963-411b-58b5-8483-a32130c0f45d\tDuration: 201.67 ms\tBilled Duration: 202 ms\tMemory Size: 2048 MB\tMax Memory Used: 81 MB\tXRAY TraceId: 1-61c86fa4-59b3c6d959653c527fd10966\tSegmentId: 107ea78a5750a811\tSampled: true\t";
    let record = serde_json::json!({ "message": line, "logStream": "x" }).to_string();
    let mut e = Enricher::new(10);
    let expected = with_ids(
        &record,
        "61c86fa459b3c6d959653c527fd10966",
        Some("107ea78a5750a811"),
    );
    assert_eq!(enrich(&mut e, &record), Some(expected));
    assert_eq!(e.remembered(), 1);
}

#[test]
fn trace_header_fields_and_text() {
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let cases = [
        (
            serde_json::json!({ "_X_AMZN_TRACE_ID": header }),
            Some("53995c3f42cd8ad8"),
        ),
        (
            serde_json::json!({ "log": format!("calling downstream with X-Amzn-Trace-Id: {header}, retry 0") }),
            Some("53995c3f42cd8ad8"),
        ),
        // Powertools' `xray_trace_id` is a bare root: trace only.
        (
            serde_json::json!({ "level": "INFO", "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793" }),
            None,
        ),
        (
            serde_json::json!({ "record": { "xrayTraceId": "Root=1-5759e988-bd862e3fe1be46a994272793" } }),
            None,
        ),
    ];
    for (record, span) in cases {
        let text = record.to_string();
        assert_eq!(
            enrich(&mut Enricher::new(0), &text),
            Some(with_ids(&text, "5759e988bd862e3fe1be46a994272793", span)),
            "{text}"
        );
    }
}

#[test]
fn records_without_evidence_or_with_ids_are_left_alone() {
    let mut e = Enricher::new(10);
    enrich(&mut e, START);
    for record in [
        "{}",
        r#"{"log":"plain line"}"#,
        r#"{"message":"Root=1-zz-bad;Parent=53995c3f42cd8ad8"}"#,
        r#"{"requestId":"00000000-0000-0000-0000-000000000000","message":"unknown request"}"#,
        r#"{"xray_trace_id":"1-00000000-000000000000000000000000"}"#,
        &START.replace("\"time\"", "\"trace_id\":\"x\",\"time\""),
    ] {
        assert_eq!(enrich(&mut e, record), None, "{record}");
    }
}

#[test]
fn the_text_is_kept_byte_for_byte() {
    let record = "{\"b\":1.50,\"a\":\"\\u00e9\",\"_X_AMZN_TRACE_ID\":\"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8\"}  \n";
    let expected = "{\"b\":1.50,\"a\":\"\\u00e9\",\"_X_AMZN_TRACE_ID\":\"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8\",\"trace_id\":\"5759e988bd862e3fe1be46a994272793\",\"span_id\":\"53995c3f42cd8ad8\"}";
    assert_eq!(
        enrich(&mut Enricher::new(0), record).as_deref(),
        Some(expected)
    );
    // A record with a span_id of its own keeps it.
    let own = r#"{"span_id":"x","_X_AMZN_TRACE_ID":"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8"}"#;
    assert_eq!(
        enrich(&mut Enricher::new(0), own),
        Some(with_ids(own, "5759e988bd862e3fe1be46a994272793", None))
    );
}

#[test]
fn invalid_records_are_errors_naming_the_input() {
    let mut e = Enricher::new(0);
    for text in ["", "[1]", "{\"a\":", "\"x\""] {
        let err = e.enrich_json(text).map_err(|e| e.to_string());
        assert!(
            matches!(&err, Err(m) if m.starts_with("log record: invalid json: ")),
            "{text}: {err:?}"
        );
    }
}

#[test]
fn remembered_requests_are_bounded_oldest_first() {
    let mut e = Enricher::new(1);
    enrich(&mut e, START);
    let other = START.replace(REQUEST, "11111111-2222-3333-4444-555555555555");
    enrich(&mut e, &other);
    assert_eq!(e.remembered(), 1);
    let first = format!(r#"{{"requestId":"{REQUEST}"}}"#);
    assert_eq!(enrich(&mut e, &first), None);
    let second = r#"{"requestId":"11111111-2222-3333-4444-555555555555"}"#;
    assert_eq!(
        enrich(&mut e, second),
        Some(with_ids(second, TRACE, Some("54565fb41ac79632")))
    );
    let mut none = Enricher::new(0);
    enrich(&mut none, START);
    assert_eq!(none.remembered(), 0);
}

#[test]
fn long_texts_are_not_scanned() {
    let filler = "x".repeat(64 * 1024);
    let record = serde_json::json!({ "log": format!("{filler} Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8") }).to_string();
    assert_eq!(enrich(&mut Enricher::new(0), &record), None);
}

/// The four execution log lines of the aws-samples Express workflow fixture.
fn execution_lines() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stepfunctions/aws-samples-masking-sensitive-express-step-functions/express-execution-log-messages.ndjson"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn step_functions_lines_get_the_ids_of_their_spans() {
    let lines = execution_lines();
    assert_eq!(lines.len(), 4);
    let mut e = Enricher::new(10);
    for line in &lines {
        let (trace, span) = crate::stepfn::log_record_ids(line).unwrap_or_else(|| panic!("{line}"));
        let expected = with_ids(line, &trace.to_hex(), Some(&span.to_hex()));
        // The line as the record itself, and as the text of a CloudWatch subscription record.
        assert_eq!(enrich(&mut e, line), Some(expected));
        let wrapped = serde_json::json!({ "logStream": "states/x", "message": line }).to_string();
        assert_eq!(
            enrich(&mut e, &wrapped),
            Some(with_ids(&wrapped, &trace.to_hex(), Some(&span.to_hex())))
        );
        let ids = e.ids(&serde_json::from_str(line).unwrap_or_default(), line);
        assert_eq!(ids.map(|i| i.source), Some(Source::StepFunctions));
    }
    // The state-entered line has its state's span; the others the execution's, one trace.
    let spans: Vec<_> = lines
        .iter()
        .filter_map(|l| crate::stepfn::log_record_ids(l))
        .collect();
    assert_eq!(
        spans
            .iter()
            .map(|(t, _)| *t)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        1
    );
    assert_eq!(
        [
            spans[0].1 == spans[2].1,
            spans[0].1 == spans[1].1,
            spans[0].1 == spans[3].1
        ],
        [true, false, true]
    );
}

#[test]
fn execution_arn_without_a_valid_line_falls_back_to_lambda_evidence() {
    let record = r#"{"execution_arn":"not an arn","_X_AMZN_TRACE_ID":"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8"}"#;
    let expected = with_ids(
        record,
        "5759e988bd862e3fe1be46a994272793",
        Some("53995c3f42cd8ad8"),
    );
    assert_eq!(enrich(&mut Enricher::new(0), record), Some(expected));
}

#[test]
fn a_record_parsed_by_the_host_enriches_as_its_text_does() {
    let line = format!(r#"{{"requestId":"{REQUEST}","message":"hello"}}"#);
    let records = [START, line.as_str(), "{}", r#"{"message":"no ids"}"#];
    let (mut by_text, mut by_record) = (Enricher::new(4), Enricher::new(4));
    for record in records {
        let parsed: Map<String, Value> =
            serde_json::from_str(record).unwrap_or_else(|e| panic!("{record}: {e}"));
        let from_record = by_record
            .enrich_record(&parsed, record)
            .unwrap_or_else(|e| panic!("{record}: {e}"));
        assert_eq!(from_record, enrich(&mut by_text, record), "{record}");
    }
    // The request learned from START reached the line that names only the request id.
    assert_eq!(by_record.remembered(), 1);
}
