use super::*;
use crate::event::test_fixtures::load as fixture;
use crate::event::{decode_event, decode_event_value, Source};
use serde_json::json;

fn with(mut v: Value, pointer: &str, new: Value) -> Value {
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = new;
    v
}

fn only_object(t: &Trigger) -> &S3Object {
    match t.items.as_slice() {
        [Item { pointers, .. }] => match pointers.as_slice() {
            [Pointer::S3Object(o)] => o,
            other => panic!("pointers {other:?}"),
        },
        other => panic!("items {other:?}"),
    }
}

#[test]
fn decodes_the_documented_record() {
    let t = decode(&fixture("aws-lambda-rust-runtime/example-s3-event.json")).unwrap();
    let want = Trigger {
        kind: TriggerKind::S3,
        via: None,
        source: Source {
            arn: Some("arn:aws:s3:::mybucket".into()),
            name: Some("sourcebucket".into()),
            region: Some("us-east-1".into()),
            ..Source::default()
        },
        items: vec![Item {
            id: Some("C3D13FE58DE4C810".into()),
            event_name: Some("ObjectCreated:Put".into()),
            time_unix_nano: Some(123_000_000),
            contexts: vec![],
            pointers: vec![Pointer::S3Object(S3Object {
                bucket: "sourcebucket".into(),
                key: "Happy Face.jpg".into(),
                key_encoded: Some("Happy%20Face.jpg".into()),
                etag: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
                version_id: Some("version".into()),
                sequencer: Some("Happy Sequencer".into()),
                request_id: Some("C3D13FE58DE4C810".into()),
                extended_request_id: Some(
                    "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD".into(),
                ),
                later_event: false,
            })],
            detail: Some(Detail::S3(S3Detail {
                size: Some(1024),
                principal_id: Some("EXAMPLE".into()),
                source_ip: Some("127.0.0.1".into()),
            })),
            payload: None,
            step_functions: None,
        }],
        step_functions: None,
    };
    assert_eq!(t, want);
    // Detection dispatches here too.
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/aws-lambda-rust-runtime/example-s3-event.json"
    ))
    .unwrap();
    assert_eq!(decode_event(&bytes).unwrap(), want);
}

#[test]
fn delete_without_etag_or_size() {
    let t = decode(&fixture(
        "powertools-lambda-python/s3EventDeleteObject.json",
    ))
    .unwrap();
    let o = only_object(&t);
    assert_eq!(o.bucket, "lambda-artifacts-deafc19498e3f2df");
    assert_eq!(o.key, "b21b84d653bb07b05b1e6b33684dc11b");
    assert_eq!((o.etag.as_deref(), o.version_id.as_deref()), (None, None));
    assert_eq!(o.sequencer.as_deref(), Some("0C0F6F405D6ED209E1"));
    assert_eq!(o.hash(), None);
    let item = &t.items[0];
    assert_eq!(item.event_name.as_deref(), Some("ObjectRemoved:Delete"));
    assert_eq!(item.time_unix_nano, Some(1_567_539_447_192_000_000));
    assert_eq!(
        item.detail,
        Some(Detail::S3(S3Detail {
            size: None,
            principal_id: Some("AWS:AIDAINPONIXQXHT3IKHL2".into()),
            source_ip: Some("205.255.255.255".into()),
        }))
    );
    assert_eq!(t.source.region.as_deref(), Some("us-east-2"));
}

#[test]
fn datadog_fixture_keeps_slashes_and_hashes() {
    let t = decode(&fixture("datadog-lambda-python/s3.json")).unwrap();
    let o = only_object(&t);
    assert_eq!(o.key, "test/key");
    assert_eq!(o.request_id.as_deref(), Some("EXAMPLE123456789"));
    assert_eq!(
        o.hash(),
        Some(crate::pointer::hash_elements(&[
            b"example-bucket",
            b"test/key",
            b"0123456789abcdef0123456789abcdef"
        ]))
    );
    assert_eq!(t.items[0].time_unix_nano, Some(0));
}

#[test]
fn glacier_restore_record_decodes() {
    let t = decode(&fixture("powertools-lambda-python/s3EventGlacier.json")).unwrap();
    assert_eq!(
        only_object(&t).etag.as_deref(),
        Some("b21b84d653bb07b05b1e6b33684dc11b")
    );
}

#[test]
fn every_event_name_shares_the_shape() {
    let base = fixture("aws-lambda-rust-runtime/example-s3-event.json");
    for name in [
        "ObjectCreated:Put",
        "ObjectCreated:Post",
        "ObjectCreated:Copy",
        "ObjectCreated:CompleteMultipartUpload",
        "ObjectRemoved:Delete",
        "ObjectRemoved:DeleteMarkerCreated",
        "ObjectRestore:Post",
        "ObjectRestore:Completed",
        "ObjectRestore:Delete",
        "Replication:OperationFailedReplication",
        "Replication:OperationMissedThreshold",
        "Replication:OperationReplicatedAfterThreshold",
        "Replication:OperationNotTracked",
        "LifecycleExpiration:Delete",
        "LifecycleExpiration:DeleteMarkerCreated",
        "LifecycleTransition",
        "IntelligentTiering",
        "ObjectTagging:Put",
        "ObjectTagging:Delete",
        "ObjectAcl:Put",
    ] {
        let t = decode(&with(base.clone(), "/Records/0/eventName", json!(name))).unwrap();
        assert_eq!(t.items[0].event_name.as_deref(), Some(name));
        assert_eq!(only_object(&t).key, "Happy Face.jpg");
    }
}

#[test]
fn key_decoding() {
    assert_eq!(
        decode_key("red+flower.jpg").as_deref(),
        Ok("red flower.jpg")
    );
    assert_eq!(
        decode_key("dir%2Fmy+file.txt").as_deref(),
        Ok("dir/my file.txt")
    );
    assert_eq!(decode_key("a%2Bb").as_deref(), Ok("a+b"));
    assert_eq!(
        decode_key("some-key.%E4%BD%A0%E5%A5%BD").as_deref(),
        Ok("some-key.你好")
    );
    assert_eq!(decode_key("%e4%bd%a0").as_deref(), Ok("你"));
    assert_eq!(decode_key("100%").as_deref(), Ok("100%"));
    assert_eq!(decode_key("50%zz").as_deref(), Ok("50%zz"));
    assert_eq!(decode_key("").as_deref(), Ok(""));
    assert!(decode_key("%E4%BD").is_err());
    assert!(decode_key("%FF").is_err());
}

#[test]
fn chinese_key_matches_the_datadog_vector() {
    let v = with(
        with(
            fixture("datadog-lambda-python/s3.json"),
            "/Records/0/s3/object/key",
            json!("some-key.%E4%BD%A0%E5%A5%BD"),
        ),
        "/Records/0/s3/bucket/name",
        json!("some-bucket"),
    );
    let v = with(v, "/Records/0/s3/object/eTag", json!("ab12ef34"));
    assert_eq!(
        only_object(&decode(&v).unwrap()).hash().as_deref(),
        Some("d1333a04b9928ab462b5c6cadfa401f4")
    );
}

#[test]
fn malformed_records_name_the_field() {
    let base = fixture("aws-lambda-rust-runtime/example-s3-event.json");
    let err = |v: Value| decode(&v).unwrap_err().to_string();
    assert_eq!(
        err(with(
            base.clone(),
            "/Records/0/s3/object/key",
            json!("%FF%FE")
        )),
        "s3 event: invalid field `Records.0.s3.object.key`: \"%FF%FE\" does not decode to UTF-8: \
         invalid utf-8 sequence of 1 bytes from index 0"
    );
    assert_eq!(
        err(with(base.clone(), "/Records/0/s3/object/key", json!(7))),
        "s3 event: invalid field `Records.0.s3.object.key`: expected a string, found a number"
    );
    assert_eq!(
        err(with(base.clone(), "/Records/0/s3/bucket", json!({}))),
        "s3 event: missing field `Records.0.s3.bucket.name`"
    );
    assert_eq!(
        err(with(base.clone(), "/Records/0/s3/object/size", json!(1e30))),
        "s3 event: invalid field `Records.0.s3.object.size`: 1e+30 is not an unsigned integer"
    );
    assert_eq!(
        err(with(base.clone(), "/Records/0/s3/object/size", json!(-1))),
        "s3 event: invalid field `Records.0.s3.object.size`: -1 is not an unsigned integer"
    );
    assert_eq!(
        err(with(
            base.clone(),
            "/Records/0/eventTime",
            json!("1970-01-01")
        )),
        "s3 event: invalid field `Records.0.eventTime`: \"1970-01-01\" is not an RFC 3339 time"
    );
    assert_eq!(
        err(with(
            base.clone(),
            "/Records/0/responseElements",
            json!("x")
        )),
        "s3 event: invalid field `Records.0.responseElements`: expected an object, found a string"
    );
    assert_eq!(
        err(json!({"Records": {}})),
        "s3 event: invalid field `Records`: expected an array, found an object"
    );
    // A second, broken record fails the batch with its own index.
    let mut two = base.clone();
    let mut second = base["Records"][0].clone();
    second["s3"]["object"] = json!({"size": 1});
    two["Records"].as_array_mut().unwrap().push(second);
    assert_eq!(
        err(two),
        "s3 event: missing field `Records.1.s3.object.key`"
    );
}

#[test]
fn test_event_is_recognised_and_not_a_trigger() {
    let test_event = json!({
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2014-10-13T15:57:02.089Z",
        "Bucket": "bucketname", "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
    });
    assert!(is_test_event(&test_event));
    assert!(!is_test_event(&fixture("datadog-lambda-python/s3.json")));
    assert!(matches!(
        decode_event_value(&test_event),
        Err(DecodeError::UnknownEvent { .. })
    ));
}
