//! Spans for queues, topics, buses and streams: SQS, SNS, EventBridge, Kinesis, Kafka,
//! Firehose.
//!
//! One `process` span per invocation (the Lambda event is one batch), kind CONSUMER,
//! named `process {destination}`, as the messaging conventions' process span and the
//! AWS Lambda SQS example (`process Q`) give it. Per-message attributes go on each
//! item's link, and also on the span when the batch holds one message.

use super::attrs::{join_name, uniform, Attrs};
use super::shape::Shape;
use crate::event::{Detail, Item, Trigger, TriggerKind};
use crate::time::format_rfc3339_millis;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// `messaging.system`: the registry's `aws_sqs`, `aws.sns` and `kafka`; the registry has no
/// value for the others, so they follow the newer `aws.sns` form.
fn system(kind: TriggerKind) -> &'static str {
    match kind {
        TriggerKind::Sqs => "aws_sqs",
        TriggerKind::Sns => "aws.sns",
        TriggerKind::Eventbridge => "aws.eventbridge",
        TriggerKind::Kinesis => "aws.kinesis",
        TriggerKind::Kafka => "kafka",
        TriggerKind::Firehose => "aws.firehose",
        _ => "aws",
    }
}

/// The `detail-type` and `source` of the events a scheduled rule emits.
const SCHEDULED_EVENT: &str = "Scheduled Event";
const SCHEDULER_SOURCE: &str = "aws.events";

pub(crate) fn shape(trigger: &Trigger) -> Shape {
    let items = &trigger.items;
    let single = items.len() == 1;
    let is_bus = trigger.kind == TriggerKind::Eventbridge;
    // EventBridge events do not name their bus; the event `source` (the producer's
    // namespace, low-cardinality) stands in for `{destination}` in the span name only.
    let event_source = if is_bus {
        uniform(items, |i| match &i.detail {
            Some(Detail::Message(m)) => m.subject.as_deref(),
            _ => None,
        })
        .or(trigger.source.name.as_deref())
    } else {
        None
    };
    let destination = if is_bus {
        None
    } else {
        trigger.source.name.as_deref()
    };
    let event_type = uniform(items, |i| i.event_name.as_deref());
    let timer =
        is_bus && event_type == Some(SCHEDULED_EVENT) && event_source == Some(SCHEDULER_SOURCE);

    let mut a = Attrs::new();
    a.str("messaging.system", system(trigger.kind))
        .str("messaging.operation.name", "process")
        .str("messaging.operation.type", "process")
        .opt_str("messaging.destination.name", destination);
    if items.len() > 1 {
        a.int("messaging.batch.message_count", items.len() as u64);
    }
    match trigger.kind {
        TriggerKind::Sns => {
            a.opt_str("aws.sns.topic.arn", trigger.source.arn.as_deref());
        }
        TriggerKind::Kinesis => {
            a.opt_str("aws.kinesis.stream_name", trigger.source.name.as_deref());
        }
        TriggerKind::Eventbridge => {
            a.opt_str("cloudevents.event_source", event_source);
            if !single {
                a.opt_str("cloudevents.event_type", event_type);
            }
        }
        _ => {}
    }
    if timer && single {
        let time = items
            .first()
            .and_then(|i| i.time_unix_nano)
            .map(format_rfc3339_millis);
        a.opt_str("faas.time", time.as_deref());
    }
    Shape {
        kind: SpanKind::Consumer,
        name: join_name(&[Some("process"), destination.or(event_source)]),
        faas_trigger: if timer { "timer" } else { "pubsub" },
        attrs: a,
        http: false,
        item_attrs,
    }
}

fn item_attrs(trigger: &Trigger, item: &Item) -> Attrs {
    let mut a = Attrs::new();
    a.opt_str("messaging.message.id", item.id.as_deref());
    if let Some(Detail::Message(m)) = &item.detail {
        a.opt_int("messaging.message.body.size", m.body_size);
    }
    match trigger.kind {
        TriggerKind::Kinesis => {
            // Kinesis event ids are `shardId-000000000006:{sequence number}`.
            let shard = item
                .id
                .as_deref()
                .and_then(|id| id.split_once(':'))
                .map(|(s, _)| s);
            a.opt_str(
                "messaging.destination.partition.id",
                shard.filter(|s| s.starts_with("shardId-")),
            );
        }
        TriggerKind::Eventbridge => {
            a.opt_str("cloudevents.event_type", item.event_name.as_deref());
        }
        TriggerKind::Kafka => {
            if let Some(Detail::Message(m)) = &item.detail {
                let partition = m.partition.map(|p| p.to_string());
                a.opt_str("messaging.destination.partition.id", partition.as_deref())
                    .opt_int("messaging.kafka.offset", m.offset);
            }
        }
        _ => {}
    }
    a
}
