//! S3 object events delivered through EventBridge (`source: aws.s3`, detail-type
//! "Object Created", "Object Deleted", "Object Restore Completed", ...).
//!
//! The same facts as a notification record in EventBridge's envelope: `detail.bucket.name`,
//! `detail.object.{key, etag, version-id, sequencer, size}`, `detail.request-id`. Unlike
//! notifications, EventBridge gives the object key as written (AWS's examples show
//! `example-key` and keys with `/` and `:` unescaped), so it is not URL-decoded. The
//! trigger is kind S3 with `via: eventbridge`, so S3 pointers join the same way whichever
//! route the event took.

use super::{arn, Detail, Item, S3Detail, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{opt_rfc3339_as_nanos, opt_str, opt_string, opt_u64, req_str};
use crate::pointer::{Pointer, S3Object};
use serde_json::Value;

const INPUT: &str = "s3 eventbridge event";

/// True for the S3 object-level detail-types EventBridge delivers
/// ("Object Created", "Object Deleted", ...).
pub(crate) fn is_object_event(value: &Value) -> bool {
    value
        .get("detail-type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("Object "))
}

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let bucket = req_str(value, "/detail/bucket/name", INPUT)?;
    let object = S3Object {
        bucket: bucket.to_owned(),
        key: req_str(value, "/detail/object/key", INPUT)?.to_owned(),
        key_encoded: None,
        etag: opt_string(value, "/detail/object/etag", INPUT)?,
        version_id: opt_string(value, "/detail/object/version-id", INPUT)?,
        sequencer: opt_string(value, "/detail/object/sequencer", INPUT)?,
        request_id: opt_string(value, "/detail/request-id", INPUT)?,
        extended_request_id: None,
        later_event: !super::s3::is_write(opt_str(value, "/detail-type", INPUT)?),
    };
    let detail = S3Detail {
        size: opt_u64(value, "/detail/object/size", INPUT)?,
        principal_id: opt_string(value, "/detail/requester", INPUT)?,
        source_ip: opt_string(value, "/detail/source-ip-address", INPUT)?,
    };
    let item = Item {
        id: Some(req_str(value, "/id", INPUT)?.to_owned()),
        event_name: opt_string(value, "/detail-type", INPUT)?,
        time_unix_nano: opt_rfc3339_as_nanos(value, "/time", INPUT)?,
        contexts: Vec::new(),
        pointers: vec![Pointer::S3Object(object)],
        detail: Some(Detail::S3(detail)),
        payload: None,
        step_functions: None,
    };
    // `resources` holds the bucket ARN; S3 bucket ARNs have no region or account, which
    // the envelope gives instead.
    let bucket_arn = match opt_str(value, "/resources/0", INPUT)? {
        Some(a) if a.starts_with("arn:") => a.to_owned(),
        _ => format!("arn:aws:s3:::{bucket}"),
    };
    let mut source = arn::source(
        Some(&bucket_arn),
        Some(bucket),
        opt_str(value, "/region", INPUT)?,
    );
    source.account = opt_string(value, "/account", INPUT)?;
    Ok(Trigger {
        kind: TriggerKind::S3,
        via: Some("eventbridge"),
        source,
        items: vec![item],
        step_functions: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::test_fixtures::load as fixture;
    use crate::event::{decode_event_value, Source};
    use serde_json::json;

    #[test]
    fn object_created() {
        let v =
            fixture("powertools-lambda-python/s3EventBridgeNotificationObjectCreatedEvent.json");
        let want = Trigger {
            kind: TriggerKind::S3,
            via: Some("eventbridge"),
            source: Source {
                arn: Some("arn:aws:s3:::example-bucket".into()),
                name: Some("example-bucket".into()),
                region: Some("eu-west-1".into()),
                account: Some("123456789012".into()),
                ..Source::default()
            },
            items: vec![Item {
                id: Some("f5f1e65c-dc3a-93ca-6c1e-b1647eac7963".into()),
                event_name: Some("Object Created".into()),
                time_unix_nano: Some(1_678_297_814_000_000_000),
                contexts: vec![],
                pointers: vec![Pointer::S3Object(S3Object {
                    bucket: "example-bucket".into(),
                    key: "IMG_m7fzo3.jpg".into(),
                    key_encoded: None,
                    etag: Some("4e68adba0abe2dc8653dc3354e14c01d".into()),
                    version_id: None,
                    sequencer: Some("006408CAD69598B05E".into()),
                    request_id: Some("57H08PA84AB1JZW0".into()),
                    extended_request_id: None,
                    later_event: false,
                })],
                detail: Some(Detail::S3(S3Detail {
                    size: Some(184_662),
                    principal_id: Some("123456789012".into()),
                    source_ip: Some("34.252.34.74".into()),
                })),
                payload: None,
                step_functions: None,
            }],
            step_functions: None,
        };
        assert_eq!(decode(&v).unwrap(), want);
        assert_eq!(decode_event_value(&v).unwrap(), want);
    }

    #[test]
    fn deleted_expired_and_restored() {
        for (file, name, etag, request) in [
            (
                "s3EventBridgeNotificationObjectDeletedEvent.json",
                "Object Deleted",
                None,
                "0BH729840619AG5K",
            ),
            (
                "s3EventBridgeNotificationObjectExpiredEvent.json",
                "Object Deleted",
                Some("4e68adba0abe2dc8653dc3354e14c01d"),
                "20EB74C14654DC47",
            ),
            (
                "s3EventBridgeNotificationObjectRestoreCompletedEvent.json",
                "Object Restore Completed",
                Some("4e68adba0abe2dc8653dc3354e14c01d"),
                "189F19CB7FB1B6A4",
            ),
        ] {
            let t =
                decode_event_value(&fixture(&format!("powertools-lambda-python/{file}"))).unwrap();
            assert_eq!(
                (t.kind, t.via),
                (TriggerKind::S3, Some("eventbridge")),
                "{file}"
            );
            assert_eq!(t.source.region.as_deref(), Some("ca-central-1"));
            assert_eq!(t.source.account.as_deref(), Some("111122223333"));
            let item = &t.items[0];
            assert_eq!(item.event_name.as_deref(), Some(name));
            assert_eq!(item.time_unix_nano, Some(1_636_675_200_000_000_000));
            let [Pointer::S3Object(o)] = item.pointers.as_slice() else {
                panic!("{file}")
            };
            assert_eq!(
                (o.key.as_str(), o.etag.as_deref()),
                ("IMG_m7fzo3.jpg", etag)
            );
            assert_eq!(o.request_id.as_deref(), Some(request));
        }
    }

    #[test]
    fn keys_are_not_url_decoded_and_version_ids_are_read() {
        let mut v =
            fixture("powertools-lambda-python/s3EventBridgeNotificationObjectCreatedEvent.json");
        v["detail"]["object"]["key"] = json!("raw/a+b %41.zip");
        v["detail"]["object"]["version-id"] = json!("uhggCJ2_B6gU2JaXWXebnXFDstO0ID6G");
        v["resources"] = json!([]);
        let t = decode(&v).unwrap();
        let [Pointer::S3Object(o)] = t.items[0].pointers.as_slice() else {
            panic!()
        };
        assert_eq!(o.key, "raw/a+b %41.zip");
        assert_eq!(
            o.version_id.as_deref(),
            Some("uhggCJ2_B6gU2JaXWXebnXFDstO0ID6G")
        );
        assert_eq!(t.source.arn.as_deref(), Some("arn:aws:s3:::example-bucket"));
    }

    #[test]
    fn detection() {
        let v =
            fixture("powertools-lambda-python/s3EventBridgeNotificationObjectCreatedEvent.json");
        assert!(is_object_event(&v));
        let mut other = v.clone();
        other["detail-type"] = json!("AWS API Call via CloudTrail");
        assert!(!is_object_event(&other));
        assert_eq!(
            decode_event_value(&other).unwrap().kind,
            TriggerKind::Eventbridge
        );
    }

    #[test]
    fn malformed_details_name_the_field() {
        let v =
            fixture("powertools-lambda-python/s3EventBridgeNotificationObjectCreatedEvent.json");
        let err = |f: &dyn Fn(&mut Value)| {
            let mut v = v.clone();
            f(&mut v);
            decode(&v).unwrap_err().to_string()
        };
        assert_eq!(
            err(&|v| v["detail"]["object"] = json!({})),
            "s3 eventbridge event: missing field `detail.object.key`"
        );
        assert_eq!(
            err(&|v| v["detail"]["bucket"]["name"] = json!(["b"])),
            "s3 eventbridge event: invalid field `detail.bucket.name`: expected a string, found an array"
        );
        assert_eq!(
            err(&|v| v["detail"]["object"]["size"] = json!("big")),
            "s3 eventbridge event: invalid field `detail.object.size`: \"big\" is not an unsigned integer"
        );
        assert_eq!(
            err(&|v| v["time"] = json!("2023-03-08")),
            "s3 eventbridge event: invalid field `time`: \"2023-03-08\" is not an RFC 3339 time"
        );
        assert_eq!(
            err(&|v| v["id"] = Value::Null),
            "s3 eventbridge event: missing field `id`"
        );
    }
}
