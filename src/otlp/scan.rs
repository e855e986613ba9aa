//! A validating walk over a binary `ExportTraceServiceRequest` that allocates nothing per
//! attribute: where every span sits in the input, its ids, and whether it carries one of
//! the attributes the caller is interested in.
//!
//! The walk accepts only what prost would decode (same schema, wire types, UTF-8 in every
//! string, nesting within prost's limit, no field crossing its message), so a caller can
//! trust that decoding any span of an accepted input succeeds, and that the input as a
//! whole decodes. It refuses a little more than prost does (group wire types, nesting
//! deeper than [`MAX_DEPTH`]); a refused input is simply handed to the full decoder.
//!
//! Protobuf semantics the walk keeps: a singular field seen twice takes its last value
//! (ids, attribute keys), and a string attribute's value is the last string written to
//! it; an attribute counts as interesting on the last string value, which can only flag
//! more spans than a decoder would, never fewer.

use super::wire::{read_varint, Field, Fields, Malformed, Value};
use std::cell::RefCell;
use std::ops::Range;

/// Deepest message accepted, counting the request as 0 (prost allows 100; OTLP needs 5,
/// plus one per level of nested array or map values).
pub const MAX_DEPTH: usize = 64;

/// prost's nesting limit, which [`strings_not_utf8`] walks to: a request is repaired
/// whenever prost would decode it repaired.
const PROST_DEPTH: usize = 100;

/// What makes a span interesting to the caller.
#[derive(Debug, Clone, Copy)]
pub struct Interest<'k> {
    /// Span attribute keys, each with the string value it must have (`None`: any value).
    pub span_attributes: &'k [(&'k str, Option<&'k str>)],
    /// Link attribute keys (any value).
    pub link_attributes: &'k [&'k str],
}

/// Where a length-delimited field sits: key at `start`, length prefix at `len_at`,
/// payload `payload..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub start: usize,
    pub len_at: usize,
    pub payload: usize,
    pub end: usize,
}

impl Frame {
    /// Whether the frame is, in `input`, a length-delimited field `tag` whose payload ends
    /// at `end`: what a frame from a scan of these bytes is. For frames carried from a
    /// scan made elsewhere.
    pub fn is_field_in(&self, input: &[u8], tag: u32) -> bool {
        let mut at = self.start;
        let key = read_varint(input, &mut at);
        let after_key = at;
        let len = read_varint(input, &mut at);
        let payload = self.end.checked_sub(self.payload).map(|n| n as u64);
        key == Ok(u64::from(tag) << 3 | 2)
            && after_key == self.len_at
            && at == self.payload
            && self.end <= input.len()
            && len.ok() == payload
    }

    fn of(field: &Field) -> Option<Frame> {
        match field.value {
            Value::Len { start, end } => Some(Frame {
                start: field.start,
                len_at: field.after_key,
                payload: start,
                end,
            }),
            _ => None,
        }
    }
}

/// One span of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedSpan<'a> {
    /// Index into [`Scan::resources`].
    pub resource: usize,
    /// Index into [`Scan::scopes`].
    pub scope: usize,
    pub frame: Frame,
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub parent_span_id: &'a [u8],
    /// The span has an attribute or a link attribute named in the [`Interest`].
    pub interesting: bool,
}

/// A scanned request: every `ResourceSpans`, `ScopeSpans` and `Span` in input order.
#[derive(Debug, Default)]
pub struct Scan<'a> {
    pub resources: Vec<Frame>,
    /// Each scope with the index of its resource.
    pub scopes: Vec<(usize, Frame)>,
    pub spans: Vec<ScannedSpan<'a>>,
}

/// Scans a binary `ExportTraceServiceRequest`.
pub fn scan<'a>(input: &'a [u8], interest: &Interest<'_>) -> Result<Scan<'a>, Malformed> {
    let mut walk = Walk {
        input,
        interest,
        out: Scan::default(),
        not_utf8: None,
        max_depth: MAX_DEPTH,
    };
    walk.request()?;
    Ok(walk.out)
}

/// The payloads of the string fields that are not UTF-8, in input order, in a request that
/// is otherwise one [`scan`] accepts: what [`super::repair`] rewrites. Protobuf forbids
/// such strings, but many runtimes (gogo in the Collector, the C++ exporter) send them.
pub fn strings_not_utf8(input: &[u8]) -> Result<Vec<Range<usize>>, Malformed> {
    let interest = Interest {
        span_attributes: &[],
        link_attributes: &[],
    };
    let mut walk = Walk {
        input,
        interest: &interest,
        out: Scan::default(),
        not_utf8: Some(RefCell::default()),
        max_depth: PROST_DEPTH - 1,
    };
    walk.request()?;
    Ok(walk.not_utf8.map(RefCell::into_inner).unwrap_or_default())
}

struct Walk<'a, 'k> {
    input: &'a [u8],
    interest: &'k Interest<'k>,
    out: Scan<'a>,
    /// `Some`: strings that are not UTF-8 are collected here instead of refused.
    not_utf8: Option<RefCell<Vec<Range<usize>>>>,
    max_depth: usize,
}

/// Keys and most values are short ASCII: an inlined, branch-free OR over the bytes is
/// cheaper for them than a call to the general validator, which only non-ASCII text pays.
#[inline]
fn utf8(bytes: &[u8]) -> Option<()> {
    (ascii(bytes) || std::str::from_utf8(bytes).is_ok()).then_some(())
}

/// The high bits of `bytes` (shorter than 16) ORed together, in at most two overlapping
/// word reads per size: most keys and values are that short, and a byte loop over them
/// costs more than the rest of their check.
#[inline]
fn short_high(bytes: &[u8]) -> u64 {
    let word = |b: &[u8]| <[u8; 8]>::try_from(b).map_or(u64::MAX, u64::from_le_bytes);
    let half = |b: &[u8]| <[u8; 4]>::try_from(b).map_or(u32::MAX, u32::from_le_bytes);
    let n = bytes.len();
    if n >= 8 {
        word(bytes.get(..8).unwrap_or_default()) | word(bytes.get(n - 8..).unwrap_or_default())
    } else if n >= 4 {
        u64::from(
            half(bytes.get(..4).unwrap_or_default()) | half(bytes.get(n - 4..).unwrap_or_default()),
        )
    } else {
        bytes.iter().fold(0u64, |acc, b| acc | u64::from(*b))
    }
}

const HIGH: u64 = 0x8080_8080_8080_8080;

/// Eight bytes at a time: native code vectorises either form, but in WebAssembly (no
/// vector instructions assumed; wasm SIMD measured no faster here) a 64-bit word per step
/// is several times a byte per step.
#[inline]
fn ascii(bytes: &[u8]) -> bool {
    if bytes.len() < 16 {
        return short_high(bytes) & HIGH == 0;
    }
    let mut words = bytes.chunks_exact(8);
    let mut high = 0u64;
    for w in &mut words {
        high |= <[u8; 8]>::try_from(w).map_or(u64::MAX, u64::from_le_bytes);
    }
    high |= short_high(words.remainder());
    high & HIGH == 0
}

/// A `KeyValue` as the SDKs encode a scalar attribute, read without the field loop:
/// `0a <key> 12 <value>` where the value is exactly one string (`0a <string>`), bool
/// (`10`), int (`18`) or double (`21`) field and every length fits in one byte. Returns
/// the key and the string value, as the general path would; `None` for any other
/// encoding, which the general path then reads.
#[inline]
fn plain_attribute(kv: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let [0x0a, key_len @ 0..=0x7f, from_key @ ..] = kv else {
        return None;
    };
    let (key, rest) = from_key.split_at_checked(usize::from(*key_len))?;
    let [0x12, value_len @ 0..=0x7f, value @ ..] = rest else {
        return None;
    };
    if usize::from(*value_len) != value.len() {
        return None;
    }
    let string = match value {
        [0x0a, len @ 0..=0x7f, s @ ..] if usize::from(*len) == s.len() => Some(s),
        [0x10 | 0x18, v @ ..] => {
            let mut pos = 0;
            read_varint(v, &mut pos).ok()?;
            if pos != v.len() {
                return None;
            }
            None
        }
        [0x21, v @ ..] if v.len() == 8 => None,
        _ => return None,
    };
    // A string attribute's bytes from the key on are the key, four framing bytes (each
    // below 0x80, as matched above) and the string: one ASCII check covers both strings,
    // which are mostly short.
    let both = string.is_some() && ascii(from_key);
    if !both {
        utf8(key)?;
        if let Some(s) = string {
            utf8(s)?;
        }
    }
    Some((key, string))
}

/// The payload of a length-delimited field, refusing any other wire type.
fn len(f: &Field) -> Result<(usize, usize), Malformed> {
    match f.value {
        Value::Len { start, end } => Ok((start, end)),
        _ => Err(Malformed),
    }
}

fn varint(f: &Field) -> Result<(), Malformed> {
    match f.value {
        Value::Varint(_) => Ok(()),
        _ => Err(Malformed),
    }
}

fn fixed64(f: &Field) -> Result<(), Malformed> {
    match f.value {
        Value::I64 => Ok(()),
        _ => Err(Malformed),
    }
}

fn fixed32(f: &Field) -> Result<(), Malformed> {
    match f.value {
        Value::I32 => Ok(()),
        _ => Err(Malformed),
    }
}

impl<'a> Walk<'a, '_> {
    fn request(&mut self) -> Result<(), Malformed> {
        let mut fields = Fields::new(self.input, 0, self.input.len())?;
        while let Some(f) = fields.next_field()? {
            if f.tag == 1 {
                let frame = Frame::of(&f).ok_or(Malformed)?;
                self.resource_spans(frame, 1)?;
            }
        }
        Ok(())
    }

    fn fields(&self, start: usize, end: usize, depth: usize) -> Result<Fields<'a>, Malformed> {
        if depth > self.max_depth {
            return Err(Malformed);
        }
        Fields::new(self.input, start, end)
    }

    #[inline]
    fn bytes(&self, f: &Field) -> Result<&'a [u8], Malformed> {
        let (start, end) = len(f)?;
        self.input.get(start..end).ok_or(Malformed)
    }

    /// A string field's bytes, once they are known to be UTF-8.
    #[inline]
    fn string(&self, f: &Field) -> Result<&'a [u8], Malformed> {
        let bytes = self.bytes(f)?;
        match utf8(bytes) {
            Some(()) => Ok(bytes),
            None => self.string_not_utf8(f, bytes),
        }
    }

    #[cold]
    #[inline(never)]
    fn string_not_utf8(&self, f: &Field, bytes: &'a [u8]) -> Result<&'a [u8], Malformed> {
        let found = self.not_utf8.as_ref().ok_or(Malformed)?;
        let (start, end) = len(f)?;
        found.borrow_mut().push(start..end);
        Ok(bytes)
    }

    fn check_bytes(&self, f: &Field) -> Result<(), Malformed> {
        self.bytes(f).map(|_| ())
    }

    fn check_string(&self, f: &Field) -> Result<(), Malformed> {
        self.string(f).map(|_| ())
    }

    fn check_key_value(&self, f: &Field, depth: usize) -> Result<(), Malformed> {
        self.key_value(f, depth).map(|_| ())
    }

    fn message(&self, f: &Field, depth: usize) -> Result<Fields<'a>, Malformed> {
        let (start, end) = len(f)?;
        self.fields(start, end, depth)
    }

    fn resource_spans(&mut self, frame: Frame, depth: usize) -> Result<(), Malformed> {
        let index = self.out.resources.len();
        self.out.resources.push(frame);
        let mut fields = self.fields(frame.payload, frame.end, depth)?;
        while let Some(f) = fields.next_field()? {
            match f.tag {
                1 => self.resource(&f, depth + 1)?,
                2 => {
                    let frame = Frame::of(&f).ok_or(Malformed)?;
                    self.scope_spans(index, frame, depth + 1)?;
                }
                3 => self.check_string(&f)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn resource(&self, f: &Field, depth: usize) -> Result<(), Malformed> {
        let mut fields = self.message(f, depth)?;
        while let Some(f) = fields.next_field()? {
            match f.tag {
                1 => self.check_key_value(&f, depth + 1)?,
                2 => varint(&f)?,
                3 => self.entity_ref(&f, depth + 1)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn entity_ref(&self, f: &Field, depth: usize) -> Result<(), Malformed> {
        let mut fields = self.message(f, depth)?;
        while let Some(f) = fields.next_field()? {
            if (1..=4).contains(&f.tag) {
                self.check_string(&f)?;
            }
        }
        Ok(())
    }

    fn scope_spans(
        &mut self,
        resource: usize,
        frame: Frame,
        depth: usize,
    ) -> Result<(), Malformed> {
        let index = self.out.scopes.len();
        self.out.scopes.push((resource, frame));
        let mut fields = self.fields(frame.payload, frame.end, depth)?;
        while let Some(f) = fields.next_field()? {
            match f.tag {
                1 => self.scope(&f, depth + 1)?,
                2 => {
                    let frame = Frame::of(&f).ok_or(Malformed)?;
                    let span = self.span(resource, index, frame, depth + 1)?;
                    self.out.spans.push(span);
                }
                3 => self.check_string(&f)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn scope(&self, f: &Field, depth: usize) -> Result<(), Malformed> {
        let mut fields = self.message(f, depth)?;
        while let Some(f) = fields.next_field()? {
            match f.tag {
                1 | 2 => self.check_string(&f)?,
                3 => self.check_key_value(&f, depth + 1)?,
                4 => varint(&f)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn span(
        &self,
        resource: usize,
        scope: usize,
        frame: Frame,
        depth: usize,
    ) -> Result<ScannedSpan<'a>, Malformed> {
        let mut span = ScannedSpan {
            resource,
            scope,
            frame,
            trace_id: &[],
            span_id: &[],
            parent_span_id: &[],
            interesting: false,
        };
        let mut fields = self.fields(frame.payload, frame.end, depth)?;
        while let Some(f) = fields.next_field()? {
            match f.tag {
                1 => span.trace_id = self.bytes(&f)?,
                2 => span.span_id = self.bytes(&f)?,
                4 => span.parent_span_id = self.bytes(&f)?,
                3 | 5 => self.check_string(&f)?,
                6 | 10 | 12 | 14 => varint(&f)?,
                7 | 8 => fixed64(&f)?,
                16 => fixed32(&f)?,
                9 => {
                    let (key, value) = self.key_value(&f, depth + 1)?;
                    span.interesting |= self.interest.span_attributes.iter().any(|(k, v)| {
                        k.as_bytes() == key && v.is_none_or(|w| value == Some(w.as_bytes()))
                    });
                }
                11 => self.event(&f, depth + 1)?,
                13 => span.interesting |= self.link(&f, depth + 1)?,
                15 => self.status(&f, depth + 1)?,
                _ => {}
            }
        }
        Ok(span)
    }

    fn event(&self, f: &Field, depth: usize) -> Result<(), Malformed> {
        let mut fields = self.message(f, depth)?;
        while let Some(f) = fields.next_field()? {
            match f.tag {
                1 => fixed64(&f)?,
                2 => self.check_string(&f)?,
                3 => self.check_key_value(&f, depth + 1)?,
                4 => varint(&f)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Returns whether the link has an attribute named in the interest.
    fn link(&self, f: &Field, depth: usize) -> Result<bool, Malformed> {
        let mut fields = self.message(f, depth)?;
        let mut interesting = false;
        while let Some(f) = fields.next_field()? {
            match f.tag {
                1 | 2 => self.check_bytes(&f)?,
                3 => self.check_string(&f)?,
                4 => {
                    let (key, _) = self.key_value(&f, depth + 1)?;
                    interesting |= self
                        .interest
                        .link_attributes
                        .iter()
                        .any(|k| k.as_bytes() == key);
                }
                5 => varint(&f)?,
                6 => fixed32(&f)?,
                _ => {}
            }
        }
        Ok(interesting)
    }

    fn status(&self, f: &Field, depth: usize) -> Result<(), Malformed> {
        let mut fields = self.message(f, depth)?;
        while let Some(f) = fields.next_field()? {
            match f.tag {
                2 => self.check_string(&f)?,
                3 => varint(&f)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The attribute's key (its last occurrence) and its last string value.
    fn key_value(
        &self,
        f: &Field,
        depth: usize,
    ) -> Result<(&'a [u8], Option<&'a [u8]>), Malformed> {
        let (start, end) = len(f)?;
        if depth < self.max_depth {
            if let Some(kv) = self.input.get(start..end).and_then(plain_attribute) {
                return Ok(kv);
            }
        }
        self.key_value_fields(f, depth)
    }

    /// [`Walk::key_value`] for any encoding.
    fn key_value_fields(
        &self,
        f: &Field,
        depth: usize,
    ) -> Result<(&'a [u8], Option<&'a [u8]>), Malformed> {
        let mut fields = self.message(f, depth)?;
        let (mut key, mut value): (&[u8], _) = (&[], None);
        while let Some(f) = fields.next_field()? {
            match f.tag {
                1 => key = self.string(&f)?,
                2 => {
                    if let Some(s) = self.any_value(&f, depth + 1)? {
                        value = Some(s);
                    }
                }
                3 => varint(&f)?,
                _ => {}
            }
        }
        Ok((key, value))
    }

    /// Validates an `AnyValue`; returns its last string value.
    fn any_value(&self, f: &Field, depth: usize) -> Result<Option<&'a [u8]>, Malformed> {
        let mut fields = self.message(f, depth)?;
        let mut last = None;
        while let Some(f) = fields.next_field()? {
            match f.tag {
                1 => last = Some(self.string(&f)?),
                2 | 3 | 8 => varint(&f)?,
                4 => fixed64(&f)?,
                5 => {
                    let mut values = self.message(&f, depth + 1)?;
                    while let Some(v) = values.next_field()? {
                        if v.tag == 1 {
                            self.any_value(&v, depth + 2)?;
                        }
                    }
                }
                6 => {
                    let mut values = self.message(&f, depth + 1)?;
                    while let Some(v) = values.next_field()? {
                        if v.tag == 1 {
                            self.key_value(&v, depth + 2)?;
                        }
                    }
                }
                7 => self.check_bytes(&f)?,
                _ => {}
            }
        }
        Ok(last)
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
