//! The event entry point every host and the CLI call, `Processor::process_event` (Lambda
//! trigger events of every kind, Step Functions logs and history, CloudWatch Logs
//! subscription data, auto-detected), and the decoder under it: `decode_event`, then
//! inferring spans, encoding them, processing them as a consumer, and for a Step Functions
//! context object the parent state span.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use relink::inferred::{infer_request, InferOptions};
use relink::otlp;
use relink::processor::EventContext;

const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1";

fuzz_target!(|data: &[u8]| {
    // Odd lengths also name an execution, as a host does for GetExecutionHistory output.
    let ctx = match data.len() % 2 {
        1 => EventContext::default().with_execution_arn(ARN),
        _ => EventContext::default(),
    };
    // One configuration per input (chosen by length), so each execution stays cheap.
    let config = data.len() / 2;
    if let Some(mut p) = common::processor(config) {
        if let Ok(request) = p.process_event(data, &ctx, common::NOW) {
            let pb = otlp::encode_protobuf(&request);
            assert!(
                otlp::decode_protobuf(&pb).is_ok(),
                "event spans do not decode"
            );
        }
    }
    let Ok(trigger) = relink::decode_event(data) else {
        return;
    };
    let _ = serde_json::to_vec(&trigger);
    // A Lambda invoked by Step Functions finds its parent state span from the context.
    if let Some(ctx) = &trigger.step_functions {
        let _ = relink::stepfn::parent_for_lambda(ctx);
    }
    let request = infer_request(&trigger, &InferOptions::default());
    let _ = otlp::encode_protobuf(&request);
    let _ = otlp::encode_json(&request);
    if let Some(mut p) = common::processor(config) {
        let mut copy = request.clone();
        let outcome = p.process_inferred(&trigger, &mut copy, common::NOW);
        assert_eq!(outcome.counters.spans_in, outcome.counters.spans_out);
        assert_eq!(
            common::span_ids(&request),
            common::span_ids(&copy),
            "span ids changed"
        );
    }
});
