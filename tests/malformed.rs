//! The malformed-input corpus: every file under `tests/malformed/{otlp,event,config}/`
//! (written by `make.py` from real payloads) and the inputs too large to check in (100 MB
//! strings, gzip bombs, nesting a million levels deep), generated here.
//!
//! For each input: the decoder gives a clear error (or, for the few valid-but-odd inputs,
//! decodes), and the processor returns the input byte for byte, with the same error and one
//! error counted; a binary request whose only fault is strings that are not UTF-8 comes
//! back with those strings repaired instead. Outcomes are in `tests/malformed/expected.txt`; `UPDATE_GOLDEN=1`
//! rewrites it for review.

mod common;

use relink::config::Config;
use relink::otlp;
use relink::processor::{Processed, Processor};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

const NOW: u64 = 1_722_369_353_000_000_000;

fn processor(config: &str) -> Processor {
    match Config::from_json(config).and_then(|c| relink::Processor::new(&c)) {
        Ok(p) => p,
        Err(e) => panic!("test config {config}: {e}"),
    }
}

/// The input came back as itself (not a copy), with one request counted as unchanged.
fn assert_passed_through(name: &str, input: &[u8], out: &Processed<'_>) {
    assert!(
        matches!(&out.output, Cow::Borrowed(b) if b.as_ptr() == input.as_ptr() && b.len() == input.len()),
        "{name}: output is not the input"
    );
    assert_eq!(out.counters.requests_unchanged, 1, "{name}");
    assert_eq!(out.counters.spans_in, out.counters.spans_out, "{name}");
}

fn outcome<T, E: std::fmt::Display>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

/// Every error message starts with the input it was reading.
fn assert_names_input(name: &str, message: &str, inputs: &[&str]) {
    assert!(
        inputs.iter().any(|i| message.starts_with(&format!("{i}:")) || message.starts_with(&format!("{i} "))),
        "{name}: error does not name its input: {message}"
    );
}

/// An OTLP/JSON request with one span carrying `value` as the event attribute.
fn span_with_event(value: &str) -> Vec<u8> {
    let request = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "handler",
        "kind": 2,
        "attributes": [{"key": "relink.event", "value": {"stringValue": value}}]
    }]}]}]});
    serde_json::to_vec(&request).unwrap_or_default()
}

/// A binary request whose only fault is strings that are not UTF-8: the output is the
/// request with those strings repaired (what prost, which refuses the input, decodes), and
/// nothing else differs. Gzip in, gzip out.
fn assert_repaired(name: &str, bytes: &[u8], out: &Processed<'_>) -> String {
    let gzipped = otlp::is_gzip(bytes);
    let input = if gzipped {
        otlp::gunzip(bytes, usize::MAX).unwrap_or_default()
    } else {
        bytes.to_vec()
    };
    let output = if gzipped {
        otlp::gunzip(&out.output, usize::MAX).unwrap_or_default()
    } else {
        out.output.to_vec()
    };
    assert!(out.error.is_none(), "{name}: {:?}", out.error);
    assert_eq!(out.counters.requests_repaired, 1, "{name}");
    assert_eq!(out.counters.requests_unchanged, 0, "{name}");
    assert_eq!(out.counters.errors.request_decode, 0, "{name}");
    let repaired = otlp::repair_strings(&input, usize::MAX).unwrap_or_default();
    let decoded = otlp::decode_protobuf(&output);
    assert!(decoded.is_ok(), "{name}: output does not decode");
    assert_eq!(
        decoded.ok().map(|r| otlp::encode_protobuf(&r)),
        otlp::decode_protobuf(&repaired)
            .ok()
            .map(|r| otlp::encode_protobuf(&r)),
        "{name}"
    );
    let strings = otlp::scan::strings_not_utf8(&input).map_or(0, |s| s.len());
    format!(
        "repaired: U+FFFD written in {strings} string(s) not UTF-8 ({} bytes in, {} out)",
        input.len(),
        output.len()
    )
}

fn otlp_case(name: &str, bytes: &[u8], report: &mut String) {
    let decoded = otlp::decode(bytes, otlp::detect(bytes));
    let decode = outcome(&decoded);
    let out = processor("{}").process_traces(bytes, NOW);
    if out.counters.requests_repaired == 1 {
        // otlp::decode reads the strings repaired too; prost's error names the field.
        let strict = outcome(&otlp::decode_protobuf(bytes));
        let decode = format!("{decode}, repaired (prost: {strict})");
        let process = assert_repaired(name, bytes, &out);
        let gz = otlp::gzip(bytes);
        let out_gz = processor("{}").process_traces(&gz, NOW);
        assert_eq!(assert_repaired(name, &gz, &out_gz), process, "{name} gzip");
        let _ = writeln!(report, "{name}\n  decode:  {decode}\n  process: {process}");
        return;
    }
    assert_passed_through(name, bytes, &out);
    let process = match &out.error {
        Some(e) => {
            assert_names_input(name, &e.to_string(), &["otlp protobuf", "otlp json"]);
            assert_eq!(
                e.to_string(),
                decode,
                "{name}: processor and decoder disagree"
            );
            assert_eq!(out.counters.errors.request_decode, 1, "{name}");
            "passed through with that error".to_string()
        }
        None => {
            assert!(decoded.is_ok(), "{name}");
            "passed through, nothing to relink".to_string()
        }
    };
    // The same body gzip-compressed: the gzip bytes come back, with the same outcome.
    let gz = otlp::gzip(bytes);
    let out_gz = processor("{}").process_traces(&gz, NOW);
    assert_passed_through(name, &gz, &out_gz);
    assert_eq!(
        out_gz.error.map(|e| e.to_string()),
        out.error.map(|e| e.to_string()),
        "{name} gzip"
    );
    let _ = writeln!(report, "{name}\n  decode:  {decode}\n  process: {process}");
}

fn event_case(name: &str, bytes: &[u8], report: &mut String) {
    let decoded = relink::decode_event(bytes);
    let decode = outcome(&decoded);
    if let Err(e) = &decoded {
        assert_names_input(
            name,
            &e.to_string(),
            &[
                "event",
                "s3 event",
                "sqs event",
                "sns event",
                "dynamodb event",
                "cloudwatch-logs event",
            ],
        );
    }
    // Sent where traces are expected, an event is not OTLP and passes through.
    let raw = processor("{}").process_traces(bytes, NOW);
    assert_passed_through(name, bytes, &raw);
    // Recorded as a Lambda span's event attribute (kept on output): the span passes through
    // unchanged and the problem is counted.
    let attribute = match std::str::from_utf8(bytes) {
        Err(_) => "not utf-8, cannot be an attribute value".to_string(),
        Ok(text) => {
            let request = span_with_event(text);
            let out = processor(r#"{"event_attribute": {"output": "keep"}}"#)
                .process_traces(&request, NOW);
            assert_passed_through(name, &request, &out);
            assert_eq!(out.error, None, "{name}");
            let e = &out.counters.errors;
            let counted = [
                ("event_too_large", e.event_too_large),
                ("event_json", e.event_json),
                ("event_unknown", e.event_unknown),
                ("event_invalid", e.event_invalid),
            ];
            let named: Vec<&str> = counted
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, _)| *k)
                .collect();
            match named.as_slice() {
                [] => "span passed through, event read".to_string(),
                [one] => format!("span passed through, counted {one}"),
                more => panic!("{name}: several problems counted: {more:?}"),
            }
        }
    };
    let _ = writeln!(
        report,
        "{name}\n  decode:    {decode}\n  attribute: {attribute}"
    );
}

fn config_case(name: &str, bytes: &[u8], report: &mut String) {
    let text = String::from_utf8_lossy(bytes);
    let parsed = Config::from_json(&text);
    let message = outcome(&parsed);
    assert!(parsed.is_err(), "{name}: accepted");
    assert_names_input(name, &message, &["config"]);
    let _ = writeln!(report, "{name}\n  config: {message}");
}

#[test]
fn corpus_gives_clear_errors_and_byte_identical_pass_through() {
    let dir = common::root().join("tests/malformed");
    let mut report = String::new();
    let mut counts = [0usize; 3];
    for path in common::files_under(&dir, "") {
        let Ok(rel) = path.strip_prefix(&dir) else {
            continue;
        };
        let name = rel.to_string_lossy().replace('\\', "/");
        let bytes = std::fs::read(&path).unwrap_or_default();
        match name.split('/').next() {
            Some("otlp") => (otlp_case(&name, &bytes, &mut report), counts[0] += 1).1,
            Some("event") => (event_case(&name, &bytes, &mut report), counts[1] += 1).1,
            Some("config") => (config_case(&name, &bytes, &mut report), counts[2] += 1).1,
            _ => {}
        }
    }
    assert!(counts.iter().all(|n| *n >= 8), "corpus missing: {counts:?}");
    let expected = dir.join("expected.txt");
    if let Err(e) = common::check(&expected, &report) {
        panic!("{e}");
    }
}

const HUNDRED_MB: usize = 100 * 1024 * 1024;

#[test]
fn hundred_megabyte_strings_are_refused_by_size_and_passed_through() {
    let big = "x".repeat(HUNDRED_MB);
    let request = span_with_event(&big);
    let out = processor("{}").process_traces(&request, NOW);
    assert_passed_through("100 MB json", &request, &out);
    assert_eq!(
        out.error.map(|e| e.to_string()),
        Some(format!(
            "otlp request: {} bytes exceeds the limit of 16777216 bytes",
            request.len()
        ))
    );
    assert_eq!(out.counters.errors.request_too_large, 1);

    // The same request as protobuf.
    let pb = otlp::decode_json(&request)
        .map(|r| otlp::encode_protobuf(&r))
        .unwrap_or_default();
    assert!(pb.len() > HUNDRED_MB);
    let out = processor("{}").process_traces(&pb, NOW);
    assert_passed_through("100 MB protobuf", &pb, &out);
    assert_eq!(out.counters.errors.request_too_large, 1);

    // Allowed in by a raised request limit, the event attribute is still too large to read:
    // counted, and the span passes through.
    let mut p = processor(
        r#"{"limits": {"max_request_bytes": 1073741824}, "event_attribute": {"output": "keep"}}"#,
    );
    let out = p.process_traces(&pb, NOW);
    assert_passed_through("100 MB event attribute", &pb, &out);
    assert_eq!(out.error, None);
    assert_eq!(out.counters.errors.event_too_large, 1);

    // The raw event decoder has no size limit of its own (its hosts bound their inputs):
    // a 100 MB object key decodes.
    let event = format!(
        r#"{{"Records":[{{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{{"bucket":{{"name":"b"}},"object":{{"key":"{big}","eTag":"e"}}}}}}]}}"#
    );
    let trigger = relink::decode_event(event.as_bytes());
    let key_len = trigger
        .ok()
        .and_then(|t| serde_json::to_value(&t).ok())
        .and_then(|v| {
            v.pointer("/items/0/pointers/0/key")
                .and_then(|k| k.as_str())
                .map(str::len)
        });
    assert_eq!(key_len, Some(HUNDRED_MB));
}

/// `members` gzip members of one MiB of zeros each: 1 GiB from about 1 MB, cheaply.
fn gzip_bomb(members: usize) -> Vec<u8> {
    let member = otlp::gzip(&vec![0u8; 1 << 20]);
    member.repeat(members)
}

#[test]
fn gzip_bombs_stop_at_the_decompressed_limit_and_pass_through() {
    let bomb = gzip_bomb(1024);
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    // A small limit keeps the test fast; the default is exercised below on the event path.
    let mut p = processor(r#"{"limits": {"max_decompressed_bytes": 4194304}}"#);
    let out = p.process_traces(&bomb, NOW);
    assert_passed_through("gzip bomb", &bomb, &out);
    assert_eq!(
        out.error.map(|e| e.to_string()),
        Some(
            "otlp: field `body` is not valid gzip: inflates past the limit of 4194304 bytes".into()
        )
    );
    assert_eq!(out.counters.errors.request_decode, 1);
    // The same limit bounds the inflating function whatever the caller.
    assert_eq!(
        otlp::gunzip(&bomb, 1 << 20).err().map(|e| e.to_string()),
        Some(
            "otlp: field `body` is not valid gzip: inflates past the limit of 1048576 bytes".into()
        )
    );

    // CloudWatch Logs subscription data: base64 of the bomb, default limit (16 MiB).
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(gzip_bomb(32));
    let event = format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#);
    assert_eq!(
        relink::decode_event(event.as_bytes())
            .err()
            .map(|e| e.to_string()),
        Some(
            "cloudwatch-logs event: field `awslogs.data` is not valid gzip: inflates past the \
             limit of 16777216 bytes"
                .into()
        )
    );
    // As an event attribute the processor's `max_decompressed_bytes` bounds it.
    let request = span_with_event(&event);
    let mut p = processor(
        r#"{"limits": {"max_decompressed_bytes": 65536}, "event_attribute": {"output": "keep"}}"#,
    );
    let out = p.process_traces(&request, NOW);
    assert_passed_through("awslogs bomb attribute", &request, &out);
    assert_eq!(out.counters.errors.event_invalid, 1);
}

#[test]
fn gzip_bodies_within_the_limit_are_relinked_and_stay_gzip() {
    let input = std::fs::read(common::root().join("tests/golden/relink/s3-one-batch/input-1.json"))
        .unwrap_or_default();
    let plain = processor("{}").process_traces(&input, NOW);
    assert!(
        matches!(plain.output, Cow::Owned(_)),
        "the golden case relinks"
    );
    let gz = otlp::gzip(&input);
    let out = processor("{}").process_traces(&gz, NOW);
    assert_eq!(out.error, None);
    assert!(otlp::is_gzip(&out.output));
    assert_eq!(
        otlp::gunzip(&out.output, usize::MAX).ok(),
        Some(plain.output.to_vec())
    );
    assert_eq!(out.counters, plain.counters);
}

#[test]
fn nesting_a_million_levels_deep_is_a_parse_error() {
    let deep = "[".repeat(1_000_000);
    let attr =
        format!(r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"k","value":{deep}"#);
    let out = processor("{}").process_traces(attr.as_bytes(), NOW);
    assert_passed_through("deep json", attr.as_bytes(), &out);
    assert_eq!(
        out.error.map(|e| e.to_string()),
        Some("otlp json: recursion limit exceeded at line 1 column 186".into())
    );
    assert_eq!(
        relink::decode_event(deep.as_bytes())
            .err()
            .map(|e| e.to_string()),
        Some("event: invalid json: recursion limit exceeded at line 1 column 128".into())
    );
    assert_eq!(
        Config::from_json(&format!(r#"{{"dynamodb":{{"tables":{{"t":{deep}"#))
            .err()
            .map(|e| e.to_string()),
        Some("config: invalid json: recursion limit exceeded at line 1 column 152".into())
    );
}

#[test]
fn nesting_past_the_configured_limit_passes_through() {
    // An attribute value four containers deep; limit 3.
    let value = r#"{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{"values":[{"arrayValue":{"values":[{"arrayValue":{"values":[{"intValue":"1"}]}}]}}]}}}]}}"#;
    let request = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","attributes":[{{"key":"deep","value":{value}}}]}}]}}]}}]}}"#
    );
    let mut p = processor(r#"{"limits": {"max_nesting": 3}}"#);
    let out = p.process_traces(request.as_bytes(), NOW);
    assert_passed_through("configured nesting", request.as_bytes(), &out);
    assert_eq!(
        out.error.map(|e| e.to_string()),
        Some(
            "otlp json: resource_spans[0].scope_spans[0].spans[0].attributes: a value nested 4 \
             levels deep exceeds limits.max_nesting (3)"
                .into()
        )
    );
    assert_eq!(out.counters.errors.request_decode, 1);
    // At the limit it is processed.
    let out =
        processor(r#"{"limits": {"max_nesting": 4}}"#).process_traces(request.as_bytes(), NOW);
    assert_eq!(out.error, None);

    // An event attribute deeper than the limit is not parsed; counted as too large.
    let event = std::fs::read_to_string(
        common::root().join("tests/fixtures/aws-lambda-rust-runtime/example-s3-event.json"),
    )
    .unwrap_or_default();
    let request = span_with_event(&event);
    // Its deepest object (`Records[0].s3.bucket.ownerIdentity`) is 6 levels down.
    let out = processor(r#"{"limits": {"max_nesting": 5}, "event_attribute": {"output": "keep"}}"#)
        .process_traces(&request, NOW);
    assert_passed_through("deep event", &request, &out);
    assert_eq!(out.counters.errors.event_too_large, 1);
    let out = processor(r#"{"limits": {"max_nesting": 6}, "event_attribute": {"output": "keep"}}"#)
        .process_traces(&request, NOW);
    assert_eq!(out.counters.errors.event_too_large, 0);
    assert!(
        matches!(out.output, Cow::Owned(_)),
        "the S3 event is read and relinked"
    );
}

#[test]
fn duplicate_keys_would_have_lost_a_batch() {
    // Two resourceSpans keys, each a batch that relinks: decoded last-wins, the relinked
    // output would hold only the second. Rejected, the whole input passes through.
    let path = common::root().join("tests/malformed/otlp/duplicate-keys-root.json");
    let bytes = std::fs::read(Path::new(&path)).unwrap_or_default();
    let out = processor("{}").process_traces(&bytes, NOW);
    assert_passed_through("duplicate keys", &bytes, &out);
    let message = out.error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.starts_with(r#"otlp json: duplicate key "resourceSpans" at line 1 column "#),
        "{message}"
    );
}
