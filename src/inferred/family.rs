//! Which family of triggers (HTTP, messaging, storage, logs) describes a trigger's span
//! (its [`Shape`]: kind, name, `faas.trigger`, trigger-level and per-item attributes). The
//! structure around it (ids, parent, links, times) is the same for every family and
//! lives in [`super::assemble`].

use super::shape::Shape;
use super::{http, logs, messaging, storage};
use crate::event::{Trigger, TriggerKind};

/// The shape of the span for `trigger`, or `None` for triggers that get no inferred span.
///
/// A payload that only carries a Step Functions context gets none: the state that invoked
/// the function is described by the Step Functions spans, whose ids the execution's own
/// records can compute; a span here would duplicate it. Nor does a Lambda destination
/// record: Lambda delivered it, and the invocation it reports (joined on its request id) is
/// the span that stands for it.
pub(crate) fn shape(trigger: &Trigger) -> Option<Shape> {
    Some(match trigger.kind {
        TriggerKind::ApigatewayRest
        | TriggerKind::ApigatewayHttp
        | TriggerKind::ApigatewayWebsocket
        | TriggerKind::Alb
        | TriggerKind::FunctionUrl
        | TriggerKind::VpcLattice => http::shape(trigger),
        TriggerKind::Sqs
        | TriggerKind::Sns
        | TriggerKind::Eventbridge
        | TriggerKind::Kinesis
        | TriggerKind::Kafka
        | TriggerKind::Firehose => messaging::shape(trigger),
        TriggerKind::S3 | TriggerKind::Dynamodb => storage::shape(trigger),
        TriggerKind::CloudwatchLogs => logs::shape(trigger),
        TriggerKind::Stepfunctions | TriggerKind::LambdaDestination => return None,
    })
}
