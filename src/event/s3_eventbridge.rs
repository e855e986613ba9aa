//! PLACEHOLDER: decoder written by the event-decoding work item.
use super::Trigger;
use crate::error::DecodeError;
use serde_json::Value;

/// True for the S3 object-level detail-types EventBridge delivers
/// ("Object Created", "Object Deleted", ...).
pub(crate) fn is_object_event(value: &Value) -> bool {
    value.get("detail-type").and_then(Value::as_str).is_some_and(|t| t.starts_with("Object "))
}

pub(crate) fn decode(_value: &Value) -> Result<Trigger, DecodeError> {
    Err(DecodeError::UnknownEvent { hint: "s3 eventbridge decoder not written yet".into() })
}
