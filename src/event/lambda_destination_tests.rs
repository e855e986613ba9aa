use super::*;
use crate::event::test_fixtures::{load as fixture, message_detail};
use crate::event::{decode_event_value, detect_kind, Source};
use serde_json::{json, Value};

const JAVA_FIXTURE: &str = "aws-lambda-java-libs/lambda_destination_event.json";

/// The record of a successful invocation, as the Lambda developer guide (and the CDK's
/// destinations guide) print it.
fn success_record() -> Value {
    json!({
        "version": "1.0",
        "timestamp": "2019-11-24T23:08:25.651Z",
        "requestContext": {
            "requestId": "c2a6f2ae-7dbb-4d22-8782-d0485c9877e2",
            "functionArn": "arn:aws:lambda:sa-east-1:123456789123:function:event-destinations:$LATEST",
            "condition": "Success",
            "approximateInvokeCount": 1
        },
        "requestPayload": {"Success": true},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": null
    })
}

fn pointer(id: &str) -> Pointer {
    Pointer::Message(Message {
        service: "lambda",
        id: id.into(),
    })
}

#[test]
fn a_failure_record_names_the_invocation() {
    let t = decode_event_value(&fixture(JAVA_FIXTURE)).unwrap();
    let id = "8ea123e4-1db7-4aca-ad10-d9ca1234c1fd";
    let want = Trigger {
        kind: TriggerKind::LambdaDestination,
        via: None,
        source: Source {
            arn: Some(
                "arn:aws:lambda:sa-east-1:123456678912:function:event-destinations:$LATEST".into(),
            ),
            name: Some("event-destinations".into()),
            region: Some("sa-east-1".into()),
            account: Some("123456678912".into()),
            ..Source::default()
        },
        items: vec![Item {
            id: Some(id.into()),
            event_name: Some("RetriesExhausted".into()),
            time_unix_nano: Some(1_574_632_367_333_000_000),
            pointers: vec![pointer(id)],
            ..Item::default()
        }],
        step_functions: None,
    };
    assert_eq!(t, want);
}

#[test]
fn a_success_record_and_a_stream_mappings_failure_record() {
    let t = decode_event_value(&success_record()).unwrap();
    assert_eq!(t.items[0].event_name.as_deref(), Some("Success"));
    assert_eq!(
        t.items[0].pointers,
        vec![pointer("c2a6f2ae-7dbb-4d22-8782-d0485c9877e2")]
    );
    // A Kinesis mapping's on-failure record (the guide's example): no payloads, a batch
    // description, and the function's ARN unqualified.
    let kinesis = json!({
        "requestContext": {
            "requestId": "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5",
            "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 1
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2019-11-14T00:38:06.021Z",
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000001",
            "startSequenceNumber": "49601189658422359378836298521827638475320189012309704722",
            "endSequenceNumber": "49601189658422359378836298522902373528957594348623495186",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z",
            "batchSize": 500,
            "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/mystream"
        }
    });
    let t = decode_event_value(&kinesis).unwrap();
    assert_eq!(t.kind, TriggerKind::LambdaDestination);
    assert_eq!(t.source.name.as_deref(), Some("myfunction"));
    assert_eq!(
        t.items[0].event_name.as_deref(),
        Some("RetryAttemptsExhausted")
    );
    assert_eq!(
        t.items[0].id.as_deref(),
        Some("c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5")
    );
}

#[test]
fn a_wrong_type_is_an_error_naming_the_field() {
    let mut record = success_record();
    record["requestContext"]["requestId"] = json!(42);
    let e = decode_event_value(&record).unwrap_err().to_string();
    assert!(e.contains("requestContext.requestId"), "{e}");
    let mut record = success_record();
    record["timestamp"] = json!("yesterday");
    assert!(decode_event_value(&record).is_err());
    let mut record = success_record();
    record["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("requestId");
    let e = decode_event_value(&record).unwrap_err().to_string();
    assert!(e.contains("requestContext.requestId"), "{e}");
}

#[test]
fn http_request_contexts_are_not_records() {
    for path in [
        "aws-lambda-rust-runtime/example-apigw-request.json",
        "aws-lambda-rust-runtime/example-apigw-v2-request-iam.json",
        "aws-lambda-rust-runtime/example-alb-lambda-target-request-headers-only.json",
    ] {
        let event = fixture(path);
        assert!(!is_record(&event), "{path}");
        assert_ne!(detect_kind(&event), Some(TriggerKind::LambdaDestination));
    }
    assert!(!is_record(&json!({"requestContext": {"functionArn": "a"}})));
    assert!(!is_record(&json!({"requestContext": "x"})));
}

#[test]
fn function_names() {
    let name = |arn| function_name(arn);
    assert_eq!(
        name("arn:aws:lambda:us-east-1:1:function:f:$LATEST"),
        Some("f")
    );
    assert_eq!(name("arn:aws:lambda:us-east-1:1:function:f"), Some("f"));
    assert_eq!(
        name("arn:aws:lambda:us-east-1:1:function:f:live"),
        Some("f")
    );
    assert_eq!(name("arn:aws:lambda:us-east-1:1:function:"), None);
    assert_eq!(name("arn:aws:sqs:us-east-1:1:function:f"), None);
    assert_eq!(name("event-destinations"), None);
}

/// An SQS event whose one message body is `body`.
fn in_sqs(body: &str) -> Value {
    let mut event = fixture("aws-lambda-rust-runtime/example-sqs-event.json");
    let records = event["Records"].as_array_mut().unwrap();
    records.truncate(1);
    records[0]["body"] = json!(body);
    event
}

#[test]
fn a_record_in_an_sqs_body_or_sns_message_is_the_items_payload() {
    let record = fixture(JAVA_FIXTURE);
    let text = record.to_string();
    let want = decode_event_value(&record).unwrap();
    let sqs = in_sqs(&text);
    // Both readers of an SQS batch: the borrowed one the processor tries first, and the
    // `Value` decoders.
    let borrowed = crate::event::decode_borrowed(&sqs.to_string()).unwrap();
    let from_value = decode_event_value(&sqs).unwrap();
    assert_eq!(borrowed, from_value);
    let item = &from_value.items[0];
    assert_eq!(item.payload.as_deref(), Some(&want));
    assert_eq!(message_detail(item).body_json, None);

    let mut sns = fixture("aws-lambda-rust-runtime/example-sns-event.json");
    sns["Records"][0]["Sns"]["Message"] = json!(text);
    let t = decode_event_value(&sns).unwrap();
    assert_eq!(t.items[0].payload.as_deref(), Some(&want));
}

#[test]
fn a_record_that_does_not_decode_stays_an_opaque_body() {
    let mut record = success_record();
    record["requestContext"]["requestId"] = json!(42);
    let t = decode_event_value(&in_sqs(&record.to_string())).unwrap();
    let item = &t.items[0];
    assert_eq!(item.payload, None);
    assert_eq!(message_detail(item).body_json, Some(record));
}

/// The event an EventBridge bus destination receives, as LocalStack's tests recorded it
/// against AWS (values filled in where the recording normalised them).
fn bus_event(detail_type: &str, source: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "0b4d3e0c-2b6e-4a44-9c1f-8b8f5e1a7d31",
        "detail-type": detail_type,
        "source": source,
        "account": "123456678912",
        "time": "2019-11-24T21:52:47Z",
        "region": "sa-east-1",
        "resources": [
            "arn:aws:events:sa-east-1:123456678912:event-bus/default",
            "arn:aws:lambda:sa-east-1:123456678912:function:event-destinations:$LATEST"
        ],
        "detail": detail
    })
}

#[test]
fn a_bus_destinations_event_carries_the_record() {
    let record = fixture(JAVA_FIXTURE);
    let want = decode_event_value(&record).unwrap();
    for source in ["lambda", "aws.lambda"] {
        let event = bus_event(
            "Lambda Function Invocation Result - Failure",
            source,
            record.clone(),
        );
        let t = decode_event_value(&event).unwrap();
        assert_eq!(t.kind, TriggerKind::Eventbridge);
        let item = &t.items[0];
        assert_eq!(item.payload.as_deref(), Some(&want));
        assert_eq!(message_detail(item).body_json, None);
        // The bus's own event id is still the item's.
        assert_eq!(
            item.id.as_deref(),
            Some("0b4d3e0c-2b6e-4a44-9c1f-8b8f5e1a7d31")
        );
    }
    // Another detail type or source: the detail is the application's.
    for (detail_type, source) in [
        ("Order Placed", "lambda"),
        ("Lambda Function Invocation Result - Success", "my.app"),
    ] {
        let t = decode_event_value(&bus_event(detail_type, source, record.clone())).unwrap();
        assert_eq!(t.items[0].payload, None);
        assert_eq!(message_detail(&t.items[0]).body_json, Some(record.clone()));
    }
}
