//! The borrowed readers (`decode_borrowed`: S3, SQS and SNS) against the `Value` decoders:
//! whatever they answer, the `Value` decoders answer the same; on everything else they
//! decline. Checked over every fixture and over every one-field mutation of each fixture
//! they answer.

use crate::event::test_fixtures::load;
use crate::event::{decode_borrowed, decode_event, Trigger, TriggerKind};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn decode(text: &str) -> Option<Trigger> {
    super::decode(&crate::json::borrowed::parse(text)?)
}

fn fixtures() -> Vec<PathBuf> {
    crate::event::test_fixtures::all_json_files()
}

fn read(file: &Path) -> String {
    std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

use crate::event::test_fixtures::agrees_with_value_decoders as agrees;

#[test]
fn every_fixture_decodes_as_the_value_decoders_do() {
    let mut answered = Vec::new();
    for file in fixtures() {
        let text = read(&file);
        if agrees(decode(&text), &text, &file.display().to_string()) {
            answered.push(file);
        }
    }
    // The plain SQS events (Powertools, Datadog, the Rust runtime, the relink scenarios).
    assert!(answered.len() >= 8, "answered {answered:?}");
    for file in &answered {
        let kind = decode_event(read(file).as_bytes()).map(|t| t.kind);
        assert_eq!(kind.ok(), Some(TriggerKind::Sqs), "{file:?}");
    }
}

/// The dispatcher answers every plain S3, SQS and SNS fixture, and nothing else.
#[test]
fn the_dispatcher_answers_plain_s3_sqs_and_sns_events() {
    let (mut s3, mut sqs, mut sns) = (0, 0, 0);
    for file in fixtures() {
        let text = read(&file);
        let Some(answer) = decode_borrowed(&text) else {
            continue;
        };
        match answer.kind {
            TriggerKind::S3 => s3 += 1,
            TriggerKind::Sqs => sqs += 1,
            TriggerKind::Sns => sns += 1,
            other => panic!("{file:?} answered as {other:?}"),
        }
        agrees(Some(answer), &text, &file.display().to_string());
    }
    assert!(
        s3 >= 7 && sqs >= 14 && sns >= 8,
        "s3 {s3}, sqs {sqs}, sns {sns}"
    );
}

/// Every place in `v` (the value itself, then each member and element, depth first).
fn places(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                at.push(k.clone());
                places(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(i.to_string());
                places(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn place<'v>(v: &'v mut Value, at: &[String]) -> Option<&'v mut Value> {
    let mut target = v;
    for step in at {
        target = match target {
            Value::Object(m) => m.get_mut(step)?,
            Value::Array(a) => a.get_mut(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(target)
}

/// Every fixture the dispatcher answers, with each of its fields in turn replaced by a
/// value of another type (or removed): the dispatcher answers as the `Value` decoders do,
/// and declines whatever they reject.
#[test]
fn one_field_mutations_agree_or_decline() {
    let replacements = [
        Value::Null,
        json!(7),
        json!(-1),
        json!(1.5),
        json!("x"),
        json!("123"),
        json!(" 42 "),
        json!("99999999999999999999"),
        json!([]),
        json!({}),
        json!({"dataType": "String", "stringValue": "v"}),
    ];
    let (mut cases, mut answered) = (0usize, 0usize);
    for file in fixtures() {
        let text = read(&file);
        if decode_borrowed(&text).is_none() {
            continue;
        }
        let original: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let mut all = Vec::new();
        places(&original, &mut Vec::new(), &mut all);
        for at in &all {
            let mut variants = Vec::new();
            for r in &replacements {
                let mut v = original.clone();
                if let Some(slot) = place(&mut v, at) {
                    *slot = r.clone();
                }
                variants.push(v);
            }
            if let Some((last, parent)) = at.split_last() {
                let mut v = original.clone();
                if let Some(Value::Object(m)) = place(&mut v, parent) {
                    m.remove(last);
                }
                variants.push(v);
            }
            for v in variants {
                let text = v.to_string();
                cases += 1;
                let what = format!("{}: {at:?} in {text}", file.display());
                if agrees(decode_borrowed(&text), &text, &what) {
                    answered += 1;
                }
            }
        }
    }
    // Most mutations touch a field relink does not read, or one it reads as AWS sends it
    // (8,611 texts, 4,612 answered when this was written).
    assert!(
        cases > 5000 && answered > cases / 4,
        "{answered} of {cases}"
    );
}

/// The fixture's text with its first record changed by an edit, per edit.
fn first_record_edited(fixture: &str) -> impl Fn(fn(&mut Value)) -> String {
    let base = load(fixture);
    move |edit| {
        let mut v = base.clone();
        if let Some(r) = v.pointer_mut("/Records/0") {
            edit(r);
        }
        v.to_string()
    }
}

/// Variants of a real event with what the text (not the `Value`) can differ in: escapes,
/// duplicate keys, an object body, carriers in both encodings, unknown data types.
#[test]
fn text_variants_agree_or_decline() {
    let fixture = "aws-lambda-rust-runtime/example-sqs-event.json";
    let (base, record) = (load(fixture), first_record_edited(fixture));
    let datadog = r#"{"x-datadog-trace-id":"1","x-datadog-parent-id":"2"}"#;
    let cases: Vec<(&str, String, bool)> = vec![
        (
            "traceparent carrier",
            record(|r| {
                r["messageAttributes"]["traceparent"] = json!({
                    "dataType": "String",
                    "stringValue": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                })
            }),
            true,
        ),
        (
            "_datadog carrier as a string",
            record(|r| {
                r["messageAttributes"]["_datadog"] = json!({
                    "dataType": "String",
                    "stringValue": r#"{"x-datadog-trace-id":"1","x-datadog-parent-id":"2"}"#
                })
            }),
            true,
        ),
        (
            "_datadog carrier as base64 binary",
            record(|r| {
                r["messageAttributes"]["_datadog"] = json!({
                    "dataType": "Binary",
                    "binaryValue": "eyJ4LWRhdGFkb2ctdHJhY2UtaWQiOiIxIiwieC1kYXRhZG9nLXBhcmVudC1pZCI6IjIifQ=="
                })
            }),
            true,
        ),
        (
            "carrier with a number data type (read as no carrier, as the Value decoders do)",
            record(|r| r["messageAttributes"]["traceparent"] = json!({"dataType": 5})),
            true,
        ),
        (
            "application attribute with a number data type",
            record(|r| r["messageAttributes"]["n"] = json!({"dataType": 5})),
            false,
        ),
        (
            "X-Ray header",
            record(|r| {
                r["attributes"]["AWSTraceHeader"] = json!(
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                )
            }),
            true,
        ),
        (
            "FIFO group",
            record(|r| r["attributes"]["MessageGroupId"] = json!("g1")),
            true,
        ),
        (
            "object body",
            record(|r| r["body"] = json!({"a": 1})),
            false,
        ),
        (
            "JSON body",
            record(|r| r["body"] = json!(r#"{"order": 1}"#)),
            true,
        ),
        (
            "S3 notification body",
            record(|r| {
                r["body"] = json!(crate::event::test_fixtures::load(
                    "powertools-lambda-python/s3Event.json"
                )
                .to_string())
            }),
            true,
        ),
        (
            "custom text data type",
            record(|r| {
                r["messageAttributes"]["n"] = json!({"dataType": "Number.int", "stringValue": "5"})
            }),
            true,
        ),
        (
            "second record from another queue",
            {
                let mut v = base.clone();
                let mut second = v["Records"][0].clone();
                second["messageId"] = json!("m2");
                second["eventSourceARN"] = json!("arn:aws:sqs:eu-west-1:1:other");
                if let Some(Value::Array(records)) = v.get_mut("Records") {
                    records.push(second);
                }
                v.to_string()
            },
            true,
        ),
        (
            "another top-level key",
            {
                let mut v = base.clone();
                v["_datadog"] = serde_json::from_str(datadog).unwrap_or(Value::Null);
                v.to_string()
            },
            false,
        ),
    ];
    for (what, text, answers) in cases {
        let answered = agrees(decode_borrowed(&text), &text, what);
        assert_eq!(answered, answers, "{what}: {text}");
    }
    // What only the text shows: escapes are read as the `Value` decoders read them, and a
    // duplicate key (invalid for relink) is declined, as they reject it.
    let text = read(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/aws-lambda-rust-runtime/example-sqs-event.json"
    )));
    let escaped = text
        .replace("\"MessageID_1\"", "\"Message\\u0049D_1\\n\"")
        .replace("\"Attribute1\" :", "\"Attr\\/ibute1\" :");
    assert!(agrees(decode_borrowed(&escaped), &escaped, "escapes"));
    let duplicate = text.replace(
        "\"messageId\" : \"MessageID_1\",",
        "\"messageId\" : \"MessageID_1\", \"messageId\" : \"MessageID_2\",",
    );
    assert_ne!(duplicate, text);
    assert!(decode_borrowed(&duplicate).is_none());
    assert!(decode_event(duplicate.as_bytes()).is_err());
}

/// SNS: the event source under either spelling, carriers in both encodings, a message
/// that is itself an S3 notification.
#[test]
fn sns_variants_agree_or_decline() {
    let record = first_record_edited("aws-lambda-rust-runtime/example-sns-event.json");
    let cases: Vec<(&str, String, bool)> = vec![
        ("as Lambda sends it", record(|_| {}), true),
        (
            "eventSource as well",
            record(|r| r["eventSource"] = json!("aws:sns")),
            true,
        ),
        (
            "eventSource naming another service",
            record(|r| r["eventSource"] = json!("aws:sqs")),
            false,
        ),
        (
            "traceparent carrier",
            record(|r| {
                r["Sns"]["MessageAttributes"] = json!({"traceparent": {
                    "Type": "String",
                    "Value": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                }})
            }),
            true,
        ),
        (
            "_datadog carrier as base64 binary",
            record(|r| {
                r["Sns"]["MessageAttributes"] = json!({"_datadog": {
                    "Type": "Binary",
                    "Value": "eyJ4LWRhdGFkb2ctdHJhY2UtaWQiOiIxIiwieC1kYXRhZG9nLXBhcmVudC1pZCI6IjIifQ=="
                }})
            }),
            true,
        ),
        (
            "application attributes",
            record(|r| {
                r["Sns"]["MessageAttributes"] = json!({
                    "n": {"Type": "Number", "Value": "5"},
                    "b": {"Type": "Binary", "Value": "AAE="},
                    "z": null
                })
            }),
            true,
        ),
        (
            "S3 notification message",
            record(|r| {
                r["Sns"]["Message"] = json!(crate::event::test_fixtures::load(
                    "powertools-lambda-python/s3Event.json"
                )
                .to_string())
            }),
            true,
        ),
        (
            "a bad timestamp",
            record(|r| r["Sns"]["Timestamp"] = json!("yesterday")),
            false,
        ),
        ("Sns missing", record(|r| r["Sns"] = Value::Null), false),
    ];
    for (what, text, answers) in cases {
        let answered = agrees(decode_borrowed(&text), &text, what);
        assert_eq!(answered, answers, "{what}: {text}");
    }
}
