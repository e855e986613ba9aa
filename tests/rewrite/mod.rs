//! Re-encodes generated OTLP batches at the wire level (fields shuffled, unknown fields
//! of every wire type inserted, fields repeated), so the tests that compare a wire-level
//! reader with prost see every input prost accepts, not just prost's own encoding.
//! Shared by the test crates that include it (`mod rewrite;`), each of which also
//! includes benches/support/batches.rs as `batches`.

use crate::batches::{self, Rng, Shape};
use prost::Message;
use relink::otlp::wire::{write_varint, Fields, Value};

/// Message kinds of the OTLP trace schema, for the wire-level rewriter.
#[derive(Clone, Copy)]
pub enum Kind {
    Request,
    ResourceSpans,
    Resource,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KvList,
}

fn child(kind: Kind, tag: u32) -> Option<Kind> {
    use Kind::*;
    Some(match (kind, tag) {
        (Request, 1) => ResourceSpans,
        (ResourceSpans, 1) => Resource,
        (ResourceSpans, 2) => ScopeSpans,
        (Resource, 1) | (Scope, 3) | (Span, 9) | (Event, 3) | (Link, 4) | (KvList, 1) => KeyValue,
        (ScopeSpans, 1) => Scope,
        (ScopeSpans, 2) => Span,
        (Span, 11) => Event,
        (Span, 13) => Link,
        (Span, 15) => Status,
        (KeyValue, 2) | (ArrayValue, 1) => AnyValue,
        (AnyValue, 5) => ArrayValue,
        (AnyValue, 6) => KvList,
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug)]
pub struct Rewrite {
    pub shuffle: bool,
    pub unknown: bool,
    pub duplicate: bool,
}

/// Re-emits a well-formed message with its fields shuffled, unknown fields (tags above
/// every OTLP field number, all four wire types) inserted and fields repeated, at every
/// level. Repeating a singular field keeps its last value; repeating a repeated one adds
/// an element (a duplicate span, attribute or link): all inputs prost accepts.
pub fn rewrite(
    input: &[u8],
    start: usize,
    end: usize,
    kind: Kind,
    how: Rewrite,
    rng: &mut Rng,
) -> Vec<u8> {
    let mut fields: Vec<Vec<u8>> = Vec::new();
    let Ok(mut reader) = Fields::new(input, start, end) else {
        return input[start..end].to_vec();
    };
    while let Ok(Some(f)) = reader.next_field() {
        let bytes = match (f.value, child(kind, f.tag)) {
            (Value::Len { start: s, end: e }, Some(k)) => {
                let payload = rewrite(input, s, e, k, how, rng);
                let mut out = input[f.start..f.after_key].to_vec();
                write_varint(&mut out, payload.len() as u64);
                out.extend_from_slice(&payload);
                out
            }
            (Value::Len { end: e, .. }, None) => input[f.start..e].to_vec(),
            (Value::Varint(v), _) => {
                let mut out = input[f.start..f.after_key].to_vec();
                write_varint(&mut out, v);
                out
            }
            (Value::I64, _) => input[f.start..f.after_key + 8].to_vec(),
            (Value::I32, _) => input[f.start..f.after_key + 4].to_vec(),
        };
        if how.duplicate && rng.chance(5) {
            fields.push(bytes.clone());
        }
        fields.push(bytes);
    }
    if how.unknown && rng.chance(30) {
        let tag = *rng.pick(&[17u64, 50, 999, 536_870_911]);
        let mut out = Vec::new();
        match rng.next() % 4 {
            0 => {
                write_varint(&mut out, tag << 3);
                write_varint(&mut out, rng.next());
            }
            1 => {
                write_varint(&mut out, tag << 3 | 1);
                out.extend_from_slice(&rng.bytes::<8>());
            }
            2 => {
                write_varint(&mut out, tag << 3 | 2);
                out.extend_from_slice(&[3, 0xff, 0x00, 0x80]);
            }
            _ => {
                write_varint(&mut out, tag << 3 | 5);
                out.extend_from_slice(&rng.bytes::<4>());
            }
        }
        let at = rng.range(0, fields.len());
        fields.insert(at, out);
    }
    if how.shuffle {
        for i in (1..fields.len()).rev() {
            fields.swap(i, rng.range(0, i));
        }
    }
    fields.concat()
}

/// `batches` generated batches sharing a key pool, so joins happen within and across them.
pub fn generate(
    seed: u64,
    spans: usize,
    percent: usize,
    services: usize,
    how: Rewrite,
    batches: usize,
) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    let shape = Shape {
        spans,
        evidence_percent: percent,
        services,
        attributes: (2, 12),
        all_value_types: true,
        key_pool: 6,
        s3_only: false,
    };
    (0..batches)
        .map(|_| {
            let bytes = batches::request(&shape, &mut rng).encode_to_vec();
            rewrite(&bytes, 0, bytes.len(), Kind::Request, how, &mut rng)
        })
        .collect()
}
