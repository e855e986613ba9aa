//! OTLP attribute builders: the one place a `KeyValue` is made, for every span relink
//! writes (inferred spans, Step Functions spans, links and the `relink.*` attributes).

use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};

/// An attribute with any value.
pub fn value(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A string value.
pub fn string_value(s: impl Into<String>) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(s.into())),
    }
}

/// A string attribute.
pub fn string(key: &str, s: impl Into<String>) -> KeyValue {
    value(key, Value::StringValue(s.into()))
}

/// An int attribute; a count beyond `i64::MAX` saturates.
pub fn int(key: &str, n: u64) -> KeyValue {
    value(key, Value::IntValue(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// A boolean attribute.
pub fn boolean(key: &str, b: bool) -> KeyValue {
    value(key, Value::BoolValue(b))
}
