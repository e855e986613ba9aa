//! S3 (direct and through EventBridge), DynamoDB Streams, CloudWatch Logs.

use super::*;
use crate::event::{DynamodbDetail, LogEvent, S3Detail};
use crate::inferred::{infer_spans, InferOptions};
use crate::pointer::{DynamodbItem, KeyValue as DdbKey, S3Object};

/// The record of tests/fixtures/aws-lambda-rust-runtime/example-s3-event.json.
pub(super) fn s3_item() -> Item {
    Item {
        event_name: Some("ObjectCreated:Put".into()),
        time_unix_nano: Some(123_000_000),
        pointers: vec![Pointer::S3Object(S3Object {
            bucket: "sourcebucket".into(),
            key: "Happy Face.jpg".into(),
            key_encoded: None,
            etag: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
            version_id: Some("version".into()),
            sequencer: Some("Happy Sequencer".into()),
            request_id: Some("C3D13FE58DE4C810".into()),
            extended_request_id: Some(
                "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD".into(),
            ),
            later_event: false,
        })],
        detail: Some(Detail::S3(S3Detail {
            size: Some(1024),
            principal_id: Some("EXAMPLE".into()),
            source_ip: Some("127.0.0.1".into()),
        })),
        ..Default::default()
    }
}

pub(super) fn s3_source() -> Source {
    Source {
        arn: Some("arn:aws:s3:::mybucket".into()),
        name: Some("sourcebucket".into()),
        region: Some("us-east-1".into()),
        ..Default::default()
    }
}

#[test]
fn s3_object_created_carries_its_pointer_hash() {
    let t = trigger(TriggerKind::S3, s3_source(), vec![s3_item()]);
    let opts = InferOptions {
        invocation_start_unix_nano: Some(2_000_000_000),
        ..Default::default()
    };
    // The hash is sha256("sourcebucket|Happy Face.jpg|d41d8cd98f00b204e9800998ecf8427e")[..32].
    assert_eq!(
        render_spans(&infer_spans(&t, &opts)),
        r#"span "ObjectCreated:Put sourcebucket" SPAN_KIND_CONSUMER
  ids trace=a754c99c448c64d328dac159ca7b13cf span=edeb8c932e3ca8eb parent=- flags=0x101 state=""
  time 123000000..2000000000
  faas.trigger = "datasource"
  aws.s3.bucket = "sourcebucket"
  faas.document.collection = "sourcebucket"
  faas.document.operation = "insert"
  faas.document.name = "Happy Face.jpg"
  faas.document.time = "1970-01-01T00:00:00.123Z"
  cloud.resource_id = "arn:aws:s3:::mybucket"
  aws.s3.key = "Happy Face.jpg"
  aws.request_id = "C3D13FE58DE4C810"
  aws.extended_request_id = "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
  relink.pointer.kind = "aws.s3.object"
  relink.pointer.hash = ["7c0bf58aea7f62b7af0f6ba91fd850ca"]
  relink.inferred = true
  relink.trigger.kind = "s3"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}

#[test]
fn s3_through_eventbridge_says_so() {
    let mut item = s3_item();
    item.event_name = Some("Object Deleted".into());
    let mut t = trigger(TriggerKind::S3, s3_source(), vec![item]);
    t.via = Some("eventbridge");
    let text = render_spans(&infer_spans(&t, &InferOptions::default()));
    assert!(
        text.starts_with("span \"Object Deleted sourcebucket\" SPAN_KIND_CONSUMER\n"),
        "{text}"
    );
    assert!(
        text.contains("  faas.document.operation = \"delete\"\n"),
        "{text}"
    );
    assert!(text.ends_with(
        "  relink.inferred = true\n  relink.trigger.kind = \"s3\"\n  relink.trigger.via = \"eventbridge\"\n  dropped attributes=0 events=0 links=0 events=0 status=unset\n"
    ), "{text}");
}

fn ddb_item(event: &str, id: &str, key: DdbKey, secs: u64) -> Item {
    Item {
        id: Some(id.into()),
        event_name: Some(event.into()),
        time_unix_nano: Some(secs * 1_000_000_000),
        pointers: vec![Pointer::DynamodbItem(DynamodbItem {
            table: "ExampleTableWithStream".into(),
            keys: vec![("Id".into(), key)],
            event_id: Some(id.into()),
            sequence_number: Some(format!("{secs}00")),
            approximate_creation_time: Some(secs * 1_000_000_000),
        })],
        detail: Some(Detail::Dynamodb(DynamodbDetail {
            stream_view_type: Some("NEW_AND_OLD_IMAGES".into()),
            size_bytes: Some(26),
            ..Default::default()
        })),
        ..Default::default()
    }
}

#[test]
fn dynamodb_batch_links_every_record_by_pointer() {
    let source = Source {
        arn: Some("arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899".into()),
        name: Some("ExampleTableWithStream".into()),
        region: Some("us-east-1".into()),
        ..Default::default()
    };
    let items = vec![
        ddb_item(
            "MODIFY",
            "c4ca4238a0b923820dcc509a6f75849b",
            DdbKey::N("101".into()),
            1479499740,
        ),
        // A binary key hashes two ways (base64 text and decoded bytes).
        ddb_item(
            "INSERT",
            "c81e728d9d4c2f636f067f89cc14862c",
            DdbKey::B("aGk=".into()),
            1479499741,
        ),
    ];
    let t = trigger(TriggerKind::Dynamodb, source, items);
    assert_eq!(
        render_spans(&infer_spans(&t, &InferOptions::default())),
        r#"span "INSERT,MODIFY ExampleTableWithStream" SPAN_KIND_CONSUMER
  ids trace=f2b9341ecd7755354026b69366a9098b span=de4628e974be7173 parent=- flags=0x101 state=""
  time 1479499740000000000..1479499740000000000
  faas.trigger = "datasource"
  aws.dynamodb.table_names = ["ExampleTableWithStream"]
  faas.document.collection = "ExampleTableWithStream"
  cloud.resource_id = "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899"
  relink.inferred = true
  relink.trigger.kind = "dynamodb"
  link trace=00000000000000000000000000000000 span=0000000000000000 flags=0x0 state=""
    relink.pointer.kind = "aws.dynamodb.item"
    relink.pointer.hash = ["e2af34d333891f765c7f02d2da80895e"]
  link trace=00000000000000000000000000000000 span=0000000000000000 flags=0x0 state=""
    relink.pointer.kind = "aws.dynamodb.item"
    relink.pointer.hash = ["d2502261a1fe9998436228ba674d7cd9", "deba234b19d7cfc38ce49329193ee34f"]
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}

#[test]
fn dynamodb_single_record_names_its_operation() {
    let source = Source {
        name: Some("ExampleTableWithStream".into()),
        ..Default::default()
    };
    let t = trigger(
        TriggerKind::Dynamodb,
        source,
        vec![ddb_item("REMOVE", "e1", DdbKey::S("k".into()), 1)],
    );
    let text = render_spans(&infer_spans(&t, &InferOptions::default()));
    assert!(
        text.starts_with("span \"REMOVE ExampleTableWithStream\" SPAN_KIND_CONSUMER\n"),
        "{text}"
    );
    assert!(text.contains("  faas.document.operation = \"delete\"\n  faas.document.time = \"1970-01-01T00:00:01.000Z\"\n"), "{text}");
    assert!(
        !text.contains("link "),
        "a single record links to nothing: {text}"
    );
}

fn log_item(id: &str, stream: &str, ms: u64) -> Item {
    Item {
        id: Some(id.into()),
        time_unix_nano: Some(ms * 1_000_000),
        detail: Some(Detail::Log(LogEvent {
            log_group: "testLogGroup".into(),
            log_stream: stream.into(),
            message: "[ERROR] First test message".into(),
        })),
        ..Default::default()
    }
}

#[test]
fn cloudwatch_logs_batch() {
    let source = Source {
        name: Some("testLogGroup".into()),
        account: Some("123456789123".into()),
        ..Default::default()
    };
    let items = vec![
        log_item("eventId1", "testLogStream", 1440442987000),
        log_item("eventId2", "testLogStream", 1440442987001),
        log_item("eventId3", "otherStream", 1440442987002),
    ];
    let t = trigger(TriggerKind::CloudwatchLogs, source, items);
    assert_eq!(
        render_spans(&infer_spans(&t, &InferOptions::default())),
        r#"span "process testLogGroup" SPAN_KIND_CONSUMER
  ids trace=798f959afec15a03c297db24c1b82be5 span=233c14e979de96a5 parent=- flags=0x101 state=""
  time 1440442987000000000..1440442987000000000
  faas.trigger = "datasource"
  aws.log.group.names = ["testLogGroup"]
  aws.log.stream.names = ["testLogStream", "otherStream"]
  faas.document.collection = "testLogGroup"
  faas.document.operation = "insert"
  relink.inferred = true
  relink.trigger.kind = "cloudwatch-logs"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}
