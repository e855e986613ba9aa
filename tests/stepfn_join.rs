//! The promise of deterministic ids: a Lambda invoked by a state computes, from the context
//! object in its event alone, exactly the span relink builds for that state from the
//! execution's logs or history, so the Lambda's invocation lands under its state span.
//! Nested executions and log records join the same way.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use relink::event::StepFunctionsContext;
use relink::propagation::{SpanId, TraceId};
use relink::stepfn::{
    log_record_ids, parent_for_lambda, spans_from_history, spans_from_logs, trace_id_for, Options,
};
use serde_json::Value;
use std::path::Path;

fn golden(case: &str, file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/stepfn")
        .join(case)
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn history(case: &str, arn: &str) -> Vec<Span> {
    spans(spans_from_history(
        &golden(case, "input.history.json"),
        Some(arn),
        &Options::default(),
    ))
}

fn spans(result: Result<ExportTraceServiceRequest, relink::DecodeError>) -> Vec<Span> {
    let request = result.unwrap_or_else(|e| panic!("{e}"));
    request
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect()
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

/// The context object a state passes to the Lambda it invokes (`$$` merged into the
/// payload, as the Datadog and AWS docs set it up), as the event decoder reads it.
fn context(
    execution: &str,
    state: &str,
    entered: &str,
    retry: u64,
    redrive: u64,
) -> StepFunctionsContext {
    StepFunctionsContext {
        execution_id: execution.into(),
        state_name: state.into(),
        state_entered_time: entered.into(),
        retry_count: Some(retry),
        redrive_count: Some(redrive),
        carrier: "_datadog".into(),
        ..Default::default()
    }
}

fn ids(span: &Span) -> (TraceId, SpanId) {
    let mut trace = [0u8; 16];
    let mut id = [0u8; 8];
    trace.copy_from_slice(&span.trace_id);
    id.copy_from_slice(&span.span_id);
    (TraceId(trace), SpanId(id))
}

fn parent_ids(ctx: &StepFunctionsContext) -> (TraceId, SpanId) {
    let parent = parent_for_lambda(ctx);
    (parent.trace_id, parent.span_id)
}

#[test]
fn lambda_invoked_by_a_task_state_lands_under_it() {
    let arn = "arn:aws:states:us-east-1:123456789012:execution:OrderWorkflow:order-42";
    let spans = history("hand-every-state-type-history", arn);
    let reserve = named(&spans, "Reserve");
    let [reserve] = reserve.as_slice() else {
        panic!("one Reserve span expected")
    };
    let ctx = context(arn, "Reserve", "2024-07-30T19:55:53.038Z", 0, 0);
    assert_eq!(parent_ids(&ctx), ids(reserve));
    assert_eq!(trace_id_for(&ctx), ids(reserve).0);
}

#[test]
fn lambda_event_decoded_by_the_event_decoder_lands_under_its_state() {
    // The payload Datadog's JSONata setup has the Reserve state pass to its Lambda (the
    // shape of datadog-lambda-python's states.json fixture), decoded like any trigger.
    let arn = "arn:aws:states:us-east-1:123456789012:execution:OrderWorkflow:order-42";
    let event = serde_json::json!({
        "orderId": "42",
        "_datadog": {
            "Execution": {"Id": arn, "StartTime": "2024-07-30T19:55:53.018Z", "Name": "order-42",
                "RoleArn": "arn:aws:iam::123456789012:role/service-role/StepFunctions-OrderWorkflow-role", "RedriveCount": 0},
            "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:OrderWorkflow", "Name": "OrderWorkflow"},
            "State": {"Name": "Reserve", "EnteredTime": "2024-07-30T19:55:53.038Z", "RetryCount": 0},
            "RootExecutionId": arn,
            "serverless-version": "v1"
        }
    });
    let trigger =
        relink::decode_event(event.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let Some(ctx) = trigger.step_functions else {
        panic!("no context object found")
    };
    let spans = history("hand-every-state-type-history", arn);
    let reserve = named(&spans, "Reserve");
    let [reserve] = reserve.as_slice() else {
        panic!("one Reserve span expected")
    };
    assert_eq!(parent_ids(&ctx), ids(reserve));
}

#[test]
fn lambda_invoked_by_a_retry_lands_under_the_retry() {
    let spans = spans(spans_from_logs(
        &golden("hand-task-retries-logs", "input.logs.ndjson"),
        &Options::default(),
    ));
    let arn = "arn:aws:states:us-east-1:123456789012:execution:Payments:pay-7f3a";
    let entered = "2024-07-30T20:06:40.259Z";
    let first = named(&spans, "ChargeCard");
    let second = named(&spans, "ChargeCard (retry 2)");
    let ([first], [second]) = (first.as_slice(), second.as_slice()) else {
        panic!("state and retry spans expected")
    };
    assert_eq!(
        parent_ids(&context(arn, "ChargeCard", entered, 0, 0)),
        ids(first)
    );
    assert_eq!(
        parent_ids(&context(arn, "ChargeCard", entered, 2, 0)),
        ids(second)
    );
}

#[test]
fn lambda_invoked_after_a_redrive_lands_under_the_redriven_state() {
    let arn = "arn:aws:states:us-east-1:123456789012:execution:ImportJob:import-0730";
    let spans = history("hand-redrive-history", arn);
    let loads = named(&spans, "Load");
    let [before, after] = loads.as_slice() else {
        panic!("two Load spans expected")
    };
    assert_eq!(
        parent_ids(&context(arn, "Load", "2024-07-30T20:40:00.508Z", 0, 0)),
        ids(before)
    );
    assert_eq!(
        parent_ids(&context(arn, "Load", "2024-07-30T21:40:00.505Z", 0, 1)),
        ids(after)
    );
}

#[test]
fn nested_execution_lands_under_the_state_that_started_it() {
    let parent_arn = "arn:aws:states:us-east-1:123456789012:execution:Checkout:checkout-991";
    let parent = history("hand-nested-parent-history", parent_arn);
    let child = spans(spans_from_logs(
        &golden("hand-nested-child-logs", "input.logs.ndjson"),
        &Options::default(),
    ));
    let run_payment = named(&parent, "RunPayment");
    let child_execution = named(&child, "PaymentFlow");
    let ([run_payment], [child_execution]) = (run_payment.as_slice(), child_execution.as_slice())
    else {
        panic!("RunPayment and PaymentFlow spans expected")
    };
    assert_eq!(child_execution.trace_id, run_payment.trace_id);
    assert_eq!(child_execution.parent_span_id, run_payment.span_id);
    // The child's own Lambdas join the same trace.
    let capture = named(&child, "Capture");
    let [capture] = capture.as_slice() else {
        panic!("one Capture span expected")
    };
    assert_eq!(capture.trace_id, run_payment.trace_id);
}

#[test]
fn each_execution_log_line_names_the_span_it_describes() {
    let ndjson = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/stepfunctions/aws-samples-masking-sensitive-express-step-functions/express-execution-log-messages.ndjson"),
    )
    .unwrap_or_default();
    let spans = spans(spans_from_logs(ndjson.as_bytes(), &Options::default()));
    let execution = named(&spans, "LoggingAndMaskingWorkflow");
    let state = named(&spans, "LogInput");
    let ([execution], [state]) = (execution.as_slice(), state.as_slice()) else {
        panic!("two spans expected")
    };
    let records: Vec<Option<(TraceId, SpanId)>> = ndjson.lines().map(log_record_ids).collect();
    let (e, s) = (Some(ids(execution)), Some(ids(state)));
    // ExecutionStarted, PassStateEntered, PassStateExited, ExecutionSucceeded.
    assert_eq!(records, vec![e, s, e, e]);
    let types: Vec<String> = ndjson
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}
