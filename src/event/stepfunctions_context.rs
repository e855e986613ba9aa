//! PLACEHOLDER: decoder written by the event-decoding work item.
use super::{StepFunctionsContext, Trigger};
use crate::error::DecodeError;
use serde_json::Value;

/// Finds a Step Functions context object at the top level, under `Payload` or `_datadog`.
pub(crate) fn find(_value: &Value) -> Result<Option<StepFunctionsContext>, DecodeError> {
    Ok(None)
}

/// A trigger for a payload that is only a context object.
pub(crate) fn trigger(_ctx: StepFunctionsContext) -> Trigger {
    unimplemented!()
}
