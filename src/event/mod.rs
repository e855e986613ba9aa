//! AWS event payloads, one file per kind, decoded into a typed [`Trigger`].
//!
//! [`decode_event`] detects the kind from the JSON itself (see [`detect`]), so callers
//! never say what they are passing. Nested deliveries (S3 in SQS, SNS in SQS, EventBridge
//! in SQS, S3 in SNS, a DynamoDB change in Kinesis, a Lambda destination record in SQS, SNS
//! or EventBridge) are decoded into [`Item::payload`].

mod alb;
mod apigateway_http;
mod apigateway_rest;
mod apigateway_websocket;
pub(crate) mod arn;
mod bare;
mod cloudwatch_logs;
mod detect;
mod dynamodb;
mod eventbridge;
mod firehose;
mod function_url;
mod http_request;
mod kafka;
mod kinesis;
mod lambda_destination;
mod message;
mod s3;
mod s3_borrowed;
mod s3_eventbridge;
mod sns;
mod sns_borrowed;
mod sqs;
mod sqs_borrowed;
mod stepfunctions_context;
#[cfg(test)]
pub(crate) mod test_fixtures;
mod trigger;
mod vpc_lattice;

use crate::json;

pub use cloudwatch_logs::{decode_logs_json, inflate_logs_data, MAX_INFLATED_BYTES};
pub use detect::{decode_event, decode_event_value, decode_event_value_with, detect_kind};
pub(crate) use stepfunctions_context::{
    event_carrier, find_within as find_step_functions_context, NESTED_DEPTH,
};
pub use trigger::*;

/// A reader of one kind of event from the borrowed tree.
type Reader = fn(&json::borrowed::Json<'_>) -> Option<Trigger>;

/// The trigger of the most common events in evidence, S3 notifications and SQS and SNS
/// deliveries, read from a borrowed tree of the text (`s3_borrowed`, `sqs_borrowed`,
/// `sns_borrowed`); `None` for every other event and anything unusual in those, which the
/// `Value` decoders then read. Equal to [`decode_event`]'s trigger whenever it answers.
pub(crate) fn decode_borrowed(text: &str) -> Option<Trigger> {
    // Which reader to try, from the text alone: each checks the event source itself, so a
    // wrong guess only costs the `Value` path.
    let readers: [(&str, Reader); 3] = [
        ("\"aws:s3\"", s3_borrowed::decode),
        ("\"aws:sqs\"", sqs_borrowed::decode),
        ("\"aws:sns\"", sns_borrowed::decode),
    ];
    let mut candidates = readers
        .iter()
        .filter(|(source, _)| text.contains(source))
        .peekable();
    candidates.peek()?;
    let event = json::borrowed::parse(text)?;
    candidates.find_map(|(_, decode)| decode(&event))
}
