//! Carriers: where AWS payloads hold trace headers, and how each is read.
//!
//! Every carrier is a set of header-like keys (`traceparent`, `tracestate`,
//! `x-amzn-trace-id`, `x-datadog-*`) matched case-insensitively, as HTTP header names and
//! the Datadog tracers' carrier lookups are. The carriers differ in how values are wrapped:
//! plain strings (HTTP headers), JSON values (`_datadog` objects, W3C carrier dicts; Datadog
//! ids are sometimes JSON numbers), SQS attributes (`stringValue` / base64 `binaryValue`)
//! and SNS attributes (`Value`, base64 when `Type` is `Binary`). The `_datadog` attribute of
//! SQS and SNS is itself a JSON carrier, encoded as a string.
//!
//! Each function returns what it found in a fixed order, W3C then Datadog then X-Ray: a
//! Datadog context outranks X-Ray as in Datadog's own extraction (an SQS `_datadog`
//! attribute before `AWSTraceHeader`; on HTTP, `X-Amzn-Trace-Id` is often API Gateway's or
//! the load balancer's own segment, not the caller's). Two
//! formats naming the same span are both kept (the consumer decides); the same format naming
//! the same span twice is kept once. `carrier` on each [`Found`] is the path to the value that
//! held the context: the caller's prefix, then the HTTP header name in lowercase, the JSON key
//! or the attribute name as written (`headers.traceparent`, `detail._datadog.traceparent`,
//! `messageAttributes._datadog`); a Datadog context is named by its trace id key.
//!
//! Bad input yields no context, never an error: a value that does not parse, invalid JSON or
//! base64 in `_datadog`, a header given twice with different values (ambiguous; `tracestate`
//! excepted, whose fields combine per RFC 7230), or a string above [`MAX_CARRIER_LEN`] ([`MAX_DATADOG_OBJECT_LEN`] for a `_datadog`
//! attribute).

use super::{datadog, w3c, xray, Format, Found};
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde_json::{Map, Value};

/// Longest carrier string read (a header value, an attribute value, base64 text); longer ones
/// are ignored so a hostile payload cannot make extraction expensive.
pub const MAX_CARRIER_LEN: usize = 8 * 1024;

/// Longest `_datadog` message attribute read (its text, or its base64): a Step Functions
/// context object (`States.JsonToString($$)`) names the execution, state and state machine
/// and may carry the execution's input, so it is allowed more than a header.
pub const MAX_DATADOG_OBJECT_LEN: usize = 64 * 1024;

/// The message attribute Datadog tracers write their JSON carrier to.
pub const DATADOG_ATTRIBUTE: &str = "_datadog";

/// AWS emits padded standard base64; unpadded input is accepted too since the bits are the same.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Contexts in HTTP headers (names case-insensitive). `carrier` prefixes the location,
/// e.g. `headers` gives `headers.traceparent`.
pub fn from_headers<'a, I>(headers: I, carrier: &str) -> Vec<Found>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut fields = Fields::default();
    for (name, value) in headers {
        if let Some(key) = Key::of(name) {
            fields.put(key, value, || join(carrier, key.name()));
        }
    }
    finish(fields.contexts())
}

/// Contexts in a JSON object of string values (`_datadog`, a W3C carrier dict). Datadog
/// ids and priority may also be JSON integers.
pub fn from_json_carrier(value: &Value, carrier: &str) -> Vec<Found> {
    match value.as_object() {
        Some(object) => finish(json_fields(object, |key| join(carrier, key)).contexts()),
        None => Vec::new(),
    }
}

/// Contexts in SQS `messageAttributes` (`{"name": {"stringValue"|"binaryValue", "dataType"}}`):
/// individual header attributes first, then the `_datadog` JSON carrier.
pub fn from_sqs_attributes(value: &Value, carrier: &str) -> Vec<Found> {
    from_attributes(value, carrier, sqs_text)
}

/// Contexts in SNS `MessageAttributes` (`{"name": {"Type": "String"|"Binary", "Value"}}`):
/// individual header attributes first, then the `_datadog` JSON carrier.
pub fn from_sns_attributes(value: &Value, carrier: &str) -> Vec<Found> {
    from_attributes(value, carrier, sns_text)
}

/// A `_datadog` carrier written as base64 JSON (Datadog's Lambda authorizer returns its
/// headers so): its contexts, each named `carrier`, and the object for its other fields.
/// Not base64 of a JSON object, or over [`MAX_DATADOG_OBJECT_LEN`]: nothing.
pub fn from_base64_datadog(text: &str, carrier: &str) -> (Vec<Found>, Option<Map<String, Value>>) {
    let object = decode_base64(text, MAX_DATADOG_OBJECT_LEN)
        .and_then(|json| serde_json::from_str::<Value>(&json).ok());
    match object {
        Some(Value::Object(object)) => {
            let found = finish(json_fields(&object, |_| carrier.to_owned()).contexts());
            (found, Some(object))
        }
        _ => (Vec::new(), None),
    }
}

/// Whether a message attribute or JSON key is read by this module as a trace carrier, so
/// decoders can leave it out of the attributes they report.
pub fn is_carrier_key(name: &str) -> bool {
    name == DATADOG_ATTRIBUTE || Key::of(name).is_some()
}

fn from_attributes(value: &Value, carrier: &str, text: TextOf) -> Vec<Found> {
    let Some(attributes) = value.as_object() else {
        return Vec::new();
    };
    let mut fields = Fields::default();
    let mut datadog = Vec::new();
    for (name, attribute) in attributes {
        if name == DATADOG_ATTRIBUTE {
            let location = join(carrier, name);
            if let Some(Value::Object(object)) = datadog_object(value, text) {
                datadog = json_fields(&object, |_| location.clone()).contexts();
            }
        } else if let Some(key) = Key::of(name) {
            if let Some(t) = text(attribute, MAX_CARRIER_LEN) {
                fields.put(key, &t, || join(carrier, name));
            }
        }
    }
    let mut found = fields.contexts();
    found.extend(datadog);
    finish(found)
}

/// The `_datadog` attribute of SQS `messageAttributes` (String, or base64 Binary as SNS
/// raw delivery maps it) parsed as a JSON object: Datadog headers, or a Step Functions
/// context object a state sent.
pub fn sqs_datadog_object(attributes: &Value) -> Option<Value> {
    datadog_object(attributes, sqs_text)
}

/// The `_datadog` attribute of SNS `MessageAttributes` (String or base64 Binary) parsed as
/// a JSON object.
pub fn sns_datadog_object(attributes: &Value) -> Option<Value> {
    datadog_object(attributes, sns_text)
}

/// Reads an attribute's text, up to a length.
type TextOf = fn(&Value, usize) -> Option<String>;

fn datadog_object(attributes: &Value, text: TextOf) -> Option<Value> {
    let attribute = attributes.get(DATADOG_ATTRIBUTE)?;
    match serde_json::from_str(&text(attribute, MAX_DATADOG_OBJECT_LEN)?).ok()? {
        object @ Value::Object(_) => Some(object),
        _ => None,
    }
}

/// The base type of a message attribute's data type. SQS and SNS let senders append a
/// custom label (`String.json`, `Binary.gzip`) that changes nothing in how the value is
/// carried, so a carrier under a labelled type is read as under its base type.
fn base_type(data_type: &str) -> Option<&'static str> {
    ["String", "Binary"]
        .into_iter()
        .find(|base| is_of_type(data_type, base))
}

/// Whether a message attribute's data type is `base`, with or without a custom label
/// (`String`, `String.json`; not `Stringy`).
pub(crate) fn is_of_type(data_type: &str, base: &str) -> bool {
    data_type
        .strip_prefix(base)
        .is_some_and(|label| label.is_empty() || label.starts_with('.'))
}

/// An SQS attribute's text: `stringValue` for `String`, decoded `binaryValue` for `Binary`.
fn sqs_text(attribute: &Value, max: usize) -> Option<String> {
    match base_type(attribute.get("dataType")?.as_str()?)? {
        "String" => bounded(attribute.get("stringValue")?.as_str()?, max).map(str::to_owned),
        _ => decode_base64(attribute.get("binaryValue")?.as_str()?, max),
    }
}

/// An SNS attribute's text: `Value` for `String`, decoded `Value` for `Binary`.
fn sns_text(attribute: &Value, max: usize) -> Option<String> {
    let value = attribute.get("Value")?.as_str()?;
    match base_type(attribute.get("Type")?.as_str()?)? {
        "String" => bounded(value, max).map(str::to_owned),
        _ => decode_base64(value, max),
    }
}

fn decode_base64(text: &str, max: usize) -> Option<String> {
    String::from_utf8(BASE64.decode(bounded(text, max)?).ok()?).ok()
}

fn bounded(text: &str, max: usize) -> Option<&str> {
    (text.len() <= max).then_some(text)
}

/// Reads a JSON carrier; `location` names where each key's value was found.
fn json_fields(object: &Map<String, Value>, location: impl Fn(&str) -> String) -> Fields {
    let mut fields = Fields::default();
    for (name, value) in object {
        let Some(key) = Key::of(name) else { continue };
        let text = match value {
            Value::String(s) => s.clone(),
            // Only integers convert exactly; a float id is not an id.
            Value::Number(n) if key.allows_number() && (n.is_u64() || n.is_i64()) => n.to_string(),
            _ => continue,
        };
        fields.put(key, &text, || location(name));
    }
    fields
}

/// Orders by format (stable, so carriers keep their order within a format) and drops a
/// repeat of the same format naming the same span.
fn finish(mut found: Vec<Found>) -> Vec<Found> {
    found.sort_by_key(|f| match f.context.format {
        Format::W3c => 0,
        Format::Datadog => 1,
        Format::Xray => 2,
    });
    let mut out: Vec<Found> = Vec::with_capacity(found.len());
    for f in found {
        if !out.iter().any(|o| o.repeats(&f)) {
            out.push(f);
        }
    }
    out
}

fn join(carrier: &str, name: &str) -> String {
    if carrier.is_empty() {
        name.to_owned()
    } else {
        format!("{carrier}.{name}")
    }
}

/// The header-like keys a carrier may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Traceparent,
    Tracestate,
    Xray,
    DdTraceId,
    DdParentId,
    DdPriority,
    DdTags,
}

impl Key {
    const ALL: [Key; 7] = [
        Key::Traceparent,
        Key::Tracestate,
        Key::Xray,
        Key::DdTraceId,
        Key::DdParentId,
        Key::DdPriority,
        Key::DdTags,
    ];

    fn of(name: &str) -> Option<Key> {
        Key::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// The canonical (lowercase) header name.
    fn name(self) -> &'static str {
        match self {
            Key::Traceparent => "traceparent",
            Key::Tracestate => "tracestate",
            Key::Xray => "x-amzn-trace-id",
            Key::DdTraceId => datadog::TRACE_ID,
            Key::DdParentId => datadog::PARENT_ID,
            Key::DdPriority => datadog::SAMPLING_PRIORITY,
            Key::DdTags => datadog::TAGS,
        }
    }

    fn allows_number(self) -> bool {
        matches!(self, Key::DdTraceId | Key::DdParentId | Key::DdPriority)
    }
}

/// One header's value and where it was found; a second, different value makes it ambiguous.
#[derive(Default)]
struct Slot {
    value: Option<(String, String)>,
    conflict: bool,
}

impl Slot {
    fn put(&mut self, value: &str, location: impl FnOnce() -> String) {
        match &self.value {
            Some((v, _)) if v == value => {}
            Some(_) => self.conflict = true,
            None => self.value = Some((value.to_owned(), location())),
        }
    }

    /// `Ok(None)` when absent, `Err` when ambiguous.
    fn get(&self) -> Result<Option<(&str, &str)>, ()> {
        if self.conflict {
            return Err(());
        }
        Ok(self.value.as_ref().map(|(v, l)| (v.as_str(), l.as_str())))
    }
}

/// The header-like values of one carrier.
#[derive(Default)]
struct Fields {
    traceparent: Slot,
    tracestate: Vec<String>,
    tracestate_len: usize,
    xray: Slot,
    dd_trace_id: Slot,
    dd_parent_id: Slot,
    dd_priority: Slot,
    dd_tags: Slot,
}

impl Fields {
    fn put(&mut self, key: Key, value: &str, location: impl FnOnce() -> String) {
        if value.len() > MAX_CARRIER_LEN {
            return;
        }
        let slot = match key {
            Key::Tracestate => {
                self.tracestate_len += value.len() + 1;
                self.tracestate.push(value.to_owned());
                return;
            }
            Key::Traceparent => &mut self.traceparent,
            Key::Xray => &mut self.xray,
            Key::DdTraceId => &mut self.dd_trace_id,
            Key::DdParentId => &mut self.dd_parent_id,
            Key::DdPriority => &mut self.dd_priority,
            Key::DdTags => &mut self.dd_tags,
        };
        slot.put(value, location);
    }

    fn contexts(&self) -> Vec<Found> {
        let mut out = Vec::new();
        if let Ok(Some((value, location))) = self.traceparent.get() {
            // Split tracestate fields combine with commas (RFC 7230 section 3.2.2).
            let state = (self.tracestate_len <= MAX_CARRIER_LEN).then(|| self.tracestate.join(","));
            if let Some(context) = w3c::parse_traceparent(value, state.as_deref()) {
                out.push(Found {
                    context,
                    carrier: location.to_owned(),
                });
            }
        }
        if let Ok(Some((value, location))) = self.xray.get() {
            if let Some(context) = xray::parse(value) {
                out.push(Found {
                    context,
                    carrier: location.to_owned(),
                });
            }
        }
        if let Some(found) = self.datadog() {
            out.push(found);
        }
        out
    }

    fn datadog(&self) -> Option<Found> {
        let (trace_id, location) = self.dd_trace_id.get().ok()??;
        let (parent_id, _) = self.dd_parent_id.get().ok()??;
        let priority = self.dd_priority.get().ok()?.map(|(v, _)| v);
        let tags = self.dd_tags.get().ok()?.map(|(v, _)| v);
        let context = datadog::from_fields(trace_id, parent_id, priority, tags)?;
        Some(Found {
            context,
            carrier: location.to_owned(),
        })
    }
}

#[cfg(test)]
#[path = "carrier_tests.rs"]
mod tests;
