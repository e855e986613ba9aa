use super::*;
use crate::event::test_fixtures::{load as fixture, message_detail};
use crate::event::{decode_event_value, Detail, Source};
use crate::pointer::S3Object;
use crate::pointer::{Message, Pointer};
use serde_json::json;

#[test]
fn plain_message() {
    let t = decode_event_value(&fixture("aws-lambda-rust-runtime/example-sqs-event.json")).unwrap();
    let want = Trigger {
        kind: TriggerKind::Sqs,
        via: None,
        source: Source {
            arn: Some("arn:aws:sqs:us-west-2:123456789012:SQSQueue".into()),
            name: Some("SQSQueue".into()),
            region: Some("us-west-2".into()),
            account: Some("123456789012".into()),
            ..Source::default()
        },
        items: vec![Item {
            id: Some("MessageID_1".into()),
            event_name: None,
            time_unix_nano: Some(1_520_621_625_029_000_000),
            contexts: vec![],
            pointers: vec![Pointer::Message(Message {
                service: "sqs",
                id: "MessageID_1".into(),
            })],
            detail: Some(Detail::Message(MessageDetail {
                body_size: Some(12),
                receive_count: Some(2),
                // The Binary attribute is not text and is left out.
                attributes: [("Attribute1", "AttributeValue1"), ("Attribute2", "123")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..MessageDetail::default()
            })),
            payload: None,
            step_functions: None,
        }],
        step_functions: None,
    };
    assert_eq!(t, want);
}

#[test]
fn json_body_and_batches() {
    let t = decode(&fixture(
        "aws-lambda-rust-runtime/example-sqs-event-obj.json",
    ))
    .unwrap();
    assert_eq!(
        message_detail(&t.items[0]).body_json,
        Some(json!({"a": "Test", "b": 123}))
    );
    assert_eq!(t.items[0].payload, None);

    let t = decode(&fixture("powertools-lambda-python/sqsEvent.json")).unwrap();
    let ids: Vec<_> = t.items.iter().map(|i| i.id.as_deref()).collect();
    assert_eq!(
        ids,
        [
            Some("059f36b4-87a3-44ab-83d2-661975830a7d"),
            Some("2e1424d4-f796-459a-8184-9c92662be6da")
        ]
    );
    let times: Vec<_> = t.items.iter().map(|i| i.time_unix_nano).collect();
    assert_eq!(
        times,
        [
            Some(1_545_082_649_183_000_000),
            Some(1_545_082_650_636_000_000)
        ]
    );
    assert_eq!(
        message_detail(&t.items[0])
            .attributes
            .get("testAttr")
            .map(String::as_str),
        Some("100")
    );
    assert_eq!(
        message_detail(&t.items[1]).body_json,
        Some(json!({"message": "foo1"}))
    );
    assert_eq!(t.source.name.as_deref(), Some("my-queue"));

    let t = decode(&fixture("powertools-lambda-python/sqsDlqTriggerEvent.json")).unwrap();
    assert_eq!(
        t.source.name.as_deref(),
        Some("sqs-redrive-SampleDLQ-Emgp9MFSLBZm")
    );
    assert_eq!(message_detail(&t.items[0]).body_size, Some(11));
}

#[test]
fn s3_notification_body_is_unwrapped() {
    let t = decode(&fixture("powertools-lambda-python/s3SqsEvent.json")).unwrap();
    let payload = t.items[0].payload.as_deref().unwrap();
    assert_eq!((payload.kind, payload.via), (TriggerKind::S3, None));
    assert_eq!(
        payload.items[0].pointers,
        vec![Pointer::S3Object(S3Object {
            bucket: "xxx".into(),
            key: "test.pdf".into(),
            key_encoded: None,
            etag: Some("2e3ad1e983318bbd8e73b080e2997980".into()),
            version_id: Some("yd3d4HaWOT2zguDLvIQLU6ptDTwKBnQV".into()),
            sequencer: Some("00643717F9F8B85354".into()),
            request_id: Some("YMSSR8BZJ2Y99K6P".into()),
            extended_request_id: Some(
                "6ASrUfj5xpn859fIq+6FXflOex/SKl/rjfiMd7wRzMg/zkHKR22PDpnh7KD3uq//cuOTbdX4DInN5eIs+cR0dY1z2Mc5NDP/".into()
            ),
            later_event: false,
        })]
    );
    assert_eq!(
        payload.items[0].time_unix_nano,
        Some(1_681_332_218_021_000_000)
    );
    assert_eq!(t.items[0].time_unix_nano, Some(1_681_332_219_270_000_000));
}

#[test]
fn sns_envelope_body_is_unwrapped() {
    let t = decode(&fixture("powertools-lambda-python/snsSqsEvent.json")).unwrap();
    let payload = t.items[0].payload.as_deref().unwrap();
    assert_eq!(payload.kind, TriggerKind::Sns);
    assert_eq!(payload.source.name.as_deref(), Some("powertools265"));
    assert_eq!(
        payload.items[0].id.as_deref(),
        Some("d88d4479-6ec0-54fe-b63f-1cf9df4bb16e")
    );
    assert_eq!(
        payload.items[0].pointers,
        vec![Pointer::Message(Message {
            service: "sns",
            id: "d88d4479-6ec0-54fe-b63f-1cf9df4bb16e".into()
        })]
    );

    let t = decode(&fixture("powertools-lambda-python/snsSqsFifoEvent.json")).unwrap();
    assert_eq!(
        message_detail(&t.items[0]).group_id.as_deref(),
        Some("powertools-test")
    );
    let payload = t.items[0].payload.as_deref().unwrap();
    assert_eq!(payload.source.name.as_deref(), Some("Test.fifo"));
    assert_eq!(
        payload.items[0].time_unix_nano,
        Some(1_665_754_525_419_000_000)
    );
}

#[test]
fn already_parsed_body_is_accepted() {
    let t = decode(&fixture("datadog-lambda-python/sns-sqs-java-upstream.json")).unwrap();
    let d = message_detail(&t.items[0]);
    assert_eq!(d.body_size, None);
    assert_eq!(d.body_json, None, "not repeated once unwrapped");
    let payload = t.items[0].payload.as_deref().unwrap();
    assert_eq!(payload.kind, TriggerKind::Sns);
    assert_eq!(
        payload.items[0].time_unix_nano,
        Some(1_715_869_366_902_000_000)
    );
}

#[test]
fn eventbridge_body_is_unwrapped() {
    let t = decode(&fixture("datadog-lambda-python/eventbridge-sqs.json")).unwrap();
    let payload = t.items[0].payload.as_deref().unwrap();
    assert_eq!(payload.kind, TriggerKind::Eventbridge);
    assert_eq!(
        payload.items[0].id.as_deref(),
        Some("af718b2a-b987-e8c0-7a2b-a188fad2661a")
    );
    assert_eq!(payload.source.name.as_deref(), Some("my.Source"));
    assert_eq!(
        payload.items[0].time_unix_nano,
        Some(1_691_102_943_000_000_000)
    );
}

#[test]
fn s3_test_event_and_broken_events_are_not_payloads() {
    let mut v = fixture("aws-lambda-rust-runtime/example-sqs-event.json");
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2014-10-13T15:57:02.089Z",
                            "Bucket": "bucketname", "RequestId": "5582815E1AEA5ADF", "HostId": "8cLe"});
    v["Records"][0]["body"] = json!(test_event.to_string());
    let t = decode(&v).unwrap();
    assert_eq!(t.items[0].payload, None);
    assert_eq!(message_detail(&t.items[0]).body_json, Some(test_event));

    // A body shaped like an S3 notification but missing its key stays an opaque body.
    let broken = json!({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}}}]});
    v["Records"][0]["body"] = json!(broken.to_string());
    let t = decode(&v).unwrap();
    assert_eq!(t.items[0].payload, None);
    assert_eq!(message_detail(&t.items[0]).body_json, Some(broken));
}

#[test]
fn malformed_records_name_the_field() {
    let base = fixture("aws-lambda-rust-runtime/example-sqs-event.json");
    let err = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        decode(&v).unwrap_err().to_string()
    };
    assert_eq!(
        err(&|v| {
            v["Records"][0].as_object_mut().unwrap().remove("messageId");
        }),
        "sqs event: missing field `Records.0.messageId`"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["body"] = json!(5)),
        "sqs event: invalid field `Records.0.body`: expected a string or a json object"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["attributes"]["SentTimestamp"] = json!("99999999999999999999")),
        "sqs event: invalid field `Records.0.attributes.SentTimestamp`: \"99999999999999999999\" is not an unsigned integer"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["attributes"]["SentTimestamp"] = json!("18446744073709551")),
        "sqs event: invalid field `Records.0.attributes.SentTimestamp`: 18446744073709551 milliseconds is out of range"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["attributes"]["ApproximateReceiveCount"] = json!("two")),
        "sqs event: invalid field `Records.0.attributes.ApproximateReceiveCount`: \"two\" is not an unsigned integer"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["attributes"] = json!([])),
        "sqs event: invalid field `Records.0.attributes`: expected an object, found an array"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["attributes"]["AWSTraceHeader"] = json!({})),
        "sqs event: invalid field `Records.0.attributes.AWSTraceHeader`: expected a string, found an object"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["messageAttributes"]["Attribute1"] = json!("AttributeValue1")),
        "sqs event: invalid field `Records.0.messageAttributes.Attribute1`: expected an object, found a string"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["messageAttributes"]["Attribute1"]["stringValue"] = json!(1)),
        "sqs event: invalid field `Records.0.messageAttributes.Attribute1.stringValue`: expected a string, found a number"
    );
    assert_eq!(
        err(&|v| v["Records"] = json!(null)),
        "sqs event: missing field `Records`"
    );
}

mod contexts {
    use super::*;
    use crate::propagation::{Format, SpanContext, SpanId, TraceId};

    fn found(trace: TraceId, span: u64, sampled: bool, format: Format, carrier: &str) -> Found {
        Found {
            context: SpanContext {
                trace_id: trace,
                span_id: SpanId::from_u64(span),
                sampled: Some(sampled),
                tracestate: None,
                format,
            },
            carrier: carrier.into(),
        }
    }

    fn xray(trace: &str, span: &str, sampled: bool) -> Found {
        Found {
            context: SpanContext {
                trace_id: TraceId::from_hex(trace).unwrap(),
                span_id: SpanId::from_hex(span).unwrap(),
                sampled: Some(sampled),
                tracestate: None,
                format: Format::Xray,
            },
            carrier: "attributes.AWSTraceHeader".into(),
        }
    }

    #[test]
    fn aws_trace_header() {
        let t = decode(&fixture("datadog-lambda-python/sqs-java-upstream.json")).unwrap();
        assert_eq!(
            t.items[0].contexts,
            vec![xray(
                "65eb7350000000006dfd06bf489aa4e5",
                "48cc02b6aafae897",
                true
            )]
        );
        assert_eq!(t.items[0].time_unix_nano, Some(1_709_929_297_382_000_000));
    }

    #[test]
    fn datadog_message_attribute() {
        let t = decode(&fixture("datadog-lambda-python/sqs-batch.json")).unwrap();
        let want = found(
            TraceId::from_u64_pair(0, 2_684_756_524_522_091_840),
            7_431_398_482_019_833_808,
            true,
            Format::Datadog,
            "messageAttributes._datadog",
        );
        assert_eq!(t.items.len(), 2);
        for item in &t.items {
            assert_eq!(item.contexts, vec![want.clone()]);
            assert!(message_detail(item).attributes.is_empty());
        }
    }

    #[test]
    fn application_attributes_come_before_the_aws_trace_header() {
        let mut v = fixture("datadog-lambda-python/sqs-java-upstream.json");
        v["Records"][0]["messageAttributes"] = json!({
            "traceparent": {"stringValue": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "dataType": "String"},
            "tenant": {"stringValue": "acme", "dataType": "String"}
        });
        let t = decode(&v).unwrap();
        let carriers: Vec<_> = t.items[0]
            .contexts
            .iter()
            .map(|f| (f.carrier.as_str(), f.context.format))
            .collect();
        assert_eq!(
            carriers,
            [
                ("messageAttributes.traceparent", Format::W3c),
                ("attributes.AWSTraceHeader", Format::Xray)
            ]
        );
        assert_eq!(
            message_detail(&t.items[0])
                .attributes
                .keys()
                .collect::<Vec<_>>(),
            ["tenant"]
        );
    }

    #[test]
    fn root_only_trace_header_has_no_context() {
        let mut v = fixture("datadog-lambda-python/sqs-java-upstream.json");
        v["Records"][0]["attributes"]["AWSTraceHeader"] =
            json!("Root=1-65eb7350-000000006dfd06bf489aa4e5;Sampled=1");
        assert!(decode(&v).unwrap().items[0].contexts.is_empty());
    }

    #[test]
    fn payload_contexts_stay_in_the_payload() {
        let t = decode(&fixture("datadog-lambda-python/eventbridge-sqs.json")).unwrap();
        assert_eq!(
            t.items[0].contexts,
            vec![xray(
                "64cc2edd112fbf1701d1355973a11d57",
                "7d5a9776024b2d42",
                false
            )]
        );
        let payload = t.items[0].payload.as_deref().unwrap();
        let trace = TraceId::from_u64_pair(0, 7_379_586_022_458_917_877);
        let mut w3c = found(
            trace,
            2_644_033_662_113_726_488,
            true,
            Format::W3c,
            "detail._datadog.traceparent",
        );
        w3c.context.tracestate = Some("dd=t.dm:-0;s:1".into());
        let dd = found(
            trace,
            2_644_033_662_113_726_488,
            true,
            Format::Datadog,
            "detail._datadog.x-datadog-trace-id",
        );
        assert_eq!(payload.items[0].contexts, vec![w3c, dd]);

        let t = decode(&fixture("datadog-lambda-python/sns-sqs-java-upstream.json")).unwrap();
        assert_eq!(
            t.items[0].contexts,
            vec![xray(
                "664616b600000000425c5f4f8367f57e",
                "6b971d513e9f9847",
                true
            )]
        );
        assert!(t.items[0].payload.as_deref().unwrap().items[0]
            .contexts
            .is_empty());
    }

    #[test]
    fn sns_envelope_attributes_stay_in_the_payload() {
        let mut v = fixture("powertools-lambda-python/snsSqsEvent.json");
        let mut body: Value =
            serde_json::from_str(v["Records"][0]["body"].as_str().unwrap()).unwrap();
        body["MessageAttributes"] = json!({
            "_datadog": {"Type": "String", "Value": "{\"x-datadog-trace-id\": \"12345\", \"x-datadog-parent-id\": \"67890\", \"x-datadog-sampling-priority\": \"0\"}"},
            "color": {"Type": "String", "Value": "blue"}
        });
        v["Records"][0]["body"] = json!(body.to_string());
        let t = decode(&v).unwrap();
        assert!(t.items[0].contexts.is_empty());
        let inner = &t.items[0].payload.as_deref().unwrap().items[0];
        assert_eq!(
            inner.contexts,
            vec![found(
                TraceId::from_u64_pair(0, 12345),
                67890,
                false,
                Format::Datadog,
                "MessageAttributes._datadog"
            )]
        );
        assert_eq!(
            message_detail(inner)
                .attributes
                .get("color")
                .map(String::as_str),
            Some("blue")
        );
    }
}

/// The state span's ids as `(Datadog trace id, parent id)`, and where they were read.
fn state_ids(item: &Item) -> Option<(u64, u64, &str)> {
    let sfn = item.step_functions.as_ref()?;
    let found = item.contexts.iter().find(|f| f.carrier == sfn.carrier)?;
    Some((
        found.context.trace_id.low(),
        found.context.span_id.as_u64(),
        found.carrier.as_str(),
    ))
}

#[test]
fn step_functions_context_in_message_attributes() {
    // Datadog's ids for this payload: datadog-lambda-js sqs.spec.ts.
    let want = Some((
        7148114900282288397,
        6711327198021343353,
        "messageAttributes._datadog",
    ));
    let mut event = fixture("datadog-lambda-js/sfn-sqs.json");
    let t = decode_event_value(&event).unwrap();
    let item = t.items.first().unwrap();
    assert_eq!(state_ids(item), want);
    assert_eq!(
        item.step_functions.as_ref().map(|s| s.state_name.as_str()),
        Some("SendToSQS")
    );
    // The same object as a Binary attribute (SNS raw delivery of a Binary attribute).
    let attr = &mut event["Records"][0]["messageAttributes"]["_datadog"];
    let text = attr["stringValue"].as_str().unwrap_or_default().to_owned();
    *attr = json!({"dataType": "Binary", "binaryValue": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, text)});
    let t = decode_event_value(&event).unwrap();
    assert_eq!(t.items.first().and_then(state_ids), want);
}

#[test]
fn trace_headers_beside_a_context_object_win_and_bad_objects_are_ignored() {
    let mut event = fixture("datadog-lambda-js/sfn-sqs.json");
    let attr = &mut event["Records"][0]["messageAttributes"]["_datadog"]["stringValue"];
    let mut object: serde_json::Value =
        serde_json::from_str(attr.as_str().unwrap_or_default()).unwrap();
    object["x-datadog-trace-id"] = json!("12345");
    object["x-datadog-parent-id"] = json!("67890");
    *attr = json!(object.to_string());
    let t = decode_event_value(&event).unwrap();
    let item = t.items.first().unwrap();
    assert_eq!(
        item.step_functions, None,
        "Datadog's consumers use the headers"
    );
    assert_eq!(item.contexts.len(), 1);
    // A context object with a wrong type yields no context and no error.
    object = json!({"Execution": {"Id": "e"}, "State": {"Name": 7, "EnteredTime": "t"}});
    event["Records"][0]["messageAttributes"]["_datadog"]["stringValue"] = json!(object.to_string());
    let t = decode_event_value(&event).unwrap();
    let item = t.items.first().unwrap();
    assert_eq!(
        (item.step_functions.as_ref(), item.contexts.len()),
        (None, 0)
    );
}

#[test]
fn step_functions_context_through_eventbridge_into_sqs() {
    // datadog-lambda-js event-bridge-sqs.spec.ts.
    let t = decode_event_value(&fixture("datadog-lambda-js/sfn-eventbridge-sqs.json")).unwrap();
    let payload = t.items.first().and_then(|i| i.payload.as_deref()).unwrap();
    assert_eq!(payload.kind, TriggerKind::Eventbridge);
    assert_eq!(
        payload.items.first().and_then(state_ids),
        Some((7858567057595668526, 3674709292670593712, "detail._datadog"))
    );
}
