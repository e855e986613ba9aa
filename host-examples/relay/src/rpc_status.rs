//! `google.rpc.Status`, the body of every OTLP/HTTP error answer and what gRPC's
//! `grpc-status-details-bin` carries, with the two details the relay writes and reads:
//! `RetryInfo` (how long a throttled client waits) and `BadRequest` (what is wrong with a
//! refused request: OTLP says the details of a 400, and of `INVALID_ARGUMENT`, SHOULD hold
//! one). Message and field numbers as in googleapis' `google/rpc/status.proto` and
//! `error_details.proto`; the JSON form is protobuf's JSON mapping (an `Any` as its
//! `@type` plus the message's fields).

use std::time::Duration;

use prost::Message;
use serde_json::{json, Map, Value};

/// `google.rpc.Status`. OTLP/HTTP does not use `code`; gRPC sets it to the call's code.
#[derive(Clone, PartialEq, Message)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `google.rpc.BadRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct BadRequest {
    #[prost(message, repeated, tag = "1")]
    pub field_violations: Vec<FieldViolation>,
}

/// `google.rpc.BadRequest.FieldViolation`.
#[derive(Clone, PartialEq, Message)]
pub struct FieldViolation {
    /// The path to the bad field in the request (`resource_spans.scope_spans.spans`, or
    /// `resourceSpans[0].scopeSpans[0].spans[0].traceId` for OTLP/JSON); empty when the
    /// request as a whole is bad (not protobuf, not JSON, a coding that does not inflate).
    #[prost(string, tag = "1")]
    pub field: String,
    #[prost(string, tag = "2")]
    pub description: String,
}

pub const RETRY_INFO: &str = "type.googleapis.com/google.rpc.RetryInfo";
pub const BAD_REQUEST: &str = "type.googleapis.com/google.rpc.BadRequest";

impl Status {
    /// A status with a message and no details.
    pub fn new(message: &str) -> Status {
        Status {
            code: 0,
            message: message.to_string(),
            details: Vec::new(),
        }
    }

    /// The `RetryInfo` delay among the details.
    pub fn retry_delay(&self) -> Option<Duration> {
        let info = self.details.iter().find(|d| d.type_url == RETRY_INFO)?;
        let delay = RetryInfo::decode(info.value.as_slice()).ok()?.retry_delay?;
        let seconds = u64::try_from(delay.seconds).ok()?;
        let nanos = u32::try_from(delay.nanos).ok()?.min(999_999_999);
        Some(Duration::new(seconds, nanos))
    }

    /// Protobuf's JSON mapping of the status: fields at their default are left out, and
    /// details of a type this module does not know (none that the relay writes) too, since
    /// an `Any` is written with its message's fields.
    pub fn to_json(&self) -> Vec<u8> {
        let mut object = Map::new();
        if self.code != 0 {
            object.insert("code".into(), json!(self.code));
        }
        if !self.message.is_empty() {
            object.insert("message".into(), json!(self.message));
        }
        let details: Vec<Value> = self.details.iter().filter_map(Any::to_json).collect();
        if !details.is_empty() {
            object.insert("details".into(), Value::Array(details));
        }
        Value::Object(object).to_string().into_bytes()
    }
}

impl Any {
    /// `RetryInfo` with `delay`.
    pub fn retry_info(delay: Duration) -> Any {
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
            }),
        };
        Any {
            type_url: RETRY_INFO.into(),
            value: info.encode_to_vec(),
        }
    }

    /// `BadRequest` with the one violation an error message of the relay names.
    pub fn bad_request(message: &str) -> Any {
        let request = BadRequest {
            field_violations: vec![violation(message)],
        };
        Any {
            type_url: BAD_REQUEST.into(),
            value: request.encode_to_vec(),
        }
    }

    fn to_json(&self) -> Option<Value> {
        let mut object = Map::new();
        object.insert("@type".into(), json!(self.type_url));
        match self.type_url.as_str() {
            BAD_REQUEST => {
                let request = BadRequest::decode(self.value.as_slice()).ok()?;
                let violations: Vec<Value> = request
                    .field_violations
                    .iter()
                    .map(|v| {
                        let mut violation = Map::new();
                        if !v.field.is_empty() {
                            violation.insert("field".into(), json!(v.field));
                        }
                        if !v.description.is_empty() {
                            violation.insert("description".into(), json!(v.description));
                        }
                        Value::Object(violation)
                    })
                    .collect();
                if !violations.is_empty() {
                    object.insert("fieldViolations".into(), Value::Array(violations));
                }
            }
            RETRY_INFO => {
                let info = RetryInfo::decode(self.value.as_slice()).ok()?;
                if let Some(d) = info.retry_delay {
                    // Seconds with 0, 3, 6 or 9 fraction digits, as the mapping writes.
                    let nanos = u32::try_from(d.nanos).ok()?;
                    let digits = format!("{nanos:09}");
                    let fraction = match nanos {
                        0 => "",
                        n if n % 1_000_000 == 0 => digits.get(..3)?,
                        n if n % 1_000 == 0 => digits.get(..6)?,
                        _ => digits.as_str(),
                    };
                    let dot = if fraction.is_empty() { "" } else { "." };
                    let text = format!("{}{dot}{fraction}s", d.seconds);
                    object.insert("retryDelay".into(), json!(text));
                }
            }
            _ => return None,
        }
        Some(Value::Object(object))
    }
}

/// The violation an error message names. The core's OTLP errors start with the path of
/// the bad field (`otlp protobuf: resource_spans.scope_spans.spans: invalid varint`,
/// `otlp json: resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex digits`);
/// an event's errors name it in backticks (``sqs: invalid field `Records[0].body`: ...``).
/// Anything else describes the request as a whole.
pub fn violation(message: &str) -> FieldViolation {
    let text = message.strip_prefix("relink: ").unwrap_or(message);
    let otlp = text
        .strip_prefix("otlp protobuf: ")
        .or_else(|| text.strip_prefix("otlp json: "));
    if let Some(rest) = otlp {
        return match rest.split_once(": ") {
            // `request` is how the JSON decoder names the body itself.
            Some(("request", what)) => whole(what),
            Some((path, what)) if is_path(path) => FieldViolation {
                field: path.to_string(),
                description: what.to_string(),
            },
            _ => whole(rest),
        };
    }
    let named = text
        .split_once("field `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(field, _)| field);
    match named {
        Some(field) if !field.is_empty() => FieldViolation {
            field: field.to_string(),
            description: text.to_string(),
        },
        _ => whole(text),
    }
}

fn whole(description: &str) -> FieldViolation {
    FieldViolation {
        field: String::new(),
        description: description.to_string(),
    }
}

/// A field path as the core writes one: names, indexes, and for a path too deep to print
/// whole, the `(N more)` in its middle.
fn is_path(text: &str) -> bool {
    let elided = match text.split_once(" more)") {
        Some((head, tail)) => match head.rsplit_once('(') {
            Some((before, count)) if count.bytes().all(|b| b.is_ascii_digit()) => {
                format!("{before}{tail}")
            }
            _ => return false,
        },
        None => text.to_string(),
    };
    !elided.is_empty()
        && elided
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(field: &str, description: &str) -> FieldViolation {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }

    #[test]
    fn violations_name_the_field_the_message_names() {
        let cases = [
            (
                "otlp protobuf: resource_spans.scope_spans.spans: invalid varint",
                v("resource_spans.scope_spans.spans", "invalid varint"),
            ),
            (
                "otlp json: resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex \
                 digits, got \"zz\"",
                v(
                    "resourceSpans[0].scopeSpans[0].spans[0].traceId",
                    "expected 32 hex digits, got \"zz\"",
                ),
            ),
            (
                "otlp protobuf: resource_spans.scope_spans.(90 more).value.array_value: \
                 recursion limit reached",
                v(
                    "resource_spans.scope_spans.(90 more).value.array_value",
                    "recursion limit reached",
                ),
            ),
            (
                "otlp json: request: expected an object, got an array",
                v("", "expected an object, got an array"),
            ),
            (
                "otlp protobuf: invalid wire type value: 7",
                v("", "invalid wire type value: 7"),
            ),
            (
                "otlp json: EOF while parsing a list at line 2 column 0",
                v("", "EOF while parsing a list at line 2 column 0"),
            ),
            (
                "relink: sqs: invalid field `Records[0].body`: expected a string",
                v(
                    "Records[0].body",
                    "sqs: invalid field `Records[0].body`: expected a string",
                ),
            ),
            (
                "request body: the body is not valid gzip: invalid header",
                v(
                    "",
                    "request body: the body is not valid gzip: invalid header",
                ),
            ),
        ];
        for (message, want) in cases {
            assert_eq!(violation(message), want, "{message}");
        }
    }

    #[test]
    fn statuses_read_back_and_write_protobufs_json_mapping() {
        let status = Status {
            code: 3,
            message: "bad \"span\"".into(),
            details: vec![
                Any::bad_request("otlp json: resourceSpans[0].x: no"),
                Any::retry_info(Duration::from_millis(2500)),
                Any {
                    type_url: "type.googleapis.com/example.Unknown".into(),
                    value: vec![1, 2],
                },
            ],
        };
        let read = Status::decode(status.encode_to_vec().as_slice()).unwrap();
        assert_eq!(read, status);
        assert_eq!(read.retry_delay(), Some(Duration::from_millis(2500)));
        let json: Value = serde_json::from_slice(&status.to_json()).unwrap();
        assert_eq!(
            json,
            json!({
                "code": 3,
                "message": "bad \"span\"",
                "details": [
                    {
                        "@type": BAD_REQUEST,
                        "fieldViolations": [{"field": "resourceSpans[0].x", "description": "no"}]
                    },
                    {"@type": RETRY_INFO, "retryDelay": "2.500s"}
                ]
            })
        );
        assert_eq!(Status::new("").to_json(), b"{}");
        let whole: Value = serde_json::from_slice(
            &Status {
                details: vec![Any::bad_request("not OTLP")],
                ..Status::new("not OTLP")
            }
            .to_json(),
        )
        .unwrap();
        assert_eq!(
            whole["details"][0]["fieldViolations"],
            json!([{"description": "not OTLP"}])
        );
    }
}
