//! SQS events read from the borrowed JSON tree (`json::borrowed`): the fields relink needs,
//! without building a `serde_json::Value` of the whole batch (a `Value` is made only of
//! what the shared readers take one: the trace carrier attributes and a JSON body).
//!
//! After S3 notifications, SQS batches are the most common trigger event in evidence, and
//! a record carries much that relink does not read (receipt handle, digests, sender).
//! [`decode`] answers only for the plain shape (top-level `Records` alone, the first
//! record's `eventSource` `aws:sqs`, every field it reads of the type SQS sends, a string
//! body) and gives `None` for anything else, wrong or unusual alike; the caller then runs
//! the `Value` decoders, so every error (and every unusual input they accept) comes from the
//! one place. What it gives equals what [`super::decode_event`] gives for the same text
//! (tested over every fixture and over mutations of each SQS one).

use super::sqs::{trigger, RecordFields};
use super::{message, Trigger};
use crate::json::borrowed::Json;
use serde_json::Value;
use std::collections::BTreeMap;

/// The trigger of an SQS event in its plain shape, or `None` (see the module docs).
pub(crate) fn decode(event: &Json<'_>) -> Option<Trigger> {
    // Nothing but `Records`: other top-level keys could make it another kind of event or
    // carry a Step Functions context.
    let records = event.only("Records")?.elements()?;
    let first = records.first()?;
    if first.text("eventSource")? != Some("aws:sqs") {
        return None;
    }
    let mut items = Vec::with_capacity(records.len());
    for record in records {
        let attributes = record.object("messageAttributes")?;
        let carriers = attributes.and_then(|a| {
            message::borrowed_carriers(a, &["dataType", "stringValue", "binaryValue"])
        });
        items.push(fields(record, attributes, carriers.as_ref())?.item());
    }
    Some(trigger(
        items,
        first.text("eventSourceARN")?,
        first.text("awsRegion")?,
    ))
}

/// The fields of one record, or `None` where the `Value` decoder would fail or read
/// something else.
fn fields<'r>(
    record: &'r Json<'_>,
    attributes: Option<&'r Json<'_>>,
    carriers: Option<&'r Value>,
) -> Option<RecordFields<'r>> {
    let system = record.object("attributes")?;
    let text = |key| Json::text_in(system, key);
    // Numbers as SQS sends them, decimal strings; a JSON number is left to the `Value`
    // decoder.
    let number = |key| -> Option<Option<u64>> {
        match text(key)? {
            None => Some(None),
            Some(t) => t.trim().parse::<u64>().ok().map(Some),
        }
    };
    let sent_unix_nano = match number("SentTimestamp")? {
        None => None,
        Some(ms) => Some(ms.checked_mul(1_000_000)?),
    };
    // A string body only: an object body (which the `Value` decoder also takes) is left to
    // it.
    let body = record.text("body")?;
    Some(RecordFields {
        id: record.text("messageId")??,
        body_size: body.map(|b| b.len() as u64),
        body_json: body.and_then(message::parse_body),
        carriers,
        attributes: match attributes {
            Some(a) => message::borrowed_text_attributes(a, ["dataType", "stringValue"])?,
            None => BTreeMap::new(),
        },
        trace_header: text("AWSTraceHeader")?,
        receive_count: number("ApproximateReceiveCount")?,
        group_id: text("MessageGroupId")?,
        sent_unix_nano,
    })
}

#[cfg(test)]
#[path = "sqs_borrowed_tests.rs"]
mod tests;
