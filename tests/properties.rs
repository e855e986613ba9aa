//! Properties of the processor over generated OTLP requests (proptest).
//!
//! Requests are drawn from small pools (four trace ids, two buckets, keys, ETags, request
//! ids, three message ids, two DynamoDB keys, two Datadog hashes), so producers and
//! consumers meet often: S3 writes and notifications, SQS sends and receives (with and
//! without an `AWSTraceHeader`), DynamoDB writes and stream records, Lambda `Invoke` calls
//! and the invocations they made (same trace or not), Datadog span-pointer links, failed
//! writes, plain spans. A case is one to three batches, each in protobuf or
//! OTLP/JSON, through one processor (state carries over). For every batch:
//!
//! 1. every input span comes out at its place with its span id; its trace id is unchanged
//!    unless adoption rewrote it, in which case the span says so in
//!    `relink.original_trace_id` (the documented guarantee);
//! 2. with relinking disabled the output is the input, byte for byte;
//! 3. processing the output again (with the same processor, and with a fresh one) returns
//!    it unchanged: no duplicate links on re-processing.

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use proptest::prelude::*;
use relink::config::Config;
use relink::otlp::{self, Encoding, ExportTraceServiceRequest};
use relink::processor::Processor;
use std::borrow::Cow;

const NOW: u64 = 1_722_369_353_000_000_000;
const BUCKETS: [&str; 2] = ["photos", "thumbs"];
const KEYS: [&str; 2] = ["a.jpg", "dir/b c.png"];
const ETAGS: [&str; 2] = [
    "d41d8cd98f00b204e9800998ecf8427e",
    "9b2cf535f27731c974343645a3985328",
];
const REQUEST_IDS: [&str; 2] = ["C3D13FE58DE4C810", "0123456789ABCDEF"];
const MESSAGE_IDS: [&str; 3] = [
    "059f36b4-87a3-44ab-83d2-661975830a7d",
    "2e1424d4-f796-459a-8184-9c92662be6da",
    "c80e8021-a70a-42c7-a470-796e1186f753",
];
const DDB_KEYS: [&str; 2] = ["order-1", "order-2"];
const HASHES: [&str; 2] = [
    "e721375466d4116ab551213fdea08413",
    "b0ba5a8e4e0e8e3d4ce4b1b1ee1b6a08",
];

#[derive(Debug, Clone)]
enum Role {
    Plain,
    S3Put {
        bucket: usize,
        key: usize,
        etag: Option<usize>,
        request: usize,
        failed: bool,
    },
    S3Event {
        bucket: usize,
        key: usize,
        etag: usize,
        request: usize,
    },
    SqsSend {
        ids: Vec<usize>,
    },
    SqsEvent {
        ids: Vec<usize>,
        context: Option<(usize, usize)>,
    },
    DdbPut {
        key: usize,
    },
    DdbEvent {
        key: usize,
    },
    Pointer {
        down: bool,
        hash: usize,
    },
    LambdaInvoke {
        request: usize,
    },
    Invocation {
        request: usize,
    },
    /// A consumer of the destination record of invocation `request`, through SQS.
    Destination {
        request: usize,
    },
}

#[derive(Debug, Clone)]
struct SpanSpec {
    trace: usize,
    /// Index of an earlier span (any batch) as parent.
    parent: Option<usize>,
    role: Role,
}

#[derive(Debug, Clone)]
struct Batch {
    spans: Vec<SpanSpec>,
    json: bool,
    /// Spans go into two resource groups split here.
    split: usize,
}

fn role() -> impl Strategy<Value = Role> {
    let ids = proptest::collection::vec(0..MESSAGE_IDS.len(), 1..=3);
    prop_oneof![
        Just(Role::Plain),
        (
            0..2usize,
            0..2usize,
            proptest::option::of(0..2usize),
            0..2usize,
            proptest::bool::weighted(0.1)
        )
            .prop_map(|(bucket, key, etag, request, failed)| Role::S3Put {
                bucket,
                key,
                etag,
                request,
                failed
            }),
        (0..2usize, 0..2usize, 0..2usize, 0..2usize).prop_map(|(bucket, key, etag, request)| {
            Role::S3Event {
                bucket,
                key,
                etag,
                request,
            }
        }),
        ids.clone().prop_map(|ids| Role::SqsSend { ids }),
        (ids, proptest::option::of((0..4usize, 0..64usize)))
            .prop_map(|(ids, context)| Role::SqsEvent { ids, context }),
        (0..2usize).prop_map(|key| Role::DdbPut { key }),
        (0..2usize).prop_map(|key| Role::DdbEvent { key }),
        (any::<bool>(), 0..2usize).prop_map(|(down, hash)| Role::Pointer { down, hash }),
        (0..2usize).prop_map(|request| Role::LambdaInvoke { request }),
        (0..2usize).prop_map(|request| Role::Invocation { request }),
        (0..2usize).prop_map(|request| Role::Destination { request }),
    ]
}

fn batches() -> impl Strategy<Value = Vec<Batch>> {
    let span =
        (0..4usize, proptest::option::of(0..64usize), role()).prop_map(|(trace, parent, role)| {
            SpanSpec {
                trace,
                parent,
                role,
            }
        });
    let batch = (
        proptest::collection::vec(span, 1..8),
        any::<bool>(),
        0..8usize,
    )
        .prop_map(|(spans, json, split)| Batch { spans, json, split });
    proptest::collection::vec(batch, 1..=3)
}

fn trace_id(i: usize) -> Vec<u8> {
    let mut t = vec![
        0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6,
        0x00,
    ];
    t[15] = i as u8 + 1;
    t
}

/// Span ids are unique across a case: the global index of the span.
fn span_id(global: usize) -> Vec<u8> {
    vec![0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74, global as u8 + 1]
}

fn s(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    }
}

fn strings(key: &str, values: &[&str]) -> KeyValue {
    let values = values
        .iter()
        .map(|v| AnyValue {
            value: Some(any_value::Value::StringValue((*v).into())),
        })
        .collect();
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
        }),
        ..KeyValue::default()
    }
}

fn sdk(service: &str, method: &str) -> Vec<KeyValue> {
    vec![
        s("rpc.system", "aws-api"),
        s("rpc.service", service),
        s("rpc.method", method),
    ]
}

fn s3_event(bucket: &str, key: &str, etag: &str, request: &str) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2024-07-30T19:55:53.018Z", "eventName": "ObjectCreated:Put",
        "responseElements": {"x-amz-request-id": request},
        "s3": {"bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": key.replace(' ', "+"), "size": 1, "eTag": etag}}
    }]})
    .to_string()
}

fn sqs_event(ids: &[usize], context: Option<(usize, usize)>) -> String {
    let records: Vec<serde_json::Value> = ids
        .iter()
        .map(|i| {
            let mut attributes = serde_json::json!({
                "ApproximateReceiveCount": "1", "SentTimestamp": "1722369353018",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1722369353019"
            });
            if let Some((t, sp)) = context {
                let trace = hex(&trace_id(t));
                let header = format!(
                    "Root=1-{}-{};Parent={};Sampled=1",
                    &trace[..8],
                    &trace[8..],
                    hex(&span_id(sp))
                );
                attributes["AWSTraceHeader"] = header.into();
            }
            serde_json::json!({
                "messageId": MESSAGE_IDS[*i], "receiptHandle": "h", "body": "hello",
                "attributes": attributes, "messageAttributes": {}, "md5OfBody": "5d41402abc4b2a76b9719d911017c592",
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

fn ddb_event(key: &str) -> String {
    serde_json::json!({"Records": [{
        "eventID": "1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"ApproximateCreationDateTime": 1722369353.0, "Keys": {"pk": {"S": key}},
                     "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "KEYS_ONLY"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-07-30T00:00:00.000"
    }]})
    .to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn build_span(spec: &SpanSpec, global: usize) -> Span {
    let mut span = Span {
        trace_id: trace_id(spec.trace),
        span_id: span_id(global),
        parent_span_id: spec
            .parent
            .filter(|p| *p < global)
            .map(span_id)
            .unwrap_or_default(),
        name: "op".into(),
        kind: 3,
        start_time_unix_nano: NOW,
        end_time_unix_nano: NOW + 1000,
        ..Span::default()
    };
    match &spec.role {
        Role::Plain => span.attributes.push(s("http.route", "/orders")),
        Role::S3Put {
            bucket,
            key,
            etag,
            request,
            failed,
        } => {
            span.attributes = sdk("S3", "PutObject");
            span.attributes.push(s("aws.s3.bucket", BUCKETS[*bucket]));
            span.attributes.push(s("aws.s3.key", KEYS[*key]));
            span.attributes
                .push(s("aws.request_id", REQUEST_IDS[*request]));
            if let Some(e) = etag {
                span.attributes
                    .push(s("relink.s3.etag", &format!("\"{}\"", ETAGS[*e])));
            }
            if *failed {
                span.status = Some(Status {
                    code: StatusCode::Error as i32,
                    message: "denied".into(),
                });
            }
        }
        Role::S3Event {
            bucket,
            key,
            etag,
            request,
        } => {
            span.kind = 2;
            span.attributes.push(s(
                "relink.event",
                &s3_event(
                    BUCKETS[*bucket],
                    KEYS[*key],
                    ETAGS[*etag],
                    REQUEST_IDS[*request],
                ),
            ));
        }
        Role::SqsSend { ids } => {
            span.attributes = sdk("SQS", "SendMessageBatch");
            let ids: Vec<&str> = ids.iter().map(|i| MESSAGE_IDS[*i]).collect();
            span.attributes.push(strings("relink.message_ids", &ids));
        }
        Role::SqsEvent { ids, context } => {
            span.kind = 2;
            span.attributes
                .push(s("relink.event", &sqs_event(ids, *context)));
        }
        Role::DdbPut { key } => {
            span.attributes = sdk("DynamoDB", "PutItem");
            span.attributes
                .push(strings("aws.dynamodb.table_names", &["orders"]));
            let keys = serde_json::json!({"pk": {"S": DDB_KEYS[*key]}}).to_string();
            span.attributes.push(s("relink.dynamodb.keys", &keys));
        }
        Role::DdbEvent { key } => {
            span.kind = 2;
            span.attributes
                .push(s("relink.event", &ddb_event(DDB_KEYS[*key])));
        }
        Role::LambdaInvoke { request } => {
            span.attributes = sdk("Lambda", "Invoke");
            span.attributes
                .push(s("aws.request_id", REQUEST_IDS[*request]));
        }
        Role::Invocation { request } => {
            span.kind = 2;
            span.attributes
                .push(s("faas.invocation_id", REQUEST_IDS[*request]));
        }
        Role::Destination { request } => {
            span.kind = 2;
            let record = serde_json::json!({
                "version": "1.0", "timestamp": "2024-07-30T20:35:53.018Z",
                "requestContext": {
                    "requestId": REQUEST_IDS[*request], "condition": "Success",
                    "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
                    "approximateInvokeCount": 1
                },
                "requestPayload": {}, "responseContext": {"statusCode": 200}, "responsePayload": null
            });
            let mut event: serde_json::Value =
                serde_json::from_str(&sqs_event(&[0], None)).unwrap_or_default();
            event["Records"][0]["body"] = record.to_string().into();
            span.attributes.push(s("relink.event", &event.to_string()));
        }
        Role::Pointer { down, hash } => span.links.push(Link {
            trace_id: vec![0; 16],
            span_id: vec![0; 8],
            attributes: vec![
                s("link.kind", "span-pointer"),
                s("ptr.kind", "aws.s3.object"),
                s("ptr.dir", if *down { "d" } else { "u" }),
                s("ptr.hash", HASHES[*hash]),
            ],
            ..Link::default()
        }),
    }
    span
}

/// The encoded batches of a case.
fn encode(batches: &[Batch]) -> Vec<(Vec<u8>, Encoding)> {
    let mut global = 0;
    let mut out = Vec::new();
    for batch in batches {
        let spans: Vec<Span> = batch
            .spans
            .iter()
            .map(|spec| {
                global += 1;
                build_span(spec, global - 1)
            })
            .collect();
        let split = batch.split.min(spans.len());
        let group = |spans: &[Span], name: &str| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", name)],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: spans.to_vec(),
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![
                group(&spans[..split], "writer"),
                group(&spans[split..], "reader"),
            ],
        };
        let encoding = if batch.json {
            Encoding::Json
        } else {
            Encoding::Protobuf
        };
        out.push((otlp::encode(&request, encoding), encoding));
    }
    out
}

fn processor(config: &str) -> Processor {
    match Config::from_json(config).and_then(|c| relink::Processor::new(&c)) {
        Ok(p) => p,
        Err(e) => panic!("{config}: {e}"),
    }
}

fn spans(request: &ExportTraceServiceRequest) -> Vec<&Span> {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match &kv.value {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(v)),
            }) => Some(v.as_str()),
            _ => None,
        })
}

const CONFIGS: [&str; 3] = [
    "{}",
    r#"{"adoption": {"enabled": true}, "direct_links": {"heuristic_s3_key": true},
        "stamp": {"enabled": true}}"#,
    r#"{"adoption": {"enabled": true}, "messaging": {"parent_single_message": true},
        "event_attribute": {"output": "truncate", "truncate_bytes": 16}}"#,
];

const DISABLED: &str = r#"{"pointer_links": {"enabled": false}, "direct_links": {"enabled": false},
    "messaging": {"enabled": false}, "event_attribute": {"output": "keep"}}"#;

fn check_case(batches: &[Batch]) -> Result<(), TestCaseError> {
    let encoded = encode(batches);
    for config in CONFIGS {
        let adoption = config.contains("adoption");
        let mut p = processor(config);
        for (n, (input, encoding)) in encoded.iter().enumerate() {
            let now = NOW + n as u64 * 1_000_000_000;
            let out = p.process_traces_as(input, *encoding, now);
            prop_assert_eq!(&out.error, &None);
            let before =
                otlp::decode(input, *encoding).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let after = otlp::decode(&out.output, *encoding)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (before, after) = (spans(&before), spans(&after));
            prop_assert_eq!(before.len(), after.len());
            for (b, a) in before.iter().zip(&after) {
                prop_assert_eq!(&b.span_id, &a.span_id, "span moved or changed id");
                if b.trace_id != a.trace_id {
                    prop_assert!(adoption, "trace id rewritten without adoption ({})", config);
                    let original = hex(&b.trace_id);
                    prop_assert_eq!(
                        attribute(a, "relink.original_trace_id"),
                        Some(original.as_str())
                    );
                }
            }
            // Idempotent: the output processed again, by this processor and a fresh one.
            let output = out.output.to_vec();
            let again = p.process_traces_as(&output, *encoding, now);
            prop_assert_eq!(&again.error, &None);
            prop_assert!(
                again.output.as_ref() == output.as_slice(),
                "re-processing changed the output ({})",
                config
            );
            let fresh = processor(config).process_traces_as(&output, *encoding, now);
            prop_assert!(
                fresh.output.as_ref() == output.as_slice(),
                "a fresh processor changed the output ({})",
                config
            );
        }
    }
    let mut p = processor(DISABLED);
    for (n, (input, encoding)) in encoded.iter().enumerate() {
        let out = p.process_traces_as(input, *encoding, NOW + n as u64 * 1_000_000_000);
        prop_assert!(matches!(out.output, Cow::Borrowed(_)));
        prop_assert!(
            out.output.as_ref() == input.as_slice(),
            "disabled relinking changed the bytes"
        );
    }
    Ok(())
}

proptest! {
    // `PROPTEST_CASES=20000` for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(384),
        ..ProptestConfig::default()
    })]

    #[test]
    fn span_ids_kept_pass_through_when_disabled_and_idempotent(batches in batches()) {
        check_case(&batches)?;
    }
}

/// The generator is not vacuous: across a fixed sample, links and adoptions happen.
#[test]
fn generated_requests_do_relink() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut links, mut adopted, mut contexts) = (0, 0, 0);
    for _ in 0..200 {
        let Ok(tree) = batches().new_tree(&mut runner) else {
            continue;
        };
        let mut p = processor(CONFIGS[2]);
        for (n, (input, encoding)) in encode(&tree.current()).iter().enumerate() {
            let c = p
                .process_traces_as(input, *encoding, NOW + n as u64 * 1_000_000_000)
                .counters;
            links += c.links.exact + c.links.request_id + c.links.pointer;
            adopted += c.traces_adopted;
            contexts += c.links.context;
        }
    }
    assert!(
        links > 50 && adopted > 10 && contexts > 10,
        "{links} links, {adopted} adopted, {contexts} contexts"
    );
}

fn span(trace: usize, role: Role) -> SpanSpec {
    SpanSpec {
        trace,
        parent: None,
        role,
    }
}

fn batch(spans: Vec<SpanSpec>) -> Batch {
    Batch {
        spans,
        json: false,
        split: 0,
    }
}

/// Found by the property: stamp mode routed a consumer by its event the first time and,
/// with the event attribute removed, by its trace id the second time.
#[test]
fn reprocessing_keeps_the_route_of_a_stamped_trace() -> Result<(), TestCaseError> {
    check_case(&[batch(vec![span(
        0,
        Role::SqsEvent {
            ids: vec![0],
            context: None,
        },
    )])])
}

/// Found by the property: a consumer matching producers in two traces is not adopted; on
/// re-processing (its event gone, or one producer trace adopted into the other since) it
/// must not be adopted either.
#[test]
fn an_ambiguous_consumer_is_not_adopted_on_reprocessing() -> Result<(), TestCaseError> {
    let put = |etag| Role::S3Put {
        bucket: 0,
        key: 0,
        etag,
        request: 0,
        failed: false,
    };
    check_case(&[
        batch(vec![span(0, put(Some(1)))]),
        batch(vec![
            span(
                1,
                Role::S3Event {
                    bucket: 0,
                    key: 0,
                    etag: 1,
                    request: 0,
                },
            ),
            span(1, put(None)),
        ]),
    ])?;
    check_case(&[
        batch(vec![span(1, Role::SqsSend { ids: vec![0] })]),
        batch(vec![
            span(0, Role::SqsSend { ids: vec![1] }),
            span(
                2,
                Role::SqsEvent {
                    ids: vec![1, 0],
                    context: None,
                },
            ),
            span(
                1,
                Role::SqsEvent {
                    ids: vec![1],
                    context: None,
                },
            ),
        ]),
    ])
}
