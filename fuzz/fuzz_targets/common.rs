//! Shared by the fuzz targets: the processor configurations every target exercises and the
//! invariants every processed request must keep (the ones `relink::processor` documents).
//! An invariant that fails is a finding like a panic: libFuzzer saves the input.

#![allow(dead_code)]

use relink::config::Config;
use relink::otlp::{self, ExportTraceServiceRequest};
use relink::processor::{Processed, Processor};
use std::sync::OnceLock;

/// A fixed clock: the processor takes time as an argument.
pub const NOW: u64 = 1_722_369_353_000_000_000;

/// Defaults; everything on (adoption, stamp, heuristic joins, truncated events, single
/// message parenting); tight limits, so the limit paths run too.
pub const CONFIGS: [&str; 3] = [
    "{}",
    r#"{"adoption": {"enabled": true},
        "direct_links": {"heuristic_s3_key": true},
        "messaging": {"parent_single_message": true},
        "stamp": {"enabled": true, "s3_route": "request_id"},
        "event_attribute": {"output": "truncate", "truncate_bytes": 7},
        "dynamodb": {"tables": {"orders": ["pk", "sk"]}}}"#,
    r#"{"adoption": {"enabled": true, "max_traces": 2, "ttl_seconds": 1},
        "index": {"max_entries": 3, "ttl_seconds": 1},
        "event_attribute": {"output": "keep"},
        "limits": {"max_request_bytes": 4096, "max_event_bytes": 512,
                   "max_attributes_scanned": 4, "max_links_per_span": 2,
                   "max_nesting": 3, "max_decompressed_bytes": 8192}}"#,
];

fn parsed() -> &'static [Config] {
    static PARSED: OnceLock<Vec<Config>> = OnceLock::new();
    PARSED.get_or_init(|| {
        let parsed: Vec<Config> = CONFIGS
            .iter()
            .filter_map(|json| Config::from_json(json).ok())
            .collect();
        assert_eq!(
            parsed.len(),
            CONFIGS.len(),
            "a fuzz configuration is invalid"
        );
        parsed
    })
}

/// A fresh processor (empty state) with configuration `n % CONFIGS.len()`; the
/// configurations are parsed once.
pub fn processor(n: usize) -> Option<Processor> {
    let parsed = parsed();
    Processor::new(parsed.get(n % parsed.len())?).ok()
}

/// Fresh processors, one per configuration.
pub fn processors() -> Vec<Processor> {
    parsed()
        .iter()
        .filter_map(|config| relink::Processor::new(&config).ok())
        .collect()
}

/// Every span id in the request, sorted (a multiset).
pub fn span_ids(request: &ExportTraceServiceRequest) -> Vec<Vec<u8>> {
    let mut ids: Vec<Vec<u8>> = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.span_id.clone())
        .collect();
    ids.sort();
    ids
}

/// Decodes a processor output (plain or gzip, in its encoding).
pub fn decode_output(processed: &Processed<'_>) -> Option<ExportTraceServiceRequest> {
    let bytes: Vec<u8> = if otlp::is_gzip(&processed.output) {
        otlp::gunzip(&processed.output, usize::MAX).ok()?
    } else {
        processed.output.to_vec()
    };
    otlp::decode(&bytes, processed.encoding).ok()
}

/// The documented guarantees of one call: an error passes the input through byte for
/// byte; no span is dropped; a changed output decodes and keeps every span id.
pub fn check(input: &[u8], before: Option<&ExportTraceServiceRequest>, processed: &Processed<'_>) {
    let c = &processed.counters;
    assert_eq!(c.spans_in, c.spans_out, "a span was dropped");
    if processed.error.is_some() || c.requests_unchanged == 1 {
        assert!(
            processed.output.as_ref() == input,
            "pass-through changed the bytes"
        );
        return;
    }
    let Some(after) = decode_output(processed) else {
        panic!("changed output does not decode");
    };
    if let Some(before) = before {
        assert_eq!(span_ids(before), span_ids(&after), "span ids changed");
    }
}
