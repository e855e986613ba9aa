//! S3 notifications read straight from the JSON text, borrowed: the fields relink needs,
//! without building a `serde_json::Value` of the whole event.
//!
//! Every consumer span of an S3-triggered Lambda carries its notification, so this is the
//! most common trigger event in evidence. [`decode`] answers only for the plain shape
//! (top-level `Records` alone, the first record's `eventSource` `aws:s3`, every field it
//! reads of the type S3 sends) and gives `None` for anything else, wrong or unusual alike;
//! the caller then runs the `Value` decoders, so every error (and every unusual input
//! they accept) comes from the one place. What it gives equals what [`super::decode_event`]
//! gives for the same text (tested over every fixture).

use super::s3::{decode_key, trigger, RecordFields};
use super::Trigger;
use crate::json::strict::Text;
use serde::Deserialize;

/// The notification: nothing but `Records` (other top-level keys could make it another
/// kind of event or carry a Step Functions context).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Notification<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<Record<'a>>,
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "eventSource", borrow)]
    event_source: Option<Text<'a>>,
    #[serde(rename = "eventName", borrow)]
    event_name: Option<Text<'a>>,
    #[serde(rename = "eventTime", borrow)]
    event_time: Option<Text<'a>>,
    #[serde(rename = "awsRegion", borrow)]
    aws_region: Option<Text<'a>>,
    #[serde(rename = "userIdentity", borrow)]
    user_identity: Option<UserIdentity<'a>>,
    #[serde(rename = "requestParameters", borrow)]
    request_parameters: Option<RequestParameters<'a>>,
    #[serde(rename = "responseElements", borrow)]
    response_elements: Option<ResponseElements<'a>>,
    #[serde(borrow)]
    s3: Option<Entity<'a>>,
}

#[derive(Deserialize)]
struct UserIdentity<'a> {
    #[serde(rename = "principalId", borrow)]
    principal_id: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct RequestParameters<'a> {
    #[serde(rename = "sourceIPAddress", borrow)]
    source_ip: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct ResponseElements<'a> {
    #[serde(rename = "x-amz-request-id", borrow)]
    request_id: Option<Text<'a>>,
    #[serde(rename = "x-amz-id-2", borrow)]
    extended_request_id: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Entity<'a> {
    #[serde(borrow)]
    bucket: Option<Bucket<'a>>,
    #[serde(borrow)]
    object: Option<Object<'a>>,
}

#[derive(Deserialize)]
struct Bucket<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    arn: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Object<'a> {
    #[serde(borrow)]
    key: Option<Text<'a>>,
    #[serde(rename = "eTag", borrow)]
    etag: Option<Text<'a>>,
    #[serde(rename = "versionId", borrow)]
    version_id: Option<Text<'a>>,
    #[serde(borrow)]
    sequencer: Option<Text<'a>>,
    /// A JSON number only; a decimal string (which the `Value` decoder also takes) is left
    /// to it.
    size: Option<u64>,
}

/// The trigger of an S3 notification in its plain shape, or `None` (see the module docs).
pub(crate) fn decode(text: &str) -> Option<Trigger> {
    // Duplicate keys make the event invalid JSON for relink; serde derive would keep one.
    crate::json::strict::check(text).ok()?;
    let notification: Notification = serde_json::from_str(text).ok()?;
    let first = notification.records.first()?;
    if text_of(&first.event_source) != Some("aws:s3") {
        return None;
    }
    let mut items = Vec::with_capacity(notification.records.len());
    for record in &notification.records {
        items.push(fields(record)?.item());
    }
    let bucket = first.s3.as_ref().and_then(|s3| s3.bucket.as_ref());
    Some(trigger(
        items,
        bucket.and_then(|b| text_of(&b.arn)),
        bucket.and_then(|b| text_of(&b.name)),
        text_of(&first.aws_region),
    ))
}

/// The fields of one record, or `None` where the `Value` decoder would fail.
fn fields<'r>(record: &'r Record<'_>) -> Option<RecordFields<'r>> {
    let s3 = record.s3.as_ref()?;
    let object = s3.object.as_ref()?;
    let raw_key = text_of(&object.key)?;
    let bucket = text_of(&s3.bucket.as_ref()?.name)?;
    let key = decode_key(raw_key).ok()?;
    let time_unix_nano = match text_of(&record.event_time) {
        Some(time) => Some(crate::time::parse_rfc3339(time)?),
        None => None,
    };
    let response = record.response_elements.as_ref();
    Some(RecordFields {
        raw_key,
        key,
        bucket,
        etag: text_of(&object.etag),
        version_id: text_of(&object.version_id),
        sequencer: text_of(&object.sequencer),
        size: object.size,
        request_id: response.and_then(|r| text_of(&r.request_id)),
        extended_request_id: response.and_then(|r| text_of(&r.extended_request_id)),
        principal_id: record
            .user_identity
            .as_ref()
            .and_then(|u| text_of(&u.principal_id)),
        source_ip: record
            .request_parameters
            .as_ref()
            .and_then(|r| text_of(&r.source_ip)),
        event_name: text_of(&record.event_name),
        time_unix_nano,
    })
}

fn text_of<'r>(field: &'r Option<Text<'_>>) -> Option<&'r str> {
    field.as_ref().map(|t| t.0.as_ref())
}

#[cfg(test)]
#[path = "s3_borrowed_tests.rs"]
mod tests;
