use super::*;
use crate::config::Config;
use crate::processor::attrs::kv;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue as Attr};
use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span, Status};
use prost::Message;

fn sdk_span(service: &str, method: &str, mut extra: Vec<Attr>) -> Span {
    let mut attributes = vec![
        kv("rpc.system", "aws-api"),
        kv("rpc.service", service),
        kv("rpc.method", method),
    ];
    attributes.append(&mut extra);
    Span {
        attributes,
        ..Default::default()
    }
}

fn tables(names: &[&str]) -> Attr {
    Attr {
        key: "aws.dynamodb.table_names".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: names
                    .iter()
                    .map(|n| crate::processor::attrs::string(*n))
                    .collect(),
            })),
        }),
        ..Default::default()
    }
}

/// The claims of the span's view, which reading its bytes must give too.
fn claims(span: &Span, config: &Config) -> (Vec<(Rule, String)>, Vec<Problem>) {
    let settings = Settings::new(config).unwrap();
    let mut ev = SpanEvidence::default();
    producer_claims(&SpanView::of(span), &settings, &mut ev);
    let bytes = span.encode_to_vec();
    let mut read = SpanEvidence::default();
    producer_claims(&SpanView::read(&bytes).unwrap(), &settings, &mut read);
    assert_eq!(ev, read);
    (
        ev.producer
            .iter()
            .map(|c| (c.rule, c.key.to_hex()))
            .collect(),
        ev.problems,
    )
}

fn hashes(span: &Span, config: &Config) -> Vec<String> {
    claims(span, config).0.into_iter().map(|(_, h)| h).collect()
}

#[test]
fn service_names_of_every_sdk_normalise() {
    assert_eq!(service("S3"), "s3");
    assert_eq!(service("Amazon S3"), "s3");
    assert_eq!(service("AmazonDynamoDBv2"), "dynamodbv2");
    assert_eq!(service("AmazonSQS"), "sqs");
    assert_eq!(service("AWSStepFunctions"), "stepfunctions");
    assert_eq!(service("CloudWatch Events"), "cloudwatchevents");
}

#[test]
fn s3_writes_of_python_node_and_java() {
    let c = Config::default();
    let want_hash = "e721375466d4116ab551213fdea08413".to_string();
    let rid = |id: &str| Key::of_id(Rule::S3Request, id).to_hex();
    // Python botocore plus relink's hooks.
    let py = sdk_span(
        "S3",
        "PutObject",
        vec![
            kv("aws.request_id", "R1"),
            kv("aws.s3.bucket", "some-bucket"),
            kv("aws.s3.key", "some-key.data"),
            kv("relink.s3.etag", "\"ab12ef34\""),
        ],
    );
    assert_eq!(
        claims(&py, &c).0,
        vec![
            (Rule::S3Object, want_hash.clone()),
            (Rule::S3Request, rid("R1"))
        ]
    );
    // Node: `aws.request.id`, bucket recorded natively.
    let node = sdk_span(
        "S3",
        "CopyObject",
        vec![
            kv("aws.request.id", "R2"),
            kv("aws.s3.bucket", "some-bucket"),
            kv("aws.s3.key", "some-key.data"),
            kv("relink.s3.etag", "ab12ef34"),
        ],
    );
    assert_eq!(
        claims(&node, &c).0,
        vec![
            (Rule::S3Object, want_hash.clone()),
            (Rule::S3Request, rid("R2"))
        ]
    );
    // Java 1.11: `Amazon S3`, `aws.bucket.name`, `aws.requestId`; no hooks: no ETag.
    let java = sdk_span(
        "Amazon S3",
        "CompleteMultipartUpload",
        vec![
            kv("aws.requestId", "R3"),
            kv("aws.bucket.name", "some-bucket"),
        ],
    );
    assert_eq!(claims(&java, &c).0, vec![(Rule::S3Request, rid("R3"))]);
    // Reads and failed writes prove nothing.
    assert_eq!(
        claims(
            &sdk_span("S3", "GetObject", vec![kv("aws.request_id", "R4")]),
            &c
        )
        .0,
        vec![]
    );
    let mut failed = py.clone();
    failed.status = Some(Status {
        code: StatusCode::Error as i32,
        message: "AccessDenied".into(),
    });
    assert_eq!(claims(&failed, &c).0, vec![]);
    // Not an AWS SDK span.
    let mut other = py;
    other.attributes[0] = kv("rpc.system", "grpc");
    assert_eq!(claims(&other, &c).0, vec![]);
}

#[test]
fn heuristic_and_request_id_follow_the_config() {
    let mut c = Config::default();
    c.direct_links.request_id_join = false;
    c.direct_links.heuristic_s3_key = true;
    let s = sdk_span(
        "S3",
        "PutObject",
        vec![
            kv("aws.request_id", "R1"),
            kv("aws.s3.bucket", "b"),
            kv("aws.s3.key", "k"),
        ],
    );
    assert_eq!(
        claims(&s, &c).0,
        vec![(Rule::S3Key, Key::of_id(Rule::S3Key, "b|k").to_hex())]
    );
}

#[test]
fn dynamodb_writes_hash_their_keys() {
    let c = Config::default();
    let one = sdk_span(
        "DynamoDB",
        "UpdateItem",
        vec![
            tables(&["some-table"]),
            kv("relink.dynamodb.keys", r#"{"some-key":{"S":"some-value"}}"#),
        ],
    );
    assert_eq!(hashes(&one, &c), vec!["7f1aee721472bcb48701d45c7c7f7821"]);
    let two = sdk_span(
        "DynamoDB",
        "DeleteItem",
        vec![
            tables(&["some-table"]),
            kv(
                "relink.dynamodb.keys",
                r#"{"some-key":{"S":"some-value"},"other-key":{"N":"123"}}"#,
            ),
        ],
    );
    assert_eq!(hashes(&two, &c), vec!["7aa1b80b0e49bd2078a5453399f4dd67"]);
    // Java 1.11 names the table `aws.table.name`.
    let java = sdk_span(
        "AmazonDynamoDBv2",
        "PutItem",
        vec![
            kv("aws.table.name", "some-table"),
            kv("relink.dynamodb.keys", r#"{"some-key":{"N":"123.456"}}"#),
        ],
    );
    assert_eq!(hashes(&java, &c), vec!["434a6dba3997ce4dbbadc98d87a0cc24"]);
    // A table given by its ARN (`TableName` takes one) hashes as its name, as its stream
    // records name it; the configured key schema is found by name too.
    let arn = sdk_span(
        "DynamoDB",
        "UpdateItem",
        vec![
            tables(&["arn:aws:dynamodb:us-east-1:123456789012:table/some-table"]),
            kv("relink.dynamodb.keys", r#"{"some-key":{"S":"some-value"}}"#),
        ],
    );
    assert_eq!(hashes(&arn, &c), vec!["7f1aee721472bcb48701d45c7c7f7821"]);
    // A whole item needs the key schema, configured by name or by that ARN.
    let item = r#"{"some-key":{"S":"some-value"},"name":{"S":"x"},"age":{"N":"3"}}"#;
    let whole = |table: &str| {
        sdk_span(
            "DynamoDB",
            "PutItem",
            vec![tables(&[table]), kv("relink.dynamodb.keys", item)],
        )
    };
    let by_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/some-table";
    for configured in ["some-table", by_arn] {
        let mut c = Config::default();
        c.dynamodb
            .tables
            .insert(configured.into(), vec!["some-key".into()]);
        assert_eq!(
            hashes(&whole(by_arn), &c),
            vec!["7f1aee721472bcb48701d45c7c7f7821"],
            "{configured}"
        );
    }
}

#[test]
fn put_item_whole_items_need_the_key_schema() {
    let item = r#"{"some-key":{"S":"some-value"},"name":{"S":"x"},"age":{"N":"3"}}"#;
    let span = sdk_span(
        "DynamoDB",
        "PutItem",
        vec![tables(&["some-table"]), kv("relink.dynamodb.keys", item)],
    );
    let (got, problems) = claims(&span, &Config::default());
    assert_eq!((got, problems), (vec![], vec![Problem::DynamodbKeySchema]));
    let mut c = Config::default();
    c.dynamodb
        .tables
        .insert("some-table".into(), vec!["some-key".into()]);
    assert_eq!(hashes(&span, &c), vec!["7f1aee721472bcb48701d45c7c7f7821"]);
    // A configured key missing from the item is a problem, not a wrong hash.
    c.dynamodb
        .tables
        .insert("some-table".into(), vec!["pk".into()]);
    assert_eq!(claims(&span, &c), (vec![], vec![Problem::DynamodbKeys]));
}

#[test]
fn batch_writes_name_their_tables() {
    let c = Config::default();
    let batch = sdk_span(
        "DynamoDB",
        "BatchWriteItem",
        vec![
            tables(&["some-table", "unknown-table"]),
            kv(
                "relink.dynamodb.keys",
                r#"{"some-table":[{"some-key":{"S":"some-value"}},{"some-key":{"N":"123.456"}}],
                    "unknown-table":[{"some-key":{"S":"some-value"}}]}"#,
            ),
        ],
    );
    assert_eq!(
        hashes(&batch, &c),
        vec![
            "7f1aee721472bcb48701d45c7c7f7821",
            "434a6dba3997ce4dbbadc98d87a0cc24",
            "d8840182e4052ee105348b033e0a6810"
        ]
    );
    // A list needs exactly one table to belong to.
    let list = sdk_span(
        "DynamoDB",
        "TransactWriteItems",
        vec![
            tables(&["a", "b"]),
            kv("relink.dynamodb.keys", r#"[{"k":{"S":"v"}}]"#),
        ],
    );
    assert_eq!(claims(&list, &c), (vec![], vec![Problem::DynamodbKeys]));
    for bad in [
        r#"not json"#,
        r#"{"k":"v"}"#,
        r#"{"k":{"X":"v"}}"#,
        r#"{"k":{"BOOL":true}}"#,
        "[]",
    ] {
        let s = sdk_span(
            "DynamoDB",
            "PutItem",
            vec![tables(&["t"]), kv("relink.dynamodb.keys", bad)],
        );
        assert_eq!(claims(&s, &c).0, vec![], "{bad}");
        assert!(!claims(&s, &c).1.is_empty() || bad == "[]", "{bad}");
    }
}

#[test]
fn binary_keys_claim_both_datadog_variants() {
    let s = sdk_span(
        "DynamoDB",
        "PutItem",
        vec![
            tables(&["t"]),
            kv("relink.dynamodb.keys", r#"{"pk":{"B":"aGk="}}"#),
        ],
    );
    let h = hashes(&s, &Config::default());
    assert_eq!(
        h,
        vec![
            crate::pointer::hash_elements(&[b"t", b"pk", b"aGk=", b"", b""]),
            crate::pointer::hash_elements(&[b"t", b"pk", b"hi", b"", b""]),
        ]
    );
}

#[test]
fn message_ids_of_every_sender() {
    let c = Config::default();
    let id = |rule: Rule, id: &str| (rule, Key::of_id(rule, id).to_hex());
    let sqs = sdk_span(
        "SQS",
        "SendMessageBatch",
        vec![
            kv("messaging.message.id", "m1"),
            Attr {
                key: "relink.message_ids".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue {
                        values: vec![
                            crate::processor::attrs::string("m1"),
                            crate::processor::attrs::string("m2"),
                        ],
                    })),
                }),
                ..Default::default()
            },
        ],
    );
    assert_eq!(
        claims(&sqs, &c).0,
        vec![id(Rule::SqsMessage, "m1"), id(Rule::SqsMessage, "m2")]
    );
    let node = sdk_span("SQS", "SendMessage", vec![kv("messaging.message_id", "m3")]);
    assert_eq!(claims(&node, &c).0, vec![id(Rule::SqsMessage, "m3")]);
    let sns = sdk_span("SNS", "Publish", vec![kv("relink.message_ids", "n1")]);
    assert_eq!(claims(&sns, &c).0, vec![id(Rule::SnsMessage, "n1")]);
    let eb = sdk_span(
        "EventBridge",
        "PutEvents",
        vec![kv("relink.message_ids", "e1")],
    );
    assert_eq!(claims(&eb, &c).0, vec![id(Rule::EventbridgeEvent, "e1")]);
    let kin = sdk_span(
        "Kinesis",
        "PutRecord",
        vec![kv("relink.message_ids", "shardId-000000000000:4954")],
    );
    assert_eq!(
        claims(&kin, &c).0,
        vec![id(Rule::KinesisRecord, "shardId-000000000000:4954")]
    );
    let sfn = sdk_span(
        "SFN",
        "StartExecution",
        vec![kv("relink.message_ids", "arn:aws:states:x:1:execution:m:e")],
    );
    assert_eq!(
        claims(&sfn, &c).0,
        vec![id(
            Rule::StepfunctionsExecution,
            "arn:aws:states:x:1:execution:m:e"
        )]
    );
    let mut off = Config::default();
    off.direct_links.message_ids = false;
    assert_eq!(claims(&sqs, &off).0, vec![]);
}

#[test]
fn lambda_invoke_calls_of_python_node_and_java() {
    let c = Config::default();
    let want = vec![(
        Rule::LambdaInvocation,
        Key::of_id(Rule::LambdaInvocation, "c2a6f2ae").to_hex(),
    )];
    // botocore and the Node SDK (`aws.request.id`), then Java's service name.
    for (service, method, request_id) in [
        ("Lambda", "Invoke", "aws.request_id"),
        ("Lambda", "InvokeAsync", "aws.request.id"),
        ("AWSLambda", "InvokeWithResponseStream", "aws.requestId"),
    ] {
        let span = sdk_span(service, method, vec![kv(request_id, "c2a6f2ae")]);
        assert_eq!(claims(&span, &c).0, want, "{service} {method}");
    }
    // Other Lambda operations start nothing; a failed call invoked nothing; no id, no key.
    let listing = sdk_span("Lambda", "ListFunctions", vec![kv("aws.request_id", "r")]);
    assert_eq!(claims(&listing, &c).0, vec![]);
    let mut failed = sdk_span("Lambda", "Invoke", vec![kv("aws.request_id", "r")]);
    failed.status = Some(Status {
        code: StatusCode::Error as i32,
        message: "TooManyRequestsException".into(),
    });
    assert_eq!(claims(&failed, &c).0, vec![]);
    let anonymous = sdk_span("Lambda", "Invoke", vec![kv("aws.request_id", "")]);
    assert_eq!(claims(&anonymous, &c).0, vec![]);
    let mut off = Config::default();
    off.direct_links.lambda_invocations = false;
    let span = sdk_span("Lambda", "Invoke", vec![kv("aws.request_id", "c2a6f2ae")]);
    assert_eq!(claims(&span, &off).0, vec![]);
}
