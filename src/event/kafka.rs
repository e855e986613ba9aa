//! Apache Kafka records delivered to Lambda: Amazon MSK (`eventSource: aws:kafka`) and
//! self-managed Kafka (`aws:SelfManagedKafka`).
//!
//! Shape: <https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html>. `records` maps each
//! `{topic}-{partition}` to its records (`topic`, `partition`, `offset`, `timestamp` in
//! milliseconds, base64 `key` and `value`, `headers`). Each record becomes one item. Its
//! headers are the producer's: a tracer that propagates into Kafka (W3C `traceparent`,
//! Datadog's `x-datadog-*`) put its context there, so they are read as a carrier, as
//! Datadog's Lambda extension reads them. A header is a one-entry object whose value is the
//! header's bytes, written as an array of numbers (`[104, 105]`), of decimal strings
//! (`["104", "105"]`), or, from Java runtimes, as an object with index keys
//! (`{"0": "104", "1": "105"}`); a record list may also come as such an object. Kafka has
//! no message id: a record is named by its topic, partition and offset
//! (`{topic}-{partition}:{offset}`, a message pointer no producer claims yet).

use super::{arn, Detail, Item, MessageDetail, Source, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{invalid, missing, opt_str, wrong_type};
use crate::pointer::{Message, Pointer};
use crate::propagation::from_headers;
use base64::Engine;
use serde_json::{Map, Value};

const INPUT: &str = "kafka event";

/// The `eventSource` of the two Kafka event source mappings.
pub(crate) fn is_kafka_source(source: &str) -> bool {
    matches!(
        source,
        "aws:kafka" | "aws:SelfManagedKafka" | "SelfManagedKafka"
    )
}

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let groups = match value.get("records") {
        Some(Value::Object(groups)) => groups,
        Some(other) => return Err(wrong_type(INPUT, "/records", "an object", other)),
        None => return Err(missing(INPUT, "/records")),
    };
    let mut items = Vec::new();
    let mut topics: Vec<&str> = Vec::new();
    for (group, records) in groups {
        for (index, record) in in_order(records).into_iter().enumerate() {
            let path = format!(
                "/records/{}/{index}",
                group.replace('~', "~0").replace('/', "~1")
            );
            let (item, topic) = decode_record(record, &path)?;
            if !topics.contains(&topic) {
                topics.push(topic);
            }
            items.push(item);
        }
    }
    // One event source mapping reads one topic; a batch that names several has no single
    // destination.
    let topic = match topics.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    let cluster = opt_str(value, "/eventSourceArn", INPUT)?;
    Ok(Trigger {
        kind: TriggerKind::Kafka,
        via: None,
        source: Source {
            name: topic.map(str::to_owned),
            ..arn::source(cluster, None, None)
        },
        items,
        step_functions: None,
    })
}

/// The entries of a JSON array, or of an object with index keys (`{"0": ..., "1": ...}`)
/// in index order, up to the first missing index; anything else has none.
fn in_order(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(list) => list.iter().collect(),
        Value::Object(map) => (0..map.len())
            .map_while(|index| map.get(&index.to_string()))
            .collect(),
        _ => Vec::new(),
    }
}

fn decode_record<'a>(record: &'a Value, path: &str) -> Result<(Item, &'a str), DecodeError> {
    let Some(fields) = record.as_object() else {
        return Err(wrong_type(INPUT, path, "a record object", record));
    };
    let field = |name: &str| format!("{path}/{name}");
    let topic = match fields.get("topic") {
        Some(Value::String(topic)) if !topic.is_empty() => topic.as_str(),
        Some(other) => return Err(wrong_type(INPUT, &field("topic"), "a topic name", other)),
        None => return Err(missing(INPUT, &field("topic"))),
    };
    let partition = integer(fields, "partition", &field("partition"))?;
    let offset = integer(fields, "offset", &field("offset"))?;
    let time_unix_nano = match fields.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(Value::Number(ms)) => match ms.as_u64().and_then(|ms| ms.checked_mul(1_000_000)) {
            Some(nanos) => Some(nanos),
            None => {
                let message = format!("{ms} is not a time in milliseconds");
                return Err(invalid(INPUT, &field("timestamp"), message));
            }
        },
        Some(other) => {
            let want = "milliseconds since the epoch";
            return Err(wrong_type(INPUT, &field("timestamp"), want, other));
        }
    };
    let body_size = match fields.get("value") {
        Some(Value::String(value)) => base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .map(|bytes| bytes.len() as u64),
        _ => None,
    };
    let headers = headers(fields.get("headers"));
    // The same iterator type as HTTP headers', so the reader is not built twice.
    let list: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let contexts = from_headers(list.iter().copied(), "headers");
    let item = Item {
        id: None,
        event_name: None,
        time_unix_nano,
        contexts,
        pointers: vec![Pointer::Message(Message {
            service: "kafka",
            id: format!("{topic}-{partition}:{offset}"),
        })],
        detail: Some(Detail::Message(MessageDetail {
            body_size,
            partition: Some(partition),
            offset: Some(offset),
            ..MessageDetail::default()
        })),
        payload: None,
        step_functions: None,
    };
    Ok((item, topic))
}

/// A required non-negative integer field.
fn integer(fields: &Map<String, Value>, name: &str, path: &str) -> Result<u64, DecodeError> {
    match fields.get(name) {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| invalid(INPUT, path, format!("{n} is not a non-negative integer"))),
        Some(other) => Err(wrong_type(INPUT, path, "an integer", other)),
        None => Err(missing(INPUT, path)),
    }
}

/// A header byte: 0 to 255, or -128 to -1 as Java's signed bytes write it.
fn byte(n: i64) -> Option<u8> {
    u8::try_from(n)
        .ok()
        .or_else(|| i8::try_from(n).ok().map(|b| b.to_ne_bytes()[0]))
}

/// The record's headers whose bytes are UTF-8 text (carrier names are matched without
/// regard to case); a header that is not text is left out.
fn headers(value: Option<&Value>) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    for header in value.map(in_order).unwrap_or_default() {
        let Some(header) = header.as_object() else {
            continue;
        };
        for (name, bytes) in header {
            let bytes: Option<Vec<u8>> = in_order(bytes)
                .into_iter()
                .map(|b| match b {
                    Value::Number(n) => n.as_i64().and_then(byte),
                    Value::String(s) => s.parse::<i64>().ok().and_then(byte),
                    _ => None,
                })
                .collect();
            if let Some(text) = bytes.and_then(|b| String::from_utf8(b).ok()) {
                out.push((name.as_str(), text));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::test_fixtures::fixture;
    use serde_json::json;

    fn message(item: &Item) -> &MessageDetail {
        match &item.detail {
            Some(Detail::Message(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn header_bytes_in_every_form_are_read() {
        let headers_value = json!([
            {"traceparent": [48, 48]},
            {"a": ["104", "105"]},
            {"b": {"1": "105", "0": "104"}},
            {"Not-Text": [255]},
            {"bad": [256]},
            {"signed": [-61, -87]},
            "not an object"
        ]);
        assert_eq!(
            headers(Some(&headers_value)),
            vec![
                ("traceparent", "00".to_owned()),
                ("a", "hi".to_owned()),
                ("b", "hi".to_owned()),
                ("signed", "é".to_owned()),
            ]
        );
        let indexed = json!({"1": {"b": [98]}, "0": {"a": [97]}});
        assert_eq!(
            headers(Some(&indexed)),
            vec![("a", "a".to_owned()), ("b", "b".to_owned())]
        );
    }

    #[test]
    fn records_name_their_topic_partition_and_offset() -> Result<(), DecodeError> {
        let event = fixture("aws-lambda-go/kafka-event.json")?;
        let trigger = decode(&event)?;
        assert_eq!(trigger.kind, TriggerKind::Kafka);
        let item = trigger
            .items
            .first()
            .ok_or_else(|| missing(INPUT, "item"))?;
        assert_eq!(
            (message(item).partition, message(item).offset),
            (Some(0), Some(0))
        );
        assert_eq!(item.time_unix_nano, Some(1_595_035_749_700_000_000));
        assert_eq!(trigger.source.name.as_deref(), Some("AWSKafkaTopic"));
        assert_eq!(trigger.source.account.as_deref(), Some("012345678901"));
        Ok(())
    }

    /// Datadog's extension test payload: headers as Java writes them (objects with index
    /// keys), carrying the Datadog context its test expects (`msk_event.rs`).
    #[test]
    fn datadog_headers_give_the_context_datadog_joins() -> Result<(), DecodeError> {
        let event = fixture("datadog-lambda-extension/msk_event_with_headers.json")?;
        let decoded = serde_json::to_value(decode(&event)?).unwrap_or_default();
        let context = &decoded["items"][0]["contexts"][0];
        assert_eq!(context["datadog"]["trace_id"], "1497116011738644768");
        assert_eq!(context["datadog"]["parent_id"], "2239801583077304042");
        assert_eq!(context["trace_id"], "699c83650000000014c6d314a33b4120");
        Ok(())
    }

    #[test]
    fn malformed_records_name_the_field() {
        let err = |event: Value| decode(&event).map(|_| ()).unwrap_err().to_string();
        assert_eq!(
            err(json!({"eventSource": "aws:kafka"})),
            "kafka event: missing field `records`"
        );
        assert_eq!(
            err(json!({"records": {"t-0": [{"topic": "t", "partition": 0}]}})),
            "kafka event: missing field `records.t-0.0.offset`"
        );
        assert_eq!(
            err(json!({"records": {"t-0": [{"topic": "t", "partition": -1, "offset": 1}]}})),
            "kafka event: invalid field `records.t-0.0.partition`: -1 is not a non-negative integer"
        );
    }
}
