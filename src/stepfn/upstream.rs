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

use super::ids::{execution_span_id, parent_for_lambda, trace_id_for_root};
use super::model::ExecutionArn;
use crate::event::{decode_event_value, StepFunctionsContext};
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
    let own = Placement {
        trace_id: trace_id_for_root(&arn.arn),
        parent_span_id: None,
        parent_execution: None,
        root_execution: None,
        carrier: None,
    };
    let Some(Value::Object(object)) =
        input.and_then(|text| serde_json::from_str::<Value>(text).ok())
    else {
        return own;
    };
    let input_value = Value::Object(object);
    let context = context_object(&input_value).or_else(|| {
        input_value
            .get("CONTEXT")
            .and_then(context_object)
            .map(|ctx| StepFunctionsContext {
                carrier: "CONTEXT".into(),
                ..ctx
            })
    });
    if let Some(ctx) = context {
        let parent = parent_for_lambda(&ctx);
        let upstream = ctx.upstream_trace_id.is_some() || !ctx.contexts.is_empty();
        let root = ctx
            .root_execution_id
            .clone()
            .unwrap_or_else(|| ctx.execution_id.clone());
        return Placement {
            trace_id: parent.trace_id,
            parent_span_id: Some(parent.span_id),
            root_execution: (root != arn.arn && !upstream).then_some(root),
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
    found.extend(from_json_carrier(&input_value, "input"));
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
        .filter(|p| *p != arn.arn)
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

/// A parent workflow's context object, read as a Lambda's event decoder reads it (the
/// input of a nested execution is shaped like the payload a state passes to a Lambda).
fn context_object(value: &Value) -> Option<StepFunctionsContext> {
    decode_event_value(value)
        .ok()
        .and_then(|trigger| trigger.step_functions)
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
}
