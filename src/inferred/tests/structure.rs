//! What every family shares: nested payloads, the export request and its resources,
//! times, idempotence, triggers that get no span.

use super::storage::{s3_item, s3_source};
use super::*;
use crate::event::StepFunctionsContext;
use crate::inferred::{infer_request, infer_spans, InferOptions};
use prost::Message as _;

/// An SQS record whose body is an S3 notification (powertools' s3SqsEvent.json shape).
fn s3_in_sqs(id: &str, sent_ms: u64, contexts: Vec<Found>) -> Item {
    let mut item = sqs_item(id, sent_ms, contexts);
    item.payload = Some(Box::new(trigger(
        TriggerKind::S3,
        s3_source(),
        vec![s3_item()],
    )));
    item
}

#[test]
fn nested_s3_span_sits_between_the_upstream_context_and_the_queue() {
    let t = trigger(
        TriggerKind::Sqs,
        sqs_source(),
        vec![s3_in_sqs("MessageID_1", 1000, vec![xray()])],
    );
    let opts = InferOptions {
        invocation_start_unix_nano: Some(1_500_000_000),
        ..Default::default()
    };
    assert_eq!(
        render_request(&infer_request(&t, &opts)),
        r#"resource schema=https://opentelemetry.io/schemas/1.44.0
  service.name = "SQSQueue"
  cloud.provider = "aws"
  cloud.region = "us-west-2"
  cloud.account.id = "123456789012"
  dropped_attributes=0 entity_refs=0
  scope relink 0.1.0 schema=https://opentelemetry.io/schemas/1.44.0
    span "process SQSQueue" SPAN_KIND_CONSUMER
      ids trace=5759e988bd862e3fe1be46a994272793 span=9c758943466cdc77 parent=edeb8c932e3ca8eb flags=0x101 state=""
      time 1000000000..1500000000
      faas.trigger = "pubsub"
      messaging.system = "aws_sqs"
      messaging.operation.name = "process"
      messaging.operation.type = "process"
      messaging.destination.name = "SQSQueue"
      cloud.resource_id = "arn:aws:sqs:us-west-2:123456789012:SQSQueue"
      messaging.message.id = "MessageID_1"
      messaging.message.body.size = 12
      relink.inferred = true
      relink.trigger.kind = "sqs"
      link trace=5759e988bd862e3fe1be46a994272793 span=edeb8c932e3ca8eb flags=0x101 state=""
        messaging.message.id = "MessageID_1"
        messaging.message.body.size = 12
        relink.context.carrier = "payload"
      dropped attributes=0 events=0 links=0 events=0 status=unset
resource schema=https://opentelemetry.io/schemas/1.44.0
  service.name = "sourcebucket"
  cloud.provider = "aws"
  cloud.region = "us-east-1"
  dropped_attributes=0 entity_refs=0
  scope relink 0.1.0 schema=https://opentelemetry.io/schemas/1.44.0
    span "ObjectCreated:Put sourcebucket" SPAN_KIND_CONSUMER
      ids trace=5759e988bd862e3fe1be46a994272793 span=edeb8c932e3ca8eb parent=53995c3f42cd8ad8 flags=0x301 state=""
      time 123000000..1000000000
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
      link trace=5759e988bd862e3fe1be46a994272793 span=53995c3f42cd8ad8 flags=0x301 state=""
        aws.s3.key = "Happy Face.jpg"
        aws.request_id = "C3D13FE58DE4C810"
        aws.extended_request_id = "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
        relink.pointer.kind = "aws.s3.object"
        relink.pointer.hash = ["7c0bf58aea7f62b7af0f6ba91fd850ca"]
        relink.context.format = "xray"
        relink.context.carrier = "attributes.AWSTraceHeader"
      dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
    // The queue span's parent and link are the S3 span.
    let spans = infer_spans(&t, &opts);
    assert_eq!(spans[0].parent_span_id, spans[1].span_id);
    assert_eq!(spans[0].links[0].span_id, spans[1].span_id);
}

#[test]
fn nested_payloads_in_a_batch_are_linked_roots() {
    let items = vec![s3_in_sqs("m1", 1000, vec![]), s3_in_sqs("m2", 2000, vec![])];
    let t = trigger(TriggerKind::Sqs, sqs_source(), items);
    let spans = infer_spans(&t, &InferOptions::default());
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "process SQSQueue",
            "ObjectCreated:Put sourcebucket",
            "ObjectCreated:Put sourcebucket"
        ]
    );
    // The same S3 record twice is the same span (same event, same ids), ending when each
    // message was sent.
    assert_eq!(spans[1].span_id, spans[2].span_id);
    assert_eq!(
        (spans[1].end_time_unix_nano, spans[2].end_time_unix_nano),
        (1_000_000_000, 2_000_000_000)
    );
    assert!(spans.iter().all(|s| s.parent_span_id.is_empty()));
    assert_eq!(spans[0].links.len(), 2);
    assert!(spans[0]
        .links
        .iter()
        .all(|l| l.span_id == spans[1].span_id && l.trace_id == spans[1].trace_id));
}

#[test]
fn an_inner_context_wins_and_the_outer_one_is_linked() {
    // SNS in SQS: the SNS message carries its own context; the SQS record's
    // AWSTraceHeader is the inner span's second context.
    let inner_item = Item {
        id: Some("sns-1".into()),
        time_unix_nano: Some(500_000_000),
        contexts: vec![w3c()],
        ..Default::default()
    };
    let sns = trigger(
        TriggerKind::Sns,
        Source {
            name: Some("topic".into()),
            ..Default::default()
        },
        vec![inner_item],
    );
    let mut outer = sqs_item("m1", 1000, vec![xray()]);
    outer.payload = Some(Box::new(sns));
    let spans = infer_spans(
        &trigger(TriggerKind::Sqs, sqs_source(), vec![outer]),
        &InferOptions::default(),
    );
    let text = render_spans(&spans[1..]);
    assert!(
        text.contains("  ids trace=4bf92f3577b34da6a3ce929d0e0e4736 span="),
        "{text}"
    );
    assert!(
        text.contains(" parent=00f067aa0ba902b7 flags=0x301 state=\"congo=t61rcWkgMzE\"\n"),
        "{text}"
    );
    let links: Vec<String> = spans[1]
        .links
        .iter()
        .map(|l| hex::encode(&l.span_id))
        .collect();
    assert_eq!(links, ["00f067aa0ba902b7", "53995c3f42cd8ad8"]);
    // The queue span inherits the inner trace and its trace state.
    assert_eq!(spans[0].trace_id, spans[1].trace_id);
    assert_eq!(spans[0].trace_state, "congo=t61rcWkgMzE");
}

#[test]
fn nesting_is_bounded() {
    let mut t = trigger(
        TriggerKind::Sns,
        Source::default(),
        vec![Item {
            id: Some("0".into()),
            ..Default::default()
        }],
    );
    for i in 1..8 {
        let item = Item {
            id: Some(i.to_string()),
            payload: Some(Box::new(t)),
            ..Default::default()
        };
        t = trigger(TriggerKind::Sqs, Source::default(), vec![item]);
    }
    assert_eq!(infer_spans(&t, &InferOptions::default()).len(), 5);
}

#[test]
fn one_service_name_puts_every_span_in_one_resource() {
    let t = trigger(
        TriggerKind::Sqs,
        sqs_source(),
        vec![s3_in_sqs("m1", 1000, vec![])],
    );
    let opts = InferOptions {
        service_name: Some("orders".into()),
        ..Default::default()
    };
    let req = infer_request(&t, &opts);
    assert_eq!(
        req.resource_spans.len(),
        2,
        "region and account still differ"
    );
    let mut s3 = s3_source();
    s3.region = Some("us-west-2".into());
    s3.account = Some("123456789012".into());
    let mut item = sqs_item("m1", 1000, vec![]);
    item.payload = Some(Box::new(trigger(TriggerKind::S3, s3, vec![s3_item()])));
    let req = infer_request(&trigger(TriggerKind::Sqs, sqs_source(), vec![item]), &opts);
    assert_eq!(req.resource_spans.len(), 1);
    assert_eq!(req.resource_spans[0].scope_spans[0].spans.len(), 2);
    assert!(render_request(&req).starts_with(
        "resource schema=https://opentelemetry.io/schemas/1.44.0\n  service.name = \"orders\"\n"
    ));
}

#[test]
fn service_name_falls_back_to_the_kind_and_region_to_the_arn() {
    let source = Source {
        arn: Some("arn:aws:kinesis:eu-west-1:210987654321:stream/s".into()),
        ..Default::default()
    };
    let t = trigger(
        TriggerKind::Kinesis,
        source,
        vec![Item {
            id: Some("x".into()),
            ..Default::default()
        }],
    );
    let text = render_request(&infer_request(&t, &InferOptions::default()));
    assert!(text.contains(
        "  service.name = \"aws.kinesis\"\n  cloud.provider = \"aws\"\n  cloud.region = \"eu-west-1\"\n  cloud.account.id = \"210987654321\"\n"
    ), "{text}");
}

#[test]
fn step_functions_context_alone_gets_no_span() {
    let ctx = StepFunctionsContext {
        execution_id: "arn:aws:states:us-east-1:123456789012:execution:sm:e1".into(),
        state_name: "Invoke".into(),
        state_entered_time: "2024-07-30T19:55:53.018Z".into(),
        ..Default::default()
    };
    let mut t = trigger(TriggerKind::Stepfunctions, Source::default(), vec![]);
    t.step_functions = Some(ctx);
    assert!(infer_spans(&t, &InferOptions::default()).is_empty());
    assert!(infer_request(&t, &InferOptions::default())
        .resource_spans
        .is_empty());
}

#[test]
fn times_without_event_timestamps() {
    let mut item = sqs_item("m1", 0, vec![]);
    item.time_unix_nano = None;
    let t = trigger(TriggerKind::Sqs, sqs_source(), vec![item]);
    let span = |opts: InferOptions| {
        let s = &infer_spans(&t, &opts)[0];
        (s.start_time_unix_nano, s.end_time_unix_nano)
    };
    assert_eq!(span(InferOptions::default()), (0, 0));
    assert_eq!(
        span(InferOptions {
            invocation_start_unix_nano: Some(7),
            ..Default::default()
        }),
        (7, 7)
    );
}

#[test]
fn a_span_never_ends_before_it_starts() {
    let t = trigger(
        TriggerKind::Sqs,
        sqs_source(),
        vec![sqs_item("m1", 1000, vec![])],
    );
    let opts = InferOptions {
        invocation_start_unix_nano: Some(5),
        ..Default::default()
    };
    let s = &infer_spans(&t, &opts)[0];
    assert_eq!(
        (s.start_time_unix_nano, s.end_time_unix_nano),
        (1_000_000_000, 1_000_000_000)
    );
}

#[test]
fn the_same_event_gives_the_same_bytes() {
    let t = trigger(
        TriggerKind::Sqs,
        sqs_source(),
        vec![
            s3_in_sqs("m1", 1000, vec![xray()]),
            sqs_item("m2", 900, vec![]),
        ],
    );
    let opts = InferOptions {
        invocation_start_unix_nano: Some(1_500_000_000),
        ..Default::default()
    };
    let first = infer_request(&t, &opts).encode_to_vec();
    assert_eq!(first, infer_request(&t.clone(), &opts).encode_to_vec());
    let decoded =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
            first.as_slice(),
        );
    assert_eq!(decoded.ok(), Some(infer_request(&t, &opts)));
}
