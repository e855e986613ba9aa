//! Spans for CloudWatch Logs subscription deliveries.
//!
//! A subscription pushes a batch of log events written to a log group, so the span is a
//! CONSUMER named `process {log group}` like a stream's, with `faas.trigger=datasource`
//! (the function reacts to writes to a data store: the log group is the collection and
//! the operation is always `insert`) and the AWS log group and stream attributes.

use super::attrs::{distinct, join_name, uniform, Attrs};
use super::shape::Shape;
use crate::event::{Detail, Item, LogEvent, Trigger};
use crate::time::format_rfc3339_millis;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

pub(crate) fn shape(trigger: &Trigger) -> Shape {
    let items = &trigger.items;
    let group = trigger
        .source
        .name
        .as_deref()
        .or_else(|| uniform(items, |i| log_event(i).map(|l| l.log_group.as_str())));
    let streams = distinct(
        items
            .iter()
            .filter_map(log_event)
            .map(|l| l.log_stream.as_str()),
    );

    let mut a = Attrs::new();
    if let Some(g) = group {
        a.strs("aws.log.group.names", &[g.to_string()]);
    }
    a.strs("aws.log.stream.names", &streams)
        .opt_str("faas.document.collection", group)
        .str("faas.document.operation", "insert");
    if let Some(item) = items.first().filter(|_| items.len() == 1) {
        let time = item.time_unix_nano.map(format_rfc3339_millis);
        a.opt_str("faas.document.time", time.as_deref());
    }
    Shape {
        kind: SpanKind::Consumer,
        name: join_name(&[Some("process"), group]),
        faas_trigger: "datasource",
        attrs: a,
        http: false,
        item_attrs,
    }
}

/// The log event id (CloudWatch Logs has no attribute of its own for it).
fn item_attrs(_trigger: &Trigger, item: &Item) -> Attrs {
    let mut a = Attrs::new();
    a.opt_str("relink.log.event_id", item.id.as_deref());
    a
}

fn log_event(item: &Item) -> Option<&LogEvent> {
    match &item.detail {
        Some(Detail::Log(l)) => Some(l),
        _ => None,
    }
}
