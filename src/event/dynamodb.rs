//! DynamoDB Streams records delivered to Lambda (`Records[].eventSource == "aws:dynamodb"`).
//!
//! Each INSERT, MODIFY or REMOVE record becomes one item with a DynamoDB item pointer: the
//! table (from `eventSourceARN`, `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL`)
//! and the primary key, which is what the producer's PutItem/UpdateItem/DeleteItem named.
//! Key attributes can only be strings, numbers or binary in DynamoDB, so any other type in
//! `Keys` means the payload is not a stream record and is an error. The images stay in
//! DynamoDB JSON: relink does not interpret item contents.

use super::{arn, Detail, DynamodbDetail, Item, Source, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{
    invalid, missing, opt_epoch_as_nanos, opt_obj, opt_str, opt_string, opt_u64, req_array,
    FieldPath, InElement, InEntry,
};
use crate::pointer::{DynamodbItem, KeyValue, Pointer};
use serde_json::Value;

const INPUT: &str = "dynamodb event";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let records = req_array(value, "/Records", INPUT)?;
    let mut items = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        items.push(decode_record(record, index)?);
    }
    // One event source mapping reads one stream, so the first record names the table.
    let stream_arn = opt_str(value, "/Records/0/eventSourceARN", INPUT)?;
    let region = opt_str(value, "/Records/0/awsRegion", INPUT)?;
    let source = match stream_arn.and_then(table_of) {
        Some((table_arn, name)) => arn::source(Some(table_arn), Some(name), region),
        // Kinesis Data Streams for DynamoDB records name the table instead of a stream.
        None => Source {
            arn: stream_arn.map(str::to_owned),
            name: opt_str(value, "/Records/0/tableName", INPUT)?.map(str::to_owned),
            region: region.map(str::to_owned),
            ..Source::default()
        },
    };
    Ok(Trigger {
        kind: TriggerKind::Dynamodb,
        via: None,
        source,
        items,
        step_functions: None,
    })
}

/// The table ARN and name of a stream ARN. The source is the table: producers' spans
/// name tables, never streams.
fn table_of(stream_arn: &str) -> Option<(&str, &str)> {
    let parsed = arn::parse(stream_arn)?;
    if parsed.service != "dynamodb" {
        return None;
    }
    let name = parsed.resource_after("table")?;
    let table_arn = stream_arn
        .split_once("/stream/")
        .map_or(stream_arn, |(table, _)| table);
    Some((table_arn, name))
}

/// Record `index` of `Records`; fields are read from the record, errors name
/// `Records.<index>.<field>`.
fn decode_record(value: &Value, index: usize) -> Result<Item, DecodeError> {
    let p = |field| InElement {
        array: "/Records",
        index,
        field,
    };
    if opt_obj(value, &p("/dynamodb"), INPUT)?.is_none() {
        return Err(missing(INPUT, &p("/dynamodb").full()));
    }
    let keys = decode_keys(value, &p("/dynamodb/Keys"))?;
    let event_id = opt_string(value, &p("/eventID"), INPUT)?;
    let sequence_number = opt_string(value, &p("/dynamodb/SequenceNumber"), INPUT)?;
    let time = opt_epoch_as_nanos(value, &p("/dynamodb/ApproximateCreationDateTime"), INPUT)?;
    let arn_table = opt_str(value, &p("/eventSourceARN"), INPUT)?
        .and_then(table_of)
        .map(|(_, name)| name);
    // Records read from Kinesis Data Streams for DynamoDB name the table instead.
    let table = match arn_table {
        Some(name) => Some(name),
        None => opt_str(value, &p("/tableName"), INPUT)?,
    };
    let image = |field| -> Result<Option<Value>, DecodeError> {
        Ok(opt_obj(value, &p(field), INPUT)?.map(|m| Value::Object(m.clone())))
    };
    let detail = DynamodbDetail {
        stream_view_type: opt_string(value, &p("/dynamodb/StreamViewType"), INPUT)?,
        size_bytes: opt_u64(value, &p("/dynamodb/SizeBytes"), INPUT)?,
        new_image: image("/dynamodb/NewImage")?,
        old_image: image("/dynamodb/OldImage")?,
    };
    // Without a table the pointer hash cannot be computed, so there is no pointer.
    let pointers = match table {
        Some(table) => vec![Pointer::DynamodbItem(DynamodbItem {
            table: table.to_owned(),
            keys,
            event_id: event_id.clone(),
            sequence_number,
            approximate_creation_time: time,
        })],
        None => Vec::new(),
    };
    Ok(Item {
        id: event_id,
        event_name: opt_string(value, &p("/eventName"), INPUT)?,
        time_unix_nano: time,
        contexts: Vec::new(),
        pointers,
        detail: Some(Detail::Dynamodb(detail)),
        payload: None,
        step_functions: None,
    })
}

/// `Keys` as `(name, value)` pairs in the payload's order (serde_json keeps objects
/// sorted by name; the pointer hash sorts them anyway).
fn decode_keys(
    value: &Value,
    path: &InElement<'_>,
) -> Result<Vec<(String, KeyValue)>, DecodeError> {
    let Some(map) = opt_obj(value, path, INPUT)? else {
        return Err(missing(INPUT, &path.full()));
    };
    let mut keys = Vec::with_capacity(map.len());
    for (name, typed) in map {
        let key_path = InEntry {
            object: path,
            key: name,
            field: "",
        };
        let Some(typed) = typed.as_object() else {
            return Err(invalid(
                INPUT,
                &key_path.full(),
                "expected a typed attribute value such as {\"S\": ...}".into(),
            ));
        };
        let mut entries = typed.iter();
        let (Some((ty, text_value)), None) = (entries.next(), entries.next()) else {
            return Err(invalid(
                INPUT,
                &key_path.full(),
                format!("expected one type, found {}", typed.len()),
            ));
        };
        let text_path = InEntry {
            object: &key_path,
            key: ty,
            field: "",
        };
        let text = || -> Result<String, DecodeError> {
            opt_string(text_value, &text_path, INPUT)?
                .ok_or_else(|| missing(INPUT, &text_path.full()))
        };
        let key = match ty.as_str() {
            "S" => KeyValue::S(text()?),
            "N" => KeyValue::N(text()?),
            "B" => KeyValue::B(text()?),
            other => {
                return Err(invalid(
                    INPUT,
                    &key_path.full(),
                    format!("key attributes are S, N or B, found {other:?}"),
                ))
            }
        };
        keys.push((name.clone(), key));
    }
    Ok(keys)
}

#[cfg(test)]
#[path = "dynamodb_tests.rs"]
mod tests;
