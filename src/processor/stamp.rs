//! Stamp mode: the routing key of each trace, written into `attributes.route` on every span
//! of that trace.
//!
//! The OpenTelemetry Collector's load-balancing exporter with `routing_key: attributes`
//! splits a batch per trace id and routes each trace by the attributes of that trace's
//! *first* span (resource attributes, then the first scope's, then the span's). Stamping
//! every span of a trace with the same value makes the choice independent of span order.
//!
//! The value is the join key of the trace's first span with evidence (in batch order):
//! a pointer hash, or for S3 the request id key if `stamp.s3_route` says so, or a message
//! id key; a trace with no other evidence, by a Lambda `Invoke` request id (the call's or
//! the invocation's), else by the request id of a destination record (the invocation's, or
//! the one its consumer read). Traces without evidence are routed by their trace id, which
//! spreads them like trace-id routing does. A consumer whose batch names several writes (a
//! DynamoDB stream batch) can be routed by only one of them; its other records meet their
//! producers only if those hash to the same instance, and still get pointer links.
//! Likewise a trace that is both a consumer and a producer (B in A -> S3 -> B -> DynamoDB
//! -> C, or A -> Invoke -> B -> Invoke -> C) sits with A or with C, not necessarily both; an
//! invocation routed by its own trigger meets its destination record's consumer (routed by
//! the queue, topic or bus that delivered it) only by chance.
//!
//! Adoption behind a router: the remap table lives on the second-tier instance that saw
//! the consumer span, but later batches of that trace carry no evidence and are routed by
//! trace id, possibly elsewhere. Group spans by trace before the first tier (the
//! Collector's `groupbytrace` processor) so a consumer trace arrives whole, or accept that
//! only the spans batched with the consumer span are re-parented.

use super::edits::{SpanEdit, Spans};
use super::evidence::SpanEvidence;
use super::key::{Claim, Rule};
use super::State;
use crate::config::S3Route;
use crate::settings::Settings;
use std::collections::HashMap;

/// The claim a span is routed by, leaving out Lambda request ids (see [`plan_routes`]).
fn route_claim(ev: &SpanEvidence, s3_route: S3Route) -> Option<&Claim> {
    let claims = || {
        ev.producer
            .iter()
            .chain(ev.consumer.iter())
            .filter(|c| !c.rule.is_lambda_request())
    };
    let pointer = claims().find(|c| c.rule.is_pointer());
    let request = claims().find(|c| c.rule == Rule::S3Request);
    let message =
        claims().find(|c| !matches!(c.rule, Rule::S3Request | Rule::S3Key) && !c.rule.is_pointer());
    let s3 = claims().any(|c| matches!(c.rule, Rule::S3Object | Rule::S3Request));
    match s3_route {
        S3Route::RequestId if s3 => request.or(pointer),
        _ => pointer.or(request),
    }
    .or(message)
}

/// A span's claim of `rule` on one side.
fn claim_of(claims: &[Claim], rule: Rule) -> Option<&Claim> {
    claims.iter().find(|c| c.rule == rule)
}

pub(crate) fn plan_routes(
    state: &State,
    config: &Settings,
    spans: Spans<'_, '_>,
    evidence: &[(usize, SpanEvidence)],
    edits: &mut [SpanEdit],
) {
    let mut routes: HashMap<[u8; 16], String> = HashMap::new();
    // A trace stamped before keeps its route: its evidence may be gone by now (the event
    // attribute removed), and re-processing output must not change it.
    for (r, seen) in spans {
        let (Some(trace), Some(route)) = (r.trace.map(|t| state.remap.current(t)), seen.route)
        else {
            continue;
        };
        routes.entry(trace).or_insert_with(|| route.to_string());
    }
    // A Lambda invocation that nothing else started claims its invocation id: a trace with
    // any other evidence is routed by that, wherever its spans are in the batch, so the
    // roots of S3 or queue producers do not move it. Then a trace that calls `Invoke` is routed by the
    // call, so it meets the function it called, which is routed by the same id; last, by the
    // request id a destination record names, on either side.
    let trace_of = |i: usize| {
        spans
            .get(i)
            .and_then(|(r, _)| r.trace)
            .map(|t| state.remap.current(t))
    };
    for (i, ev) in evidence {
        if let (Some(trace), Some(claim)) = (trace_of(*i), route_claim(ev, config.stamp.s3_route)) {
            routes.entry(trace).or_insert_with(|| claim.key.to_hex());
        }
    }
    let producer: fn(&SpanEvidence) -> &[Claim] = |ev| &ev.producer;
    let consumer: fn(&SpanEvidence) -> &[Claim] = |ev| &ev.consumer;
    let passes = [
        (Rule::LambdaInvocation, producer),
        (Rule::LambdaInvocation, consumer),
        (Rule::LambdaDestination, producer),
        (Rule::LambdaDestination, consumer),
    ];
    for (rule, side) in passes {
        for (i, ev) in evidence {
            if let (Some(trace), Some(claim)) = (trace_of(*i), claim_of(side(ev), rule)) {
                routes.entry(trace).or_insert_with(|| claim.key.to_hex());
            }
        }
    }
    for ((r, _), edit) in spans.iter().zip(edits.iter_mut()) {
        let Some(trace) = r.trace.map(|t| state.remap.current(t)) else {
            continue;
        };
        let route = routes.entry(trace).or_insert_with(|| hex::encode(trace));
        edit.route = Some(route.as_str().into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::key::Key;

    #[test]
    fn s3_route_preference() {
        let ev = SpanEvidence {
            consumer: vec![
                Claim::pointer(Rule::S3Object, Key([1; 16])),
                Claim::id(Rule::S3Request, "r"),
            ],
            ..Default::default()
        };
        assert_eq!(
            route_claim(&ev, S3Route::Pointer).map(|c| c.rule),
            Some(Rule::S3Object)
        );
        assert_eq!(
            route_claim(&ev, S3Route::RequestId).map(|c| c.rule),
            Some(Rule::S3Request)
        );
        let producer_without_etag = SpanEvidence {
            producer: vec![Claim::id(Rule::S3Request, "r")],
            ..Default::default()
        };
        assert_eq!(
            route_claim(&producer_without_etag, S3Route::Pointer).map(|c| c.rule),
            Some(Rule::S3Request)
        );
        let ddb = SpanEvidence {
            consumer: vec![Claim::pointer(Rule::DynamodbItem, Key([2; 16]))],
            ..Default::default()
        };
        assert_eq!(
            route_claim(&ddb, S3Route::RequestId).map(|c| c.rule),
            Some(Rule::DynamodbItem)
        );
        let sqs = SpanEvidence {
            producer: vec![Claim::id(Rule::SqsMessage, "m")],
            ..Default::default()
        };
        assert_eq!(
            route_claim(&sqs, S3Route::Pointer).map(|c| c.rule),
            Some(Rule::SqsMessage)
        );
        assert_eq!(
            route_claim(&SpanEvidence::default(), S3Route::Pointer),
            None
        );
    }
}
