//! Field access for event decoders: every miss becomes an error naming the field.
//!
//! Paths are JSON pointers (`/requestContext/http/method`), which is also how errors
//! name the field.

use crate::error::DecodeError;
use serde_json::Value;

/// An optional string field. Present but not a string is an error: a payload with the
/// right shape but the wrong types is not silently half-decoded.
pub(crate) fn opt_str<'a>(
    v: &'a Value,
    path: &str,
    input: &'static str,
) -> Result<Option<&'a str>, DecodeError> {
    match v.pointer(path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(wrong_type(input, path, "a string", other)),
    }
}

/// A required string field.
pub(crate) fn req_str<'a>(
    v: &'a Value,
    path: &str,
    input: &'static str,
) -> Result<&'a str, DecodeError> {
    opt_str(v, path, input)?.ok_or_else(|| missing(input, path))
}

/// An optional owned string.
pub(crate) fn opt_string(
    v: &Value,
    path: &str,
    input: &'static str,
) -> Result<Option<String>, DecodeError> {
    Ok(opt_str(v, path, input)?.map(str::to_owned))
}

/// An optional unsigned integer given as a JSON number or a decimal string (AWS uses
/// both: SQS `SentTimestamp` is a string, API Gateway `requestTimeEpoch` a number).
pub(crate) fn opt_u64(v: &Value, path: &str, input: &'static str) -> Result<Option<u64>, DecodeError> {
    match v.pointer(path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(u) => Ok(Some(u)),
            // DynamoDB ApproximateCreationDateTime is a float of seconds in some payloads.
            None => match n.as_f64() {
                Some(f) if f.is_finite() && f >= 0.0 && f < 1.8e19 => Ok(Some(f as u64)),
                _ => Err(invalid(input, path, format!("{n} is not an unsigned integer"))),
            },
        },
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| invalid(input, path, format!("{s:?} is not an unsigned integer"))),
        Some(other) => Err(wrong_type(input, path, "an unsigned integer", other)),
    }
}

/// An optional number of seconds (possibly fractional) converted to unix nanoseconds.
pub(crate) fn opt_seconds_as_nanos(
    v: &Value,
    path: &str,
    input: &'static str,
) -> Result<Option<u64>, DecodeError> {
    let secs = match v.pointer(path) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(other) => return Err(wrong_type(input, path, "a number of seconds", other)),
    };
    match secs {
        Some(f) if f.is_finite() && (0.0..1.8e10).contains(&f) => Ok(Some((f * 1e9).round() as u64)),
        _ => Err(invalid(input, path, "not a plausible number of seconds".into())),
    }
}

/// An optional object field.
pub(crate) fn opt_obj<'a>(
    v: &'a Value,
    path: &str,
    input: &'static str,
) -> Result<Option<&'a serde_json::Map<String, Value>>, DecodeError> {
    match v.pointer(path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(wrong_type(input, path, "an object", other)),
    }
}

/// A required array field.
pub(crate) fn req_array<'a>(
    v: &'a Value,
    path: &str,
    input: &'static str,
) -> Result<&'a Vec<Value>, DecodeError> {
    match v.pointer(path) {
        None | Some(Value::Null) => Err(missing(input, path)),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(wrong_type(input, path, "an array", other)),
    }
}

/// Renders a JSON pointer as the dotted field name users know (`Records.0.s3.bucket`).
pub(crate) fn field_name(path: &str) -> String {
    path.trim_start_matches('/').replace('/', ".").replace("~1", "/").replace("~0", "~")
}

pub(crate) fn missing(input: &'static str, path: &str) -> DecodeError {
    DecodeError::MissingField { input, field: field_name(path) }
}

pub(crate) fn invalid(input: &'static str, path: &str, message: String) -> DecodeError {
    DecodeError::InvalidField { input, field: field_name(path), message }
}

fn wrong_type(input: &'static str, path: &str, want: &str, got: &Value) -> DecodeError {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    invalid(input, path, format!("expected {want}, found {got}"))
}

/// Joins a base pointer and a child key, escaping as RFC 6901 requires.
pub(crate) fn join(base: &str, key: &str) -> String {
    let mut out = String::with_capacity(base.len() + key.len() + 1);
    out.push_str(base);
    out.push('/');
    out.push_str(&key.replace('~', "~0").replace('/', "~1"));
    out
}
