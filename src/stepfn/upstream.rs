//! Where an execution belongs: the trace and parent span found in its input.
//!
//! An execution joins an existing trace in one of four ways, tried in this order:
//! 1. a parent workflow's context object in the input (where a Lambda's event carries it,
//!    read by the same decoder, or under `CONTEXT`: what Datadog's nested-workflow setups
//!    pass to `StartExecution`): the execution is a child of the parent's state span, in the
//!    trace that state's Lambdas join;
//! 2. trace headers in the input (`_datadog` with `x-datadog-*`, as dd-trace injects into
//!    `StartExecution`, or a top-level or `_datadog` `traceparent`): a child of that span;
//! 3. a Datadog trace id without a parent id in `_datadog` (Datadog's JSONata setup): in
//!    that trace, at its root, where the execution's Lambdas will look for it too;
//! 4. `AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID` (AWS's own field for a nested
//!    `StartExecution`): a child of the parent's execution span, in the trace rooted at the
//!    parent (the parent is taken to be the root: the field names only one level).
//!
//! Otherwise the execution is the root of its own trace. Input that is not JSON (masked,
//! truncated), or whose context object is malformed, simply carries nothing.
//!
//! A Lambda the execution invokes computes its trace from the same input with [`place`]
//! (its context object's `Execution.Input`), so it lands under its state span. It cannot
//! when its payload leaves the input out: Datadog's JSONata Lambda template does, and
//! writes the execution's own id as `RootExecutionId` unless a `_datadog` object reached
//! the execution. An execution placed by the fourth way, or by headers without `_datadog`,
//! then has its spans here and its Lambdas in its own trace; passing `_datadog` into
//! `StartExecution` (Datadog's template for nested workflows) keeps them together.

use super::ids::{execution_span_id, named_root, parent_for_lambda, trace_id_for_root};
use super::model::ExecutionArn;
use crate::event::{find_step_functions_context, StepFunctionsContext, NESTED_DEPTH};
use crate::propagation::{datadog, from_json_carrier, SpanId, TraceId};
use serde_json::Value;

/// The field AWS adds to a child execution's input to name the parent execution.
pub const STARTED_BY: &str = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID";

/// The trace an execution is in and what its span hangs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub trace_id: TraceId,
    pub parent_span_id: Option<SpanId>,
    /// The execution the parent span belongs to, when the parent is a workflow.
    pub parent_execution: Option<String>,
    /// The root execution of the trace, when it is not this execution.
    pub root_execution: Option<String>,
    /// Where the parent was found (`input._datadog`, `input.traceparent`, ...).
    pub carrier: Option<String>,
}

/// Places an execution given its input JSON text (`None` when the events carry no input).
pub fn resolve(arn: &ExecutionArn, input: Option<&str>) -> Placement {
    match input.and_then(|text| serde_json::from_str::<Value>(text).ok()) {
        Some(input) => place(&arn.arn, &input, NESTED_DEPTH),
        None => place(&arn.arn, &Value::Null, NESTED_DEPTH),
    }
}

/// Places the execution `arn` given its input, following at most `depth` parent
/// workflows. A Lambda's decoder calls this too, with the `Execution.Input` of the context
/// object it was invoked with, so the Lambda computes the trace its state spans are in.
pub(crate) fn place(arn: &str, input_value: &Value, depth: u8) -> Placement {
    let own = Placement {
        trace_id: trace_id_for_root(arn),
        parent_span_id: None,
        parent_execution: None,
        root_execution: None,
        carrier: None,
    };
    if !input_value.is_object() {
        return own;
    }
    let context = context_object(input_value, depth).or_else(|| {
        input_value
            .get("CONTEXT")
            .and_then(|value| context_object(value, depth))
            .map(|ctx| StepFunctionsContext {
                carrier: "CONTEXT".into(),
                ..ctx
            })
    });
    if let Some(ctx) = context {
        let parent = parent_for_lambda(&ctx);
        // The root is named unless the parent's trace came from upstream headers.
        let upstream = ctx.upstream_trace_id.is_some() || !ctx.contexts.is_empty();
        let root = match (named_root(&ctx), &ctx.input_trace_id) {
            _ if upstream => None,
            (Some(root), _) => Some(root.to_owned()),
            (None, Some(_)) => ctx.input_root_execution.clone(),
            (None, None) => Some(ctx.execution_id.clone()),
        };
        return Placement {
            trace_id: parent.trace_id,
            parent_span_id: Some(parent.span_id),
            root_execution: root.filter(|root| root != arn),
            parent_execution: Some(ctx.execution_id),
            carrier: Some(
                format!("input.{}", ctx.carrier)
                    .trim_end_matches('.')
                    .to_owned(),
            ),
        };
    }
    let datadog = input_value.get("_datadog");
    let mut found = datadog
        .map(|d| from_json_carrier(d, "input._datadog"))
        .unwrap_or_default();
    found.extend(from_json_carrier(input_value, "input"));
    if let Some(first) = found.into_iter().next() {
        return Placement {
            trace_id: first.context.trace_id,
            parent_span_id: Some(first.context.span_id),
            carrier: Some(first.carrier),
            ..own
        };
    }
    if let Some(trace_id) = datadog.and_then(datadog_trace_id) {
        return Placement {
            trace_id,
            carrier: Some(format!("input._datadog.{}", datadog::TRACE_ID)),
            ..own
        };
    }
    if let Some(parent) = input_value
        .get(STARTED_BY)
        .and_then(Value::as_str)
        .filter(|p| *p != arn)
    {
        return Placement {
            trace_id: trace_id_for_root(parent),
            parent_span_id: Some(execution_span_id(parent)),
            parent_execution: Some(parent.to_owned()),
            root_execution: Some(parent.to_owned()),
            carrier: Some(format!("input.{STARTED_BY}")),
        };
    }
    own
}

/// A parent workflow's context object, where a Lambda's event decoder looks for one (the
/// input of a nested execution is shaped like the payload a state passes to a Lambda).
/// Only the context object is read: nothing else in the input is decoded or inflated.
fn context_object(value: &Value, depth: u8) -> Option<StepFunctionsContext> {
    find_step_functions_context(value, depth).ok().flatten()
}

/// `x-datadog-trace-id` with the `_dd.p.tid` high bits, when there is no parent id to
/// make it a full context.
fn datadog_trace_id(dd: &Value) -> Option<TraceId> {
    let low = match dd.get(datadog::TRACE_ID)? {
        Value::String(s) => s.parse::<u64>().ok()?,
        Value::Number(n) => n.as_u64()?,
        _ => return None,
    };
    let high = dd
        .get(datadog::TAGS)
        .and_then(Value::as_str)
        .and_then(datadog::high_bits)
        .unwrap_or(0);
    (low != 0).then(|| TraceId::from_u64_pair(high, low))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stepfn::ids::state_span_id;

    const CHILD: &str = "arn:aws:states:us-east-1:1:execution:Child:c1";
    const PARENT: &str = "arn:aws:states:us-east-1:1:execution:Parent:p1";
    const ROOT: &str = "arn:aws:states:us-east-1:1:execution:Root:r1";

    fn arn() -> ExecutionArn {
        match ExecutionArn::parse(CHILD, "t", "arn") {
            Ok(arn) => arn,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn no_input_or_plain_input_is_its_own_root() {
        let own = resolve(&arn(), None);
        assert_eq!(
            (own.trace_id, own.parent_span_id),
            (trace_id_for_root(CHILD), None)
        );
        assert_eq!(resolve(&arn(), Some("{\"a\":\"***\"}")), own);
        assert_eq!(resolve(&arn(), Some("not json")), own);
    }

    #[test]
    fn parent_context_object_makes_a_child_of_the_parent_state() {
        let input = format!(
            r#"{{"order": 1, "_datadog": {{"Execution": {{"Id": "{PARENT}", "RedriveCount": 0}},
            "State": {{"Name": "Start child", "EnteredTime": "2024-11-13T16:46:47.740Z", "RetryCount": 0}},
            "RootExecutionId": "{ROOT}", "serverless-version": "v1"}}}}"#
        );
        let placed = resolve(&arn(), Some(&input));
        assert_eq!(placed.trace_id, trace_id_for_root(ROOT));
        assert_eq!(
            placed.parent_span_id,
            Some(state_span_id(
                PARENT,
                "Start child",
                "2024-11-13T16:46:47.740Z",
                0,
                0
            ))
        );
        assert_eq!(placed.parent_execution.as_deref(), Some(PARENT));
        assert_eq!(placed.root_execution.as_deref(), Some(ROOT));
        assert_eq!(placed.carrier.as_deref(), Some("input._datadog"));
    }

    #[test]
    fn traceparent_in_input() {
        let input = r#"{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"#;
        let placed = resolve(&arn(), Some(input));
        assert_eq!(placed.trace_id.to_hex(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(
            placed.parent_span_id.map(|s| s.to_hex()).as_deref(),
            Some("b7ad6b7169203331")
        );
        assert_eq!(placed.carrier.as_deref(), Some("input.traceparent"));
    }

    #[test]
    fn datadog_headers_in_input() {
        let input = r#"{"_datadog": {"x-datadog-trace-id": "5821803790426892636", "x-datadog-parent-id": "10",
            "x-datadog-tags": "_dd.p.dm=-0,_dd.p.tid=672a7cb100000000"}}"#;
        let placed = resolve(&arn(), Some(input));
        assert_eq!(
            (placed.trace_id.high(), placed.trace_id.low()),
            (0x672a7cb100000000, 5821803790426892636)
        );
        assert_eq!(placed.parent_span_id.map(|s| s.as_u64()), Some(10));
    }

    #[test]
    fn datadog_trace_id_without_parent() {
        let input = r#"{"_datadog": {"x-datadog-trace-id": "5821803790426892636", "x-datadog-tags": "_dd.p.dm=-0,_dd.p.tid=672a7cb100000000",
            "serverless-version": "v1"}}"#;
        let placed = resolve(&arn(), Some(input));
        assert_eq!(
            (placed.trace_id.high(), placed.trace_id.low()),
            (0x672a7cb100000000, 5821803790426892636)
        );
        assert_eq!(placed.parent_span_id, None);
        assert_eq!(
            placed.carrier.as_deref(),
            Some("input._datadog.x-datadog-trace-id")
        );
    }

    #[test]
    fn context_object_under_context_key() {
        let input = format!(
            r#"{{"CONTEXT": {{"Execution": {{"Id": "{PARENT}"}}, "State": {{"Name": "Go", "EnteredTime": "2024-11-13T16:46:47.740Z"}}}}}}"#
        );
        let placed = resolve(&arn(), Some(&input));
        assert_eq!(placed.trace_id, trace_id_for_root(PARENT));
        assert_eq!(
            placed.parent_span_id,
            Some(state_span_id(
                PARENT,
                "Go",
                "2024-11-13T16:46:47.740Z",
                0,
                0
            ))
        );
        assert_eq!(placed.carrier.as_deref(), Some("input.CONTEXT"));
    }

    #[test]
    fn malformed_context_object_carries_nothing() {
        let input = r#"{"_datadog": {"Execution": {"Id": 7}, "State": {"Name": "Go", "EnteredTime": "x"}}}"#;
        assert_eq!(resolve(&arn(), Some(input)), resolve(&arn(), None));
    }

    #[test]
    fn started_by_execution_id() {
        let input = format!(r#"{{"{STARTED_BY}": "{PARENT}"}}"#);
        let placed = resolve(&arn(), Some(&input));
        assert_eq!(placed.trace_id, trace_id_for_root(PARENT));
        assert_eq!(placed.parent_span_id, Some(execution_span_id(PARENT)));
    }

    /// Parents are followed through at most `NESTED_DEPTH` inputs: a deeper chain (as an
    /// adversarial input can nest) stops there instead of recursing on.
    #[test]
    fn nested_parents_are_followed_to_a_bound() {
        let state = r#""State": {"Name": "Go", "EnteredTime": "2024-11-13T16:46:47.740Z"}"#;
        let mut input = format!(r#"{{"{STARTED_BY}": "{ROOT}"}}"#);
        // 30 levels: 90 JSON levels, under the parser's 128.
        const LEVELS: usize = 30;
        for level in 0..LEVELS {
            input = format!(
                r#"{{"CONTEXT": {{"Execution": {{"Id": "arn:aws:states:us-east-1:1:execution:L:{level}", "Input": {input}}}, {state}}}}}"#
            );
        }
        let value: Value = match serde_json::from_str(&input) {
            Ok(value) => value,
            Err(e) => panic!("{e}"),
        };
        let placed = place(CHILD, &value, NESTED_DEPTH);
        // The chain is cut after NESTED_DEPTH parents: the deepest one followed is the root.
        let deepest = format!(
            "arn:aws:states:us-east-1:1:execution:L:{}",
            LEVELS - 1 - usize::from(NESTED_DEPTH)
        );
        assert_eq!(placed.trace_id, trace_id_for_root(&deepest));
        assert_eq!(placed.root_execution.as_deref(), Some(deepest.as_str()));
        // A Lambda of that execution follows the same parents, no fewer.
        let payload: Value = match serde_json::from_str(&format!(
            r#"{{"Execution": {{"Id": "{CHILD}", "Input": {input}}}, {state}}}"#
        )) {
            Ok(value) => value,
            Err(e) => panic!("{e}"),
        };
        let ctx = crate::event::decode_event_value(&payload)
            .ok()
            .and_then(|trigger| trigger.step_functions);
        assert_eq!(
            ctx.as_ref().map(|c| parent_for_lambda(c).trace_id),
            Some(placed.trace_id)
        );
    }

    /// A Lambda a nested execution invokes with the plain context object (`$$`, whose
    /// `Execution.Input` is the child's input) computes the trace the child's state spans
    /// were placed in, whichever way the input names the parent. Before, the Lambda hashed
    /// the child execution while its state span sat in the parent's trace.
    #[test]
    fn a_lambda_in_a_nested_execution_joins_the_trace_its_state_is_in() {
        let grandchild_parent = format!(
            r#"{{"Execution": {{"Id": "{PARENT}", "Input": {{"{STARTED_BY}": "{ROOT}"}}}},
            "State": {{"Name": "Go", "EnteredTime": "2024-11-13T16:46:47.740Z"}}}}"#
        );
        let inputs = [
            (
                format!(r#"{{"{STARTED_BY}": "{PARENT}", "order": 1}}"#),
                PARENT,
            ),
            (
                format!(
                    r#"{{"CONTEXT": {{"Execution": {{"Id": "{PARENT}"}}, "State": {{"Name": "Go", "EnteredTime": "2024-11-13T16:46:47.740Z"}}}}}}"#
                ),
                PARENT,
            ),
            (format!(r#"{{"CONTEXT": {grandchild_parent}}}"#), ROOT),
            // Datadog's v1 form names the root itself: unchanged.
            (
                format!(
                    r#"{{"_datadog": {{"Execution": {{"Id": "{PARENT}"}}, "State": {{"Name": "Go", "EnteredTime": "2024-11-13T16:46:47.740Z"}},
                    "RootExecutionId": "{ROOT}", "serverless-version": "v1"}}}}"#
                ),
                ROOT,
            ),
            (r#"{"order": 1}"#.to_owned(), CHILD),
            // A parent's context object comes before headers, on both sides.
            (
                format!(
                    r#"{{"CONTEXT": {{"Execution": {{"Id": "{PARENT}"}}, "State": {{"Name": "Go", "EnteredTime": "2024-11-13T16:46:47.740Z"}}}},
                    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}"#
                ),
                PARENT,
            ),
        ];
        for (input, root) in inputs {
            let placed = resolve(&arn(), Some(&input));
            assert_eq!(placed.trace_id, trace_id_for_root(root), "{input}");
            let payload = format!(
                r#"{{"Execution": {{"Id": "{CHILD}", "Input": {input}}},
                "State": {{"Name": "Work", "EnteredTime": "2024-11-13T16:46:48.000Z", "RetryCount": 0}},
                "StateMachine": {{"Id": "arn:aws:states:us-east-1:1:stateMachine:Child", "Name": "Child"}}}}"#
            );
            let value: Value = match serde_json::from_str(&payload) {
                Ok(value) => value,
                Err(e) => panic!("{e}: {payload}"),
            };
            let ctx = match crate::event::decode_event_value(&value) {
                Ok(trigger) => trigger.step_functions,
                Err(e) => panic!("{e}: {payload}"),
            };
            let parent = ctx.as_ref().map(parent_for_lambda);
            assert_eq!(
                parent.map(|p| p.trace_id),
                Some(placed.trace_id),
                "{payload}"
            );
        }
    }
}
