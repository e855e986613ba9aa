//! JSON parsing that rejects duplicate object keys, for every JSON read from input.
//!
//! serde_json keeps the last of two equal keys silently. For OTLP/JSON that loses data:
//! `{"resourceSpans":[A],"resourceSpans":[B]}` would decode as B alone, and a relinked
//! output would no longer hold A. Go's protojson, which the Collector uses, rejects such
//! input ("duplicate field"); so does this parser, with serde_json's line and column.
//! Nesting stays bounded by serde_json's recursion limit (128), which applies to any
//! visitor.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;

/// A parsed JSON value whose objects had no duplicate keys.
pub(crate) struct Strict(pub Value);

/// Parses bytes as JSON, rejecting duplicate keys.
pub(crate) fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0)
}

/// Parses text as JSON, rejecting duplicate keys.
pub(crate) fn from_str(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str::<Strict>(text).map(|s| s.0)
}

/// A JSON string (an object key, a field of a borrowed decoder), borrowed from the text
/// unless it has escapes. Anything but a string is an error.
pub(crate) struct Text<'de>(pub Cow<'de, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'a>, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
}

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON text cannot spell a non-finite number; serde_json's own Value maps one to
        // null the same way.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Strict::deserialize(deserializer).map(|s| s.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let Strict(value) = map.next_value()?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_errors_with_their_position() {
        let err = from_slice(br#"{"a": 1, "b": {"c": 2, "c": 3}}"#)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(r#"duplicate key "c" at line 1 column 26"#)
        );
        let err = from_str(r#"[{"x":1},{"x":2,"x":2}]"#)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(r#"duplicate key "x" at line 1 column 19"#)
        );
    }

    #[test]
    fn values_are_what_serde_json_gives() {
        let text = r#"{"s":"é\u00e9","n":-1,"u":18446744073709551615,"f":1.5e300,"t":true,
                      "z":null,"a":[[],{}],"k\"q":"v"}"#;
        let strict = from_str(text).ok();
        let plain: Option<Value> = serde_json::from_str(text).ok();
        assert!(strict.is_some());
        assert_eq!(strict, plain);
    }

    #[test]
    fn nesting_stops_at_serde_jsons_limit() {
        let deep = "[".repeat(100_000);
        let err = from_str(&deep).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("recursion limit exceeded at line 1 column 128")
        );
    }
}
