//! Records without the `Records` wrapper: EventBridge Pipes batches and single records.
//!
//! A pipe with a Lambda target delivers its batch as a JSON array of the source's records,
//! each in the shape Lambda's own event source mappings use (SQS messages, Kinesis records,
//! DynamoDB stream records; <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-event-target.html>).
//! Tests, replays and tooling also pass one such record on its own. Both are decoded as the
//! wrapped event would be (`{"Records": [...]}`), so pointers, contexts and inferred spans
//! are the same; errors name the field without the wrapper (`2.messageId`, `messageId`).

use super::TriggerKind;
use crate::error::DecodeError;
use serde_json::{Map, Value};

const INPUT: &str = "event";

/// The kind a bare record's `eventSource` names, for the sources Pipes batch.
fn record_kind(record: &Value) -> Option<TriggerKind> {
    match record.get("eventSource")?.as_str()? {
        "aws:sqs" => Some(TriggerKind::Sqs),
        "aws:kinesis" => Some(TriggerKind::Kinesis),
        "aws:dynamodb" => Some(TriggerKind::Dynamodb),
        _ => None,
    }
}

/// The kind of a bare record or batch: an object that is one record (and not a wrapped
/// event), or a non-empty array whose first element is one. `None` otherwise.
pub(crate) fn detect(value: &Value) -> Option<TriggerKind> {
    match value {
        Value::Object(o) if !o.contains_key("Records") => record_kind(value),
        Value::Array(records) => records.first().and_then(record_kind),
        _ => None,
    }
}

/// How a bare input was wrapped, so errors can be renamed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A JSON array of records (`Records.{i}` becomes `{i}`).
    Array,
    /// One record object (`Records.0.` becomes nothing).
    Single,
}

/// The wrapped event for a bare input, and its shape; `Ok(None)` when the input is not
/// bare. Every element of an array must be a record of the first element's kind: anything
/// else is an error naming the element.
pub(crate) fn wrap(value: &Value) -> Result<Option<(Value, TriggerKind, Shape)>, DecodeError> {
    let Some(kind) = detect(value) else {
        return Ok(None);
    };
    let (records, shape) = match value {
        Value::Array(records) => {
            for (i, record) in records.iter().enumerate() {
                check_element(i, record, kind)?;
            }
            (records.clone(), Shape::Array)
        }
        record => (vec![record.clone()], Shape::Single),
    };
    let mut wrapped = Map::new();
    wrapped.insert("Records".into(), Value::Array(records));
    Ok(Some((Value::Object(wrapped), kind, shape)))
}

fn check_element(i: usize, record: &Value, kind: TriggerKind) -> Result<(), DecodeError> {
    let source = match record {
        Value::Object(o) => o.get("eventSource"),
        other => {
            return Err(DecodeError::InvalidField {
                input: INPUT,
                field: i.to_string(),
                message: format!(
                    "expected a {} record, found {}",
                    kind.as_str(),
                    crate::json::fields::json_type(other)
                ),
            })
        }
    };
    if record_kind(record) == Some(kind) {
        return Ok(());
    }
    let found = match source {
        Some(Value::String(s)) => format!("`{s}`"),
        Some(other) => crate::json::fields::json_type(other).to_owned(),
        None => "no eventSource".to_owned(),
    };
    Err(DecodeError::InvalidField {
        input: INPUT,
        field: format!("{i}.eventSource"),
        message: format!("a batch of {} records cannot hold {found}", kind.as_str()),
    })
}

/// A decoder's error on the wrapped event, naming the field as the bare input has it.
pub(crate) fn rename(error: DecodeError, shape: Shape) -> DecodeError {
    let strip = |field: String| -> String {
        let Some(rest) = field.strip_prefix("Records") else {
            return field;
        };
        match shape {
            Shape::Array => rest.strip_prefix('.').unwrap_or(rest).to_owned(),
            Shape::Single => match rest.strip_prefix(".0") {
                Some(r) => r.strip_prefix('.').unwrap_or(r).to_owned(),
                None => rest.strip_prefix('.').unwrap_or(rest).to_owned(),
            },
        }
    };
    match error {
        DecodeError::MissingField { input, field } => DecodeError::MissingField {
            input,
            field: strip(field),
        },
        DecodeError::InvalidField {
            input,
            field,
            message,
        } => DecodeError::InvalidField {
            input,
            field: strip(field),
            message,
        },
        DecodeError::Base64 {
            input,
            field,
            message,
        } => DecodeError::Base64 {
            input,
            field: strip(field),
            message,
        },
        DecodeError::Gzip {
            input,
            field,
            message,
        } => DecodeError::Gzip {
            input,
            field: strip(field),
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::decode_event_value;
    use crate::event::test_fixtures::fixture;
    use serde_json::json;

    /// The wrapped fixture and its records as a bare array and as single records.
    fn forms(path: &str) -> Result<(Value, Value), DecodeError> {
        let wrapped = fixture(path)?;
        let records = wrapped
            .get("Records")
            .cloned()
            .ok_or_else(|| crate::json::fields::missing("fixture", "/Records"))?;
        Ok((wrapped, records))
    }

    #[test]
    fn arrays_and_single_records_decode_as_the_wrapped_event() -> Result<(), DecodeError> {
        for path in [
            "powertools-lambda-python/sqsEvent.json",
            "powertools-lambda-python/kinesisStreamEvent.json",
            "powertools-lambda-python/dynamoStreamEvent.json",
            "datadog-lambda-python/sqs-string-msg-attribute.json",
        ] {
            let (wrapped, records) = forms(path)?;
            let want = decode_event_value(&wrapped)?;
            assert_eq!(decode_event_value(&records)?, want, "{path} as an array");
            let Value::Array(list) = &records else {
                panic!("{path}: Records is not an array")
            };
            for (i, record) in list.iter().enumerate() {
                let single = decode_event_value(record)?;
                assert_eq!(single.kind, want.kind, "{path} record {i}");
                if i == 0 {
                    // The batch's source is its first record's.
                    assert_eq!(single.source, want.source, "{path}");
                }
                assert_eq!(
                    single.items.as_slice(),
                    want.items.get(i..=i).unwrap_or(&[])
                );
            }
        }
        Ok(())
    }

    #[test]
    fn mixed_and_unknown_arrays_name_the_element() -> Result<(), DecodeError> {
        let (_, sqs) = forms("powertools-lambda-python/sqsEvent.json")?;
        let (_, kinesis) = forms("powertools-lambda-python/kinesisStreamEvent.json")?;
        let (Some(s), Some(k)) = (sqs.get(0), kinesis.get(0)) else {
            panic!("fixtures have records")
        };
        let cases = [
            (
                json!([s, s, k]),
                "event: invalid field `2.eventSource`: a batch of sqs records cannot hold `aws:kinesis`",
            ),
            (
                json!([k, {"eventSource": "aws:s3"}]),
                "event: invalid field `1.eventSource`: a batch of kinesis records cannot hold `aws:s3`",
            ),
            (
                json!([s, {"messageId": "m"}]),
                "event: invalid field `1.eventSource`: a batch of sqs records cannot hold no eventSource",
            ),
            (
                json!([s, 7]),
                "event: invalid field `1`: expected a sqs record, found a number",
            ),
            (
                json!([{"eventSource": "aws:s3"}]),
                "event: not a known aws event payload (a json array)",
            ),
            (json!([]), "event: not a known aws event payload (a json array)"),
        ];
        for (event, want) in cases {
            let got = decode_event_value(&event).err().map(|e| e.to_string());
            assert_eq!(got.as_deref(), Some(want), "{event}");
        }
        Ok(())
    }

    #[test]
    fn errors_name_the_field_of_the_bare_input() {
        let array =
            json!([{"eventSource": "aws:sqs", "messageId": "a"}, {"eventSource": "aws:sqs"}]);
        assert_eq!(
            decode_event_value(&array).err().map(|e| e.to_string()),
            Some("sqs event: missing field `1.messageId`".into())
        );
        let single = json!({"eventSource": "aws:dynamodb", "eventID": "e"});
        assert_eq!(
            decode_event_value(&single).err().map(|e| e.to_string()),
            Some("dynamodb event: missing field `dynamodb`".into())
        );
    }

    #[test]
    fn wrapped_events_and_other_objects_are_not_bare() {
        assert_eq!(
            detect(&json!({"Records": [{"eventSource": "aws:sqs"}]})),
            None
        );
        assert_eq!(detect(&json!({"eventSource": "aws:s3"})), None);
        assert_eq!(detect(&json!("aws:sqs")), None);
        assert_eq!(
            detect(&json!({"eventSource": "aws:kinesis"})),
            Some(TriggerKind::Kinesis)
        );
    }
}
