//! S3 event notifications delivered to Lambda (`Records[].eventSource == "aws:s3"`).
//!
//! Every eventName shares one record shape (ObjectCreated:*, ObjectRemoved:*,
//! ObjectRestore:*, Replication:*, LifecycleExpiration:*, LifecycleTransition,
//! IntelligentTiering, ObjectTagging:*, ObjectAcl:Put); versions 2.2 and later add
//! operation-specific blocks that relink does not need. Each record becomes one item with
//! an S3 object pointer, so the write that caused it can be found.
//!
//! The object key is URL-encoded the way S3 documents it (`application/x-www-form-urlencoded`:
//! `red flower.jpg` arrives as `red+flower.jpg`); it is decoded here because producers name
//! the real key, and kept as written (`key_encoded`) when it differs, because Datadog's
//! Lambda consumers hash it as written: the pointer then has both hashes.
//!
//! The `s3:TestEvent` S3 sends when a notification target is configured is not a `Records`
//! event: it never reaches this decoder, and [`is_test_event`] lets carriers (SQS) skip it.

use super::{arn, Detail, Item, S3Detail, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{
    opt_obj, opt_rfc3339_as_nanos, opt_str, opt_u64, req_array, req_str, FieldPath, InElement,
};
use crate::pointer::{Pointer, S3Object};
use serde_json::Value;

const INPUT: &str = "s3 event";

/// Whether an event name (a notification's `eventName`, an EventBridge `detail-type`)
/// reports an object's write; any other is a [later event](S3Object::later_event). An
/// event without a name is taken as a write, and an `s3:` prefix is allowed: neither occurs
/// in a notification AWS sends (Datadog's libraries give no pointer for either), but
/// hand-written samples have both.
pub(super) fn is_write(event_name: Option<&str>) -> bool {
    // Notification records name `ObjectCreated:Put`; some samples write the `s3:` of the
    // notification configuration's event types in front.
    event_name.is_none_or(|name| {
        let name = name.strip_prefix("s3:").unwrap_or(name);
        name.starts_with("ObjectCreated:") || name == "Object Created"
    })
}

/// True for the `s3:TestEvent` message (`{"Service":"Amazon S3","Event":"s3:TestEvent",...}`)
/// S3 sends to a new notification destination. It names no object and triggers nothing.
pub(crate) fn is_test_event(value: &Value) -> bool {
    value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
}

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let records = req_array(value, "/Records", INPUT)?;
    let mut items = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        items.push(decode_record(record, index)?);
    }
    // A notification carries one record in practice; the first names the source.
    let bucket = opt_str(value, "/Records/0/s3/bucket/name", INPUT)?;
    let bucket_arn = opt_str(value, "/Records/0/s3/bucket/arn", INPUT)?;
    let region = opt_str(value, "/Records/0/awsRegion", INPUT)?;
    Ok(trigger(items, bucket_arn, bucket, region))
}

/// The trigger of a notification's items; the source is named by the first record's
/// bucket ARN, bucket name and region.
pub(super) fn trigger(
    items: Vec<Item>,
    bucket_arn: Option<&str>,
    bucket: Option<&str>,
    region: Option<&str>,
) -> Trigger {
    Trigger {
        kind: TriggerKind::S3,
        via: None,
        source: arn::source(bucket_arn, bucket, region),
        items,
        step_functions: None,
    }
}

/// The fields of a record relink reads, from the `Value` decoder below or the borrowed
/// one ([`super::s3_borrowed`]).
pub(super) struct RecordFields<'a> {
    /// The key as written in the notification, and decoded ([`decode_key`]).
    pub raw_key: &'a str,
    pub key: String,
    pub bucket: &'a str,
    pub etag: Option<&'a str>,
    pub version_id: Option<&'a str>,
    pub sequencer: Option<&'a str>,
    pub size: Option<u64>,
    pub request_id: Option<&'a str>,
    pub extended_request_id: Option<&'a str>,
    pub principal_id: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub event_name: Option<&'a str>,
    pub time_unix_nano: Option<u64>,
}

impl RecordFields<'_> {
    /// The record's item: its object pointer and S3 detail.
    pub(super) fn item(self) -> Item {
        let owned = |s: Option<&str>| s.map(str::to_owned);
        let request_id = owned(self.request_id);
        let key_encoded = (self.raw_key != self.key).then(|| self.raw_key.to_owned());
        let object = S3Object {
            bucket: self.bucket.to_owned(),
            key: self.key,
            key_encoded,
            etag: owned(self.etag),
            version_id: owned(self.version_id),
            sequencer: owned(self.sequencer),
            request_id: request_id.clone(),
            extended_request_id: owned(self.extended_request_id),
            later_event: !is_write(self.event_name),
        };
        let detail = S3Detail {
            size: self.size,
            principal_id: owned(self.principal_id),
            source_ip: owned(self.source_ip),
        };
        Item {
            id: request_id,
            event_name: owned(self.event_name),
            time_unix_nano: self.time_unix_nano,
            contexts: Vec::new(),
            pointers: vec![Pointer::S3Object(object)],
            detail: Some(Detail::S3(detail)),
            payload: None,
            step_functions: None,
        }
    }
}

/// Record `index` of `Records`; fields are read from the record, errors name
/// `Records.<index>.<field>`.
fn decode_record(record: &Value, index: usize) -> Result<Item, DecodeError> {
    let p = |field| InElement {
        array: "/Records",
        index,
        field,
    };
    let key_path = p("/s3/object/key");
    let raw_key = req_str(record, &key_path, INPUT)?;
    let key = decode_key(raw_key)
        .map_err(|message| crate::json::fields::invalid(INPUT, &key_path.full(), message))?;
    let request_id = opt_str(record, &p("/responseElements/x-amz-request-id"), INPUT)?;
    // responseElements is absent in some emulators' notifications; wrong types still fail.
    opt_obj(record, &p("/responseElements"), INPUT)?;
    let fields = RecordFields {
        raw_key,
        key,
        request_id,
        bucket: req_str(record, &p("/s3/bucket/name"), INPUT)?,
        etag: opt_str(record, &p("/s3/object/eTag"), INPUT)?,
        version_id: opt_str(record, &p("/s3/object/versionId"), INPUT)?,
        sequencer: opt_str(record, &p("/s3/object/sequencer"), INPUT)?,
        extended_request_id: opt_str(record, &p("/responseElements/x-amz-id-2"), INPUT)?,
        size: opt_u64(record, &p("/s3/object/size"), INPUT)?,
        principal_id: opt_str(record, &p("/userIdentity/principalId"), INPUT)?,
        source_ip: opt_str(record, &p("/requestParameters/sourceIPAddress"), INPUT)?,
        event_name: opt_str(record, &p("/eventName"), INPUT)?,
        time_unix_nano: opt_rfc3339_as_nanos(record, &p("/eventTime"), INPUT)?,
    };
    Ok(fields.item())
}

/// Decodes a notification key: `+` is a space, then percent-escapes are bytes, and the
/// bytes must be UTF-8 (S3 keys are). An escape that is not `%` and two hex digits stays as
/// written, as form decoders do. The error message is for the caller to attach a field to.
pub(crate) fn decode_key(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|e| format!("{raw:?} does not decode to UTF-8: {e}"))
}

#[cfg(test)]
#[path = "s3_tests.rs"]
mod tests;
