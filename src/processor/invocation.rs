//! Lambda invocations joined to the SDK `Invoke` call that made them.
//!
//! Lambda gives an invocation the request id of the `Invoke` call that asked for it: the
//! caller's SDK records it on its client span (`aws.request_id`, as every SDK span does),
//! and the function's instrumentation records it on the invocation span
//! (`faas.invocation_id`, from the context's `aws_request_id` / `awsRequestId`). An
//! asynchronous call (`InvocationType: Event`) carries no trace context at all (Lambda
//! passes `ClientContext` to synchronous calls only), and retries of it keep the id, so
//! this is the one join that survives it. A synchronous call whose context did arrive puts
//! both spans in one trace already, and planning adds no link between spans of one trace
//! on this rule.

use super::claims::SpanEvidence;
use super::key::{push_claim, Claim, Rule};
use super::view::SpanView;
use crate::settings::Settings;

/// The invocation span's id, as the OpenTelemetry Lambda instrumentations write it.
pub(crate) const INVOCATION_ID: &str = "faas.invocation_id";

/// The operations that start an invocation.
pub(crate) fn starts_invocation(operation: &str) -> bool {
    matches!(
        operation,
        "Invoke" | "InvokeAsync" | "InvokeWithResponseStream"
    )
}

/// The `Invoke` client span's side: the request id the SDK recorded.
pub(crate) fn producer_claims(request_id: Option<&str>, config: &Settings, ev: &mut SpanEvidence) {
    if !config.direct_links.lambda_invocations {
        return;
    }
    if let Some(id) = request_id.filter(|id| !id.is_empty()) {
        push_claim(&mut ev.producer, Claim::id(Rule::LambdaInvocation, id));
    }
}

/// The invocation span's side: its `faas.invocation_id`.
pub(crate) fn consumer_claims(span: &SpanView<'_>, config: &Settings, ev: &mut SpanEvidence) {
    if !config.direct_links.lambda_invocations {
        return;
    }
    let limit = config.bounds.attributes_scanned;
    if let Some(id) = span
        .attributes
        .get_str(INVOCATION_ID, limit)
        .filter(|id| !id.is_empty())
    {
        push_claim(&mut ev.consumer, Claim::id(Rule::LambdaInvocation, id));
    }
}
