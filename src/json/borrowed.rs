//! A JSON tree borrowed from its text, for the readers that take a few fields of the most
//! common trigger events without building a `serde_json::Value` (`event::s3_borrowed`,
//! `event::sqs_borrowed`).
//!
//! One pass: strings stay slices of the text (unless they have escapes), numbers are kept
//! as serde_json reads them, and a duplicate key is an error, so [`parse`] accepts exactly
//! the texts [`super::strict::from_str`] accepts (the same serde_json reader, the same
//! recursion limit). The readers' field accessors answer `None` for a type the `Value`
//! decoders would not read the same way: the caller then hands the text to them.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Objects with more members than this check duplicates with a set instead of a scan.
const SCAN_KEYS: usize = 16;

pub(crate) enum Json<'a> {
    Null,
    Bool,
    /// A non-negative integer, as serde_json reads one.
    Unsigned(u64),
    /// Any other number.
    Number,
    Text(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Members in the text's order.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// Parses `text`; `None` for anything [`super::strict::from_str`] rejects.
pub(crate) fn parse(text: &str) -> Option<Json<'_>> {
    serde_json::from_str(text).ok()
}

impl<'a> Json<'a> {
    /// The member `key` of an object; `None` for a missing member and for anything but an
    /// object.
    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value of `key` when it is the object's only member (`{"Records": [...]}`).
    pub(crate) fn only(&self, key: &str) -> Option<&Json<'a>> {
        match self.members()? {
            [(k, v)] if k == key => Some(v),
            _ => None,
        }
    }

    pub(crate) fn members(&self) -> Option<&[(Cow<'a, str>, Json<'a>)]> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }

    pub(crate) fn elements(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(elements) => Some(elements),
            _ => None,
        }
    }

    /// An optional string member: `Some(None)` when it is missing or null, `None` when it
    /// is of another type (or `self` is not an object).
    pub(crate) fn text(&self, key: &str) -> Option<Option<&str>> {
        self.members()?;
        match self.get(key) {
            None | Some(Json::Null) => Some(None),
            Some(Json::Text(t)) => Some(Some(t)),
            Some(_) => None,
        }
    }

    /// `self` as an object, or `None` in `Some` for null; `None` for any other type.
    pub(crate) fn object_or_null(&self) -> Option<Option<&Json<'a>>> {
        match self {
            Json::Null => Some(None),
            Json::Object(_) => Some(Some(self)),
            _ => None,
        }
    }

    /// [`Json::text`] of an optional object (a member read with [`Json::object`]):
    /// `Some(None)` without one.
    pub(crate) fn text_in<'r>(parent: Option<&'r Json<'a>>, key: &str) -> Option<Option<&'r str>> {
        parent.map_or(Some(None), |p| p.text(key))
    }

    /// An optional object member: `Some(None)` when it is missing or null, `None` when it
    /// is of another type (or `self` is not an object).
    pub(crate) fn object(&self, key: &str) -> Option<Option<&Json<'a>>> {
        self.members()?;
        match self.get(key) {
            None | Some(Json::Null) => Some(None),
            Some(o @ Json::Object(_)) => Some(Some(o)),
            Some(_) => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json<'a>, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool)
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Unsigned(v))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Json<'de>, E> {
        Ok(Json::Number)
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Text(Cow::Owned(v.to_owned())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut elements = Vec::new();
        while let Some(element) = seq.next_element()? {
            elements.push(element);
        }
        Ok(Json::Array(elements))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        // Most objects of an event have a handful of members: room for eight from the
        // start saves the doublings from one; the set exists only past SCAN_KEYS members.
        let mut members: Vec<(Cow<'de, str>, Json<'de>)> = Vec::with_capacity(8);
        let mut seen = None;
        while let Some(super::strict::Text(key)) = map.next_key()? {
            let duplicate = if members.len() < SCAN_KEYS {
                members.iter().any(|(k, _)| *k == key)
            } else {
                let seen = seen.get_or_insert_with(|| {
                    members
                        .iter()
                        .map(|(k, _)| k.clone())
                        .collect::<std::collections::HashSet<_>>()
                });
                !seen.insert(key.clone())
            };
            if duplicate {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            members.push((key, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_the_strict_parser_accepts() {
        let mut many = String::from("{");
        for i in 0..40 {
            many.push_str(&format!("\"k{i}\": {i},"));
        }
        let many_dup = format!("{many}\"k3\": 0}}");
        let many_ok = format!("{many}\"k40\": 0}}");
        let texts = [
            r#"{"a": 1, "b": [true, null, -1, 1.5, "x\u0041"], "c": {"a": 2}}"#,
            r#"{"a": 1, "b": {"c": 2, "c": 3}}"#,
            r#"{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}], "c": {"b": 1, "a": 2}}"#,
            r#"{"a": 1, "\u0061": 2}"#,
            r#"{"a\"": 1, "a\u0022": 2}"#,
            r#"{"x": {"y": [1, {"z": 1, "z": 2}]}}"#,
            r#"{"x": {"y": 1}, "y": 2, "x": 3}"#,
            r#"{"s": "\ud800"}"#,
            r#"{"s": "\uD83D\uDE00", "n": -1.5e3, "t": [true, false, null]}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1,}"#,
            r#"[1, 2"#,
            "",
            "7",
            &many_dup,
            &many_ok,
        ];
        for text in texts {
            assert_eq!(
                parse(text).is_some(),
                crate::json::strict::from_str(text).is_ok(),
                "{text}"
            );
        }
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let Some(json) = parse(r#"{"plain": "a", "escaped": "\u0041"}"#) else {
            panic!("parses");
        };
        assert!(matches!(
            json.get("plain"),
            Some(Json::Text(Cow::Borrowed("a")))
        ));
        assert!(matches!(json.get("escaped"), Some(Json::Text(Cow::Owned(s))) if s == "A"));
        assert_eq!(json.text("plain"), Some(Some("a")));
        assert_eq!(json.text("missing"), Some(None));
        assert!(parse(r#"{"n": 1}"#).is_some_and(|j| j.text("n").is_none()));
        assert!(parse(r#"{"n": null}"#).is_some_and(|j| matches!(j.object("n"), Some(None))));
    }

    #[test]
    fn deep_nesting_is_refused_as_the_strict_parser_refuses_it() {
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).is_none());
        assert!(crate::json::strict::from_str(&deep).is_err());
    }
}
