use super::*;
use crate::event::test_fixtures::{load as fixture, message_detail};
use crate::event::{decode_event_value, Detail, Source};
use crate::pointer::{Message, Pointer};
use serde_json::json;

#[test]
fn plain_text_notification() {
    let t = decode_event_value(&fixture("aws-lambda-rust-runtime/example-sns-event.json")).unwrap();
    let want = Trigger {
        kind: TriggerKind::Sns,
        via: None,
        source: Source {
            arn: Some("arn:aws:sns:us-east-1:246796806071:snsNetTest".into()),
            name: Some("snsNetTest".into()),
            region: Some("us-east-1".into()),
            account: Some("246796806071".into()),
            ..Source::default()
        },
        items: vec![Item {
            id: Some("82833b5c-8d5d-56d0-b0e1-7511f8253eb8".into()),
            event_name: None,
            time_unix_nano: Some(1_439_920_952_111_000_000),
            contexts: vec![],
            pointers: vec![Pointer::Message(Message {
                service: "sns",
                id: "82833b5c-8d5d-56d0-b0e1-7511f8253eb8".into(),
            })],
            detail: Some(Detail::Message(MessageDetail {
                body_size: Some(13),
                subject: Some("Greetings".into()),
                ..MessageDetail::default()
            })),
            payload: None,
            step_functions: None,
        }],
        step_functions: None,
    };
    assert_eq!(t, want);
    // The PascalCase variant differs only in fields relink does not read.
    assert_eq!(
        decode(&fixture(
            "aws-lambda-rust-runtime/example-sns-event-pascal-case.json"
        ))
        .unwrap(),
        want
    );
}

#[test]
fn json_message_is_kept_as_body_json() {
    let t = decode(&fixture(
        "aws-lambda-rust-runtime/example-sns-event-obj.json",
    ))
    .unwrap();
    let d = message_detail(&t.items[0]);
    assert_eq!(
        d.body_json,
        Some(json!({"foo": "Hello world!", "bar": 123}))
    );
    assert_eq!(t.items[0].payload, None);
}

#[test]
fn text_attributes_are_reported_and_binary_ones_are_not() {
    let t = decode(&fixture("powertools-lambda-python/snsEvent.json")).unwrap();
    let d = message_detail(&t.items[0]);
    assert_eq!(
        d.attributes.iter().collect::<Vec<_>>(),
        [(&"Test".to_string(), &"TestString".to_string())]
    );
    assert_eq!(d.subject.as_deref(), Some("TestInvoke"));
    assert_eq!(d.body_size, Some("Hello from SNS!".len() as u64));
    assert_eq!(t.items[0].time_unix_nano, Some(1_546_433_107_000_000_000));
    assert_eq!(t.source.name.as_deref(), Some("sns-lambda"));
}

#[test]
fn carrier_attributes_are_not_application_attributes() {
    for file in [
        "sns-string-msg-attribute.json",
        "sns-b64-msg-attribute.json",
        "sns-batch.json",
    ] {
        let t = decode(&fixture(&format!("datadog-lambda-python/{file}"))).unwrap();
        for item in &t.items {
            let d = message_detail(item);
            assert!(d.attributes.is_empty(), "{file}");
            assert_eq!(d.subject, None);
            assert_eq!(item.time_unix_nano, Some(1_643_638_421_637_000_000));
        }
        assert_eq!(t.source.account.as_deref(), Some("601427279990"));
    }
}

#[test]
fn s3_notification_in_the_message_is_unwrapped() {
    let s3 = fixture("aws-lambda-rust-runtime/example-s3-event.json");
    let mut v = fixture("aws-lambda-rust-runtime/example-sns-event.json");
    v["Records"][0]["Sns"]["Message"] = json!(s3.to_string());
    let t = decode(&v).unwrap();
    let payload = t.items[0].payload.as_deref().unwrap();
    assert_eq!(payload, &decode_event_value(&s3).unwrap());
    assert_eq!(
        message_detail(&t.items[0]).body_json,
        None,
        "not repeated once unwrapped"
    );
}

#[test]
fn eventbridge_event_in_the_message_is_unwrapped() {
    let eb = fixture("aws-lambda-rust-runtime/example-eventbridge-schedule.json");
    let mut v = fixture("aws-lambda-rust-runtime/example-sns-event.json");
    v["Records"][0]["Sns"]["Message"] = json!(eb.to_string());
    let t = decode(&v).unwrap();
    let payload = t.items[0].payload.as_deref().unwrap();
    assert_eq!(payload.kind, TriggerKind::Eventbridge);
    assert_eq!(
        payload.items[0].id.as_deref(),
        Some("53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa")
    );
}

#[test]
fn envelope_as_sqs_delivers_it() {
    let sqs = fixture("powertools-lambda-python/snsSqsEvent.json");
    let body: Value = serde_json::from_str(sqs["Records"][0]["body"].as_str().unwrap()).unwrap();
    assert!(is_envelope(&body));
    let t = decode_envelope(&body).unwrap();
    assert_eq!(t.kind, TriggerKind::Sns);
    assert_eq!(
        t.source,
        Source {
            arn: Some("arn:aws:sns:eu-west-1:231436140809:powertools265".into()),
            name: Some("powertools265".into()),
            region: Some("eu-west-1".into()),
            account: Some("231436140809".into()),
            ..Source::default()
        }
    );
    let item = &t.items[0];
    assert_eq!(
        item.id.as_deref(),
        Some("d88d4479-6ec0-54fe-b63f-1cf9df4bb16e")
    );
    assert_eq!(item.time_unix_nano, Some(1_611_050_827_287_000_000));
    assert_eq!(
        message_detail(item).body_json,
        Some(json!({"message": "hello world", "username": "lessa"}))
    );
    assert!(!is_envelope(
        &json!({"Type": "SubscriptionConfirmation", "MessageId": "m", "TopicArn": "t"})
    ));
    assert!(!is_envelope(
        &json!({"Type": "Notification", "MessageId": "m"})
    ));
}

#[test]
fn malformed_notifications_name_the_field() {
    let base = fixture("powertools-lambda-python/snsEvent.json");
    let err = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        decode(&v).unwrap_err().to_string()
    };
    assert_eq!(
        err(&|v| {
            v["Records"][0]["Sns"]
                .as_object_mut()
                .unwrap()
                .remove("MessageId");
        }),
        "sns event: missing field `Records.0.Sns.MessageId`"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["Sns"] = Value::Null),
        "sns event: missing field `Records.0.Sns`"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["Sns"]["Timestamp"] = json!(1546433107)),
        "sns event: invalid field `Records.0.Sns.Timestamp`: expected a string, found a number"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["Sns"]["Message"] = json!({"a": 1})),
        "sns event: invalid field `Records.0.Sns.Message`: expected a string, found an object"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["Sns"]["MessageAttributes"] = json!([])),
        "sns event: invalid field `Records.0.Sns.MessageAttributes`: expected an object, found an array"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["Sns"]["MessageAttributes"]["Test"]["Type"] = json!(1)),
        "sns event: invalid field `Records.0.Sns.MessageAttributes.Test.Type`: expected a string, found a number"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["Sns"]["MessageAttributes"]["Test"] = json!("TestString")),
        "sns event: invalid field `Records.0.Sns.MessageAttributes.Test`: expected an object, found a string"
    );
    let envelope =
        json!({"Type": "Notification", "MessageId": "m", "TopicArn": "t", "Timestamp": "now"});
    assert_eq!(
        decode_envelope(&envelope).unwrap_err().to_string(),
        "sns notification: invalid field `Timestamp`: \"now\" is not an RFC 3339 time"
    );
}

#[test]
fn datadog_attribute_string_and_binary() {
    use crate::propagation::{Format, Found, SpanContext, SpanId, TraceId};
    let want = vec![Found {
        context: SpanContext {
            trace_id: TraceId::from_u64_pair(0, 4_948_377_316_357_291_421),
            span_id: SpanId::from_u64(6_746_998_015_037_429_512),
            sampled: Some(true),
            tracestate: None,
            format: Format::Datadog,
        },
        carrier: "Sns.MessageAttributes._datadog".into(),
    }];
    for file in [
        "sns-string-msg-attribute.json",
        "sns-b64-msg-attribute.json",
        "sns-batch.json",
    ] {
        let t = decode(&fixture(&format!("datadog-lambda-python/{file}"))).unwrap();
        for item in &t.items {
            assert_eq!(item.contexts, want, "{file}");
        }
    }
}

#[test]
fn step_functions_context_in_message_attributes() {
    // Datadog's ids for this payload: datadog-lambda-js sns.spec.ts.
    let t = decode_event_value(&fixture("datadog-lambda-js/sfn-sns.json")).unwrap();
    let item = t.items.first().unwrap();
    let sfn = item.step_functions.as_ref().unwrap();
    assert_eq!(sfn.state_name, "PublishToSNS");
    assert_eq!(sfn.carrier, "Sns.MessageAttributes._datadog");
    let found = item
        .contexts
        .iter()
        .find(|f| f.carrier == sfn.carrier)
        .unwrap();
    assert_eq!(
        (found.context.trace_id.low(), found.context.span_id.as_u64()),
        (3995810302240690842, 8347071195300897803)
    );
    assert_eq!(found.context.sampled, Some(true));
}

#[test]
fn step_functions_context_in_an_envelope_delivered_to_sqs() {
    // SNS to SQS without raw delivery: the envelope's attributes carry the object.
    let sns = fixture("datadog-lambda-js/sfn-sns.json");
    let envelope = json!({
        "Type": "Notification",
        "MessageId": "46d2665c-7ee2-50ba-a4cd-06acf35f5d5f",
        "TopicArn": sns["Records"][0]["Sns"]["TopicArn"],
        "Message": "{}",
        "MessageAttributes": sns["Records"][0]["Sns"]["MessageAttributes"],
    });
    let event = json!({"Records": [{
        "messageId": "m", "body": envelope.to_string(), "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:sa-east-1:123456123456:q"
    }]});
    let t = decode_event_value(&event).unwrap();
    let inner = t.items.first().and_then(|i| i.payload.as_deref()).unwrap();
    let item = inner.items.first().unwrap();
    let found = item
        .contexts
        .iter()
        .find(|f| f.carrier == "MessageAttributes._datadog")
        .unwrap();
    assert_eq!(
        (found.context.trace_id.low(), found.context.span_id.as_u64()),
        (3995810302240690842, 8347071195300897803)
    );
}
