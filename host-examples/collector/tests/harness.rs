//! dist/relink-collector.wasm run the way the otelwasm collector's `wasm` processor runs it.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use relink::otlp::{decode_json, Encoding};
use relink_harness::otelwasm::{Error, Plugin, Processor};
use relink_harness::testing::{artifact, native, s3_put_request, NOW};
use std::sync::OnceLock;
use std::time::Duration;

fn plugin() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let wasm = artifact("relink-collector.wasm", "host-examples/collector/build.sh");
        Plugin::new(&wasm).unwrap_or_else(|e| panic!("{e:#}"))
    })
}

fn processor(plugin_config: &str) -> Processor {
    Processor::new(
        plugin(),
        plugin_config.as_bytes(),
        Some(Duration::from_nanos(NOW)),
    )
    .unwrap_or_else(|e| panic!("{e:#}"))
}

/// The S3 PutObject request as the collector holds it (protobuf).
fn s3_put_batch() -> Vec<u8> {
    let request = decode_json(s3_put_request().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    request.encode_to_vec()
}

/// A batch as pdata re-marshals it (prost, not relink's codec).
fn canonical(bytes: &[u8]) -> Vec<u8> {
    ExportTraceServiceRequest::decode(bytes)
        .unwrap_or_else(|e| panic!("{e}"))
        .encode_to_vec()
}

#[test]
fn batches_come_back_relinked_as_the_core_does() {
    let batch = s3_put_batch();
    let expected = canonical(&native("{}", &batch, Encoding::Protobuf));
    assert_ne!(expected, batch, "the batch is one relink changes");
    let mut p = processor("null");
    assert_eq!(p.process_traces(&batch), Ok(expected.clone()));
    // Processing the output again adds nothing.
    assert_eq!(p.process_traces(&expected), Ok(expected));
    assert_eq!(p.stderr(), "");
}

#[test]
fn plugin_config_is_read_and_invalid_config_passes_batches_unchanged() {
    let batch = s3_put_batch();
    let off = r#"{"pointer_links":{"enabled":false}}"#;
    assert_eq!(processor(off).process_traces(&batch), Ok(canonical(&batch)));
    let mut invalid = processor(r#"{"index":{"max_entries":0}}"#);
    assert_eq!(invalid.process_traces(&batch), Ok(canonical(&batch)));
    assert_eq!(invalid.process_traces(&batch), Ok(canonical(&batch)));
    assert_eq!(
        invalid.stderr(),
        "relink: plugin_config: config: `index.max_entries` is 0, expected 1 to 50000000; traces pass through unchanged\n"
    );
    // A YAML key given no value reaches the module as `null` (Go's json.Marshal of the
    // collector's map): its defaults, as if absent, not an invalid configuration.
    let mut nulls = processor(
        r#"{"adoption":{"enabled":false,"ttl_seconds":null},"index":null,"limits":{"max_request_bytes":16777216}}"#,
    );
    assert_eq!(
        nulls.process_traces(&batch),
        Ok(canonical(&native("{}", &batch, Encoding::Protobuf)))
    );
    assert_eq!(nulls.stderr(), "");
    // A configuration larger than the first 4 KiB buffer is read by growing it.
    let padded = format!(
        r#"{{"dynamodb":{{"tables":{{"{}":["pk"]}}}}}}"#,
        "t".repeat(10_000)
    );
    assert_eq!(
        processor(&padded).process_traces(&batch),
        Ok(canonical(&native(&padded, &batch, Encoding::Protobuf)))
    );
}

#[test]
fn large_batches_are_read_by_growing_the_buffer() {
    // ~4 MiB: the host answers 0 for the first buffers, the module doubles and asks again.
    let json = s3_put_request().replace("some-key.data", &"k".repeat(4 << 20));
    let request = decode_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let batch = request.encode_to_vec();
    let expected = canonical(&native("{}", &batch, Encoding::Protobuf));
    assert_eq!(processor("null").process_traces(&batch), Ok(expected));
}

#[test]
fn over_the_limit_batches_pass_unchanged_and_empty_ones_are_refused() {
    let batch = s3_put_batch();
    let small = format!(
        r#"{{"limits":{{"max_request_bytes":{}}}}}"#,
        batch.len() - 1
    );
    let mut p = processor(&small);
    assert_eq!(p.process_traces(&batch), Ok(canonical(&batch)));
    assert!(
        p.stderr()
            .starts_with("relink: batch passed through unchanged (1 so far): otlp request: "),
        "{}",
        p.stderr()
    );
    // The host answers 0 for an empty batch as for one longer than the buffer: the module
    // cannot tell them apart once its buffer has reached twice the limit, and refuses,
    // which the collector reports as an error.
    let tiny = r#"{"limits":{"max_request_bytes":16}}"#;
    let json = s3_put_request().replace("some-key.data", &"k".repeat(100_000));
    let large = decode_json(json.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"))
        .encode_to_vec();
    let reason = "relink: the batch is empty or larger than 65536 bytes (the buffer grows to twice limits.max_request_bytes)";
    for input in [Vec::new(), large] {
        assert_eq!(
            processor(tiny).process_traces(&input),
            Err(Error::Status {
                code: 1,
                reason: reason.into()
            })
        );
    }
}

/// A call that traps part way (under wazero: wasm32 aborts on a panic such as running out
/// of memory, and the module stays) fails that batch only: the next batches get a fresh
/// processor state, not an error because the old one is still borrowed.
#[test]
fn a_trapped_call_costs_one_batch_not_the_processor() {
    let wasm = artifact("relink-collector.wasm", "host-examples/collector/build.sh");
    let plugin = Plugin::with_trap_injection(&wasm).unwrap_or_else(|e| panic!("{e:#}"));
    let mut p = Processor::new(&plugin, b"null", Some(Duration::from_nanos(NOW)))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let batch = s3_put_batch();
    let expected = canonical(&native("{}", &batch, Encoding::Protobuf));
    assert_eq!(
        p.process_traces(&batch).map(|b| canonical(&b)),
        Ok(expected.clone())
    );
    for fuel in [1_000, 20_000] {
        p.trap_after(fuel).unwrap_or_else(|e| panic!("{e:#}"));
        let failed = p.process_traces(&batch);
        assert!(
            matches!(&failed, Err(Error::Trap(t)) if t.contains("fuel")),
            "fuel {fuel}: {failed:?}"
        );
        p.trap_after(u64::MAX).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(
            p.process_traces(&batch).map(|b| canonical(&b)),
            Ok(expected.clone()),
            "after a trap at {fuel}"
        );
    }
}
