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
mod stepfunctions_context;
#[cfg(test)]
mod test_fixtures;
mod trigger;

pub use cloudwatch_logs::{decode_logs_json, inflate_logs_data, MAX_INFLATED_BYTES};
pub use detect::{decode_event, decode_event_value, decode_event_value_with, detect_kind};
pub(crate) use s3_borrowed::decode as decode_s3_borrowed;
pub(crate) use stepfunctions_context::event_carrier;
pub use trigger::*;
