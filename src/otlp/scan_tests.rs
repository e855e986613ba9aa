use super::*;
use crate::otlp::wire::write_varint;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const INTEREST: Interest<'static> = Interest {
    span_attributes: &[("rpc.system", Some("aws-api")), ("relink.event", None)],
    link_attributes: &["ptr.hash"],
};

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn string(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.into())
}

fn span(id: u8, attributes: Vec<KeyValue>, links: Vec<Link>) -> Span {
    Span {
        trace_id: vec![id; 16],
        span_id: vec![id; 8],
        parent_span_id: vec![id + 100; 8],
        name: format!("s{id}"),
        attributes,
        links,
        ..Default::default()
    }
}

fn request(resources: Vec<Vec<Vec<Span>>>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|scopes| ResourceSpans {
                scope_spans: scopes
                    .into_iter()
                    .map(|spans| ScopeSpans {
                        spans,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
}

fn len_field(tag: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_varint(&mut out, u64::from(tag << 3 | 2));
    write_varint(&mut out, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

fn varint_field(tag: u32, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    write_varint(&mut out, u64::from(tag << 3));
    write_varint(&mut out, value);
    out
}

/// A request of one resource, one scope and one span with the given raw payload.
fn one_span(span: &[u8]) -> Vec<u8> {
    len_field(1, &len_field(2, &len_field(2, span)))
}

#[test]
fn flags_spans_by_interest_and_records_where_they_are() {
    let pointer = Link {
        attributes: vec![
            kv("ptr.kind", string("aws.s3.object")),
            kv("ptr.hash", string("ab")),
        ],
        ..Default::default()
    };
    let plain_link = Link {
        attributes: vec![kv("relink.rule", string("x"))],
        ..Default::default()
    };
    let spans = vec![
        span(
            1,
            vec![
                kv("http.method", string("GET")),
                kv("rpc.system", string("aws-api")),
            ],
            vec![],
        ),
        span(2, vec![kv("rpc.system", string("grpc"))], vec![plain_link]),
        span(
            3,
            vec![kv("relink.event", any_value::Value::IntValue(7))],
            vec![],
        ),
        span(4, vec![], vec![pointer]),
        span(5, vec![kv("aws-api", string("rpc.system"))], vec![]),
    ];
    let req = request(vec![
        vec![spans[..2].to_vec(), spans[2..3].to_vec()],
        vec![spans[3..].to_vec()],
    ]);
    let input = req.encode_to_vec();
    let scanned = scan(&input, &INTEREST).unwrap_or_default();
    let flags: Vec<bool> = scanned.spans.iter().map(|s| s.interesting).collect();
    assert_eq!(flags, vec![true, false, true, true, false]);
    let places: Vec<(usize, usize)> = scanned
        .spans
        .iter()
        .map(|s| (s.resource, s.scope))
        .collect();
    assert_eq!(places, vec![(0, 0), (0, 0), (0, 1), (1, 2), (1, 2)]);
    assert_eq!(
        scanned.scopes.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![0, 0, 1]
    );
    assert_eq!(scanned.resources.len(), 2);
    for (s, want) in scanned.spans.iter().zip(&spans) {
        let payload = input.get(s.frame.payload..s.frame.end).unwrap_or_default();
        assert_eq!(Span::decode(payload).as_ref(), Ok(want));
        assert_eq!(input.get(s.frame.start..s.frame.len_at), Some(&[0x12][..]));
        assert_eq!(s.trace_id, want.trace_id.as_slice());
        assert_eq!(s.span_id, want.span_id.as_slice());
        assert_eq!(s.parent_span_id, want.parent_span_id.as_slice());
    }
}

#[test]
fn the_last_occurrence_of_an_id_or_key_counts_as_in_prost() {
    let attr_then_renamed = len_field(
        9,
        &[
            len_field(1, b"rpc.system"),
            len_field(2, &len_field(1, b"aws-api")),
            len_field(1, b"other"),
        ]
        .concat(),
    );
    let renamed_to_event = len_field(
        9,
        &[len_field(1, b"other"), len_field(1, b"relink.event")].concat(),
    );
    let ids = [
        len_field(1, &[1; 16]),
        len_field(1, &[2; 16]),
        len_field(2, &[3; 8]),
    ]
    .concat();
    let cases = [
        ([ids.clone(), attr_then_renamed].concat(), false),
        ([ids.clone(), renamed_to_event].concat(), true),
    ];
    for (payload, interesting) in cases {
        let input = one_span(&payload);
        let scanned = scan(&input, &INTEREST).unwrap_or_default();
        let decoded = ExportTraceServiceRequest::decode(input.as_slice()).unwrap_or_default();
        let span = &decoded.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(scanned.spans.len(), 1);
        assert_eq!(scanned.spans[0].trace_id, span.trace_id.as_slice());
        assert_eq!(scanned.spans[0].trace_id, &[2; 16]);
        assert_eq!(scanned.spans[0].interesting, interesting);
    }
}

#[test]
fn refuses_what_prost_refuses() {
    let bad_utf8 = len_field(1, &[0xff, 0xfe]);
    let deep_string = len_field(9, &len_field(2, &len_field(5, &len_field(1, &bad_utf8))));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("invalid utf-8 in an array value", one_span(&deep_string)),
        (
            "invalid utf-8 in a span name",
            one_span(&len_field(5, &[0xc0])),
        ),
        (
            "kind as a length-delimited field",
            one_span(&len_field(6, b"x")),
        ),
        ("start time as a varint", one_span(&varint_field(7, 1))),
        ("resource_spans as a varint", varint_field(1, 3)),
        ("a span crossing its scope", {
            let mut v = len_field(1, &len_field(2, &len_field(2, b"")));
            v.push(0x00);
            v
        }),
        ("truncated", {
            let mut v = one_span(&len_field(5, b"name"));
            v.pop();
            v
        }),
    ];
    for (what, input) in cases {
        assert_eq!(
            scan(&input, &INTEREST).map(|_| ()),
            Err(Malformed),
            "{what}"
        );
        assert!(
            ExportTraceServiceRequest::decode(input.as_slice()).is_err(),
            "{what}"
        );
    }
}

#[test]
fn skips_unknown_fields_and_refuses_nesting_past_the_limit() {
    let unknown = [
        varint_field(99, 5),
        len_field(98, b"\xff"),
        vec![0x9d, 0x06, 1, 2, 3, 4],
    ]
    .concat();
    let input = [
        unknown.clone(),
        one_span(&[unknown.clone(), len_field(5, b"n")].concat()),
    ]
    .concat();
    let scanned = scan(&input, &INTEREST).unwrap_or_default();
    assert_eq!(scanned.spans.len(), 1);
    assert!(ExportTraceServiceRequest::decode(input.as_slice()).is_ok());

    // Arrays nested in an attribute value: the span is at depth 3, its KeyValue at 4, the
    // AnyValue at 5, then two levels per array.
    let nested = |levels: usize| {
        let mut v = AnyValue {
            value: Some(string("x")),
        };
        for _ in 0..levels {
            v = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![v] })),
            };
        }
        let span = Span {
            attributes: vec![KeyValue {
                key: "k".into(),
                value: Some(v),
                ..Default::default()
            }],
            ..Default::default()
        };
        request(vec![vec![vec![span]]]).encode_to_vec()
    };
    let deepest = (MAX_DEPTH - 5) / 2;
    assert!(scan(&nested(deepest), &INTEREST).is_ok());
    assert_eq!(
        scan(&nested(deepest + 1), &INTEREST).map(|_| ()),
        Err(Malformed)
    );
    assert!(ExportTraceServiceRequest::decode(nested(deepest + 1).as_slice()).is_ok());
    assert_eq!(scan(&[], &INTEREST).map(|s| s.spans.len()), Ok(0));
}

#[test]
fn the_plain_attribute_shortcut_reads_what_the_field_loop_reads() {
    let long = "k".repeat(200);
    let encodings: Vec<Vec<u8>> = vec![
        kv("rpc.system", string("aws-api")).encode_to_vec(),
        kv("n", any_value::Value::IntValue(-5)).encode_to_vec(),
        kv("b", any_value::Value::BoolValue(true)).encode_to_vec(),
        kv("d", any_value::Value::DoubleValue(1.5)).encode_to_vec(),
        kv("é", string("✓")).encode_to_vec(),
        kv(&long, string("v")).encode_to_vec(),
        kv("k", string(&long)).encode_to_vec(),
        kv("k", any_value::Value::BytesValue(vec![1])).encode_to_vec(),
        kv("k", any_value::Value::StringValueStrindex(3)).encode_to_vec(),
        KeyValue {
            key: "k".into(),
            value: None,
            key_strindex: 0,
        }
        .encode_to_vec(),
        KeyValue {
            key: "k".into(),
            value: Some(AnyValue { value: None }),
            key_strindex: 0,
        }
        .encode_to_vec(),
        // Trailing and repeated fields, a padded length, invalid UTF-8.
        [kv("k", string("v")).encode_to_vec(), len_field(1, b"z")].concat(),
        [
            len_field(1, b"k"),
            len_field(2, &[len_field(1, b"v"), varint_field(9, 1)].concat()),
        ]
        .concat(),
        vec![0x0a, 0x81, 0x00, 0x12, 0x03, 0x0a, 0x01, b'v'],
        vec![0x0a, 0x01, b'k', 0x12, 0x03, 0x0a, 0x01, 0xff],
        vec![0x0a, 0x01, b'k', 0x12, 0x02, 0x18, 0x80],
        // Key and string are checked as one run of bytes when both are ASCII: each
        // side non-ASCII or invalid alone.
        kv("é", string("v")).encode_to_vec(),
        kv("k", string("0123456789abcdef-é")).encode_to_vec(),
        vec![0x0a, 0x01, 0xff, 0x12, 0x03, 0x0a, 0x01, b'v'],
        [
            &[0x0a, 0x01, b'k', 0x12, 0x13, 0x0a, 0x11][..],
            b"0123456789abcdef",
            &[0xc3],
        ]
        .concat(),
    ];
    let mut shortcuts = 0;
    for (i, bytes) in encodings.iter().enumerate() {
        let input = len_field(1, bytes);
        let walk = Walk {
            input: &input,
            interest: &INTEREST,
            out: Scan::default(),
            not_utf8: None,
            max_depth: MAX_DEPTH,
        };
        let mut fields = Fields::new(&input, 0, input.len()).unwrap_or_else(|_| panic!("{i}"));
        let Ok(Some(field)) = fields.next_field() else {
            panic!("{i}: no field")
        };
        let general = walk.key_value_fields(&field, 4);
        let decoded = KeyValue::decode(bytes.as_slice());
        assert_eq!(general.is_ok(), decoded.is_ok(), "{i}: validation");
        if let Some(fast) = plain_attribute(bytes) {
            shortcuts += 1;
            assert_eq!(Ok(fast), general, "{i}");
        }
        assert_eq!(walk.key_value(&field, 4), general, "{i}");
    }
    assert_eq!(shortcuts, 7);
}

#[test]
fn the_ascii_check_sees_a_high_byte_at_every_position_of_every_length() {
    for len in 0..48 {
        let plain = vec![b'a'; len];
        assert!(ascii(&plain), "{len} ASCII bytes");
        assert_eq!(utf8(&plain), Some(()));
        for at in 0..len {
            let mut high = plain.clone();
            high[at] = 0x80;
            assert!(!ascii(&high), "a high byte at {at} of {len}");
            // A lone continuation byte is not UTF-8; a two-byte sequence is.
            assert_eq!(utf8(&high), None, "0x80 at {at} of {len}");
            if at + 1 < len {
                high[at] = 0xc3;
                high[at + 1] = 0xa9;
                assert_eq!(utf8(&high), Some(()), "é at {at} of {len}");
            }
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 1024, ..Default::default() })]

    /// A string attribute in the SDKs' encoding with any key and value bytes (mostly ASCII,
    /// some high, some invalid UTF-8, lengths around the word and 16-byte boundaries): the
    /// shortcut, the field loop and prost agree on whether it is valid, and on what it says.
    #[test]
    fn the_attribute_checks_agree_with_prost_on_any_string_bytes(
        key in proptest::collection::vec(
            proptest::prop_oneof![8 => 0x20u8..=0x7e, 1 => 0x80u8..=0xff, 1 => 0xc2u8..=0xf4],
            0..40,
        ),
        value in proptest::collection::vec(
            proptest::prop_oneof![8 => 0x20u8..=0x7e, 1 => 0x80u8..=0xff, 1 => 0xc2u8..=0xf4],
            0..40,
        ),
    ) {
        let Ok(value_len) = u8::try_from(value.len() + 2) else {
            return Ok(());
        };
        let bytes = [
            &[0x0a, key.len() as u8][..],
            &key,
            &[0x12, value_len, 0x0a, value.len() as u8],
            &value,
        ]
        .concat();
        let input = len_field(1, &bytes);
        let walk = Walk {
            input: &input,
            interest: &INTEREST,
            out: Scan::default(),
            not_utf8: None,
            max_depth: MAX_DEPTH,
        };
        let mut fields = Fields::new(&input, 0, input.len()).map_err(|_| {
            proptest::test_runner::TestCaseError::fail("no fields")
        })?;
        let Ok(Some(field)) = fields.next_field() else {
            return Err(proptest::test_runner::TestCaseError::fail("no field"));
        };
        let decoded = KeyValue::decode(bytes.as_slice());
        let general = walk.key_value_fields(&field, 4);
        proptest::prop_assert_eq!(general.is_ok(), decoded.is_ok());
        proptest::prop_assert_eq!(plain_attribute(&bytes).is_some(), decoded.is_ok());
        proptest::prop_assert_eq!(walk.key_value(&field, 4), general);
        if let Ok(decoded) = decoded {
            proptest::prop_assert_eq!(Ok((key.as_slice(), Some(value.as_slice()))), general);
            proptest::prop_assert_eq!(decoded.key.as_bytes(), key.as_slice());
        }
    }
}
