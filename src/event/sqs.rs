//! SQS messages delivered to Lambda (`Records[].eventSource == "aws:sqs"`).
//!
//! Trace context arrives two ways: in `messageAttributes` (`_datadog`, `traceparent`, ...,
//! set by the sending application's tracer) and in `attributes.AWSTraceHeader` (set by SQS
//! from the sender's X-Ray header). The application's own propagation is listed first: the
//! X-Ray header often names the sending Lambda's X-Ray segment rather than the
//! application's span. A `_datadog` attribute holding a Step Functions context object
//! (a state sent the message) gives the state span as a context, after the attributes'. A
//! body that is itself an S3 notification, an SNS notification (SNS to SQS without raw
//! delivery), an EventBridge event or a Lambda destination record is decoded into the
//! item's payload; contexts found there stay on the payload's items.

use super::{arn, message, sns, stepfunctions_context, Item, MessageDetail, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::pointer as json_pointer;
use crate::json::fields::{
    invalid, opt_millis_as_nanos, opt_obj, opt_str, opt_u64, req_array, req_str, FieldPath,
    InElement,
};
use crate::propagation::{from_sqs_attributes, sqs_datadog_object, xray, Found};
use serde_json::Value;
use std::collections::BTreeMap;

const INPUT: &str = "sqs event";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let records = req_array(value, "/Records", INPUT)?;
    let mut items = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        items.push(decode_record(record, index)?);
    }
    // One event source mapping reads one queue, so the first record names it.
    Ok(trigger(
        items,
        opt_str(value, "/Records/0/eventSourceARN", INPUT)?,
        opt_str(value, "/Records/0/awsRegion", INPUT)?,
    ))
}

/// The trigger of decoded records, named by the first record's queue ARN and region.
pub(super) fn trigger(items: Vec<Item>, queue_arn: Option<&str>, region: Option<&str>) -> Trigger {
    let name = queue_arn.and_then(arn::parse).map(|a| a.resource);
    Trigger {
        kind: TriggerKind::Sqs,
        via: None,
        source: arn::source(queue_arn, name, region),
        items,
        step_functions: None,
    }
}

/// What one record says, however it was read (from a `Value`, or borrowed from the text by
/// `sqs_borrowed`): [`RecordFields::item`] makes the item from it.
pub(super) struct RecordFields<'r> {
    pub id: &'r str,
    /// The body's size and JSON form (see [`body`]).
    pub body_size: Option<u64>,
    pub body_json: Option<Value>,
    /// `messageAttributes` holding (at least) every trace carrier the record has.
    pub carriers: Option<&'r Value>,
    /// The text-valued application attributes (carriers left out).
    pub attributes: BTreeMap<String, String>,
    pub trace_header: Option<&'r str>,
    pub receive_count: Option<u64>,
    pub group_id: Option<&'r str>,
    pub sent_unix_nano: Option<u64>,
}

impl RecordFields<'_> {
    pub(super) fn item(self) -> Item {
        let payload = match message::dead_letter_request(&self.attributes) {
            Some(_) => None,
            None => self.body_json.as_ref().and_then(embedded),
        };
        // A body decoded into `payload` is not repeated as raw JSON.
        let body_json = if payload.is_some() {
            None
        } else {
            self.body_json
        };
        let mut contexts = match self.carriers {
            Some(raw) => from_sqs_attributes(raw, "messageAttributes"),
            None => Vec::new(),
        };
        let carried = self
            .carriers
            .and_then(sqs_datadog_object)
            .and_then(|o| stepfunctions_context::carried(&o, "messageAttributes._datadog"));
        let step_functions = carried.map(|(ctx, found)| {
            contexts.push(found);
            ctx
        });
        if let Some(context) = self.trace_header.and_then(xray::parse) {
            contexts.push(Found {
                context,
                carrier: "attributes.AWSTraceHeader".into(),
            });
        }
        let detail = MessageDetail {
            body_size: self.body_size,
            receive_count: self.receive_count,
            group_id: self.group_id.map(str::to_owned),
            attributes: self.attributes,
            body_json,
            ..MessageDetail::default()
        };
        message::item(
            "sqs",
            self.id,
            self.sent_unix_nano,
            contexts,
            detail,
            payload,
            step_functions,
        )
    }
}

/// The event a body carries: an SNS notification envelope (SNS to SQS without raw message
/// delivery), an S3 notification, an EventBridge event or a Lambda destination record.
fn embedded(body: &Value) -> Option<Box<Trigger>> {
    if sns::is_envelope(body) {
        return sns::decode_envelope(body).ok().map(Box::new);
    }
    message::decode_embedded(body)
}

/// Record `index` of `Records`; fields are read from the record (a batch holds up to
/// 10,000), errors name `Records.<index>.<field>`.
fn decode_record(record: &Value, index: usize) -> Result<Item, DecodeError> {
    let p = |field| InElement {
        array: "/Records",
        index,
        field,
    };
    let id = req_str(record, &p("/messageId"), INPUT)?;
    let (body_size, body_json) = body(record, &p("/body"))?;
    opt_obj(record, &p("/attributes"), INPUT)?;
    let attributes = message_attributes(record, index)?;
    let fields = RecordFields {
        id,
        body_size,
        body_json,
        carriers: record.get("messageAttributes"),
        attributes,
        trace_header: opt_str(record, &p("/attributes/AWSTraceHeader"), INPUT)?,
        receive_count: opt_u64(record, &p("/attributes/ApproximateReceiveCount"), INPUT)?,
        group_id: opt_str(record, &p("/attributes/MessageGroupId"), INPUT)?,
        sent_unix_nano: opt_millis_as_nanos(record, &p("/attributes/SentTimestamp"), INPUT)?,
    };
    Ok(fields.item())
}

/// The body's size in bytes and its JSON form. SQS always sends a string; an object or
/// array is accepted as an already-parsed body, as Datadog's test payloads carry one.
fn body(record: &Value, path: &InElement<'_>) -> Result<(Option<u64>, Option<Value>), DecodeError> {
    match json_pointer(record, path.relative()) {
        None | Some(Value::Null) => Ok((None, None)),
        Some(Value::String(s)) => Ok((Some(s.len() as u64), message::parse_body(s))),
        Some(parsed @ (Value::Object(_) | Value::Array(_))) => Ok((None, Some(parsed.clone()))),
        Some(_) => Err(invalid(
            INPUT,
            &path.full(),
            "expected a string or a json object".into(),
        )),
    }
}

/// The text-valued application attributes of record `index` (carriers left out).
fn message_attributes(
    record: &Value,
    index: usize,
) -> Result<BTreeMap<String, String>, DecodeError> {
    let object = InElement {
        array: "/Records",
        index,
        field: "/messageAttributes",
    };
    match opt_obj(record, &object, INPUT)? {
        Some(map) => message::text_attributes(map, &object, ["/dataType", "/stringValue"], INPUT),
        None => Ok(BTreeMap::new()),
    }
}

#[cfg(test)]
#[path = "sqs_tests.rs"]
mod tests;
