//! Detects the kind of an AWS event from its JSON shape and dispatches to its decoder.
//!
//! Lambda does not tell a function what invoked it; every runtime library (Powertools,
//! Datadog's, the Rust runtime) guesses from the payload's shape. The rules here follow
//! the documented payloads: a `Records` array names its `eventSource`, EventBridge events
//! have `detail-type` and `source`, HTTP events have a `requestContext` whose fields tell
//! REST, HTTP, WebSocket, ALB and function URL apart (one naming a `functionArn` and a
//! `condition` is a Lambda destination record), Kafka events have a `records` object.
//! Records without the wrapper (EventBridge Pipes batches, single records) are decoded as the
//! wrapped event, see [`bare`].

use super::{
    alb, apigateway_http, apigateway_rest, apigateway_websocket, bare, cloudwatch_logs, dynamodb,
    eventbridge, firehose, function_url, kafka, kinesis, lambda_destination, s3, s3_eventbridge,
    sns, sqs, stepfunctions_context, vpc_lattice, Trigger, TriggerKind,
};
use crate::error::DecodeError;
use serde_json::Value;

/// Decodes an event from raw JSON bytes.
pub fn decode_event(bytes: &[u8]) -> Result<Trigger, DecodeError> {
    let bytes = crate::json::without_bom(bytes);
    let value: Value = crate::json::strict::from_slice(bytes).map_err(|e| DecodeError::Json {
        input: "event",
        message: e.to_string(),
    })?;
    decode_event_value(&value)
}

/// Decodes an already-parsed event.
pub fn decode_event_value(value: &Value) -> Result<Trigger, DecodeError> {
    decode_event_value_with(value, cloudwatch_logs::MAX_INFLATED_BYTES)
}

/// [`decode_event_value`] inflating CloudWatch Logs subscription data up to
/// `max_inflated_bytes` (the processor passes `limits.max_decompressed_bytes`).
pub fn decode_event_value_with(
    value: &Value,
    max_inflated_bytes: usize,
) -> Result<Trigger, DecodeError> {
    if let Some((wrapped, kind, shape)) = bare::wrap(value)? {
        let decoded = match kind {
            TriggerKind::Sqs => sqs::decode(&wrapped),
            TriggerKind::Kinesis => kinesis::decode(&wrapped),
            TriggerKind::Dynamodb => dynamodb::decode(&wrapped),
            _ => Err(DecodeError::UnknownEvent {
                hint: describe(value),
            }),
        };
        return decoded.map_err(|e| bare::rename(e, shape));
    }
    let sfn = stepfunctions_context::find(value)?;
    let kind = match detect_kind(value) {
        Some(kind) => kind,
        None => {
            return match sfn {
                Some(ctx) => Ok(stepfunctions_context::trigger(ctx)),
                None => Err(DecodeError::UnknownEvent {
                    hint: describe(value),
                }),
            }
        }
    };
    let mut trigger = match kind {
        TriggerKind::S3 if value.get("detail-type").is_some() => s3_eventbridge::decode(value)?,
        TriggerKind::S3 => s3::decode(value)?,
        TriggerKind::Dynamodb => dynamodb::decode(value)?,
        TriggerKind::Sqs => sqs::decode(value)?,
        TriggerKind::Sns => sns::decode(value)?,
        TriggerKind::Eventbridge => eventbridge::decode(value)?,
        TriggerKind::Kinesis => kinesis::decode(value)?,
        TriggerKind::Kafka => kafka::decode(value)?,
        TriggerKind::Firehose => firehose::decode(value)?,
        TriggerKind::ApigatewayRest => apigateway_rest::decode(value)?,
        TriggerKind::ApigatewayHttp => apigateway_http::decode(value)?,
        TriggerKind::ApigatewayWebsocket => apigateway_websocket::decode(value)?,
        TriggerKind::Alb => alb::decode(value)?,
        TriggerKind::FunctionUrl => function_url::decode(value)?,
        TriggerKind::VpcLattice => vpc_lattice::decode(value)?,
        TriggerKind::CloudwatchLogs => cloudwatch_logs::decode(value, max_inflated_bytes)?,
        TriggerKind::LambdaDestination => lambda_destination::decode(value)?,
        TriggerKind::Stepfunctions => match sfn.clone() {
            Some(ctx) => stepfunctions_context::trigger(ctx),
            None => {
                return Err(DecodeError::UnknownEvent {
                    hint: describe(value),
                })
            }
        },
    };
    if trigger.step_functions.is_none() {
        trigger.step_functions = sfn;
    }
    Ok(trigger)
}

/// The kind an event's shape says it is, or `None` when it matches no known shape.
pub fn detect_kind(value: &Value) -> Option<TriggerKind> {
    if let Some(kind) = bare::detect(value) {
        return Some(kind);
    }
    let obj = value.as_object()?;
    if let Some(Value::Array(records)) = obj.get("Records") {
        let first = records.first()?;
        let source = first
            .get("eventSource")
            .or_else(|| first.get("EventSource"))
            .and_then(Value::as_str)?;
        return match source {
            "aws:s3" => Some(TriggerKind::S3),
            "aws:dynamodb" => Some(TriggerKind::Dynamodb),
            "aws:sqs" => Some(TriggerKind::Sqs),
            "aws:sns" => Some(TriggerKind::Sns),
            "aws:kinesis" => Some(TriggerKind::Kinesis),
            _ => None,
        };
    }
    if let (Some(Value::Object(_)), Some(Value::String(source))) =
        (obj.get("records"), obj.get("eventSource"))
    {
        if kafka::is_kafka_source(source) {
            return Some(TriggerKind::Kafka);
        }
    }
    if obj.get("awslogs").and_then(|a| a.get("data")).is_some() {
        return Some(TriggerKind::CloudwatchLogs);
    }
    if obj.contains_key("deliveryStreamArn") && obj.contains_key("records") {
        return Some(TriggerKind::Firehose);
    }
    if let (Some(Value::String(_)), Some(Value::String(source))) =
        (obj.get("detail-type"), obj.get("source"))
    {
        return Some(
            if source == "aws.s3" && s3_eventbridge::is_object_event(value) {
                TriggerKind::S3
            } else {
                TriggerKind::Eventbridge
            },
        );
    }
    if lambda_destination::is_record(value) {
        return Some(TriggerKind::LambdaDestination);
    }
    // Before API Gateway: Lattice's `version: 2.0` is not an HTTP API event.
    if vpc_lattice::is_request(value) {
        return Some(TriggerKind::VpcLattice);
    }
    if let Some(ctx) = obj.get("requestContext").and_then(Value::as_object) {
        if ctx.contains_key("elb") {
            return Some(TriggerKind::Alb);
        }
        if ctx.contains_key("connectionId") && ctx.contains_key("eventType") {
            return Some(TriggerKind::ApigatewayWebsocket);
        }
        let v2 = obj.get("version").and_then(Value::as_str) == Some("2.0");
        if v2 || ctx.get("http").is_some() {
            let domain = ctx.get("domainName").and_then(Value::as_str).unwrap_or("");
            return Some(if domain.contains(".lambda-url.") {
                TriggerKind::FunctionUrl
            } else {
                TriggerKind::ApigatewayHttp
            });
        }
        if obj.contains_key("httpMethod") || ctx.contains_key("httpMethod") {
            return Some(TriggerKind::ApigatewayRest);
        }
    }
    if stepfunctions_context::looks_like_context(value) {
        return Some(TriggerKind::Stepfunctions);
    }
    None
}

/// A short description of an unrecognised payload for the error message.
fn describe(value: &Value) -> String {
    match value {
        Value::Object(m) if m.is_empty() => "an empty json object".into(),
        Value::Object(m) => {
            let mut keys: Vec<&str> = m.keys().map(String::as_str).take(8).collect();
            keys.sort_unstable();
            let listed = format!("top-level keys: {}", keys.join(", "));
            match records_source(value) {
                Some(source) => format!("{listed}; {source}"),
                None => listed,
            }
        }
        Value::Array(_) => "a json array".into(),
        _ => "not a json object".into(),
    }
}

/// What the first record names as its source (`eventSource`, `EventSource`, or for
/// CloudFront its `cf` member), or that there is no first record: `Records` alone is
/// every record-based service.
fn records_source(value: &Value) -> Option<String> {
    let records = value.get("Records")?.as_array()?;
    let Some(first) = records.first() else {
        return Some("Records is empty".into());
    };
    let named = ["eventSource", "EventSource"]
        .iter()
        .find_map(|k| first.get(*k).and_then(Value::as_str));
    Some(match named {
        Some(source) => format!("Records[0] is from `{source}`"),
        None if first.get("cf").is_some() => "Records[0] is from CloudFront (Lambda@Edge)".into(),
        None => "Records[0] names no eventSource".into(),
    })
}
