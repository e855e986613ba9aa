//! Kinesis Data Streams records delivered to Lambda (`Records[].eventSource == "aws:kinesis"`).
//!
//! Each record becomes one item. Its pointer is `{shardId}:{sequenceNumber}`: PutRecord
//! returns exactly that pair to the producer, so the write and the read name the same
//! record. The shard comes from `eventID` (`shardId-000000000000:4954...`). The data is
//! base64; when it decodes to a JSON document it is kept as the body, and a `_datadog`
//! object in it (Datadog's tracers inject one into JSON records) yields contexts, and so
//! does a Step Functions context object there (a state's PutRecord), as for SQS.
//! Server-side encrypted records (`encryptionType: KMS`) arrive decrypted and decode alike.
//! A record of Kinesis Data Streams for DynamoDB holds the change record DynamoDB wrote
//! (`eventSource: aws:dynamodb`, the table named by `tableName`): it is read as a nested
//! DynamoDB trigger, so the item's pointer joins the write that changed it, as a DynamoDB
//! stream's would.

use super::{
    arn, message, stepfunctions_context, Detail, Item, MessageDetail, Trigger, TriggerKind,
};
use crate::error::DecodeError;
use crate::json::fields::{
    field_name, missing, opt_obj, opt_seconds_as_nanos, opt_str, opt_string, req_array, req_str,
    FieldPath, InElement,
};
use crate::pointer::{Message, Pointer};
use crate::propagation::from_json_carrier;
use base64::Engine;
use serde_json::Value;

const INPUT: &str = "kinesis event";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let records = req_array(value, "/Records", INPUT)?;
    let mut items = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        items.push(decode_record(record, index)?);
    }
    let stream_arn = opt_str(value, "/Records/0/eventSourceARN", INPUT)?;
    let name = stream_arn
        .and_then(arn::parse)
        .and_then(|a| a.resource_after("stream"));
    let region = opt_str(value, "/Records/0/awsRegion", INPUT)?;
    let source = arn::source(stream_arn, name, region);
    // A table streams its changes only to a stream of its own account.
    for item in &mut items {
        if let Some(change) = item.payload.as_deref_mut() {
            if change.source.account.is_none() {
                change.source.account.clone_from(&source.account);
            }
        }
    }
    Ok(Trigger {
        kind: TriggerKind::Kinesis,
        via: None,
        source,
        items,
        step_functions: None,
    })
}

/// Record `index` of `Records`; fields are read from the record, errors name
/// `Records.<index>.<field>`.
fn decode_record(record: &Value, index: usize) -> Result<Item, DecodeError> {
    let p = |field| InElement {
        array: "/Records",
        index,
        field,
    };
    if opt_obj(record, &p("/kinesis"), INPUT)?.is_none() {
        return Err(missing(INPUT, &p("/kinesis").full()));
    }
    let (size, body_json) = decode_data(record, &p("/kinesis/data"), INPUT)?;
    let sequence_number = req_str(record, &p("/kinesis/sequenceNumber"), INPUT)?;
    let event_id = opt_string(record, &p("/eventID"), INPUT)?;
    let shard = event_id
        .as_deref()
        .and_then(|id| id.split_once(':'))
        .map(|(shard, _)| shard);
    let pointers = match shard {
        Some(shard) if !shard.is_empty() => vec![Pointer::Message(Message {
            service: "kinesis",
            id: format!("{shard}:{sequence_number}"),
        })],
        _ => Vec::new(),
    };
    let payload = body_json.as_ref().and_then(dynamodb_change);
    // A body decoded into `payload` is not repeated as raw JSON.
    let body_json = body_json.filter(|_| payload.is_none());
    let mut contexts = Vec::new();
    let mut step_functions = None;
    if let Some(carrier) = body_json.as_ref().and_then(|b| b.get("_datadog")) {
        const LOCATION: &str = "kinesis.data._datadog";
        contexts = from_json_carrier(carrier, LOCATION);
        if let Some((ctx, found)) = stepfunctions_context::carried(carrier, LOCATION) {
            contexts.push(found);
            step_functions = Some(ctx);
        }
    }
    Ok(Item {
        id: event_id,
        event_name: None,
        time_unix_nano: opt_seconds_as_nanos(
            record,
            &p("/kinesis/approximateArrivalTimestamp"),
            INPUT,
        )?,
        contexts,
        pointers,
        detail: Some(Detail::Message(MessageDetail {
            body_size: Some(size),
            partition_key: opt_string(record, &p("/kinesis/partitionKey"), INPUT)?,
            sequence_number: Some(sequence_number.to_owned()),
            body_json,
            ..MessageDetail::default()
        })),
        payload,
        step_functions,
    })
}

/// The DynamoDB change record a Kinesis Data Streams for DynamoDB record carries, as a
/// DynamoDB trigger of one item; `None` for any other data, or one that does not decode
/// (it then stays the record's JSON body).
fn dynamodb_change(body: &Value) -> Option<Box<Trigger>> {
    if !body.get("tableName").is_some_and(Value::is_string) {
        return None;
    }
    // A bare stream record, wrapped as the `Records` event it would be part of.
    match super::bare::wrap(body).ok()?? {
        (records, TriggerKind::Dynamodb, _) => super::dynamodb::decode(&records).ok().map(Box::new),
        _ => None,
    }
}

/// Decodes the required base64 `data` at `path`: its decoded size, and the decoded bytes
/// as JSON when they are a UTF-8 JSON object or array. Shared with Firehose.
pub(crate) fn decode_data<P: FieldPath + ?Sized>(
    value: &Value,
    path: &P,
    input: &'static str,
) -> Result<(u64, Option<Value>), DecodeError> {
    let text = req_str(value, path, input)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| DecodeError::Base64 {
            input,
            field: field_name(&path.full()),
            message: e.to_string(),
        })?;
    let json = std::str::from_utf8(&bytes)
        .ok()
        .and_then(message::parse_body);
    Ok((bytes.len() as u64, json))
}

#[cfg(test)]
#[path = "kinesis_tests.rs"]
mod tests;
