//! Encoding names, detection, gzip, responses and the exact OTLP/JSON output forms.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use relink::otlp::{self, Encoding, ExportTraceServiceRequest};
use std::error::Error;

type Result = std::result::Result<(), Box<dyn Error>>;

#[test]
fn content_types() {
    assert_eq!(Encoding::Protobuf.content_type(), "application/x-protobuf");
    assert_eq!(Encoding::Json.content_type(), "application/json");
    assert_eq!(
        Encoding::from_content_type("application/json"),
        Some(Encoding::Json)
    );
    assert_eq!(
        Encoding::from_content_type("Application/JSON; charset=utf-8"),
        Some(Encoding::Json)
    );
    assert_eq!(
        Encoding::from_content_type(" application/x-protobuf "),
        Some(Encoding::Protobuf)
    );
    assert_eq!(
        Encoding::from_content_type("application/protobuf"),
        Some(Encoding::Protobuf)
    );
    assert_eq!(Encoding::from_content_type("text/plain"), None);
    assert_eq!(Encoding::from_content_type(""), None);
    assert_eq!(
        (Encoding::Protobuf.name(), Encoding::Json.name()),
        ("protobuf", "json")
    );
}

#[test]
fn detection_from_content() {
    assert_eq!(otlp::detect(b"{}"), Encoding::Json);
    assert_eq!(
        otlp::detect(b" \r\n\t{\"resourceSpans\":[]}"),
        Encoding::Json
    );
    assert_eq!(
        otlp::detect(b"\n{\n  \"resourceSpans\": []\n}\n"),
        Encoding::Json
    );
    assert_eq!(otlp::detect(b""), Encoding::Protobuf);
    assert_eq!(otlp::detect(&[0x0a, 0x00]), Encoding::Protobuf);
    assert_eq!(otlp::detect(b"[]"), Encoding::Protobuf);
    assert_eq!(otlp::detect(b"   "), Encoding::Protobuf);
}

#[test]
fn protobuf_that_reads_as_newline_brace_is_protobuf() -> Result {
    // A request whose first ResourceSpans is 123 bytes long starts 0a 7b: "\n{".
    let rs = ResourceSpans {
        schema_url: "s".repeat(121),
        ..Default::default()
    };
    let bytes = otlp::encode_protobuf(&ExportTraceServiceRequest {
        resource_spans: vec![rs],
    });
    assert_eq!(bytes.get(..3), Some(&[0x0a, 0x7b, 0x1a][..]));
    assert_eq!(otlp::detect(&bytes), Encoding::Protobuf);
    let decoded = otlp::decode(&bytes, otlp::detect(&bytes))?;
    assert_eq!(
        decoded.resource_spans.first().map(|rs| rs.schema_url.len()),
        Some(121)
    );
    Ok(())
}

#[test]
fn empty_request_encodes_to_empty_forms() -> Result {
    let empty = ExportTraceServiceRequest::default();
    assert_eq!(otlp::encode(&empty, Encoding::Json), b"{}");
    assert_eq!(otlp::encode(&empty, Encoding::Protobuf), b"");
    assert_eq!(otlp::decode(b"{}", Encoding::Json)?, empty);
    assert_eq!(otlp::decode(b"", Encoding::Protobuf)?, empty);
    assert_eq!(
        otlp::decode(
            br#"{"resourceSpans":null,"unknownKey":[{}]}"#,
            Encoding::Json
        )?,
        empty
    );
    // The proto name is read as the JSON name (a `null` under the other is absent).
    assert_eq!(
        otlp::decode(
            br#"{"resourceSpans":null,"resource_spans":[{}]}"#,
            Encoding::Json
        )?,
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans::default()],
        }
    );
    Ok(())
}

fn one_span(span: Span) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn attr(key: &str, value: Option<Any>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value }),
        key_strindex: 0,
    }
}

#[test]
fn json_output_forms_are_exact() -> Result {
    let span = Span {
        trace_id: vec![0xAB; 16],
        span_id: vec![0x0C; 8],
        flags: 0x301,
        kind: 4,
        start_time_unix_nano: u64::MAX,
        attributes: vec![
            attr("zero", Some(Any::IntValue(0))),
            attr("empty", Some(Any::StringValue(String::new()))),
            attr("false", Some(Any::BoolValue(false))),
            attr("neg", Some(Any::IntValue(i64::MIN))),
            attr("nan", Some(Any::DoubleValue(f64::NAN))),
            attr("inf", Some(Any::DoubleValue(f64::INFINITY))),
            attr("bytes", Some(Any::BytesValue(vec![0xfb, 0xff]))),
            attr("unset", None),
        ],
        links: vec![Link {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            trace_state: "k=v".into(),
            flags: 0x100,
            ..Default::default()
        }],
        status: Some(Status::default()),
        ..Default::default()
    };
    let json = String::from_utf8(otlp::encode_json(&one_span(span)))?;
    assert_eq!(
        json,
        concat!(
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abababababababababababababababab","#,
            r#""spanId":"0c0c0c0c0c0c0c0c","flags":769,"kind":4,"startTimeUnixNano":"18446744073709551615","#,
            r#""attributes":[{"key":"zero","value":{"intValue":"0"}},{"key":"empty","value":{"stringValue":""}},"#,
            r#"{"key":"false","value":{"boolValue":false}},{"key":"neg","value":{"intValue":"-9223372036854775808"}},"#,
            r#"{"key":"nan","value":{"doubleValue":"NaN"}},{"key":"inf","value":{"doubleValue":"Infinity"}},"#,
            r#"{"key":"bytes","value":{"bytesValue":"+/8="}},{"key":"unset","value":{}}],"#,
            r#""links":[{"traceId":"01010101010101010101010101010101","spanId":"0202020202020202","traceState":"k=v","#,
            r#""flags":256}],"status":{}}]}]}]}"#
        )
    );
    // And back: the same message, compared through protobuf because NaN != NaN.
    let back = otlp::decode_json(json.as_bytes())?;
    assert_eq!(otlp::encode_json(&back), json.as_bytes());
    Ok(())
}

#[test]
fn enum_names_and_strings_for_numbers_are_accepted() -> Result {
    let json =
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_PRODUCER","flags":"256",
        "status":{"code":"STATUS_CODE_OK"},"droppedLinksCount":"7","startTimeUnixNano":1e9}]}]}]}"#;
    let req = otlp::decode_json(json)?;
    let span = req
        .resource_spans
        .first()
        .and_then(|rs| rs.scope_spans.first())
        .and_then(|ss| ss.spans.first())
        .ok_or("no span")?;
    assert_eq!(
        (span.kind, span.flags, span.dropped_links_count),
        (4, 256, 7)
    );
    assert_eq!(span.start_time_unix_nano, 1_000_000_000);
    assert_eq!(span.status.as_ref().map(|s| s.code), Some(1));
    Ok(())
}

#[test]
fn gzip_round_trip_and_header() -> Result {
    let body = br#"{"resourceSpans":[]}"#.repeat(100);
    let packed = otlp::gzip(&body);
    assert!(otlp::is_gzip(&packed));
    assert!(!otlp::is_gzip(&body));
    assert!(!otlp::is_gzip(&[0x1f]));
    // Magic, deflate, no flags, mtime 0, no extra flags, OS unknown: deterministic.
    assert_eq!(
        packed.get(..10),
        Some(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff][..])
    );
    assert_eq!(packed, otlp::gzip(&body));
    assert_eq!(otlp::gunzip(&packed, body.len())?, body);
    assert_eq!(otlp::gunzip(&otlp::gzip(b""), 0)?, b"");
    // Two members, as a client may concatenate them.
    let mut two = otlp::gzip(b"ab");
    two.extend_from_slice(&otlp::gzip(b"cd"));
    assert_eq!(otlp::gunzip(&two, 4)?, b"abcd");
    Ok(())
}

#[test]
fn gunzip_rejects_what_is_not_gzip() {
    let err = |bytes: &[u8]| otlp::gunzip(bytes, 1024).map_err(|e| e.to_string());
    assert_eq!(
        err(b"plain"),
        Err("otlp: field `body` is not valid gzip: unexpected end of file".to_owned())
    );
    assert_eq!(
        err(b"{\"resourceSpans\":[]}"),
        Err("otlp: field `body` is not valid gzip: invalid gzip header".to_owned())
    );
    let packed = otlp::gzip(b"hello hello hello");
    let cut = packed.get(..packed.len() - 6).unwrap_or_default();
    assert_eq!(
        err(cut),
        Err("otlp: field `body` is not valid gzip: unexpected end of file".to_owned())
    );
    let mut corrupt = packed.clone();
    if let Some(b) = corrupt.get_mut(packed.len() - 8) {
        *b ^= 0xff; // the CRC
    }
    assert_eq!(err(&corrupt), Err("otlp: field `body` is not valid gzip: corrupt gzip stream does not have a matching checksum".to_owned()));
    assert_eq!(otlp::DEFAULT_INFLATED_LIMIT, 64 << 20);
}

#[test]
fn responses() {
    assert_eq!(otlp::encode_response(0, "", Encoding::Json), b"{}");
    assert_eq!(otlp::encode_response(0, "", Encoding::Protobuf), b"");
    assert_eq!(otlp::encode_response(-5, "", Encoding::Json), b"{}");
    assert_eq!(
        otlp::encode_response(1, "span 3: \"bad\" id", Encoding::Json),
        br#"{"partialSuccess":{"rejectedSpans":"1","errorMessage":"span 3: \"bad\" id"}}"#
    );
    assert_eq!(
        otlp::encode_response(2, "", Encoding::Json),
        br#"{"partialSuccess":{"rejectedSpans":"2"}}"#
    );
    assert_eq!(
        otlp::encode_response(0, "clock skew", Encoding::Json),
        br#"{"partialSuccess":{"errorMessage":"clock skew"}}"#
    );
    // partial_success { rejected_spans: 2, error_message: "x" }
    assert_eq!(
        otlp::encode_response(2, "x", Encoding::Protobuf),
        [0x0a, 0x05, 0x08, 0x02, 0x12, 0x01, b'x']
    );
}
