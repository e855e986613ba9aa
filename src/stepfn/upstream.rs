//! Where an execution belongs: the trace and parent span found in its input.
//!
//! An execution joins an existing trace in one of three ways, tried in this order:
//! 1. a parent workflow's context object in the input (`_datadog` or `CONTEXT` holding
//!    `Execution`, `State`, and optionally `RootExecutionId` and Datadog headers: what
//!    Datadog's nested-workflow setup passes to `StartExecution`): the execution is a
//!    child of the parent's state span, in the trace that state's Lambdas would join;
//! 2. trace headers in the input (`_datadog` with `x-datadog-*`, as dd-trace injects into
//!    `StartExecution`, or a top-level or `_datadog` `traceparent`): a child of that span;
//! 3. `AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID` (AWS's own field for a nested
//!    `StartExecution`): a child of the parent's execution span, in the trace rooted at the
//!    parent (the parent is taken to be the root: the field names only one level).
//!
//! Otherwise the execution is the root of its own trace. Input that is not JSON (masked,
//! truncated) simply carries nothing.

use super::ids::{execution_span_id, parent_for_lambda, trace_id_for_root};
use super::model::ExecutionArn;
use crate::event::StepFunctionsContext;
use crate::propagation::{from_json_carrier, SpanId, TraceId};
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
    let Some(Value::Object(object)) = input.and_then(|text| serde_json::from_str::<Value>(text).ok()) else {
        return own;
    };
    let datadog = object.get("_datadog");
    for (key, carrier) in [("_datadog", datadog), ("CONTEXT", object.get("CONTEXT"))] {
        if let Some(ctx) = carrier.and_then(|c| context_object(c, key)) {
            let parent = parent_for_lambda(&ctx);
            let root = ctx.root_execution_id.clone().unwrap_or_else(|| ctx.execution_id.clone());
            return Placement {
                trace_id: parent.trace_id,
                parent_span_id: Some(parent.span_id),
                root_execution: (root != arn.arn && ctx.contexts.is_empty()).then_some(root),
                parent_execution: Some(ctx.execution_id),
                carrier: Some(format!("input.{key}")),
            };
        }
    }
    let input_value = Value::Object(object.clone());
    let mut found = datadog.map(|d| from_json_carrier(d, "input._datadog")).unwrap_or_default();
    found.extend(from_json_carrier(&input_value, "input"));
    if let Some(first) = found.into_iter().next() {
        return Placement {
            trace_id: first.context.trace_id,
            parent_span_id: Some(first.context.span_id),
            carrier: Some(first.carrier),
            ..own
        };
    }
    if let Some(parent) = object.get(STARTED_BY).and_then(Value::as_str).filter(|p| *p != arn.arn) {
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

/// A parent workflow's context object (`Execution.Id`, `State.Name`, `State.EnteredTime`
/// required), with the Datadog headers beside it.
fn context_object(value: &Value, key: &str) -> Option<StepFunctionsContext> {
    let text = |path: &str| value.pointer(path).and_then(Value::as_str).map(str::to_owned);
    let count = |path: &str| value.pointer(path).and_then(Value::as_u64);
    Some(StepFunctionsContext {
        execution_id: text("/Execution/Id")?,
        execution_name: text("/Execution/Name"),
        execution_start_time: text("/Execution/StartTime"),
        redrive_count: count("/Execution/RedriveCount"),
        state_machine_id: text("/StateMachine/Id"),
        state_machine_name: text("/StateMachine/Name"),
        state_name: text("/State/Name")?,
        state_entered_time: text("/State/EnteredTime")?,
        retry_count: count("/State/RetryCount"),
        root_execution_id: text("/RootExecutionId"),
        contexts: from_json_carrier(value, &format!("input.{key}")),
        carrier: key.to_owned(),
    })
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
        assert_eq!((own.trace_id, own.parent_span_id), (trace_id_for_root(CHILD), None));
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
        assert_eq!(placed.parent_span_id, Some(state_span_id(PARENT, "Start child", "2024-11-13T16:46:47.740Z", 0, 0)));
        assert_eq!(placed.parent_execution.as_deref(), Some(PARENT));
        assert_eq!(placed.root_execution.as_deref(), Some(ROOT));
        assert_eq!(placed.carrier.as_deref(), Some("input._datadog"));
    }

    #[test]
    fn traceparent_in_input() {
        let input = r#"{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"#;
        let placed = resolve(&arn(), Some(input));
        assert_eq!(placed.trace_id.to_hex(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(placed.parent_span_id.map(|s| s.to_hex()).as_deref(), Some("b7ad6b7169203331"));
        assert_eq!(placed.carrier.as_deref(), Some("input.traceparent"));
    }

    #[test]
    fn datadog_headers_in_input() {
        let input = r#"{"_datadog": {"x-datadog-trace-id": "5821803790426892636", "x-datadog-parent-id": "10",
            "x-datadog-tags": "_dd.p.dm=-0,_dd.p.tid=672a7cb100000000"}}"#;
        let placed = resolve(&arn(), Some(input));
        assert_eq!((placed.trace_id.high(), placed.trace_id.low()), (0x672a7cb100000000, 5821803790426892636));
        assert_eq!(placed.parent_span_id.map(|s| s.as_u64()), Some(10));
    }

    #[test]
    fn started_by_execution_id() {
        let input = format!(r#"{{"{STARTED_BY}": "{PARENT}"}}"#);
        let placed = resolve(&arn(), Some(&input));
        assert_eq!(placed.trace_id, trace_id_for_root(PARENT));
        assert_eq!(placed.parent_span_id, Some(execution_span_id(PARENT)));
    }
}
