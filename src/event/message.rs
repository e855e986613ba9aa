//! What the message-carrying kinds (SQS, SNS) share: reading a body as JSON, decoding an
//! event carried in a body, and telling text attributes from binary ones.
//!
//! A body is the application's data. When it is an S3 notification, an SNS notification
//! (SNS to SQS without raw delivery) or an EventBridge event, the event is decoded into
//! [`Item::payload`](super::Item) so the original trigger stays visible. A body that merely
//! resembles such an event but does not decode is left as an opaque body: one odd message
//! must not make its whole delivery, and the context on it, undecodable.

use super::{decode_event_value, detect_kind, s3, sns, Trigger, TriggerKind};
use serde_json::Value;

/// A body parsed as JSON when it is a JSON object or array. Scalars (`"42"`, `true`) are
/// left alone: such bodies are plain text more often than JSON documents.
pub(crate) fn parse_body(text: &str) -> Option<Value> {
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// The event a body carries, decoded; `None` when it carries none (or one that does not
/// decode). `sns_envelope` allows the SNS notification envelope, which only queues receive.
/// The S3 `s3:TestEvent` a new destination receives is not an event and gives `None`.
pub(crate) fn decode_embedded(body: &Value, sns_envelope: bool) -> Option<Box<Trigger>> {
    if s3::is_test_event(body) {
        return None;
    }
    if sns_envelope && sns::is_envelope(body) {
        return sns::decode_envelope(body).ok().map(Box::new);
    }
    match detect_kind(body)? {
        TriggerKind::S3 | TriggerKind::Eventbridge => decode_event_value(body).ok().map(Box::new),
        _ => None,
    }
}

/// True for attribute data types whose value is text (`String`, `Number`, and their custom
/// `String.x` / `Number.x` forms); `Binary` values are not reported.
pub(crate) fn is_text_type(data_type: &str) -> bool {
    data_type.starts_with("String") || data_type.starts_with("Number")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_are_json_only_when_structured() {
        assert_eq!(parse_body(" {\"a\": 1}"), Some(json!({"a": 1})));
        assert_eq!(parse_body("[1]"), Some(json!([1])));
        assert_eq!(parse_body("42"), None);
        assert_eq!(parse_body("\"text\""), None);
        assert_eq!(parse_body("{truncated"), None);
        assert_eq!(parse_body("Hello\r\nworld!"), None);
    }

    #[test]
    fn text_types() {
        assert!(is_text_type("String") && is_text_type("Number.float") && is_text_type("String.Array"));
        assert!(!is_text_type("Binary") && !is_text_type("binary"));
    }

    #[test]
    fn embedded_events() {
        let s3 = json!({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]});
        assert_eq!(decode_embedded(&s3, false).map(|t| t.kind), Some(TriggerKind::S3));
        let broken = json!({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}}}]});
        assert_eq!(decode_embedded(&broken, true), None);
        let ddb = json!({"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {"Keys": {}}}]});
        assert_eq!(decode_embedded(&ddb, true), None);
        let envelope = json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:r:1:t", "Message": "x"});
        assert_eq!(decode_embedded(&envelope, true).map(|t| t.kind), Some(TriggerKind::Sns));
        assert_eq!(decode_embedded(&envelope, false), None);
        let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"});
        assert_eq!(decode_embedded(&test_event, true), None);
        assert_eq!(decode_embedded(&json!({"a": 1}), true), None);
    }

    /// Every leaf of every fixture of the kinds decoded through this module's callers,
    /// replaced by each hostile value: decoding returns a value or an error, never panics.
    #[test]
    fn mutated_fixtures_never_panic() {
        const FIXTURES: [&str; 20] = [
            "aws-lambda-rust-runtime/example-s3-event.json",
            "powertools-lambda-python/s3EventBridgeNotificationObjectCreatedEvent.json",
            "aws-lambda-rust-runtime/example-dynamodb-event.json",
            "datadog-lambda-python/dynamodb.json",
            "aws-lambda-rust-runtime/example-sqs-event.json",
            "powertools-lambda-python/s3SqsEvent.json",
            "powertools-lambda-python/snsSqsFifoEvent.json",
            "datadog-lambda-python/sqs-batch.json",
            "datadog-lambda-python/sns-sqs-java-upstream.json",
            "datadog-lambda-python/eventbridge-sqs.json",
            "powertools-lambda-python/snsEvent.json",
            "datadog-lambda-python/sns-b64-msg-attribute.json",
            "datadog-lambda-python/eventbridge-custom.json",
            "aws-lambda-rust-runtime/example-eventbridge-schedule.json",
            "aws-lambda-rust-runtime/example-kinesis-event-encrypted.json",
            "datadog-lambda-python/kinesis.json",
            "powertools-lambda-python/kinesisFirehoseKinesisEvent.json",
            "powertools-lambda-python/kinesisFirehosePutEvent.json",
            "aws-lambda-rust-runtime/example-firehose-event.json",
            "powertools-lambda-python/dynamoStreamEvent.json",
        ];
        let hostile = [
            Value::Null,
            json!(0),
            json!(-1),
            json!(1e300),
            json!(u64::MAX),
            json!(""),
            json!("%FF+%"),
            json!("{\"Records\": [{\"eventSource\": \"aws:s3\"}]}"),
            json!([]),
            json!({}),
            json!(true),
        ];
        fn leaves(v: &Value, path: String, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => m.iter().for_each(|(k, c)| leaves(c, super::super::json::join(&path, k), out)),
                Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| leaves(c, format!("{path}/{i}"), out)),
                _ => {}
            }
            out.push(path);
        }
        let mut decoded = 0;
        for file in FIXTURES {
            let full = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap();
            let mut paths = Vec::new();
            leaves(&doc, String::new(), &mut paths);
            for path in paths.iter().filter(|p| !p.is_empty()) {
                for bad in &hostile {
                    let mut v = doc.clone();
                    *v.pointer_mut(path).unwrap() = bad.clone();
                    if decode_event_value(&v).is_ok() {
                        decoded += 1;
                    }
                }
            }
        }
        // Optional fields tolerate most replacements; the count guards against a harness
        // that silently decodes nothing.
        assert!(decoded > 1000, "{decoded}");
    }
}
