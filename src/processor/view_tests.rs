//! The view read from bytes against the view of the decoded span.

use super::*;
use crate::processor::attrs::kv;
use opentelemetry_proto::tonic::common::v1::ArrayValue;
use opentelemetry_proto::tonic::trace::v1::Status;
use proptest::arbitrary::Arbitrary;
use prost::Message;

fn attribute(key: &str, value: Value) -> KeyValue {
    crate::otlp::kv::value(key, value)
}

fn rich_span() -> Span {
    let strings = ArrayValue {
        values: vec![
            crate::otlp::kv::string_value("a"),
            AnyValue {
                value: Some(Value::IntValue(7)),
            },
            crate::otlp::kv::string_value("b"),
        ],
    };
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "s".into(),
        attributes: vec![
            kv("rpc.system", "aws-api"),
            attribute("n", Value::IntValue(-3)),
            attribute("d", Value::DoubleValue(1.5)),
            attribute("b", Value::BoolValue(true)),
            attribute("ids", Value::ArrayValue(strings)),
            attribute("raw", Value::BytesValue(vec![0xff])),
            KeyValue {
                key: "empty".into(),
                value: None,
                ..Default::default()
            },
            kv("é", "ü"),
        ],
        links: vec![Link {
            trace_id: vec![3; 16],
            span_id: vec![4; 8],
            attributes: vec![kv("ptr.hash", "h"), kv("ptr.dir", "d")],
            ..Default::default()
        }],
        status: Some(Status {
            code: 2,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn reads_what_the_decoded_view_holds() {
    let span = rich_span();
    let bytes = span.encode_to_vec();
    let read = SpanView::read(&bytes).expect("a plain encoding");
    assert_eq!(read, SpanView::of(&span));
    assert!(read.error);
    assert_eq!(read.attributes.get_strings("ids", 99), vec!["a", "b"]);
    assert_eq!(read.attributes.get_str("empty", 99), None);
    assert_eq!(read.attributes.get_str("rpc.system", 0), None);
    let ok = Span {
        status: Some(Status::default()),
        ..span
    };
    assert!(!SpanView::read(&ok.encode_to_vec()).unwrap().error);
}

#[test]
fn leaves_to_the_decoder_what_a_plain_read_could_get_wrong() {
    let mut bytes = rich_span().encode_to_vec();
    // span_id again: prost takes the last one.
    bytes.extend_from_slice(&[0x12, 8, 9, 9, 9, 9, 9, 9, 9, 9]);
    assert!(SpanView::read(&bytes).is_none());
    // An AnyValue with two values: prost takes the last.
    let two = [0x0a, 1, b'x', 0x18, 5];
    let mut kv = vec![0x0a, 1, b'k', 0x12, two.len() as u8];
    kv.extend_from_slice(&two);
    let mut span = vec![0x4a, kv.len() as u8];
    span.extend_from_slice(&kv);
    assert!(SpanView::read(&span).is_none());
    let decoded = Span::decode(span.as_slice()).unwrap();
    assert_eq!(SpanView::of(&decoded).attributes.get_str("k", 9), None);
    // A status written twice: prost merges the two.
    let status = [0x7a, 2, 0x18, 2, 0x7a, 2, 0x12, 0];
    assert!(SpanView::read(&status).is_none());
    // A string attribute of the wrong wire type: prost refuses it.
    assert!(SpanView::read(&[0x4a, 4, 0x0a, 1, b'k', 0x10]).is_none());
}

#[test]
fn unknown_fields_are_skipped_as_prost_skips_them() {
    let span = rich_span();
    let mut bytes = span.encode_to_vec();
    bytes.extend_from_slice(&[0xa8, 0x06, 1]); // field 101, varint
    assert_eq!(SpanView::read(&bytes), Some(SpanView::of(&span)));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

    /// Bytes changed at random: whenever prost decodes the span and the view reads it, the
    /// two agree (and reading never panics). The fast path only reads spans its scanner
    /// validated, so this is stricter than it needs: any span at all.
    #[test]
    fn read_agrees_with_prost_on_changed_bytes(
        flips in proptest::collection::vec(
            (proptest::sample::Index::arbitrary(), proptest::prop_oneof![0u8..=0x7f, 0u8..=255]),
            1..4,
        ),
        cut in proptest::option::weighted(0.2, proptest::sample::Index::arbitrary()),
    ) {
        let mut bytes = rich_span().encode_to_vec();
        for (at, byte) in &flips {
            let i = at.index(bytes.len());
            if let Some(b) = bytes.get_mut(i) {
                *b = *byte;
            }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let read = SpanView::read(&bytes);
        if let (Some(read), Ok(decoded)) = (read, Span::decode(bytes.as_slice())) {
            // A string prost accepted is UTF-8, so the view's unchecked bytes are too.
            proptest::prop_assert_eq!(read, SpanView::of(&decoded));
        }
    }
}
