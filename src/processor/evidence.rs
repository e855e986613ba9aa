//! What a span proves: the data it wrote (producer claims), the data that triggered it
//! (consumer claims), and the trace contexts its trigger's messages carried.
//!
//! Evidence is read without changing anything, from a `SpanView`: the protobuf fast path
//! reads it straight from a span's bytes, the full path from the decoded span, and both
//! give the same [`SpanEvidence`]. Sources:
//! - AWS SDK client spans (`rpc.system=aws-api`), see [`super::sdk`];
//! - the trigger event a Lambda invocation span carries as JSON in `attributes.event`,
//!   see [`super::trigger`] (a Step Functions context object in it names the state that
//!   invoked the Lambda, see [`super::stepfn`]);
//! - the execution spans relink builds from Step Functions logs and history;
//! - a Lambda invocation span's own `faas.invocation_id`, the request id of the `Invoke`
//!   call that made it, when no trigger event or `faas.trigger` says a service did, and the
//!   request id its destination record will name, when it may have been invoked
//!   asynchronously, see [`super::invocation`];
//! - Datadog span-pointer links (`link.kind=span-pointer`, `ptr.dir` `d` for the write,
//!   `u` for the triggered span), as the Collector's datadog receiver converts them.

use super::attrs;
pub use super::claims::{ContextClaim, Problem, SpanEvidence, StateClaim};
use super::key::{push_claim, Claim, Key, Rule};
use super::view::{LinkView, SpanView};
use crate::event::Trigger;
use crate::settings::Settings;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::collections::HashSet;

/// The span attributes [`of_view`] reads evidence from, each with the string value it
/// must have (`None`: any value), and the link attribute every Datadog pointer link has.
/// A span with none of them proves nothing: the protobuf fast path reads only the spans
/// that have one, so an evidence source added to [`of_view`] adds its attribute here.
pub(crate) fn span_keys(config: &Settings) -> [(&str, Option<&str>); 5] {
    let [invocation_id, invocation_id_before] = super::invocation::INVOCATION_ID;
    [
        ("rpc.system", Some("aws-api")),
        (config.attributes.event.as_str(), None),
        (attrs::EXECUTION_ARN, None),
        (invocation_id, None),
        (invocation_id_before, None),
    ]
}

/// See [`span_keys`].
pub(crate) const LINK_KEYS: &[&str] = &[attrs::PTR_HASH];

/// Reads a decoded span's evidence.
pub fn of_span(span: &Span, config: &Settings) -> SpanEvidence {
    of_view(&SpanView::of(span), config)
}

/// Reads a span's evidence from its [`SpanView`].
pub(crate) fn of_view(span: &SpanView<'_>, config: &Settings) -> SpanEvidence {
    let mut ev = SpanEvidence::default();
    let limit = config.bounds.attributes_scanned;
    super::sdk::producer_claims(span, config, &mut ev);
    super::stepfn::execution_claims(span, config, &mut ev);
    datadog_pointer_links(span, limit, &mut ev);
    ev.relinked = relinked_before(&span.links);
    let mut trigger_kind = None;
    if let Some(event) = span.attributes.get_str(&config.attributes.event, limit) {
        ev.has_event = true;
        match parse_event(event, config) {
            Ok(trigger) => {
                trigger_kind = Some(trigger.kind);
                of_trigger(&trigger, config, &mut ev);
            }
            Err(problem) => ev.problems.push(problem),
        }
    }
    super::invocation::consumer_claims(span, config, &mut ev, trigger_kind.is_some());
    super::invocation::destination_claims(span, config, &mut ev, trigger_kind);
    ev
}

/// Adds the consumer evidence of a decoded trigger (also used for spans inferred from a
/// raw event, whose trigger is known without an attribute).
pub fn of_trigger(trigger: &Trigger, config: &Settings, ev: &mut SpanEvidence) {
    super::trigger::consumer_claims(trigger, config, ev, 0);
    // Keeping first occurrences; batches hold up to 10000 records.
    dedupe(&mut ev.consumer, |c| (c.rule, c.key));
    dedupe(&mut ev.states, |s| (s.parent.trace_id, s.parent.span_id));
    let context = |c: &ContextClaim| {
        let ctx = &c.found.context;
        (ctx.trace_id, ctx.span_id)
    };
    dedupe_by(
        &mut ev.contexts,
        |a, b| {
            context(a) == context(b)
                && a.found.carrier == b.found.carrier
                && a.message_id == b.message_id
        },
        |c| (context(c), c.found.carrier.clone(), c.message_id.clone()),
    );
    // Held until the batch is planned: no spare capacity.
    ev.consumer.shrink_to_fit();
    ev.contexts.shrink_to_fit();
    ev.states.shrink_to_fit();
}

/// Removes later duplicates (by `key`).
fn dedupe<T, K: Eq + std::hash::Hash>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    dedupe_by(items, |a, b| key(a) == key(b), &key);
}

/// Removes later duplicates: with a set of `key`s for long lists, comparing with `same` for
/// the one to a few claims most triggers give (no allocation).
fn dedupe_by<T, K: Eq + std::hash::Hash>(
    items: &mut Vec<T>,
    same: impl Fn(&T, &T) -> bool,
    key: impl Fn(&T) -> K,
) {
    if items.len() > 16 {
        let mut seen = HashSet::new();
        items.retain(|x| seen.insert(key(x)));
        return;
    }
    let mut i = 1;
    while let Some(x) = items.get(i) {
        if items.iter().take(i).any(|y| same(y, x)) {
            items.remove(i);
        } else {
            i += 1;
        }
    }
}

fn parse_event(event: &str, config: &Settings) -> Result<Trigger, Problem> {
    let bounds = &config.bounds;
    if event.len() > bounds.event_bytes || super::depth::json_too_deep(event, bounds.nesting) {
        return Err(Problem::EventTooLarge);
    }
    // Most trigger events are S3 notifications and SQS batches: those are read borrowed;
    // everything else (and anything unusual in one) goes through the `Value` decoders,
    // which give the same trigger for what the borrowed decoders read.
    if let Some(trigger) = crate::event::decode_borrowed(event) {
        return Ok(trigger);
    }
    let value = crate::json::strict::from_str(event).map_err(|_| Problem::EventJson)?;
    crate::event::decode_event_value_with(&value, bounds.decompressed_bytes).map_err(|e| match e {
        crate::error::DecodeError::UnknownEvent { .. } => Problem::EventUnknown,
        _ => Problem::EventInvalid,
    })
}

/// Datadog pointer links: the hash is the key, the direction the side. A `d` link is a
/// write only on a span whose operation (`rpc.method`, else Datadog's `aws.operation`)
/// writes what it points to, or that names no operation: dd-trace-go puts `d` on every S3
/// response with an ETag (GetObject and HeadObject too), and a read taken for the write
/// would be linked to the object's consumer, or adopt it.
fn datadog_pointer_links(span: &SpanView<'_>, limit: usize, ev: &mut SpanEvidence) {
    let a = &span.attributes;
    let operation = a
        .get_str("rpc.method", limit)
        .or_else(|| a.get_str("aws.operation", limit));
    for link in &span.links {
        let Some((kind, dir, hash)) = pointer_of(link) else {
            continue;
        };
        let (Some(rule), Some(key)) = (Rule::from_pointer_kind(kind), Key::from_hash(hash)) else {
            continue;
        };
        match dir {
            "d" if operation.is_none_or(|op| super::sdk::writes(rule, op)) => {
                push_claim(&mut ev.producer, Claim::pointer(rule, key))
            }
            "u" => push_claim(&mut ev.consumer, Claim::pointer(rule, key)),
            _ => {}
        }
    }
}

/// A pointer link's kind, direction and hash.
fn pointer_of<'a>(link: &LinkView<'a>) -> Option<(&'a str, &'a str, &'a str)> {
    let a = &link.attributes;
    let limit = 16;
    Some((
        a.get_str(attrs::PTR_KIND, limit)?,
        a.get_str(attrs::PTR_DIR, limit)?,
        a.get_str(attrs::PTR_HASH, limit)?,
    ))
}

/// Whether an earlier relink pass linked this span (its links name a `relink.rule`).
fn relinked_before(links: &[LinkView<'_>]) -> bool {
    links
        .iter()
        .any(|l| l.attributes.get_str(attrs::LINK_RULE, 8).is_some())
}

#[cfg(test)]
#[path = "evidence_tests.rs"]
mod tests;
