//! S3 notifications read from the borrowed JSON tree (`json::borrowed`): the fields relink
//! needs, without building a `serde_json::Value` of the whole event.
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
use crate::json::borrowed::Json;

/// The trigger of an S3 notification in its plain shape, or `None` (see the module docs).
pub(crate) fn decode(event: &Json<'_>) -> Option<Trigger> {
    // Nothing but `Records`: other top-level keys could make it another kind of event or
    // carry a Step Functions context.
    let records = event.only("Records")?.elements()?;
    let first = records.first()?;
    if first.text("eventSource")? != Some("aws:s3") {
        return None;
    }
    let mut items = Vec::with_capacity(records.len());
    for record in records {
        items.push(fields(record)?.item());
    }
    // The first record has its bucket: `fields` required it.
    let bucket = first.object("s3")??.object("bucket")??;
    Some(trigger(
        items,
        bucket.text("arn")?,
        bucket.text("name")?,
        first.text("awsRegion")?,
    ))
}

/// The fields of one record, or `None` where the `Value` decoder would fail or read
/// something else.
fn fields<'r>(record: &'r Json<'_>) -> Option<RecordFields<'r>> {
    // Every member read, of the type S3 sends; a wrong type anywhere declines.
    let s3 = record.object("s3")??;
    let object = s3.object("object")??;
    let bucket = s3.object("bucket")??;
    let identity = record.object("userIdentity")?;
    let request = record.object("requestParameters")?;
    let response = record.object("responseElements")?;
    let raw_key = object.text("key")??;
    let size = match object.get("size") {
        None | Some(Json::Null) => None,
        // A JSON number only; a decimal string (which the `Value` decoder also takes) is
        // left to it.
        Some(Json::Unsigned(n)) => Some(*n),
        Some(_) => return None,
    };
    let time_unix_nano = match record.text("eventTime")? {
        Some(time) => Some(crate::time::parse_rfc3339(time)?),
        None => None,
    };
    bucket.text("arn")?;
    record.text("eventSource")?;
    record.text("awsRegion")?;
    Some(RecordFields {
        raw_key,
        key: decode_key(raw_key).ok()?,
        bucket: bucket.text("name")??,
        etag: object.text("eTag")?,
        version_id: object.text("versionId")?,
        sequencer: object.text("sequencer")?,
        size,
        request_id: Json::text_in(response, "x-amz-request-id")?,
        extended_request_id: Json::text_in(response, "x-amz-id-2")?,
        principal_id: Json::text_in(identity, "principalId")?,
        source_ip: Json::text_in(request, "sourceIPAddress")?,
        event_name: record.text("eventName")?,
        time_unix_nano,
    })
}

#[cfg(test)]
#[path = "s3_borrowed_tests.rs"]
mod tests;
