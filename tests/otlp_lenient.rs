//! Everything a receiver must or may accept in OTLP/JSON (tests/otlp/lenient_input.json),
//! and the canonical outputs checked in beside it. `UPDATE_GOLDEN=1` rewrites the
//! outputs; review the diff. tests/clients/test_otlp_decode.py reads the `.pb` with the
//! Python opentelemetry-proto package.

mod common;

use relink::otlp::{self, Encoding};
use std::error::Error;
use std::path::Path;

type Result = std::result::Result<(), Box<dyn Error>>;

const INPUT: &str = include_str!("otlp/lenient_input.json");

/// Compares `actual` with the checked-in file, or rewrites it under UPDATE_GOLDEN=1.
fn golden(name: &str, actual: &[u8]) -> Result {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/otlp")
        .join(name);
    if common::update_golden() {
        std::fs::write(&path, actual)?;
    }
    let expected = std::fs::read(&path)?;
    assert!(
        expected == actual,
        "{name} differs from what the encoder produces (UPDATE_GOLDEN=1 to rewrite)"
    );
    Ok(())
}

#[test]
fn lenient_input_encodes_to_the_checked_in_protobuf() -> Result {
    golden(
        "lenient_input.pb",
        &otlp::encode_protobuf(&otlp::decode_json(INPUT.as_bytes())?),
    )
}

#[test]
fn lenient_input_encodes_to_the_checked_in_canonical_json() -> Result {
    let mut json = otlp::encode_json(&otlp::decode_json(INPUT.as_bytes())?);
    json.push(b'\n');
    golden("lenient_input.canonical.json", &json)
}

#[test]
fn canonical_json_is_a_fixed_point() -> Result {
    let canonical = otlp::encode_json(&otlp::decode_json(INPUT.as_bytes())?);
    assert_eq!(
        otlp::encode(&otlp::decode(&canonical, Encoding::Json)?, Encoding::Json),
        canonical
    );
    Ok(())
}

#[test]
fn lenient_forms_decode_to_the_right_values() -> Result {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    let req = otlp::decode_json(INPUT.as_bytes())?;
    let rs = req.resource_spans.first().ok_or("no resourceSpans")?;
    let resource = rs.resource.as_ref().ok_or("no resource")?;
    assert_eq!(resource.dropped_attributes_count, 3);
    assert_eq!(resource.attributes.len(), 4);
    assert_eq!(
        resource
            .attributes
            .get(2)
            .and_then(|kv| kv.value.as_ref())
            .map(|v| v.value.is_none()),
        Some(true)
    );
    assert_eq!(
        resource.attributes.get(3).map(|kv| kv.value.is_none()),
        Some(true)
    );
    assert_eq!(
        resource.entity_refs.first().map(|e| e.id_keys.clone()),
        Some(vec!["service.name".to_owned()])
    );
    let ss = rs.scope_spans.first().ok_or("no scopeSpans")?;
    assert_eq!(
        ss.scope.as_ref().map(|s| s.dropped_attributes_count),
        Some(1)
    );
    let span = ss.spans.first().ok_or("no span")?;
    assert_eq!(
        hex::encode(&span.trace_id),
        "5b8efff798038103d269b633813fc60c"
    );
    assert!(span.parent_span_id.is_empty());
    assert_eq!((span.flags, span.kind), (769, 5));
    assert_eq!(
        (span.start_time_unix_nano, span.end_time_unix_nano),
        (1_714_557_600_000_000_000, 1_714_557_600_250_000_000)
    );
    let attr = |key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone()?.value)
    };
    assert_eq!(attr("relink.int.number"), Some(Any::IntValue(-17)));
    assert_eq!(attr("relink.int.string"), Some(Any::IntValue(i64::MIN)));
    assert_eq!(
        attr("relink.double.string"),
        Some(Any::DoubleValue(f64::NEG_INFINITY))
    );
    assert_eq!(
        attr("relink.double.exponent"),
        Some(Any::DoubleValue(6.02214076e23))
    );
    assert_eq!(
        attr("relink.bytes.urlsafe"),
        Some(Any::BytesValue(vec![0xff, 0xef]))
    );
    assert_eq!(attr("relink.strindex"), Some(Any::StringValueStrindex(7)));
    assert_eq!(
        (
            span.dropped_attributes_count,
            span.dropped_events_count,
            span.dropped_links_count
        ),
        (2, 1, 4)
    );
    let link = span.links.first().ok_or("no link")?;
    assert_eq!(
        (
            link.trace_state.as_str(),
            link.flags,
            link.dropped_attributes_count
        ),
        ("congo=t61rcWkgMzE", 257, 1)
    );
    let status = span.status.as_ref().ok_or("no status")?;
    assert_eq!((status.code, status.message.as_str()), (2, "AccessDenied"));
    let second = ss.spans.get(1).ok_or("no second span")?;
    assert_eq!(
        (second.kind, second.status.is_none(), second.links.len()),
        (0, true, 0)
    );
    Ok(())
}
