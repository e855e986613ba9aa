//! A readable, complete rendering of spans and export requests for exact comparison:
//! every field of every span, link and resource, one line each.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::fmt::Write;

pub(in crate::inferred) fn render_spans(spans: &[Span]) -> String {
    let mut out = String::new();
    for s in spans {
        span(&mut out, s, "");
    }
    out
}

pub(in crate::inferred) fn render_request(req: &ExportTraceServiceRequest) -> String {
    let mut out = String::new();
    for rs in &req.resource_spans {
        let _ = writeln!(out, "resource schema={}", rs.schema_url);
        if let Some(r) = &rs.resource {
            attrs(&mut out, &r.attributes, "  ");
            let _ = writeln!(
                out,
                "  dropped_attributes={} entity_refs={}",
                r.dropped_attributes_count,
                r.entity_refs.len()
            );
        }
        for ss in &rs.scope_spans {
            let (name, version) = ss
                .scope
                .as_ref()
                .map(|s| (s.name.as_str(), s.version.as_str()))
                .unwrap_or_default();
            let _ = writeln!(out, "  scope {name} {version} schema={}", ss.schema_url);
            for s in &ss.spans {
                span(&mut out, s, "    ");
            }
        }
    }
    out
}

fn span(out: &mut String, s: &Span, indent: &str) {
    let kind = SpanKind::try_from(s.kind)
        .map(|k| k.as_str_name())
        .unwrap_or("?");
    let _ = writeln!(out, "{indent}span {:?} {kind}", s.name);
    let _ = writeln!(
        out,
        "{indent}  ids trace={} span={} parent={} flags={:#x} state={:?}",
        hex::encode(&s.trace_id),
        hex::encode(&s.span_id),
        if s.parent_span_id.is_empty() {
            "-".to_string()
        } else {
            hex::encode(&s.parent_span_id)
        },
        s.flags,
        s.trace_state
    );
    let _ = writeln!(
        out,
        "{indent}  time {}..{}",
        s.start_time_unix_nano, s.end_time_unix_nano
    );
    attrs(out, &s.attributes, &format!("{indent}  "));
    for l in &s.links {
        let _ = writeln!(
            out,
            "{indent}  link trace={} span={} flags={:#x} state={:?}",
            hex::encode(&l.trace_id),
            hex::encode(&l.span_id),
            l.flags,
            l.trace_state
        );
        attrs(out, &l.attributes, &format!("{indent}    "));
    }
    let status = s
        .status
        .as_ref()
        .map(|st| format!("{}:{}", st.code, st.message))
        .unwrap_or_else(|| "unset".into());
    let _ = writeln!(
        out,
        "{indent}  dropped attributes={} events={} links={} events={} status={status}",
        s.dropped_attributes_count,
        s.dropped_events_count,
        s.dropped_links_count,
        s.events.len()
    );
}

/// Writes one line per attribute; a key repeated in one list (invalid in OTLP) is marked,
/// so every exact comparison also checks that keys are unique.
fn attrs(out: &mut String, kvs: &[KeyValue], indent: &str) {
    for (i, kv) in kvs.iter().enumerate() {
        let repeated = kvs[..i].iter().any(|earlier| earlier.key == kv.key);
        let mark = if repeated { " (REPEATED KEY)" } else { "" };
        let _ = writeln!(
            out,
            "{indent}{} = {}{mark}",
            kv.key,
            value(kv.value.as_ref())
        );
    }
}

fn value(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => format!("{s:?}"),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => format!("{d:?}"),
        Some(Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(|v| value(Some(v))).collect();
            format!("[{}]", items.join(", "))
        }
        Some(other) => format!("{other:?}"),
        None => "<none>".into(),
    }
}

#[test]
fn repeated_keys_are_marked() {
    let kv = |k: &str| KeyValue {
        key: k.into(),
        value: None,
        key_strindex: 0,
    };
    let mut out = String::new();
    attrs(&mut out, &[kv("a"), kv("b"), kv("a")], "");
    assert_eq!(out, "a = <none>\nb = <none>\na = <none> (REPEATED KEY)\n");
}
