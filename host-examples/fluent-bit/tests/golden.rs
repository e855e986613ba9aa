//! The relink golden scenarios (`tests/golden/relink`) through the Fluent Bit filter, each batch at the
//! time the golden harness gives it, checked against the native core run on the same
//! batches: the filter sees each OTLP/JSON batch as an `in_opentelemetry` raw-traces
//! record.
//!
//! A case's raw events (`event-N.*`) reach the host the way a deployment sends them: the
//! relay or the CLI turns the payload into spans (`process_event`, on a fresh processor
//! with the case's config) and those spans travel on as an OTLP export, which both sides
//! then process like any other batch.

use relink::otlp::Encoding;
use relink_harness::fluent_bit;
use relink_harness::testing::{
    self as common, event_file, golden_case as case, native_processor as native, GOLDEN_EVENTS,
};
use serde_json::{json, Map, Value};

/// The 53 `input-N.json` batches of the golden cases, but for the malformed case's three
/// that are no JSON object with `resourceSpans` (Fluent Bit hands a filter only objects),
/// and the spans of the 7 `event-N.*` payloads.
const REPLAYED_FLUENT_BIT: usize = 57;

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
fn the_replays_hold_every_golden_case_and_event() {
    let cases = common::relink_golden_cases();
    assert_eq!(cases.len(), 19, "golden relink cases");
    let events: usize = cases
        .iter()
        .map(|dir| (1..100).filter(|n| event_file(dir, *n).is_some()).count())
        .sum();
    assert_eq!(events, GOLDEN_EVENTS, "event-N payloads");
}
