//! Binary protobuf `ExportTraceServiceRequest` straight to OTLP/JSON, reading the wire
//! format in place instead of decoding into prost's model first: no allocation per
//! string, attribute or span, which is what writing a relinked batch as a JSON line cost
//! (decode into the model, then encode it).
//!
//! The bytes written are exactly [`encode_json`](super::encode_json) of what prost
//! decodes: the same [`Writer`], fields in the same order, and prost's semantics (a
//! singular scalar keeps its last value, every string occurrence must be UTF-8, unknown
//! fields are skipped, a `uint32`/`int32` varint is truncated as prost casts it). What
//! prost would merge (a singular sub-message or an `AnyValue` member seen more than
//! once), group wire types and nesting beyond [`MAX_DEPTH`] are not transcoded:
//! [`direct`] refuses them, and [`protobuf_to_json`] then takes the model path, which
//! also reports malformed input in prost's words.

use super::encode_json;
use super::write::{NotUtf8, Writer};
use crate::error::DecodeError;
use crate::otlp::wire::{Field, Fields, Malformed, Value};

/// Deepest message transcoded, counting the request as 0 (prost allows 100; OTLP needs 5,
/// plus two per level of nested array or map values).
pub const MAX_DEPTH: usize = 64;

/// A binary request as compact OTLP/JSON, byte for byte what decoding it with prost and
/// encoding the result with [`encode_json`](super::encode_json) gives, including the
/// error for input prost refuses.
pub fn protobuf_to_json(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    match direct(bytes) {
        Ok(json) => Ok(json),
        Err(Malformed) => crate::otlp::decode(bytes, crate::otlp::Encoding::Protobuf)
            .map(|request| encode_json(&request)),
    }
}

/// The transcoder alone: `Err` for anything it does not vouch for (see the module docs),
/// including everything prost refuses.
pub fn direct(bytes: &[u8]) -> Result<Vec<u8>, Malformed> {
    let mut t = Transcoder {
        input: bytes,
        // OTLP/JSON of a span is about twice its protobuf (hex ids, quoted numbers, keys).
        w: Writer::with_capacity(bytes.len().saturating_mul(2)),
    };
    t.message(Msg::Request, 0, bytes.len(), 0)?;
    Ok(t.w.finish())
}

/// The message types of the OTLP trace schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    Request,
    ResourceSpans,
    Resource,
    EntityRef,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    ArrayValue,
    KvList,
}

/// How a field is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `string`: a JSON string, omitted when empty.
    Str,
    /// A trace or span id (`bytes`): lowercase hex, omitted when empty.
    Id,
    /// `uint32`: a number, omitted when 0.
    U32,
    /// `int32` or an enum: a number, omitted when 0.
    I32,
    /// `fixed32`: a number, omitted when 0.
    Fixed32,
    /// `fixed64`: a decimal string, omitted when 0.
    Fixed64,
    /// An optional sub-message: written when present, even empty.
    Message(Msg),
    /// A repeated message: an array, omitted when empty.
    Messages(Msg),
    /// A repeated string.
    Strings,
    /// A repeated `KeyValue`.
    KeyValues,
    /// A repeated `AnyValue`.
    Anys,
}

use Kind::*;

/// Each message's fields: tag, JSON key, kind, in the order `encode_json` writes them.
fn schema(msg: Msg) -> &'static [(u32, &'static str, Kind)] {
    match msg {
        Msg::Request => &[(1, "resourceSpans", Messages(Msg::ResourceSpans))],
        Msg::ResourceSpans => &[
            (1, "resource", Message(Msg::Resource)),
            (2, "scopeSpans", Messages(Msg::ScopeSpans)),
            (3, "schemaUrl", Str),
        ],
        Msg::Resource => &[
            (1, "attributes", KeyValues),
            (2, "droppedAttributesCount", U32),
            (3, "entityRefs", Messages(Msg::EntityRef)),
        ],
        Msg::EntityRef => &[
            (1, "schemaUrl", Str),
            (2, "type", Str),
            (3, "idKeys", Strings),
            (4, "descriptionKeys", Strings),
        ],
        Msg::ScopeSpans => &[
            (1, "scope", Message(Msg::Scope)),
            (2, "spans", Messages(Msg::Span)),
            (3, "schemaUrl", Str),
        ],
        Msg::Scope => &[
            (1, "name", Str),
            (2, "version", Str),
            (3, "attributes", KeyValues),
            (4, "droppedAttributesCount", U32),
        ],
        Msg::Span => &[
            (1, "traceId", Id),
            (2, "spanId", Id),
            (3, "traceState", Str),
            (4, "parentSpanId", Id),
            (16, "flags", Fixed32),
            (5, "name", Str),
            (6, "kind", I32),
            (7, "startTimeUnixNano", Fixed64),
            (8, "endTimeUnixNano", Fixed64),
            (9, "attributes", KeyValues),
            (10, "droppedAttributesCount", U32),
            (11, "events", Messages(Msg::Event)),
            (12, "droppedEventsCount", U32),
            (13, "links", Messages(Msg::Link)),
            (14, "droppedLinksCount", U32),
            (15, "status", Message(Msg::Status)),
        ],
        Msg::Event => &[
            (1, "timeUnixNano", Fixed64),
            (2, "name", Str),
            (3, "attributes", KeyValues),
            (4, "droppedAttributesCount", U32),
        ],
        Msg::Link => &[
            (1, "traceId", Id),
            (2, "spanId", Id),
            (3, "traceState", Str),
            (4, "attributes", KeyValues),
            (5, "droppedAttributesCount", U32),
            (6, "flags", Fixed32),
        ],
        Msg::Status => &[(2, "message", Str), (3, "code", I32)],
        Msg::ArrayValue => &[(1, "values", Anys)],
        Msg::KvList => &[(1, "values", KeyValues)],
    }
}

/// The most fields a message of the schema has (`Span`).
const MAX_FIELDS: usize = 16;

/// What the first pass over a message saw of one schema field.
#[derive(Clone, Copy, Default)]
struct Seen {
    /// The last occurrence (the value prost keeps for a singular field).
    last: Option<Field>,
    /// Where the first occurrence starts (a repeated field is written from there).
    first: usize,
    count: usize,
}

struct Transcoder<'a> {
    input: &'a [u8],
    w: Writer,
}

impl<'a> Transcoder<'a> {
    fn bytes(&self, start: usize, end: usize) -> Result<&'a [u8], Malformed> {
        self.input.get(start..end).ok_or(Malformed)
    }

    fn text(&self, start: usize, end: usize) -> Result<&'a str, Malformed> {
        std::str::from_utf8(self.bytes(start, end)?).map_err(|_| Malformed)
    }

    /// Writes the message `input[start..end]` as a JSON object.
    fn message(
        &mut self,
        msg: Msg,
        start: usize,
        end: usize,
        depth: usize,
    ) -> Result<(), Malformed> {
        if depth > MAX_DEPTH {
            return Err(Malformed);
        }
        let fields = schema(msg);
        let mut seen = [Seen::default(); MAX_FIELDS];
        let mut reader = Fields::new(self.input, start, end)?;
        // Runs of one repeated field (a span's attributes) look their tag up once.
        let mut previous: Option<(u32, usize)> = None;
        while let Some(f) = reader.next_field()? {
            let at = match previous {
                Some((tag, at)) if tag == f.tag => at,
                _ => match fields.iter().position(|(tag, _, _)| *tag == f.tag) {
                    Some(at) => {
                        previous = Some((f.tag, at));
                        at
                    }
                    None => continue, // unknown: skipped, as prost does
                },
            };
            let kind = fields.get(at).map(|(_, _, kind)| *kind).ok_or(Malformed)?;
            let slot = seen.get_mut(at).ok_or(Malformed)?;
            check_wire_type(kind, &f)?;
            if slot.count == 0 {
                slot.first = f.start;
            }
            slot.count += 1;
            let replaced = slot.last.replace(f);
            match (kind, replaced) {
                // prost merges a sub-message seen twice; the model path does that.
                (Message(_), Some(_)) => return Err(Malformed),
                // prost validates every occurrence of a string, also the ones it replaces.
                (
                    Str,
                    Some(Field {
                        value: Value::Len { start, end },
                        ..
                    }),
                ) => {
                    self.text(start, end)?;
                }
                _ => {}
            }
        }
        self.w.begin_object();
        for ((tag, key, kind), seen) in fields.iter().zip(seen) {
            if let Some(last) = seen.last {
                self.field(*tag, key, *kind, last, seen, end, depth)?;
            }
        }
        self.w.end_object();
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn field(
        &mut self,
        tag: u32,
        key: &str,
        kind: Kind,
        last: Field,
        seen: Seen,
        end: usize,
        depth: usize,
    ) -> Result<(), Malformed> {
        match (kind, last.value) {
            (Str, Value::Len { start, end }) => {
                let text = self.bytes(start, end)?;
                self.w.utf8_field(key, text)?;
            }
            (Id, Value::Len { start, end }) => {
                let id = self.bytes(start, end)?;
                self.w.id_field(key, id);
            }
            (U32, Value::Varint(n)) => self.w.u32_field(key, n as u32),
            (I32, Value::Varint(n)) => self.w.i32_field(key, n as i32),
            (Fixed32, Value::I32) => {
                let n = u32::from_le_bytes(self.fixed(&last)?);
                self.w.u32_field(key, n);
            }
            (Fixed64, Value::I64) => {
                let n = u64::from_le_bytes(self.fixed(&last)?);
                self.w.u64_field(key, n);
            }
            (Message(msg), Value::Len { start, end }) => {
                self.w.key(key);
                self.message(msg, start, end, depth + 1)?;
            }
            (Messages(_) | Strings | KeyValues | Anys, _) => {
                self.w.key(key);
                self.w.begin_array();
                let mut reader = Fields::new(self.input, seen.first, end)?;
                let mut left = seen.count;
                while left > 0 {
                    let f = reader.next_field()?.ok_or(Malformed)?;
                    if f.tag != tag {
                        continue;
                    }
                    left -= 1;
                    let Value::Len { start, end } = f.value else {
                        return Err(Malformed);
                    };
                    match kind {
                        Messages(msg) => self.message(msg, start, end, depth + 1)?,
                        KeyValues => self.key_value(start, end, depth + 1)?,
                        Anys => self.any_value(start, end, depth + 1)?,
                        _ => {
                            let text = self.bytes(start, end)?;
                            self.w.utf8_string(text)?;
                        }
                    }
                }
                self.w.end_array();
            }
            _ => return Err(Malformed),
        }
        Ok(())
    }

    fn fixed<const N: usize>(&self, f: &Field) -> Result<[u8; N], Malformed> {
        let end = f.after_key.checked_add(N).ok_or(Malformed)?;
        self.bytes(f.after_key, end)?
            .try_into()
            .map_err(|_| Malformed)
    }

    /// A `KeyValue`, the most frequent message: read in one pass without the schema table.
    fn key_value(&mut self, start: usize, end: usize, depth: usize) -> Result<(), Malformed> {
        if depth > MAX_DEPTH {
            return Err(Malformed);
        }
        let mut key: Option<(usize, usize)> = None;
        let mut value: Option<(usize, usize)> = None;
        let mut strindex = 0u64;
        let mut reader = Fields::new(self.input, start, end)?;
        while let Some(f) = reader.next_field()? {
            match (f.tag, f.value) {
                (1, Value::Len { start, end }) => {
                    if let Some((s, e)) = key.replace((start, end)) {
                        self.text(s, e)?;
                    }
                }
                // A second value is merged by prost; the model path does that.
                (2, Value::Len { .. }) if value.is_some() => return Err(Malformed),
                (2, Value::Len { start, end }) => value = Some((start, end)),
                (3, Value::Varint(n)) => strindex = n,
                (1..=3, _) => return Err(Malformed),
                _ => {}
            }
        }
        self.w.begin_object();
        if let Some((s, e)) = key {
            let text = self.bytes(s, e)?;
            self.w.utf8_field("key", text)?;
        }
        if let Some((s, e)) = value {
            self.w.key("value");
            self.any_value(s, e, depth + 1)?;
        }
        self.w.i32_field("keyStrindex", strindex as i32);
        self.w.end_object();
        Ok(())
    }

    /// An `AnyValue`: the member set, written even when it holds a default value.
    fn any_value(&mut self, start: usize, end: usize, depth: usize) -> Result<(), Malformed> {
        if depth > MAX_DEPTH {
            return Err(Malformed);
        }
        let mut member: Option<Field> = None;
        let mut reader = Fields::new(self.input, start, end)?;
        while let Some(f) = reader.next_field()? {
            let expected = match f.tag {
                1 | 5 | 6 | 7 => matches!(f.value, Value::Len { .. }),
                2 | 3 | 8 => matches!(f.value, Value::Varint(_)),
                4 => f.value == Value::I64,
                _ => continue,
            };
            // A second member is replaced or merged by prost; the model path does that.
            if !expected || member.replace(f).is_some() {
                return Err(Malformed);
            }
        }
        self.w.begin_object();
        if let Some(f) = member {
            match (f.tag, f.value) {
                (1, Value::Len { start, end }) => {
                    let text = self.bytes(start, end)?;
                    self.w.key("stringValue");
                    self.w.utf8_string(text)?;
                }
                (2, Value::Varint(n)) => {
                    self.w.key("boolValue");
                    self.w.bool(n != 0);
                }
                (3, Value::Varint(n)) => {
                    self.w.key("intValue");
                    self.w.int64(n as i64);
                }
                (4, _) => {
                    self.w.key("doubleValue");
                    self.w.double(f64::from_le_bytes(self.fixed(&f)?));
                }
                (5, Value::Len { start, end }) => {
                    self.w.key("arrayValue");
                    self.message(Msg::ArrayValue, start, end, depth + 1)?;
                }
                (6, Value::Len { start, end }) => {
                    self.w.key("kvlistValue");
                    self.message(Msg::KvList, start, end, depth + 1)?;
                }
                (7, Value::Len { start, end }) => {
                    let bytes = self.bytes(start, end)?;
                    self.w.key("bytesValue");
                    self.w.base64(bytes);
                }
                (8, Value::Varint(n)) => {
                    self.w.key("stringValueStrindex");
                    self.w.int32(n as i32);
                }
                _ => return Err(Malformed),
            }
        }
        self.w.end_object();
        Ok(())
    }
}

impl From<NotUtf8> for Malformed {
    fn from(_: NotUtf8) -> Malformed {
        Malformed
    }
}

/// prost refuses a known field with another wire type than its declaration's.
fn check_wire_type(kind: Kind, f: &Field) -> Result<(), Malformed> {
    let ok = match kind {
        U32 | I32 => matches!(f.value, Value::Varint(_)),
        Fixed32 => f.value == Value::I32,
        Fixed64 => f.value == Value::I64,
        Str | Id | Message(_) | Messages(_) | Strings | KeyValues | Anys => {
            matches!(f.value, Value::Len { .. })
        }
    };
    ok.then_some(()).ok_or(Malformed)
}
