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
//! id key, where the consumer of a Lambda destination record (or of a dead letter) is
//! routed by the key of the `Invoke` request id it names; a trace with no other evidence, by a Lambda
//! `Invoke` request id (the call's or the invocation's). So an asynchronous `Invoke`, the
//! invocation and its record's consumer meet. Traces without evidence are routed by their
//! trace id, which spreads them like trace-id routing does. A consumer whose batch names several writes (a
//! DynamoDB stream batch) can be routed by only one of them; its other records meet their
//! producers only if those hash to the same instance, and still get pointer links.
//! Likewise a trace that is both a consumer and a producer (B in A -> S3 -> B -> DynamoDB
//! -> C, or A -> Invoke -> B -> Invoke -> C) sits with A or with C, not necessarily both; an
//! invocation routed by a key of its trigger (an S3 object, a message id) meets the consumer
//! of its destination record only when their routes land on the same instance.
//!
//! Adoption behind a router: the remap table lives on the second-tier instance that saw
//! the consumer span, but later batches of that trace carry no evidence and are routed by
//! trace id, possibly elsewhere. Group spans by trace before the first tier (the
//! Collector's `groupbytrace` processor) so a consumer trace arrives whole, or accept that
//! only the spans batched with the consumer span are re-parented.

use super::edits::{SpanEdit, Spans};
use super::evidence::SpanEvidence;
use super::key::{Claim, Key, Rule};
use super::State;
use crate::config::S3Route;
use crate::settings::Settings;
use std::collections::HashMap;

/// The key a span is routed by: a pointer or S3 request id, else the request id a Lambda
/// destination record names, else a message id. `Invoke` request ids are left to the later
/// passes of [`plan_routes`], and an invocation's own destination claim routes nothing.
fn route_key(ev: &SpanEvidence, s3_route: S3Route) -> Option<Key> {
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
    // Routed as the invocation is by the `Invoke` call that made it, so the caller, the
    // invocation and its record's consumer meet. Before message ids: Lambda sent the
    // message that delivered the record, and no producer span names its id.
    let destination = claim_of(&ev.consumer, Rule::LambdaDestination)
        .and_then(|c| c.message_id.as_deref())
        .map(|id| Key::of_id(Rule::LambdaInvocation, id));
    match s3_route {
        S3Route::RequestId if s3 => request.or(pointer),
        _ => pointer.or(request),
    }
    .map(|c| c.key)
    .or(destination)
    .or(message.map(|c| c.key))
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
    // call, so it meets the function it called, which is routed by the same id (as is the
    // consumer of that invocation's destination record, in `route_key`).
    let trace_of = |i: usize| {
        spans
            .get(i)
            .and_then(|(r, _)| r.trace)
            .map(|t| state.remap.current(t))
    };
    for (i, ev) in evidence {
        if let (Some(trace), Some(key)) = (trace_of(*i), route_key(ev, config.stamp.s3_route)) {
            routes.entry(trace).or_insert_with(|| key.to_hex());
        }
    }
    let sides: [fn(&SpanEvidence) -> &[Claim]; 2] = [|ev| &ev.producer, |ev| &ev.consumer];
    for side in sides {
        for (i, ev) in evidence {
            let claim = claim_of(side(ev), Rule::LambdaInvocation);
            if let (Some(trace), Some(claim)) = (trace_of(*i), claim) {
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

    #[test]
    fn route_preference() {
        let pointer = Key([1; 16]);
        let request = Key::of_id(Rule::S3Request, "r");
        let ev = SpanEvidence {
            consumer: vec![
                Claim::pointer(Rule::S3Object, pointer),
                Claim::id(Rule::S3Request, "r"),
            ],
            ..Default::default()
        };
        assert_eq!(route_key(&ev, S3Route::Pointer), Some(pointer));
        assert_eq!(route_key(&ev, S3Route::RequestId), Some(request));
        let producer_without_etag = SpanEvidence {
            producer: vec![Claim::id(Rule::S3Request, "r")],
            ..Default::default()
        };
        assert_eq!(
            route_key(&producer_without_etag, S3Route::Pointer),
            Some(request)
        );
        let ddb = SpanEvidence {
            consumer: vec![Claim::pointer(Rule::DynamodbItem, Key([2; 16]))],
            ..Default::default()
        };
        assert_eq!(route_key(&ddb, S3Route::RequestId), Some(Key([2; 16])));
        let sqs = SpanEvidence {
            producer: vec![Claim::id(Rule::SqsMessage, "m")],
            ..Default::default()
        };
        assert_eq!(
            route_key(&sqs, S3Route::Pointer),
            Some(Key::of_id(Rule::SqsMessage, "m"))
        );
        assert_eq!(route_key(&SpanEvidence::default(), S3Route::Pointer), None);
    }

    #[test]
    fn a_destination_records_consumer_is_routed_as_the_invocation_it_reports() {
        // Its queue's message id has no producer span; the `Invoke` call and the invocation
        // are routed by the invocation's request id (`plan_routes`), and so is it.
        let consumer = SpanEvidence {
            consumer: vec![
                Claim::id(Rule::SqsMessage, "m"),
                Claim::id(Rule::LambdaDestination, "R1"),
            ],
            ..Default::default()
        };
        assert_eq!(
            route_key(&consumer, S3Route::Pointer),
            Some(Key::of_id(Rule::LambdaInvocation, "R1"))
        );
        // An invocation's own destination claim routes nothing.
        let mut own = Claim::id(Rule::LambdaDestination, "R2");
        own.message_id = None;
        let source = SpanEvidence {
            producer: vec![own],
            ..Default::default()
        };
        assert_eq!(route_key(&source, S3Route::Pointer), None);
    }
}
