use super::*;
use crate::event::test_fixtures::{load as fixture, message_detail};
use crate::event::{decode_event_value, Source};
use serde_json::json;

#[test]
fn text_records() {
    let t = decode_event_value(&fixture(
        "aws-lambda-rust-runtime/example-kinesis-event.json",
    ))
    .unwrap();
    assert_eq!(t.kind, TriggerKind::Kinesis);
    assert_eq!(
        t.source,
        Source {
            arn: Some("arn:aws:kinesis:us-east-1:123456789012:stream/simple-stream".into()),
            name: Some("simple-stream".into()),
            region: Some("us-east-1".into()),
            account: Some("123456789012".into()),
            ..Source::default()
        }
    );
    let first = Item {
        id: Some(
            "shardId-000000000000:49568167373333333333333333333333333333333333333333333333".into(),
        ),
        event_name: None,
        time_unix_nano: Some(1_480_641_523_477_000_000),
        contexts: vec![],
        pointers: vec![Pointer::Message(Message {
            service: "kinesis",
            id: "shardId-000000000000:49568167373333333333333333333333333333333333333333333333"
                .into(),
        })],
        detail: Some(Detail::Message(MessageDetail {
            body_size: Some(11),
            partition_key: Some("s1".into()),
            sequence_number: Some(
                "49568167373333333333333333333333333333333333333333333333".into(),
            ),
            ..MessageDetail::default()
        })),
        payload: None,
        step_functions: None,
    };
    assert_eq!(t.items.first(), Some(&first));
    assert_eq!(
        t.items.get(1).and_then(|i| i.time_unix_nano),
        Some(1_480_841_523_477_000_000)
    );
}

#[test]
fn encrypted_records_decode_alike() {
    let plain = decode(&fixture(
        "aws-lambda-rust-runtime/example-kinesis-event.json",
    ))
    .unwrap();
    let encrypted = decode(&fixture(
        "aws-lambda-rust-runtime/example-kinesis-event-encrypted.json",
    ))
    .unwrap();
    assert_eq!(plain, encrypted);
}

#[test]
fn json_records() {
    let t = decode(&fixture(
        "powertools-lambda-python/kinesisStreamEventOneRecord.json",
    ))
    .unwrap();
    let item = &t.items[0];
    assert_eq!(
        message_detail(item).body_json,
        Some(json!({"message": "test message", "username": "test"}))
    );
    assert_eq!(message_detail(item).body_size, Some(47));
    assert_eq!(
        item.pointers,
        vec![Pointer::Message(Message {
            service: "kinesis",
            id: "shardId-000000000006:49590338271490256608559692538361571095921575989136588898"
                .into(),
        })]
    );
    assert_eq!(t.source.name.as_deref(), Some("lambda-stream"));
    assert_eq!(item.time_unix_nano, Some(1_545_084_650_987_000_000));
}

#[test]
fn datadog_records_keep_their_body() {
    let t = decode(&fixture("datadog-lambda-python/kinesis-batch.json")).unwrap();
    assert_eq!(t.items.len(), 2);
    let body = message_detail(&t.items[0]).body_json.clone().unwrap();
    assert_eq!(body["foo"], json!("bar"));
    assert_eq!(
        body["_datadog"]["x-datadog-trace-id"],
        json!("4948377316357291421")
    );
    assert_eq!(t.items[0].time_unix_nano, Some(1_643_638_425_163_000_000));
}

#[test]
fn gzip_records_are_opaque() {
    let t = decode(&fixture(
        "powertools-lambda-python/kinesisStreamCloudWatchLogsEvent.json",
    ))
    .unwrap();
    let d = message_detail(&t.items[0]);
    assert_eq!(d.body_json, None);
    assert_eq!(
        d.partition_key.as_deref(),
        Some("da10bf66b1f54bff5d96eae99149ad1f")
    );
    assert!(t.items[0].contexts.is_empty());
}

#[test]
fn record_without_event_id_has_no_pointer() {
    let mut v = fixture("aws-lambda-rust-runtime/example-kinesis-event.json");
    v["Records"][0].as_object_mut().unwrap().remove("eventID");
    v["Records"][1]["eventID"] = json!("no-colon");
    let t = decode(&v).unwrap();
    assert!(t.items.iter().all(|i| i.pointers.is_empty()));
}

#[test]
fn malformed_records_name_the_field() {
    let base = fixture("powertools-lambda-python/kinesisStreamEvent.json");
    let mut four = base.clone();
    let records = four["Records"].as_array_mut().unwrap();
    let extra = records[0].clone();
    records.push(extra.clone());
    records.push(extra);
    let err = |v: &Value, f: &dyn Fn(&mut Value)| {
        let mut v = v.clone();
        f(&mut v);
        decode(&v).unwrap_err().to_string()
    };
    assert_eq!(
        err(&four, &|v| v["Records"][3]["kinesis"]["data"] = json!("SGVsbG8*")),
        "kinesis event: field `Records.3.kinesis.data` is not valid base64: Invalid symbol 42, offset 7."
    );
    assert_eq!(
        err(&base, &|v| v["Records"][0]["kinesis"]["data"] =
            json!("SGVsbG8")),
        "kinesis event: field `Records.0.kinesis.data` is not valid base64: Invalid padding"
    );
    assert_eq!(
        err(&base, &|v| v["Records"][0]["kinesis"]["data"] =
            json!(["SGVsbG8="])),
        "kinesis event: invalid field `Records.0.kinesis.data`: expected a string, found an array"
    );
    assert_eq!(
        err(&base, &|v| {
            v["Records"][1]["kinesis"]
                .as_object_mut()
                .unwrap()
                .remove("data");
        }),
        "kinesis event: missing field `Records.1.kinesis.data`"
    );
    assert_eq!(
        err(&base, &|v| {
            v["Records"][0]["kinesis"]
                .as_object_mut()
                .unwrap()
                .remove("sequenceNumber");
        }),
        "kinesis event: missing field `Records.0.kinesis.sequenceNumber`"
    );
    assert_eq!(
        err(&base, &|v| v["Records"][0]["kinesis"]
            ["approximateArrivalTimestamp"] =
            json!(1e20)),
        "kinesis event: invalid field `Records.0.kinesis.approximateArrivalTimestamp`: \
         \"1e+20\" is not a plausible number of seconds"
    );
    assert_eq!(
        err(&base, &|v| v["Records"][0]["kinesis"] = json!("data")),
        "kinesis event: invalid field `Records.0.kinesis`: expected an object, found a string"
    );
}

#[test]
fn datadog_carrier_in_json_data() {
    use crate::propagation::{Format, Found, SpanContext, SpanId, TraceId};
    let want = vec![Found {
        context: SpanContext {
            trace_id: TraceId::from_u64_pair(0, 4_948_377_316_357_291_421),
            span_id: SpanId::from_u64(2_876_253_380_018_681_026),
            sampled: Some(true),
            tracestate: None,
            format: Format::Datadog,
        },
        carrier: "kinesis.data._datadog.x-datadog-trace-id".into(),
    }];
    for file in ["kinesis.json", "kinesisStream.json", "kinesis-batch.json"] {
        let t = decode(&fixture(&format!("datadog-lambda-python/{file}"))).unwrap();
        for item in &t.items {
            assert_eq!(item.contexts, want, "{file}");
        }
    }
    let t = decode(&fixture(
        "powertools-lambda-python/kinesisStreamEventOneRecord.json",
    ))
    .unwrap();
    assert!(t.items[0].contexts.is_empty());
}
