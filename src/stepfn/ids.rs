//! Deterministic trace and span ids for Step Functions, compatible with Datadog's.
//!
//! Both sides of a Step Functions -> Lambda call compute the same ids without sharing state:
//! the workflow side from the execution's logs or history, the Lambda side from the context
//! object (`$$`) the state passes in its payload, or puts in the `_datadog` carrier of a
//! message it sends (SQS, SNS, EventBridge). The rules are Datadog's
//! (datadog-lambda-python `_generate_sfn_trace_id` / `_generate_sfn_parent_id`), so traces
//! join across fleets where some functions run Datadog's layers and others relink.
//!
//! With H = SHA-256 of a UTF-8 string, `high64(H)` is the big-endian u64 of H\[0..8\] and
//! `low64(H)` that of H\[8..16\], each with bit 63 cleared and 0 replaced by 1:
//! - trace id: high 64 bits `high64(H(root ARN))`, low 64 bits `low64(H(root ARN))`, where the
//!   root is `RootExecutionId` when the context has one, else the execution itself; an
//!   upstream trace found beside the context object (`_datadog` headers, `traceparent`) wins;
//!   relink also places the execution as its input says (a parent workflow, trace headers),
//!   as the workflow's spans are placed, when no `RootExecutionId` other than the execution's
//!   own names a root ([`trace_id_for`]);
//! - state span id: `high64(H("{execution ARN}#{state name}#{entered time}"))`, with
//!   `#{retry count}#{redrive count}` appended when either count is not 0;
//! - execution span id (relink's own rule; Datadog publishes none):
//!   `high64(H("{execution ARN}#execution"))`;
//! - spans relink adds below a state (task attempts, Map iterations, Parallel branches) hash
//!   the state's key (`{execution ARN}#{state name}#{entered time}`) followed by `#task#{retry}`,
//!   `#iteration#{index}#{attempt}` or `#branch#{index}#{attempt}` in the same way, so
//!   re-reading the same logs gives the same ids.

use crate::event::StepFunctionsContext;
use crate::propagation::{Format, SpanContext, SpanId, TraceId};
use sha2::{Digest, Sha256};

/// The two 63-bit halves of SHA-256(`s`) that Datadog uses: (high64, low64).
pub fn hash_halves(s: &str) -> (u64, u64) {
    let digest: [u8; 32] = Sha256::digest(s.as_bytes()).into();
    let [h0, h1, h2, h3, h4, h5, h6, h7, l0, l1, l2, l3, l4, l5, l6, l7, ..] = digest;
    let high = u64::from_be_bytes([h0, h1, h2, h3, h4, h5, h6, h7]);
    let low = u64::from_be_bytes([l0, l1, l2, l3, l4, l5, l6, l7]);
    (clear_top_bit(high), clear_top_bit(low))
}

fn clear_top_bit(v: u64) -> u64 {
    match v & 0x7fff_ffff_ffff_ffff {
        0 => 1,
        v => v,
    }
}

/// A span id from the high half of SHA-256(`s`).
pub(crate) fn span_id_of(s: &str) -> SpanId {
    SpanId::from_u64(hash_halves(s).0)
}

/// The trace id of a workflow whose root execution is `root_execution_arn`.
pub fn trace_id_for_root(root_execution_arn: &str) -> TraceId {
    let (high, low) = hash_halves(root_execution_arn);
    TraceId::from_u64_pair(high, low)
}

/// The trace a Lambda invoked with this context object belongs to, tried in this order:
/// an upstream trace in the `_datadog` object holding the context (Datadog's JSONata form
/// copies it there: `x-datadog-trace-id` with `_dd.p.tid`, or headers), the trace of
/// `RootExecutionId`, the trace the execution's input places the execution in (as the
/// workflow's own spans are placed), the execution's own trace. Datadog's libraries read
/// the first two the same way.
pub fn trace_id_for(ctx: &StepFunctionsContext) -> TraceId {
    if let Some(trace_id) = ctx.upstream_trace_id {
        return trace_id;
    }
    if let Some(found) = ctx.contexts.first() {
        return found.context.trace_id;
    }
    match (named_root(ctx), ctx.input_trace_id) {
        (Some(root), _) => trace_id_for_root(root),
        (None, Some(placed)) => placed,
        (None, None) => trace_id_for_root(&ctx.execution_id),
    }
}

/// The `RootExecutionId` that names a root. Datadog's JSONata template writes the
/// execution's own id there when it found no parent: that says nothing the execution
/// input (when it places the execution) cannot say better.
pub(crate) fn named_root(ctx: &StepFunctionsContext) -> Option<&str> {
    ctx.root_execution_id
        .as_deref()
        .filter(|root| *root != ctx.execution_id || ctx.input_trace_id.is_none())
}

/// The key every id below a state entry hashes: `{execution ARN}#{state name}#{entered time}`.
pub(crate) fn state_key(execution_arn: &str, state_name: &str, entered_time: &str) -> String {
    format!("{execution_arn}#{state_name}#{entered_time}")
}

/// The span id of a state entry. `entered_time` is the ISO 8601 string exactly as the
/// context object gives `State.EnteredTime` (milliseconds, `Z`); from logs or history, format
/// the state-entered timestamp with [`crate::time::format_rfc3339_millis`].
pub fn state_span_id(
    execution_arn: &str,
    state_name: &str,
    entered_time: &str,
    retry_count: u64,
    redrive_count: u64,
) -> SpanId {
    let mut key = state_key(execution_arn, state_name, entered_time);
    if retry_count != 0 || redrive_count != 0 {
        key.push_str(&format!("#{retry_count}#{redrive_count}"));
    }
    span_id_of(&key)
}

/// The span id of an execution: `high64(H("{execution ARN}#execution"))`.
pub fn execution_span_id(execution_arn: &str) -> SpanId {
    span_id_of(&format!("{execution_arn}#execution"))
}

/// The state span a Lambda invoked by the state in `ctx` is parented under, in the trace
/// [`trace_id_for`] gives. Sampling is left to the caller (the context object says nothing).
pub fn parent_for_lambda(ctx: &StepFunctionsContext) -> SpanContext {
    SpanContext {
        trace_id: trace_id_for(ctx),
        span_id: state_span_id(
            &ctx.execution_id,
            &ctx.state_name,
            &ctx.state_entered_time,
            ctx.retry_count.unwrap_or(0),
            ctx.redrive_count.unwrap_or(0),
        ),
        sampled: None,
        tracestate: None,
        format: Format::Datadog,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::Found;

    const EXEC_1: &str = "arn:aws:states:us-east-1:425362996713:execution:agocsTestSF:bc9f281c-3daa-4e5a-9a60-471a3810bf44";
    const EXEC_2: &str = "arn:aws:states:us-east-1:425362996713:execution:agocsTestSF:aa6c9316-713a-41d4-9c30-61131716744f";
    const ROOT_2: &str = "arn:aws:states:sa-east-1:425362996713:execution:invokeJavaLambda:4875aba4-ae31-4a4c-bf8a-63e9eee31dad";
    const EXPRESS: &str = "arn:aws:states:sa-east-1:425362996713:express:logs-to-traces-sequential:85a9933e-9e11-83dc-6a61-b92367b6c3be:3f7ef5c7-c8b8-4c88-90a1-d54aa7e7e2bf";

    fn ctx(execution: &str, state: &str, entered: &str) -> StepFunctionsContext {
        StepFunctionsContext {
            execution_id: execution.into(),
            state_name: state.into(),
            state_entered_time: entered.into(),
            retry_count: Some(0),
            redrive_count: Some(0),
            ..Default::default()
        }
    }

    #[test]
    fn vector_execution_is_its_own_root() {
        let c = ctx(EXEC_1, "agocsTest1", "2024-07-30T19:55:53.018Z");
        let parent = parent_for_lambda(&c);
        assert_eq!(parent.trace_id.low(), 5744042798732701615);
        assert_eq!(format!("{:x}", parent.trace_id.high()), "1914fe7789eb32be");
        assert_eq!(parent.span_id.as_u64(), 2902498116043018663);
        assert_eq!(parent.trace_id, trace_id_for(&c));
    }

    #[test]
    fn vector_root_execution_id() {
        let mut c = ctx(EXEC_2, "agocsTest1", "2024-07-30T20:46:20.824Z");
        c.root_execution_id = Some(ROOT_2.into());
        let parent = parent_for_lambda(&c);
        assert_eq!(parent.trace_id.low(), 1322229001489018110);
        assert_eq!(format!("{:x}", parent.trace_id.high()), "579d19b3ee216ee9");
        assert_eq!(parent.span_id.as_u64(), 8947638978974359093);
    }

    #[test]
    fn vector_upstream_datadog_trace_wins() {
        let mut c = ctx(EXEC_2, "agocsTest1", "2024-07-30T20:46:20.824Z");
        c.root_execution_id = Some(ROOT_2.into());
        c.upstream_trace_id = Some(TraceId::from_u64_pair(
            0x672a7cb100000000,
            5821803790426892636,
        ));
        let parent = parent_for_lambda(&c);
        assert_eq!(parent.trace_id.low(), 5821803790426892636);
        assert_eq!(format!("{:x}", parent.trace_id.high()), "672a7cb100000000");
        assert_eq!(parent.span_id.as_u64(), 8947638978974359093);
    }

    #[test]
    fn upstream_context_beside_the_object_sets_the_trace() {
        let mut c = ctx(EXEC_1, "agocsTest1", "2024-07-30T19:55:53.018Z");
        let upstream = crate::propagation::w3c::parse_traceparent(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            None,
        );
        let Some(upstream) = upstream else {
            panic!("traceparent did not parse")
        };
        c.contexts.push(Found {
            context: upstream,
            carrier: "Execution.Input.traceparent".into(),
        });
        assert_eq!(
            trace_id_for(&c).to_hex(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(parent_for_lambda(&c).span_id.as_u64(), 2902498116043018663);
        c.upstream_trace_id = Some(TraceId::from_u64_pair(0, 7));
        assert_eq!(trace_id_for(&c), TraceId::from_u64_pair(0, 7));
    }

    #[test]
    fn vector_retry_suffix_on_express() {
        let mut c = ctx(EXPRESS, "step-one", "2022-12-08T21:08:19.224Z");
        c.retry_count = Some(2);
        let parent = parent_for_lambda(&c);
        assert_eq!(parent.trace_id.low(), 1139193989631387307);
        assert_eq!(parent.span_id.as_u64(), 7747304477664363642);
    }

    #[test]
    fn suffix_appended_when_only_redrive_is_set() {
        let plain = state_span_id(EXEC_1, "agocsTest1", "2024-07-30T19:55:53.018Z", 0, 0);
        let redriven = state_span_id(EXEC_1, "agocsTest1", "2024-07-30T19:55:53.018Z", 0, 1);
        let expected = span_id_of(&format!("{EXEC_1}#agocsTest1#2024-07-30T19:55:53.018Z#0#1"));
        assert_ne!(plain, redriven);
        assert_eq!(redriven, expected);
    }

    #[test]
    fn missing_counts_mean_zero() {
        let mut c = ctx(EXEC_1, "agocsTest1", "2024-07-30T19:55:53.018Z");
        c.retry_count = None;
        c.redrive_count = None;
        assert_eq!(parent_for_lambda(&c).span_id.as_u64(), 2902498116043018663);
    }

    #[test]
    fn execution_span_id_rule() {
        assert_eq!(
            execution_span_id(EXEC_1),
            SpanId::from_u64(hash_halves(&format!("{EXEC_1}#execution")).0)
        );
        assert_ne!(
            execution_span_id(EXEC_1).as_u64(),
            trace_id_for_root(EXEC_1).high()
        );
        assert_eq!(execution_span_id(EXEC_1).to_hex(), "5e71eece683c7b64");
    }

    #[test]
    fn zero_halves_become_one() {
        assert_eq!(clear_top_bit(0), 1);
        assert_eq!(clear_top_bit(0x8000_0000_0000_0000), 1);
        assert_eq!(clear_top_bit(u64::MAX), 0x7fff_ffff_ffff_ffff);
    }
}
