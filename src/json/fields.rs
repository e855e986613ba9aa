//! Field access for the decoders of AWS payloads (events, Step Functions logs and
//! history): every miss becomes an error naming the field.
//!
//! Paths are JSON pointers (`/requestContext/http/method`), which is also how errors
//! name the field.

use crate::error::DecodeError;
use serde_json::Value;
use std::borrow::Cow;

/// Where a field is: a JSON pointer from the value given (`&str`), or a pointer inside an
/// array element given as the value ([`InElement`]). Errors name the full path; a decoder
/// of array elements then neither formats a path per field nor walks from the top.
pub(crate) trait FieldPath {
    /// The pointer from the value the field is read from.
    fn relative(&self) -> &str;
    /// The pointer from the top of the payload, for errors.
    fn full(&self) -> Cow<'_, str>;
}

impl FieldPath for str {
    fn relative(&self) -> &str {
        self
    }
    fn full(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl FieldPath for String {
    fn relative(&self) -> &str {
        self
    }
    fn full(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

/// The field at `field` inside element `index` of the array at `array` (`/Records`, 0,
/// `/s3/bucket/name`), read from that element.
pub(crate) struct InElement<'a> {
    pub array: &'a str,
    pub index: usize,
    pub field: &'a str,
}

impl FieldPath for InElement<'_> {
    fn relative(&self) -> &str {
        self.field
    }
    fn full(&self) -> Cow<'_, str> {
        Cow::Owned(format!("{}/{}{}", self.array, self.index, self.field))
    }
}

/// The field at `field` under a path whose full form is `base` (a record's `/Records/3/Sns`,
/// formatted once for all its fields), read from the value at `base`.
pub(crate) struct Within<'a> {
    pub base: &'a str,
    pub field: &'a str,
}

impl FieldPath for Within<'_> {
    fn relative(&self) -> &str {
        self.field
    }
    fn full(&self) -> Cow<'_, str> {
        Cow::Owned(format!("{}{}", self.base, self.field))
    }
}

/// The field at `field` inside the entry `key` of the object at `object` (the
/// `Attribute1` of a record's `/messageAttributes`, then `/dataType`), read from the entry:
/// the entries of a map are walked without a path of their own.
pub(crate) struct InEntry<'a> {
    pub object: &'a dyn FieldPath,
    pub key: &'a str,
    pub field: &'a str,
}

impl FieldPath for InEntry<'_> {
    fn relative(&self) -> &str {
        self.field
    }
    fn full(&self) -> Cow<'_, str> {
        Cow::Owned(format!(
            "{}{}",
            join(&self.object.full(), self.key),
            self.field
        ))
    }
}

/// An optional string field. Present but not a string is an error: a payload with the
/// right shape but the wrong types is not silently half-decoded.
pub(crate) fn opt_str<'a, P: FieldPath + ?Sized>(
    v: &'a Value,
    path: &P,
    input: &'static str,
) -> Result<Option<&'a str>, DecodeError> {
    match pointer(v, path.relative()) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(wrong_type(input, &path.full(), "a string", other)),
    }
}

/// A required string field.
pub(crate) fn req_str<'a, P: FieldPath + ?Sized>(
    v: &'a Value,
    path: &P,
    input: &'static str,
) -> Result<&'a str, DecodeError> {
    opt_str(v, path, input)?.ok_or_else(|| missing(input, &path.full()))
}

/// An optional owned string.
pub(crate) fn opt_string<P: FieldPath + ?Sized>(
    v: &Value,
    path: &P,
    input: &'static str,
) -> Result<Option<String>, DecodeError> {
    Ok(opt_str(v, path, input)?.map(str::to_owned))
}

/// An optional unsigned integer given as a JSON number or a decimal string (AWS uses
/// both: SQS `SentTimestamp` is a string, API Gateway `requestTimeEpoch` a number).
pub(crate) fn opt_u64<P: FieldPath + ?Sized>(
    v: &Value,
    path: &P,
    input: &'static str,
) -> Result<Option<u64>, DecodeError> {
    match pointer(v, path.relative()) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(u) => Ok(Some(u)),
            // DynamoDB ApproximateCreationDateTime is a float of seconds in some payloads.
            None => match n.as_f64() {
                Some(f) if f.is_finite() && (0.0..1.8e19).contains(&f) => Ok(Some(f as u64)),
                _ => Err(invalid(
                    input,
                    &path.full(),
                    format!("{n} is not an unsigned integer"),
                )),
            },
        },
        Some(Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| {
            invalid(
                input,
                &path.full(),
                format!("{s:?} is not an unsigned integer"),
            )
        }),
        Some(other) => Err(wrong_type(
            input,
            &path.full(),
            "an unsigned integer",
            other,
        )),
    }
}

/// An optional number of seconds (possibly fractional) converted to unix nanoseconds.
/// The decimal text is converted exactly: going through `f64` would turn Kinesis's
/// `1480641523.477` into `1480641523476999936` nanoseconds.
pub(crate) fn opt_seconds_as_nanos<P: FieldPath + ?Sized>(
    v: &Value,
    path: &P,
    input: &'static str,
) -> Result<Option<u64>, DecodeError> {
    let text = match pointer(v, path.relative()) {
        None | Some(Value::Null) => return Ok(None),
        // serde_json prints a float in its shortest round-trip form (`1480641523.477`).
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(other) => {
            return Err(wrong_type(
                input,
                &path.full(),
                "a number of seconds",
                other,
            ))
        }
    };
    match decimal_seconds_to_nanos(&text) {
        Some(nanos) => Ok(Some(nanos)),
        None => Err(invalid(
            input,
            &path.full(),
            format!("{text:?} is not a plausible number of seconds"),
        )),
    }
}

/// DynamoDB's `ApproximateCreationDateTime`: seconds in DynamoDB Streams records,
/// milliseconds or microseconds in Kinesis Data Streams for DynamoDB ones (the stream's
/// `ApproximateCreationDateTimePrecision`), told apart by size: a time before the year 2540
/// is below 1.8e10 in seconds, 1.8e13 in milliseconds and 1.8e16 in microseconds.
pub(crate) fn opt_epoch_as_nanos<P: FieldPath + ?Sized>(
    v: &Value,
    path: &P,
    input: &'static str,
) -> Result<Option<u64>, DecodeError> {
    const MILLIS: u64 = 18_000_000_000_000;
    match opt_seconds_as_nanos(v, path, input) {
        Err(e) => match opt_u64(v, path, input) {
            Ok(Some(ms)) if ms < MILLIS => Ok(Some(ms * 1_000_000)),
            Ok(Some(us)) if us < MILLIS * 1_000 => Ok(Some(us * 1_000)),
            _ => Err(e),
        },
        seconds => seconds,
    }
}

/// An optional number of milliseconds since the epoch (number or decimal string, as SQS
/// `SentTimestamp` and Firehose `approximateArrivalTimestamp` give it) in nanoseconds.
pub(crate) fn opt_millis_as_nanos<P: FieldPath + ?Sized>(
    v: &Value,
    path: &P,
    input: &'static str,
) -> Result<Option<u64>, DecodeError> {
    match opt_u64(v, path, input)? {
        None => Ok(None),
        Some(ms) => ms.checked_mul(1_000_000).map(Some).ok_or_else(|| {
            invalid(
                input,
                &path.full(),
                format!("{ms} milliseconds is out of range"),
            )
        }),
    }
}

/// An optional RFC 3339 time (S3 `eventTime`, SNS `Timestamp`, EventBridge `time`) in unix
/// nanoseconds. A string that is not such a time is an error, not a missing value.
pub(crate) fn opt_rfc3339_as_nanos<P: FieldPath + ?Sized>(
    v: &Value,
    path: &P,
    input: &'static str,
) -> Result<Option<u64>, DecodeError> {
    match opt_str(v, path, input)? {
        None => Ok(None),
        Some(s) => crate::time::parse_rfc3339(s).map(Some).ok_or_else(|| {
            invalid(
                input,
                &path.full(),
                format!("{s:?} is not an RFC 3339 time"),
            )
        }),
    }
}

/// A number written in JSON's grammar (`-1.5e3`; not `+1`, `.5`, `inf` or padded), correctly
/// rounded. serde_json parses it: `str::parse::<f64>` would link core's float parser and
/// its 20 KB table of powers of five into every .wasm.
pub(crate) fn decimal_f64(text: &str) -> Option<f64> {
    text.parse::<serde_json::Number>().ok()?.as_f64()
}

/// Seconds below 1.8e10 (year 2540) as nanoseconds; digits past nanoseconds are dropped.
fn decimal_seconds_to_nanos(text: &str) -> Option<u64> {
    const MAX_SECS: u64 = 18_000_000_000;
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) {
        // Exponent forms (`1.5e9`) are rare enough that f64 precision is acceptable.
        let f = decimal_f64(text)?;
        return (f.is_finite() && (0.0..MAX_SECS as f64).contains(&f))
            .then(|| (f * 1e9).round() as u64);
    }
    let secs: u64 = int.parse().ok()?;
    if secs >= MAX_SECS {
        return None;
    }
    let mut nanos = 0u64;
    let mut scale = 100_000_000u64;
    for c in frac.bytes().take(9) {
        nanos += u64::from(c - b'0') * scale;
        scale /= 10;
    }
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// An optional object field.
pub(crate) fn opt_obj<'a, P: FieldPath + ?Sized>(
    v: &'a Value,
    path: &P,
    input: &'static str,
) -> Result<Option<&'a serde_json::Map<String, Value>>, DecodeError> {
    match pointer(v, path.relative()) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(wrong_type(input, &path.full(), "an object", other)),
    }
}

/// A required array field.
pub(crate) fn req_array<'a, P: FieldPath + ?Sized>(
    v: &'a Value,
    path: &P,
    input: &'static str,
) -> Result<&'a Vec<Value>, DecodeError> {
    match pointer(v, path.relative()) {
        None | Some(Value::Null) => Err(missing(input, &path.full())),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(wrong_type(input, &path.full(), "an array", other)),
    }
}

/// `Value::pointer` without its allocations: serde_json unescapes every token with two
/// `str::replace` calls, a tenth of relinking time on batches full of events. Same
/// semantics (RFC 6901; array indexes without sign or leading zeros).
pub(crate) fn pointer<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(value);
    }
    let mut target = value;
    for token in path.strip_prefix('/')?.split('/') {
        let unescaped;
        let token = if token.contains('~') {
            unescaped = token.replace("~1", "/").replace("~0", "~");
            unescaped.as_str()
        } else {
            token
        };
        target = match target {
            Value::Object(map) => map.get(token)?,
            Value::Array(list) => list.get(array_index(token)?)?,
            _ => return None,
        };
    }
    Some(target)
}

fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() > 1) {
        return None;
    }
    token.parse().ok()
}

/// Renders a JSON pointer as the dotted field name users know (`Records.0.s3.bucket`).
pub(crate) fn field_name(path: &str) -> String {
    path.trim_start_matches('/')
        .replace('/', ".")
        .replace("~1", "/")
        .replace("~0", "~")
}

pub(crate) fn missing(input: &'static str, path: &str) -> DecodeError {
    DecodeError::MissingField {
        input,
        field: field_name(path),
    }
}

pub(crate) fn invalid(input: &'static str, path: &str, message: String) -> DecodeError {
    DecodeError::InvalidField {
        input,
        field: field_name(path),
        message,
    }
}

/// A field of the wrong JSON type.
pub(crate) fn wrong_type(input: &'static str, path: &str, want: &str, got: &Value) -> DecodeError {
    invalid(
        input,
        path,
        format!("expected {want}, found {}", json_type(got)),
    )
}

/// How a JSON value's type is named in errors.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Joins a base pointer and a child key, escaping as RFC 6901 requires.
pub(crate) fn join(base: &str, key: &str) -> String {
    let mut out = String::with_capacity(base.len() + key.len() + 1);
    out.push_str(base);
    out.push('/');
    out.push_str(&key.replace('~', "~0").replace('/', "~1"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointer_agrees_with_serde_json() {
        let doc = serde_json::json!({
            "Records": [{"s3": {"object": {"key": "a/b"}}}, 7],
            "a/b": {"m~n": 1, "": 2},
            "01": "zero-one",
        });
        for path in [
            "",
            "/",
            "/Records",
            "/Records/0/s3/object/key",
            "/Records/1",
            "/Records/2",
            "/Records/01",
            "/Records/+1",
            "/Records/-1",
            "/Records/1/x",
            "/a~1b/m~0n",
            "/a~1b/",
            "/a~1b/m~n",
            "/01",
            "Records",
            "/missing/deeper",
            "/Records/18446744073709551616",
        ] {
            assert_eq!(pointer(&doc, path), doc.pointer(path), "{path:?}");
        }
    }

    #[test]
    fn seconds_are_converted_exactly() {
        let v = json!({"a": 1480641523.477, "b": 1693997155.0, "c": "1428537600", "d": 1428537600,
                       "e": 1.5e9, "f": 0.000000001});
        assert_eq!(
            opt_seconds_as_nanos(&v, "/a", "t"),
            Ok(Some(1_480_641_523_477_000_000))
        );
        assert_eq!(
            opt_seconds_as_nanos(&v, "/b", "t"),
            Ok(Some(1_693_997_155_000_000_000))
        );
        assert_eq!(
            opt_seconds_as_nanos(&v, "/c", "t"),
            Ok(Some(1_428_537_600_000_000_000))
        );
        assert_eq!(
            opt_seconds_as_nanos(&v, "/d", "t"),
            Ok(Some(1_428_537_600_000_000_000))
        );
        assert_eq!(
            opt_seconds_as_nanos(&v, "/e", "t"),
            Ok(Some(1_500_000_000_000_000_000))
        );
        assert_eq!(opt_seconds_as_nanos(&v, "/f", "t"), Ok(Some(1)));
        assert_eq!(opt_seconds_as_nanos(&v, "/missing", "t"), Ok(None));
    }

    #[test]
    fn implausible_seconds_are_errors() {
        let v = json!({"big": 1e300, "neg": -1.5, "s": "soon", "o": {}, "huge": 18000000000u64});
        for field in ["big", "neg", "s", "huge"] {
            let err = opt_seconds_as_nanos(&v, &format!("/{field}"), "t").unwrap_err();
            assert!(
                matches!(err, DecodeError::InvalidField { field: ref f, .. } if f == field),
                "{err}"
            );
        }
        assert_eq!(
            opt_seconds_as_nanos(&v, "/o", "t").unwrap_err().to_string(),
            "t: invalid field `o`: expected a number of seconds, found an object"
        );
    }

    #[test]
    fn epoch_times_in_seconds_milliseconds_or_microseconds() {
        let v = json!({"s": 1731924555, "ms": 1731924555370u64, "us": "1731924555370123",
                       "frac": 1731924555.5, "ns": 1731924555370123456u64, "neg": -5});
        let nanos = |field: &str| opt_epoch_as_nanos(&v, &format!("/{field}"), "t");
        assert_eq!(nanos("s"), Ok(Some(1_731_924_555_000_000_000)));
        assert_eq!(nanos("ms"), Ok(Some(1_731_924_555_370_000_000)));
        assert_eq!(nanos("us"), Ok(Some(1_731_924_555_370_123_000)));
        assert_eq!(nanos("frac"), Ok(Some(1_731_924_555_500_000_000)));
        assert_eq!(nanos("missing"), Ok(None));
        // Past microseconds before 2540, or negative: the seconds error.
        for field in ["ns", "neg"] {
            let err = nanos(field).unwrap_err().to_string();
            assert!(
                err.contains("is not a plausible number of seconds"),
                "{err}"
            );
        }
    }

    #[test]
    fn decimal_numbers_in_json_grammar() {
        for (text, want) in [
            ("1.5", Some(1.5)),
            ("-0.25e2", Some(-25.0)),
            ("1e3", Some(1000.0)),
            ("18446744073709551616", Some(18_446_744_073_709_551_616.0)),
            // Correctly rounded: the nearest double, not the sum of its digits' parts.
            ("0.30000000000000004", Some(0.30000000000000004)),
            ("2.2250738585072011e-308", Some(2.2250738585072011e-308)),
            ("+1", None),
            (".5", None),
            ("5.", None),
            (" 1", None),
            ("inf", None),
            ("NaN", None),
            ("1e400", None),
            ("", None),
        ] {
            assert_eq!(decimal_f64(text), want, "{text:?}");
        }
    }

    #[test]
    fn rfc3339_times() {
        let v = json!({"t": "2015-08-18T18:02:32.111Z", "bad": "yesterday", "n": 5});
        assert_eq!(
            opt_rfc3339_as_nanos(&v, "/t", "t"),
            Ok(Some(1_439_920_952_111_000_000))
        );
        assert_eq!(opt_rfc3339_as_nanos(&v, "/none", "t"), Ok(None));
        assert_eq!(
            opt_rfc3339_as_nanos(&v, "/bad", "t")
                .unwrap_err()
                .to_string(),
            "t: invalid field `bad`: \"yesterday\" is not an RFC 3339 time"
        );
        assert!(opt_rfc3339_as_nanos(&v, "/n", "t").is_err());
    }

    #[test]
    fn millis_overflow_is_an_error() {
        let v = json!({"ok": "1520621625029", "big": 18446744073709551615u64});
        assert_eq!(
            opt_millis_as_nanos(&v, "/ok", "t"),
            Ok(Some(1_520_621_625_029_000_000))
        );
        assert_eq!(
            opt_millis_as_nanos(&v, "/big", "t")
                .unwrap_err()
                .to_string(),
            "t: invalid field `big`: 18446744073709551615 milliseconds is out of range"
        );
    }
}
