//! What a family of triggers (HTTP, messaging, storage, logs) decides about its span:
//! kind, name, `faas.trigger`, trigger-level attributes and per-item attributes. The
//! structure around it (ids, parent, links, times) is the same for every family and
//! lives in [`super::assemble`].

use super::attrs::Attrs;
use super::{http, logs, messaging, storage};
use crate::event::{Item, Trigger, TriggerKind};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// A family's description of the span for one trigger.
pub(crate) struct Shape {
    pub(crate) kind: SpanKind,
    pub(crate) name: String,
    /// `faas.trigger`: `http`, `pubsub`, `datasource` or `timer`.
    pub(crate) faas_trigger: &'static str,
    /// Attributes describing the whole trigger; written right after `faas.trigger`.
    pub(crate) attrs: Attrs,
    /// HTTP requests take their header context as parent whatever
    /// `parent_single_message` says, and do not link to it again.
    pub(crate) http: bool,
    /// Attributes of one item: on its links, and on the span when it is the only item.
    pub(crate) item_attrs: fn(&Trigger, &Item) -> Attrs,
}

/// The shape of the span for `trigger`, or `None` for triggers that get no inferred span.
///
/// A payload that only carries a Step Functions context gets none: the state that invoked
/// the function is described by the Step Functions spans, whose ids the execution's own
/// records can compute; a span here would duplicate it.
pub(crate) fn shape(trigger: &Trigger) -> Option<Shape> {
    Some(match trigger.kind {
        TriggerKind::ApigatewayRest
        | TriggerKind::ApigatewayHttp
        | TriggerKind::ApigatewayWebsocket
        | TriggerKind::Alb
        | TriggerKind::FunctionUrl => http::shape(trigger),
        TriggerKind::Sqs
        | TriggerKind::Sns
        | TriggerKind::Eventbridge
        | TriggerKind::Kinesis
        | TriggerKind::Firehose => messaging::shape(trigger),
        TriggerKind::S3 | TriggerKind::Dynamodb => storage::shape(trigger),
        TriggerKind::CloudwatchLogs => logs::shape(trigger),
        TriggerKind::Stepfunctions => return None,
    })
}
