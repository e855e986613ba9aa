//! SQS, SNS, EventBridge, Kinesis, Firehose.

use super::*;
use crate::inferred::{infer_spans, InferOptions};

fn opts_at(start: u64) -> InferOptions {
    InferOptions {
        invocation_start_unix_nano: Some(start),
        ..Default::default()
    }
}

#[test]
fn sqs_single_message_is_parented_under_its_creation_context_and_links_to_it() {
    let t = trigger(
        TriggerKind::Sqs,
        sqs_source(),
        vec![sqs_item("MessageID_1", 1520621625029, vec![xray()])],
    );
    let spans = infer_spans(&t, &opts_at(1_520_621_634_884_000_000));
    assert_eq!(
        render_spans(&spans),
        r#"span "process SQSQueue" SPAN_KIND_CONSUMER
  ids trace=5759e988bd862e3fe1be46a994272793 span=1e607e1e15635fcb parent=53995c3f42cd8ad8 flags=0x301 state=""
  time 1520621625029000000..1520621634884000000
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
  link trace=5759e988bd862e3fe1be46a994272793 span=53995c3f42cd8ad8 flags=0x301 state=""
    messaging.message.id = "MessageID_1"
    messaging.message.body.size = 12
    relink.context.format = "xray"
    relink.context.carrier = "attributes.AWSTraceHeader"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}

#[test]
fn sqs_single_message_stays_a_root_when_parenting_is_off() {
    let t = trigger(
        TriggerKind::Sqs,
        sqs_source(),
        vec![sqs_item("MessageID_1", 1520621625029, vec![xray()])],
    );
    let opts = InferOptions {
        parent_single_message: false,
        ..opts_at(1_520_621_634_884_000_000)
    };
    let spans = infer_spans(&t, &opts);
    assert_eq!(
        render_spans(&spans).lines().nth(1),
        Some("  ids trace=89811b010d1536701ef112afbf00d20a span=1e607e1e15635fcb parent=- flags=0x101 state=\"\"")
    );
    assert_eq!(spans[0].links.len(), 1);
}

#[test]
fn sqs_batch_is_one_span_with_a_link_per_message_context() {
    let mut datadog = xray();
    datadog.context.format = Format::Datadog;
    datadog.carrier = "messageAttributes._datadog".into();
    let items = vec![
        sqs_item("m1", 1520621625029, vec![w3c()]),
        // No context: linked by its message pointer alone.
        sqs_item("m2", 1520621625010, vec![]),
        // The same span in two formats is linked once.
        sqs_item("m3", 1520621625050, vec![xray(), datadog]),
    ];
    let t = trigger(TriggerKind::Sqs, sqs_source(), items);
    let spans = infer_spans(&t, &opts_at(1_520_621_634_884_000_000));
    assert_eq!(
        render_spans(&spans),
        r#"span "process SQSQueue" SPAN_KIND_CONSUMER
  ids trace=a249a0e2a4bda97f133d415c223b9d9f span=497232de551331bc parent=- flags=0x101 state=""
  time 1520621625010000000..1520621634884000000
  faas.trigger = "pubsub"
  messaging.system = "aws_sqs"
  messaging.operation.name = "process"
  messaging.operation.type = "process"
  messaging.destination.name = "SQSQueue"
  messaging.batch.message_count = 3
  cloud.resource_id = "arn:aws:sqs:us-west-2:123456789012:SQSQueue"
  relink.inferred = true
  relink.trigger.kind = "sqs"
  link trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7 flags=0x301 state="congo=t61rcWkgMzE"
    messaging.message.id = "m1"
    messaging.message.body.size = 12
    relink.context.format = "w3c"
    relink.context.carrier = "headers"
  link trace=00000000000000000000000000000000 span=0000000000000000 flags=0x0 state=""
    messaging.message.id = "m2"
    messaging.message.body.size = 12
  link trace=5759e988bd862e3fe1be46a994272793 span=53995c3f42cd8ad8 flags=0x301 state=""
    messaging.message.id = "m3"
    messaging.message.body.size = 12
    relink.context.format = "xray"
    relink.context.carrier = "attributes.AWSTraceHeader"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}

#[test]
fn links_beyond_the_limit_are_counted() {
    let items = (0..3)
        .map(|i| sqs_item(&format!("m{i}"), 1, vec![]))
        .collect();
    let t = trigger(TriggerKind::Sqs, sqs_source(), items);
    let spans = infer_spans(
        &t,
        &InferOptions {
            max_links: 2,
            ..Default::default()
        },
    );
    assert_eq!(spans[0].links.len(), 2);
    assert_eq!(spans[0].dropped_links_count, 1);
}

#[test]
fn sns_message_with_an_unsampled_datadog_context() {
    let ctx = found(
        "0000000000000000000000000000007b",
        "00000000000001c8",
        Some(false),
        Format::Datadog,
        "MessageAttributes._datadog",
    );
    let item = Item {
        id: Some("87056a47-f506-5d77-908b-303605d3b197".into()),
        time_unix_nano: Some(1_664_292_398_187_000_000),
        contexts: vec![ctx],
        pointers: vec![Pointer::Message(Message {
            service: "sns",
            id: "87056a47-f506-5d77-908b-303605d3b197".into(),
        })],
        detail: Some(Detail::Message(MessageDetail {
            body_size: Some(14),
            subject: Some("hi".into()),
            ..Default::default()
        })),
        ..Default::default()
    };
    let source = Source {
        arn: Some("arn:aws:sns:sa-east-1:601427279990:serverlessTracingTopicPy".into()),
        name: Some("serverlessTracingTopicPy".into()),
        region: Some("sa-east-1".into()),
        ..Default::default()
    };
    let spans = infer_spans(
        &trigger(TriggerKind::Sns, source, vec![item]),
        &InferOptions::default(),
    );
    assert_eq!(
        render_spans(&spans),
        r#"span "process serverlessTracingTopicPy" SPAN_KIND_CONSUMER
  ids trace=0000000000000000000000000000007b span=bb8635766704d887 parent=00000000000001c8 flags=0x300 state=""
  time 1664292398187000000..1664292398187000000
  faas.trigger = "pubsub"
  messaging.system = "aws.sns"
  messaging.operation.name = "process"
  messaging.operation.type = "process"
  messaging.destination.name = "serverlessTracingTopicPy"
  aws.sns.topic.arn = "arn:aws:sns:sa-east-1:601427279990:serverlessTracingTopicPy"
  cloud.resource_id = "arn:aws:sns:sa-east-1:601427279990:serverlessTracingTopicPy"
  messaging.message.id = "87056a47-f506-5d77-908b-303605d3b197"
  messaging.message.body.size = 14
  relink.inferred = true
  relink.trigger.kind = "sns"
  link trace=0000000000000000000000000000007b span=00000000000001c8 flags=0x300 state=""
    messaging.message.id = "87056a47-f506-5d77-908b-303605d3b197"
    messaging.message.body.size = 14
    relink.context.format = "datadog"
    relink.context.carrier = "MessageAttributes._datadog"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}

fn eventbridge(detail_type: &str, source: &str, id: &str) -> Trigger {
    let item = Item {
        id: Some(id.into()),
        event_name: Some(detail_type.into()),
        time_unix_nano: Some(1_444_323_186_000_000_000),
        detail: Some(Detail::Message(MessageDetail {
            subject: Some(source.into()),
            ..Default::default()
        })),
        pointers: vec![Pointer::Message(Message {
            service: "eventbridge",
            id: id.into(),
        })],
        ..Default::default()
    };
    let src = Source {
        arn: None,
        name: Some(source.into()),
        region: Some("us-east-1".into()),
        account: Some("123456789012".into()),
        ..Default::default()
    };
    trigger(TriggerKind::Eventbridge, src, vec![item])
}

#[test]
fn eventbridge_event_names_its_source_not_a_destination() {
    let t = eventbridge(
        "EC2 Instance State-change Notification",
        "aws.ec2",
        "7bf73129-1428-4cd3-a780-95db273d1602",
    );
    assert_eq!(
        render_spans(&infer_spans(&t, &InferOptions::default())),
        r#"span "process aws.ec2" SPAN_KIND_CONSUMER
  ids trace=7f9e8472994b57cec7910eed5214595f span=cb73ee288301ddd8 parent=- flags=0x101 state=""
  time 1444323186000000000..1444323186000000000
  faas.trigger = "pubsub"
  messaging.system = "aws.eventbridge"
  messaging.operation.name = "process"
  messaging.operation.type = "process"
  cloudevents.event_source = "aws.ec2"
  messaging.message.id = "7bf73129-1428-4cd3-a780-95db273d1602"
  cloudevents.event_type = "EC2 Instance State-change Notification"
  relink.inferred = true
  relink.trigger.kind = "eventbridge"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}

#[test]
fn scheduled_event_is_a_timer() {
    let t = eventbridge(
        "Scheduled Event",
        "aws.events",
        "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    );
    let text = render_spans(&infer_spans(&t, &InferOptions::default()));
    assert!(text.contains("  faas.trigger = \"timer\"\n"), "{text}");
    assert!(
        text.contains("  faas.time = \"2015-10-08T16:53:06.000Z\"\n"),
        "{text}"
    );
    // The same detail-type from another source is an ordinary event.
    let t = eventbridge(
        "Scheduled Event",
        "my.app",
        "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    );
    let text = render_spans(&infer_spans(&t, &InferOptions::default()));
    assert!(
        text.contains("  faas.trigger = \"pubsub\"\n") && !text.contains("faas.time"),
        "{text}"
    );
}

#[test]
fn eventbridge_batch_agreeing_on_the_type_says_so_on_the_span() {
    let mut t = eventbridge("Order Placed", "my.shop", "e1");
    let mut second = t.items[0].clone();
    second.id = Some("e2".into());
    t.items.push(second);
    let text = render_spans(&infer_spans(&t, &InferOptions::default()));
    let span_part = text.split("  link").next().unwrap_or_default();
    assert!(
        span_part.contains("  cloudevents.event_type = \"Order Placed\"\n"),
        "{text}"
    );
    assert!(
        span_part.contains("  messaging.batch.message_count = 2\n"),
        "{text}"
    );
    assert_eq!(
        text.matches("    cloudevents.event_type = \"Order Placed\"\n")
            .count(),
        2,
        "{text}"
    );
}

#[test]
fn kinesis_batch_links_each_record_with_its_shard() {
    let record = |seq: &str, ms: u64| Item {
        id: Some(format!("shardId-000000000006:{seq}")),
        time_unix_nano: Some(ms * 1_000_000),
        pointers: vec![Pointer::Message(Message {
            service: "kinesis",
            id: format!("shardId-000000000006:{seq}"),
        })],
        detail: Some(Detail::Message(MessageDetail {
            body_size: Some(29),
            partition_key: Some("1".into()),
            sequence_number: Some(seq.into()),
            ..Default::default()
        })),
        ..Default::default()
    };
    let source = Source {
        arn: Some("arn:aws:kinesis:us-east-1:123456789012:stream/simple-stream".into()),
        name: Some("simple-stream".into()),
        region: Some("us-east-1".into()),
        ..Default::default()
    };
    let t = trigger(
        TriggerKind::Kinesis,
        source,
        vec![
            record("495451152434909850", 1428537600000),
            record("495451152434909851", 1428537600001),
        ],
    );
    assert_eq!(
        render_spans(&infer_spans(&t, &opts_at(1_428_537_600_500_000_000))),
        r#"span "process simple-stream" SPAN_KIND_CONSUMER
  ids trace=1c6160810e95d849a716a74b66eed633 span=9793dd46d716b76d parent=- flags=0x101 state=""
  time 1428537600000000000..1428537600500000000
  faas.trigger = "pubsub"
  messaging.system = "aws.kinesis"
  messaging.operation.name = "process"
  messaging.operation.type = "process"
  messaging.destination.name = "simple-stream"
  messaging.batch.message_count = 2
  aws.kinesis.stream_name = "simple-stream"
  cloud.resource_id = "arn:aws:kinesis:us-east-1:123456789012:stream/simple-stream"
  relink.inferred = true
  relink.trigger.kind = "kinesis"
  link trace=00000000000000000000000000000000 span=0000000000000000 flags=0x0 state=""
    messaging.message.id = "shardId-000000000006:495451152434909850"
    messaging.message.body.size = 29
    messaging.destination.partition.id = "shardId-000000000006"
  link trace=00000000000000000000000000000000 span=0000000000000000 flags=0x0 state=""
    messaging.message.id = "shardId-000000000006:495451152434909851"
    messaging.message.body.size = 29
    messaging.destination.partition.id = "shardId-000000000006"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}

#[test]
fn firehose_records_without_pointers_get_no_links() {
    let record = |id: &str| Item {
        id: Some(id.into()),
        time_unix_nano: Some(1_507_217_624_302_000_000),
        detail: Some(Detail::Message(MessageDetail {
            body_size: Some(12),
            ..Default::default()
        })),
        ..Default::default()
    };
    let source = Source {
        arn: Some("arn:aws:firehose:us-east-1:123456789012:deliverystream/test".into()),
        name: Some("test".into()),
        ..Default::default()
    };
    let t = trigger(
        TriggerKind::Firehose,
        source,
        vec![record("r1"), record("r2")],
    );
    assert_eq!(
        render_spans(&infer_spans(&t, &InferOptions::default())),
        r#"span "process test" SPAN_KIND_CONSUMER
  ids trace=1e5725c04d48c2ea342f112a95448a23 span=4847213ca0549547 parent=- flags=0x101 state=""
  time 1507217624302000000..1507217624302000000
  faas.trigger = "pubsub"
  messaging.system = "aws.firehose"
  messaging.operation.name = "process"
  messaging.operation.type = "process"
  messaging.destination.name = "test"
  messaging.batch.message_count = 2
  cloud.resource_id = "arn:aws:firehose:us-east-1:123456789012:deliverystream/test"
  relink.inferred = true
  relink.trigger.kind = "firehose"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}
