//! `ExportTraceServiceRequest` to OTLP/JSON, field by field in proto declaration order.
//!
//! What the output looks like, per the OTLP specification: lowerCamelCase keys, ids as
//! lowercase hex, 64-bit integers as decimal strings, enums as integers, `flags` and
//! counts as numbers, bytes as padded standard base64, default values omitted. A set
//! `AnyValue` member is always written, even when it holds a default (`{"intValue":"0"}`),
//! because the oneof's choice is itself the information.

use super::write::Writer;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, EntityRef, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// Encodes a request as compact OTLP/JSON. Deterministic: the same request always gives
/// the same bytes.
pub fn encode_json(request: &ExportTraceServiceRequest) -> Vec<u8> {
    let mut w = Writer::new();
    w.begin_object();
    w.list_field("resourceSpans", &request.resource_spans, resource_spans);
    w.end_object();
    w.finish()
}

fn resource_spans(w: &mut Writer, rs: &ResourceSpans) {
    w.begin_object();
    w.message_field("resource", rs.resource.as_ref(), resource);
    w.list_field("scopeSpans", &rs.scope_spans, scope_spans);
    w.str_field("schemaUrl", &rs.schema_url);
    w.end_object();
}

fn resource(w: &mut Writer, r: &Resource) {
    w.begin_object();
    w.list_field("attributes", &r.attributes, key_value);
    w.u32_field("droppedAttributesCount", r.dropped_attributes_count);
    w.list_field("entityRefs", &r.entity_refs, entity_ref);
    w.end_object();
}

fn entity_ref(w: &mut Writer, e: &EntityRef) {
    w.begin_object();
    w.str_field("schemaUrl", &e.schema_url);
    w.str_field("type", &e.r#type);
    w.list_field("idKeys", &e.id_keys, |w, k| w.string(k));
    w.list_field("descriptionKeys", &e.description_keys, |w, k| w.string(k));
    w.end_object();
}

fn scope_spans(w: &mut Writer, ss: &ScopeSpans) {
    w.begin_object();
    w.message_field("scope", ss.scope.as_ref(), scope);
    w.list_field("spans", &ss.spans, span);
    w.str_field("schemaUrl", &ss.schema_url);
    w.end_object();
}

fn scope(w: &mut Writer, s: &InstrumentationScope) {
    w.begin_object();
    w.str_field("name", &s.name);
    w.str_field("version", &s.version);
    w.list_field("attributes", &s.attributes, key_value);
    w.u32_field("droppedAttributesCount", s.dropped_attributes_count);
    w.end_object();
}

fn span(w: &mut Writer, s: &Span) {
    w.begin_object();
    w.id_field("traceId", &s.trace_id);
    w.id_field("spanId", &s.span_id);
    w.str_field("traceState", &s.trace_state);
    w.id_field("parentSpanId", &s.parent_span_id);
    w.u32_field("flags", s.flags);
    w.str_field("name", &s.name);
    w.i32_field("kind", s.kind);
    w.u64_field("startTimeUnixNano", s.start_time_unix_nano);
    w.u64_field("endTimeUnixNano", s.end_time_unix_nano);
    w.list_field("attributes", &s.attributes, key_value);
    w.u32_field("droppedAttributesCount", s.dropped_attributes_count);
    w.list_field("events", &s.events, event);
    w.u32_field("droppedEventsCount", s.dropped_events_count);
    w.list_field("links", &s.links, link);
    w.u32_field("droppedLinksCount", s.dropped_links_count);
    w.message_field("status", s.status.as_ref(), status);
    w.end_object();
}

fn event(w: &mut Writer, e: &Event) {
    w.begin_object();
    w.u64_field("timeUnixNano", e.time_unix_nano);
    w.str_field("name", &e.name);
    w.list_field("attributes", &e.attributes, key_value);
    w.u32_field("droppedAttributesCount", e.dropped_attributes_count);
    w.end_object();
}

fn link(w: &mut Writer, l: &Link) {
    w.begin_object();
    w.id_field("traceId", &l.trace_id);
    w.id_field("spanId", &l.span_id);
    w.str_field("traceState", &l.trace_state);
    w.list_field("attributes", &l.attributes, key_value);
    w.u32_field("droppedAttributesCount", l.dropped_attributes_count);
    w.u32_field("flags", l.flags);
    w.end_object();
}

fn status(w: &mut Writer, s: &Status) {
    w.begin_object();
    w.str_field("message", &s.message);
    w.i32_field("code", s.code);
    w.end_object();
}

fn key_value(w: &mut Writer, kv: &KeyValue) {
    w.begin_object();
    w.str_field("key", &kv.key);
    w.message_field("value", kv.value.as_ref(), any_value);
    w.i32_field("keyStrindex", kv.key_strindex);
    w.end_object();
}

fn any_value(w: &mut Writer, v: &AnyValue) {
    w.begin_object();
    match &v.value {
        None => {}
        Some(Any::StringValue(s)) => {
            w.key("stringValue");
            w.string(s);
        }
        Some(Any::BoolValue(b)) => {
            w.key("boolValue");
            w.bool(*b);
        }
        Some(Any::IntValue(i)) => {
            w.key("intValue");
            w.int64(*i);
        }
        Some(Any::DoubleValue(d)) => {
            w.key("doubleValue");
            w.double(*d);
        }
        Some(Any::ArrayValue(a)) => {
            w.key("arrayValue");
            w.begin_object();
            w.list_field("values", &a.values, any_value);
            w.end_object();
        }
        Some(Any::KvlistValue(kv)) => {
            w.key("kvlistValue");
            w.begin_object();
            w.list_field("values", &kv.values, key_value);
            w.end_object();
        }
        Some(Any::BytesValue(b)) => {
            w.key("bytesValue");
            w.base64(b);
        }
        Some(Any::StringValueStrindex(i)) => {
            w.key("stringValueStrindex");
            w.int32(*i);
        }
    }
    w.end_object();
}
