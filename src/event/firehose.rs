//! Amazon Data Firehose transformation events (`deliveryStreamArn`, `records[]`).
//!
//! Each record becomes one item: `recordId`, base64 `data` (kept as JSON when it is JSON),
//! `approximateArrivalTimestamp` in milliseconds. A delivery stream reading from a Kinesis
//! stream adds `kinesisRecordMetadata`; its `{shardId}:{sequenceNumber}` is the same
//! Kinesis pointer the stream's producer and direct Kinesis consumers see. Direct PUT
//! records get no pointer: AWS does not document `recordId` as the `RecordId` PutRecord
//! returns, so it is not offered as a join key.

use super::{arn, kinesis, Detail, Item, MessageDetail, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{
    opt_millis_as_nanos, opt_obj, opt_str, opt_string, req_array, req_str, InElement,
};
use crate::pointer::{Message, Pointer};
use serde_json::Value;

const INPUT: &str = "firehose event";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let records = req_array(value, "/records", INPUT)?;
    let mut items = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        items.push(decode_record(record, index)?);
    }
    // Test payloads carry values such as `aws:lambda:events`, which name no stream.
    let stream_arn = opt_str(value, "/deliveryStreamArn", INPUT)?;
    let name = stream_arn
        .and_then(arn::parse)
        .and_then(|a| a.resource_after("deliverystream"));
    let region = opt_str(value, "/region", INPUT)?;
    Ok(Trigger {
        kind: TriggerKind::Firehose,
        via: None,
        source: arn::source(stream_arn, name, region),
        items,
        step_functions: None,
    })
}

/// Record `index` of `records`; fields are read from the record, errors name
/// `records.<index>.<field>`.
fn decode_record(value: &Value, index: usize) -> Result<Item, DecodeError> {
    let p = |field| InElement {
        array: "/records",
        index,
        field,
    };
    let id = req_str(value, &p("/recordId"), INPUT)?.to_owned();
    let (size, body_json) = kinesis::decode_data(value, &p("/data"), INPUT)?;
    let mut pointers = Vec::new();
    let mut detail = MessageDetail {
        body_size: Some(size),
        body_json,
        ..MessageDetail::default()
    };
    if opt_obj(value, &p("/kinesisRecordMetadata"), INPUT)?.is_some() {
        let shard = opt_str(value, &p("/kinesisRecordMetadata/shardId"), INPUT)?;
        let sequence = opt_str(value, &p("/kinesisRecordMetadata/sequenceNumber"), INPUT)?;
        if let (Some(shard), Some(sequence)) = (shard, sequence) {
            pointers.push(Pointer::Message(Message {
                service: "kinesis",
                id: format!("{shard}:{sequence}"),
            }));
        }
        detail.partition_key = opt_string(value, &p("/kinesisRecordMetadata/partitionKey"), INPUT)?;
        detail.sequence_number = sequence.map(str::to_owned);
    }
    Ok(Item {
        id: Some(id),
        event_name: None,
        time_unix_nano: opt_millis_as_nanos(value, &p("/approximateArrivalTimestamp"), INPUT)?,
        contexts: Vec::new(),
        pointers,
        detail: Some(Detail::Message(detail)),
        payload: None,
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
    fn direct_put() {
        let t = decode_event_value(&fixture(
            "powertools-lambda-python/kinesisFirehosePutEvent.json",
        ))
        .unwrap();
        assert_eq!(t.kind, TriggerKind::Firehose);
        assert_eq!(
            t.source,
            Source {
                arn: Some(
                    "arn:aws:firehose:us-east-2:123456789012:deliverystream/delivery-stream-name"
                        .into()
                ),
                name: Some("delivery-stream-name".into()),
                region: Some("us-east-2".into()),
                account: Some("123456789012".into()),
                ..Source::default()
            }
        );
        let want = vec![
            Item {
                id: Some("record1".into()),
                time_unix_nano: Some(1_664_029_185_290_000_000),
                detail: Some(Detail::Message(MessageDetail {
                    body_size: Some(11),
                    ..MessageDetail::default()
                })),
                ..Item::default()
            },
            Item {
                id: Some("record2".into()),
                time_unix_nano: Some(1_664_029_186_945_000_000),
                detail: Some(Detail::Message(MessageDetail {
                    body_size: Some(18),
                    body_json: Some(json!({"Hello": "World"})),
                    ..MessageDetail::default()
                })),
                ..Item::default()
            },
        ];
        assert_eq!(t.items, want);
    }

    #[test]
    fn kinesis_source_adds_the_kinesis_pointer() {
        let t = decode(&fixture(
            "powertools-lambda-python/kinesisFirehoseKinesisEvent.json",
        ))
        .unwrap();
        let item = &t.items[1];
        assert_eq!(
            item.pointers,
            vec![Pointer::Message(Message {
                service: "kinesis",
                id: "shardId-000000000001:49546986683135544286507457936321625675700192471156785155"
                    .into(),
            })]
        );
        let Some(Detail::Message(d)) = &item.detail else {
            panic!()
        };
        assert_eq!(
            d.partition_key.as_deref(),
            Some("4d1ad2b9-24f8-4b9d-a088-76e9947c318a")
        );
        assert_eq!(
            d.sequence_number.as_deref(),
            Some("49546986683135544286507457936321625675700192471156785155")
        );
        assert_eq!(item.time_unix_nano, Some(1_664_028_793_294_000_000));
    }

    #[test]
    fn non_arn_stream_and_given_region() {
        let t = decode(&fixture(
            "aws-lambda-rust-runtime/example-firehose-event.json",
        ))
        .unwrap();
        assert_eq!(
            t.source,
            Source {
                arn: Some("aws:lambda:events".into()),
                region: Some("us-west-2".into()),
                ..Source::default()
            }
        );
        assert_eq!(t.items.len(), 2);
        assert_eq!(t.items[0].time_unix_nano, Some(1_507_217_624_302_000_000));
        assert_eq!(
            t,
            decode(&fixture(
                "aws-lambda-rust-runtime/example-kinesis-firehose-event.json"
            ))
            .unwrap()
        );
    }

    #[test]
    fn sqs_messages_as_data_stay_data() {
        let t = decode(&fixture(
            "powertools-lambda-python/kinesisFirehoseSQSEvent.json",
        ))
        .unwrap();
        let Some(Detail::Message(d)) = &t.items[0].detail else {
            panic!()
        };
        let body = d.body_json.as_ref().unwrap();
        assert_eq!(
            body["messageId"],
            json!("5ab807d4-5644-4c55-97a3-47396635ac74")
        );
        assert_eq!(t.items[0].payload, None);
    }

    #[test]
    fn malformed_records_name_the_field() {
        let base = fixture("powertools-lambda-python/kinesisFirehoseKinesisEvent.json");
        let err = |f: &dyn Fn(&mut Value)| {
            let mut v = base.clone();
            f(&mut v);
            decode(&v).unwrap_err().to_string()
        };
        assert_eq!(
            err(&|v| v["records"][1]["data"] = json!("!!!!")),
            "firehose event: field `records.1.data` is not valid base64: Invalid symbol 33, offset 0."
        );
        assert_eq!(
            err(&|v| {
                v["records"][0].as_object_mut().unwrap().remove("recordId");
            }),
            "firehose event: missing field `records.0.recordId`"
        );
        assert_eq!(
            err(&|v| v["records"][0]["approximateArrivalTimestamp"] = json!(-5)),
            "firehose event: invalid field `records.0.approximateArrivalTimestamp`: -5 is not an unsigned integer"
        );
        assert_eq!(
            err(&|v| v["records"][0]["approximateArrivalTimestamp"] = json!(u64::MAX)),
            "firehose event: invalid field `records.0.approximateArrivalTimestamp`: \
             18446744073709551615 milliseconds is out of range"
        );
        assert_eq!(
            err(&|v| v["records"][0]["kinesisRecordMetadata"]["shardId"] = json!(0)),
            "firehose event: invalid field `records.0.kinesisRecordMetadata.shardId`: expected a string, found a number"
        );
        assert_eq!(
            err(&|v| v["records"] = json!({})),
            "firehose event: invalid field `records`: expected an array, found an object"
        );
        assert_eq!(
            err(&|v| v["deliveryStreamArn"] = json!(1)),
            "firehose event: invalid field `deliveryStreamArn`: expected a string, found a number"
        );
    }
}
