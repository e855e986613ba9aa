//! relink against the work every Rust OTLP processor pays, measured in the same run
//! (issue 9). For generated batches of 1k and 10k spans with 0%, 10% and 100% of spans
//! carrying evidence (benches/support/batches.rs), each group measures:
//! - `memcpy`: copying the request bytes (the floor);
//! - `prost-roundtrip`: prost decode + encode of the same request (the baseline);
//! - `relink`: `Processor::process_traces` (the fast path for protobuf);
//! - `relink-full`: `Processor::process_traces_full` (decode, rewrite, encode), to show
//!   what the fast path saves;
//! - `scan`: the fast path's validating walk alone (`relink::otlp::scan`), its floor.
//!
//! `relink-index-filled` runs the 10k/10% batch with the pointer index holding 1k, 100k
//! and 1M entries (its configured limit), to show throughput as the index fills.
//!
//! Every iteration processes the same bytes with the same processor, so each one does the
//! whole join work again (the links are added to the input spans, which have none).
//! benches/run.sh runs this and prints the ratios.

#[path = "support/batches.rs"]
mod batches;

use batches::{Rng, Shape};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use relink::config::Config;
use relink::otlp::scan::{scan, Interest};
use relink::otlp::{Encoding, ExportTraceServiceRequest};
use relink::processor::Processor;
use std::hint::black_box;

/// 2024-03-08T20:23:20Z, shortly after the generated spans.
const NOW: u64 = 1_709_929_400_000_000_000;

fn processor(config: &str) -> Processor {
    match Config::from_json(config).and_then(|c| relink::Processor::new(&c)) {
        Ok(p) => p,
        Err(e) => panic!("bench config: {e}"),
    }
}

fn batch(spans: usize, percent: usize) -> Vec<u8> {
    let shape = Shape::realistic(spans, percent);
    batches::request(&shape, &mut Rng((spans * 1000 + percent) as u64)).encode_to_vec()
}

/// One line per batch, so the results say what was measured.
fn describe(name: &str, input: &[u8]) {
    let mut p = processor("{}");
    let out = p.process_traces(input, NOW);
    let c = &out.counters;
    eprintln!(
        "batch {name}: {} bytes, {} spans, {} changed, links pointer={} exact={} request_id={} context={}, output {} bytes",
        input.len(),
        c.spans_in,
        c.spans_changed,
        c.links.pointer,
        c.links.exact,
        c.links.request_id,
        c.links.context,
        out.output.len()
    );
}

fn batches(c: &mut Criterion) {
    for spans in [1_000, 10_000] {
        for percent in [0, 10, 100] {
            let input = batch(spans, percent);
            let name = format!("otlp-{}k-spans-{percent}pct", spans / 1000);
            let mut group = c.benchmark_group(&name);
            group.throughput(Throughput::Elements(spans as u64));
            if spans >= 10_000 {
                group.sample_size(10);
            }
            group.bench_function("memcpy", |b| {
                b.iter(|| black_box(input.as_slice()).to_vec())
            });
            group.bench_function("prost-roundtrip", |b| {
                b.iter(|| {
                    ExportTraceServiceRequest::decode(black_box(input.as_slice()))
                        .map(|r| r.encode_to_vec())
                        .unwrap_or_default()
                })
            });
            let event = Config::default().attributes.event;
            let span_attributes = [
                ("rpc.system", Some("aws-api")),
                (event.as_str(), None),
                ("aws.step_functions.execution.arn", None),
            ];
            let interest = Interest {
                span_attributes: &span_attributes,
                link_attributes: &["ptr.hash"],
            };
            group.bench_function("scan", |b| {
                b.iter(|| scan(black_box(&input), &interest).map(|s| s.spans.len()))
            });
            // Setup runs on the first call only, so a filtered-out benchmark costs nothing.
            let mut fast = None;
            group.bench_function("relink", |b| {
                let p = fast.get_or_insert_with(|| {
                    describe(&name, &input);
                    processor("{}")
                });
                b.iter(|| p.process_traces(black_box(&input), NOW).output.len())
            });
            let mut full = processor("{}");
            group.bench_function("relink-full", |b| {
                b.iter(|| {
                    full.process_traces_full(black_box(&input), Encoding::Protobuf, NOW)
                        .output
                        .len()
                })
            });
            group.finish();
        }
    }
}

/// Producer spans that record `ids` message ids each (`relink.message_ids`), the cheapest
/// way to put many entries in the index through the processor itself.
fn filler_request(first: u64, spans: u64, ids: u64) -> ExportTraceServiceRequest {
    let s = |v: &str| AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    };
    let kv = |k: &str, v: AnyValue| KeyValue {
        key: k.into(),
        value: Some(v),
        ..Default::default()
    };
    let spans = (0..spans)
        .map(|i| {
            let n = first + i;
            let values = (0..ids).map(|j| s(&format!("fill-{n}-{j}"))).collect();
            Span {
                trace_id: [&n.to_le_bytes()[..], &[1; 8]].concat(),
                span_id: n.to_le_bytes().to_vec(),
                name: "SQS.SendMessageBatch".into(),
                attributes: vec![
                    kv("rpc.system", s("aws-api")),
                    kv("rpc.service", s("SQS")),
                    kv("rpc.method", s("SendMessageBatch")),
                    kv(
                        "relink.message_ids",
                        AnyValue {
                            value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
                        },
                    ),
                ],
                ..Default::default()
            }
        })
        .collect();
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

/// A processor whose index holds `fill` entries besides those of `input`.
fn filled_processor(fill: u64, input: &[u8]) -> Processor {
    let mut p = processor(r#"{"index":{"max_entries":1000000}}"#);
    let per_span = 1_000;
    let mut first = 0;
    while first * per_span < fill {
        let spans = ((fill - first * per_span) / per_span).clamp(1, 100);
        p.process_request(&mut filler_request(first, spans, per_span), NOW);
        first += spans;
    }
    p.process_traces(input, NOW);
    let index = &p.counters().index;
    eprintln!(
        "index filled to {fill}: {} entries, {} bytes allocated ({:.1} bytes/entry)",
        index.entries,
        index.memory_bytes,
        index.memory_bytes as f64 / index.entries.max(1) as f64
    );
    p
}

fn index_filled(c: &mut Criterion) {
    let input = batch(10_000, 10);
    let mut group = c.benchmark_group("relink-index-filled");
    group.throughput(Throughput::Elements(10_000));
    group.sample_size(10);
    for fill in [1_000u64, 100_000, 1_000_000] {
        let mut filled = None;
        group.bench_with_input(BenchmarkId::from_parameter(fill), &input, |b, input| {
            let p = filled.get_or_insert_with(|| filled_processor(fill, input));
            b.iter(|| p.process_traces(black_box(input), NOW).output.len())
        });
    }
    group.finish();
}

criterion_group!(benches, batches, index_filled);
criterion_main!(benches);
