//! The auto-detecting AWS event decoder (every event kind), then what a host does with a
//! decoded trigger: infer its spans, encode them, process them as the event entry point
//! does, and for a Step Functions context object compute the parent state span.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use relink::inferred::{infer_request, InferOptions};
use relink::otlp;

fuzz_target!(|data: &[u8]| {
    let Ok(trigger) = relink::decode_event(data) else {
        return;
    };
    let _ = serde_json::to_vec(&trigger);
    // A Lambda invoked by Step Functions finds its parent state span from the context.
    if let Some(ctx) = &trigger.step_functions {
        let _ = relink::stepfn::parent_for_lambda(ctx);
    }
    let mut request = infer_request(&trigger, &InferOptions::default());
    let _ = otlp::encode_protobuf(&request);
    let _ = otlp::encode_json(&request);
    for mut p in common::processors() {
        let mut copy = request.clone();
        let outcome = p.process_inferred(&trigger, &mut copy, common::NOW);
        assert_eq!(outcome.counters.spans_in, outcome.counters.spans_out);
        assert_eq!(common::span_ids(&request), common::span_ids(&copy), "span ids changed");
    }
    request.resource_spans.clear();
});
