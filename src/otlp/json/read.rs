//! Field readers for OTLP/JSON: the proto3 JSON mapping's input rules, with OTLP's
//! deviations, one function per protobuf scalar kind.
//!
//! proto3 JSON rules applied here: `null` means "not set" for every field; 64-bit and
//! 32-bit integers are accepted as numbers or decimal strings (a number with a zero
//! fraction such as `1.0` is an integer too); doubles as numbers or the strings `"NaN"`,
//! `"Infinity"`, `"-Infinity"` or a numeric string; bytes as standard or URL-safe base64,
//! padded or not; enums as integers or their names. OTLP's deviations: trace and span
//! ids are case-insensitive hex, not base64. OTLP forbids enum names on the wire, but the
//! Go collector accepts them and so do we: a receiver loses nothing by being lenient.

use super::path::Path;
use crate::error::DecodeError;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::{Map, Value};

pub(crate) type Object = Map<String, Value>;

/// Padding optional, and the unused low bits of the last symbol ignored (`"AB=="` is
/// `[0]`), as the proto3 JSON parsers and Go's `encoding/base64` decode.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const BASE64: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);

/// A field's value, with `null` read as absent, under its lowerCamelCase JSON name or its
/// original snake_case proto name (`traceId`, `trace_id`): proto3 JSON parsers accept both,
/// and so does the Collector's. OTLP names only the first valid, but ignoring the second
/// would drop such a field from every span relink re-encodes (and keep it in spans it
/// passes on as they came). Both at once is an error, as any repeated key is.
pub(crate) fn get<'a>(
    obj: &'a Object,
    path: &Path,
    key: &'static str,
) -> Result<Option<&'a Value>, DecodeError> {
    let present = |v: &&Value| !v.is_null();
    let camel = obj.get(key).filter(present);
    if !key.bytes().any(|b| b.is_ascii_uppercase()) {
        return Ok(camel);
    }
    let snake = obj.iter().find(|(name, _)| is_proto_name(name, key));
    match (camel, snake.filter(|(_, v)| present(v))) {
        (Some(_), Some((name, _))) => Err(path
            .field(key)
            .error(format!("both {key} and {name} are set"))),
        (camel, snake) => Ok(camel.or(snake.map(|(_, v)| v))),
    }
}

/// Whether `name` is the snake_case proto name of the lowerCamelCase JSON name `camel`.
fn is_proto_name(name: &str, camel: &str) -> bool {
    let mut rest = name.bytes();
    camel.bytes().all(|c| match c.is_ascii_uppercase() {
        true => rest.next() == Some(b'_') && rest.next() == Some(c.to_ascii_lowercase()),
        false => rest.next() == Some(c),
    }) && rest.next().is_none()
}

/// The value must be a JSON object.
pub(crate) fn object<'a>(value: &'a Value, path: &Path) -> Result<&'a Object, DecodeError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(path.error(format!("expected an object, got {}", kind(other)))),
    }
}

/// An optional sub-message.
pub(crate) fn message<T>(
    obj: &Object,
    path: &Path,
    key: &'static str,
    read: impl Fn(&Object, &Path) -> Result<T, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    let value = get(obj, path, key)?;
    let path = path.field(key);
    value.map(|v| read(object(v, &path)?, &path)).transpose()
}

/// A repeated field; each element is read by `read` with its index in the path.
pub(crate) fn repeated<T>(
    obj: &Object,
    path: &Path,
    key: &'static str,
    read: impl Fn(&Value, &Path) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let value = get(obj, path, key)?;
    let path = path.field(key);
    match value {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| read(item, &path.index(i)))
            .collect(),
        Some(other) => Err(path.error(format!("expected an array, got {}", kind(other)))),
    }
}

/// A repeated sub-message.
pub(crate) fn repeated_messages<T>(
    obj: &Object,
    path: &Path,
    key: &'static str,
    read: impl Fn(&Object, &Path) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    repeated(obj, path, key, |v, p| read(object(v, p)?, p))
}

/// A string field (absent: empty).
pub(crate) fn string(obj: &Object, path: &Path, key: &'static str) -> Result<String, DecodeError> {
    get(obj, path, key)?.map_or(Ok(String::new()), |v| string_value(v, &path.field(key)))
}

pub(crate) fn string_value(value: &Value, path: &Path) -> Result<String, DecodeError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(path.error(format!("expected a string, got {}", kind(other)))),
    }
}

pub(crate) fn bool_value(value: &Value, path: &Path) -> Result<bool, DecodeError> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(path.error(format!("expected true or false, got {}", kind(other)))),
    }
}

/// A `uint32` or `fixed32` field.
pub(crate) fn u32_field(obj: &Object, path: &Path, key: &'static str) -> Result<u32, DecodeError> {
    int_field(obj, path, key, 0, u32::MAX.into()).map(|n| n as u32)
}

/// An `int32` field.
pub(crate) fn i32_field(obj: &Object, path: &Path, key: &'static str) -> Result<i32, DecodeError> {
    int_field(obj, path, key, i32::MIN.into(), i32::MAX.into()).map(|n| n as i32)
}

/// A `fixed64` / `uint64` field (timestamps).
pub(crate) fn u64_field(obj: &Object, path: &Path, key: &'static str) -> Result<u64, DecodeError> {
    int_field(obj, path, key, 0, u64::MAX.into()).map(|n| n as u64)
}

/// An `int64` value.
pub(crate) fn i64_value(value: &Value, path: &Path) -> Result<i64, DecodeError> {
    integer(value, path, i64::MIN.into(), i64::MAX.into()).map(|n| n as i64)
}

pub(crate) fn i32_value(value: &Value, path: &Path) -> Result<i32, DecodeError> {
    integer(value, path, i32::MIN.into(), i32::MAX.into()).map(|n| n as i32)
}

fn int_field(
    obj: &Object,
    path: &Path,
    key: &'static str,
    min: i128,
    max: i128,
) -> Result<i128, DecodeError> {
    get(obj, path, key)?.map_or(Ok(0), |v| integer(v, &path.field(key), min, max))
}

/// An integer in `min..=max` from a JSON number or a decimal string. The casts done by
/// the callers are lossless because of this range check.
fn integer(value: &Value, path: &Path, min: i128, max: i128) -> Result<i128, DecodeError> {
    let parsed = match value {
        Value::Number(n) => number_integer(n),
        // A decimal string, or a number written as one (`"1e3"`, `"5.0"`), as proto3 JSON
        // parsers read it: the same integers either way.
        Value::String(s) => s.parse::<i128>().ok().or_else(|| {
            s.parse::<serde_json::Number>()
                .ok()
                .and_then(|n| number_integer(&n))
        }),
        other => return Err(path.error(format!("expected an integer, got {}", kind(other)))),
    };
    match parsed {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(n) => Err(path.error(format!("{n} is out of range {min}..={max}"))),
        None => Err(path.error(format!("expected an integer, got {}", preview(value)))),
    }
}

/// A JSON number that is an integer. A float is one only when it has no fraction; past
/// 2^64 it is out of range for every field, and reported as written rather than as a
/// saturated `f as i128`.
fn number_integer(n: &serde_json::Number) -> Option<i128> {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => Some(i128::from(i)),
        (_, Some(u), _) => Some(i128::from(u)),
        (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1.9e19 => Some(f as i128),
        _ => None,
    }
}

/// An enum field: an integer (proto3 enums are open, so unknown numbers are kept) or
/// one of the names `from_name` knows.
pub(crate) fn enum_field(
    obj: &Object,
    path: &Path,
    key: &'static str,
    from_name: impl Fn(&str) -> Option<i32>,
) -> Result<i32, DecodeError> {
    let value = get(obj, path, key)?;
    let path = path.field(key);
    match value {
        None => Ok(0),
        Some(Value::String(name))
            if !name.starts_with(|c: char| c == '-' || c.is_ascii_digit()) =>
        {
            from_name(name)
                .ok_or_else(|| path.error(format!("unknown enum name {}", preview_str(name))))
        }
        Some(value) => i32_value(value, &path),
    }
}

/// A trace or span id of `len` bytes as hex (absent or `""`: empty).
pub(crate) fn id_field(
    obj: &Object,
    path: &Path,
    key: &'static str,
    len: usize,
) -> Result<Vec<u8>, DecodeError> {
    let value = get(obj, path, key)?;
    let path = path.field(key);
    let text = match value {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(path.error(format!("expected a hex string, got {}", kind(other))))
        }
    };
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let digits = 2 * len;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(path.error(format!(
            "expected {digits} hex digits, got {}",
            preview_str(text)
        )));
    }
    if text.len() != digits {
        return Err(path.error(format!("expected {digits} hex digits, got {}", text.len())));
    }
    hex::decode(text).map_err(|e| path.error(format!("expected {digits} hex digits: {e}")))
}

/// Base64 bytes, standard or URL-safe alphabet (even mixed), padding optional, line breaks
/// skipped (MIME-style encoders wrap lines; Go's decoder and Python's skip them too).
pub(crate) fn bytes_value(value: &Value, path: &Path) -> Result<Vec<u8>, DecodeError> {
    let text = match value {
        Value::String(s) => s,
        other => return Err(path.error(format!("expected a base64 string, got {}", kind(other)))),
    };
    let decoded = match text.contains(['-', '_', '\r', '\n']) {
        false => BASE64.decode(text),
        true => {
            let standard: Vec<u8> = text
                .bytes()
                .filter(|b| !matches!(b, b'\r' | b'\n'))
                .map(|b| match b {
                    b'-' => b'+',
                    b'_' => b'/',
                    other => other,
                })
                .collect();
            BASE64.decode(standard)
        }
    };
    decoded.map_err(|e| path.error(format!("invalid base64: {e}")))
}

/// A double: a number, `"NaN"`, `"Infinity"`, `"-Infinity"` or a numeric string.
pub(crate) fn double_value(value: &Value, path: &Path) -> Result<f64, DecodeError> {
    let parsed = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            // Else a number in JSON's grammar, as protobuf's JSON parsers read one in a string.
            s => crate::json::fields::decimal_f64(s).filter(|f| f.is_finite()),
        },
        other => return Err(path.error(format!("expected a number, got {}", kind(other)))),
    };
    parsed.ok_or_else(|| path.error(format!("expected a number, got {}", preview(value))))
}

/// How a JSON value is described in errors.
pub(crate) use crate::json::fields::json_type as kind;

/// A scalar as it appears in the input, cut short so that errors stay one line.
fn preview(value: &Value) -> String {
    match value {
        Value::String(s) => preview_str(s),
        Value::Number(n) => n.to_string(),
        other => kind(other).to_owned(),
    }
}

fn preview_str(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head:?}...")
    }
}
