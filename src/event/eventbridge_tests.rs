use super::*;
use crate::event::decode_event_value;
use crate::event::test_fixtures::load as fixture;
use serde_json::json;

#[test]
fn scheduled_event() {
    let t = decode_event_value(&fixture(
        "aws-lambda-rust-runtime/example-eventbridge-schedule.json",
    ))
    .unwrap();
    let want = Trigger {
        kind: TriggerKind::Eventbridge,
        via: None,
        source: Source {
            arn: Some("arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule".into()),
            name: Some("aws.events".into()),
            region: Some("us-east-1".into()),
            account: Some("123456789012".into()),
            ..Source::default()
        },
        items: vec![Item {
            id: Some("53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa".into()),
            event_name: Some("Scheduled Event".into()),
            time_unix_nano: Some(1_444_323_186_000_000_000),
            contexts: vec![],
            pointers: vec![Pointer::Message(Message {
                service: "eventbridge",
                id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa".into(),
            })],
            detail: Some(Detail::Message(MessageDetail {
                subject: Some("aws.events".into()),
                body_json: Some(json!({})),
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
fn service_events_keep_their_detail() {
    let t = decode(&fixture("powertools-lambda-python/eventBridgeEvent.json")).unwrap();
    let item = &t.items[0];
    assert_eq!(
        item.event_name.as_deref(),
        Some("EC2 Instance State-change Notification")
    );
    assert_eq!(item.time_unix_nano, Some(1_513_968_228_000_000_000));
    let Some(Detail::Message(d)) = &item.detail else {
        panic!()
    };
    assert_eq!(
        d.body_json,
        Some(json!({"instance_id": "i-1234567890abcdef0", "state": "terminated"}))
    );
    // `resources` names the instance the event is about, not where it came from.
    assert_eq!(t.source.arn, None);
    assert_eq!(t.source.account.as_deref(), Some("111122223333"));

    // An event without the optional `version` decodes the same way.
    let t = decode(&fixture(
        "aws-lambda-rust-runtime/example-eventbridge-event-obj.json",
    ))
    .unwrap();
    assert_eq!(
        t.items[0].id.as_deref(),
        Some("7bf73129-1428-4cd3-a780-95db273d1602")
    );
    assert_eq!(t.items[0].time_unix_nano, Some(1_636_666_194_000_000_000));
}

#[test]
fn the_source_is_the_rule_or_schedule_among_the_resources() {
    let event = |resources: serde_json::Value| {
        let mut v = fixture("powertools-lambda-python/eventBridgeEvent.json");
        v["resources"] = resources;
        decode(&v).unwrap().source.arn
    };
    let instance = "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0";
    let rule = "arn:aws:events:us-west-1:123456789012:rule/on-stop";
    let schedule = "arn:aws:scheduler:us-west-1:123456789012:schedule/default/nightly";
    assert_eq!(event(json!([instance, rule])).as_deref(), Some(rule));
    assert_eq!(event(json!([schedule, rule])).as_deref(), Some(schedule));
    assert_eq!(
        event(json!(["arn:aws-cn:events:cn-north-1:1:rule/r"])).as_deref(),
        Some("arn:aws-cn:events:cn-north-1:1:rule/r")
    );
    assert_eq!(event(json!([instance, "events", "x:y:events"])), None);
    assert_eq!(event(json!([])), None);
}

#[test]
fn custom_event_without_resources() {
    let t = decode(&fixture("datadog-lambda-python/eventbridge-custom.json")).unwrap();
    assert_eq!(
        t.source,
        Source {
            name: Some("eventbridge.custom.event.sender".into()),
            region: Some("eu-west-1".into()),
            account: Some("601427279990".into()),
            ..Source::default()
        }
    );
    let item = &t.items[0];
    assert_eq!(item.event_name.as_deref(), Some("testdetail"));
    assert_eq!(item.time_unix_nano, Some(1_635_989_865_000_000_000));
    let Some(Detail::Message(d)) = &item.detail else {
        panic!()
    };
    // The detail is kept as given, carrier included.
    assert_eq!(
        d.body_json.as_ref().and_then(|b| b.get("foo")),
        Some(&json!("bar"))
    );
    assert!(d
        .body_json
        .as_ref()
        .and_then(|b| b.get("_datadog"))
        .is_some());
}

#[test]
fn malformed_events_name_the_field() {
    let base = fixture("aws-lambda-rust-runtime/example-eventbridge-schedule.json");
    let err = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        decode(&v).unwrap_err().to_string()
    };
    assert_eq!(
        err(&|v| {
            v.as_object_mut().unwrap().remove("id");
        }),
        "eventbridge event: missing field `id`"
    );
    assert_eq!(
        err(&|v| v["detail"] = json!("{}")),
        "eventbridge event: invalid field `detail`: expected an object, found a string"
    );
    assert_eq!(
        err(&|v| v["resources"] = json!("arn:aws:events:us-east-1:1:rule/r")),
        "eventbridge event: invalid field `resources`: expected an array of strings"
    );
    assert_eq!(
        err(&|v| v["resources"] = json!(["arn:aws:events:us-east-1:1:rule/r", 2])),
        "eventbridge event: invalid field `resources.1`: expected a string, found a number"
    );
    assert_eq!(
        err(&|v| v["time"] = json!("2015-10-08 16:53")),
        "eventbridge event: invalid field `time`: \"2015-10-08 16:53\" is not an RFC 3339 time"
    );
    assert_eq!(
        err(&|v| v["detail"]["traceparent"] = json!(7)),
        "eventbridge event: invalid field `detail.traceparent`: expected a string, found a number"
    );
}

mod contexts {
    use super::*;
    use crate::propagation::{Format, Found, SpanContext, SpanId, TraceId};

    fn datadog(trace: u64, span: u64, carrier: &str) -> Found {
        Found {
            context: SpanContext {
                trace_id: TraceId::from_u64_pair(0, trace),
                span_id: SpanId::from_u64(span),
                sampled: Some(true),
                tracestate: None,
                format: Format::Datadog,
            },
            carrier: carrier.into(),
        }
    }

    #[test]
    fn detail_datadog() {
        let t = decode(&fixture("datadog-lambda-python/eventbridge-custom.json")).unwrap();
        assert_eq!(
            t.items[0].contexts,
            vec![datadog(12345, 67890, "detail._datadog.x-datadog-trace-id")]
        );
    }

    #[test]
    fn top_level_datadog_from_an_input_transformer() {
        let mut v = fixture("datadog-lambda-python/eventbridge-custom.json");
        let carrier = v["detail"]
            .as_object_mut()
            .unwrap()
            .remove("_datadog")
            .unwrap();
        v["_datadog"] = carrier;
        let t = decode(&v).unwrap();
        assert_eq!(
            t.items[0].contexts,
            vec![datadog(12345, 67890, "_datadog.x-datadog-trace-id")]
        );
    }

    #[test]
    fn traceparent_in_detail_after_datadog() {
        let mut v = fixture("datadog-lambda-python/eventbridge-custom.json");
        v["detail"]["traceparent"] =
            json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        let t = decode(&v).unwrap();
        let w3c = Found {
            context: SpanContext {
                trace_id: TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
                span_id: SpanId::from_hex("b7ad6b7169203331").unwrap(),
                sampled: Some(true),
                tracestate: None,
                format: Format::W3c,
            },
            carrier: "detail.traceparent".into(),
        };
        assert_eq!(
            t.items[0].contexts,
            vec![
                datadog(12345, 67890, "detail._datadog.x-datadog-trace-id"),
                w3c
            ]
        );
    }

    #[test]
    fn events_without_carriers_have_no_context() {
        let t = decode(&fixture("powertools-lambda-python/eventBridgeEvent.json")).unwrap();
        assert!(t.items[0].contexts.is_empty());
    }
}

#[test]
fn step_functions_context_in_detail() {
    // Datadog's ids for this payload: datadog-lambda-js event-bridge.spec.ts.
    let t = decode_event_value(&fixture("datadog-lambda-js/sfn-eventbridge.json")).unwrap();
    let item = t.items.first().unwrap();
    assert_eq!(
        item.step_functions.as_ref().map(|s| s.state_name.as_str()),
        Some("PublishToEventBridge")
    );
    let ids: Vec<(u64, u64, &str)> = item
        .contexts
        .iter()
        .map(|f| {
            (
                f.context.trace_id.low(),
                f.context.span_id.as_u64(),
                f.carrier.as_str(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        vec![(1503104665848096006, 159267866761498620, "detail._datadog")]
    );
}
