//! The evidence model: what a span proves ([`SpanEvidence`]) as the readers in `sdk`,
//! `trigger` and `stepfn` find it and `evidence` gathers it. A module of its own so that
//! the readers and the gatherer depend on it and not on each other.

use super::key::Claim;
use crate::event::StepFunctionsContext;
use crate::propagation::{Found, SpanContext};
use crate::stepfn::parent_for_lambda;

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
    pub messages: u32,
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

/// The state span a Lambda was invoked by, or that sent a message it consumes, as the
/// context object names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateClaim {
    /// The state span, in the trace the workflow's spans are in.
    pub parent: SpanContext,
    pub context: StepFunctionsContext,
    /// The message that carried the context object, when a message did.
    pub message_id: Option<String>,
}

impl StateClaim {
    pub fn of(context: &StepFunctionsContext) -> StateClaim {
        StateClaim {
            parent: parent_for_lambda(context),
            context: context.clone(),
            message_id: None,
        }
    }
}
