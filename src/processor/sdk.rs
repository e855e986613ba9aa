//! Producer evidence from AWS SDK client spans, as the OpenTelemetry instrumentations
//! record them (read from their source, not guessed):
//!
//! | fact | Python botocore | Node aws-sdk | Java aws-sdk 2.2 / 1.11 |
//! |---|---|---|---|
//! | marker | `rpc.system=aws-api` | same | same |
//! | service | `rpc.service` `S3`, `DynamoDB`, `SQS`, `SNS`, `EventBridge`, `Kinesis`, `SFN`, `Lambda` | same ids | `S3` / `Amazon S3`, `AmazonSQS`, `AWSLambda`, ... |
//! | operation | `rpc.method` `PutObject` | same | same |
//! | request id | `aws.request_id` | `aws.request.id` | `aws.request_id` / `aws.requestId` |
//! | bucket | (none: hooks add `aws.s3.bucket`) | `aws.s3.bucket` | `aws.bucket.name` |
//! | object key | (none: hooks add `aws.s3.key`) | (hooks) | (hooks) |
//! | table | `aws.dynamodb.table_names` | `aws.dynamodb.table_names`, `db.name` | `aws.dynamodb.table_names` / `aws.table.name` |
//! | message id | `messaging.message.id` (SendMessage; first of a batch) | `messaging.message_id` (SendMessage) | `messaging.message.id` |
//!
//! The ETag, the DynamoDB key values and the ids of whole batches are recorded by no
//! instrumentation; relink reads them from the attributes its hooks add
//! (`attributes.s3_etag`, `attributes.dynamodb_keys`, `attributes.message_ids`).
//! A span whose status is ERROR wrote nothing and proves nothing.

use super::claims::{Problem, SpanEvidence};
use super::key::{push_claim, Claim, Key, Rule};
use super::view::SpanView;
use crate::pointer::{DynamodbItem, KeyValue};
use crate::settings::Settings;
use serde_json::{Map, Value};

const REQUEST_ID: &[&str] = &["aws.request_id", "aws.request.id", "aws.requestId"];
const BUCKET: &[&str] = &["aws.s3.bucket", "aws.bucket.name"];
const OBJECT_KEY: &[&str] = &["aws.s3.key"];
const MESSAGE_ID: &[&str] = &["messaging.message.id", "messaging.message_id"];

/// The S3 operations that write an object, so that its notification (`ObjectCreated`) names it.
const S3_WRITES: [&str; 3] = ["PutObject", "CopyObject", "CompleteMultipartUpload"];
/// The DynamoDB operations that write an item, so that a stream record names it.
const DYNAMODB_WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

/// Whether `operation` (as `rpc.method` or a Datadog `aws.operation` names it: `PutObject`,
/// `putObject`, `S3.PutObject`, `PutObjectRequest`) writes what a pointer of `rule` names.
pub(crate) fn writes(rule: Rule, operation: &str) -> bool {
    let name = operation.rsplit('.').next().unwrap_or(operation);
    let name = name.strip_suffix("Request").unwrap_or(name);
    let writes: &[&str] = match rule {
        Rule::S3Object => &S3_WRITES,
        Rule::DynamodbItem => &DYNAMODB_WRITES,
        _ => return true,
    };
    writes.iter().any(|w| w.eq_ignore_ascii_case(name))
}

/// The service of an `rpc.service` value, whichever SDK wrote it: lowercase letters and
/// digits with an `amazon`/`aws` prefix removed (`Amazon S3` and `S3` are both `s3`).
fn service(raw: &str) -> String {
    let s: String = raw
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let s = s
        .strip_prefix("amazon")
        .or_else(|| s.strip_prefix("aws"))
        .unwrap_or(&s);
    s.to_string()
}

pub(crate) fn producer_claims(span: &SpanView<'_>, config: &Settings, ev: &mut SpanEvidence) {
    let limit = config.bounds.attributes_scanned;
    let a = &span.attributes;
    if a.get_str("rpc.system", limit) != Some("aws-api") {
        return;
    }
    if span.error {
        return;
    }
    let (Some(svc), Some(op)) = (
        a.get_str("rpc.service", limit),
        a.get_str("rpc.method", limit),
    ) else {
        return;
    };
    let svc = service(svc);
    match (svc.as_str(), op) {
        ("s3", op) if S3_WRITES.contains(&op) => s3(span, config, ev),
        (s, op) if s.starts_with("dynamodb") && DYNAMODB_WRITES.contains(&op) => {
            dynamodb(span, config, ev)
        }
        ("sqs", "SendMessage" | "SendMessageBatch") => messages(span, config, Rule::SqsMessage, ev),
        ("sns", "Publish" | "PublishBatch") => messages(span, config, Rule::SnsMessage, ev),
        ("eventbridge" | "cloudwatchevents", "PutEvents") => {
            messages(span, config, Rule::EventbridgeEvent, ev)
        }
        ("kinesis", "PutRecord" | "PutRecords") => messages(span, config, Rule::KinesisRecord, ev),
        ("sfn" | "stepfunctions", "StartExecution" | "StartSyncExecution") => {
            messages(span, config, Rule::StepfunctionsExecution, ev)
        }
        ("lambda", "Invoke" | "InvokeAsync" | "InvokeWithResponseStream") => {
            super::invocation::producer_claims(a.first_str(REQUEST_ID, limit), config, ev)
        }
        _ => {}
    }
}

fn s3(span: &SpanView<'_>, config: &Settings, ev: &mut SpanEvidence) {
    let limit = config.bounds.attributes_scanned;
    let a = &span.attributes;
    let bucket = a.first_str(BUCKET, limit);
    let key = a.first_str(OBJECT_KEY, limit);
    let etag = a
        .get_str(&config.attributes.s3_etag, limit)
        .filter(|e| !e.is_empty());
    if let (Some(bucket), Some(key), Some(etag)) = (bucket, key, etag) {
        let hash = crate::pointer::s3_hash(bucket, key, etag);
        push_claim(&mut ev.producer, Claim::pointer(Rule::S3Object, Key(hash)));
    }
    if config.direct_links.request_id_join {
        if let Some(rid) = a.first_str(REQUEST_ID, limit) {
            push_claim(&mut ev.producer, Claim::id(Rule::S3Request, rid));
        }
    }
    if config.direct_links.heuristic_s3_key {
        if let (Some(bucket), Some(key)) = (bucket, key) {
            push_claim(
                &mut ev.producer,
                Claim::id(Rule::S3Key, &super::trigger::s3_key_id(bucket, key)),
            );
        }
    }
}

fn messages(span: &SpanView<'_>, config: &Settings, rule: Rule, ev: &mut SpanEvidence) {
    if !config.direct_links.message_ids {
        return;
    }
    let limit = config.bounds.attributes_scanned;
    let a = &span.attributes;
    let mut ids: Vec<&str> = MESSAGE_ID
        .iter()
        .filter_map(|k| a.get_str(k, limit))
        .collect();
    ids.extend(a.get_strings(&config.attributes.message_ids, limit));
    for id in ids.into_iter().filter(|id| !id.is_empty()) {
        push_claim(&mut ev.producer, Claim::id(rule, id));
    }
}

fn dynamodb(span: &SpanView<'_>, config: &Settings, ev: &mut SpanEvidence) {
    let limit = config.bounds.attributes_scanned;
    let a = &span.attributes;
    let Some(json) = a.get_str(&config.attributes.dynamodb_keys, limit) else {
        return;
    };
    let mut tables: Vec<&str> = a.get_strings("aws.dynamodb.table_names", limit);
    if tables.is_empty() {
        tables.extend(a.first_str(&["aws.table.name", "db.name", "db.namespace"], limit));
    }
    let items = match recorded_items(json, &tables) {
        Some(items) => items,
        None => {
            ev.problems.push(Problem::DynamodbKeys);
            return;
        }
    };
    for (given, item) in items {
        let table = table_name(&given).to_owned();
        let Some(keys) = key_of(&table, &given, item, config, ev) else {
            continue;
        };
        let item = DynamodbItem {
            table,
            keys,
            ..Default::default()
        };
        for hash in item.hash_bytes() {
            push_claim(
                &mut ev.producer,
                Claim::pointer(Rule::DynamodbItem, Key(hash)),
            );
        }
    }
}

/// The name of a table given by its ARN (`TableName` accepts one): a stream record names its
/// table by name, so that is what the pointer hashes (Datadog's tracers hash the ARN as
/// given, and such a write never joins its stream's consumer).
fn table_name(table: &str) -> &str {
    crate::event::arn::parse(table)
        .filter(|arn| arn.service == "dynamodb")
        .and_then(|arn| arn.resource_after("table"))
        .unwrap_or(table)
}

/// The items the keys attribute records, with their tables: one item or a list of items
/// of the span's single table, or a map from table name to a list of items.
fn recorded_items(json: &str, tables: &[&str]) -> Option<Vec<(String, Map<String, Value>)>> {
    let value: Value = serde_json::from_str(json).ok()?;
    let single = || match tables {
        [t] => Some(t.to_string()),
        _ => None,
    };
    match value {
        Value::Object(m) if is_item(&m) => Some(vec![(single()?, m)]),
        Value::Array(items) => {
            let table = single()?;
            items
                .into_iter()
                .map(|v| as_item(v).map(|m| (table.clone(), m)))
                .collect()
        }
        Value::Object(by_table) => {
            let mut out = Vec::new();
            for (table, items) in by_table {
                let Value::Array(items) = items else {
                    return None;
                };
                for v in items {
                    out.push((table.clone(), as_item(v)?));
                }
            }
            Some(out)
        }
        _ => None,
    }
}

fn as_item(v: Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(m) if is_item(&m) => Some(m),
        _ => None,
    }
}

/// A DynamoDB JSON item: attribute names to single-tag typed values.
fn is_item(m: &Map<String, Value>) -> bool {
    const TAGS: &[&str] = &["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"];
    !m.is_empty()
        && m.values().all(|v| match v {
            Value::Object(t) => t.len() == 1 && t.keys().all(|k| TAGS.contains(&k.as_str())),
            _ => false,
        })
}

fn key_value(v: &Value) -> Option<KeyValue> {
    let Value::Object(t) = v else { return None };
    match t.iter().next() {
        Some((tag, Value::String(s))) => match tag.as_str() {
            "S" => Some(KeyValue::S(s.clone())),
            "N" => Some(KeyValue::N(s.clone())),
            "B" => Some(KeyValue::B(s.clone())),
            _ => None,
        },
        _ => None,
    }
}

/// The key attributes of a recorded item: the configured schema's, or all of them when
/// there are one or two and no schema is configured.
fn key_of(
    table: &str,
    given: &str,
    item: Map<String, Value>,
    config: &Settings,
    ev: &mut SpanEvidence,
) -> Option<Vec<(String, KeyValue)>> {
    // The schema is configured by name, or by the ARN the span gave.
    let tables = &config.dynamodb.tables;
    let names: Vec<String> = match tables.get(table).or_else(|| tables.get(given)) {
        Some(names) => names.clone(),
        None if item.len() <= 2 => item.keys().cloned().collect(),
        None => {
            ev.problems.push(Problem::DynamodbKeySchema);
            return None;
        }
    };
    let mut keys = Vec::with_capacity(names.len());
    for name in names {
        match item.get(&name).and_then(key_value) {
            Some(v) => keys.push((name, v)),
            None => {
                ev.problems.push(Problem::DynamodbKeys);
                return None;
            }
        }
    }
    Some(keys)
}

#[cfg(test)]
#[path = "sdk_tests.rs"]
mod tests;
