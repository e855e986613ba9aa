//! Consumer evidence from a decoded trigger event: one claim per pointer and per message
//! id, one context claim per upstream context, for every record of a batch and for the
//! events nested in them (S3 in SQS, SNS in SQS, EventBridge in SQS, S3 in SNS, a Lambda
//! destination record in SQS, SNS or EventBridge).
//!
//! Deliberate choices where Datadog's implementations differ:
//! - S3 notification keys are URL-encoded; the event decoder decodes them, so keys with
//!   spaces or non-ASCII characters hash like the producer's (Datadog's producers hash the
//!   real key). Where the encoded key differs, its hash is claimed too: Datadog's Lambda
//!   consumers hash the key as the notification wrote it.
//! - DynamoDB stream binary keys arrive base64-encoded; both the base64 text (Datadog's
//!   Python and JS tracers) and the decoded bytes (its Rust extension) are claimed.
//! - Every record gets its pointer, not only the first, and every message carrying a Step
//!   Functions context object joins its state (Datadog's consumers use the first record's).

use super::claims::{ContextClaim, SpanEvidence};
use super::key::{Claim, Key, Rule};
use crate::event::{Trigger, TriggerKind};
use crate::pointer::Pointer;
use crate::settings::Settings;

/// Nested deliveries are at most a few levels deep (S3 -> SNS -> SQS); deeper is hostile.
const MAX_DEPTH: usize = 4;

/// The rule for the message ids of a trigger kind, when it is a messaging kind.
fn message_rule(kind: TriggerKind) -> Option<Rule> {
    match kind {
        TriggerKind::Sqs => Some(Rule::SqsMessage),
        TriggerKind::Sns => Some(Rule::SnsMessage),
        TriggerKind::Eventbridge => Some(Rule::EventbridgeEvent),
        TriggerKind::Kinesis => Some(Rule::KinesisRecord),
        // Kafka records have no id; their pointer names them.
        TriggerKind::Kafka => Some(Rule::KafkaRecord),
        _ => None,
    }
}

pub(crate) fn consumer_claims(
    trigger: &Trigger,
    config: &Settings,
    ev: &mut SpanEvidence,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let msg_rule = message_rule(trigger.kind);
    for item in &trigger.items {
        for pointer in &item.pointers {
            pointer_claims(pointer, config, ev);
        }
        if let Some(rule) = msg_rule {
            if depth == 0 {
                ev.messages = ev.messages.saturating_add(1);
            }
            if let Some(id) = item.id.as_deref().filter(|id| !id.is_empty()) {
                if config.direct_links.message_ids {
                    ev.consumer.push(Claim::id(rule, id));
                }
            }
            if let Some(sfn) = &item.step_functions {
                super::stepfn::message_claims(sfn, item.id.as_deref(), config, ev);
            }
            if config.messaging.enabled {
                // The state span a carried context object names is joined as a state above.
                let state = item.step_functions.as_ref().map(|s| s.carrier.as_str());
                for found in item
                    .contexts
                    .iter()
                    .filter(|f| Some(f.carrier.as_str()) != state)
                {
                    let claim = ContextClaim {
                        found: found.clone(),
                        message_id: item.id.clone(),
                    };
                    if !ev.contexts.contains(&claim) {
                        ev.contexts.push(claim);
                    }
                }
            }
        }
        if let Some(payload) = &item.payload {
            consumer_claims(payload, config, ev, depth + 1);
        }
    }
    if let Some(sfn) = &trigger.step_functions {
        super::stepfn::context_claims(sfn, config, ev, depth);
    }
}

fn pointer_claims(pointer: &Pointer, config: &Settings, ev: &mut SpanEvidence) {
    match pointer {
        Pointer::S3Object(o) => {
            for hash in o.hash_bytes() {
                ev.consumer.push(Claim::pointer(Rule::S3Object, Key(hash)));
            }
            if config.direct_links.request_id_join {
                if let Some(rid) = o.request_id.as_deref().filter(|r| !r.is_empty()) {
                    ev.consumer.push(Claim::id(Rule::S3Request, rid));
                }
            }
            // A bucket and key name the write only in an event that reports one.
            if config.direct_links.heuristic_s3_key && !o.later_event {
                ev.consumer
                    .push(Claim::id(Rule::S3Key, &s3_key_id(&o.bucket, &o.key)));
            }
        }
        Pointer::DynamodbItem(item) => {
            for hash in item.hash_bytes() {
                ev.consumer
                    .push(Claim::pointer(Rule::DynamodbItem, Key(hash)));
            }
        }
        Pointer::Message(m) => {
            if let Some(rule) = Rule::for_message_service(m.service) {
                let on = match rule {
                    Rule::LambdaDestination => config.direct_links.lambda_destinations,
                    _ => config.direct_links.message_ids,
                };
                if on && !m.id.is_empty() {
                    ev.consumer.push(Claim::id(rule, &m.id));
                }
            }
        }
    }
}

/// The id of the bucket-and-key heuristic; `|` cannot start an S3 key's meaning, and the
/// bucket name cannot contain it.
pub(crate) fn s3_key_id(bucket: &str, key: &str) -> String {
    format!("{bucket}|{key}")
}
