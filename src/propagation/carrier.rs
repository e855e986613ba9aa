//! Carriers: where AWS payloads hold trace headers.
// PLACEHOLDER: implemented by the propagation work item.
use super::Found;
use serde_json::Value;

/// Contexts in HTTP headers (names case-insensitive). `carrier` prefixes the location,
/// e.g. `headers` gives `headers.traceparent`.
pub fn from_headers<'a, I>(_headers: I, _carrier: &str) -> Vec<Found>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    Vec::new()
}

/// Contexts in a JSON object of string values (`_datadog`, a W3C carrier dict).
pub fn from_json_carrier(_value: &Value, _carrier: &str) -> Vec<Found> {
    Vec::new()
}

/// Contexts in SQS `messageAttributes` (`{"name": {"stringValue"|"binaryValue", "dataType"}}`).
pub fn from_sqs_attributes(_value: &Value, _carrier: &str) -> Vec<Found> {
    Vec::new()
}

/// Contexts in SNS `MessageAttributes` (`{"name": {"Type": "String"|"Binary", "Value"}}`).
pub fn from_sns_attributes(_value: &Value, _carrier: &str) -> Vec<Found> {
    Vec::new()
}
