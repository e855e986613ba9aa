//! Step Functions joins on hand-built spans: a Lambda under the state that invoked it
//! (link and parent modes), an execution under the StartExecution call that started it.

use super::*;
use crate::processor::attrs::{self, kv};
use crate::stepfn::ids::trace_id_for_root;
use crate::stepfn::{execution_span_id, state_span_id};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

const NOW: u64 = 1_722_370_100_000_000_000;
const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:Orders:o-1";
const ENTERED: &str = "2024-07-30T20:06:40.259Z";

/// The execution's log lines: one Lambda task state, `Charge`, entered at [`ENTERED`].
fn execution_logs() -> String {
    let line = |id: u32, kind: &str, details: &str, ms: u64| {
        format!(
            r#"{{"id":"{id}","type":"{kind}","details":{details},"previous_event_id":"{}","event_timestamp":"{ms}","execution_arn":"{ARN}","redrive_count":"0"}}"#,
            id.saturating_sub(1)
        )
    };
    let task = r#"{"resourceType":"lambda","resource":"invoke"}"#;
    [
        line(
            1,
            "ExecutionStarted",
            r#"{"input":"{}","inputDetails":{"truncated":false}}"#,
            1_722_370_000_250,
        ),
        line(
            2,
            "TaskStateEntered",
            r#"{"name":"Charge"}"#,
            1_722_370_000_259,
        ),
        line(3, "TaskScheduled", task, 1_722_370_000_260),
        line(4, "TaskStarted", task, 1_722_370_000_272),
        line(5, "TaskSucceeded", task, 1_722_370_000_390),
        line(
            6,
            "TaskStateExited",
            r#"{"name":"Charge"}"#,
            1_722_370_000_391,
        ),
        line(
            7,
            "ExecutionSucceeded",
            r#"{"output":"{}"}"#,
            1_722_370_000_392,
        ),
    ]
    .join("\n")
}

/// The event the state passes to its Lambda (`States.JsonMerge($$, $, false)`).
fn lambda_event(retry: u64) -> String {
    format!(
        r#"{{"orderId": "o-1", "Execution": {{"Id": "{ARN}", "Name": "o-1", "RedriveCount": 0}},
        "StateMachine": {{"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:Orders", "Name": "Orders"}},
        "State": {{"Name": "Charge", "EnteredTime": "{ENTERED}", "RetryCount": {retry}}}}}"#
    )
}

fn span(trace: u8, id: u8, parent: Option<u8>, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("span-{id}"),
        attributes,
        ..Default::default()
    }
}

fn lambda(trace: u8, id: u8, retry: u64) -> Span {
    span(
        trace,
        id,
        None,
        vec![kv("relink.event", lambda_event(retry))],
    )
}

fn start_execution(trace: u8, id: u8) -> Span {
    let mut s = span(
        trace,
        id,
        Some(trace),
        vec![
            kv("rpc.system", "aws-api"),
            kv("rpc.service", "SFN"),
            kv("rpc.method", "StartExecution"),
        ],
    );
    s.attributes.push(KeyValue {
        key: "relink.message_ids".into(),
        value: Some(AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![attrs::string(ARN)],
            })),
        }),
        ..Default::default()
    });
    s
}

use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn spans(req: &ExportTraceServiceRequest) -> Vec<&Span> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

fn processor(json: &str) -> Processor {
    Config::from_json(json)
        .and_then(|c| crate::Processor::new(&c))
        .unwrap_or_else(|e| panic!("config: {e}"))
}

fn link_summary(l: &Link) -> String {
    let mut parts = vec![format!(
        "{}/{}",
        hex::encode(&l.trace_id),
        hex::encode(&l.span_id)
    )];
    for a in &l.attributes {
        match a.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => parts.push(format!("{}={s}", a.key)),
            Some(Value::IntValue(n)) => parts.push(format!("{}={n}", a.key)),
            _ => {}
        }
    }
    parts.join(" ")
}

fn links(s: &Span) -> Vec<String> {
    s.links.iter().map(link_summary).collect()
}

fn strings(s: &Span, key: &str) -> Vec<String> {
    attrs::get_strings(&s.attributes, key, usize::MAX)
        .into_iter()
        .map(String::from)
        .collect()
}

fn workflow_trace() -> String {
    trace_id_for_root(ARN).to_hex()
}

fn state_link(retry: u64) -> String {
    let state = state_span_id(ARN, "Charge", ENTERED, retry, 0).to_hex();
    let retry = match retry {
        0 => String::new(),
        n => format!(" aws.step_functions.state.retry_count={n}"),
    };
    format!(
        "{}/{state} relink.rule=aws.stepfunctions.state relink.match=deterministic relink.peer=producer \
         relink.context.carrier=event aws.step_functions.execution.arn={ARN} \
         aws.step_functions.state.name=Charge aws.step_functions.state.entered_time={ENTERED}{retry}",
        workflow_trace()
    )
}

#[test]
fn lambda_links_to_the_state_that_invoked_it_by_default() {
    let mut p = processor("{}");
    let mut req = request(vec![lambda(2, 21, 0), lambda(3, 31, 1)]);
    let outcome = p.process_request(&mut req, NOW);
    let [first, retry] = spans(&req)[..] else {
        panic!("two spans")
    };
    assert_eq!(links(first), vec![state_link(0)]);
    assert_eq!(links(retry), vec![state_link(1)], "the retry's span");
    assert_eq!(
        strings(first, "relink.rules"),
        vec!["aws.stepfunctions.state"]
    );
    assert_eq!(strings(first, "relink.matches"), vec!["deterministic"]);
    assert_eq!(
        (first.trace_id.clone(), first.parent_span_id.is_empty()),
        (vec![2; 16], true)
    );
    assert_eq!(
        attrs::get_str(&first.attributes, "relink.event", 9),
        None,
        "event removed"
    );
    assert_eq!(
        (
            outcome.counters.links.deterministic,
            outcome.counters.traces_adopted
        ),
        (2, 0)
    );
}

#[test]
fn the_link_is_the_span_the_workflow_logs_give() {
    let mut p = processor("{}");
    let workflow = p.process_event(execution_logs().as_bytes(), &EventContext::default(), NOW);
    let workflow = workflow.unwrap_or_else(|e| panic!("{e}"));
    let charge = spans(&workflow)
        .into_iter()
        .find(|s| s.name == "Charge")
        .map(|s| (hex::encode(&s.trace_id), hex::encode(&s.span_id)));
    let mut req = request(vec![lambda(2, 21, 0)]);
    p.process_request(&mut req, NOW);
    let link = spans(&req)[0]
        .links
        .first()
        .map(|l| (hex::encode(&l.trace_id), hex::encode(&l.span_id)));
    assert_eq!(link, charge);
    assert!(link.is_some());
}

#[test]
fn with_adoption_the_lambda_trace_moves_under_its_state() {
    for config in [
        r#"{"adoption": {"enabled": true}}"#,
        r#"{"stepfunctions": {"lambda_join": "parent"}}"#,
    ] {
        let mut p = processor(config);
        let mut req = request(vec![lambda(2, 21, 0), span(2, 22, Some(21), vec![])]);
        let outcome = p.process_request(&mut req, NOW);
        let state = state_span_id(ARN, "Charge", ENTERED, 0, 0).to_hex();
        let [root, child] = spans(&req)[..] else {
            panic!("two spans")
        };
        assert_eq!(hex::encode(&root.trace_id), workflow_trace(), "{config}");
        assert_eq!(hex::encode(&root.parent_span_id), state);
        assert_eq!(hex::encode(&child.trace_id), workflow_trace());
        assert_eq!(
            hex::encode(&child.parent_span_id),
            hex::encode([21u8; 8]),
            "inner spans keep their parent"
        );
        assert_eq!(
            links(root),
            vec![
                format!(
                    "{}/{} relink.rule=adoption relink.original_trace_id={0}",
                    hex::encode([2u8; 16]),
                    hex::encode([21u8; 8])
                ),
                state_link(0),
            ]
        );
        assert_eq!(
            strings(root, "relink.rules"),
            vec!["adoption", "aws.stepfunctions.state"]
        );
        assert_eq!(
            strings(child, "relink.original_trace_id"),
            vec![hex::encode([2u8; 16])]
        );
        assert_eq!(outcome.counters.traces_adopted, 1);
        // A later batch of the Lambda's trace follows it.
        let mut late = request(vec![span(2, 23, Some(21), vec![])]);
        p.process_request(&mut late, NOW + 1_000_000_000);
        assert_eq!(hex::encode(&spans(&late)[0].trace_id), workflow_trace());
    }
}

#[test]
fn link_mode_keeps_traces_apart_even_with_adoption() {
    let mut p =
        processor(r#"{"adoption": {"enabled": true}, "stepfunctions": {"lambda_join": "link"}}"#);
    let mut req = request(vec![lambda(2, 21, 0)]);
    p.process_request(&mut req, NOW);
    assert_eq!(spans(&req)[0].trace_id, vec![2; 16]);
    assert_eq!(links(spans(&req)[0]), vec![state_link(0)]);
}

#[test]
fn a_lambda_with_a_remote_parent_is_linked_not_moved() {
    let mut p = processor(r#"{"adoption": {"enabled": true}}"#);
    let mut remote = lambda(2, 21, 0);
    remote.parent_span_id = vec![9; 8];
    let mut req = request(vec![remote]);
    let outcome = p.process_request(&mut req, NOW);
    assert_eq!(
        (
            spans(&req)[0].trace_id.clone(),
            outcome.counters.traces_adopted
        ),
        (vec![2; 16], 0)
    );
    assert_eq!(links(spans(&req)[0]), vec![state_link(0)]);
}

#[test]
fn a_lambda_already_under_its_state_is_left_alone() {
    let mut datadog = lambda(0, 21, 0);
    datadog.trace_id = trace_id_for_root(ARN).0.to_vec();
    datadog.parent_span_id = state_span_id(ARN, "Charge", ENTERED, 0, 0).0.to_vec();
    let mut p = processor(r#"{"event_attribute": {"output": "keep"}}"#);
    assert!(!p.process_request(&mut request(vec![datadog]), NOW).changed);
}

#[test]
fn output_processed_again_is_unchanged() {
    for join in ["link", "parent"] {
        let config = format!(
            r#"{{"event_attribute": {{"output": "keep"}}, "stepfunctions": {{"lambda_join": "{join}"}}}}"#
        );
        let mut p = processor(&config);
        let mut req = request(vec![lambda(2, 21, 0)]);
        assert!(p.process_request(&mut req, NOW).changed);
        let once = req.clone();
        assert!(
            !p.process_request(&mut req, NOW).changed,
            "{join}, same processor"
        );
        assert!(
            !processor(&config).process_request(&mut req, NOW).changed,
            "{join}, fresh processor"
        );
        assert_eq!(req, once);
    }
}

#[test]
fn the_execution_joins_its_start_execution_call_in_either_order() {
    let ctx = EventContext::default();
    let key = key::Key::of_id(key::Rule::StepfunctionsExecution, ARN).to_hex();
    let execution = execution_span_id(ARN).to_hex();
    // The call first: the execution span links to it.
    let mut p = processor("{}");
    p.process_request(&mut request(vec![start_execution(1, 11)]), NOW);
    let workflow = p
        .process_event(execution_logs().as_bytes(), &ctx, NOW)
        .unwrap_or_else(|e| panic!("{e}"));
    let exec = spans(&workflow)
        .into_iter()
        .find(|s| hex::encode(&s.span_id) == execution);
    assert_eq!(
        exec.map(links),
        Some(vec![format!(
            "{}/{} relink.rule=aws.stepfunctions.execution relink.match=exact relink.key={key} relink.peer=producer messaging.message.id={ARN}",
            hex::encode([1u8; 16]),
            hex::encode([11u8; 8])
        )])
    );
    // The execution first: the call links to it.
    let mut p = processor("{}");
    p.process_event(execution_logs().as_bytes(), &ctx, NOW)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut call = request(vec![start_execution(1, 11)]);
    p.process_request(&mut call, NOW);
    assert_eq!(
        links(spans(&call)[0]),
        vec![format!(
            "{}/{execution} relink.rule=aws.stepfunctions.execution relink.match=exact relink.key={key} relink.peer=consumer messaging.message.id={ARN}",
            workflow_trace()
        )]
    );
}

#[test]
fn with_adoption_one_trace_from_the_caller_through_the_workflow_to_the_lambda() {
    let mut p = processor(r#"{"adoption": {"enabled": true}}"#);
    let caller = hex::encode([1u8; 16]);
    // The Lambda first (adopted into the workflow trace), then the call, then the logs.
    let mut invoked = request(vec![lambda(2, 21, 0)]);
    p.process_request(&mut invoked, NOW);
    p.process_request(&mut request(vec![start_execution(1, 11)]), NOW);
    let workflow = p.process_event(execution_logs().as_bytes(), &EventContext::default(), NOW);
    let workflow = workflow.unwrap_or_else(|e| panic!("{e}"));
    let traces: Vec<String> = spans(&workflow)
        .iter()
        .map(|s| hex::encode(&s.trace_id))
        .collect();
    assert!(traces.iter().all(|t| *t == caller), "{traces:?}");
    let exec = spans(&workflow)
        .into_iter()
        .find(|s| s.span_id == execution_span_id(ARN).0.to_vec());
    assert_eq!(
        exec.map(|s| hex::encode(&s.parent_span_id)),
        Some(hex::encode([11u8; 8]))
    );
    // A later span of the Lambda's own trace lands in the caller's trace too.
    let mut late = request(vec![span(2, 22, Some(21), vec![])]);
    p.process_request(&mut late, NOW);
    assert_eq!(hex::encode(&spans(&late)[0].trace_id), caller);
}

#[test]
fn without_step_functions_the_lambda_joins_the_start_execution_call() {
    let mut p = processor(r#"{"stepfunctions": {"enabled": false}}"#);
    p.process_request(&mut request(vec![start_execution(1, 11)]), NOW);
    let mut req = request(vec![lambda(2, 21, 0)]);
    p.process_request(&mut req, NOW);
    let rules: Vec<String> = spans(&req)[0]
        .links
        .iter()
        .filter_map(|l| attrs::get_str(&l.attributes, "relink.rule", 9).map(String::from))
        .collect();
    assert_eq!(rules, vec!["aws.stepfunctions.execution"]);
    assert_eq!(
        hex::encode(&spans(&req)[0].links[0].span_id),
        hex::encode([11u8; 8])
    );
}

/// The `_datadog` attribute a state's SendMessage writes: the context object of the
/// `Charge` state entered at `entered` (Datadog's JSONata form).
fn carried_context(entered: &str) -> String {
    format!(
        r#"{{"Execution": {{"Id": "{ARN}", "Name": "o-1", "RedriveCount": 0}},
        "StateMachine": {{"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:Orders", "Name": "Orders"}},
        "State": {{"Name": "Charge", "EnteredTime": "{entered}", "RetryCount": 0}},
        "RootExecutionId": "{ARN}", "serverless-version": "v1"}}"#
    )
}

/// An SQS event of one message per entered time, each carrying its state's context.
fn sqs_from_states(entered: &[&str]) -> String {
    let records: Vec<serde_json::Value> = entered
        .iter()
        .enumerate()
        .map(|(i, e)| {
            serde_json::json!({
                "messageId": format!("m-{i}"),
                "body": "{}",
                "messageAttributes": {"_datadog": {"dataType": "String", "stringValue": carried_context(e)}},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:charges",
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

fn consumer(trace: u8, id: u8, event: String) -> Span {
    span(trace, id, None, vec![kv("relink.event", event)])
}

fn message_state_link(entered: &str, message: &str) -> String {
    format!(
        "{}/{} relink.rule=aws.stepfunctions.state relink.match=deterministic relink.peer=producer \
         relink.context.carrier=event.messageAttributes._datadog aws.step_functions.execution.arn={ARN} \
         aws.step_functions.state.name=Charge aws.step_functions.state.entered_time={entered} \
         messaging.message.id={message}",
        workflow_trace(),
        state_span_id(ARN, "Charge", entered, 0, 0).to_hex()
    )
}

#[test]
fn every_message_of_a_batch_joins_the_state_that_sent_it() {
    const LATER: &str = "2024-07-30T20:06:41.003Z";
    let mut p = processor("{}");
    let event = sqs_from_states(&[ENTERED, LATER, ENTERED]);
    let mut req = request(vec![consumer(2, 21, event)]);
    let outcome = p.process_request(&mut req, NOW);
    let span = spans(&req)[0];
    // One link per state span, naming the first message that carried it; no second link
    // to the same span as a message context.
    assert_eq!(
        links(span),
        vec![
            message_state_link(ENTERED, "m-0"),
            message_state_link(LATER, "m-1"),
        ]
    );
    assert_eq!(strings(span, "relink.matches"), vec!["deterministic"]);
    assert_eq!(outcome.counters.links.context, 0);
    assert_eq!(outcome.counters.traces_adopted, 0, "link mode by default");
}

#[test]
fn with_adoption_a_batch_from_one_workflow_moves_under_its_first_state() {
    const LATER: &str = "2024-07-30T20:06:41.003Z";
    let mut p = processor(r#"{"adoption": {"enabled": true}}"#);
    let event = sqs_from_states(&[LATER, ENTERED]);
    let mut req = request(vec![consumer(2, 21, event)]);
    let outcome = p.process_request(&mut req, NOW);
    let span = spans(&req)[0];
    assert_eq!(outcome.counters.traces_adopted, 1);
    assert_eq!(hex::encode(&span.trace_id), workflow_trace());
    assert_eq!(
        hex::encode(&span.parent_span_id),
        state_span_id(ARN, "Charge", LATER, 0, 0).to_hex()
    );
}

#[test]
fn a_batch_from_several_workflows_is_linked_not_moved() {
    let other = "arn:aws:states:us-east-1:123456789012:execution:Orders:o-2";
    let event = sqs_from_states(&[ENTERED, ENTERED]).replacen(
        &format!(r#"\"Id\": \"{ARN}\""#),
        &format!(r#"\"Id\": \"{other}\""#),
        1,
    );
    let event = event.replacen(
        &format!(r#"\"RootExecutionId\": \"{ARN}\""#),
        &format!(r#"\"RootExecutionId\": \"{other}\""#),
        1,
    );
    let mut p = processor(r#"{"adoption": {"enabled": true}}"#);
    let mut req = request(vec![consumer(2, 21, event)]);
    let outcome = p.process_request(&mut req, NOW);
    let span = spans(&req)[0];
    assert_eq!(outcome.counters.traces_adopted, 0);
    assert_eq!(span.trace_id, vec![2; 16]);
    let traces: Vec<String> = span
        .links
        .iter()
        .map(|l| hex::encode(&l.trace_id))
        .collect();
    assert_eq!(
        traces,
        vec![trace_id_for_root(other).to_hex(), workflow_trace()]
    );
}

#[test]
fn without_step_functions_a_carried_context_names_its_execution() {
    let mut p = processor(r#"{"stepfunctions": {"enabled": false}}"#);
    p.process_request(&mut request(vec![start_execution(1, 11)]), NOW);
    let mut req = request(vec![consumer(2, 21, sqs_from_states(&[ENTERED]))]);
    p.process_request(&mut req, NOW);
    let rules: Vec<String> = spans(&req)[0]
        .links
        .iter()
        .filter_map(|l| attrs::get_str(&l.attributes, "relink.rule", 9).map(String::from))
        .collect();
    assert_eq!(rules, vec!["aws.stepfunctions.execution"]);
}
