//! The Step Functions context object (`$$`) a state merges into the payload of the Lambda
//! it invokes: `Execution` {Id, Name, StartTime, RoleArn, RedriveCount, Input}, `State`
//! {Name, EnteredTime, RetryCount}, `StateMachine` {Id, Name}, and `RootExecutionId` for
//! nested executions (<https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html>).
//!
//! Where it is found follows the shapes Datadog's Lambda libraries accept, so functions
//! set up for Datadog work unchanged:
//! - at the top level (`"Payload.$": "States.JsonMerge($$, $, false)"`, or a JSONPath
//!   `Payload` of `Execution.$`/`State.$`/`StateMachine.$`);
//! - under `Payload` (a Lambda invoked by its ARN as the state's resource, which receives
//!   the whole parameters object);
//! - under `_datadog` (the JSONata form, with `serverless-version`, and beside it
//!   `x-datadog-trace-id`/`x-datadog-tags` when a Lambda started the execution, or
//!   `RootExecutionId` when another execution did), also as `Payload._datadog`.
//!
//! A state that sends a message (SQS SendMessage, SNS Publish, EventBridge PutEvents) can
//! put the same object in the message's `_datadog` carrier; [`carried`] reads it there, so
//! every consumer of the message joins the state span (Datadog's Lambda library for Node
//! does the same since 2025).
//!
//! Older layers sent only the strings `Execution.Id`, `State.Name` and `State.EnteredTime`;
//! those three are all that is required. `EnteredTime` is kept exactly as given because
//! the deterministic state span id hashes the string.

use super::{Item, Source, StepFunctionsContext, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::pointer as json_pointer;
use crate::json::fields::{invalid, missing, opt_obj, opt_str, opt_u64};
use crate::propagation::{datadog, from_json_carrier, Found, TraceId};
use crate::stepfn::parent_for_lambda;
use crate::time::parse_rfc3339;
use serde_json::Value;

const INPUT: &str = "stepfunctions context";

/// Where a context object may sit, as (JSON pointer, carrier name), in the order tried.
const PLACES: [(&str, &str); 4] = [
    ("/Payload/_datadog", "Payload._datadog"),
    ("/Payload", "Payload"),
    ("/_datadog", "_datadog"),
    ("", ""),
];

/// How many parent workflows are followed through execution inputs (a nested execution's
/// input holding its parent's context object, whose input holds its parent's, ...).
pub(crate) const NESTED_DEPTH: u8 = 8;

/// Whether the payload carries something shaped like a context object (an object with
/// `Execution` and `State`) in one of the places it is looked for.
pub(crate) fn looks_like_context(value: &Value) -> bool {
    PLACES
        .iter()
        .any(|(pointer, _)| is_candidate(json_pointer(value, pointer)))
}

/// Finds a Step Functions context object at the top level, under `Payload` or `_datadog`.
/// A candidate with the wrong field types is an error naming the field; a payload with
/// no candidate is `Ok(None)`.
pub(crate) fn find(value: &Value) -> Result<Option<StepFunctionsContext>, DecodeError> {
    // One more than the workflow side: reading this object takes a level, and its input is
    // then followed exactly as deep as `stepfn::upstream::resolve` follows the same input.
    find_within(value, NESTED_DEPTH + 1)
}

/// [`find`], following at most `depth` parent workflows through execution inputs.
pub(crate) fn find_within(
    value: &Value,
    depth: u8,
) -> Result<Option<StepFunctionsContext>, DecodeError> {
    for (pointer, carrier) in PLACES {
        if is_candidate(json_pointer(value, pointer)) {
            return read(value, pointer, carrier, depth).map(Some);
        }
    }
    Ok(None)
}

/// A trigger for a payload that is only a context object: the state machine is the
/// source, and the one item is the state entry (execution ARN, state name, entered time)
/// with the context the invoked Lambda joins (the state span) as its context.
pub(crate) fn trigger(ctx: StepFunctionsContext) -> Trigger {
    let arn_parts = ctx
        .state_machine_id
        .as_deref()
        .and_then(states_arn)
        .or_else(|| states_arn(&ctx.execution_id));
    let (region, account) = arn_parts.map_or((None, None), |(r, a)| {
        (Some(r.to_owned()), Some(a.to_owned()))
    });
    let item = Item {
        id: Some(ctx.execution_id.clone()),
        event_name: Some(ctx.state_name.clone()),
        time_unix_nano: parse_rfc3339(&ctx.state_entered_time),
        contexts: vec![joined(&ctx, &event_carrier(&ctx.carrier))],
        ..Item::default()
    };
    Trigger {
        kind: TriggerKind::Stepfunctions,
        via: None,
        source: Source {
            arn: ctx.state_machine_id.clone(),
            name: ctx.state_machine_name.clone(),
            region,
            account,
            stage: None,
            route: None,
        },
        items: vec![item],
        step_functions: Some(ctx),
    }
}

/// A context object a state sent in a message's `_datadog` carrier (an SQS or SNS message
/// attribute, EventBridge `detail._datadog`, a Kinesis record's `_datadog`), the way
/// Datadog documents injecting it (`States.JsonToString($$)`, or the JSONata `_datadog`
/// object with `serverless-version`), and the context its consumer joins: the state span,
/// sampled (Datadog's consumers keep it, priority 1). `None` when the carrier is not a
/// context object or is malformed (a carrier yields no context, never an error), or when
/// it also holds a complete trace header, which Datadog's consumers use instead.
pub(crate) fn carried(object: &Value, carrier: &str) -> Option<(StepFunctionsContext, Found)> {
    if !is_candidate(Some(object)) || !from_json_carrier(object, "").is_empty() {
        return None;
    }
    let ctx = read(object, "", carrier, NESTED_DEPTH + 1).ok()?;
    let found = joined(&ctx, carrier);
    Some((ctx, found))
}

/// The context a consumer of `ctx` joins, found at `carrier`: the state span, sampled
/// (Datadog's consumers keep it, priority 1).
fn joined(ctx: &StepFunctionsContext, carrier: &str) -> Found {
    let mut context = parent_for_lambda(ctx);
    context.sampled = Some(true);
    Found {
        context,
        carrier: carrier.to_owned(),
    }
}

/// Where in the invocation event a context object was: `event`, `event.Payload`, ...
pub(crate) fn event_carrier(carrier: &str) -> String {
    match carrier {
        "" => "event".to_owned(),
        c => format!("event.{c}"),
    }
}

fn is_candidate(place: Option<&Value>) -> bool {
    place
        .and_then(Value::as_object)
        .is_some_and(|o| o.contains_key("Execution") && o.contains_key("State"))
}

fn read(
    value: &Value,
    base: &str,
    carrier: &str,
    depth: u8,
) -> Result<StepFunctionsContext, DecodeError> {
    let at = |field: &str| format!("{base}{field}");
    for object in ["/Execution", "/State"] {
        if opt_obj(value, &at(object), INPUT)?.is_none() {
            return Err(missing(INPUT, &at(object)));
        }
    }
    opt_obj(value, &at("/StateMachine"), INPUT)?;
    let text = |field: &str| -> Result<Option<String>, DecodeError> {
        Ok(opt_str(value, &at(field), INPUT)?.map(str::to_owned))
    };
    let required = |field: &str| -> Result<String, DecodeError> {
        match opt_str(value, &at(field), INPUT)? {
            None => Err(missing(INPUT, &at(field))),
            Some("") => Err(invalid(INPUT, &at(field), "is empty".into())),
            Some(s) => Ok(s.to_owned()),
        }
    };
    // The `_datadog` object holding the context (Datadog's JSONata form): an upstream
    // Lambda's trace copied beside it, with or without a parent id.
    let beside = carrier
        .ends_with("_datadog")
        .then(|| json_pointer(value, base))
        .flatten();
    let execution_id = required("/Execution/Id")?;
    // Where the execution's input places the execution, read as the workflow's spans
    // read it ([`crate::stepfn::upstream::place`]), so the Lambda joins the trace its
    // state span is in.
    let placed = json_pointer(value, &at("/Execution/Input"))
        .filter(|_| depth > 0)
        .map(|input| crate::stepfn::upstream::place(&execution_id, input, depth - 1))
        .filter(|placement| placement.carrier.is_some());
    let prefix = match carrier {
        "" => String::new(),
        c => format!("{c}."),
    };
    Ok(StepFunctionsContext {
        execution_id,
        execution_name: text("/Execution/Name")?,
        execution_start_time: text("/Execution/StartTime")?,
        redrive_count: opt_u64(value, &at("/Execution/RedriveCount"), INPUT)?,
        state_machine_id: text("/StateMachine/Id")?,
        state_machine_name: text("/StateMachine/Name")?,
        state_name: required("/State/Name")?,
        state_entered_time: required("/State/EnteredTime")?,
        retry_count: opt_u64(value, &at("/State/RetryCount"), INPUT)?,
        root_execution_id: text("/RootExecutionId")?,
        upstream_trace_id: beside.and_then(datadog_trace_id),
        contexts: beside
            .map(|container| from_json_carrier(container, carrier))
            .unwrap_or_default(),
        input_trace_id: placed.as_ref().map(|p| p.trace_id),
        input_carrier: placed.as_ref().and_then(|p| {
            let found = p.carrier.as_deref()?;
            let field = found.strip_prefix("input").unwrap_or(found);
            Some(format!("{prefix}Execution.Input{field}"))
        }),
        input_root_execution: placed.and_then(|p| p.root_execution),
        carrier: carrier.to_owned(),
    })
}

fn datadog_trace_id(dd: &Value) -> Option<TraceId> {
    let low = match dd.get(datadog::TRACE_ID)? {
        Value::String(s) => s.parse::<u64>().ok()?,
        Value::Number(n) => n.as_u64()?,
        _ => return None,
    };
    if low == 0 {
        return None;
    }
    let high = dd
        .get(datadog::TAGS)
        .and_then(Value::as_str)
        .and_then(datadog::high_bits)
        .unwrap_or(0);
    Some(TraceId::from_u64_pair(high, low))
}

/// Region and account of `arn:{partition}:states:{region}:{account}:...`.
fn states_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(_), Some("states"), Some(region), Some(account), Some(_))
            if !region.is_empty() && !account.is_empty() =>
        {
            Some((region, account))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::test_fixtures::fixture;
    use crate::event::{decode_event_value, detect_kind};
    use crate::propagation::{Format, SpanContext, SpanId};
    use serde_json::json;

    const EXECUTION: &str = "arn:aws:states:ca-central-1:425362996713:execution:MyStateMachine-wsx8chv4d:1356a963-42a5-48b0-ba3f-73bde559a50c";

    /// The context of Datadog's `states.json` sample, as it appears in every form.
    fn states_context(carrier: &str) -> StepFunctionsContext {
        StepFunctionsContext {
            execution_id: EXECUTION.into(),
            execution_name: Some("1356a963-42a5-48b0-ba3f-73bde559a50c".into()),
            execution_start_time: Some("2024-11-13T16:46:47.715Z".into()),
            redrive_count: Some(0),
            state_machine_id: Some(
                "arn:aws:states:ca-central-1:425362996713:stateMachine:MyStateMachine-wsx8chv4d"
                    .into(),
            ),
            state_machine_name: Some("MyStateMachine-wsx8chv4d".into()),
            state_name: "Lambda Invoke".into(),
            state_entered_time: "2024-11-13T16:46:47.740Z".into(),
            retry_count: Some(0),
            root_execution_id: Some(EXECUTION.into()),
            upstream_trace_id: None,
            contexts: Vec::new(),
            input_trace_id: None,
            input_carrier: None,
            input_root_execution: None,
            carrier: carrier.into(),
        }
    }

    #[test]
    fn datadog_states_fixture() -> Result<(), DecodeError> {
        let event = fixture("datadog-lambda-python/states.json")?;
        assert_eq!(detect_kind(&event), Some(TriggerKind::Stepfunctions));
        assert_eq!(find(&event)?, Some(states_context("_datadog")));
        let trigger = decode_event_value(&event)?;
        assert_eq!(trigger.kind, TriggerKind::Stepfunctions);
        assert_eq!(
            trigger.source,
            Source {
                arn: Some(
                    "arn:aws:states:ca-central-1:425362996713:stateMachine:MyStateMachine-wsx8chv4d".into()
                ),
                name: Some("MyStateMachine-wsx8chv4d".into()),
                region: Some("ca-central-1".into()),
                account: Some("425362996713".into()),
                stage: None,
                route: None,
            }
        );
        assert_eq!(
            trigger.items,
            vec![Item {
                id: Some(EXECUTION.into()),
                event_name: Some("Lambda Invoke".into()),
                time_unix_nano: Some(1_731_516_407_740_000_000),
                // The state span, ids computed outside relink (Python hashlib over the
                // root execution ARN and `{ARN}#Lambda Invoke#2024-11-13T16:46:47.740Z`).
                contexts: vec![Found {
                    context: SpanContext {
                        trace_id: TraceId::from_u64_pair(
                            0x1d9f_c009_309a_1a7b,
                            956_857_568_228_103_146
                        ),
                        span_id: SpanId::from_u64(9_076_575_610_449_653_203),
                        sampled: Some(true),
                        tracestate: None,
                        format: Format::Datadog,
                    },
                    carrier: "event._datadog".into(),
                }],
                ..Item::default()
            }]
        );
        assert_eq!(trigger.step_functions, Some(states_context("_datadog")));
        Ok(())
    }

    #[test]
    fn the_same_context_in_every_place() -> Result<(), DecodeError> {
        let fixture = fixture("datadog-lambda-python/states.json")?;
        let context = fixture
            .get("_datadog")
            .cloned()
            .ok_or_else(|| missing("fixture", "/_datadog"))?;
        let mut top = context.clone();
        if let Some(map) = top.as_object_mut() {
            map.insert("user-field".into(), json!(1));
        }
        let cases = [
            (top, ""),
            (json!({"Payload": context.clone()}), "Payload"),
            (
                json!({"Payload": {"_datadog": context.clone(), "x": 1}}),
                "Payload._datadog",
            ),
            (
                json!({"_datadog": context, "Payload": {"no": "context"}}),
                "_datadog",
            ),
        ];
        for (event, carrier) in cases {
            assert_eq!(find(&event)?, Some(states_context(carrier)), "{carrier}");
            assert_eq!(
                detect_kind(&event),
                Some(TriggerKind::Stepfunctions),
                "{carrier}"
            );
        }
        Ok(())
    }

    #[test]
    fn legacy_strings_only_context() -> Result<(), DecodeError> {
        // What Datadog layers before retry/redrive counts passed (Execution.Id, State.Name,
        // State.EnteredTime), with an express execution ARN.
        let exec = "arn:aws:states:sa-east-1:425362996713:express:logs-to-traces-sequential:85a9933e-9e11-83dc-6a61-b92367b6c3be:3f7ef5c7-c8b8-4c88-90a1-d54aa7e7e2bf";
        let event = json!({"Execution": {"Id": exec}, "State": {"Name": "step-one", "EnteredTime": "2022-12-08T21:08:19.224Z", "RetryCount": 2}});
        let ctx = find(&event)?;
        assert_eq!(
            ctx,
            Some(StepFunctionsContext {
                execution_id: exec.into(),
                state_name: "step-one".into(),
                state_entered_time: "2022-12-08T21:08:19.224Z".into(),
                retry_count: Some(2),
                ..StepFunctionsContext::default()
            })
        );
        let trigger = decode_event_value(&event)?;
        assert_eq!(trigger.source.arn, None);
        assert_eq!(trigger.source.region.as_deref(), Some("sa-east-1"));
        assert_eq!(trigger.source.account.as_deref(), Some("425362996713"));
        assert_eq!(
            trigger.items.first().and_then(|i| i.time_unix_nano),
            Some(1_670_533_699_224_000_000)
        );
        Ok(())
    }

    #[test]
    fn lambda_root_form_keeps_an_unparsable_entered_time() -> Result<(), DecodeError> {
        // Datadog's JSONata form when a Lambda started the execution (their test values).
        let event = json!({"_datadog": {
            "Execution": {"Id": "665c417c-1237-4742-aaca-8b3becbb9e75", "RedriveCount": 0},
            "StateMachine": {},
            "State": {"Name": "my-awesome-state", "EnteredTime": "Mon Nov 13 12:43:33 PST 2023", "RetryCount": 0},
            "x-datadog-trace-id": "5821803790426892636",
            "x-datadog-tags": "_dd.p.dm=-0,_dd.p.tid=672a7cb100000000",
            "serverless-version": "v1"
        }});
        let trigger = decode_event_value(&event)?;
        let ctx = trigger.step_functions.as_ref();
        // No parent id: no context to link to, but the trace the state spans belong to.
        assert_eq!(ctx.map(|c| c.contexts.len()), Some(0));
        assert_eq!(
            ctx.and_then(|c| c.upstream_trace_id),
            Some(TraceId::from_u64_pair(
                0x672a_7cb1_0000_0000,
                5_821_803_790_426_892_636
            ))
        );
        assert_eq!(
            ctx.map(|c| c.state_entered_time.as_str()),
            Some("Mon Nov 13 12:43:33 PST 2023")
        );
        assert_eq!(ctx.and_then(|c| c.state_machine_id.as_deref()), None);
        assert_eq!(trigger.items.first().and_then(|i| i.time_unix_nano), None);
        assert_eq!(
            (trigger.source.region, trigger.source.account),
            (None, None)
        );
        Ok(())
    }

    #[test]
    fn upstream_trace_in_the_execution_input() -> Result<(), DecodeError> {
        // datadog-lambda-python's test_step_function_trace_data_with_input_datadog.
        let event = json!({
            "Execution": {
                "Id": "arn:aws:states:sa-east-1:425362996713:execution:rstrat-sfn-lambda-jsonpath-demo-dev-state-machine:7d67bd1e-57df-4021-8b52-f55d5cad1169",
                "Input": {"hello": "world", "_datadog": {
                    "x-datadog-trace-id": "12766418539254701015",
                    "x-datadog-parent-id": "5497030307431673011",
                    "x-datadog-sampling-priority": "1",
                    "x-datadog-tags": "_dd.p.dm=-0,_dd.p.tid=69f4ed3a00000000",
                    "traceparent": "00-69f4ed3a00000000b12b6e05a63cdbd7-4c495ff0aa056cb3-01",
                    "tracestate": "dd=p:4c495ff0aa056cb3;s:1;t.dm:-0;t.tid:69f4ed3a00000000"
                }},
                "StartTime": "2026-05-01T18:13:14.130Z", "Name": "7d67bd1e-57df-4021-8b52-f55d5cad1169", "RedriveCount": 0
            },
            "State": {"Name": "InvokeDownstreamSecond", "EnteredTime": "2026-05-01T18:13:16.310Z", "RetryCount": 0},
            "StateMachine": {"Id": "arn:aws:states:sa-east-1:425362996713:stateMachine:rstrat-sfn-lambda-jsonpath-demo-dev-state-machine", "Name": "rstrat-sfn-lambda-jsonpath-demo-dev-state-machine"}
        });
        let ctx = find(&event)?.ok_or_else(|| missing("test", "/Execution"))?;
        let trace_id = TraceId::from_u64_pair(0x69f4_ed3a_0000_0000, 0xb12b_6e05_a63c_dbd7);
        // Read where the workflow's own spans read it: nothing beside the context object,
        // the input places the execution in the upstream trace, and the Lambda joins it.
        assert_eq!((ctx.upstream_trace_id, ctx.contexts.len()), (None, 0));
        assert_eq!(ctx.input_trace_id, Some(trace_id));
        assert_eq!(
            ctx.input_carrier.as_deref(),
            Some("Execution.Input._datadog.traceparent")
        );
        assert_eq!(ctx.input_root_execution, None);
        assert_eq!(parent_for_lambda(&ctx).trace_id, trace_id);
        Ok(())
    }

    /// Datadog's v1 form names the root itself, and all three Datadog libraries then
    /// ignore the execution input: so does relink (the input's headers used to win).
    #[test]
    fn a_root_execution_id_comes_before_the_input() -> Result<(), DecodeError> {
        let root = "arn:aws:states:us-east-1:1:execution:Root:r1";
        let event = json!({"_datadog": {
            "Execution": {"Id": "arn:aws:states:us-east-1:1:execution:Child:c1",
                "Input": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},
            "State": {"Name": "s", "EnteredTime": "2024-01-01T00:00:00.000Z"},
            "RootExecutionId": root, "serverless-version": "v1"
        }});
        let ctx = find(&event)?.ok_or_else(|| missing("test", "/_datadog"))?;
        assert!(ctx.input_trace_id.is_some());
        assert_eq!(
            parent_for_lambda(&ctx).trace_id,
            crate::stepfn::ids::trace_id_for_root(root)
        );
        // Datadog's JSONata template writes the execution's own id when it found no
        // parent: that names nothing, and the input places the execution as its spans are.
        let mut own = event.clone();
        own["_datadog"]["RootExecutionId"] = own["_datadog"]["Execution"]["Id"].clone();
        let ctx = find(&own)?.ok_or_else(|| missing("test", "/_datadog"))?;
        assert_eq!(
            parent_for_lambda(&ctx).trace_id.to_hex(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        Ok(())
    }

    #[test]
    fn traceparent_at_the_top_of_the_execution_input() -> Result<(), DecodeError> {
        let event = json!({"Payload": {
            "Execution": {"Id": "e", "Input": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},
            "State": {"Name": "s", "EnteredTime": "2024-01-01T00:00:00.000Z"}
        }});
        let ctx = find(&event)?.ok_or_else(|| missing("test", "/Payload"))?;
        assert_eq!(
            ctx.input_carrier.as_deref(),
            Some("Payload.Execution.Input.traceparent")
        );
        assert_eq!(
            ctx.input_trace_id.map(|t| t.to_hex()).as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        assert_eq!((ctx.upstream_trace_id, ctx.contexts.len()), (None, 0));
        Ok(())
    }

    #[test]
    fn localstack_recorded_context_object() -> Result<(), DecodeError> {
        // Recorded against AWS; LocalStack normalised the ARNs and times ("date").
        let snapshot =
            fixture("stepfunctions/localstack/test_state/test_state_context_object.snapshot.json")?;
        let key = "tests/aws/services/stepfunctions/v2/test_state/test_state_context_object.py::TestStateContextObject::test_state_task_context_object[ALL]";
        let object = snapshot
            .get(key)
            .and_then(|v| {
                json_pointer(
                    v,
                    "/recorded-content/test_case_response/output/ContextObjectValue",
                )
            })
            .cloned()
            .ok_or_else(|| missing("fixture", "/ContextObjectValue"))?;
        let ctx = find(&object)?;
        assert_eq!(
            ctx.as_ref().map(|c| c.execution_id.as_str()),
            Some("arn:<partition>:states:::execution:MyStateMachine:execution-name-12345")
        );
        assert_eq!(
            ctx.as_ref()
                .map(|c| (c.state_name.as_str(), c.state_entered_time.as_str())),
            Some(("MyTaskState", "date"))
        );
        assert_eq!(ctx.as_ref().and_then(|c| c.retry_count), Some(0));
        assert_eq!(ctx.as_ref().and_then(|c| c.redrive_count), None);
        // The execution input is an object without trace headers.
        assert_eq!(ctx.map(|c| c.contexts.len()), Some(0));
        Ok(())
    }

    #[test]
    fn localstack_pass_state_output_of_the_whole_context() -> Result<(), DecodeError> {
        // A Pass state whose output is `$$`: the context object as AWS builds it, for a
        // state with no retry count.
        let snapshot =
            fixture("stepfunctions/localstack/context_object/test_context_object.snapshot.json")?;
        let key = "tests/aws/services/stepfunctions/v2/context_object/test_context_object.py::TestSnfBase::test_input_path[$$]";
        let object = snapshot
            .get(key)
            .and_then(|v| {
                json_pointer(v, "/recorded-content/get_execution_history/events/2/stateExitedEventDetails/output")
            })
            .cloned()
            .ok_or_else(|| missing("fixture", "/output"))?;
        assert_eq!(
            find(&object)?,
            Some(StepFunctionsContext {
                execution_id:
                    "arn:<partition>:states:<region>:111111111111:execution:<ArnPart_0idx>:<ExecArnPart_0idx>"
                        .into(),
                execution_name: Some("<ExecArnPart_0idx>".into()),
                execution_start_time: Some("date".into()),
                redrive_count: Some(0),
                state_machine_id: Some(
                    "arn:<partition>:states:<region>:111111111111:stateMachine:<ArnPart_0idx>".into()
                ),
                state_machine_name: Some("<ArnPart_0idx>".into()),
                state_name: "TestState".into(),
                state_entered_time: "date".into(),
                ..StepFunctionsContext::default()
            })
        );
        Ok(())
    }

    #[test]
    fn payloads_without_a_context() -> Result<(), DecodeError> {
        for event in [
            json!({"Records": []}),
            json!({"Payload": {"a": 1}}),
            json!({"Payload": "text"}),
            json!({"_datadog": {"x-datadog-trace-id": "1"}}),
            json!({"Execution": {"Id": "x"}}),
            json!([1, 2]),
        ] {
            assert_eq!(find(&event)?, None, "{event}");
            assert!(!looks_like_context(&event), "{event}");
        }
        Ok(())
    }

    #[test]
    fn context_inside_another_trigger_is_attached_to_it() -> Result<(), DecodeError> {
        let mut event = fixture("datadog-lambda-python/application-load-balancer.json")?;
        let context = fixture("datadog-lambda-python/states.json")?;
        if let (Some(map), Some(dd)) = (event.as_object_mut(), context.get("_datadog")) {
            map.insert("_datadog".into(), dd.clone());
        }
        let trigger = decode_event_value(&event)?;
        assert_eq!(trigger.kind, TriggerKind::Alb);
        assert_eq!(trigger.step_functions, Some(states_context("_datadog")));
        Ok(())
    }

    #[test]
    fn malformed_contexts_name_the_field() {
        let state = json!({"Name": "s", "EnteredTime": "2024-01-01T00:00:00.000Z"});
        let cases = [
            (json!({"Execution": "arn", "State": state}), "stepfunctions context: invalid field `Execution`: expected an object, found a string"),
            (json!({"Execution": {"Id": "e"}, "State": null}), "stepfunctions context: missing field `State`"),
            (json!({"_datadog": {"Execution": {}, "State": state}}), "stepfunctions context: missing field `_datadog.Execution.Id`"),
            (json!({"Payload": {"Execution": {"Id": ""}, "State": state}}), "stepfunctions context: invalid field `Payload.Execution.Id`: is empty"),
            (
                json!({"Execution": {"Id": "e"}, "State": {"Name": "s"}}),
                "stepfunctions context: missing field `State.EnteredTime`",
            ),
            (
                json!({"Execution": {"Id": "e"}, "State": {"Name": "s", "EnteredTime": 1700000000}}),
                "stepfunctions context: invalid field `State.EnteredTime`: expected a string, found a number",
            ),
            (
                json!({"Execution": {"Id": "e", "RedriveCount": 1e30}, "State": state}),
                "stepfunctions context: invalid field `Execution.RedriveCount`: 1e+30 is not an unsigned integer",
            ),
            (
                json!({"Execution": {"Id": "e"}, "State": {"Name": "s", "EnteredTime": "t", "RetryCount": "two"}}),
                "stepfunctions context: invalid field `State.RetryCount`: \"two\" is not an unsigned integer",
            ),
            (
                json!({"Execution": {"Id": "e"}, "State": state, "StateMachine": []}),
                "stepfunctions context: invalid field `StateMachine`: expected an object, found an array",
            ),
        ];
        for (event, want) in cases {
            assert_eq!(
                find(&event).err().map(|e| e.to_string()).as_deref(),
                Some(want),
                "{event}"
            );
            assert_eq!(
                decode_event_value(&event)
                    .err()
                    .map(|e| e.to_string())
                    .as_deref(),
                Some(want),
                "{event}"
            );
        }
    }

    #[test]
    fn states_arns() {
        assert_eq!(
            states_arn("arn:aws:states:us-east-1:123:stateMachine:m"),
            Some(("us-east-1", "123"))
        );
        assert_eq!(states_arn("arn:aws:states:::execution:m:e"), None);
        assert_eq!(states_arn("665c417c-1237-4742-aaca-8b3becbb9e75"), None);
        assert_eq!(states_arn("arn:aws:lambda:us-east-1:123:function:f"), None);
    }
}
