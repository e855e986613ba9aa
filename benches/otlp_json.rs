//! Writing a relinked batch as OTLP/JSON (the relay's `--out` line): the model path
//! (prost decode, then `encode_json`) against the transcoder that writes the same bytes
//! straight from the protobuf (`relink::otlp::protobuf_to_json`). The batches are the
//! processor's outputs for benches/support/batches.rs at 0%, 10% and 100% evidence, as
//! the relay hands them to its file writer. Results: benches/RESULTS.md, "Relay".
//!
//! ```sh
//! cargo bench --bench otlp_json -- --warm-up-time 1 --measurement-time 3 --noplot
//! ```

#[path = "support/batches.rs"]
mod batches;

use batches::{Rng, Shape};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use prost::Message;
use relink::config::Config;
use relink::otlp::{decode_protobuf, encode_json, protobuf_to_json};
use std::hint::black_box;

const NOW: u64 = 1_709_929_400_000_000_000;

/// The relinked output of a generated batch, as the relay's file writer receives it.
fn relinked(spans: usize, percent: usize) -> Vec<u8> {
    let shape = Shape::realistic(spans, percent);
    let input = batches::request(&shape, &mut Rng((spans * 1000 + percent) as u64)).encode_to_vec();
    let mut processor = match Config::from_json("{}").and_then(|c| relink::Processor::new(&c)) {
        Ok(p) => p,
        Err(e) => panic!("bench config: {e}"),
    };
    processor.process_traces(&input, NOW).output.into_owned()
}

fn json_lines(c: &mut Criterion) {
    for percent in [0, 10, 100] {
        let bytes = relinked(1_000, percent);
        let line = decode_protobuf(&bytes)
            .map(|r| encode_json(&r))
            .unwrap_or_default();
        assert_eq!(
            protobuf_to_json(&bytes).ok(),
            Some(line.clone()),
            "the same line"
        );
        eprintln!(
            "batch 1k spans {percent}%: {} protobuf bytes, {} JSON bytes",
            bytes.len(),
            line.len()
        );
        let mut group = c.benchmark_group(format!("json-line-1k-spans-{percent}pct"));
        group.throughput(Throughput::Elements(1_000));
        group.bench_function("model", |b| {
            b.iter(|| decode_protobuf(black_box(&bytes)).map(|r| encode_json(&r)))
        });
        group.bench_function("transcode", |b| {
            b.iter(|| protobuf_to_json(black_box(&bytes)))
        });
        group.finish();
    }
}

criterion_group!(benches, json_lines);
criterion_main!(benches);
