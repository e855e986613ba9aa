//! SQS messages delivered to Lambda (`Records[].eventSource == "aws:sqs"`).
//!
//! Trace context arrives two ways: in `messageAttributes` (`_datadog`, `traceparent`, ...,
//! set by the sending application's tracer) and in `attributes.AWSTraceHeader` (set by SQS
//! from the sender's X-Ray header). The application's own propagation is listed first: the
//! X-Ray header often names the sending Lambda's X-Ray segment rather than the
//! application's span. A `_datadog` attribute holding a Step Functions context object
//! (a state sent the message) gives the state span as a context, after the attributes'. A body that is itself an S3 notification, an SNS notification
//! (SNS to SQS without raw delivery) or an EventBridge event is decoded into the item's
//! payload; contexts found there stay on the payload's items.

use super::{
    arn, message, sns, stepfunctions_context, Detail, Item, MessageDetail, Trigger, TriggerKind,
};
use crate::error::DecodeError;
use crate::json::fields::pointer as json_pointer;
use crate::json::fields::{
    invalid, join, opt_millis_as_nanos, opt_obj, opt_str, opt_string, opt_u64, req_array, req_str,
};
use crate::pointer::{Message, Pointer};
use crate::propagation::{from_sqs_attributes, is_carrier_key, sqs_datadog_object, xray, Found};
use serde_json::Value;
use std::collections::BTreeMap;

const INPUT: &str = "sqs event";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let records = req_array(value, "/Records", INPUT)?;
    let mut items = Vec::with_capacity(records.len());
    for i in 0..records.len() {
        items.push(decode_record(value, &format!("/Records/{i}"))?);
    }
    // One event source mapping reads one queue, so the first record names it.
    let queue_arn = opt_str(value, "/Records/0/eventSourceARN", INPUT)?;
    let name = queue_arn.and_then(arn::parse).map(|a| a.resource);
    let region = opt_str(value, "/Records/0/awsRegion", INPUT)?;
    Ok(Trigger {
        kind: TriggerKind::Sqs,
        via: None,
        source: arn::source(queue_arn, name, region),
        items,
        step_functions: None,
    })
}

/// The event a body carries: an SNS notification envelope (SNS to SQS without raw message
/// delivery), an S3 notification or an EventBridge event.
fn embedded(body: &Value) -> Option<Box<Trigger>> {
    if sns::is_envelope(body) {
        return sns::decode_envelope(body).ok().map(Box::new);
    }
    message::decode_embedded(body)
}

fn decode_record(value: &Value, base: &str) -> Result<Item, DecodeError> {
    let p = |rel: &str| format!("{base}{rel}");
    let id = req_str(value, &p("/messageId"), INPUT)?.to_owned();
    let (body_size, body_json) = body(value, &p("/body"))?;
    let payload = body_json.as_ref().and_then(embedded);
    // A body decoded into `payload` is not repeated as raw JSON.
    let body_json = if payload.is_some() { None } else { body_json };
    opt_obj(value, &p("/attributes"), INPUT)?;
    let (mut contexts, attributes) = message_attributes(value, &p("/messageAttributes"))?;
    let carried = json_pointer(value, &p("/messageAttributes"))
        .and_then(sqs_datadog_object)
        .and_then(|o| stepfunctions_context::carried(&o, "messageAttributes._datadog"));
    let step_functions = carried.map(|(ctx, found)| {
        contexts.push(found);
        ctx
    });
    if let Some(header) = opt_str(value, &p("/attributes/AWSTraceHeader"), INPUT)? {
        if let Some(context) = xray::parse(header) {
            contexts.push(Found {
                context,
                carrier: "attributes.AWSTraceHeader".into(),
            });
        }
    }
    let detail = MessageDetail {
        body_size,
        receive_count: opt_u64(value, &p("/attributes/ApproximateReceiveCount"), INPUT)?,
        group_id: opt_string(value, &p("/attributes/MessageGroupId"), INPUT)?,
        attributes,
        body_json,
        ..MessageDetail::default()
    };
    Ok(Item {
        id: Some(id.clone()),
        event_name: None,
        time_unix_nano: opt_millis_as_nanos(value, &p("/attributes/SentTimestamp"), INPUT)?,
        contexts,
        pointers: vec![Pointer::Message(Message { service: "sqs", id })],
        detail: Some(Detail::Message(detail)),
        payload,
        step_functions,
    })
}

/// The body's size in bytes and its JSON form. SQS always sends a string; an object or
/// array is accepted as an already-parsed body, as Datadog's test payloads carry one.
fn body(value: &Value, path: &str) -> Result<(Option<u64>, Option<Value>), DecodeError> {
    match json_pointer(value, path) {
        None | Some(Value::Null) => Ok((None, None)),
        Some(Value::String(s)) => Ok((Some(s.len() as u64), message::parse_body(s))),
        Some(parsed @ (Value::Object(_) | Value::Array(_))) => Ok((None, Some(parsed.clone()))),
        Some(_) => Err(invalid(
            INPUT,
            path,
            "expected a string or a json object".into(),
        )),
    }
}

/// Contexts from the carrier attributes and the text-valued application attributes.
fn message_attributes(
    value: &Value,
    path: &str,
) -> Result<(Vec<Found>, BTreeMap<String, String>), DecodeError> {
    let mut attributes = BTreeMap::new();
    let Some(map) = opt_obj(value, path, INPUT)? else {
        return Ok((Vec::new(), attributes));
    };
    let contexts = match json_pointer(value, path) {
        Some(raw) => from_sqs_attributes(raw, "messageAttributes"),
        None => Vec::new(),
    };
    for name in map.keys() {
        if is_carrier_key(name) {
            continue;
        }
        let attr_path = join(path, name);
        if opt_obj(value, &attr_path, INPUT)?.is_none() {
            continue;
        }
        let data_type = opt_str(value, &format!("{attr_path}/dataType"), INPUT)?;
        let text = opt_str(value, &format!("{attr_path}/stringValue"), INPUT)?;
        if let (Some(data_type), Some(text)) = (data_type, text) {
            if message::is_text_type(data_type) {
                attributes.insert(name.clone(), text.to_owned());
            }
        }
    }
    Ok((contexts, attributes))
}

#[cfg(test)]
#[path = "sqs_tests.rs"]
mod tests;
