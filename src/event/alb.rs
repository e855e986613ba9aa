//! PLACEHOLDER: decoder written by the event-decoding work item.
use super::Trigger;
use crate::error::DecodeError;
use serde_json::Value;

pub(crate) fn decode(_value: &Value) -> Result<Trigger, DecodeError> {
    Err(DecodeError::UnknownEvent { hint: "alb decoder not written yet".into() })
}
