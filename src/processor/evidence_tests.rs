use super::*;
use crate::config::Config;
use crate::event::{Item, Source, StepFunctionsContext, TriggerKind};
use crate::pointer::{DynamodbItem, KeyValue, Message, Pointer, S3Object};
use crate::processor::attrs::kv;
use crate::propagation::Found;
use crate::propagation::{Format, SpanContext, SpanId, TraceId};
use opentelemetry_proto::tonic::trace::v1::span::Link;

fn trigger(kind: TriggerKind, items: Vec<Item>) -> Trigger {
    Trigger {
        kind,
        via: None,
        source: Source::default(),
        items,
        step_functions: None,
    }
}

fn found(b: u8) -> Found {
    Found {
        context: SpanContext {
            trace_id: TraceId([b; 16]),
            span_id: SpanId([b; 8]),
            sampled: None,
            tracestate: None,
            format: Format::W3c,
        },
        carrier: "messageAttributes.traceparent".into(),
    }
}

fn rules(claims: &[Claim]) -> Vec<(Rule, Option<&str>)> {
    claims
        .iter()
        .map(|c| (c.rule, c.message_id.as_deref()))
        .collect()
}

#[test]
fn every_record_and_nested_event_is_claimed() {
    let s3 = S3Object {
        bucket: "some-bucket".into(),
        key: "some-key.data".into(),
        etag: Some("ab12ef34".into()),
        request_id: Some("REQ".into()),
        ..Default::default()
    };
    // SNS -> SQS: the SQS record carries the SNS notification, which carries S3.
    let sns = trigger(
        TriggerKind::Sns,
        vec![Item {
            id: Some("sns-1".into()),
            contexts: vec![found(2)],
            payload: Some(Box::new(trigger(
                TriggerKind::S3,
                vec![Item {
                    pointers: vec![Pointer::S3Object(s3)],
                    ..Default::default()
                }],
            ))),
            ..Default::default()
        }],
    );
    let t = trigger(
        TriggerKind::Sqs,
        vec![
            Item {
                id: Some("sqs-1".into()),
                contexts: vec![found(1)],
                payload: Some(Box::new(sns)),
                ..Default::default()
            },
            Item {
                id: Some("sqs-2".into()),
                pointers: vec![Pointer::Message(Message {
                    service: "sqs",
                    id: "sqs-2".into(),
                })],
                ..Default::default()
            },
        ],
    );
    let mut ev = SpanEvidence::default();
    of_trigger(&t, &Settings::default(), &mut ev);
    assert_eq!(
        rules(&ev.consumer),
        vec![
            (Rule::SqsMessage, Some("sqs-1")),
            (Rule::SnsMessage, Some("sns-1")),
            (Rule::S3Object, None),
            (Rule::S3Request, None),
            (Rule::SqsMessage, Some("sqs-2")),
        ]
    );
    assert_eq!(ev.messages, 2, "records of the outer batch");
    let contexts: Vec<(u8, Option<&str>)> = ev
        .contexts
        .iter()
        .map(|c| (c.found.context.trace_id.0[0], c.message_id.as_deref()))
        .collect();
    assert_eq!(contexts, vec![(1, Some("sqs-1")), (2, Some("sns-1"))]);
}

#[test]
fn dynamodb_records_and_step_functions_executions() {
    let item = |v: &str| {
        Pointer::DynamodbItem(DynamodbItem {
            table: "some-table".into(),
            keys: vec![("some-key".into(), KeyValue::S(v.into()))],
            ..Default::default()
        })
    };
    let mut t = trigger(
        TriggerKind::Dynamodb,
        vec![
            Item {
                pointers: vec![item("some-value")],
                ..Default::default()
            },
            Item {
                pointers: vec![item("other")],
                ..Default::default()
            },
        ],
    );
    let ctx = StepFunctionsContext {
        execution_id: "arn:aws:states:us-east-1:1:execution:m:e".into(),
        state_name: "S".into(),
        state_entered_time: "2024-07-30T19:55:53.018Z".into(),
        ..Default::default()
    };
    t.step_functions = Some(ctx.clone());
    let mut ev = SpanEvidence::default();
    of_trigger(&t, &Settings::default(), &mut ev);
    let hashes: Vec<String> = ev.consumer.iter().map(|c| c.key.to_hex()).collect();
    assert_eq!(
        hashes.first().map(String::as_str),
        Some("7f1aee721472bcb48701d45c7c7f7821")
    );
    assert_eq!(
        rules(&ev.consumer),
        vec![(Rule::DynamodbItem, None), (Rule::DynamodbItem, None)]
    );
    assert_eq!(
        ev.states,
        vec![StateClaim::of(&ctx)],
        "the state that invoked it"
    );
    assert_eq!(ev.messages, 0, "stream records are not messages");

    // Without Step Functions support the execution ARN is claimed instead.
    let mut disabled = Config::default();
    disabled.stepfunctions.enabled = false;
    let mut ev = SpanEvidence::default();
    of_trigger(&t, &Settings::new(&disabled).unwrap(), &mut ev);
    assert_eq!(ev.states, vec![]);
    assert_eq!(
        ev.consumer.get(2).map(|c| c.rule),
        Some(Rule::StepfunctionsExecution)
    );
}

#[test]
fn config_switches_turn_claims_off() {
    let t = trigger(
        TriggerKind::Sqs,
        vec![Item {
            id: Some("m".into()),
            contexts: vec![found(1)],
            ..Default::default()
        }],
    );
    let mut c = Config::default();
    c.direct_links.message_ids = false;
    c.messaging.enabled = false;
    let mut ev = SpanEvidence::default();
    of_trigger(&t, &Settings::new(&c).unwrap(), &mut ev);
    assert!(ev.consumer.is_empty() && ev.contexts.is_empty());
    assert_eq!(ev.messages, 1);
}

#[test]
fn event_attribute_problems_are_classified() {
    let config = Config {
        limits: crate::config::Limits {
            max_event_bytes: 20,
            ..Default::default()
        },
        ..Default::default()
    };
    let cases = [
        ("not json", Problem::EventJson),
        (r#"{"hello": "world"}"#, Problem::EventUnknown),
        (
            r#"{"hello": "world, a longer one"}"#,
            Problem::EventTooLarge,
        ),
    ];
    for (event, want) in cases {
        let span = Span {
            attributes: vec![kv("relink.event", event)],
            ..Default::default()
        };
        let ev = of_span(&span, &Settings::new(&config).unwrap());
        assert!(ev.has_event);
        assert_eq!(ev.problems, vec![want], "{event}");
    }
    let plain = Span {
        attributes: vec![kv("other", "x")],
        ..Default::default()
    };
    assert!(of_span(&plain, &Settings::new(&config).unwrap()).is_empty());
}

#[test]
fn datadog_pointer_links_by_direction() {
    let link = |dir: &str, kind: &str, hash: &str| Link {
        attributes: vec![
            kv("ptr.kind", kind),
            kv("ptr.dir", dir),
            kv("ptr.hash", hash),
            kv("link.kind", "span-pointer"),
        ],
        ..Default::default()
    };
    let h = "7f1aee721472bcb48701d45c7c7f7821";
    let span = Span {
        links: vec![
            link("d", "aws.dynamodb.item", h),
            link("u", "aws.s3.object", h),
            link("x", "aws.s3.object", h),
            link("u", "aws.unknown", h),
            link("u", "aws.s3.object", "short"),
        ],
        ..Default::default()
    };
    let ev = of_span(&span, &Settings::default());
    assert_eq!(rules(&ev.producer), vec![(Rule::DynamodbItem, None)]);
    assert_eq!(rules(&ev.consumer), vec![(Rule::S3Object, None)]);
}

/// dd-trace-go puts a `d` pointer on every S3 response with an ETag, reads included: a `d`
/// link is a write only on an operation that writes (`rpc.method`, else `aws.operation`,
/// in any case or with a service prefix), or on a span that names no operation.
#[test]
fn datadog_write_pointers_only_on_writes() {
    let h = "e721375466d4116ab551213fdea08413";
    let pointer = Link {
        attributes: vec![
            kv("ptr.kind", "aws.s3.object"),
            kv("ptr.dir", "d"),
            kv("ptr.hash", h),
            kv("link.kind", "span-pointer"),
        ],
        ..Default::default()
    };
    let cases = [
        (vec![kv("aws.operation", "GetObject")], false),
        (vec![kv("aws.operation", "HeadObject")], false),
        (vec![kv("rpc.method", "UploadPart")], false),
        (
            vec![
                kv("rpc.method", "GetObject"),
                kv("aws.operation", "PutObject"),
            ],
            false,
        ),
        (vec![kv("aws.operation", "PutObject")], true),
        (vec![kv("aws.operation", "putObject")], true),
        (vec![kv("aws.operation", "S3.CopyObject")], true),
        (vec![kv("aws.operation", "PutObjectRequest")], true),
        (vec![kv("aws.operation", "GetObjectRequest")], false),
        (vec![kv("rpc.method", "CompleteMultipartUpload")], true),
        (vec![kv("aws.operation", "UpdateItem")], false),
        (vec![], true),
    ];
    for (attributes, write) in cases {
        let span = Span {
            attributes: attributes.clone(),
            links: vec![pointer.clone()],
            ..Default::default()
        };
        let ev = of_span(&span, &Settings::default());
        let want = if write {
            vec![(Rule::S3Object, None)]
        } else {
            vec![]
        };
        assert_eq!(rules(&ev.producer), want, "{attributes:?}");
    }
}

type Claims = Vec<(Rule, Key)>;

/// The producer and consumer claims of a span with these attributes.
fn claims_of(
    attributes: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>,
    settings: &Settings,
) -> (Claims, Claims) {
    let ev = of_span(
        &Span {
            attributes,
            ..Default::default()
        },
        settings,
    );
    let keys = |claims: &[Claim]| claims.iter().map(|c| (c.rule, c.key)).collect();
    (keys(&ev.producer), keys(&ev.consumer))
}

#[test]
fn an_invocation_span_claims_its_invoke_request_id_unless_a_service_invoked_it() {
    let on = Settings::new(&Config::default()).unwrap();
    let claims = |attributes, settings: &Settings| claims_of(attributes, settings).1;
    let key = Key::of_id(Rule::LambdaInvocation, "c2a6f2ae");
    // The semantic conventions' name, and the one instrumentations wrote before.
    for name in ["faas.invocation_id", "faas.execution"] {
        assert_eq!(
            claims(vec![kv(name, "c2a6f2ae")], &on),
            vec![(Rule::LambdaInvocation, key)]
        );
    }
    // A custom payload (no known trigger) and `faas.trigger=other` are what Invoke gives.
    let custom = vec![
        kv("faas.invocation_id", "c2a6f2ae"),
        kv("faas.trigger", "other"),
        kv("relink.event", r#"{"report":"daily"}"#),
    ];
    assert_eq!(claims(custom, &on), vec![(Rule::LambdaInvocation, key)]);
    // A service invoked it: a known trigger event, or a `faas.trigger` that says so.
    let sqs = r#"{"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":"x","attributes":{},"messageAttributes":{},"eventSourceARN":"arn:aws:sqs:us-east-1:1:q"}]}"#;
    let by_sqs = vec![
        kv("faas.invocation_id", "c2a6f2ae"),
        kv("relink.event", sqs),
    ];
    assert_eq!(
        claims(by_sqs, &on),
        vec![(Rule::SqsMessage, Key::of_id(Rule::SqsMessage, "m1"))]
    );
    let by_http = vec![
        kv("faas.invocation_id", "c2a6f2ae"),
        kv("faas.trigger", "http"),
    ];
    assert_eq!(claims(by_http, &on), vec![]);
    // Node's aws-sdk instrumentation writes the id an Invoke call got on the call's span.
    let call = vec![
        kv("rpc.system", "aws-api"),
        kv("rpc.service", "Lambda"),
        kv("rpc.method", "Invoke"),
        kv("faas.execution", "c2a6f2ae"),
    ];
    assert_eq!(claims(call, &on), vec![]);
    // Output processed again: an earlier pass linked the span (its event may be gone).
    let relinked = Span {
        attributes: vec![kv("faas.invocation_id", "c2a6f2ae")],
        links: vec![Link {
            attributes: vec![kv("relink.rule", "aws.sqs.message")],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert!(of_span(&relinked, &on).consumer.is_empty());
    let mut c = Config::default();
    c.direct_links.lambda_invocations = false;
    let off = Settings::new(&c).unwrap();
    assert_eq!(
        claims(vec![kv("faas.invocation_id", "c2a6f2ae")], &off),
        vec![]
    );
}

#[test]
fn an_invocation_lambda_may_have_invoked_asynchronously_claims_its_destination_record() {
    let claims = |attributes, settings: &Settings| claims_of(attributes, settings).0;
    let on = Settings::default();
    let destination = (
        Rule::LambdaDestination,
        Key::of_id(Rule::LambdaDestination, "R1"),
    );
    let id = || kv("faas.invocation_id", "R1");
    // S3 and SNS invoke asynchronously, as does an `Invoke` with no known event; `pubsub`
    // alone may be SNS (SQS, which is synchronous, is told apart by its event only).
    let s3 = r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#;
    // A message a Step Functions state sent (SNS, with the context object in `_datadog`):
    // SNS invoked the function, not the state.
    let from_state =
        crate::event::test_fixtures::load("datadog-lambda-js/sfn-sns.json").to_string();
    for attributes in [
        vec![id()],
        vec![
            id(),
            kv("faas.trigger", "datasource"),
            kv("relink.event", s3),
        ],
        vec![kv("faas.execution", "R1"), kv("faas.trigger", "pubsub")],
        vec![id(), kv("relink.event", &from_state)],
    ] {
        assert_eq!(claims(attributes, &on), vec![destination]);
    }
    // HTTP requests, SQS queues, Step Functions states and SDK calls: no record follows.
    let sqs = r#"{"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":"x","attributes":{},"messageAttributes":{},"eventSourceARN":"arn:aws:sqs:us-east-1:1:q"}]}"#;
    let apigw = r#"{"resource":"/","path":"/","httpMethod":"GET","requestContext":{"httpMethod":"GET","requestId":"r","stage":"p","apiId":"a"}}"#;
    let state = r#"{"Execution":{"Id":"arn:aws:states:us-east-1:1:execution:m:e","StartTime":"2024-07-30T19:55:52.976Z"},"State":{"Name":"S","EnteredTime":"2024-07-30T19:55:53.018Z","RetryCount":0},"StateMachine":{"Id":"arn:aws:states:us-east-1:1:stateMachine:m","Name":"m"}}"#;
    let state_in_payload = format!(r#"{{"order":1,"Payload":{state}}}"#);
    for attributes in [
        vec![id(), kv("faas.trigger", "http")],
        vec![id(), kv("relink.event", sqs)],
        vec![id(), kv("relink.event", apigw)],
        vec![id(), kv("relink.event", state)],
        vec![id(), kv("relink.event", &state_in_payload)],
        vec![id(), kv("rpc.system", "aws-api")],
    ] {
        assert_eq!(claims(attributes.clone(), &on), vec![], "{attributes:?}");
    }
    let mut c = Config::default();
    c.direct_links.lambda_destinations = false;
    assert_eq!(claims(vec![id()], &Settings::new(&c).unwrap()), vec![]);
}
