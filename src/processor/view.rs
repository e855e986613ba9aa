//! A span as evidence reads it: its id, whether its status is ERROR, the string values of
//! its attributes and its links' attributes, all borrowed. Built from a decoded span (the
//! full path), or read straight from the span's protobuf bytes (the fast path), so that
//! finding what a span proves costs no decode of the span and no allocation per attribute.
//!
//! [`SpanView::read`] gives `None` for any encoding in which a field the view reads could
//! decode differently than a plain read suggests (a singular field written twice, an
//! `AnyValue` with two values, a wrong wire type); the caller then decodes the span with
//! prost and takes [`SpanView::of`] it, so both give the same view of the same span.

use crate::otlp::wire::{Fields, Value as Wire};
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span::Link, status::StatusCode, Span};

/// An attribute value as evidence reads it. Strings are kept as bytes and checked as
/// UTF-8 when read: the scanner has vouched for them already, and most are never read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttrValue<'a> {
    Str(&'a [u8]),
    /// An array, as its string elements (other elements skipped).
    Strings(Vec<&'a [u8]>),
    /// Any other value, or none.
    Other,
}

/// A list of attributes (key and value), in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Attrs<'a>(pub Vec<(&'a [u8], AttrValue<'a>)>);

/// A link: its target and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkView<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub attributes: Attrs<'a>,
}

/// What evidence reads of a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpanView<'a> {
    pub span_id: &'a [u8],
    /// The status code is ERROR.
    pub error: bool,
    pub attributes: Attrs<'a>,
    pub links: Vec<LinkView<'a>>,
}

impl<'a> Attrs<'a> {
    /// The value of the first attribute named `key` among the first `limit` (the lookups
    /// of `attrs`, on borrowed values).
    pub fn get(&self, key: &str, limit: usize) -> Option<&AttrValue<'a>> {
        self.0
            .iter()
            .take(limit)
            .find(|(k, _)| *k == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// A string attribute.
    pub fn get_str(&self, key: &str, limit: usize) -> Option<&'a str> {
        match self.get(key, limit) {
            Some(AttrValue::Str(s)) => text(s),
            _ => None,
        }
    }

    /// The first of several alternative names that is a non-empty string.
    pub fn first_str(&self, keys: &[&str], limit: usize) -> Option<&'a str> {
        keys.iter()
            .find_map(|k| self.get_str(k, limit).filter(|s| !s.is_empty()))
    }

    /// A string or string-array attribute as a list of strings.
    pub fn get_strings(&self, key: &str, limit: usize) -> Vec<&'a str> {
        match self.get(key, limit) {
            Some(AttrValue::Str(s)) => text(s).into_iter().collect(),
            Some(AttrValue::Strings(v)) => v.iter().filter_map(|s| text(s)).collect(),
            _ => Vec::new(),
        }
    }

    fn of(attributes: &'a [KeyValue]) -> Attrs<'a> {
        Attrs(
            attributes
                .iter()
                .map(|kv| (kv.key.as_bytes(), value_of(kv.value.as_ref())))
                .collect(),
        )
    }
}

fn value_of(value: Option<&AnyValue>) -> AttrValue<'_> {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => AttrValue::Str(s.as_bytes()),
        Some(Value::ArrayValue(a)) => AttrValue::Strings(
            a.values
                .iter()
                .filter_map(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.as_bytes()),
                    _ => None,
                })
                .collect(),
        ),
        _ => AttrValue::Other,
    }
}

impl<'a> SpanView<'a> {
    /// The view of a decoded span.
    pub fn of(span: &'a Span) -> SpanView<'a> {
        SpanView {
            span_id: &span.span_id,
            error: span
                .status
                .as_ref()
                .is_some_and(|s| s.code == StatusCode::Error as i32),
            attributes: Attrs::of(&span.attributes),
            links: span.links.iter().map(LinkView::of).collect(),
        }
    }

    /// The view of an encoded span (without its length prefix), or `None` when only a
    /// decoder can say (see the module docs).
    pub fn read(bytes: &'a [u8]) -> Option<SpanView<'a>> {
        let mut view = SpanView {
            span_id: &[],
            error: false,
            attributes: Attrs::default(),
            links: Vec::new(),
        };
        let (mut span_id, mut status) = (Once::default(), Once::default());
        for f in fields(bytes)? {
            let (tag, payload) = f?;
            match tag {
                2 => view.span_id = span_id.set(len(bytes, payload)?)?,
                9 => view.attributes.0.push(key_value(len(bytes, payload)?)?),
                13 => view.links.push(link(len(bytes, payload)?)?),
                15 => view.error = status.set(status_is_error(len(bytes, payload)?)?)?,
                _ => {}
            }
        }
        Some(view)
    }
}

impl<'a> LinkView<'a> {
    fn of(link: &'a Link) -> LinkView<'a> {
        LinkView {
            trace_id: &link.trace_id,
            span_id: &link.span_id,
            attributes: Attrs::of(&link.attributes),
        }
    }
}

/// A singular field: a second occurrence gives `None` (prost would take the last value,
/// or merge two messages; the caller decodes instead).
#[derive(Default)]
struct Once(bool);

impl Once {
    fn set<T>(&mut self, value: T) -> Option<T> {
        if std::mem::replace(&mut self.0, true) {
            return None;
        }
        Some(value)
    }
}

type Item = Option<(u32, Wire)>;

/// The fields of `bytes` as `(tag, value)`, each `None` when malformed.
fn fields(bytes: &[u8]) -> Option<impl Iterator<Item = Item> + '_> {
    let mut f = Fields::new(bytes, 0, bytes.len()).ok()?;
    Some(std::iter::from_fn(move || match f.next_field() {
        Ok(Some(field)) => Some(Some((field.tag, field.value))),
        Ok(None) => None,
        Err(_) => Some(None),
    }))
}

/// The payload of a length-delimited field; `None` for another wire type.
fn len(bytes: &[u8], value: Wire) -> Option<&[u8]> {
    match value {
        Wire::Len { start, end } => bytes.get(start..end),
        _ => None,
    }
}

fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

fn key_value(bytes: &[u8]) -> Option<(&[u8], AttrValue<'_>)> {
    let (mut key, mut value) = (Once::default(), Once::default());
    let (mut k, mut v) = (&[][..], AttrValue::Other);
    for f in fields(bytes)? {
        match f? {
            (1, w) => k = key.set(len(bytes, w)?)?,
            (2, w) => v = value.set(any_value(len(bytes, w)?, true)?)?,
            // `key_strindex` (profiles only) and unknown fields: prost keeps neither.
            _ => {}
        }
    }
    Some((k, v))
}

/// An `AnyValue`; arrays are read one level deep (as `attrs::get_strings` reads them).
fn any_value(bytes: &[u8], arrays: bool) -> Option<AttrValue<'_>> {
    let mut one = Once::default();
    let mut value = AttrValue::Other;
    for f in fields(bytes)? {
        let (tag, w) = f?;
        if !(1..=8).contains(&tag) {
            continue;
        }
        one.set(())?;
        value = match (tag, w) {
            (1, w) => AttrValue::Str(len(bytes, w)?),
            (5, w) if arrays => array(len(bytes, w)?)?,
            (5..=7, Wire::Len { .. }) | (2 | 3 | 8, Wire::Varint(_)) | (4, Wire::I64) => {
                AttrValue::Other
            }
            _ => return None,
        };
    }
    Some(value)
}

fn array(bytes: &[u8]) -> Option<AttrValue<'_>> {
    let mut strings = Vec::new();
    for f in fields(bytes)? {
        if let (1, w) = f? {
            if let AttrValue::Str(s) = any_value(len(bytes, w)?, false)? {
                strings.push(s);
            }
        }
    }
    Some(AttrValue::Strings(strings))
}

fn link(bytes: &[u8]) -> Option<LinkView<'_>> {
    let (mut trace, mut span) = (Once::default(), Once::default());
    let mut view = LinkView {
        trace_id: &[],
        span_id: &[],
        attributes: Attrs::default(),
    };
    for f in fields(bytes)? {
        match f? {
            (1, w) => view.trace_id = trace.set(len(bytes, w)?)?,
            (2, w) => view.span_id = span.set(len(bytes, w)?)?,
            (4, w) => view.attributes.0.push(key_value(len(bytes, w)?)?),
            _ => {}
        }
    }
    Some(view)
}

fn status_is_error(bytes: &[u8]) -> Option<bool> {
    let mut code = Once::default();
    let mut error = false;
    for f in fields(bytes)? {
        match f? {
            (3, Wire::Varint(v)) => error = code.set(v as i32 == StatusCode::Error as i32)?,
            (3, _) => return None,
            _ => {}
        }
    }
    Some(error)
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
