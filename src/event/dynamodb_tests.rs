use super::*;
use crate::event::decode_event_value;
use crate::event::test_fixtures::load as fixture;
use crate::pointer::hash_elements;
use serde_json::json;

fn item_pointer(item: &Item) -> &DynamodbItem {
    match item.pointers.as_slice() {
        [Pointer::DynamodbItem(p)] => p,
        other => panic!("pointers {other:?}"),
    }
}

#[test]
fn insert_modify_remove() {
    let v = fixture("datadog-lambda-python/dynamodb.json");
    let t = decode_event_value(&v).unwrap();
    assert_eq!(t.kind, TriggerKind::Dynamodb);
    assert_eq!(
        t.source,
        Source {
            arn: Some(
                "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream".into()
            ),
            name: Some("ExampleTableWithStream".into()),
            region: Some("us-east-1".into()),
            account: Some("123456789012".into()),
            ..Source::default()
        }
    );
    let first = Item {
        id: Some("c4ca4238a0b923820dcc509a6f75849b".into()),
        event_name: Some("INSERT".into()),
        time_unix_nano: Some(1_428_537_600_000_000_000),
        contexts: vec![],
        pointers: vec![Pointer::DynamodbItem(DynamodbItem {
            table: "ExampleTableWithStream".into(),
            keys: vec![("Id".into(), KeyValue::N("101".into()))],
            event_id: Some("c4ca4238a0b923820dcc509a6f75849b".into()),
            sequence_number: Some("4421584500000000017450439091".into()),
            approximate_creation_time: Some(1_428_537_600_000_000_000),
        })],
        detail: Some(Detail::Dynamodb(DynamodbDetail {
            stream_view_type: Some("NEW_AND_OLD_IMAGES".into()),
            size_bytes: Some(26),
            new_image: Some(json!({"Message": {"S": "New item!"}, "Id": {"N": "101"}})),
            old_image: None,
        })),
        payload: None,
        step_functions: None,
    };
    assert_eq!(t.items.first(), Some(&first));
    let names: Vec<_> = t.items.iter().map(|i| i.event_name.as_deref()).collect();
    assert_eq!(names, [Some("INSERT"), Some("MODIFY"), Some("REMOVE")]);
    let remove = &t.items[2];
    assert_eq!(
        item_pointer(remove).sequence_number.as_deref(),
        Some("4421584500000000017450439093")
    );
    let Some(Detail::Dynamodb(d)) = &remove.detail else {
        panic!()
    };
    assert_eq!((d.new_image.as_ref(), d.size_bytes), (None, Some(38)));
    assert_eq!(
        d.old_image,
        Some(json!({"Message": {"S": "This item has changed"}, "Id": {"N": "101"}}))
    );
    // All three records change the same item: one pointer hash.
    let want = hash_elements(&[b"ExampleTableWithStream", b"Id", b"101", b"", b""]);
    for item in &t.items {
        assert_eq!(item_pointer(item).hashes(), vec![want.clone()]);
    }
}

#[test]
fn two_string_keys_and_rich_images() {
    let t = decode(&fixture(
        "aws-lambda-rust-runtime/example-dynamodb-event.json",
    ))
    .unwrap();
    assert_eq!(t.items.len(), 2);
    let p = item_pointer(&t.items[0]);
    assert_eq!(p.table, "Example-Table");
    assert_eq!(
        p.keys,
        vec![
            ("key".into(), KeyValue::S("binary".into())),
            ("val".into(), KeyValue::S("data".into()))
        ]
    );
    assert_eq!(p.approximate_creation_time, Some(1_480_642_020_000_000_000));
    let Some(Detail::Dynamodb(d)) = &t.items[1].detail else {
        panic!()
    };
    let new = d.new_image.as_ref().unwrap();
    assert_eq!(
        new["Map"],
        json!({"M": {"Name": {"S": "Joe"}, "Age": {"N": "35"}}})
    );
    assert_eq!(new["EmptyStringSet"], json!({"SS": []}));
    assert_eq!(t.source.name.as_deref(), Some("Example-Table"));
}

#[test]
fn fractional_time_and_unparsable_source_arn() {
    let t = decode(&fixture("powertools-lambda-python/dynamoStreamEvent.json")).unwrap();
    assert_eq!(
        t.source,
        Source {
            arn: Some("eventsource_arn".into()),
            region: Some("us-west-2".into()),
            ..Source::default()
        }
    );
    let [insert, modify] = t.items.as_slice() else {
        panic!()
    };
    assert_eq!(insert.time_unix_nano, Some(1_693_997_155_000_000_000));
    assert_eq!(modify.time_unix_nano, None);
    // No table name anywhere: no pointer can be hashed.
    assert!(insert.pointers.is_empty() && modify.pointers.is_empty());
    assert_eq!(insert.id.as_deref(), Some("1"));

    let mut v = fixture("powertools-lambda-python/dynamoStreamEvent.json");
    v["Records"][0]["dynamodb"]["ApproximateCreationDateTime"] = json!(1693997155.123456);
    let t = decode(&v).unwrap();
    assert_eq!(t.items[0].time_unix_nano, Some(1_693_997_155_123_456_000));
}

#[test]
fn table_name_field_when_there_is_no_stream_arn() {
    let record =
        fixture("aws-lambda-rust-runtime/example-dynamodb-event-record-with-optional-fields.json");
    let t = decode(&json!({"Records": [record]})).unwrap();
    let p = item_pointer(&t.items[0]);
    assert_eq!(p.table, "examples");
    assert_eq!(
        p.keys,
        vec![(
            "id".into(),
            KeyValue::S("00000000-0000-0000-0000-000000000000".into())
        )]
    );
    assert_eq!(t.source.region.as_deref(), Some("eu-west-1"));
}

#[test]
fn binary_keys_keep_their_base64() {
    let mut v = fixture("datadog-lambda-python/dynamodb.json");
    v["Records"][0]["dynamodb"]["Keys"] = json!({"pk": {"B": "aGk="}, "sk": {"N": "1.50"}});
    let t = decode(&v).unwrap();
    let p = item_pointer(&t.items[0]);
    assert_eq!(
        p.keys,
        vec![
            ("pk".into(), KeyValue::B("aGk=".into())),
            ("sk".into(), KeyValue::N("1.50".into()))
        ]
    );
    assert_eq!(p.hashes().len(), 2);
}

#[test]
fn malformed_records_name_the_field() {
    let base = fixture("datadog-lambda-python/dynamodb.json");
    let err = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        decode(&v).unwrap_err().to_string()
    };
    assert_eq!(
        err(&|v| v["Records"][1]["dynamodb"]["Keys"]["Id"] = json!({"BOOL": true})),
        "dynamodb event: invalid field `Records.1.dynamodb.Keys.Id`: key attributes are S, N or B, found \"BOOL\""
    );
    assert_eq!(
        err(&|v| v["Records"][0]["dynamodb"]["Keys"]["a/b"] = json!({"SS": ["x"]})),
        "dynamodb event: invalid field `Records.0.dynamodb.Keys.a/b`: key attributes are S, N or B, found \"SS\""
    );
    assert_eq!(
        err(&|v| v["Records"][0]["dynamodb"]["Keys"]["Id"] = json!({"N": 101})),
        "dynamodb event: invalid field `Records.0.dynamodb.Keys.Id.N`: expected a string, found a number"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["dynamodb"]["Keys"]["Id"] = json!({"S": "a", "N": "1"})),
        "dynamodb event: invalid field `Records.0.dynamodb.Keys.Id`: expected one type, found 2"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["dynamodb"]["Keys"]["Id"] = json!("101")),
        "dynamodb event: invalid field `Records.0.dynamodb.Keys.Id`: expected a typed attribute value such as {\"S\": ...}"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["dynamodb"]["Keys"] = Value::Null),
        "dynamodb event: missing field `Records.0.dynamodb.Keys`"
    );
    assert_eq!(
        err(&|v| v["Records"][2]["dynamodb"] = json!([])),
        "dynamodb event: invalid field `Records.2.dynamodb`: expected an object, found an array"
    );
    assert_eq!(
        err(&|v| {
            v["Records"][0].as_object_mut().unwrap().remove("dynamodb");
        }),
        "dynamodb event: missing field `Records.0.dynamodb`"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["dynamodb"]["ApproximateCreationDateTime"] = json!(1e300)),
        "dynamodb event: invalid field `Records.0.dynamodb.ApproximateCreationDateTime`: \
         \"1e+300\" is not a plausible number of seconds"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["dynamodb"]["SizeBytes"] = json!(-26)),
        "dynamodb event: invalid field `Records.0.dynamodb.SizeBytes`: -26 is not an unsigned integer"
    );
    assert_eq!(
        err(&|v| v["Records"][0]["dynamodb"]["NewImage"] = json!("x")),
        "dynamodb event: invalid field `Records.0.dynamodb.NewImage`: expected an object, found a string"
    );
}
