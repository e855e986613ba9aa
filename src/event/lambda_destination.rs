//! Lambda destination records: what Lambda sends an `OnSuccess` or `OnFailure` destination
//! after an asynchronous invocation, and a stream event source mapping's on-failure
//! destination after its retries.
//!
//! Shape: <https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html>.
//! `requestContext` names the invocation (`requestId`, `functionArn` with its qualifier,
//! `condition`, `approximateInvokeCount`) beside `version`, `timestamp`, `requestPayload`,
//! `responseContext` and `responsePayload` (a stream mapping's record has
//! `KinesisBatchInfo`, `DDBStreamBatchInfo` or the Kafka batch instead of the payloads).
//! A destination function gets the record as its event, an SQS queue as a message body, an
//! SNS topic as the message, an EventBridge bus as the `detail` of a `Lambda Function
//! Invocation Result` event: those decoders put it in their item's payload.
//!
//! The record's one item is named by the request id, which the invocation's span records as
//! `faas.invocation_id`: the join (the processor's `aws.lambda.destination` rule). The
//! request payload is the source's own trigger and is not decoded: what triggered the source
//! did not trigger the destination.
//!
//! The older dead-letter queue gets no record but the event itself, with the invocation's
//! request id in the message's attributes: [`message`](super::message) reads that, and names
//! the invocation the same way.
//!
//! Not read: the records an S3 bucket destination stores (on failure only; a function
//! triggered by that object's notification is joined to nothing) and what a Kafka-topic
//! destination of a Kafka mapping receives (a Kafka record, read as one).

use super::{arn, Item, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{opt_rfc3339_as_nanos, req_str};
use crate::pointer::{Message, Pointer};
use serde_json::Value;

const INPUT: &str = "lambda destination event";

/// The `detail-type` of the EventBridge event a bus destination receives, before `Success`
/// or `Failure`.
const DETAIL_TYPE: &str = "Lambda Function Invocation Result - ";

/// Whether an object is a destination record: a `requestContext` naming a function and a
/// condition, which no request context of an HTTP event has. Types are the decoder's to
/// check, so a record with a wrong one is an error naming it, not an unknown event.
pub(crate) fn is_record(value: &Value) -> bool {
    value
        .get("requestContext")
        .and_then(Value::as_object)
        .is_some_and(|ctx| ctx.contains_key("functionArn") && ctx.contains_key("condition"))
}

/// Whether an EventBridge event is a bus destination's (`Lambda Function Invocation Result -
/// Success` or `- Failure`). Its `source` is `lambda` in events AWS delivers (LocalStack's
/// recordings against AWS) and `aws.lambda` in the current Lambda guide: both are read.
pub(crate) fn is_eventbridge_result(source: Option<&str>, detail_type: Option<&str>) -> bool {
    matches!(source, Some("lambda" | "aws.lambda"))
        && detail_type.is_some_and(|t| t.starts_with(DETAIL_TYPE))
}

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let request_id = req_str(value, "/requestContext/requestId", INPUT)?;
    let function_arn = req_str(value, "/requestContext/functionArn", INPUT)?;
    let condition = req_str(value, "/requestContext/condition", INPUT)?;
    let mut source = arn::source(Some(function_arn), None, None);
    source.name = function_name(function_arn).map(str::to_owned);
    let item = Item {
        id: Some(request_id.to_owned()),
        event_name: Some(condition.to_owned()),
        time_unix_nano: opt_rfc3339_as_nanos(value, "/timestamp", INPUT)?,
        pointers: vec![Pointer::Message(Message {
            service: "lambda",
            id: request_id.to_owned(),
        })],
        ..Item::default()
    };
    Ok(Trigger {
        kind: TriggerKind::LambdaDestination,
        via: None,
        source,
        items: vec![item],
        step_functions: None,
    })
}

/// `NAME` of `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
fn function_name(function_arn: &str) -> Option<&str> {
    let arn = arn::parse(function_arn)?;
    let name = arn.resource.strip_prefix("function:")?.split(':').next()?;
    (arn.service == "lambda" && !name.is_empty()).then_some(name)
}

#[cfg(test)]
#[path = "lambda_destination_tests.rs"]
mod tests;
