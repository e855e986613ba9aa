//! The relink golden scenarios (`tests/golden/relink`) through the otelwasm processor, each batch at the
//! time the golden harness gives it, checked against the native core run on the same
//! batches: the processor sees each batch as the collector's protobuf.
//!
//! A case's raw events (`event-N.*`) reach the host the way a deployment sends them: the
//! relay or the CLI turns the payload into spans (`process_event`, on a fresh processor
//! with the case's config) and those spans travel on as an OTLP export, which both sides
//! then process like any other batch.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use relink::otlp::{decode, detect, Encoding};
use relink_harness::otelwasm;
use relink_harness::testing::{
    self as common, golden_case as case, native_processor as native, GOLDEN_BASE_NOW,
};
use std::time::Duration;

/// The golden batches Fluent Bit replays (57, see its golden test) less the malformed
/// case's batch that is an object but does not decode (the collector only ever holds
/// decoded traces).
const REPLAYED_OTELWASM: usize = 56;

#[test]
fn otelwasm_processor_matches_the_native_core() {
    let wasm = common::artifact("relink-collector.wasm", "host-examples/collector/build.sh");
    let plugin = otelwasm::Plugin::new(&wasm).unwrap_or_else(|e| panic!("{e:#}"));
    let canonical =
        // pdata's re-marshalling, played by prost: independent of relink's codec.
        |bytes: &[u8]| {
            ExportTraceServiceRequest::decode(bytes)
                .unwrap_or_else(|e| panic!("{e}"))
                .encode_to_vec()
        };
    let mut replayed = 0;
    for case in common::relink_golden_cases().into_iter().map(case) {
        let config = case.config.as_bytes();
        let first = case
            .batches
            .first()
            .map(|(t, _)| *t)
            .unwrap_or(GOLDEN_BASE_NOW);
        let mut processor =
            otelwasm::Processor::new(&plugin, config, Some(Duration::from_nanos(first)))
                .unwrap_or_else(|e| panic!("{e:#}"));
        let mut core = native(&case.config);
        for (n, (now, batch)) in case.batches.iter().enumerate() {
            // The collector only ever holds decodable traces.
            let Ok(request) = decode(batch, detect(batch)) else {
                continue;
            };
            let batch = request.encode_to_vec();
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
