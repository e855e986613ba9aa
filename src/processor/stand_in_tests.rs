//! Edits applied to a stand-in against the same edits on the decoded span.

use super::*;
use crate::config::Config;
use crate::otlp::scan::{scan, Interest, Scan};
use crate::otlp::splice::{splice, Replacements};
use crate::otlp::ExportTraceServiceRequest;
use crate::processor::attrs::kv;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, ArrayValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

fn settings() -> Settings {
    Settings::new(&Config::default()).unwrap()
}

fn span() -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "consumer".into(),
        kind: 5,
        start_time_unix_nano: 10,
        end_time_unix_nano: 20,
        attributes: vec![
            kv("faas.trigger", "datasource"),
            kv("relink.event", "{\"Records\":[]}"),
            kv("relink.rules", "s3.object"),
            kv("cloud.region", "us-east-1"),
        ],
        links: vec![Link {
            trace_id: vec![7; 16],
            span_id: vec![8; 8],
            ..Default::default()
        }],
        status: Some(Status {
            code: 1,
            ..Default::default()
        }),
        flags: 0x100,
        ..Default::default()
    }
}

fn request(span: Span) -> Vec<u8> {
    crate::otlp::encode_protobuf(&ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// The stand-in of the one span of `input`.
fn stand_in<'a>(input: &'a [u8], scanned: &Scan<'_>, config: &Settings) -> Option<StandIn<'a>> {
    let frame = scanned.spans.first()?.frame;
    StandIn::read(input, frame.payload..frame.end, &touched(config))
}

fn scanned(input: &[u8]) -> Scan<'_> {
    let none = Interest {
        span_attributes: &[],
        link_attributes: &[],
    };
    scan(input, &none).unwrap()
}

/// Applies `edit` to the span decoded and to its stand-in in a request: both requests
/// must be the same bytes.
fn same_bytes(span: &Span, edit: impl Fn(&mut Span)) {
    let input = request(span.clone());
    let config = settings();
    let scanned = scanned(&input);
    let mut stand_in = stand_in(&input, &scanned, &config).expect("field order");
    let mut decoded = span.clone();
    edit(&mut decoded);
    edit(&mut stand_in.span);
    let mut replaced = Replacements::default();
    replaced.push_with(0, |out| stand_in.write(out));
    assert_eq!(splice(&input, &scanned, &replaced), request(decoded));
}

#[test]
fn ids_attributes_and_links_come_out_as_prost_encodes_them() {
    let s = span();
    same_bytes(&s, |_| {});
    same_bytes(&s, |x| x.trace_id = vec![9; 16]);
    same_bytes(&s, |x| x.parent_span_id = vec![6; 8]);
    same_bytes(&s, |x| {
        attrs::remove(&mut x.attributes, "relink.event");
    });
    same_bytes(&s, |x| {
        attrs::truncate_str(&mut x.attributes, "relink.event", 3);
    });
    same_bytes(&s, |x| {
        attrs::merge_strings(&mut x.attributes, attrs::RULES, &["s3.key".into()]);
        attrs::merge_strings(&mut x.attributes, attrs::MATCHES, &["exact".into()]);
        attrs::set_str(&mut x.attributes, attrs::ORIGINAL_TRACE_ID, "01");
    });
    same_bytes(&s, |x| {
        x.links.push(Link {
            trace_id: vec![5; 16],
            span_id: vec![5; 8],
            attributes: vec![kv(attrs::LINK_RULE, "s3.object")],
            ..Default::default()
        })
    });
    // No links, no parent, no attributes before: the new fields go in field order.
    let bare = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "n".into(),
        status: Some(Status::default()),
        ..Default::default()
    };
    same_bytes(&bare, |x| {
        x.parent_span_id = vec![3; 8];
        attrs::set_str(&mut x.attributes, "relink.route", "r");
        x.links.push(Link {
            trace_id: vec![5; 16],
            span_id: vec![5; 8],
            ..Default::default()
        });
    });
}

#[test]
fn touched_attributes_are_decoded_and_the_rest_kept_in_place() {
    let mut s = span();
    s.attributes.insert(
        0,
        crate::otlp::kv::value(
            attrs::RULES,
            Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(Value::StringValue("a".into())),
                }],
            }),
        ),
    );
    let input = request(s);
    let config = settings();
    let scanned = scanned(&input);
    let stand_in = stand_in(&input, &scanned, &config).unwrap();
    let keys: Vec<&str> = stand_in
        .span
        .attributes
        .iter()
        .map(|k| k.key.as_str())
        .collect();
    assert_eq!(
        keys,
        ["relink.rules", "", "relink.event", "relink.rules", ""]
    );
    assert_eq!(stand_in.span.links.len(), 1);
}

#[test]
fn spans_out_of_field_order_or_with_an_id_twice_are_left_to_the_decoder() {
    let config = settings();
    let keys = touched(&config);
    let mut bytes = span().encode_to_vec();
    let whole = 0..bytes.len();
    assert!(StandIn::read(&bytes, whole, &keys).is_some());
    bytes.extend_from_slice(&[0x0a, 1, 0]); // trace_id after the status
    assert!(StandIn::read(&bytes, 0..bytes.len(), &keys).is_none());
    let twice = [0x22, 1, 1, 0x22, 1, 2];
    assert!(StandIn::read(&twice, 0..twice.len(), &keys).is_none());
    let plain = span().encode_to_vec();
    assert!(StandIn::read(&plain, 0..plain.len(), &["", "x"]).is_none());
}

/// `span` (encoded) as the one span of a request.
fn wrap(span: &[u8]) -> Vec<u8> {
    let field = |tag: u8, payload: &[u8]| {
        let mut out = vec![tag << 3 | 2];
        crate::otlp::wire::write_varint(&mut out, payload.len() as u64);
        out.extend_from_slice(payload);
        out
    };
    field(1, &field(2, &field(2, span)))
}

#[test]
fn fields_relink_does_not_know_are_kept_in_an_edited_span() {
    let mut bytes = span().encode_to_vec();
    bytes.extend_from_slice(&[0xa0, 0x06, 0x2a]); // field 100, varint 42: unknown to OTLP
    let input = wrap(&bytes);
    let config = settings();
    let scanned = scanned(&input);
    let mut stand_in = stand_in(&input, &scanned, &config).unwrap();
    attrs::remove(&mut stand_in.span.attributes, "relink.event");
    let mut replaced = Replacements::default();
    replaced.push_with(0, |out| stand_in.write(out));
    let out = splice(&input, &scanned, &replaced);
    assert!(out.ends_with(&[0xa0, 0x06, 0x2a]));
    let mut want = span();
    attrs::remove(&mut want.attributes, "relink.event");
    let mut want = want.encode_to_vec();
    want.extend_from_slice(&[0xa0, 0x06, 0x2a]);
    assert_eq!(out, wrap(&want));
}
