//! The fast path against the full path on hand-built protobuf requests; the property tests
//! in tests/relink_fast_path.rs cover generated ones.

use crate::config::Config;
use crate::otlp::{decode_protobuf, encode_protobuf, ExportTraceServiceRequest};
use crate::processor::attrs::kv;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::borrow::Cow;

const NOW: u64 = 1_700_000_000_000_000_000;
const S3_EVENT: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2023-11-14T22:13:20.000Z","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b","arn":"arn:aws:s3:::b"},"object":{"key":"k","size":1,"eTag":"e"}}}]}"#;

fn span(trace: u8, id: u8, parent: Option<u8>, attributes: Vec<(&str, &str)>) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("span-{id}"),
        attributes: attributes.into_iter().map(|(k, v)| kv(k, v)).collect(),
        ..Default::default()
    }
}

fn put(trace: u8, id: u8) -> Span {
    let a = vec![
        ("rpc.system", "aws-api"),
        ("rpc.service", "S3"),
        ("rpc.method", "PutObject"),
        ("aws.s3.bucket", "b"),
        ("aws.s3.key", "k"),
        ("relink.s3.etag", "e"),
    ];
    span(trace, id, Some(trace), a)
}

fn notified(trace: u8, id: u8) -> Span {
    span(trace, id, None, vec![("relink.event", S3_EVENT)])
}

fn encode(spans: Vec<Span>) -> Vec<u8> {
    encode_protobuf(&ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn canonical(bytes: &[u8]) -> Vec<u8> {
    decode_protobuf(bytes)
        .map(|r| encode_protobuf(&r))
        .unwrap_or_default()
}

/// Runs batches through the fast path and the full path, each with its own processor,
/// and checks they agree on everything; returns both outputs of each batch.
fn both(config: &str, batches: &[Vec<u8>]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let config = Config::from_json(config)
        .and_then(|c| Ok((crate::Processor::new(&c)?, crate::Processor::new(&c)?)));
    let Ok((mut fast, mut full)) = config else {
        panic!("config");
    };
    let mut outputs = Vec::new();
    for (n, input) in batches.iter().enumerate() {
        let now = NOW + n as u64 * 1_000_000_000;
        let a = fast.process_traces(input, now);
        let b = full.process_traces_full(input, crate::otlp::detect(input), now);
        assert_eq!(a.counters, b.counters, "batch {n}");
        assert_eq!(a.error, b.error, "batch {n}");
        assert_eq!(
            matches!(a.output, Cow::Borrowed(_)),
            matches!(b.output, Cow::Borrowed(_))
        );
        if let Cow::Borrowed(out) = a.output {
            assert!(
                std::ptr::eq(out, input.as_slice()),
                "batch {n}: not the input itself"
            );
        }
        assert_eq!(canonical(&a.output), canonical(&b.output), "batch {n}");
        outputs.push((a.output.into_owned(), b.output.into_owned()));
    }
    assert_eq!(fast.counters(), full.counters());
    outputs
}

#[test]
fn nothing_to_do_returns_the_input_itself() {
    let plain = encode(vec![span(1, 1, None, vec![("http.method", "GET")])]);
    let producer_without_match = encode(vec![put(2, 2)]);
    both("{}", &[plain, producer_without_match.clone()]);
    // A producer gets its pointer link once; again, the output is unchanged.
    let out = both("{}", &[producer_without_match]);
    both("{}", &[out[0].0.clone()]);
}

/// A request without evidence plans nothing, but the index still ages on it: an entry
/// past its TTL leaves, as the full path's planning drops it.
#[test]
fn requests_without_evidence_still_expire_the_index() {
    let config = r#"{"index":{"ttl_seconds":1}}"#;
    let plain = || encode(vec![span(3, 3, None, vec![("http.method", "GET")])]);
    // The producer is indexed at second 0; at second 2 it is past its TTL.
    both(config, &[encode(vec![put(1, 1)]), plain(), plain()]);
    let Ok(mut p) = Config::from_json(config).and_then(|c| crate::Processor::new(&c)) else {
        panic!("config");
    };
    p.process_traces(&encode(vec![put(1, 1)]), NOW);
    assert_eq!(p.counters().index.entries, 1);
    p.process_traces(&plain(), NOW + 2_000_000_000);
    assert_eq!(p.counters().index.entries, 0);
    assert_eq!(p.counters().index.expired, 1);
}

fn len_field(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![tag << 3 | 2];
    crate::otlp::wire::write_varint(&mut out, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// A request of one resource and one scope holding the given raw span payloads.
fn raw(spans: &[Vec<u8>]) -> Vec<u8> {
    let spans: Vec<u8> = spans.iter().flat_map(|s| len_field(2, s)).collect();
    len_field(1, &len_field(2, &spans))
}

#[test]
fn only_changed_spans_are_rewritten_and_unknown_fields_elsewhere_survive() {
    let mut bystander = span(5, 5, None, vec![("http.method", "GET")]).encode_to_vec();
    bystander.extend_from_slice(&[0xf8, 0x06, 0x2a]); // unknown field 111 = 42
    let input = raw(&[put(1, 1).encode_to_vec(), bystander.clone()]);
    let outputs = both("{}", &[input.clone(), encode(vec![notified(2, 2)])]);
    let out = &outputs[0].0;
    assert!(out
        .windows(bystander.len())
        .any(|w| w == bystander.as_slice()));
    assert_ne!(out, &input);
    // The full path re-encodes everything and drops the unknown field.
    assert!(!outputs[0]
        .1
        .windows(bystander.len())
        .any(|w| w == bystander.as_slice()));
}

/// A changed span not in field order is decoded and re-encoded: its unknown fields (a
/// newer OTLP's) follow it as they came, wherever they were.
#[test]
fn a_changed_span_out_of_field_order_keeps_its_unknown_fields() {
    let unknown_first = [0x88, 0x01, 0x07]; // field 17 = 7
    let unknown_last = [0x90, 0x01, 0x09]; // field 18 = 9
    let consumer = [
        &unknown_first[..],
        &notified(2, 2).encode_to_vec(),
        &unknown_last[..],
    ]
    .concat();
    let outputs = both("{}", &[encode(vec![put(1, 1)]), raw(&[consumer])]);
    let out = &outputs[1].0;
    let linked = decode_protobuf(out).unwrap_or_default();
    // Linked to the write (a span pointer and a direct link).
    assert_eq!(
        linked.resource_spans[0].scope_spans[0].spans[0].links.len(),
        2
    );
    let both_unknown = [&unknown_first[..], &unknown_last[..]].concat();
    assert!(
        out.windows(both_unknown.len()).any(|w| w == both_unknown),
        "{out:?}"
    );
}

#[test]
fn adoption_rewrites_spans_without_evidence() {
    let config = r#"{"adoption":{"enabled":true}}"#;
    let batches = [
        encode(vec![put(1, 1)]),
        // The consumer root, a child without evidence, and an unrelated span.
        encode(vec![
            notified(2, 2),
            span(2, 3, Some(2), vec![]),
            span(9, 9, None, vec![]),
        ]),
        // A later span of the adopted trace, alone.
        encode(vec![span(2, 4, Some(3), vec![])]),
    ];
    let outputs = both(config, &batches);
    let last = decode_protobuf(&outputs[2].0).unwrap_or_default();
    assert_eq!(
        last.resource_spans[0].scope_spans[0].spans[0].trace_id,
        vec![1; 16]
    );
    let second = decode_protobuf(&outputs[1].0).unwrap_or_default();
    let traces: Vec<u8> = second.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(|s| s.trace_id[0])
        .collect();
    assert_eq!(traces, vec![1, 1, 9]);
}

#[test]
fn refused_inputs_and_stamp_mode_take_the_full_path() {
    let truncated = {
        let mut v = encode(vec![put(1, 1)]);
        v.pop();
        v
    };
    let bad_utf8 = encode(vec![span(1, 1, None, vec![("k", "v")])])
        .into_iter()
        .map(|b| if b == b'v' { 0xff } else { b })
        .collect();
    // An unknown field as a group: valid for prost, refused by the scanner.
    let group = [vec![0x4b, 0x4c], encode(vec![put(1, 1)])].concat();
    let outputs = both("{}", &[truncated, bad_utf8, group]);
    assert!(matches!(decode_protobuf(&outputs[2].0), Ok(r) if r.resource_spans.len() == 1));
    // Stamp mode touches every span: the full path's bytes exactly.
    let stamp = r#"{"stamp":{"enabled":true}}"#;
    let outputs = both(stamp, &[encode(vec![put(1, 1), span(3, 3, None, vec![])])]);
    assert_eq!(outputs[0].0, outputs[0].1);
}

#[test]
fn step_functions_execution_spans_are_evidence() {
    const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:Orders:o-1";
    let mut start = span(
        1,
        1,
        Some(1),
        vec![
            ("rpc.system", "aws-api"),
            ("rpc.service", "SFN"),
            ("rpc.method", "StartExecution"),
            ("relink.message_ids", ARN),
        ],
    );
    start.name = "SFN.StartExecution".into();
    // The execution span relink builds from the execution's logs: its id is derived from
    // the ARN, and it carries no attribute but the ARN that makes it evidence.
    let mut execution = span(2, 0, None, vec![("aws.step_functions.execution.arn", ARN)]);
    execution.span_id = crate::stepfn::execution_span_id(ARN).0.to_vec();
    let config = r#"{"adoption":{"enabled":true}}"#;
    let outputs = both(
        config,
        &[
            encode(vec![start]),
            encode(vec![execution, span(2, 3, Some(0), vec![])]),
        ],
    );
    let out = decode_protobuf(&outputs[1].0).unwrap_or_default();
    let spans = &out.resource_spans[0].scope_spans[0].spans;
    assert_eq!(
        spans[0].links.len(),
        2,
        "the adoption link and the link to StartExecution"
    );
    assert_eq!((spans[0].trace_id[0], spans[1].trace_id[0]), (1, 1));
}
