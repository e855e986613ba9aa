//! The OTLP/JSON trace example of the opentelemetry-proto repository
//! (tests/otlp/opentelemetry_proto_trace.json, Apache-2.0, see tests/otlp/SOURCE.md).

use relink::otlp;
use serde_json::Value;
use std::error::Error;

type Result = std::result::Result<(), Box<dyn Error>>;

const EXAMPLE: &str = include_str!("otlp/opentelemetry_proto_trace.json");

#[test]
fn example_reencodes_equal_as_json_value() -> Result {
    let ours: Value =
        serde_json::from_slice(&otlp::encode_json(&otlp::decode_json(EXAMPLE.as_bytes())?))?;
    let mut expected: Value = serde_json::from_str(EXAMPLE)?;
    // The example writes ids in uppercase hex; OTLP/JSON ids are case-insensitive on
    // input and we write lowercase, so only the ids' case differs.
    let span = expected
        .pointer_mut("/resourceSpans/0/scopeSpans/0/spans/0")
        .and_then(Value::as_object_mut)
        .ok_or("example has no span")?;
    for key in ["traceId", "spanId", "parentSpanId"] {
        let id = span
            .get(key)
            .and_then(Value::as_str)
            .ok_or("example span lacks an id")?;
        let lower = id.to_ascii_lowercase();
        span.insert(key.to_owned(), Value::String(lower));
    }
    assert_eq!(ours, expected);
    Ok(())
}

#[test]
fn example_encodes_to_exact_compact_json() -> Result {
    let ours = String::from_utf8(otlp::encode_json(&otlp::decode_json(EXAMPLE.as_bytes())?))?;
    assert_eq!(
        ours,
        concat!(
            r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},"#,
            r#""scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0","attributes":[{"key":"my.scope.attribute","#,
            r#""value":{"stringValue":"some scope attribute"}}]},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","#,
            r#""spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","name":"I'm a server span","kind":2,"#,
            r#""startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","#,
            r#""attributes":[{"key":"my.span.attr","value":{"stringValue":"some value"}}]}]}]}]}"#
        )
    );
    Ok(())
}

#[test]
fn example_ids_decode_to_bytes() -> Result {
    let req = otlp::decode_json(EXAMPLE.as_bytes())?;
    let span = req
        .resource_spans
        .first()
        .and_then(|rs| rs.scope_spans.first())
        .and_then(|ss| ss.spans.first())
        .ok_or("no span")?;
    assert_eq!(
        span.trace_id,
        hex::decode("5b8efff798038103d269b633813fc60c")?
    );
    assert_eq!(
        span.span_id,
        [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]
    );
    assert_eq!(
        span.parent_span_id,
        [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73]
    );
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    Ok(())
}
