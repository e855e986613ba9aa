//! Datadog's own test vectors for the context a Lambda joins when a Step Functions state
//! invoked it or sent it a message, copied as literals from the spec tests of
//! datadog-lambda-js (https://github.com/DataDog/datadog-lambda-js, Apache-2.0, commit
//! b6a05817dd4445769b7e330c95a81a12f5acd6e0): `toTraceId()` is the Datadog trace id (low
//! 64 bits, decimal), `toSpanId()` the parent id (decimal), `sampleMode()` "1" (keep).
//! The payloads of the messaging cases are in `tests/fixtures/datadog-lambda-js/`.

use relink::event::{Item, Trigger};
use relink::propagation::Found;
use serde_json::{json, Value};

/// The context relink says the consumer joins: for a context-only payload its item's
/// context, else the context read from the carrier of the message's context object.
fn joined(trigger: &Trigger) -> Vec<&Found> {
    fn walk<'a>(trigger: &'a Trigger, out: &mut Vec<&'a Found>) {
        for item in &trigger.items {
            out.extend(state_context(trigger, item));
            if let Some(payload) = &item.payload {
                walk(payload, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(trigger, &mut out);
    out
}

fn state_context<'a>(trigger: &Trigger, item: &'a Item) -> Option<&'a Found> {
    match (&item.step_functions, trigger.step_functions.is_some()) {
        (Some(sfn), _) => item.contexts.iter().find(|f| f.carrier == sfn.carrier),
        (None, true) if trigger.kind == relink::event::TriggerKind::Stepfunctions => {
            item.contexts.first()
        }
        _ => None,
    }
}

fn check(event: &Value, trace_id: u64, parent_id: u64, what: &str) {
    let trigger =
        relink::event::decode_event_value(event).unwrap_or_else(|e| panic!("{what}: {e}"));
    let found = joined(&trigger);
    assert_eq!(found.len(), 1, "{what}: {found:?}");
    let context = &found[0].context;
    assert_eq!(context.trace_id.low(), trace_id, "{what}: trace id");
    assert_eq!(context.span_id.as_u64(), parent_id, "{what}: parent id");
    assert_eq!(context.sampled, Some(true), "{what}: sampling");
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/datadog-lambda-js/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn state_context_carried_through_messaging() {
    // src/trace/context/extractors/<file>.spec.ts, "extracts trace context from Step
    // Function <kind> event".
    for (file, trace_id, parent_id) in [
        ("sfn-sqs.json", 7148114900282288397, 6711327198021343353),
        ("sfn-sns.json", 3995810302240690842, 8347071195300897803),
        ("sfn-sns-sqs.json", 1657966791618574655, 5100002956473485303),
        (
            "sfn-eventbridge.json",
            1503104665848096006,
            159267866761498620,
        ),
        (
            "sfn-eventbridge-sqs.json",
            7858567057595668526,
            3674709292670593712,
        ),
    ] {
        check(&fixture(file), trace_id, parent_id, file);
    }
}

/// The `payload` of src/trace/context/extractors/step-function.spec.ts.
fn step_function_payload() -> Value {
    json!({
        "Execution": {
            "Id": "arn:aws:states:sa-east-1:425362996713:execution:abhinav-activity-state-machine:72a7ca3e-901c-41bb-b5a3-5f279b92a316",
            "Name": "72a7ca3e-901c-41bb-b5a3-5f279b92a316",
            "RoleArn": "arn:aws:iam::425362996713:role/service-role/StepFunctions-abhinav-activity-state-machine-role-22jpbgl6j",
            "StartTime": "2024-12-04T19:38:04.069Z"
        },
        "State": {"Name": "Lambda Invoke", "EnteredTime": "2024-12-04T19:38:04.118Z", "RetryCount": 0},
        "StateMachine": {
            "Id": "arn:aws:states:sa-east-1:425362996713:stateMachine:abhinav-activity-state-machine",
            "Name": "abhinav-activity-state-machine"
        }
    })
}

#[test]
fn state_context_invoking_the_lambda() {
    let payload = step_function_payload();
    // "extracts trace context with valid payload" and "... valid legacy lambda payload".
    check(&payload, 435175499815315247, 3929055471293792800, "payload");
    check(
        &json!({ "Payload": payload.clone() }),
        435175499815315247,
        3929055471293792800,
        "Payload",
    );
    // "extracts trace context with valid redriven payload".
    let mut redriven = payload.clone();
    redriven["Execution"]["RedriveCount"] = json!(1);
    check(
        &redriven,
        435175499815315247,
        8782364156266188026,
        "redriven",
    );
    // "extracts trace context with valid legacy lambda root payload": the trace of the
    // Lambda that started the execution (the parent id is not asserted there).
    let mut lambda_root = redriven;
    lambda_root["Execution"]["Input"] = json!({
        "MyInput": "MyValue",
        "_datadog": {
            "x-datadog-trace-id": "10593586103637578129",
            "x-datadog-tags": "_dd.p.dm=-0,_dd.p.tid=6734e7c300000000"
        }
    });
    let trigger = relink::event::decode_event_value(&lambda_root).unwrap_or_else(|e| panic!("{e}"));
    let found = joined(&trigger);
    assert_eq!(
        found
            .iter()
            .map(|f| f.context.trace_id.low())
            .collect::<Vec<_>>(),
        vec![10593586103637578129]
    );
    assert_eq!(
        found
            .iter()
            .map(|f| f.context.trace_id.high())
            .collect::<Vec<_>>(),
        vec![0x6734_e7c3_0000_0000],
        "_dd.p.tid"
    );
}

/// The Datadog Lambda extension's vectors (https://github.com/DataDog/datadog-lambda-extension,
/// Apache-2.0, bottlecap/src/lifecycle/invocation/triggers/step_function_event.rs,
/// `test_generate_parent_id` and `test_generate_trace_id`).
#[test]
fn datadog_extension_id_vectors() {
    let express = "arn:aws:states:sa-east-1:601427271234:express:DatadogStateMachine:acaf1a67-336a-e854-1599-2a627eb2dd8a:c8baf081-31f1-464d-971f-70cb17d01111";
    for (entered, parent) in [
        ("2022-12-08T21:08:19.224Z", 4_340_734_536_022_949_921),
        ("2022-12-08T21:08:19.224Y", 981_693_280_319_792_699),
    ] {
        let event = json!({"Execution": {"Id": express}, "State": {"Name": "step-one", "EnteredTime": entered}});
        let trigger = relink::event::decode_event_value(&event).unwrap_or_else(|e| panic!("{e}"));
        let found = joined(&trigger);
        assert_eq!(
            found
                .iter()
                .map(|f| f.context.span_id.as_u64())
                .collect::<Vec<_>>(),
            vec![parent],
            "{entered}"
        );
        assert_eq!(
            relink::stepfn::state_span_id(express, "step-one", entered, 0, 0).as_u64(),
            parent
        );
    }
    for (arn, low, high) in [
        (
            "arn:aws:states:sa-east-1:425362996713:stateMachine:MyStateMachine-b276uka1j",
            1_680_583_253_837_593_461,
            6_984_552_746_569_958_392,
        ),
        (
            "arn:aws:states:us-east-1:425362996713:execution:agocsTestSF:bc9f281c-3daa-4e5a-9a60-471a3810bf44",
            5_744_042_798_732_701_615,
            1_807_349_139_850_867_390,
        ),
    ] {
        let trace = relink::stepfn::ids::trace_id_for_root(arn);
        assert_eq!((trace.low(), trace.high()), (low, high), "{arn}");
    }
}
