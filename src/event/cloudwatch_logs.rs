//! CloudWatch Logs subscription data: one item per log event.
//!
//! Shape: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html#LambdaFunctionExample>.
//! `awslogs.data` is base64 of gzip of a JSON document `{messageType, owner, logGroup,
//! logStream, subscriptionFilters, logEvents: [{id, timestamp (ms), message}]}`.
//! `CONTROL_MESSAGE` documents (sent when a subscription is created, to check the
//! destination) carry no log events. The inflated size is bounded, so a small payload
//! cannot expand into gigabytes (a gzip bomb). Firehose deliveries hold the same JSON
//! already inflated, one document after another: [`decode_logs_json`] reads those.

use super::{Detail, Item, LogEvent, Source, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::pointer as json_pointer;
use crate::json::fields::{invalid, missing, opt_str, opt_u64, req_array, req_str};
use crate::json::strict::Strict;
use base64::Engine;
use flate2::read::{MultiGzDecoder, ZlibDecoder};
use serde_json::Value;
use std::io::Read;

/// Upper bound on inflated subscription data (gzip bombs stop here).
pub const MAX_INFLATED_BYTES: usize = 16 * 1024 * 1024;

const INPUT: &str = "cloudwatch-logs event";
const DATA_FIELD: &str = "awslogs.data";

/// Decodes `awslogs.data` (base64 of gzip of JSON) into its JSON bytes, refusing to
/// inflate past `limit` bytes. zlib streams are accepted too: some tools (and one of
/// Powertools' sample events) compress with zlib instead of gzip.
pub fn inflate_logs_data(data: &str, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| DecodeError::Base64 {
            input: INPUT,
            field: DATA_FIELD.into(),
            message: e.to_string(),
        })?;
    let gzip_error = |message: String| DecodeError::Gzip {
        input: INPUT,
        field: DATA_FIELD.into(),
        message,
    };
    let reader: Box<dyn Read + '_> = match compressed.as_slice() {
        [0x1f, 0x8b, ..] => Box::new(MultiGzDecoder::new(compressed.as_slice())),
        // RFC 1950: deflate method 8, and the two header bytes are a multiple of 31.
        [cmf, flg, ..]
            if cmf & 0x0f == 8 && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0 =>
        {
            Box::new(ZlibDecoder::new(compressed.as_slice()))
        }
        _ => return Err(gzip_error("no gzip or zlib header".into())),
    };
    let mut out = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| gzip_error(e.to_string()))?;
    if out.len() > limit {
        return Err(gzip_error(format!(
            "inflates past the limit of {limit} bytes"
        )));
    }
    Ok(out)
}

pub(crate) fn decode(value: &Value, max_inflated_bytes: usize) -> Result<Trigger, DecodeError> {
    let data = req_str(value, "/awslogs/data", INPUT)?;
    let json = inflate_logs_data(data, max_inflated_bytes)?;
    let document: Value = crate::json::strict::from_slice(&json).map_err(|e| {
        invalid(
            INPUT,
            "/awslogs/data",
            format!("inflated data is not json: {e}"),
        )
    })?;
    let logs = read_document(&document, INPUT)?;
    Ok(trigger(logs.source, logs.items))
}

/// Decodes inflated subscription data: one JSON document, or several back to back as
/// Firehose writes them to S3. Items keep the documents' order. The source names the log
/// group and owner only when every document agrees on them.
pub fn decode_logs_json(bytes: &[u8]) -> Result<Trigger, DecodeError> {
    const JSON_INPUT: &str = "cloudwatch-logs data";
    let (mut source, mut control): (Option<Source>, Option<Source>) = (None, None);
    let mut items = Vec::new();
    for document in serde_json::Deserializer::from_slice(bytes).into_iter::<Strict>() {
        let Strict(document) = document.map_err(|e| DecodeError::Json {
            input: JSON_INPUT,
            message: e.to_string(),
        })?;
        let logs = read_document(&document, JSON_INPUT)?;
        // A control document (a health check among the data Firehose delivers) names no log
        // group or account: it names the batch only when nothing else does.
        if logs.items.is_empty() {
            control.get_or_insert(logs.source);
            continue;
        }
        source = Some(match source {
            None => logs.source,
            Some(seen) => Source {
                name: seen.name.filter(|n| logs.source.name.as_ref() == Some(n)),
                account: seen
                    .account
                    .filter(|a| logs.source.account.as_ref() == Some(a)),
                ..seen
            },
        });
        items.extend(logs.items);
    }
    match source.or(control) {
        Some(source) => Ok(trigger(source, items)),
        None => Err(DecodeError::Json {
            input: JSON_INPUT,
            message: "no json document".into(),
        }),
    }
}

struct Logs {
    source: Source,
    items: Vec<Item>,
}

fn trigger(source: Source, items: Vec<Item>) -> Trigger {
    Trigger {
        kind: TriggerKind::CloudwatchLogs,
        via: None,
        source,
        items,
        step_functions: None,
    }
}

fn read_document(document: &Value, input: &'static str) -> Result<Logs, DecodeError> {
    let message_type = req_str(document, "/messageType", input)?;
    let source = Source {
        name: opt_str(document, "/logGroup", input)?.map(str::to_owned),
        account: opt_str(document, "/owner", input)?.map(str::to_owned),
        ..Source::default()
    };
    match message_type {
        // A destination's health check: no log events, and `owner` is "CloudwatchLogs", not
        // an account.
        "CONTROL_MESSAGE" => {
            return Ok(Logs {
                source: Source {
                    account: None,
                    ..source
                },
                items: Vec::new(),
            })
        }
        "DATA_MESSAGE" => {}
        other => {
            let message = format!("{other:?} is not DATA_MESSAGE or CONTROL_MESSAGE");
            return Err(invalid(input, "/messageType", message));
        }
    }
    let log_group = req_str(document, "/logGroup", input)?;
    let log_stream = req_str(document, "/logStream", input)?;
    let events = req_array(document, "/logEvents", input)?;
    let mut items = Vec::with_capacity(events.len());
    for index in 0..events.len() {
        let base = format!("/logEvents/{index}");
        let field = |name: &str| format!("{base}/{name}");
        let time_unix_nano = match opt_u64(document, &field("timestamp"), input)? {
            None => None,
            Some(ms) => Some(ms.checked_mul(1_000_000).ok_or_else(|| {
                invalid(
                    input,
                    &field("timestamp"),
                    "timestamp is out of range".into(),
                )
            })?),
        };
        let message = match opt_str(document, &field("message"), input)? {
            Some(message) => message,
            None if json_pointer(document, &base).is_some_and(Value::is_object) => {
                return Err(missing(input, &field("message")))
            }
            None => return Err(invalid(input, &base, "expected a log event object".into())),
        };
        items.push(Item {
            id: opt_str(document, &field("id"), input)?.map(str::to_owned),
            time_unix_nano,
            detail: Some(Detail::Log(LogEvent {
                log_group: log_group.to_owned(),
                log_stream: log_stream.to_owned(),
                message: message.to_owned(),
            })),
            ..Item::default()
        });
    }
    Ok(Logs { source, items })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::detect_kind;
    use crate::event::test_fixtures::fixture;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use serde_json::json;
    use std::io::Write;

    const FIXTURES: &[&str] = &[
        "aws-lambda-rust-runtime/example-cloudwatch_logs-event.json",
        "datadog-lambda-python/cloudwatch-logs.json",
        "powertools-lambda-python/cloudWatchLogEvent.json",
        "powertools-lambda-python/cloudWatchLogEventWithPolicyLevel.json",
    ];

    fn gzip(bytes: &[u8]) -> Result<Vec<u8>, std::io::Error> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(bytes)?;
        encoder.finish()
    }

    fn awslogs(document: &Value) -> Result<Value, std::io::Error> {
        let data = base64::engine::general_purpose::STANDARD
            .encode(gzip(document.to_string().as_bytes())?);
        Ok(json!({"awslogs": {"data": data}}))
    }

    fn log(item: Option<&Item>) -> Option<&LogEvent> {
        match item.and_then(|i| i.detail.as_ref()) {
            Some(Detail::Log(log)) => Some(log),
            _ => None,
        }
    }

    #[test]
    fn every_fixture_is_detected_and_gives_two_log_events() -> Result<(), DecodeError> {
        for path in FIXTURES {
            let event = fixture(path)?;
            assert_eq!(
                detect_kind(&event),
                Some(TriggerKind::CloudwatchLogs),
                "{path}"
            );
            let trigger = decode(&event, MAX_INFLATED_BYTES)?;
            assert_eq!(
                trigger.source,
                Source {
                    name: Some("testLogGroup".into()),
                    account: Some("123456789123".into()),
                    ..Source::default()
                },
                "{path}"
            );
            let ids: Vec<_> = trigger.items.iter().map(|i| i.id.as_deref()).collect();
            assert_eq!(ids, vec![Some("eventId1"), Some("eventId2")], "{path}");
            let times: Vec<_> = trigger.items.iter().map(|i| i.time_unix_nano).collect();
            assert_eq!(
                times,
                vec![
                    Some(1_440_442_987_000_000_000),
                    Some(1_440_442_987_001_000_000)
                ],
                "{path}"
            );
            assert_eq!(
                log(trigger.items.get(1)),
                Some(&LogEvent {
                    log_group: "testLogGroup".into(),
                    log_stream: "testLogStream".into(),
                    message: "[ERROR] Second test message".into(),
                }),
                "{path}"
            );
        }
        Ok(())
    }

    #[test]
    fn control_message_gives_no_items() -> Result<(), Box<dyn std::error::Error>> {
        let doc = json!({
            "messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
            "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 1432826855000u64,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]
        });
        let trigger = decode(&awslogs(&doc)?, MAX_INFLATED_BYTES)?;
        assert_eq!(trigger.items, Vec::new());
        // "CloudwatchLogs" is who sent it, not an AWS account.
        assert_eq!(trigger.source.account, None);
        // Nothing was delivered: no hop span, at no time.
        let inferred = crate::inferred::infer_request(&trigger, &Default::default());
        assert_eq!(inferred.resource_spans, Vec::new());
        Ok(())
    }

    #[test]
    fn inflation_is_bounded() -> Result<(), Box<dyn std::error::Error>> {
        // 17 MiB of zeros compress to about 17 KiB: a small gzip bomb.
        let bomb = gzip(&vec![0u8; 17 * 1024 * 1024])?;
        let data = base64::engine::general_purpose::STANDARD.encode(&bomb);
        let err = inflate_logs_data(&data, MAX_INFLATED_BYTES)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("cloudwatch-logs event: field `awslogs.data` is not valid gzip: inflates past the limit of 16777216 bytes")
        );
        let small = base64::engine::general_purpose::STANDARD.encode(gzip(b"12345")?);
        assert_eq!(inflate_logs_data(&small, 5)?, b"12345".to_vec());
        assert!(matches!(
            inflate_logs_data(&small, 4),
            Err(DecodeError::Gzip { .. })
        ));
        Ok(())
    }

    #[test]
    fn bad_base64_gzip_and_json_name_the_field() -> Result<(), Box<dyn std::error::Error>> {
        let decode_str = |event: Value| {
            decode(&event, MAX_INFLATED_BYTES)
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(
            decode_str(json!({"awslogs": {"data": "not base64!"}})),
            Some("cloudwatch-logs event: field `awslogs.data` is not valid base64: Invalid symbol 32, offset 3.".into())
        );
        assert_eq!(
            decode_str(json!({"awslogs": {"data": "aGVsbG8gd29ybGQ="}})),
            Some(
                "cloudwatch-logs event: field `awslogs.data` is not valid gzip: no gzip or zlib header"
                    .into()
            )
        );
        let mut truncated = gzip(br#"{"messageType":"DATA_MESSAGE"}"#)?;
        truncated.truncate(truncated.len() / 2);
        let data = base64::engine::general_purpose::STANDARD.encode(&truncated);
        let err = decode_str(json!({"awslogs": {"data": data}}));
        assert!(
            err.as_deref().is_some_and(|e| e
                .starts_with("cloudwatch-logs event: field `awslogs.data` is not valid gzip: ")),
            "{err:?}"
        );
        let not_json =
            base64::engine::general_purpose::STANDARD.encode(gzip(b"{\"messageType\":")?);
        assert_eq!(
            decode_str(json!({"awslogs": {"data": not_json}})),
            Some("cloudwatch-logs event: invalid field `awslogs.data`: inflated data is not json: EOF while parsing a value at line 1 column 15".into())
        );
        assert_eq!(
            decode_str(json!({"awslogs": {"data": 5}})),
            Some(
                "cloudwatch-logs event: invalid field `awslogs.data`: expected a string, found a number"
                    .into()
            )
        );
        Ok(())
    }

    #[test]
    fn malformed_documents_name_the_field() -> Result<(), Box<dyn std::error::Error>> {
        let ok = json!({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g", "logStream": "s",
            "logEvents": [{"id": "a", "timestamp": 1, "message": "m"}]});
        let with = |pointer: &str, v: Value| -> Value {
            let mut doc = ok.clone();
            if let Some(slot) = doc.pointer_mut(pointer) {
                *slot = v;
            }
            doc
        };
        let cases = [
            (with("/messageType", json!("OTHER")), "cloudwatch-logs event: invalid field `messageType`: \"OTHER\" is not DATA_MESSAGE or CONTROL_MESSAGE"),
            (with("/logStream", Value::Null), "cloudwatch-logs event: missing field `logStream`"),
            (with("/logEvents", json!({})), "cloudwatch-logs event: invalid field `logEvents`: expected an array, found an object"),
            (with("/logEvents/0", json!("m")), "cloudwatch-logs event: invalid field `logEvents.0`: expected a log event object"),
            (with("/logEvents/0/message", Value::Null), "cloudwatch-logs event: missing field `logEvents.0.message`"),
            (with("/logEvents/0/timestamp", json!(u64::MAX)), "cloudwatch-logs event: invalid field `logEvents.0.timestamp`: timestamp is out of range"),
            (with("/logEvents/0/timestamp", json!(1e40)), "cloudwatch-logs event: invalid field `logEvents.0.timestamp`: 1e+40 is not an unsigned integer"),
        ];
        for (doc, want) in cases {
            assert_eq!(
                decode(&awslogs(&doc)?, MAX_INFLATED_BYTES)
                    .err()
                    .map(|e| e.to_string())
                    .as_deref(),
                Some(want)
            );
        }
        Ok(())
    }

    #[test]
    fn zlib_data_is_accepted() -> Result<(), DecodeError> {
        let t = decode(
            &fixture("powertools-lambda-python/cloudWatchLogEventWithPolicyLevel.json")?,
            MAX_INFLATED_BYTES,
        )?;
        assert_eq!(t.items.len(), 2);
        Ok(())
    }

    #[test]
    fn inflated_json_and_back_to_back_documents() -> Result<(), DecodeError> {
        let doc = |group: &str, id: &str| {
            json!({"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": group,
                "logStream": "s", "logEvents": [{"id": id, "timestamp": 1700000000000u64, "message": "m"}]})
            .to_string()
        };
        let one = decode_logs_json(doc("/aws/vendedlogs/states/x", "1").as_bytes())?;
        assert_eq!(one.source.name.as_deref(), Some("/aws/vendedlogs/states/x"));
        assert_eq!(
            one.items.first().and_then(|i| i.time_unix_nano),
            Some(1_700_000_000_000_000_000)
        );
        let same = format!("{}{}", doc("g", "1"), doc("g", "2"));
        let t = decode_logs_json(same.as_bytes())?;
        assert_eq!(
            t.items.iter().map(|i| i.id.as_deref()).collect::<Vec<_>>(),
            vec![Some("1"), Some("2")]
        );
        assert_eq!(t.source.name.as_deref(), Some("g"));
        assert_eq!(t.source.account.as_deref(), Some("111122223333"));
        let mixed = format!("{}\n{}", doc("g", "1"), doc("h", "2"));
        let t = decode_logs_json(mixed.as_bytes())?;
        assert_eq!((t.source.name, t.items.len()), (None, 2));
        assert_eq!(
            decode_logs_json(b"  ")
                .err()
                .map(|e| e.to_string())
                .as_deref(),
            Some("cloudwatch-logs data: invalid json: no json document")
        );
        assert!(matches!(
            decode_logs_json(b"{\"messageType\""),
            Err(DecodeError::Json { .. })
        ));
        Ok(())
    }
}
