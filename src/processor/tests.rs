//! Processor behaviour on hand-built requests (the golden tests cover real payloads).

use super::*;
use crate::event::{Item, Source, TriggerKind};
use crate::pointer::{DynamodbItem, KeyValue as DdbKey, Pointer, S3Object};
use crate::propagation::{Format, Found, SpanContext, SpanId, TraceId};
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

const NOW: u64 = 1_700_000_000_000_000_000;
const ETAG_HASH: &str = "e721375466d4116ab551213fdea08413";

fn kv(k: &str, v: &str) -> KeyValue {
    attrs::kv(k, v)
}

fn span(trace: u8, id: u8, parent: Option<u8>, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("span-{id}"),
        attributes,
        ..Default::default()
    }
}

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn s3_put(trace: u8, id: u8, etag: Option<&str>, request_id: &str) -> Span {
    let mut a = vec![
        kv("rpc.system", "aws-api"),
        kv("rpc.service", "S3"),
        kv("rpc.method", "PutObject"),
        kv("aws.request_id", request_id),
        kv("aws.s3.bucket", "some-bucket"),
        kv("aws.s3.key", "some-key.data"),
    ];
    if let Some(e) = etag {
        a.push(kv("relink.s3.etag", e));
    }
    span(trace, id, Some(trace.wrapping_add(100)), a)
}

/// A botocore `PutItem` client span (trace, span, parent) naming its table and keys.
fn dynamodb_put((trace, id, parent): (u8, u8, u8), table: &str, keys: &str) -> Span {
    let tables = KeyValue {
        key: "aws.dynamodb.table_names".into(),
        value: Some(AnyValue {
            value: Some(Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: vec![attrs::string(table)],
                },
            )),
        }),
        ..Default::default()
    };
    let attributes = vec![
        kv("rpc.system", "aws-api"),
        kv("rpc.service", "DynamoDB"),
        kv("rpc.method", "PutItem"),
        tables,
        kv("relink.dynamodb.keys", keys),
    ];
    span(trace, id, Some(parent), attributes)
}

fn s3_trigger(etag: Option<&str>, request_id: &str) -> Trigger {
    let object = S3Object {
        bucket: "some-bucket".into(),
        key: "some-key.data".into(),
        etag: etag.map(String::from),
        request_id: Some(request_id.into()),
        ..Default::default()
    };
    trigger(
        TriggerKind::S3,
        vec![Item {
            pointers: vec![Pointer::S3Object(object)],
            ..Default::default()
        }],
    )
}

fn trigger(kind: TriggerKind, items: Vec<Item>) -> Trigger {
    Trigger {
        kind,
        via: None,
        source: Source::default(),
        items,
        step_functions: None,
    }
}

fn spans(req: &ExportTraceServiceRequest) -> Vec<&Span> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

fn link_summary(l: &Link) -> String {
    let mut parts = vec![format!(
        "{}/{}",
        hex::encode(&l.trace_id),
        hex::encode(&l.span_id)
    )];
    for a in &l.attributes {
        if let Some(Value::StringValue(s)) = a.value.as_ref().and_then(|v| v.value.as_ref()) {
            parts.push(format!("{}={}", a.key, s));
        }
    }
    parts.join(" ")
}

fn links(s: &Span) -> Vec<String> {
    s.links.iter().map(link_summary).collect()
}

fn strings(s: &Span, key: &str) -> Vec<String> {
    attrs::get_strings(&s.attributes, key, usize::MAX)
        .into_iter()
        .map(String::from)
        .collect()
}

/// Each span's `relink.route`, in order.
fn routes(req: &ExportTraceServiceRequest) -> Vec<Option<&str>> {
    spans(req)
        .iter()
        .map(|s| attrs::get_str(&s.attributes, "relink.route", 99))
        .collect()
}

fn processor(json: &str) -> Processor {
    match Config::from_json(json).and_then(|c| crate::Processor::new(&c)) {
        Ok(p) => p,
        Err(e) => panic!("config: {e}"),
    }
}

fn ids(trace: u8, span: u8) -> String {
    format!("{}/{}", hex::encode([trace; 16]), hex::encode([span; 8]))
}

#[test]
fn s3_producer_first_then_consumer_in_a_later_batch() {
    let mut p = processor("{}");
    let mut produce = request(vec![s3_put(1, 11, Some("\"ab12ef34\""), "REQ1")]);
    p.process_request(&mut produce, NOW);
    let w = spans(&produce)[0];
    assert_eq!(
        links(w),
        vec![format!(
            "{}/{} ptr.kind=aws.s3.object ptr.dir=d ptr.hash={ETAG_HASH} link.kind=span-pointer",
            "0".repeat(32),
            "0".repeat(16)
        )]
    );
    assert_eq!(strings(w, "relink.rules"), vec!["aws.s3.object"]);
    assert_eq!(strings(w, "relink.pointer.hashes"), vec![ETAG_HASH]);

    let mut consume = request(vec![span(2, 21, None, vec![])]);
    p.process_inferred(
        &s3_trigger(Some("ab12ef34"), "REQ1"),
        &mut consume,
        NOW + 5_000_000_000,
    );
    let c = spans(&consume)[0];
    assert_eq!(
        links(c),
        vec![
            format!(
                "{}/{} ptr.kind=aws.s3.object ptr.dir=u ptr.hash={ETAG_HASH} link.kind=span-pointer",
                "0".repeat(32),
                "0".repeat(16)
            ),
            format!(
                "{} relink.rule=aws.s3.object relink.match=exact relink.key={ETAG_HASH} relink.peer=producer",
                ids(1, 11)
            ),
        ]
    );
    assert_eq!(strings(c, "relink.matches"), vec!["exact"]);
    assert_eq!(c.trace_id, vec![2; 16], "no adoption by default");
    let n = p.counters();
    assert_eq!(
        (n.links.pointer, n.links.exact, n.requests, n.spans_changed),
        (2, 1, 2, 2)
    );
}

/// A restore, ACL change or deletion of an object carries the ETag of its write, but the
/// upload did not cause it: no pointer, no direct link, no adoption under the uploader.
#[test]
fn a_later_event_on_a_written_object_is_not_joined_to_the_write() {
    let mut p =
        processor(r#"{"adoption": {"enabled": true}, "direct_links": {"heuristic_s3_key": true}}"#);
    let mut produce = request(vec![s3_put(1, 11, Some("ab12ef34"), "REQ1")]);
    p.process_request(&mut produce, NOW);
    let mut restore = s3_trigger(Some("ab12ef34"), "RESTORE1");
    for item in &mut restore.items {
        for pointer in &mut item.pointers {
            if let Pointer::S3Object(o) = pointer {
                o.later_event = true;
            }
        }
    }
    let mut consume = request(vec![span(2, 21, None, vec![])]);
    p.process_inferred(&restore, &mut consume, NOW + 1);
    let c = spans(&consume)[0];
    assert_eq!(links(c), Vec::<String>::new());
    assert_eq!(c.trace_id, vec![2; 16]);
    // Its request id still joins the request that caused it (here, as if it were the
    // write's: the only join left).
    restore.items[0].pointers[0] = match restore.items[0].pointers[0].clone() {
        Pointer::S3Object(o) => Pointer::S3Object(S3Object {
            request_id: Some("REQ1".into()),
            ..o
        }),
        other => other,
    };
    let mut consume = request(vec![span(4, 41, None, vec![])]);
    p.process_inferred(&restore, &mut consume, NOW + 2);
    let joined = links(spans(&consume)[0]);
    assert!(
        joined
            .iter()
            .any(|l| l.contains("relink.rule=aws.s3.request") && l.contains("relink.peer=producer")),
        "{joined:?}"
    );
    assert!(
        !joined.iter().any(|l| l.contains("aws.s3.object")),
        "{joined:?}"
    );
    // The same event as a write joins on its pointer (the test's control).
    let mut consume = request(vec![span(3, 31, None, vec![])]);
    p.process_inferred(&s3_trigger(Some("ab12ef34"), "REQ1"), &mut consume, NOW + 3);
    assert_eq!(spans(&consume)[0].trace_id, vec![1; 16]);
}

#[test]
fn consumer_first_then_producer_links_the_producer() {
    let mut p = processor("{}");
    let mut consume = request(vec![span(2, 21, None, vec![])]);
    p.process_inferred(&s3_trigger(Some("ab12ef34"), "REQ1"), &mut consume, NOW);
    assert_eq!(spans(&consume)[0].links.len(), 1, "only the pointer link");
    let mut produce = request(vec![s3_put(1, 11, Some("ab12ef34"), "REQ1")]);
    p.process_request(&mut produce, NOW + 1);
    let w = spans(&produce)[0];
    assert_eq!(
        links(w).get(1).cloned(),
        Some(format!(
            "{} relink.rule=aws.s3.object relink.match=exact relink.key={ETAG_HASH} relink.peer=consumer",
            ids(2, 21)
        ))
    );
}

#[test]
fn request_id_join_without_etag() {
    let mut p = processor("{}");
    let mut req = request(vec![
        span(2, 21, None, vec![]),
        s3_put(1, 11, None, "C3D13FE58DE4C810"),
    ]);
    p.process_inferred(
        &s3_trigger(Some("ab12ef34"), "C3D13FE58DE4C810"),
        &mut req,
        NOW,
    );
    let consumer = spans(&req)[0];
    let rid = Key::of_id(key::Rule::S3Request, "C3D13FE58DE4C810").to_hex();
    assert_eq!(
        links(consumer).get(1).cloned(),
        Some(format!(
            "{} relink.rule=aws.s3.request relink.match=request-id relink.key={rid} relink.peer=producer",
            ids(1, 11)
        ))
    );
    assert_eq!(strings(consumer, "relink.matches"), vec!["request-id"]);
    assert!(links(spans(&req)[1]).is_empty(), "no ETag, no pointer link");
}

fn datadog_pointer(dir: &str) -> Link {
    Link {
        trace_id: vec![0; 16],
        span_id: vec![0; 8],
        attributes: vec![
            kv("ptr.kind", "aws.s3.object"),
            kv("ptr.dir", dir),
            kv("ptr.hash", ETAG_HASH),
            kv("link.kind", "span-pointer"),
        ],
        ..Default::default()
    }
}

#[test]
fn one_batch_links_the_consumer_whatever_the_span_order() {
    for producer_first in [true, false] {
        let mut p = processor("{}");
        let mut consumer = span(2, 21, None, vec![]);
        consumer.links.push(datadog_pointer("u"));
        let mut batch = vec![s3_put(1, 11, Some("ab12ef34"), "R"), consumer];
        if !producer_first {
            batch.reverse();
        }
        let mut req = request(batch);
        p.process_request(&mut req, NOW);
        let c = spans(&req)
            .into_iter()
            .find(|s| s.span_id == vec![21; 8])
            .map(links);
        assert_eq!(
            c.and_then(|l| l.get(1).cloned()),
            Some(format!(
                "{} relink.rule=aws.s3.object relink.match=exact relink.key={ETAG_HASH} relink.peer=producer",
                ids(1, 11)
            )),
            "producer_first={producer_first}"
        );
        assert_eq!(p.counters().links.exact, 1, "only the consumer links");
    }
}

use key::Key;

#[test]
fn nothing_to_do_returns_the_input_bytes() {
    let mut p = processor("{}");
    let input = otlp::encode(
        &request(vec![span(1, 1, None, vec![kv("http.method", "GET")])]),
        Encoding::Json,
    );
    let out = p.process_traces(&input, NOW);
    assert!(matches!(out.output, Cow::Borrowed(b) if std::ptr::eq(b, input.as_slice())));
    assert_eq!(out.error, None);
    assert_eq!(
        (
            out.counters.requests_unchanged,
            out.counters.spans_in,
            out.counters.spans_out
        ),
        (1, 1, 1)
    );
    let proto = otlp::encode(&request(vec![span(1, 1, None, vec![])]), Encoding::Protobuf);
    let out = p.process_traces(&proto, NOW);
    assert!(matches!(out.output, Cow::Borrowed(_)));
    assert_eq!(out.encoding, Encoding::Protobuf);
}

#[test]
fn malformed_and_oversized_requests_pass_through_counted() {
    let mut p = processor(r#"{"limits": {"max_request_bytes": 64}}"#);
    let bad = br#"{"resourceSpans": [ {"#;
    let out = p.process_traces(bad, NOW);
    assert_eq!(out.output.as_ref(), bad.as_slice());
    assert!(out.error.is_some());
    assert_eq!(out.counters.errors.request_decode, 1);
    let big = vec![b' '; 65];
    let out = p.process_traces(&big, NOW);
    assert_eq!(
        out.error.map(|e| e.to_string()).as_deref(),
        Some("otlp request: 65 bytes exceeds the limit of 64 bytes")
    );
    assert_eq!(p.counters().errors.request_too_large, 1);
    assert_eq!(p.counters().requests_unchanged, 2);
}

#[test]
fn a_request_with_strings_not_utf8_is_relinked_and_written_repaired() {
    let mut p = processor("{}");
    let good = otlp::encode(
        &request(vec![s3_put(1, 11, Some("ab12ef34"), "REQ1")]),
        Encoding::Protobuf,
    );
    // The span's name with its last character cut to a lone byte, as a byte-truncating
    // SDK leaves it: prost refuses the request whole.
    let at = good.windows(7).position(|w| w == b"span-11").unwrap_or(0) + 6;
    let mut bad = good.clone();
    bad[at] = 0xc3;
    assert!(otlp::decode_protobuf(&bad).is_err());
    let out = p.process_traces(&bad, NOW);
    assert_eq!(out.error, None);
    assert_eq!(
        (
            out.counters.requests_repaired,
            out.counters.requests_unchanged
        ),
        (1, 0)
    );
    let written = otlp::decode_protobuf(&out.output).unwrap_or_default();
    assert_eq!(spans(&written)[0].name, "span-1\u{fffd}");
    // Its evidence was indexed: the object's notification joins the write.
    let mut consume = request(vec![span(2, 21, None, vec![])]);
    p.process_inferred(&s3_trigger(Some("ab12ef34"), "REQ1"), &mut consume, NOW + 1);
    let joined = links(spans(&consume)[0]);
    assert!(
        joined
            .iter()
            .any(|l| l.starts_with(&hex::encode([1u8; 16]))),
        "{joined:?}"
    );
    // Gzip in, gzip out; JSON is not touched (JSON requires UTF-8 of its own).
    let gz = otlp::gzip(&bad);
    let out = p.process_traces(&gz, NOW + 2);
    assert!(otlp::is_gzip(&out.output));
    assert_eq!(out.counters.requests_repaired, 1);
    assert_eq!(p.counters().requests_repaired, 2);
}

/// A span's bytes with its name cut to a lone 0xc3, as a byte-truncating SDK leaves it.
fn cut_name(good: &[u8]) -> Vec<u8> {
    let mut bad = good.to_vec();
    if let Some(at) = bad.windows(6).position(|w| w == b"span-1") {
        bad[at + 5] = 0xc3;
    }
    bad
}

#[test]
fn a_repaired_request_keeps_every_other_byte_and_its_limits() {
    // Nothing to relink: the output is the repaired bytes themselves, an unknown field
    // (tag 99, which prost would drop) and all.
    let mut good = otlp::encode(
        &request(vec![span(1, 11, None, vec![])]),
        Encoding::Protobuf,
    );
    good.extend_from_slice(&[0x98, 0x06, 0x2a]);
    let bad = cut_name(&good);
    let mut p = processor("{}");
    let out = p.process_traces(&bad, NOW);
    let repaired = otlp::repair_strings(&bad, usize::MAX).unwrap_or_default();
    assert!(repaired.ends_with(&[0x98, 0x06, 0x2a]));
    assert_eq!(out.output.as_ref(), repaired.as_slice());
    assert_eq!(
        (
            out.counters.requests_repaired,
            out.counters.requests_unchanged,
            p.counters().requests_unchanged
        ),
        (1, 0, 0)
    );
    // A value nested 40 arrays deep (past the fast path's 64 message levels, within
    // prost's 100) with a bad string at the bottom: repaired too.
    let mut value = attrs::string("leaf-1");
    for _ in 0..40 {
        value = AnyValue {
            value: Some(Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: vec![value],
                },
            )),
        };
    }
    let deep = KeyValue {
        key: "deep".into(),
        value: Some(value),
        ..Default::default()
    };
    let good = otlp::encode(
        &request(vec![span(1, 12, None, vec![deep])]),
        Encoding::Protobuf,
    );
    let bad = good.clone();
    let bad = {
        let mut bad = bad;
        if let Some(at) = bad.windows(6).position(|w| w == b"leaf-1") {
            bad[at + 5] = 0xff;
        }
        bad
    };
    let out = processor(r#"{"limits": {"max_nesting": 64}}"#).process_traces(&bad, NOW);
    assert_eq!(out.error, None);
    assert_eq!(out.counters.requests_repaired, 1);
    assert!(otlp::decode_protobuf(&out.output).is_ok());
    // Repaired, a request over limits.max_request_bytes is not made: the input passes
    // through with prost's error.
    let bad = cut_name(&otlp::encode(
        &request(vec![span(1, 11, None, vec![])]),
        Encoding::Protobuf,
    ));
    let limit = format!(
        r#"{{"limits": {{"max_request_bytes": {}}}}}"#,
        bad.len() + 1
    );
    let out = processor(&limit).process_traces(&bad, NOW);
    assert!(matches!(out.output, Cow::Borrowed(b) if std::ptr::eq(b, bad.as_slice())));
    assert!(
        out.error
            .as_ref()
            .is_some_and(|e| e.to_string().contains("not UTF-8")),
        "{:?}",
        out.error
    );
    assert_eq!(
        (
            out.counters.requests_repaired,
            out.counters.errors.request_decode
        ),
        (0, 1)
    );
}

#[test]
fn reprocessing_output_adds_nothing() {
    let mut p = processor(r#"{"event_attribute": {"output": "keep"}}"#);
    let mut req = request(vec![
        span(2, 21, None, vec![]),
        s3_put(1, 11, Some("ab12ef34"), "R"),
    ]);
    p.process_inferred(&s3_trigger(Some("ab12ef34"), "R"), &mut req, NOW);
    let once = otlp::encode(&req, Encoding::Protobuf);
    let again = p.process_traces(&once, NOW + 1);
    assert!(
        matches!(again.output, Cow::Borrowed(_)),
        "{:?}",
        again.counters
    );
    let mut fresh = processor("{}");
    let mut second = req.clone();
    let outcome = fresh.process_inferred(&s3_trigger(Some("ab12ef34"), "R"), &mut second, NOW);
    assert!(!outcome.changed, "{:?}", outcome.counters);
    assert_eq!(second, req);
}

#[test]
fn event_attribute_is_removed_kept_or_truncated() {
    let event = r#"{"custom": "payload"}"#;
    for (config, want) in [
        ("{}", None),
        (r#"{"event_attribute": {"output": "keep"}}"#, Some(event)),
        (
            r#"{"event_attribute": {"output": "truncate", "truncate_bytes": 5}}"#,
            Some("{\"cus"),
        ),
    ] {
        let mut p = processor(config);
        let mut req = request(vec![span(
            1,
            1,
            None,
            vec![kv("relink.event", event), kv("x", "y")],
        )]);
        let outcome = p.process_request(&mut req, NOW);
        let s = spans(&req)[0];
        assert_eq!(
            attrs::get_str(&s.attributes, "relink.event", 9),
            want,
            "{config}"
        );
        assert_eq!(attrs::get_str(&s.attributes, "x", 9), Some("y"));
        assert_eq!(outcome.changed, want != Some(event));
        assert_eq!(outcome.counters.errors.event_unknown, 1);
    }
}

fn context(trace: u8, span_id: u8, format: Format) -> Found {
    Found {
        context: SpanContext {
            trace_id: TraceId([trace; 16]),
            span_id: SpanId([span_id; 8]),
            sampled: Some(true),
            tracestate: None,
            format,
        },
        carrier: "messageAttributes._datadog".into(),
    }
}

fn sqs_item(id: &str, contexts: Vec<Found>) -> Item {
    Item {
        id: Some(id.into()),
        contexts,
        ..Default::default()
    }
}

#[test]
fn every_message_of_a_batch_gets_its_context_link() {
    let mut p = processor("{}");
    let t = trigger(
        TriggerKind::Sqs,
        vec![
            sqs_item("m1", vec![context(7, 71, Format::Datadog)]),
            sqs_item("m2", vec![context(8, 81, Format::W3c)]),
            sqs_item("m3", vec![]),
        ],
    );
    let mut req = request(vec![span(2, 21, None, vec![])]);
    p.process_inferred(&t, &mut req, NOW);
    assert_eq!(
        links(spans(&req)[0]),
        vec![
            format!("{} relink.rule=messaging.context relink.match=context relink.context.format=datadog relink.context.carrier=messageAttributes._datadog messaging.message.id=m1", ids(7, 71)),
            format!("{} relink.rule=messaging.context relink.match=context relink.context.format=w3c relink.context.carrier=messageAttributes._datadog messaging.message.id=m2", ids(8, 81)),
        ]
    );
    assert_eq!(spans(&req)[0].links[0].flags, 1, "sampled");
    assert_eq!(p.counters().links.context, 2);
}

#[test]
fn message_id_join_links_the_sender() {
    let mut p = processor("{}");
    let send = span(
        1,
        11,
        None,
        vec![
            kv("rpc.system", "aws-api"),
            kv("rpc.service", "SQS"),
            kv("rpc.method", "SendMessage"),
            kv("messaging.message.id", "m2"),
        ],
    );
    let mut req = request(vec![send]);
    p.process_request(&mut req, NOW);
    assert!(
        spans(&req)[0].links.is_empty(),
        "message ids get no pointer links"
    );
    let t = trigger(
        TriggerKind::Sqs,
        vec![sqs_item("m1", vec![]), sqs_item("m2", vec![])],
    );
    let mut consume = request(vec![span(2, 21, None, vec![])]);
    p.process_inferred(&t, &mut consume, NOW);
    let k = Key::of_id(key::Rule::SqsMessage, "m2").to_hex();
    assert_eq!(
        links(spans(&consume)[0]),
        vec![format!(
            "{} relink.rule=aws.sqs.message relink.match=exact relink.key={k} relink.peer=producer messaging.message.id=m2",
            ids(1, 11)
        )]
    );
}

fn adopting() -> Processor {
    processor(r#"{"adoption": {"enabled": true}}"#)
}

#[test]
fn adoption_moves_the_consumer_trace_now_and_later() {
    let mut p = adopting();
    let mut produce = request(vec![s3_put(1, 11, Some("ab12ef34"), "R")]);
    p.process_request(&mut produce, NOW);
    // The consumer root and a child in the same batch.
    let mut consume = request(vec![
        span(2, 21, None, vec![]),
        span(2, 22, Some(21), vec![]),
    ]);
    let outcome = p.process_inferred(&s3_trigger(Some("ab12ef34"), "R"), &mut consume, NOW);
    assert_eq!(outcome.counters.traces_adopted, 1);
    let [root, child] = spans(&consume)[..] else {
        panic!("two spans")
    };
    assert_eq!(
        (root.trace_id.clone(), root.parent_span_id.clone()),
        (vec![1; 16], vec![11; 8])
    );
    assert_eq!(
        (child.trace_id.clone(), child.parent_span_id.clone()),
        (vec![1; 16], vec![21; 8])
    );
    let original = hex::encode([2u8; 16]);
    assert_eq!(
        attrs::get_str(&root.attributes, "relink.original_trace_id", 99),
        Some(original.as_str())
    );
    assert_eq!(
        attrs::get_str(&child.attributes, "relink.original_trace_id", 99),
        Some(original.as_str())
    );
    assert_eq!(
        links(root).first().cloned(),
        Some(format!(
            "{} relink.rule=adoption relink.original_trace_id={original}",
            ids(2, 21)
        ))
    );
    assert_eq!(
        strings(root, "relink.rules"),
        vec!["adoption", "aws.s3.object"]
    );
    // A later batch of the consumer trace is rewritten too.
    let mut later = request(vec![span(2, 23, Some(22), vec![])]);
    p.process_request(&mut later, NOW + 10_000_000_000);
    assert_eq!(spans(&later)[0].trace_id, vec![1; 16]);
    assert_eq!(spans(&later)[0].parent_span_id, vec![22; 8]);
    assert_eq!(p.counters().spans_adopted, 3);
}

#[test]
fn adoption_leaves_traces_with_a_remote_root_alone() {
    let mut p = adopting();
    let mut req = request(vec![
        span(2, 21, Some(99), vec![]),
        s3_put(1, 11, Some("ab12ef34"), "R"),
    ]);
    let outcome = p.process_inferred(&s3_trigger(Some("ab12ef34"), "R"), &mut req, NOW);
    assert_eq!(outcome.counters.traces_adopted, 0);
    assert_eq!(spans(&req)[0].trace_id, vec![2; 16]);
    assert_eq!(spans(&req)[0].links.len(), 2, "still linked");
}

#[test]
fn adoption_chains_give_one_trace_end_to_end() {
    // A writes S3 -> B (triggered) writes DynamoDB -> C (triggered), all in one batch,
    // with C listed first.
    let mut p = adopting();
    let ddb_put = dynamodb_put(
        (2, 22, 21),
        "some-table",
        r#"{"some-key":{"S":"some-value"}}"#,
    );
    // C is triggered by the stream record; B by S3. Only one trigger per call here, so
    // C goes through the event path of a second call in the same state.
    let mut batch = request(vec![
        span(2, 21, None, vec![]),
        s3_put(1, 11, Some("ab12ef34"), "R"),
        ddb_put,
    ]);
    p.process_inferred(&s3_trigger(Some("ab12ef34"), "R"), &mut batch, NOW);
    let item = DynamodbItem {
        table: "some-table".into(),
        keys: vec![("some-key".into(), DdbKey::S("some-value".into()))],
        ..Default::default()
    };
    let c = trigger(
        TriggerKind::Dynamodb,
        vec![Item {
            pointers: vec![Pointer::DynamodbItem(item)],
            ..Default::default()
        }],
    );
    let mut third = request(vec![span(3, 31, None, vec![])]);
    p.process_inferred(&c, &mut third, NOW);
    let all: Vec<&Span> = spans(&batch).into_iter().chain(spans(&third)).collect();
    assert!(
        all.iter().all(|s| s.trace_id == vec![1; 16]),
        "one trace id end to end"
    );
    assert_eq!(spans(&third)[0].parent_span_id, vec![22; 8]);
    assert_eq!(p.counters().traces_adopted, 2);
}

/// Kinesis Data Streams for DynamoDB (a recorded Powertools event): the change record in
/// each Kinesis record joins the PutItem that wrote the item, as a stream record would.
#[test]
fn a_dynamodb_change_read_from_kinesis_joins_the_write() {
    let event = crate::event::test_fixtures::load(
        "powertools-lambda-typescript/kinesis-dynamodb-stream.json",
    );
    let trigger = crate::event::decode_event_value(&event).unwrap_or_else(|e| panic!("{e}"));
    let table = "PowertoolsEventsStack-DynamoDBTable59784FC0-8NKAMTERTAXY";
    let put = dynamodb_put((1, 11, 10), table, r#"{"id":{"S":"record-1qit2y819gi"}}"#);
    let mut p = processor("{}");
    let mut produce = request(vec![put]);
    p.process_request(&mut produce, NOW);
    let mut consume = request(vec![span(2, 21, None, vec![])]);
    p.process_inferred(&trigger, &mut consume, NOW);
    let joined: Vec<String> = spans(&consume)
        .iter()
        .flat_map(|s| links(s))
        .filter(|l| l.contains("relink.peer=producer"))
        .collect();
    assert_eq!(joined.len(), 1, "{joined:?}");
    assert!(joined[0].starts_with(&ids(1, 11)), "{joined:?}");
    assert!(
        joined[0].contains("relink.key=82caeb2bd486c01646d28ae8db03efe3"),
        "{joined:?}"
    );
}

/// A Kafka record's header context (Datadog's extension test payload) links the invocation,
/// as an SQS message attribute's does.
#[test]
fn a_kafka_record_header_context_links_the_invocation() {
    let event =
        crate::event::test_fixtures::load("datadog-lambda-extension/msk_event_with_headers.json");
    let trigger = crate::event::decode_event_value(&event).unwrap_or_else(|e| panic!("{e}"));
    let mut p = processor("{}");
    let mut consume = request(vec![span(2, 21, None, vec![])]);
    p.process_inferred(&trigger, &mut consume, NOW);
    let joined = links(spans(&consume)[0]);
    assert!(
        joined.iter().any(
            |l| l.starts_with("699c83650000000014c6d314a33b4120/1f155fac3eae26ea")
                && l.contains("relink.rule=messaging.context")
        ),
        "{joined:?}"
    );
}

#[test]
fn single_message_batches_may_parent_instead_of_link() {
    let mut p = processor(r#"{"messaging": {"parent_single_message": true}}"#);
    let one = trigger(
        TriggerKind::Sqs,
        vec![sqs_item("m1", vec![context(7, 71, Format::Xray)])],
    );
    let mut req = request(vec![span(2, 21, None, vec![])]);
    p.process_inferred(&one, &mut req, NOW);
    assert_eq!(
        (
            spans(&req)[0].trace_id.clone(),
            spans(&req)[0].parent_span_id.clone()
        ),
        (vec![7; 16], vec![71; 8])
    );
    let two = trigger(
        TriggerKind::Sqs,
        vec![
            sqs_item("m1", vec![context(7, 71, Format::Xray)]),
            sqs_item("m2", vec![context(8, 81, Format::Xray)]),
        ],
    );
    let mut req = request(vec![span(3, 31, None, vec![])]);
    p.process_inferred(&two, &mut req, NOW);
    assert_eq!(spans(&req)[0].trace_id, vec![3; 16], "batches only link");
}

#[test]
fn datadog_pointer_links_are_evidence() {
    let mut p = processor("{}");
    let mut dd = span(5, 51, None, vec![]);
    dd.links.push(datadog_pointer("d"));
    let mut req = request(vec![dd]);
    let outcome = p.process_request(&mut req, NOW);
    assert!(!outcome.changed, "the Datadog link is already there");
    let mut consume = request(vec![span(2, 21, None, vec![])]);
    p.process_inferred(&s3_trigger(Some("ab12ef34"), "R"), &mut consume, NOW);
    assert!(links(spans(&consume)[0])[1].starts_with(&ids(5, 51)));
}

#[test]
fn stamp_mode_routes_every_span_of_a_trace_by_its_key() {
    let mut p = processor(r#"{"stamp": {"enabled": true}, "direct_links": {"enabled": false}}"#);
    let mut req = request(vec![
        span(1, 10, None, vec![]),
        s3_put(1, 11, Some("ab12ef34"), "R"),
        span(3, 31, None, vec![]),
    ]);
    p.process_request(&mut req, NOW);
    let routes = routes(&req);
    let trace3 = hex::encode([3u8; 16]);
    assert_eq!(
        routes,
        vec![Some(ETAG_HASH), Some(ETAG_HASH), Some(trace3.as_str())]
    );
}

/// A Lambda `Invoke` client span (botocore) and an invocation span with its request id.
fn lambda_invoke(trace: u8, id: u8, request_id: &str) -> Span {
    let a = vec![
        kv("rpc.system", "aws-api"),
        kv("rpc.service", "Lambda"),
        kv("rpc.method", "Invoke"),
        kv("aws.request_id", request_id),
    ];
    span(trace, id, Some(trace.wrapping_add(100)), a)
}

fn invocation(trace: u8, id: u8, parent: Option<u8>, request_id: &str) -> Span {
    span(
        trace,
        id,
        parent,
        vec![kv("faas.invocation_id", request_id)],
    )
}

#[test]
fn stamp_mode_routes_an_invoke_and_its_invocation_together_after_other_evidence() {
    let mut p = processor(r#"{"stamp": {"enabled": true}}"#);
    // Trace 1 calls Invoke (R1) and writes to S3; its own invocation span comes first in
    // the batch. Trace 2 calls Invoke (R2) only; trace 3 is the invocation R2 made.
    let mut req = request(vec![
        invocation(1, 10, None, "R0"),
        lambda_invoke(1, 11, "R1"),
        s3_put(1, 12, Some("ab12ef34"), "R"),
        invocation(2, 20, None, "R9"),
        lambda_invoke(2, 21, "R2"),
        invocation(3, 30, None, "R2"),
    ]);
    p.process_request(&mut req, NOW);
    let routes = routes(&req);
    let r2 = key::Key::of_id(key::Rule::LambdaInvocation, "R2").to_hex();
    assert_eq!(
        routes,
        vec![
            Some(ETAG_HASH),
            Some(ETAG_HASH),
            Some(ETAG_HASH),
            Some(r2.as_str()),
            Some(r2.as_str()),
            Some(r2.as_str()),
        ]
    );
}

#[test]
fn an_invocation_in_its_callers_trace_is_not_linked_to_the_call() {
    // Either arrival order: the invocation already is the call's child.
    for callee_first in [false, true] {
        let mut p = processor("{}");
        let call = request(vec![lambda_invoke(1, 11, "R1")]);
        let callee = request(vec![invocation(1, 12, Some(11), "R1")]);
        let (mut first, mut second) = if callee_first {
            (callee, call)
        } else {
            (call, callee)
        };
        p.process_request(&mut first, NOW);
        p.process_request(&mut second, NOW);
        for s in spans(&first).into_iter().chain(spans(&second)) {
            assert_eq!(
                links(s),
                Vec::<String>::new(),
                "callee first: {callee_first}"
            );
        }
        assert_eq!(p.counters().links.request_id, 0);
    }
}

#[test]
fn an_invocation_under_the_lambda_segment_of_its_callers_trace_is_linked_to_the_call() {
    // X-Ray propagation: the callee is in the caller's trace under Lambda's own segment,
    // which no OTLP export holds, so the link says which call it was.
    let mut p = processor("{}");
    p.process_request(&mut request(vec![lambda_invoke(1, 11, "R1")]), NOW);
    let mut callee = request(vec![invocation(1, 12, Some(99), "R1")]);
    p.process_request(&mut callee, NOW);
    let key = key::Key::of_id(key::Rule::LambdaInvocation, "R1").to_hex();
    assert_eq!(
        links(spans(&callee)[0]),
        vec![format!(
            "{} relink.rule=aws.lambda.invocation relink.match=request-id relink.key={key} relink.peer=producer",
            ids(1, 11)
        )]
    );
}

#[test]
fn an_adopted_invocation_delivered_again_comes_out_the_same() {
    // An exporter's retry of the callee's batch, after its trace was adopted.
    let mut p = adopting();
    p.process_request(&mut request(vec![lambda_invoke(1, 11, "R1")]), NOW);
    let batch = request(vec![
        invocation(2, 21, None, "R1"),
        span(2, 22, Some(21), vec![]),
    ]);
    let (mut first, mut again) = (batch.clone(), batch);
    p.process_request(&mut first, NOW);
    p.process_request(&mut again, NOW + 1_000_000_000);
    assert_eq!(spans(&first)[0].parent_span_id, vec![11; 8]);
    assert!(links(spans(&first)[0])
        .iter()
        .any(|l| l.contains("relink.rule=aws.lambda.invocation")));
    assert_eq!(first, again);
}

#[test]
fn a_callee_processed_first_in_its_callers_trace_is_not_linked_from_the_call() {
    // The index does not hold the callee's parent: one trace is taken to mean that the
    // call's context arrived (documented in `invocation`).
    let mut p = processor("{}");
    let mut callee = request(vec![invocation(1, 12, Some(99), "R1")]);
    p.process_request(&mut callee, NOW);
    let mut call = request(vec![lambda_invoke(1, 11, "R1")]);
    p.process_request(&mut call, NOW);
    assert_eq!(links(spans(&call)[0]), Vec::<String>::new());
    assert_eq!(links(spans(&callee)[0]), Vec::<String>::new());
}

/// A function triggered by an SQS queue that is a Lambda destination: its one message is
/// the record of invocation `request_id`.
fn destination_consumer(trace: u8, id: u8, request_id: &str) -> Span {
    let record = serde_json::json!({
        "version": "1.0",
        "timestamp": "2019-11-24T21:52:47.333Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": "arn:aws:lambda:us-east-1:1:function:source:$LATEST",
            "condition": "Success",
            "approximateInvokeCount": 1
        },
        "requestPayload": {},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": null
    });
    let event = serde_json::json!({"Records": [{
        "messageId": "m1",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:1:on-success",
        "body": record.to_string(),
        "attributes": {},
        "messageAttributes": {}
    }]});
    span(
        trace,
        id,
        None,
        vec![
            kv("faas.invocation_id", "sqs-invocation"),
            kv("relink.event", &event.to_string()),
        ],
    )
}

#[test]
fn a_destination_records_consumer_joins_the_invocation_it_reports() {
    let key = key::Key::of_id(key::Rule::LambdaDestination, "R1").to_hex();
    let link = |t, s, peer| {
        format!(
            "{} relink.rule=aws.lambda.destination relink.match=request-id relink.key={key} relink.peer={peer}",
            ids(t, s)
        )
    };
    // The invocation first (its span ends before Lambda sends the record), then the other
    // order.
    let mut p = processor("{}");
    p.process_request(&mut request(vec![invocation(1, 11, None, "R1")]), NOW);
    let mut consumer = request(vec![destination_consumer(2, 21, "R1")]);
    p.process_request(&mut consumer, NOW);
    assert_eq!(links(spans(&consumer)[0]), vec![link(1, 11, "producer")]);

    let mut p = processor("{}");
    p.process_request(&mut request(vec![destination_consumer(2, 21, "R1")]), NOW);
    let mut source = request(vec![invocation(1, 11, None, "R1")]);
    p.process_request(&mut source, NOW);
    assert_eq!(links(spans(&source)[0]), vec![link(2, 21, "consumer")]);

    // With adoption on, the consumer's trace moves under the invocation.
    let mut p = adopting();
    p.process_request(&mut request(vec![invocation(1, 11, None, "R1")]), NOW);
    let mut consumer = request(vec![
        destination_consumer(2, 21, "R1"),
        span(2, 22, Some(21), vec![]),
    ]);
    p.process_request(&mut consumer, NOW);
    let [root, child] = spans(&consumer)[..] else {
        panic!("two spans")
    };
    assert_eq!(
        (root.trace_id.clone(), root.parent_span_id.clone()),
        (vec![1; 16], vec![11; 8])
    );
    assert_eq!(child.trace_id, vec![1; 16]);
    assert_eq!(
        strings(root, "relink.rules"),
        vec!["adoption", "aws.lambda.destination"]
    );
}

#[test]
fn stamp_mode_routes_an_invoke_its_invocation_and_its_destination_consumer_together() {
    let mut p = processor(r#"{"stamp": {"enabled": true}}"#);
    // Trace 1 calls Invoke (R1); trace 2 is the invocation; trace 3 consumes its record
    // from a queue (whose message id no producer names); trace 4 is another invocation,
    // routed by its own request id (R2). Its destination claim routes nothing.
    let mut req = request(vec![
        destination_consumer(3, 31, "R1"),
        invocation(2, 21, None, "R1"),
        lambda_invoke(1, 11, "R1"),
        invocation(4, 41, None, "R2"),
    ]);
    p.process_request(&mut req, NOW);
    let routes = routes(&req);
    let r1 = key::Key::of_id(key::Rule::LambdaInvocation, "R1").to_hex();
    let r2 = key::Key::of_id(key::Rule::LambdaInvocation, "R2").to_hex();
    assert_eq!(
        routes,
        vec![
            Some(r1.as_str()),
            Some(r1.as_str()),
            Some(r1.as_str()),
            Some(r2.as_str()),
        ]
    );
}

#[test]
fn a_dead_letters_consumer_joins_the_failed_invocation_not_its_trigger() {
    // Lambda sends a failed asynchronous invocation's event to the function's dead-letter
    // queue, as it was, naming the invocation in the message's attributes. Here that is
    // an S3 notification of a write also in the index: the write triggered the invocation,
    // not the dead letter's consumer.
    let attribute = |data_type: &str, value: &str| serde_json::json!({"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": data_type});
    let event = serde_json::json!({"Records": [{
        "messageId": "m1",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:1:report-dlq",
        "body": serde_json::json!({"Records": [{
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "responseElements": {"x-amz-request-id": "R"},
            "s3": {
                "bucket": {"name": "some-bucket"},
                "object": {"key": "some-key.data", "eTag": "ab12ef34"}
            }
        }]})
        .to_string(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {
            "RequestID": attribute("String", "R1"),
            "ErrorCode": attribute("Number", "200"),
            "ErrorMessage": attribute("String", "Task timed out after 3.00 seconds")
        }
    }]});
    let mut p = processor("{}");
    p.process_request(
        &mut request(vec![
            s3_put(3, 31, Some("ab12ef34"), "R"),
            invocation(1, 11, None, "R1"),
        ]),
        NOW,
    );
    let mut consumer = request(vec![span(
        2,
        21,
        None,
        vec![
            kv("faas.invocation_id", "R9"),
            kv("relink.event", &event.to_string()),
        ],
    )]);
    p.process_request(&mut consumer, NOW);
    let key = key::Key::of_id(key::Rule::LambdaDestination, "R1").to_hex();
    assert_eq!(
        links(spans(&consumer)[0]),
        vec![format!(
            "{} relink.rule=aws.lambda.destination relink.match=request-id relink.key={key} relink.peer=producer",
            ids(1, 11)
        )]
    );
}

#[test]
fn an_http_or_queue_invocation_is_no_destination_producer() {
    // API Gateway and SQS invoke synchronously: Lambda sends no record after those.
    let mut p = processor("{}");
    let by_http = span(
        1,
        11,
        None,
        vec![kv("faas.invocation_id", "R1"), kv("faas.trigger", "http")],
    );
    let by_queue = destination_consumer(3, 31, "R0");
    let mut first = request(vec![by_http, by_queue]);
    p.process_request(&mut first, NOW);
    // The queue consumer's two claims (its message, the record), nothing for the HTTP span.
    assert_eq!(p.gauges().entries, 2);
    let mut queue_consumer = request(vec![destination_consumer(2, 21, "R1")]);
    p.process_request(&mut queue_consumer, NOW);
    assert_eq!(links(spans(&queue_consumer)[0]), Vec::<String>::new());
    let mut q = processor(r#"{"direct_links": {"lambda_destinations": false}}"#);
    q.process_request(&mut request(vec![invocation(1, 11, None, "R1")]), NOW);
    let mut consumer = request(vec![destination_consumer(2, 21, "R1")]);
    q.process_request(&mut consumer, NOW);
    assert_eq!(links(spans(&consumer)[0]), Vec::<String>::new());
}

#[test]
fn links_stop_at_the_span_limit() {
    let mut p = processor(r#"{"limits": {"max_links_per_span": 1}}"#);
    let t = trigger(
        TriggerKind::Sqs,
        vec![
            sqs_item("m1", vec![context(7, 71, Format::W3c)]),
            sqs_item("m2", vec![context(8, 81, Format::W3c)]),
        ],
    );
    let mut req = request(vec![span(2, 21, None, vec![])]);
    let outcome = p.process_inferred(&t, &mut req, NOW);
    assert_eq!(spans(&req)[0].links.len(), 1);
    assert_eq!(outcome.counters.links.over_limit, 1);
}

#[test]
fn spans_inferred_from_a_raw_event_are_the_consumer_side() {
    let event =
        include_bytes!("../../tests/fixtures/aws-lambda-rust-runtime/example-s3-event.json");
    let trigger = match crate::event::decode_event(event) {
        Ok(t) => t,
        Err(e) => panic!("fixture: {e}"),
    };
    let mut p = processor("{}");
    let mut put = s3_put(
        1,
        11,
        Some("d41d8cd98f00b204e9800998ecf8427e"),
        "C3D13FE58DE4C810",
    );
    put.attributes = vec![
        kv("rpc.system", "aws-api"),
        kv("rpc.service", "S3"),
        kv("rpc.method", "PutObject"),
        kv("aws.s3.bucket", "sourcebucket"),
        kv("aws.s3.key", "Happy Face.jpg"),
        kv("relink.s3.etag", "\"d41d8cd98f00b204e9800998ecf8427e\""),
    ];
    p.process_request(&mut request(vec![put]), NOW);
    let mut inferred = crate::inferred::infer_request(&trigger, &Default::default());
    let outcome = p.process_inferred(&trigger, &mut inferred, NOW);
    assert!(outcome.changed);
    let first = spans(&inferred)[0];
    let zero = "00000000000000000000000000000000/0000000000000000";
    // The decoded key's pointer and the producer it joins, then the pointer of the key as
    // the notification wrote it (`Happy%20Face.jpg`), which Datadog's Lambda consumers hash.
    assert_eq!(
        links(first),
        vec![
            format!("{zero} ptr.kind=aws.s3.object ptr.dir=u ptr.hash=7c0bf58aea7f62b7af0f6ba91fd850ca link.kind=span-pointer"),
            format!(
                "{} relink.rule=aws.s3.object relink.match=exact relink.key=7c0bf58aea7f62b7af0f6ba91fd850ca relink.peer=producer",
                ids(1, 11)
            ),
            format!("{zero} ptr.kind=aws.s3.object ptr.dir=u ptr.hash=8382be89a967df9d6ce5085091bd8172 link.kind=span-pointer"),
        ]
    );
}
