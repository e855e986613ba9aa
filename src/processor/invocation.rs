//! Lambda invocations joined to the SDK `Invoke` call that made them, and to the consumers
//! of the destination records Lambda sends about them.
//!
//! Lambda gives an invocation the request id of the `Invoke` call that asked for it: the
//! caller's SDK records it on its client span (`aws.request_id`, as every SDK span does),
//! and the function's instrumentation records it on the invocation span
//! (`faas.invocation_id`, from the context's `aws_request_id` / `awsRequestId`; older
//! instrumentations wrote `faas.execution`). Lambda passes the call's `ClientContext`, where
//! the OpenTelemetry SDK instrumentations put the W3C context, to synchronous calls only:
//! an asynchronous call (`InvocationType: Event`) leaves this id, which its retries keep.
//!
//! Limits: an entry lives `index.ttl_seconds` (900 by default), while an asynchronous event
//! can wait in Lambda's queue for up to six hours and be retried minutes later; and the
//! index holds one consumer per key, so when several attempts arrive before the call, only
//! the last is linked from it.
//!
//! A callee that got its caller's context is the `Invoke` span's child already: planning
//! adds no link there (see `plan`). When the callee is processed first (a synchronous
//! call's usual order: the call's span ends after the callee has flushed), the index does
//! not hold the callee's parent, so one trace is taken to mean that: a callee in the
//! caller's trace under Lambda's own X-Ray segment is then not linked either.
//!
//! After an asynchronous invocation Lambda can send a record of it to an `OnSuccess` or
//! `OnFailure` destination (a function, an SQS queue, an SNS topic, an EventBridge bus),
//! without the invocation's trace context; its `requestContext.requestId` is the
//! invocation's request id (`event::lambda_destination` decodes it). After the last failed
//! attempt it can also send the event itself to the function's dead-letter queue, naming
//! the request id in a `RequestID` attribute (`event::message` reads it). The invocation span is
//! that join's producer: the record's consumer is linked to it (`aws.lambda.destination`)
//! and, with adoption on, its trace moves under it. The same limits apply: a record sent
//! after `index.ttl_seconds` (a retried event's failure record, hours later) is not joined,
//! and of several attempts' spans (the same request id) the last one indexed is the one the
//! record is linked to.

use super::claims::SpanEvidence;
use super::key::{push_claim, Claim, Rule};
use super::view::SpanView;
use crate::event::TriggerKind;
use crate::settings::Settings;

/// The invocation span's id, as the OpenTelemetry Lambda instrumentations write it (the
/// semantic conventions' name, then the deprecated one older instrumentations wrote).
pub(crate) const INVOCATION_ID: [&str; 2] = ["faas.invocation_id", "faas.execution"];

/// The `Invoke` client span's side: the request id the SDK recorded (`sdk` reads it, and
/// names the operations that start an invocation).
pub(crate) fn producer_claims(request_id: Option<&str>, config: &Settings, ev: &mut SpanEvidence) {
    if !config.direct_links.lambda_invocations {
        return;
    }
    if let Some(id) = request_id {
        push_claim(&mut ev.producer, Claim::id(Rule::LambdaInvocation, id));
    }
}

/// The invocation span's side: its id, unless something else started it. A span whose
/// event is a known trigger (`known_trigger`), whose evidence names one (a consumer claim,
/// a Datadog `u` pointer, a message context, a Step Functions state), or whose
/// `faas.trigger` is present and not `other` was invoked by a service, not by an `Invoke`
/// call, and takes no index entry for one. Nor does a span an earlier pass linked (its
/// joins were decided then, and its event attribute may be gone). SDK client spans are not
/// invocations: Node's aws-sdk instrumentation writes the id an `Invoke` call got as
/// `faas.execution`.
pub(crate) fn consumer_claims(
    span: &SpanView<'_>,
    config: &Settings,
    ev: &mut SpanEvidence,
    known_trigger: bool,
) {
    if !config.direct_links.lambda_invocations
        || known_trigger
        || ev.relinked
        || !ev.consumer.is_empty()
        || !ev.contexts.is_empty()
        || !ev.states.is_empty()
    {
        return;
    }
    let limit = config.bounds.attributes_scanned;
    let a = &span.attributes;
    if a.get_str("rpc.system", limit).is_some()
        || a.get_str("faas.trigger", limit)
            .is_some_and(|t| t != "other")
    {
        return;
    }
    if let Some(id) = a.first_str(&INVOCATION_ID, limit) {
        push_claim(&mut ev.consumer, Claim::id(Rule::LambdaInvocation, id));
    }
}

/// The invocation span's side of a destination record: its id, which the record's
/// `requestContext.requestId` repeats. Lambda sends a record only after an asynchronous
/// invocation (and a stream mapping's failed batch), so a span whose event or `faas.trigger`
/// shows a synchronous one takes no index entry for it: an HTTP request (`faas.trigger`
/// `http`, an API Gateway, ALB or function URL event), an SQS queue or Firehose (known from
/// the event only: the instrumentations write `pubsub` for SQS, as for SNS), and a Step
/// Functions state that invoked it (its Lambda task calls `Invoke` synchronously unless
/// told otherwise; a state that sent one of its messages does not count).
/// SDK client spans are not invocations (see [`consumer_claims`]).
pub(crate) fn destination_claims(
    span: &SpanView<'_>,
    config: &Settings,
    ev: &mut SpanEvidence,
    trigger: Option<TriggerKind>,
) {
    if !config.direct_links.lambda_destinations
        || trigger.is_some_and(is_synchronous)
        || ev.states.iter().any(|s| s.message_id.is_none())
    {
        return;
    }
    let limit = config.bounds.attributes_scanned;
    let a = &span.attributes;
    if a.get_str("rpc.system", limit).is_some() || a.get_str("faas.trigger", limit) == Some("http")
    {
        return;
    }
    if let Some(id) = a.first_str(&INVOCATION_ID, limit) {
        let mut claim = Claim::id(Rule::LambdaDestination, id);
        // Only a record's consumer keeps the id: stamp mode routes it by that.
        claim.message_id = None;
        push_claim(&mut ev.producer, claim);
    }
}

/// Whether Lambda invokes a function synchronously for this trigger, so no destination
/// record can follow.
fn is_synchronous(kind: TriggerKind) -> bool {
    matches!(
        kind,
        TriggerKind::ApigatewayRest
            | TriggerKind::ApigatewayHttp
            | TriggerKind::ApigatewayWebsocket
            | TriggerKind::Alb
            | TriggerKind::FunctionUrl
            | TriggerKind::VpcLattice
            | TriggerKind::Sqs
            | TriggerKind::Firehose
            | TriggerKind::Stepfunctions
    )
}
