//! The borrowed decoder against the `Value` decoders: whatever it answers, they answer
//! the same; on everything else it declines.

use crate::event::decode_event;
use serde_json::{json, Value};

fn decode(text: &str) -> Option<crate::event::Trigger> {
    super::decode(&crate::json::borrowed::parse(text)?)
}

/// Whether the reader answered `text`, asserting its answer is the `Value` decoders'.
fn agrees(text: &str, what: &str) -> bool {
    crate::event::test_fixtures::agrees_with_value_decoders(decode(text), text, what)
}

/// Every fixture (a superset of the shared fixture set): the S3 notifications are
/// answered, equal to the `Value` decoders' triggers, and nothing else is.
#[test]
fn every_fixture_decodes_as_the_value_decoders_do() {
    let files = crate::event::test_fixtures::all_json_files();
    let mut answered = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{e}"));
        if agrees(&text, &file.display().to_string()) {
            answered.push(file.clone());
        }
    }
    // The plain S3 notifications (Powertools, Datadog, the Rust runtime).
    assert!(answered.len() >= 6, "answered {answered:?}");
    for file in &answered {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{e}"));
        let kind = decode_event(text.as_bytes()).map(|t| t.kind);
        assert_eq!(kind.ok(), Some(crate::event::TriggerKind::S3), "{file:?}");
    }
}

/// Variants of a real notification, each changing one thing the `Value` decoder reads
/// (or rejects): the borrowed decoder agrees or declines, and it declines every variant
/// the `Value` decoders reject.
#[test]
fn variants_agree_or_decline() {
    let base = crate::event::test_fixtures::load("powertools-lambda-python/s3Event.json");
    let edits: Vec<(&str, fn(&mut Value))> = vec![
        ("size as a string", |r| {
            r["s3"]["object"]["size"] = json!("1024")
        }),
        ("negative size", |r| r["s3"]["object"]["size"] = json!(-1)),
        ("fractional size", |r| {
            r["s3"]["object"]["size"] = json!(1.5)
        }),
        ("size null", |r| r["s3"]["object"]["size"] = Value::Null),
        ("bad eventTime", |r| r["eventTime"] = json!("yesterday")),
        ("eventTime null", |r| r["eventTime"] = Value::Null),
        ("eventTime a number", |r| r["eventTime"] = json!(5)),
        ("userIdentity a string", |r| r["userIdentity"] = json!("x")),
        ("responseElements an array", |r| {
            r["responseElements"] = json!([])
        }),
        ("responseElements null", |r| {
            r["responseElements"] = Value::Null
        }),
        ("no responseElements", |r| {
            if let Some(o) = r.as_object_mut() {
                o.remove("responseElements");
            }
        }),
        ("EventSource only", |r| {
            if let Some(o) = r.as_object_mut() {
                o.remove("eventSource");
                o.insert("EventSource".into(), json!("aws:s3"));
            }
        }),
        ("eventSource sqs", |r| r["eventSource"] = json!("aws:sqs")),
        ("key not UTF-8", |r| r["s3"]["object"]["key"] = json!("%ff")),
        ("key form-encoded", |r| {
            r["s3"]["object"]["key"] = json!("a+b%20c")
        }),
        ("key an escape", |r| r["s3"]["object"]["key"] = json!("%zz")),
        ("key missing", |r| r["s3"]["object"]["key"] = Value::Null),
        ("bucket name null", |r| {
            r["s3"]["bucket"]["name"] = Value::Null
        }),
        ("bucket arn a number", |r| {
            r["s3"]["bucket"]["arn"] = json!(1)
        }),
        ("s3 a string", |r| r["s3"] = json!("s3")),
        ("region null", |r| r["awsRegion"] = Value::Null),
        ("record a number", |r| *r = json!(7)),
    ];
    let mut answered = 0;
    let mut declined_errors = 0;
    for (what, edit) in &edits {
        let mut event = base.clone();
        edit(&mut event["Records"][0]);
        let text = event.to_string();
        if agrees(&text, what) {
            answered += 1;
        } else if decode_event(text.as_bytes()).is_err() {
            declined_errors += 1;
        }
    }
    assert!(answered >= 6, "answered {answered}");
    assert!(declined_errors >= 8, "declined {declined_errors}");

    let record = base["Records"][0].clone();
    let mut second_without_bucket = record.clone();
    second_without_bucket["s3"]["bucket"] = Value::Null;
    let whole = |records: Value| json!({ "Records": records }).to_string();
    let text = base.to_string();
    for (what, text, ok) in [
        ("two records", whole(json!([record, record])), true),
        (
            "second record without a bucket",
            whole(json!([record, second_without_bucket])),
            false,
        ),
        ("no records", whole(json!([])), false),
        (
            "another top-level key",
            text.replacen('{', r#"{"x":1,"#, 1),
            true,
        ),
        (
            "a duplicate key in a field not read",
            text.replacen(
                r#""eventVersion""#,
                r#""eventVersion":"0","eventVersion""#,
                1,
            ),
            false,
        ),
        (
            "a duplicate field that is read",
            text.replacen(r#""eventName""#, r#""eventName":"x","eventName""#, 1),
            false,
        ),
        (
            "an escaped field name",
            text.replacen(r#""eventName""#, r#""event\u004eame""#, 1),
            true,
        ),
        ("trailing text", format!("{text} x"), false),
    ] {
        assert_eq!(decode_event(text.as_bytes()).is_ok(), ok, "{what}");
        let fast = agrees(&text, what);
        if !ok {
            assert!(!fast, "{what}");
        }
        if what == "two records" || what == "an escaped field name" {
            assert!(fast, "{what}");
        }
    }
}
