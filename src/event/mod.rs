//! AWS event payloads, one file per kind, decoded into a typed [`Trigger`].
//!
//! [`decode_event`] detects the kind from the JSON itself (see [`detect`]), so callers
//! never say what they are passing. Nested deliveries (S3 in SQS, SNS in SQS, EventBridge
//! in SQS, S3 in SNS) are decoded into [`Item::payload`].

mod alb;
mod apigateway_http;
mod apigateway_rest;
mod apigateway_websocket;
mod arn;
mod bare;
mod cloudwatch_logs;
mod detect;
mod dynamodb;
mod eventbridge;
mod firehose;
mod function_url;
mod http_request;
mod kinesis;
mod message;
mod s3;
mod s3_borrowed;
mod s3_eventbridge;
mod sns;
mod sqs;
mod sqs_borrowed;
mod stepfunctions_context;
#[cfg(test)]
mod test_fixtures;
mod trigger;

pub use cloudwatch_logs::{decode_logs_json, inflate_logs_data, MAX_INFLATED_BYTES};
pub use detect::{decode_event, decode_event_value, decode_event_value_with, detect_kind};
pub(crate) use stepfunctions_context::event_carrier;
pub use trigger::*;

/// The trigger of the most common events in evidence, S3 notifications and SQS batches,
/// read borrowed from the text (`s3_borrowed`, `sqs_borrowed`); `None` for every other
/// event and anything unusual in those two, which the `Value` decoders then read. Equal to
/// [`decode_event`]'s trigger whenever it answers.
pub(crate) fn decode_borrowed(text: &str) -> Option<Trigger> {
    // Which reader to try, from the text alone: each checks the event source itself, so a
    // wrong guess only costs the `Value` path.
    let s3 = text.contains("\"aws:s3\"");
    let sqs = text.contains("\"aws:sqs\"");
    if !s3 && !sqs {
        return None;
    }
    let event = crate::json::borrowed::parse(text)?;
    if s3 {
        if let Some(trigger) = s3_borrowed::decode(&event) {
            return Some(trigger);
        }
    }
    if sqs {
        return sqs_borrowed::decode(&event);
    }
    None
}
