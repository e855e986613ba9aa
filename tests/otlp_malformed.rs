//! Malformed OTLP: every input gives an error value naming the field, never a panic.

use relink::otlp::{self, Encoding};
use relink::DecodeError;

const PB: &[u8] = include_bytes!("otlp/python_sdk.pb");

fn json_err(json: &str) -> String {
    match otlp::decode_json(json.as_bytes()) {
        Ok(req) => format!("unexpected success: {req:?}"),
        Err(e) => e.to_string(),
    }
}

fn pb_err(bytes: &[u8]) -> String {
    match otlp::decode_protobuf(bytes) {
        Ok(req) => format!("unexpected success: {req:?}"),
        Err(e) => e.to_string(),
    }
}

/// A one-span request whose span carries `fields` (a JSON object body).
fn span_json(fields: &str) -> String {
    format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{fields}}}]}}]}}]}}"#)
}

fn attribute_json(value: &str) -> String {
    span_json(&format!(r#""attributes":[{{"key":"a","value":{value}}}]"#))
}

const SPAN: &str = "otlp json: resourceSpans[0].scopeSpans[0].spans[0]";

#[test]
fn truncated_protobuf_names_the_field() {
    let cut = PB.get(..PB.len() - 5).unwrap_or_default();
    assert_eq!(
        pb_err(cut),
        "otlp protobuf: resource_spans: buffer underflow"
    );
    assert_eq!(
        pb_err(&[0x0a]),
        "otlp protobuf: resource_spans: invalid varint"
    );
    // Cut anywhere, the request fails, except where a cut falls between the two
    // top-level resource_spans fields (and at zero bytes: an empty request).
    let decodable: Vec<usize> = (0..PB.len())
        .filter(|n| otlp::decode_protobuf(PB.get(..*n).unwrap_or_default()).is_ok())
        .collect();
    let first_len = otlp::decode_protobuf(PB)
        .map(|r| r.resource_spans.first().map(prost::Message::encoded_len));
    let boundary = first_len
        .ok()
        .flatten()
        .map(|len| 1 + prost::length_delimiter_len(len) + len);
    assert_eq!(
        (decodable.first(), decodable.get(1), decodable.len()),
        (Some(&0), boundary.as_ref(), 2)
    );
}

#[test]
fn wrong_wire_types_name_the_field() {
    assert_eq!(
        pb_err(&[0x08, 0x01]),
        "otlp protobuf: resource_spans: invalid wire type: Varint (expected LengthDelimited)"
    );
    // resource_spans { scope_spans { spans { trace_id as a varint } } }
    assert_eq!(
        pb_err(&[0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x08, 0x01]),
        "otlp protobuf: resource_spans.scope_spans.spans.trace_id: invalid wire type: Varint (expected LengthDelimited)"
    );
    assert_eq!(
        pb_err(&[0x0b]),
        "otlp protobuf: resource_spans: invalid wire type: StartGroup (expected LengthDelimited)"
    );
}

#[test]
fn invalid_utf8_in_protobuf_strings_is_rejected() {
    // resource_spans { scope_spans { spans { name: ff fe } } }
    assert_eq!(
        pb_err(&[0x0a, 0x08, 0x12, 0x06, 0x12, 0x04, 0x2a, 0x02, 0xff, 0xfe]),
        "otlp protobuf: resource_spans.scope_spans.spans.name: invalid string value: data is not UTF-8 encoded"
    );
}

#[test]
fn deeply_nested_protobuf_values_stop_at_prosts_limit() {
    // 10,000 nested AnyValue { array_value { values { ... } } }, built inside out.
    let mut value: Vec<u8> = Vec::new();
    for _ in 0..10_000 {
        let mut array = vec![0x0a];
        push_len(&mut array, value.len());
        array.extend_from_slice(&value);
        let mut any = vec![0x2a];
        push_len(&mut any, array.len());
        any.extend_from_slice(&array);
        value = any;
    }
    let mut kv = vec![0x12];
    push_len(&mut kv, value.len());
    kv.extend_from_slice(&value);
    let mut resource = vec![0x0a];
    push_len(&mut resource, kv.len());
    resource.extend_from_slice(&kv);
    let mut rs = vec![0x0a];
    push_len(&mut rs, resource.len());
    rs.extend_from_slice(&resource);
    let mut req = vec![0x0a];
    push_len(&mut req, rs.len());
    req.extend_from_slice(&rs);
    let err = pb_err(&req);
    assert!(err.ends_with(": recursion limit reached"), "{err}");
    assert_eq!(
        err,
        "otlp protobuf: resource_spans.resource.attributes.value.value.values.value.values.(87 more)\
         .values.value.values.value.values.value: recursion limit reached"
    );
}

fn push_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[test]
fn invalid_hex_ids_name_the_span() {
    let json = r#"{"resourceSpans":[{"scopeSpans":[{},{"spans":[{},{},{},{"traceId":"5b8efff798038103d269b633813fc60"}]}]}]}"#;
    assert_eq!(
        json_err(json),
        "otlp json: resourceSpans[0].scopeSpans[1].spans[3].traceId: expected 32 hex digits, got 31"
    );
    assert_eq!(
        json_err(&span_json(
            r#""traceId":"5b8efff798038103d269b633813fc6zz""#
        )),
        format!(
            r#"{SPAN}.traceId: expected 32 hex digits, got "5b8efff798038103d269b633813fc6zz""#
        )
    );
    assert_eq!(
        json_err(&span_json(r#""spanId":"é5b8efff79803810""#)),
        format!(r#"{SPAN}.spanId: expected 16 hex digits, got "é5b8efff79803810""#)
    );
    assert_eq!(
        json_err(&span_json(r#""parentSpanId":"00f067aa0ba902b700""#)),
        format!("{SPAN}.parentSpanId: expected 16 hex digits, got 18")
    );
    assert_eq!(
        json_err(&span_json(r#""links":[{"spanId":12}]"#)),
        format!("{SPAN}.links[0].spanId: expected a hex string, got a number")
    );
    // Base64, which the plain proto3 mapping would use, is not hex.
    assert_eq!(
        json_err(&span_json(r#""traceId":"W47/95gDgQPSabYzgT/GDA==""#)),
        format!(r#"{SPAN}.traceId: expected 32 hex digits, got "W47/95gDgQPSabYzgT/GDA==""#)
    );
}

#[test]
fn integers_out_of_range_are_rejected() {
    let cases = [
        (span_json(r#""startTimeUnixNano":"-1""#), ".startTimeUnixNano: -1 is out of range 0..=18446744073709551615"),
        (span_json(r#""endTimeUnixNano":18446744073709551616"#), ".endTimeUnixNano: 18446744073709551616 is out of range 0..=18446744073709551615"),
        (span_json(r#""flags":4294967296"#), ".flags: 4294967296 is out of range 0..=4294967295"),
        (span_json(r#""droppedEventsCount":-1"#), ".droppedEventsCount: -1 is out of range 0..=4294967295"),
        (span_json(r#""kind":2147483648"#), ".kind: 2147483648 is out of range -2147483648..=2147483647"),
        (span_json(r#""kind":"SERVER""#), r#".kind: unknown enum name "SERVER""#),
        (span_json(r#""status":{"code":true}"#), ".status.code: expected an integer, got a boolean"),
        (attribute_json(r#"{"intValue":"9223372036854775808"}"#), ".attributes[0].value.intValue: 9223372036854775808 is out of range -9223372036854775808..=9223372036854775807"),
        (attribute_json(r#"{"intValue":1.5}"#), ".attributes[0].value.intValue: expected an integer, got 1.5"),
        (attribute_json(r#"{"intValue":1e300}"#), ".attributes[0].value.intValue: expected an integer, got 1e+300"),
        (attribute_json(r#"{"intValue":" 1"}"#), r#".attributes[0].value.intValue: expected an integer, got " 1""#),
    ];
    for (json, suffix) in cases {
        assert_eq!(json_err(&json), format!("{SPAN}{suffix}"));
    }
}

#[test]
fn bad_scalars_are_rejected() {
    let cases = [
        (
            attribute_json(r#"{"doubleValue":"inf"}"#),
            r#".attributes[0].value.doubleValue: expected a number, got "inf""#,
        ),
        (
            attribute_json(r#"{"doubleValue":[]}"#),
            ".attributes[0].value.doubleValue: expected a number, got an array",
        ),
        (
            attribute_json(r#"{"bytesValue":"@@"}"#),
            ".attributes[0].value.bytesValue: invalid base64: Invalid symbol 64, offset 0.",
        ),
        (
            attribute_json(r#"{"boolValue":"true"}"#),
            ".attributes[0].value.boolValue: expected true or false, got a string",
        ),
        (
            attribute_json(r#"{"arrayValue":[]}"#),
            ".attributes[0].value.arrayValue: expected an object, got an array",
        ),
        (
            attribute_json(r#""yes""#),
            ".attributes[0].value: expected an object, got a string",
        ),
        (
            span_json(r#""name":7"#),
            ".name: expected a string, got a number",
        ),
        (
            span_json(r#""events":{}"#),
            ".events: expected an array, got an object",
        ),
    ];
    for (json, suffix) in cases {
        assert_eq!(json_err(&json), format!("{SPAN}{suffix}"));
    }
    assert_eq!(
        json_err(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[null]}]}]}"#),
        format!("{SPAN}: expected an object, got null")
    );
}

#[test]
fn non_object_and_broken_json_are_rejected() {
    assert_eq!(
        json_err("[]"),
        "otlp json: request: expected an object, got an array"
    );
    assert_eq!(
        json_err(r#""x""#),
        "otlp json: request: expected an object, got a string"
    );
    assert_eq!(
        json_err("null"),
        "otlp json: request: expected an object, got null"
    );
    assert_eq!(
        json_err("42"),
        "otlp json: request: expected an object, got a number"
    );
    assert_eq!(
        json_err(""),
        "otlp json: EOF while parsing a value at line 1 column 0"
    );
    assert_eq!(
        json_err(r#"{"resourceSpans":"#),
        "otlp json: EOF while parsing a value at line 1 column 17"
    );
    assert_eq!(
        json_err(r#"{"resourceSpans":[]} x"#),
        "otlp json: trailing characters at line 1 column 22"
    );
    assert_eq!(
        json_err(&attribute_json(r#"{"doubleValue":1e400}"#)),
        "otlp json: number out of range at line 1 column 97"
    );
}

#[test]
fn invalid_utf8_in_json_strings_is_rejected() {
    let raw = b"{\"resourceSpans\":[{\"schemaUrl\":\"\xff\"}]}";
    assert_eq!(
        otlp::decode_json(raw),
        Err(DecodeError::Otlp {
            encoding: "json",
            message: "invalid unicode code point at line 1 column 33".into()
        })
    );
    // A lone surrogate escape is not a Unicode scalar value either, but JavaScript writes
    // one for a string cut inside a pair: it is read as U+FFFD, as the Collector reads it,
    // while a pair, and an invalid escape beside it, are what they were.
    let name = |fields: &str| {
        otlp::decode_json(span_json(fields).as_bytes())
            .map(|r| r.resource_spans[0].scope_spans[0].spans[0].name.clone())
    };
    assert_eq!(name(r#""name":"\ud800x""#), Ok("\u{fffd}x".to_owned()));
    assert_eq!(
        name(r#""name":"\ud83d\ude80\udc00""#),
        Ok("\u{1f680}\u{fffd}".to_owned())
    );
    assert_eq!(
        json_err(&span_json(r#""name":"\ud800\x""#)),
        "otlp json: invalid escape at line 1 column 60"
    );
}

#[test]
fn ten_thousand_nested_arrays_stop_at_the_recursion_limit() {
    let deep = attribute_json(&"[".repeat(10_000));
    assert_eq!(
        json_err(&deep),
        "otlp json: recursion limit exceeded at line 1 column 196"
    );
    let deep_values = attribute_json(&r#"{"arrayValue":{"values":["#.repeat(10_000));
    assert!(
        json_err(&deep_values).starts_with("otlp json: recursion limit exceeded at line 1 column ")
    );
    assert!(otlp::decode(deep.as_bytes(), Encoding::Json).is_err());
}

#[test]
fn gzip_bombs_stay_bounded() {
    // Over 1 GiB of zeros in one gzip member of about 6.5 MiB.
    let (bomb, size) = zero_bomb((1 << 30) / 258 + 1);
    assert!(
        size > 1 << 30 && bomb.len() < 7 << 20,
        "{size} bytes in {}",
        bomb.len()
    );
    let limit = 8 << 20;
    assert_eq!(
        otlp::gunzip(&bomb, limit),
        Err(DecodeError::Gzip {
            input: "otlp",
            field: "body".into(),
            message: format!("inflates past the limit of {limit} bytes"),
        })
    );
    // The same construction under a limit at its size inflates in full: it is valid gzip.
    let (small, size) = zero_bomb(4065);
    assert_eq!(size, 1_048_771);
    assert!(otlp::is_gzip(&small));
    assert_eq!(
        otlp::gunzip(&small, size).map(|v| (v.len(), v.iter().all(|b| *b == 0))),
        Ok((size, true))
    );
    assert!(otlp::gunzip(&small, size - 1).is_err());
}

/// A gzip member of one fixed-Huffman deflate block: a literal zero, then `repeats`
/// copies of <length 258, distance 1>. Built bit by bit so the test spends no time
/// compressing. Returns the member and its inflated size.
fn zero_bomb(repeats: usize) -> (Vec<u8>, usize) {
    let mut bits = Bits {
        out: Vec::with_capacity(repeats * 13 / 8 + 32),
        acc: 0,
        used: 0,
    };
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE 01: fixed Huffman codes
    bits.put(0x0c, 8); // literal 0: code 00110000, written most significant bit first
    for _ in 0..repeats {
        bits.put(0xa3, 8); // length 258: code 285 = 11000101, reversed
        bits.put(0, 5); // distance 1: code 0
    }
    bits.put(0, 7); // end of block: code 256 = 0000000
    let size = 1 + 258 * repeats;
    let mut member = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    member.extend_from_slice(&bits.finish());
    member.extend_from_slice(&crc_of_zeros(size).to_le_bytes());
    member.extend_from_slice(&(size as u32).to_le_bytes());
    (member, size)
}

struct Bits {
    out: Vec<u8>,
    acc: u64,
    used: u32,
}

impl Bits {
    /// Appends `count` bits of `value`, least significant first (deflate's bit order).
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= value << self.used;
        self.used += count;
        while self.used >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.used -= 8;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// CRC-32 of `n` zero bytes by doubling, without hashing a gigabyte.
fn crc_of_zeros(n: usize) -> u32 {
    let mut total = flate2::Crc::new();
    let mut block = flate2::Crc::new();
    block.update(&[0]);
    for bit in 0..usize::BITS - n.leading_zeros() {
        if n >> bit & 1 == 1 {
            total.combine(&block);
        }
        let mut copy = flate2::Crc::new();
        copy.combine(&block);
        block.combine(&copy);
    }
    total.sum()
}
