//! EventBridge events (`detail-type`, `source`, `detail`), from a rule target or a
//! schedule. S3 object events through EventBridge are decoded by
//! [`s3_eventbridge`](super::s3_eventbridge) instead; the invocation record in a Lambda
//! destination's event (`Lambda Function Invocation Result - ...` from `lambda`) is decoded
//! into the item's payload.
//!
//! EventBridge has no message attributes, so tracers put trace context in the event itself:
//! Datadog's tracers inject a `_datadog` object into `detail` (and an input transformer
//! may move it to the top level); other producers put a W3C `traceparent` in `detail`.
//! All three are read, in that order.

use super::{
    lambda_destination, stepfunctions_context, Detail, Item, MessageDetail, Source, Trigger,
    TriggerKind,
};
use crate::error::DecodeError;
use crate::json::fields::pointer as json_pointer;
use crate::json::fields::{opt_obj, opt_rfc3339_as_nanos, opt_str, opt_string, req_str};
use crate::pointer::{Message, Pointer};
use crate::propagation::from_json_carrier;
use serde_json::Value;

const INPUT: &str = "eventbridge event";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let id = req_str(value, "/id", INPUT)?.to_owned();
    let detail = opt_obj(value, "/detail", INPUT)?;
    let mut contexts = Vec::new();
    let mut step_functions = None;
    if let Some(carrier) = json_pointer(value, "/detail/_datadog").filter(|v| !v.is_null()) {
        contexts.extend(from_json_carrier(carrier, "detail._datadog"));
        if let Some((ctx, found)) = stepfunctions_context::carried(carrier, "detail._datadog") {
            contexts.push(found);
            step_functions = Some(ctx);
        }
    }
    if let Some(carrier) = value.get("_datadog").filter(|v| !v.is_null()) {
        contexts.extend(from_json_carrier(carrier, "_datadog"));
    }
    if opt_str(value, "/detail/traceparent", INPUT)?.is_some() {
        if let Some(d) = value.get("detail") {
            contexts.extend(from_json_carrier(d, "detail"));
        }
    }
    let event_source = opt_str(value, "/source", INPUT)?;
    let detail_type = opt_str(value, "/detail-type", INPUT)?;
    // A bus destination's event: its detail is the invocation record, decoded like one in an
    // SQS body (and, like one, left as an opaque detail when it does not decode).
    let payload = value
        .get("detail")
        .filter(|d| {
            lambda_destination::is_eventbridge_result(event_source, detail_type)
                && lambda_destination::is_record(d)
        })
        .and_then(|d| lambda_destination::decode(d).ok())
        .map(Box::new);
    let body_json = match payload {
        Some(_) => None,
        None => detail.map(|d| Value::Object(d.clone())),
    };
    let item = Item {
        id: Some(id.clone()),
        event_name: detail_type.map(str::to_owned),
        time_unix_nano: opt_rfc3339_as_nanos(value, "/time", INPUT)?,
        contexts,
        pointers: vec![Pointer::Message(Message {
            service: "eventbridge",
            id,
        })],
        detail: Some(Detail::Message(MessageDetail {
            subject: event_source.map(str::to_owned),
            body_json,
            ..MessageDetail::default()
        })),
        payload,
        step_functions,
    };
    Ok(Trigger {
        kind: TriggerKind::Eventbridge,
        via: None,
        source: Source {
            arn: first_resource(value)?,
            name: event_source.map(str::to_owned),
            region: opt_string(value, "/region", INPUT)?,
            account: opt_string(value, "/account", INPUT)?,
            ..Source::default()
        },
        items: vec![item],
        step_functions: None,
    })
}

/// The rule or schedule that delivered the event: the first `resources` entry that is an
/// EventBridge rule (`arn:aws:events:...:rule/...`, what a scheduled event lists) or an
/// EventBridge Scheduler schedule. The other entries are what the event concerns (an EC2
/// instance, a Batch job: "the AWS resources which the event primarily concerns", PutEvents
/// reference), not where it came from, so they are not the trigger's source. Every entry
/// must be a string.
fn first_resource(value: &Value) -> Result<Option<String>, DecodeError> {
    let Some(resources) = value.get("resources").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Some(list) = resources.as_array() else {
        return Err(crate::json::fields::invalid(
            INPUT,
            "/resources",
            "expected an array of strings".into(),
        ));
    };
    let mut routing = None;
    for i in 0..list.len() {
        let entry = opt_str(value, &format!("/resources/{i}"), INPUT)?;
        if routing.is_none() {
            routing = entry.filter(|arn| {
                let service = arn.split(':').nth(2);
                arn.starts_with("arn:") && matches!(service, Some("events" | "scheduler"))
            });
        }
    }
    Ok(routing.map(str::to_owned))
}

#[cfg(test)]
#[path = "eventbridge_tests.rs"]
mod tests;
