//! SNS notifications: as Lambda receives them (`Records[].Sns`) and as SNS delivers them
//! to an SQS queue when raw message delivery is off (the bare notification envelope,
//! `{"Type":"Notification","MessageId":...,"TopicArn":...,"Message":"..."}`), which the SQS
//! decoder hands to [`decode_envelope`].
//!
//! Both shapes hold the same fields. Trace context travels in `MessageAttributes`
//! (`{"name": {"Type": "String"|"Binary", "Value": ...}}`); a `Message` that is itself an
//! S3 notification, an EventBridge event or a Lambda destination record is decoded into the
//! item's payload.

use super::{arn, message, stepfunctions_context, Item, MessageDetail, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{
    missing, opt_obj, opt_rfc3339_as_nanos, opt_str, req_array, req_str, wrong_type, Within,
};
use crate::propagation::{from_sns_attributes, sns_datadog_object};
use serde_json::Value;
use std::collections::BTreeMap;

const INPUT: &str = "sns event";
const ENVELOPE_INPUT: &str = "sns notification";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let records = req_array(value, "/Records", INPUT)?;
    let mut items = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let base = format!("/Records/{i}/Sns");
        let notification = match record.get("Sns") {
            None | Some(Value::Null) => return Err(missing(INPUT, &base)),
            Some(n @ Value::Object(_)) => n,
            Some(other) => return Err(wrong_type(INPUT, &base, "an object", other)),
        };
        items.push(decode_notification(
            notification,
            &base,
            "Sns.MessageAttributes",
            INPUT,
        )?);
    }
    let topic = opt_str(value, "/Records/0/Sns/TopicArn", INPUT)?;
    Ok(trigger(topic, items))
}

/// True for the notification envelope SNS writes into SQS bodies.
pub(crate) fn is_envelope(value: &Value) -> bool {
    value.get("Type").and_then(Value::as_str) == Some("Notification")
        && value.get("MessageId").is_some_and(Value::is_string)
        && value.get("TopicArn").is_some_and(Value::is_string)
}

/// Decodes the notification envelope (an SQS body when raw message delivery is off).
pub(crate) fn decode_envelope(value: &Value) -> Result<Trigger, DecodeError> {
    let item = decode_notification(value, "", "MessageAttributes", ENVELOPE_INPUT)?;
    Ok(trigger(
        opt_str(value, "/TopicArn", ENVELOPE_INPUT)?,
        vec![item],
    ))
}

pub(super) fn trigger(topic_arn: Option<&str>, items: Vec<Item>) -> Trigger {
    let name = topic_arn.and_then(arn::parse).map(|a| a.resource);
    Trigger {
        kind: TriggerKind::Sns,
        via: None,
        source: arn::source(topic_arn, name, None),
        items,
        step_functions: None,
    }
}

/// What one notification says, however it was read (from a `Value`, or borrowed from the
/// text by `sns_borrowed`): [`NotificationFields::item`] makes the item from it.
pub(super) struct NotificationFields<'r> {
    pub id: &'r str,
    pub message: Option<&'r str>,
    /// `MessageAttributes` holding (at least) every trace carrier the notification has,
    /// when it is an object.
    pub carriers: Option<&'r Value>,
    /// Where the attributes sit in the record (`Sns.MessageAttributes`).
    pub carrier: &'r str,
    /// The text-valued application attributes (carriers left out).
    pub attributes: BTreeMap<String, String>,
    pub subject: Option<&'r str>,
    pub time_unix_nano: Option<u64>,
}

impl NotificationFields<'_> {
    pub(super) fn item(self) -> Item {
        let body_json = self.message.and_then(message::parse_body);
        let payload = match message::dead_letter_request(&self.attributes) {
            Some(_) => None,
            None => body_json.as_ref().and_then(message::decode_embedded),
        };
        // A message decoded into `payload` is not repeated as raw JSON.
        let body_json = if payload.is_some() { None } else { body_json };
        let mut contexts = Vec::new();
        let mut carried = None;
        if let Some(raw) = self.carriers {
            contexts = from_sns_attributes(raw, self.carrier);
            let location = format!("{}._datadog", self.carrier);
            carried =
                sns_datadog_object(raw).and_then(|o| stepfunctions_context::carried(&o, &location));
        }
        let step_functions = carried.map(|(ctx, found)| {
            contexts.push(found);
            ctx
        });
        let detail = MessageDetail {
            body_size: self.message.map(|m| m.len() as u64),
            subject: self.subject.map(str::to_owned),
            attributes: self.attributes,
            body_json,
            ..MessageDetail::default()
        };
        message::item(
            "sns",
            self.id,
            self.time_unix_nano,
            contexts,
            detail,
            payload,
            step_functions,
        )
    }
}

/// One notification, read from its own value; `base` is where it sits in the payload (for
/// errors), `carrier` where its attributes sit in the record.
fn decode_notification(
    notification: &Value,
    base: &str,
    carrier: &str,
    input: &'static str,
) -> Result<Item, DecodeError> {
    let p = |field| Within { base, field };
    let id = req_str(notification, &p("/MessageId"), input)?;
    let message = opt_str(notification, &p("/Message"), input)?;
    let object = p("/MessageAttributes");
    let map = opt_obj(notification, &object, input)?;
    let attributes = match map {
        Some(map) => message::text_attributes(map, &object, ["/Type", "/Value"], input)?,
        None => BTreeMap::new(),
    };
    let fields = NotificationFields {
        id,
        message,
        carriers: map.and(notification.get("MessageAttributes")),
        carrier,
        attributes,
        subject: opt_str(notification, &p("/Subject"), input)?,
        time_unix_nano: opt_rfc3339_as_nanos(notification, &p("/Timestamp"), input)?,
    };
    Ok(fields.item())
}

#[cfg(test)]
#[path = "sns_tests.rs"]
mod tests;
