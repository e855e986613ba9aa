//! Step Functions joins: where a workflow's spans and the spans around it meet.
//!
//! 1. **A Lambda invoked by a state** (its trigger event, in `attributes.event` or given to
//!    the event entry point, carries the context object `$$`) is joined to the state span
//!    that invoked it. Both sides compute that span's ids from the same facts
//!    ([`crate::stepfn::parent_for_lambda`] here, the execution's logs or history there),
//!    so no index is involved and any number of instances give the same result. Link mode
//!    writes a span link (`relink.rule=aws.stepfunctions.state`,
//!    `relink.match=deterministic`, `relink.peer=producer`, the carrier and the state it
//!    names); parent mode (`stepfunctions.lambda_join`, following `adoption.enabled` by
//!    default) also adopts the Lambda's trace into the workflow's trace with the Lambda's
//!    root parented under the state span, through the adoption remap, so later batches of
//!    that trace follow. The link is not added when the span already has the state span as
//!    parent (a Datadog-traced function, or output processed again). Only the Lambda's own
//!    event counts: a context object nested in a message body is not this invocation's.
//! 2. **A Lambda consuming messages a state sent** (SQS SendMessage, SNS Publish,
//!    EventBridge PutEvents, Kinesis PutRecord with the context object in the message's
//!    `_datadog` carrier; also SNS -> SQS and EventBridge -> SQS) is joined the same way to
//!    the state span of every message of its batch (one link per state, with the
//!    `messaging.message.id` of the first message that named it). Parent mode adopts the
//!    consumer trace under the first message's state when all of them are in one workflow
//!    trace; states of several traces are links only.
//! 3. **The StartExecution call** that started an execution is the execution's upstream.
//!    The execution span relink builds (scope `relink.stepfn`, recognised by its
//!    `aws.step_functions.execution.arn` and its id being
//!    [`crate::stepfn::execution_span_id`] of that ARN) claims the execution ARN as a
//!    consumer (rule `aws.stepfunctions.execution`), and the StartExecution client span
//!    that recorded the ARN (`attributes.message_ids`, written by the shipped hooks)
//!    claims it as a producer. They meet through the index like a message id, in either
//!    arrival order; with adoption the workflow's trace (and every Lambda trace already
//!    adopted into it: remap chains are followed) moves under the StartExecution span.
//!    The Lambdas of the execution do not claim the ARN themselves: their upstream is their
//!    state. With `stepfunctions.enabled: false` they do, as before Step Functions support:
//!    each gets a direct link to the StartExecution call.
//!
//! Behind a router (stamp mode), the execution span and its StartExecution call meet on the
//! execution ARN's key like any message id; Lambda traces are routed by their own trace
//! id. With adoption, a Lambda always lands in the workflow's trace, and in the caller's
//! trace only on an instance whose remap table also saw the execution's adoption.

use super::attrs::{self, kv, DETERMINISTIC, EXECUTION_ARN};
use super::claims::{SpanEvidence, StateClaim};
use super::key::{push_claim, Claim, Rule};
use super::links::{LinkKind, Planned};
use super::view::SpanView;
use crate::event::StepFunctionsContext;
use crate::settings::Settings;
use crate::stepfn::execution_span_id;

/// The consumer evidence of a trigger's context object (`depth` 0 is the Lambda's own
/// event; deeper triggers are events inside its records).
pub(crate) fn context_claims(
    ctx: &StepFunctionsContext,
    config: &Settings,
    ev: &mut SpanEvidence,
    depth: usize,
) {
    if config.stepfunctions.enabled {
        if depth == 0 {
            push_state(ev, StateClaim::of(ctx));
        }
    } else {
        execution_claim(ctx, config, ev);
    }
}

/// The consumer evidence of a context object a state sent in a message (`message_id`) of
/// the consumer's trigger, at any depth (SNS in SQS, EventBridge in SQS): every message
/// of a batch joins the state that sent it.
pub(crate) fn message_claims(
    ctx: &StepFunctionsContext,
    message_id: Option<&str>,
    config: &Settings,
    ev: &mut SpanEvidence,
) {
    if config.stepfunctions.enabled {
        let mut claim = StateClaim::of(ctx);
        claim.message_id = message_id.map(str::to_owned);
        push_state(ev, claim);
    } else {
        execution_claim(ctx, config, ev);
    }
}

/// Without Step Functions support a context object names only its execution, joined like
/// a message id with the StartExecution call.
fn execution_claim(ctx: &StepFunctionsContext, config: &Settings, ev: &mut SpanEvidence) {
    if config.direct_links.message_ids && !ctx.execution_id.is_empty() {
        push_claim(
            &mut ev.consumer,
            Claim::id(Rule::StepfunctionsExecution, &ctx.execution_id),
        );
    }
}

/// Adds a state claim; [`super::evidence::of_trigger`] keeps one per state span (a batch
/// often holds many messages from one state).
fn push_state(ev: &mut SpanEvidence, claim: StateClaim) {
    ev.states.push(claim);
}

/// The consumer claim of an execution span relink built: the execution ARN.
pub(crate) fn execution_claims(span: &SpanView<'_>, config: &Settings, ev: &mut SpanEvidence) {
    if !config.stepfunctions.enabled || !config.direct_links.message_ids {
        return;
    }
    let limit = config.bounds.attributes_scanned;
    let Some(arn) = span
        .attributes
        .get_str(EXECUTION_ARN, limit)
        .filter(|a| !a.is_empty())
    else {
        return;
    };
    if span.span_id == execution_span_id(arn).0.as_slice() {
        push_claim(
            &mut ev.consumer,
            Claim::id(Rule::StepfunctionsExecution, arn),
        );
    }
}

/// The link from a Lambda invocation to its state span, in trace `trace` (the workflow's
/// trace as the remap currently resolves it).
pub(crate) fn state_link(claim: &StateClaim, trace: [u8; 16]) -> Planned {
    let ctx = &claim.context;
    let carrier = crate::event::event_carrier(&ctx.carrier);
    let mut attributes = vec![
        kv(attrs::LINK_RULE, Rule::StepfunctionsState.name()),
        kv(attrs::LINK_MATCH, DETERMINISTIC),
        kv(attrs::LINK_PEER, "producer"),
        kv(attrs::LINK_CONTEXT_CARRIER, carrier),
        kv(EXECUTION_ARN, ctx.execution_id.clone()),
        kv("aws.step_functions.state.name", ctx.state_name.clone()),
        kv(
            "aws.step_functions.state.entered_time",
            ctx.state_entered_time.clone(),
        ),
    ];
    if let Some(id) = &claim.message_id {
        attributes.push(kv(attrs::MESSAGING_MESSAGE_ID, id.clone()));
    }
    for (key, count) in [
        ("aws.step_functions.state.retry_count", ctx.retry_count),
        ("aws.step_functions.state.redrive_count", ctx.redrive_count),
    ] {
        if let Some(n) = count.filter(|n| *n != 0) {
            attributes.push(crate::otlp::kv::int(key, n));
        }
    }
    Planned::built(
        LinkKind::State,
        (trace, claim.parent.span_id.0),
        Rule::StepfunctionsState,
        attributes,
        (String::new(), 0),
    )
}
