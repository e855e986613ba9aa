//! The relink golden scenarios (`tests/golden/relink`) through both artifacts, each batch
//! at the time the golden harness gives it, checked against the native core run on the
//! same batches: the Fluent Bit filter sees each OTLP/JSON batch as an `in_opentelemetry`
//! raw-traces record, the otelwasm processor sees it as the collector's protobuf.

mod common;

use relink::config::Config;
use relink::otlp::{decode, decode_protobuf, detect, encode_protobuf, Encoding};
use relink::relink::Processor as Native;
use relink_harness::{fluent_bit, otelwasm};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::time::Duration;

/// The golden harness's clock: batch N is processed at `BASE_NOW + N` seconds.
const BASE_NOW: u64 = 1_709_929_300_000_000_000;

/// The 43 `input-N.json` batches of the golden cases, but for the malformed case's three
/// that are no JSON object with `resourceSpans` (Fluent Bit hands a filter only objects).
const REPLAYED_FLUENT_BIT: usize = 40;
/// The same, less the malformed case's batch that is an object but does not decode (the
/// collector only ever holds decoded traces).
const REPLAYED_OTELWASM: usize = 39;

struct Case {
    name: String,
    config: String,
    /// (time in unix nanos, batch bytes) in batch order.
    batches: Vec<(u64, Vec<u8>)>,
}

/// A case's OTLP batches (`input-N.json`). Its raw events (`event-N.*`, which go through the
/// event entry point) have no place in these hosts, so both sides skip them alike.
fn case(dir: std::path::PathBuf) -> Case {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let config = String::from_utf8(read(&dir.join("config.json"))).unwrap_or_default();
    let mut batches = Vec::new();
    for n in 1u64..100 {
        let path = dir.join(format!("input-{n}.json"));
        if path.exists() {
            batches.push((BASE_NOW + n * 1_000_000_000, read(&path)));
        }
    }
    assert!(!batches.is_empty(), "{name}: no inputs");
    Case {
        name,
        config,
        batches,
    }
}

fn native(config: &str) -> Native {
    Config::from_json(config)
        .and_then(|c| c.build())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn fluent_bit_filter_matches_the_native_core() {
    let wasm = common::artifact(
        "relink-fluent-bit.wasm",
        "host-examples/fluent-bit/build.sh",
    );
    let plugin = fluent_bit::Plugin::new(&wasm).unwrap_or_else(|e| panic!("{e:#}"));
    let mut replayed = 0;
    for case in common::relink_golden_cases().into_iter().map(case) {
        let dir = common::temp_dir(&format!("golden-fb-{}", case.name));
        std::fs::write(dir.join("relink.json"), &case.config).unwrap_or_else(|e| panic!("{e}"));
        let settings = fluent_bit::Settings {
            accessible_paths: vec![fluent_bit::Preopen {
                host: dir,
                guest: "/etc/relink".into(),
            }],
            ..fluent_bit::Settings::default()
        };
        let mut filter =
            fluent_bit::Filter::new(&plugin, &settings).unwrap_or_else(|e| panic!("{e:#}"));
        let mut core = native(&case.config);
        for (n, (now, batch)) in case.batches.iter().enumerate() {
            // Fluent Bit hands a filter only JSON objects; a raw-traces record is one with
            // `resourceSpans`.
            let Ok(record) = serde_json::from_slice::<Map<String, Value>>(batch) else {
                continue;
            };
            if !record.contains_key("resourceSpans") {
                continue;
            }
            let expected = core
                .process_traces_as(batch, Encoding::Json, *now)
                .output
                .into_owned();
            let expected = json!({
                "trace": String::from_utf8(expected).unwrap_or_default(),
                "headers": { "Content-Type": "application/json" },
            });
            let (sec, nsec) = ((now / 1_000_000_000) as u32, (now % 1_000_000_000) as u32);
            let outcome = filter.filter("v1_traces", sec, nsec, batch);
            let fluent_bit::Outcome::Kept(text) = outcome else {
                panic!("{}: input-{}: {outcome:?}", case.name, n + 1)
            };
            let actual: Value = serde_json::from_str(&text).unwrap_or_default();
            assert_eq!(actual, expected, "{}: input-{}", case.name, n + 1);
            replayed += 1;
        }
    }
    assert_eq!(replayed, REPLAYED_FLUENT_BIT, "batches replayed");
}

#[test]
fn otelwasm_processor_matches_the_native_core() {
    let wasm = common::artifact("relink-collector.wasm", "host-examples/collector/build.sh");
    let plugin = otelwasm::Plugin::new(&wasm).unwrap_or_else(|e| panic!("{e:#}"));
    let canonical =
        |bytes: &[u8]| encode_protobuf(&decode_protobuf(bytes).unwrap_or_else(|e| panic!("{e}")));
    let mut replayed = 0;
    for case in common::relink_golden_cases().into_iter().map(case) {
        let config = case.config.as_bytes();
        let first = case.batches.first().map(|(t, _)| *t).unwrap_or(BASE_NOW);
        let mut processor =
            otelwasm::Processor::new(&plugin, config, Some(Duration::from_nanos(first)))
                .unwrap_or_else(|e| panic!("{e:#}"));
        let mut core = native(&case.config);
        for (n, (now, batch)) in case.batches.iter().enumerate() {
            // The collector only ever holds decodable traces.
            let Ok(request) = decode(batch, detect(batch)) else {
                continue;
            };
            let batch = encode_protobuf(&request);
            let expected = canonical(
                &core
                    .process_traces_as(&batch, Encoding::Protobuf, *now)
                    .output,
            );
            processor.set_now(Duration::from_nanos(*now));
            assert_eq!(
                processor.process_traces(&batch),
                Ok(expected),
                "{}: input-{}",
                case.name,
                n + 1
            );
            replayed += 1;
        }
        assert_eq!(processor.stderr(), "", "{}", case.name);
    }
    assert_eq!(replayed, REPLAYED_OTELWASM, "batches replayed");
}
