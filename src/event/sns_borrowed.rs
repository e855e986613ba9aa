//! SNS notifications delivered to Lambda read from the borrowed JSON tree
//! (`json::borrowed`): the fields relink needs, without building a `serde_json::Value` of
//! the whole event (a `Value` is made only of what the shared readers take one: the trace
//! carrier attributes and a JSON message).
//!
//! [`decode`] answers only for the plain shape (top-level `Records` alone, the first
//! record's event source `aws:sns`, every field it reads of the type SNS sends) and gives
//! `None` for anything else, wrong or unusual alike; the caller then runs the `Value`
//! decoders, so every error (and every unusual input they accept) comes from the one
//! place. What it gives equals what [`super::decode_event`] gives for the same text (tested
//! over every fixture and over mutations of each SNS one, `sqs_borrowed_tests.rs`).

use super::sns::{trigger, NotificationFields};
use super::{message, Trigger};
use crate::json::borrowed::Json;
use serde_json::Value;
use std::collections::BTreeMap;

/// The trigger of an SNS event in its plain shape, or `None` (see the module docs).
pub(crate) fn decode(event: &Json<'_>) -> Option<Trigger> {
    // Nothing but `Records`: other top-level keys could make it another kind of event or
    // carry a Step Functions context.
    let records = event.only("Records")?.elements()?;
    let first = records.first()?;
    // Lambda writes `EventSource`; `eventSource`, when present, is what detection reads.
    let source = match first.get("eventSource") {
        Some(_) => first.text("eventSource")?,
        None => first.text("EventSource")?,
    };
    if source != Some("aws:sns") {
        return None;
    }
    let mut items = Vec::with_capacity(records.len());
    for record in records {
        let notification = record.object("Sns")??;
        let attributes = notification.object("MessageAttributes")?;
        let carriers = attributes.and_then(|a| message::borrowed_carriers(a, &["Type", "Value"]));
        items.push(fields(notification, attributes, carriers.as_ref())?.item());
    }
    let topic = first.object("Sns")??.text("TopicArn")?;
    Some(trigger(topic, items))
}

/// The fields of one notification, or `None` where the `Value` decoder would fail or read
/// something else.
fn fields<'r>(
    notification: &'r Json<'_>,
    attributes: Option<&'r Json<'_>>,
    carriers: Option<&'r Value>,
) -> Option<NotificationFields<'r>> {
    let time_unix_nano = match notification.text("Timestamp")? {
        Some(time) => Some(crate::time::parse_rfc3339(time)?),
        None => None,
    };
    Some(NotificationFields {
        id: notification.text("MessageId")??,
        message: notification.text("Message")?,
        carriers,
        carrier: "Sns.MessageAttributes",
        attributes: match attributes {
            Some(a) => message::borrowed_text_attributes(a, ["Type", "Value"])?,
            None => BTreeMap::new(),
        },
        subject: notification.text("Subject")?,
        time_unix_nano,
    })
}
