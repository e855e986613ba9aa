//! Join keys: what a producer and a consumer must both name to be matched.
//!
//! Every key is 16 bytes shown as 32 hex digits. For S3 objects and DynamoDB items it *is*
//! Datadog's pointer hash, so a Datadog tracer's `ptr.hash` and relink's meet in the same
//! index slot. For ids (S3 request ids, message ids, execution ARNs, Lambda request ids) it
//! is the same hash
//! function over `rule|id`, so ids of different services never collide and every key has
//! the same size in the index and in `relink.route`.

use crate::pointer::{hash_bytes, KIND_DYNAMODB_ITEM, KIND_S3_OBJECT};

/// Why two spans are joined. The name is written in `relink.rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Datadog pointer of an S3 object version (bucket, key, ETag).
    S3Object,
    /// S3 `x-amz-request-id` of the write, repeated in direct notifications.
    S3Request,
    /// Bucket and key alone (no ETag, no request id): a guess.
    S3Key,
    /// Datadog pointer of a DynamoDB item (table and primary key).
    DynamodbItem,
    SqsMessage,
    SnsMessage,
    EventbridgeEvent,
    KinesisRecord,
    /// A Kafka record, named by its topic, partition and offset.
    KafkaRecord,
    StepfunctionsExecution,
    /// A Lambda invoked by a Step Functions state, joined to the state span on ids both
    /// sides compute.
    StepfunctionsState,
    /// A Lambda invocation, joined to the SDK `Invoke` call whose request id it was given.
    LambdaInvocation,
    /// A Lambda destination record's consumer (or a dead letter's), joined to the
    /// invocation the record reports.
    LambdaDestination,
    /// A trace context carried inside a message.
    MessagingContext,
    /// A consumer trace re-parented under its producer.
    Adoption,
}

/// How the two sides were matched, written in `relink.match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Match {
    /// Same pointer hash or same id.
    Exact,
    /// Same request id: an S3 write's, or a Lambda invocation's (the `Invoke` call's, the
    /// one its destination record names).
    RequestId,
    /// Same bucket and key only.
    Heuristic,
    /// A context propagated in the message.
    Context,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::S3Object => KIND_S3_OBJECT,
            Rule::S3Request => "aws.s3.request",
            Rule::S3Key => "aws.s3.key",
            Rule::DynamodbItem => KIND_DYNAMODB_ITEM,
            Rule::SqsMessage => "aws.sqs.message",
            Rule::SnsMessage => "aws.sns.message",
            Rule::EventbridgeEvent => "aws.eventbridge.event",
            Rule::KinesisRecord => "aws.kinesis.record",
            Rule::KafkaRecord => "kafka.record",
            Rule::StepfunctionsExecution => "aws.stepfunctions.execution",
            Rule::StepfunctionsState => "aws.stepfunctions.state",
            Rule::LambdaInvocation => "aws.lambda.invocation",
            Rule::LambdaDestination => "aws.lambda.destination",
            Rule::MessagingContext => "messaging.context",
            Rule::Adoption => "adoption",
        }
    }

    /// The match kind of a join on this rule's key.
    pub fn match_kind(self) -> Match {
        match self {
            Rule::S3Request | Rule::LambdaInvocation | Rule::LambdaDestination => Match::RequestId,
            Rule::S3Key => Match::Heuristic,
            Rule::MessagingContext => Match::Context,
            _ => Match::Exact,
        }
    }

    /// Whether this rule's key is a Lambda invocation's request id: an `Invoke` call's, or
    /// the one a destination record or dead letter names. The consumer of such a join may
    /// already be the producer's child (see `plan`); stamp mode routes by these its own way
    /// (see `stamp`).
    pub fn is_lambda_request(self) -> bool {
        matches!(self, Rule::LambdaInvocation | Rule::LambdaDestination)
    }

    /// Whether this rule's key is a Datadog span pointer (and gets pointer links).
    pub fn is_pointer(self) -> bool {
        matches!(self, Rule::S3Object | Rule::DynamodbItem)
    }

    /// The rule of a Datadog `ptr.kind`, if relink joins on it.
    pub fn from_pointer_kind(kind: &str) -> Option<Rule> {
        match kind {
            KIND_S3_OBJECT => Some(Rule::S3Object),
            KIND_DYNAMODB_ITEM => Some(Rule::DynamodbItem),
            _ => None,
        }
    }

    /// The rule for a message id of a `Message::service` (`sqs`, `sns`, ...).
    pub fn for_message_service(service: &str) -> Option<Rule> {
        match service {
            "sqs" => Some(Rule::SqsMessage),
            "sns" => Some(Rule::SnsMessage),
            "eventbridge" => Some(Rule::EventbridgeEvent),
            "kinesis" => Some(Rule::KinesisRecord),
            "kafka" => Some(Rule::KafkaRecord),
            "stepfunctions" => Some(Rule::StepfunctionsExecution),
            "lambda" => Some(Rule::LambdaDestination),
            _ => None,
        }
    }
}

impl Match {
    pub fn name(self) -> &'static str {
        match self {
            Match::Exact => "exact",
            Match::RequestId => "request-id",
            Match::Heuristic => "heuristic",
            Match::Context => "context",
        }
    }

    /// Lower is better: when several claims reach the same span, the best names the link.
    pub fn rank(self) -> u8 {
        match self {
            Match::Exact => 0,
            Match::RequestId => 1,
            Match::Context => 2,
            Match::Heuristic => 3,
        }
    }
}

/// A 16-byte join key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub [u8; 16]);

impl Key {
    /// A Datadog pointer hash (32 hex digits), as relink computes it or as `ptr.hash`
    /// carries it. Anything else is not a key.
    pub fn from_hash(hash: &str) -> Option<Key> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(hash.trim(), &mut out).ok()?;
        Some(Key(out))
    }

    /// The key of an id under a rule: the pointer hash of `rule|id`.
    pub fn of_id(rule: Rule, id: &str) -> Key {
        Key(hash_bytes(&[rule.name().as_bytes(), id.as_bytes()]))
    }

    pub fn to_hex(self) -> String {
        crate::propagation::lower_hex(&self.0)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.to_hex())
    }
}

/// One thing a span proves: that it wrote (producer) or was triggered by (consumer) the
/// data named by `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub rule: Rule,
    pub key: Key,
    /// The id the claim came from: a message id, written as the `messaging.message.id`
    /// link attribute; for a Lambda destination record, the request id of the invocation
    /// it reports, not written (stamp mode routes by it).
    pub message_id: Option<String>,
}

impl Claim {
    pub fn pointer(rule: Rule, key: Key) -> Claim {
        Claim {
            rule,
            key,
            message_id: None,
        }
    }

    pub fn id(rule: Rule, id: &str) -> Claim {
        let message_id = match rule {
            Rule::S3Request | Rule::S3Key | Rule::LambdaInvocation => None,
            _ => Some(id.to_string()),
        };
        Claim {
            rule,
            key: Key::of_id(rule, id),
            message_id,
        }
    }
}

/// Adds a claim unless one with the same rule and key is already there.
pub fn push_claim(claims: &mut Vec<Claim>, claim: Claim) {
    if !claims
        .iter()
        .any(|c| c.rule == claim.rule && c.key == claim.key)
    {
        // Exact growth: a batch holds every span's claims until it is planned, and most
        // spans have one to three.
        claims.reserve_exact(1);
        claims.push(claim);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_hashes_are_keys_and_ids_are_namespaced() {
        let k = Key::from_hash("e721375466d4116ab551213fdea08413").map(Key::to_hex);
        assert_eq!(k.as_deref(), Some("e721375466d4116ab551213fdea08413"));
        assert_eq!(Key::from_hash("e72137"), None);
        assert_eq!(Key::from_hash("zz21375466d4116ab551213fdea08413"), None);
        let sqs = Key::of_id(Rule::SqsMessage, "abc");
        assert_eq!(
            sqs.to_hex(),
            crate::pointer::hash_elements(&[b"aws.sqs.message", b"abc"])
        );
        assert_ne!(sqs, Key::of_id(Rule::SnsMessage, "abc"));
    }

    #[test]
    fn rule_names_and_match_kinds() {
        assert_eq!(Rule::S3Object.name(), "aws.s3.object");
        assert_eq!(Rule::S3Request.match_kind().name(), "request-id");
        assert_eq!(Rule::S3Key.match_kind().name(), "heuristic");
        assert_eq!(Rule::DynamodbItem.match_kind().name(), "exact");
        assert_eq!(
            Rule::from_pointer_kind("aws.dynamodb.item"),
            Some(Rule::DynamodbItem)
        );
        assert_eq!(Rule::from_pointer_kind("aws.sqs.message"), None);
        assert_eq!(
            Rule::for_message_service("kinesis"),
            Some(Rule::KinesisRecord)
        );
        assert!(Match::Exact.rank() < Match::Heuristic.rank());
    }

    #[test]
    fn claims_dedupe_on_rule_and_key() {
        let mut claims = Vec::new();
        push_claim(&mut claims, Claim::id(Rule::SqsMessage, "m1"));
        push_claim(&mut claims, Claim::id(Rule::SqsMessage, "m1"));
        push_claim(&mut claims, Claim::id(Rule::SnsMessage, "m1"));
        assert_eq!(claims.len(), 2);
        assert_eq!(claims[0].message_id.as_deref(), Some("m1"));
        assert_eq!(Claim::id(Rule::S3Request, "r").message_id, None);
        assert_eq!(Claim::id(Rule::LambdaInvocation, "r").message_id, None);
        // Kept for stamp mode's route, never written as a message id (see `links`).
        assert_eq!(
            Claim::id(Rule::LambdaDestination, "r")
                .message_id
                .as_deref(),
            Some("r")
        );
    }
}
