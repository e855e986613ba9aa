//! What the message-carrying kinds (SQS, SNS) share: reading a body as JSON, decoding an
//! event carried in a body, telling text attributes from binary ones, and reading message
//! attributes from the borrowed tree (`sqs_borrowed`, `sns_borrowed`).
//!
//! A body is the application's data. When it is an S3 notification, an SNS notification
//! (SNS to SQS without raw delivery), an EventBridge event or a Lambda destination record,
//! the event is decoded into [`Item::payload`](super::Item) so the original trigger stays
//! visible; not in a dead letter (see [`dead_letter_request`]), whose body is the event of
//! the failed invocation it reports, which did not trigger its consumer. A body that merely resembles such an event but does not decode is left as an
//! opaque body: one odd message must not make its whole delivery, and the context on it,
//! undecodable.

use super::{
    decode_event_value, detect_kind, s3, Detail, Item, MessageDetail, StepFunctionsContext,
    Trigger, TriggerKind,
};
use crate::error::DecodeError;
use crate::json::borrowed::Json;
use crate::json::fields::{opt_obj, opt_str, FieldPath, InEntry};
use crate::pointer::{Message, Pointer};
use crate::propagation::{is_carrier_key, Found};
use serde_json::Value;
use std::collections::BTreeMap;

/// A body parsed as JSON when it is a JSON object or array. Scalars (`"42"`, `true`) are
/// left alone: such bodies are plain text more often than JSON documents.
pub(crate) fn parse_body(text: &str) -> Option<Value> {
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// The S3 notification, EventBridge event or Lambda destination record a body carries,
/// decoded; `None` when it carries none (or one that does not decode). The S3 `s3:TestEvent` a new destination
/// receives is not an event and gives `None`. (The SNS envelope, which only queues
/// receive, is the SQS decoder's to recognise.)
pub(crate) fn decode_embedded(body: &Value) -> Option<Box<Trigger>> {
    if s3::is_test_event(body) {
        return None;
    }
    match detect_kind(body)? {
        TriggerKind::S3 | TriggerKind::Eventbridge | TriggerKind::LambdaDestination => {
            decode_event_value(body).ok().map(Box::new)
        }
        _ => None,
    }
}

/// True for attribute data types whose value is text (`String`, `Number`, and their custom
/// `String.x` / `Number.x` forms); `Binary` values are not reported.
pub(crate) fn is_text_type(data_type: &str) -> bool {
    use crate::propagation::carrier::is_of_type;
    is_of_type(data_type, "String") || is_of_type(data_type, "Number")
}

/// The request id of the invocation whose event this message is, when Lambda sent it to
/// the function's dead-letter queue after the last failed attempt of an asynchronous
/// invocation: the body is the event as it was, and the attributes Lambda adds name the
/// invocation (`RequestID`, a 3-digit `ErrorCode` and `ErrorMessage`;
/// <https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html#invocation-dlq>).
/// The body of such a message did not trigger its consumer and is not decoded as a payload.
pub(crate) fn dead_letter_request(attributes: &BTreeMap<String, String>) -> Option<&str> {
    let code = attributes.get("ErrorCode")?.trim();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    attributes.get("ErrorMessage")?;
    attributes
        .get("RequestID")
        .map(String::as_str)
        .filter(|id| !id.is_empty())
}

/// The item of one message (SQS, SNS): its id is its pointer, and so is the invocation it
/// is the dead letter of, if it is one (see [`dead_letter_request`]).
pub(crate) fn item(
    service: &'static str,
    id: &str,
    time_unix_nano: Option<u64>,
    contexts: Vec<Found>,
    detail: MessageDetail,
    payload: Option<Box<Trigger>>,
    step_functions: Option<StepFunctionsContext>,
) -> Item {
    let id = id.to_owned();
    let mut pointers = vec![Pointer::Message(Message {
        service,
        id: id.clone(),
    })];
    if let Some(request) = dead_letter_request(&detail.attributes) {
        pointers.push(Pointer::Message(Message {
            service: "lambda",
            id: request.to_owned(),
        }));
    }
    Item {
        id: Some(id),
        event_name: None,
        time_unix_nano,
        contexts,
        pointers,
        detail: Some(Detail::Message(detail)),
        payload,
        step_functions,
    }
}

/// The text-valued application attributes of a message-attribute map (carriers left out),
/// `map` being the object at `object`: `type_key` names each attribute's data type,
/// `value_key` its text. An attribute that is not an object (or null), or either member
/// present but not a string, is an error naming it.
pub(crate) fn text_attributes(
    map: &serde_json::Map<String, Value>,
    object: &dyn FieldPath,
    [type_key, value_key]: [&str; 2],
    input: &'static str,
) -> Result<BTreeMap<String, String>, DecodeError> {
    let mut attributes = BTreeMap::new();
    for (name, entry) in map {
        if is_carrier_key(name) {
            continue;
        }
        let field = |field| InEntry {
            object,
            key: name,
            field,
        };
        if opt_obj(entry, &field(""), input)?.is_none() {
            continue;
        }
        let data_type = opt_str(entry, &field(type_key), input)?;
        let text = opt_str(entry, &field(value_key), input)?;
        if let (Some(data_type), Some(text)) = (data_type, text) {
            if is_text_type(data_type) {
                attributes.insert(name.clone(), text.to_owned());
            }
        }
    }
    Ok(attributes)
}

/// The carrier attributes of a borrowed message-attribute map (SQS `messageAttributes`,
/// SNS `MessageAttributes`) as the object the shared carrier readers take, holding the
/// string members named in `read` of each; `None` without any carrier.
pub(crate) fn borrowed_carriers(attributes: &Json<'_>, read: &[&str]) -> Option<Value> {
    let mut object = serde_json::Map::new();
    for (name, attribute) in attributes.members()? {
        if !is_carrier_key(name) {
            continue;
        }
        let value = match attribute.members() {
            Some(members) => Value::Object(
                members
                    .iter()
                    .filter(|(k, _)| read.contains(&k.as_ref()))
                    .filter_map(|(k, v)| match v {
                        Json::Text(t) => Some((k.to_string(), Value::String(t.to_string()))),
                        _ => None,
                    })
                    .collect(),
            ),
            // Read as nothing by the carrier readers, whatever it is.
            None => Value::Null,
        };
        object.insert(name.to_string(), value);
    }
    (!object.is_empty()).then_some(Value::Object(object))
}

/// The text-valued application attributes of a borrowed message-attribute map (carriers
/// left out), as the `Value` decoders report them: `type_key` names the data type,
/// `value_key` the text. `None` where they would fail (an attribute that is not an object
/// or null, either member present but not a string).
pub(crate) fn borrowed_text_attributes(
    attributes: &Json<'_>,
    [type_key, value_key]: [&str; 2],
) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (name, attribute) in attributes.members()? {
        if is_carrier_key(name) {
            continue;
        }
        let Some(attribute) = attribute.object_or_null()? else {
            continue;
        };
        if let (Some(data_type), Some(text)) =
            (attribute.text(type_key)?, attribute.text(value_key)?)
        {
            if is_text_type(data_type) {
                out.insert(name.to_string(), text.to_owned());
            }
        }
    }
    Some(out)
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
        assert!(
            is_text_type("String") && is_text_type("Number.float") && is_text_type("String.Array")
        );
        assert!(!is_text_type("Binary") && !is_text_type("binary") && !is_text_type("Stringy"));
    }

    #[test]
    fn dead_letters_name_their_invocation() {
        let attributes = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let dlq = attributes(&[
            ("RequestID", "e4b46cbf"),
            ("ErrorCode", "200"),
            ("ErrorMessage", "Task timed out"),
        ]);
        assert_eq!(dead_letter_request(&dlq), Some("e4b46cbf"));
        let detail = MessageDetail {
            attributes: dlq,
            ..MessageDetail::default()
        };
        let pointers = item("sqs", "m1", None, vec![], detail, None, None).pointers;
        assert_eq!(
            pointers,
            vec![
                Pointer::Message(Message {
                    service: "sqs",
                    id: "m1".into()
                }),
                Pointer::Message(Message {
                    service: "lambda",
                    id: "e4b46cbf".into()
                }),
            ]
        );
        // An application's own `RequestID` attribute, without Lambda's error code and
        // message, is not one; nor is an error code that is no HTTP status.
        assert_eq!(
            dead_letter_request(&attributes(&[("RequestID", "r")])),
            None
        );
        let without = |name: &str, code: &str| {
            let mut a = attributes(&[
                ("RequestID", "r"),
                ("ErrorCode", code),
                ("ErrorMessage", "m"),
            ]);
            a.remove(name);
            dead_letter_request(&a).map(str::to_owned)
        };
        assert_eq!(without("", "500").as_deref(), Some("r"));
        assert_eq!(without("ErrorMessage", "500"), None);
        assert_eq!(without("", "E42"), None);
        assert_eq!(without("", "5000"), None);
        assert_eq!(without("RequestID", "500"), None);
    }

    #[test]
    fn a_dead_letters_body_is_not_its_trigger() {
        // An S3-triggered function's dead letter on an SNS topic: the notification is the
        // failed invocation's event, so no S3 payload (and no S3 pointer) is read from it.
        let s3 = crate::event::test_fixtures::load("aws-lambda-rust-runtime/example-s3-event.json");
        let mut sns =
            crate::event::test_fixtures::load("aws-lambda-rust-runtime/example-sns-event.json");
        let attribute = |t: &str, v: &str| serde_json::json!({"Type": t, "Value": v});
        sns["Records"][0]["Sns"]["Message"] = s3.to_string().into();
        sns["Records"][0]["Sns"]["MessageAttributes"] = serde_json::json!({
            "RequestID": attribute("String", "e4b46cbf"),
            "ErrorCode": attribute("Number", "200"),
            "ErrorMessage": attribute("String", "Task timed out after 3.00 seconds"),
        });
        let item = &decode_event_value(&sns).unwrap().items[0];
        assert_eq!(item.payload, None);
        assert!(item.pointers.contains(&Pointer::Message(Message {
            service: "lambda",
            id: "e4b46cbf".into()
        })));
        match &item.detail {
            Some(Detail::Message(d)) => assert_eq!(d.body_json, Some(s3)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn embedded_events() {
        let s3 = json!({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]});
        assert_eq!(decode_embedded(&s3).map(|t| t.kind), Some(TriggerKind::S3));
        let broken =
            json!({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}}}]});
        assert_eq!(decode_embedded(&broken), None);
        let ddb = json!({"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {"Keys": {}}}]});
        assert_eq!(decode_embedded(&ddb), None);
        let envelope = json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:r:1:t", "Message": "x"});
        assert_eq!(decode_embedded(&envelope), None);
        let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"});
        assert_eq!(decode_embedded(&test_event), None);
        assert_eq!(decode_embedded(&json!({"a": 1})), None);
    }
}
