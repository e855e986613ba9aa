//! What a span proves: the data it wrote (producer claims), the data that triggered it
//! (consumer claims), and the trace contexts its trigger's messages carried.
//!
//! Evidence is read without changing anything, so this step stays separable from the
//! rewrite (a wire-format scanner can later produce the same [`SpanEvidence`] without
//! decoding whole requests). Sources:
//! - AWS SDK client spans (`rpc.system=aws-api`), see [`super::sdk`];
//! - the trigger event a Lambda invocation span carries as JSON in `attributes.event`,
//!   see [`super::trigger`] (a Step Functions context object in it names the state that
//!   invoked the Lambda, see [`super::stepfn`]);
//! - the execution spans relink builds from Step Functions logs and history;
//! - Datadog span-pointer links (`link.kind=span-pointer`, `ptr.dir` `d` for the write,
//!   `u` for the triggered span), as the Collector's datadog receiver converts them.

use super::attrs;
use super::key::{push_claim, Claim, Key, Rule};
pub use super::stepfn::StateClaim;
use crate::config::Config;
use crate::event::Trigger;
use crate::propagation::Found;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::collections::HashSet;

/// A trace context found in a message of the consumer's trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextClaim {
    pub found: Found,
    /// The message's id, written on the link as `messaging.message.id`.
    pub message_id: Option<String>,
}

/// A problem met while reading evidence; counted, never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The event attribute is larger than `limits.max_event_bytes` or nested deeper than
    /// `limits.max_nesting`.
    EventTooLarge,
    /// The event attribute is not JSON.
    EventJson,
    /// The event is JSON of no known AWS event shape (custom invocation payloads).
    EventUnknown,
    /// The event has a known shape but a field is wrong.
    EventInvalid,
    /// The DynamoDB keys attribute is not DynamoDB JSON of one or two key attributes.
    DynamodbKeys,
    /// A recorded item has more than two attributes and its table has no configured
    /// key schema.
    DynamodbKeySchema,
}

/// Everything one span proves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanEvidence {
    pub producer: Vec<Claim>,
    pub consumer: Vec<Claim>,
    pub contexts: Vec<ContextClaim>,
    /// The Step Functions states the consumer joins: the state that invoked the Lambda
    /// (its event's context object), or the states that sent the messages of its trigger
    /// (context objects in their `_datadog` carriers), one per state span.
    pub states: Vec<StateClaim>,
    /// Messages in the consumer's trigger (records of SQS, SNS, EventBridge, Kinesis).
    pub messages: usize,
    /// The span carries the event attribute (removed or truncated on output).
    pub has_event: bool,
    /// An earlier relink pass linked this span: its adoption was decided then. Deciding
    /// again could differ (the event attribute it read may be gone, a producer trace may
    /// have been adopted since), and processing output again must change nothing.
    pub relinked: bool,
    pub problems: Vec<Problem>,
}

impl SpanEvidence {
    pub fn is_empty(&self) -> bool {
        self.producer.is_empty()
            && self.consumer.is_empty()
            && self.contexts.is_empty()
            && self.states.is_empty()
            && !self.has_event
    }
}

/// The span attributes [`of_span`] reads evidence from, each with the string value it
/// must have (`None`: any value), and the link attribute every Datadog pointer link has.
/// A span with none of them proves nothing: the protobuf fast path decodes only the spans
/// that have one, so an evidence source added to [`of_span`] adds its attribute here.
pub(crate) fn span_keys(config: &Config) -> [(&str, Option<&str>); 3] {
    [
        ("rpc.system", Some("aws-api")),
        (config.attributes.event.as_str(), None),
        (super::stepfn::EXECUTION_ARN, None),
    ]
}

/// See [`span_keys`].
pub(crate) const LINK_KEYS: &[&str] = &[attrs::PTR_HASH];

/// Reads a span's evidence.
pub fn of_span(span: &Span, config: &Config) -> SpanEvidence {
    let mut ev = SpanEvidence::default();
    let limit = scan_limit(config);
    super::sdk::producer_claims(span, config, &mut ev);
    super::stepfn::execution_claims(span, config, &mut ev);
    datadog_pointer_links(span, &mut ev);
    ev.relinked = relinked_before(span);
    if let Some(event) = attrs::get_str(&span.attributes, &config.attributes.event, limit) {
        ev.has_event = true;
        match parse_event(event, config) {
            Ok(trigger) => of_trigger(&trigger, config, &mut ev),
            Err(problem) => ev.problems.push(problem),
        }
    }
    ev
}

/// Adds the consumer evidence of a decoded trigger (also used for spans inferred from a
/// raw event, whose trigger is known without an attribute).
pub fn of_trigger(trigger: &Trigger, config: &Config, ev: &mut SpanEvidence) {
    super::trigger::consumer_claims(trigger, config, ev, 0);
    // Batches hold up to 10000 records: dedupe with sets, keeping first occurrences.
    let mut seen = HashSet::new();
    ev.consumer.retain(|c| seen.insert((c.rule, c.key)));
    let mut seen = HashSet::new();
    ev.states
        .retain(|s| seen.insert((s.parent.trace_id, s.parent.span_id)));
    let mut seen = HashSet::new();
    ev.contexts.retain(|c| {
        let ctx = &c.found.context;
        seen.insert((
            ctx.trace_id,
            ctx.span_id,
            c.found.carrier.clone(),
            c.message_id.clone(),
        ))
    });
}

pub(crate) fn scan_limit(config: &Config) -> usize {
    usize::try_from(config.limits.max_attributes_scanned).unwrap_or(usize::MAX)
}

fn parse_event(event: &str, config: &Config) -> Result<Trigger, Problem> {
    let limits = &config.limits;
    let max_nesting = usize::try_from(limits.max_nesting).unwrap_or(usize::MAX);
    if event.len() as u64 > limits.max_event_bytes
        || super::depth::json_too_deep(event, max_nesting)
    {
        return Err(Problem::EventTooLarge);
    }
    let value = crate::strict_json::from_str(event).map_err(|_| Problem::EventJson)?;
    let max_inflated = usize::try_from(limits.max_decompressed_bytes).unwrap_or(usize::MAX);
    crate::event::decode_event_value_with(&value, max_inflated).map_err(|e| match e {
        crate::error::DecodeError::UnknownEvent { .. } => Problem::EventUnknown,
        _ => Problem::EventInvalid,
    })
}

/// Datadog pointer links: the hash is the key, the direction the side.
fn datadog_pointer_links(span: &Span, ev: &mut SpanEvidence) {
    for link in &span.links {
        let a = &link.attributes;
        let limit = 16;
        let (Some(kind), Some(dir), Some(hash)) = (
            attrs::get_str(a, attrs::PTR_KIND, limit),
            attrs::get_str(a, attrs::PTR_DIR, limit),
            attrs::get_str(a, attrs::PTR_HASH, limit),
        ) else {
            continue;
        };
        let (Some(rule), Some(key)) = (Rule::from_pointer_kind(kind), Key::from_hash(hash)) else {
            continue;
        };
        match dir {
            "d" => push_claim(&mut ev.producer, Claim::pointer(rule, key)),
            "u" => push_claim(&mut ev.consumer, Claim::pointer(rule, key)),
            _ => {}
        }
    }
}

/// Whether an earlier relink pass linked this span (its links name a `relink.rule`).
fn relinked_before(span: &Span) -> bool {
    span.links
        .iter()
        .any(|l| attrs::get_str(&l.attributes, attrs::LINK_RULE, 8).is_some())
}

#[cfg(test)]
#[path = "evidence_tests.rs"]
mod tests;
