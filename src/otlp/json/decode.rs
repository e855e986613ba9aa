//! OTLP/JSON to `ExportTraceServiceRequest`: a walk over a parsed `serde_json::Value`.
//!
//! Keys are the lowerCamelCase JSON names, and the original snake_case proto names too
//! (`read::get`): OTLP says senders use the first, proto3 JSON parsers (the Collector's
//! among them) accept both, and a relinked span must not lose a field a sender spelt the
//! other way. Unknown keys are ignored. Parsing into a `Value`
//! first keeps the walk simple and bounds nesting: serde_json stops at 128 levels with
//! an error, so a deeply nested attribute cannot overflow the stack here or in the walk.
//! A key repeated in one object is an error (as in Go's protojson), not a silent
//! last-wins: a relinked output would otherwise lose the first value.

use super::path::Path;
use super::read::{
    bool_value, bytes_value, double_value, enum_field, get, i32_field, i32_value, i64_value,
    id_field, message, object, repeated, repeated_messages, string, string_value, u32_field,
    u64_field, Object,
};
use crate::error::DecodeError;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::Value;

const TRACE_ID_BYTES: usize = 16;
const SPAN_ID_BYTES: usize = 8;

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
///
/// Errors name the field path (`resourceSpans[0].scopeSpans[1].spans[3].traceId: expected
/// 32 hex digits, got 31 characters`); syntax errors give serde_json's line and column.
pub fn decode_json(bytes: &[u8]) -> Result<ExportTraceServiceRequest, DecodeError> {
    let error = |e: serde_json::Error| DecodeError::Otlp {
        encoding: "json",
        message: e.to_string(),
    };
    let value: Value = match crate::json::strict::from_slice(bytes) {
        Ok(value) => value,
        // A string cut inside a surrogate pair (as the OTel JS SDK's truncation cuts one)
        // is read with U+FFFD in place of the half, as the Collector reads it.
        Err(e) => match crate::json::repair_lone_surrogates(bytes) {
            Some(repaired) => crate::json::strict::from_slice(&repaired).map_err(error)?,
            None => return Err(error(e)),
        },
    };
    let root = Path::Root;
    let obj = object(&value, &root)?;
    Ok(ExportTraceServiceRequest {
        resource_spans: repeated_messages(obj, &root, "resourceSpans", resource_spans)?,
    })
}

fn resource_spans(obj: &Object, path: &Path) -> Result<ResourceSpans, DecodeError> {
    Ok(ResourceSpans {
        resource: message(obj, path, "resource", resource)?,
        scope_spans: repeated_messages(obj, path, "scopeSpans", scope_spans)?,
        schema_url: string(obj, path, "schemaUrl")?,
    })
}

fn resource(obj: &Object, path: &Path) -> Result<Resource, DecodeError> {
    Ok(Resource {
        attributes: repeated_messages(obj, path, "attributes", key_value)?,
        dropped_attributes_count: u32_field(obj, path, "droppedAttributesCount")?,
        entity_refs: repeated_messages(obj, path, "entityRefs", entity_ref)?,
    })
}

fn entity_ref(obj: &Object, path: &Path) -> Result<EntityRef, DecodeError> {
    Ok(EntityRef {
        schema_url: string(obj, path, "schemaUrl")?,
        r#type: string(obj, path, "type")?,
        id_keys: repeated(obj, path, "idKeys", string_value)?,
        description_keys: repeated(obj, path, "descriptionKeys", string_value)?,
    })
}

fn scope_spans(obj: &Object, path: &Path) -> Result<ScopeSpans, DecodeError> {
    Ok(ScopeSpans {
        scope: message(obj, path, "scope", scope)?,
        spans: repeated_messages(obj, path, "spans", span)?,
        schema_url: string(obj, path, "schemaUrl")?,
    })
}

fn scope(obj: &Object, path: &Path) -> Result<InstrumentationScope, DecodeError> {
    Ok(InstrumentationScope {
        name: string(obj, path, "name")?,
        version: string(obj, path, "version")?,
        attributes: repeated_messages(obj, path, "attributes", key_value)?,
        dropped_attributes_count: u32_field(obj, path, "droppedAttributesCount")?,
    })
}

fn span(obj: &Object, path: &Path) -> Result<Span, DecodeError> {
    Ok(Span {
        trace_id: id_field(obj, path, "traceId", TRACE_ID_BYTES)?,
        span_id: id_field(obj, path, "spanId", SPAN_ID_BYTES)?,
        trace_state: string(obj, path, "traceState")?,
        parent_span_id: id_field(obj, path, "parentSpanId", SPAN_ID_BYTES)?,
        flags: u32_field(obj, path, "flags")?,
        name: string(obj, path, "name")?,
        kind: enum_field(obj, path, "kind", |name| {
            SpanKind::from_str_name(name).map(|k| k as i32)
        })?,
        start_time_unix_nano: u64_field(obj, path, "startTimeUnixNano")?,
        end_time_unix_nano: u64_field(obj, path, "endTimeUnixNano")?,
        attributes: repeated_messages(obj, path, "attributes", key_value)?,
        dropped_attributes_count: u32_field(obj, path, "droppedAttributesCount")?,
        events: repeated_messages(obj, path, "events", event)?,
        dropped_events_count: u32_field(obj, path, "droppedEventsCount")?,
        links: repeated_messages(obj, path, "links", link)?,
        dropped_links_count: u32_field(obj, path, "droppedLinksCount")?,
        status: message(obj, path, "status", status)?,
    })
}

fn event(obj: &Object, path: &Path) -> Result<Event, DecodeError> {
    Ok(Event {
        time_unix_nano: u64_field(obj, path, "timeUnixNano")?,
        name: string(obj, path, "name")?,
        attributes: repeated_messages(obj, path, "attributes", key_value)?,
        dropped_attributes_count: u32_field(obj, path, "droppedAttributesCount")?,
    })
}

fn link(obj: &Object, path: &Path) -> Result<Link, DecodeError> {
    Ok(Link {
        trace_id: id_field(obj, path, "traceId", TRACE_ID_BYTES)?,
        span_id: id_field(obj, path, "spanId", SPAN_ID_BYTES)?,
        trace_state: string(obj, path, "traceState")?,
        attributes: repeated_messages(obj, path, "attributes", key_value)?,
        dropped_attributes_count: u32_field(obj, path, "droppedAttributesCount")?,
        flags: u32_field(obj, path, "flags")?,
    })
}

fn status(obj: &Object, path: &Path) -> Result<Status, DecodeError> {
    Ok(Status {
        message: string(obj, path, "message")?,
        code: enum_field(obj, path, "code", |name| {
            StatusCode::from_str_name(name).map(|c| c as i32)
        })?,
    })
}

fn key_value(obj: &Object, path: &Path) -> Result<KeyValue, DecodeError> {
    Ok(KeyValue {
        key: string(obj, path, "key")?,
        value: message(obj, path, "value", any_value)?,
        key_strindex: i32_field(obj, path, "keyStrindex")?,
    })
}

/// The `value` oneof: at most one member may be set (proto3 JSON rejects two), `null`
/// members count as unset, and an object with none is an empty `AnyValue`.
fn any_value(obj: &Object, path: &Path) -> Result<AnyValue, DecodeError> {
    const MEMBERS: [&str; 8] = [
        "stringValue",
        "boolValue",
        "intValue",
        "doubleValue",
        "arrayValue",
        "kvlistValue",
        "bytesValue",
        "stringValueStrindex",
    ];
    let mut set = Vec::new();
    for key in MEMBERS {
        if let Some(v) = get(obj, path, key)? {
            set.push((key, v));
        }
    }
    let mut set = set.into_iter();
    let Some((key, value)) = set.next() else {
        return Ok(AnyValue { value: None });
    };
    if let Some((other, _)) = set.next() {
        return Err(path.error(format!(
            "both {key} and {other} are set; a value has one type"
        )));
    }
    let at = path.field(key);
    let value = match key {
        "stringValue" => Any::StringValue(string_value(value, &at)?),
        "boolValue" => Any::BoolValue(bool_value(value, &at)?),
        "intValue" => Any::IntValue(i64_value(value, &at)?),
        "doubleValue" => Any::DoubleValue(double_value(value, &at)?),
        "arrayValue" => Any::ArrayValue(ArrayValue {
            values: repeated_messages(object(value, &at)?, &at, "values", any_value)?,
        }),
        "kvlistValue" => Any::KvlistValue(KeyValueList {
            values: repeated_messages(object(value, &at)?, &at, "values", key_value)?,
        }),
        "bytesValue" => Any::BytesValue(bytes_value(value, &at)?),
        _ => Any::StringValueStrindex(i32_value(value, &at)?),
    };
    Ok(AnyValue { value: Some(value) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        match decode_json(json.as_bytes()) {
            Ok(req) => format!("unexpected success: {req:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn not_an_object_is_named_at_the_root() {
        assert_eq!(
            err("[1]"),
            "otlp json: request: expected an object, got an array"
        );
    }

    #[test]
    fn wrong_types_name_the_path() {
        assert_eq!(
            err(r#"{"resourceSpans":[{"scopeSpans":{}}]}"#),
            "otlp json: resourceSpans[0].scopeSpans: expected an array, got an object"
        );
        assert_eq!(
            err(r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"intValue":true}}]}}]}"#),
            "otlp json: resourceSpans[0].resource.attributes[0].value.intValue: expected an integer, got a boolean"
        );
    }

    /// The proto names are read as the JSON names (the Collector accepts both), so a span
    /// spelt that way keeps its fields when relink re-encodes it; both at once is an error.
    #[test]
    fn snake_case_proto_names_are_read_as_the_json_names() {
        let camel = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"s","startTimeUnixNano":"123","droppedAttributesCount":2,"attributes":[{"key":"k","value":{"stringValue":"v"}},{"key":"b","value":{"bytesValue":"AQI="}}]}]}]}]}"#;
        let snake = r#"{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","name":"s","start_time_unix_nano":"123","dropped_attributes_count":2,"attributes":[{"key":"k","value":{"string_value":"v"}},{"key":"b","value":{"bytes_value":"AQI="}}]}]}]}]}"#;
        let (a, b) = (decode_json(camel.as_bytes()), decode_json(snake.as_bytes()));
        assert!(a.is_ok(), "{a:?}");
        assert_eq!(a, b);
        assert_eq!(
            err(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"5","start_time_unix_nano":"6"}]}]}]}"#),
            "otlp json: resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: both startTimeUnixNano and start_time_unix_nano are set"
        );
        // `null` is absent under either name.
        assert!(decode_json(br#"{"resourceSpans":null,"resource_spans":[]}"#).is_ok());
        assert!(
            err(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"trace_Id":"00"}]}]}]}"#)
                .starts_with("unexpected success")
        );
    }

    /// Base64 as the proto3 JSON parsers read it: either alphabet (even mixed), padding
    /// optional, unused trailing bits ignored, line breaks skipped; anything else refused.
    #[test]
    fn bytes_values_are_read_as_lenient_parsers_read_them() {
        let bytes = |b64: &str| {
            let json = format!(
                r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"b","value":{{"bytesValue":"{b64}"}}}}]}}}}]}}"#
            );
            decode_json(json.as_bytes()).map(|r| {
                r.resource_spans[0]
                    .resource
                    .clone()
                    .unwrap_or_default()
                    .attributes[0]
                    .value
                    .clone()
            })
        };
        let of = |b: &[u8]| {
            Ok(Some(AnyValue {
                value: Some(Any::BytesValue(b.to_vec())),
            }))
        };
        assert_eq!(bytes("AQI="), of(&[1, 2]));
        assert_eq!(bytes("AQI"), of(&[1, 2]));
        assert_eq!(bytes("AB=="), of(&[0]));
        assert_eq!(bytes("AQ\\nID"), of(&[1, 2, 3]));
        assert_eq!(bytes("+-_/"), of(&[0xfb, 0xef, 0xff]));
        assert!(bytes("A!B=").is_err());
        assert!(bytes("A").is_err());
    }

    /// An integer written as a number in a string (`"1e3"`, `"5.0"`) is the integer the
    /// same number unquoted is; a fraction is refused either way.
    #[test]
    fn integers_in_strings_read_as_the_same_numbers_unquoted() {
        let start = |time: &str| {
            let json = format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"startTimeUnixNano":{time}}}]}}]}}]}}"#
            );
            decode_json(json.as_bytes())
                .map(|r| r.resource_spans[0].scope_spans[0].spans[0].start_time_unix_nano)
        };
        for (quoted, plain) in [
            ("\"1e3\"", "1e3"),
            ("\"5.0\"", "5.0"),
            ("\"1.5e18\"", "1.5e18"),
        ] {
            assert_eq!(start(quoted), start(plain), "{quoted}");
            assert!(start(quoted).is_ok(), "{quoted}");
        }
        assert_eq!(start("\"1e3\""), Ok(1000));
        assert!(start("\"1.5\"").is_err());
        assert!(start("\"1e400\"").is_err());
        assert!(start("\"0x10\"").is_err());
    }

    #[test]
    fn two_oneof_members_are_rejected() {
        assert_eq!(
            err(r#"{"resourceSpans":[{"resource":{"attributes":[{"value":{"stringValue":"a","intValue":1}}]}}]}"#),
            "otlp json: resourceSpans[0].resource.attributes[0].value: both stringValue and intValue are set; a value has one type"
        );
    }
}
