//! Applies a span's planned edit to the span's protobuf bytes without decoding the span.
//!
//! [`apply::apply_span`](super::apply::apply_span) runs on a stand-in [`Span`] holding
//! the span's trace and parent ids, the attributes an edit can touch (decoded), an empty
//! placeholder for every other attribute and for every link; [`StandIn::write`] then
//! writes the span back field by field: ids and touched attributes as prost encodes them,
//! placeholders and every other field as they arrived, new links after the old ones.
//!
//! Placeholders have an empty key, which no attribute an edit touches or adds has, and
//! `apply_span` only finds attributes by those keys, appends and removes: the placeholders
//! keep their order and stand for the untouched attributes one for one.
//!
//! A span encoded in field order with each id at most once (as the SDKs and prost encode)
//! comes out as the bytes prost gives for it decoded, edited and encoded again
//! (tests/relink_fast_path.rs checks the two paths byte for byte); any other span gets
//! `None` from [`StandIn::read`] and the caller decodes it.

use super::attrs;
use crate::otlp::splice::Pieces;
use crate::otlp::wire::{write_varint, Fields, Value as Wire};
use crate::settings::Settings;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::ops::Range;

const TRACE_ID: u32 = 1;
const PARENT_SPAN_ID: u32 = 4;
const ATTRIBUTES: u32 = 9;
const LINKS: u32 = 13;

/// A span's bytes and the stand-in an edit is applied to.
pub(crate) struct StandIn<'a> {
    bytes: &'a [u8],
    /// Where `bytes` starts in the request.
    base: usize,
    /// Top-level fields: tag, whole field (key to end), payload of a length-delimited one.
    fields: Vec<(u32, Range<usize>, Range<usize>)>,
    /// The untouched attributes' whole fields, in order.
    plain: Vec<Range<usize>>,
    links: usize,
    pub span: Span,
}

/// The attribute keys `apply_span` reads or writes.
pub(crate) fn touched(config: &Settings) -> [&str; 6] {
    [
        attrs::ORIGINAL_TRACE_ID,
        attrs::RULES,
        attrs::POINTER_HASHES,
        attrs::MATCHES,
        &config.attributes.event,
        &config.attributes.route,
    ]
}

impl<'a> StandIn<'a> {
    /// The stand-in of the encoded span at `span` of `request` (without its length prefix),
    /// or `None` when the span is not in field order, has an id twice, or `touched` has an
    /// empty key.
    pub fn read(request: &'a [u8], span: Range<usize>, touched: &[&str]) -> Option<StandIn<'a>> {
        if touched.iter().any(|k| k.is_empty()) {
            return None;
        }
        let base = span.start;
        let bytes = request.get(span)?;
        let mut s = StandIn {
            bytes,
            base,
            fields: Vec::with_capacity(32),
            plain: Vec::with_capacity(32),
            links: 0,
            // Sized as `fields`: a span's attributes are most of its fields, and growing
            // the list one doubling at a time was a tenth of rewriting it.
            span: Span {
                attributes: Vec::with_capacity(32),
                ..Span::default()
            },
        };
        let mut f = Fields::new(bytes, 0, bytes.len()).ok()?;
        let mut last = 0;
        while let Some(field) = f.next_field().ok()? {
            let payload = match field.value {
                Wire::Len { start, end } => start..end,
                _ => 0..0,
            };
            let whole = field.start..f.position();
            if field.tag < last {
                return None;
            }
            let repeated = field.tag == last;
            last = field.tag;
            let value = bytes.get(payload.clone())?;
            match field.tag {
                TRACE_ID | PARENT_SPAN_ID if repeated => return None,
                TRACE_ID => s.span.trace_id = value.to_vec(),
                PARENT_SPAN_ID => s.span.parent_span_id = value.to_vec(),
                // Bytes equal to a touched key are that key; no UTF-8 check is needed to
                // compare (the scan has checked every string anyway).
                ATTRIBUTES => match key_of(value) {
                    Some(key) if touched.iter().any(|t| t.as_bytes() == key) => {
                        s.span.attributes.push(KeyValue::decode(value).ok()?)
                    }
                    _ => {
                        s.plain.push(whole.clone());
                        s.span.attributes.push(KeyValue::default());
                    }
                },
                LINKS => {
                    s.links += 1;
                    s.span.links.push(Link::default());
                }
                _ => {}
            }
            s.fields.push((field.tag, whole, payload));
        }
        Some(s)
    }

    /// Writes the edited span (without its length prefix): the parts it keeps as ranges of
    /// the request.
    pub fn write(&self, out: &mut Pieces<'_>) {
        let mut fields = self.fields.iter().peekable();
        for group in [TRACE_ID, PARENT_SPAN_ID, ATTRIBUTES, LINKS] {
            while let Some((_, whole, _)) = fields.next_if(|(tag, _, _)| *tag < group) {
                self.copy(whole, out);
            }
            let mut old = Vec::new();
            while let Some(f) = fields.next_if(|(tag, _, _)| *tag == group) {
                old.push(f);
            }
            match group {
                TRACE_ID => self.id(group, &old, &self.span.trace_id, out),
                PARENT_SPAN_ID => self.id(group, &old, &self.span.parent_span_id, out),
                ATTRIBUTES => {
                    let mut plain = self.plain.iter().peekable();
                    for kv in &self.span.attributes {
                        match plain.next_if(|_| kv.key.is_empty()) {
                            Some(whole) => self.copy(whole, out),
                            None => {
                                out.put(|b| prost::encoding::message::encode(ATTRIBUTES, kv, b))
                            }
                        }
                    }
                }
                _ => {
                    for (_, whole, _) in &old {
                        self.copy(whole, out);
                    }
                    for link in self.span.links.iter().skip(self.links) {
                        out.put(|b| prost::encoding::message::encode(LINKS, link, b));
                    }
                }
            }
        }
        for (_, whole, _) in fields {
            self.copy(whole, out);
        }
    }

    /// An id field: as it arrived when unchanged, else as prost encodes it (not at all
    /// when empty).
    fn id(
        &self,
        tag: u32,
        old: &[&(u32, Range<usize>, Range<usize>)],
        value: &[u8],
        out: &mut Pieces<'_>,
    ) {
        let arrived = old.first().and_then(|(_, _, p)| self.bytes.get(p.clone()));
        if arrived.unwrap_or_default() == value {
            for (_, whole, _) in old {
                self.copy(whole, out);
            }
        } else if !value.is_empty() {
            out.put(|b| {
                write_varint(b, u64::from(tag << 3 | 2));
                write_varint(b, value.len() as u64);
                b.extend_from_slice(value);
            });
        }
    }

    fn copy(&self, whole: &Range<usize>, out: &mut Pieces<'_>) {
        out.input(self.base + whole.start..self.base + whole.end);
    }
}

/// The bytes of an attribute's key as prost decodes it (the last `key` field), without
/// decoding the rest; `None` when the attribute does not parse.
fn key_of(kv: &[u8]) -> Option<&[u8]> {
    let mut f = Fields::new(kv, 0, kv.len()).ok()?;
    let mut key: &[u8] = &[];
    while let Some(field) = f.next_field().ok()? {
        if let (1, Wire::Len { start, end }) = (field.tag, field.value) {
            key = kv.get(start..end)?;
        }
    }
    Some(key)
}

#[cfg(test)]
#[path = "stand_in_tests.rs"]
mod tests;
