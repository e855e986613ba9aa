//! Generated OTLP trace batches of realistic shape, shared by the benchmarks and the
//! fast-path property tests (tests/relink_fast_path.rs includes this file).
//!
//! Shape: a batch as a collector exports it, from several services (one resource each,
//! with the resource attributes the OTel SDKs and the Lambda detector set), one to three
//! instrumentation scopes per service, traces of 8 to 12 spans, 10 to 30 attributes per
//! span (HTTP, database, code and messaging conventions), some span events.
//!
//! Evidence is placed on a given share of spans, as producer/consumer pairs that join:
//! - an S3 `PutObject` client span (botocore's attributes plus the hooks' bucket, key and
//!   ETag) and the Lambda invocation span of the function S3 notified (the S3 event of
//!   tests/fixtures/aws-lambda-rust-runtime in `relink.event`, naming the same object);
//! - an SQS `SendMessage` client span (`messaging.message.id`) and the invocation span of
//!   the consumer (the SQS event fixture, same message id, the producer's `traceparent`
//!   in its message attributes).
//!
//! A consumer is the root of its trace, as a Lambda invocation span is; a producer is a
//! child in the current trace. With 100% evidence every trace is a consumer and one
//! producer. Everything comes from a seeded generator, so a batch is reproducible.

#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use serde_json::json;

const S3_EVENT: &str =
    include_str!("../../tests/fixtures/aws-lambda-rust-runtime/example-s3-event.json");
const SQS_EVENT: &str =
    include_str!("../../tests/fixtures/aws-lambda-rust-runtime/example-sqs-event.json");

/// splitmix64: small, fast, good enough to spread ids and choices.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        out
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next() as usize % items.len()]
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Shape {
    pub spans: usize,
    /// Share of spans carrying evidence, in percent (pairs: half producers, half consumers).
    pub evidence_percent: usize,
    /// Services (resources) in the batch.
    pub services: usize,
    /// Attributes per span.
    pub attributes: (usize, usize),
    /// Use every AnyValue type (arrays, maps, bytes, doubles, ...) in filler attributes,
    /// not only the strings and ints real instrumentations mostly write.
    pub all_value_types: bool,
    /// Join keys are drawn from this many objects and messages, so batches generated with
    /// the same pool share keys (joins across batches). 0: every pair its own key.
    pub key_pool: u64,
    /// Every pair an S3 write and its notification (the whole-process benchmark's shape),
    /// not S3 and SQS pairs in turn.
    pub s3_only: bool,
}

impl Shape {
    /// The benchmark shape: `spans` spans from one service per 100 spans.
    pub fn realistic(spans: usize, evidence_percent: usize) -> Shape {
        Shape {
            spans,
            evidence_percent,
            services: (spans / 100).max(1),
            attributes: (10, 30),
            all_value_types: false,
            key_pool: 0,
            s3_only: false,
        }
    }

    /// The whole-process benchmark's shape (benches/process.py, issue 18): `spans` spans of
    /// 20 attributes each, evidence as S3 producer/consumer pairs.
    pub fn s3_pairs(spans: usize, evidence_percent: usize) -> Shape {
        Shape {
            attributes: (20, 20),
            s3_only: true,
            ..Shape::realistic(spans, evidence_percent)
        }
    }
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::StringValue(v.into())
}

fn int(v: i64) -> Value {
    Value::IntValue(v)
}

const T0: u64 = 1_709_929_297_000_000_000;

fn resource(rng: &mut Rng, service: usize) -> Resource {
    let name = format!("svc-{service}-{}", rng.next() % 1000);
    let attributes = vec![
        kv("service.name", s(name.clone())),
        kv(
            "service.version",
            s(format!("1.{}.{}", rng.next() % 20, rng.next() % 100)),
        ),
        kv("service.namespace", s("shop")),
        kv("deployment.environment.name", s("production")),
        kv(
            "telemetry.sdk.language",
            s(*rng.pick(&["python", "nodejs", "java", "go"])),
        ),
        kv("telemetry.sdk.name", s("opentelemetry")),
        kv("telemetry.sdk.version", s("1.45.0")),
        kv("cloud.provider", s("aws")),
        kv("cloud.platform", s("aws_lambda")),
        kv("cloud.region", s("us-east-1")),
        kv("cloud.account.id", s("123456789012")),
        kv("faas.name", s(name)),
        kv("faas.version", s("$LATEST")),
        kv(
            "faas.instance",
            s(format!("2024/03/08/[$LATEST]{:032x}", rng.next())),
        ),
        kv("faas.max_memory", int(1_073_741_824)),
    ];
    Resource {
        attributes,
        ..Default::default()
    }
}

const SCOPES: &[(&str, &str)] = &[
    ("opentelemetry.instrumentation.aws_lambda", "0.66b1"),
    ("opentelemetry.instrumentation.botocore", "0.66b1"),
    ("opentelemetry.instrumentation.requests", "0.66b1"),
    ("opentelemetry.instrumentation.sqlalchemy", "0.66b1"),
];

/// One filler attribute of a kind real instrumentations write.
fn filler(rng: &mut Rng, i: usize, all_types: bool) -> KeyValue {
    if all_types && rng.chance(40) {
        let key = format!("app.attr_{i}");
        let value = match rng.next() % 8 {
            0 => Value::BoolValue(rng.chance(50)),
            1 => Value::DoubleValue(f64::from_bits(rng.next() % 0x7ff0_0000_0000_0000)),
            2 => Value::BytesValue(rng.bytes::<8>().to_vec()),
            3 => Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(s("a")),
                    },
                    AnyValue {
                        value: Some(int(rng.next() as i64)),
                    },
                    AnyValue { value: None },
                ],
            }),
            4 => Value::KvlistValue(KeyValueList {
                values: vec![kv("inner", s("v")), kv("rpc.system", s("aws-api"))],
            }),
            5 => Value::StringValueStrindex(rng.range(0, 9) as i32),
            6 => int(-(rng.next() as i64 >> 1)),
            _ => s("é✓ unicode"),
        };
        return kv(&key, value);
    }
    match i % 20 {
        0 => kv("http.request.method", s(*rng.pick(&["GET", "POST", "PUT"]))),
        1 => kv("url.full", s(format!("https://api.example.com/v1/orders/{}?expand=items", rng.next() % 100_000))),
        2 => kv("url.path", s(format!("/v1/orders/{}", rng.next() % 100_000))),
        3 => kv("server.address", s("api.example.com")),
        4 => kv("server.port", int(443)),
        5 => kv("http.response.status_code", int(*rng.pick(&[200, 201, 204, 404, 500]))),
        6 => kv("user_agent.original", s("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)")),
        7 => kv("network.protocol.version", s("1.1")),
        8 => kv("db.system", s("postgresql")),
        9 => kv("db.query.text", s("SELECT o.id, o.total, o.status FROM orders o WHERE o.customer_id = $1 AND o.created_at > $2")),
        10 => kv("db.namespace", s("orders")),
        11 => kv("code.function.name", s(format!("handler_{}", rng.next() % 50))),
        12 => kv("code.file.path", s("/var/task/app/handlers/orders.py")),
        13 => kv("code.line.number", int((rng.next() % 900) as i64)),
        14 => kv("thread.id", int((rng.next() % 64) as i64)),
        15 => kv("enduser.id", s(format!("user-{:08x}", rng.next() as u32))),
        16 => kv("peer.service", s("inventory")),
        17 => kv("http.route", s("/v1/orders/{id}")),
        18 => kv("client.address", s(format!("10.0.{}.{}", rng.next() % 256, rng.next() % 256))),
        _ => kv("app.tenant", s(format!("tenant-{}", rng.next() % 40))),
    }
}

/// The evidence role of a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Filler,
    Producer(u64),
    Consumer(u64),
}

fn s3_names(key: u64) -> (String, String, String) {
    (
        format!("bucket-{}", key % 7),
        format!("uploads/{key}/photo.jpg"),
        format!("{:032x}", key.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
    )
}

fn request_id(key: u64) -> String {
    format!("{:016X}", key.wrapping_mul(31))
}

fn message_id(key: u64) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", key as u32, key)
}

fn producer_attributes(key: u64) -> Vec<KeyValue> {
    let common = [
        kv("rpc.system", s("aws-api")),
        kv("aws.region", s("us-east-1")),
        kv("aws.request_id", s(request_id(key))),
        kv("retry_attempts", int(0)),
        kv("http.status_code", int(200)),
    ];
    let mut a = common.to_vec();
    if key.is_multiple_of(2) {
        let (bucket, object, etag) = s3_names(key);
        a.extend([
            kv("rpc.service", s("S3")),
            kv("rpc.method", s("PutObject")),
            kv("aws.s3.bucket", s(bucket)),
            kv("aws.s3.key", s(object)),
            kv("relink.s3.etag", s(format!("\"{etag}\""))),
        ]);
    } else {
        a.extend([
            kv("rpc.service", s("SQS")),
            kv("rpc.method", s("SendMessage")),
            kv("messaging.system", s("aws_sqs")),
            kv("messaging.destination.name", s("orders")),
            kv("messaging.message.id", s(message_id(key))),
        ]);
    }
    a
}

/// The trigger event of the consumer of `key`, with the producer's context for SQS.
fn consumer_event(key: u64, producer: Option<([u8; 16], [u8; 8])>) -> String {
    if key.is_multiple_of(2) {
        let (bucket, object, etag) = s3_names(key);
        let mut event: serde_json::Value = serde_json::from_str(S3_EVENT).unwrap_or_default();
        let record = &mut event["Records"][0];
        record["s3"]["bucket"]["name"] = json!(bucket);
        record["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
        record["s3"]["object"]["key"] = json!(object);
        record["s3"]["object"]["eTag"] = json!(etag);
        record["responseElements"]["x-amz-request-id"] = json!(request_id(key));
        event.to_string()
    } else {
        let mut event: serde_json::Value = serde_json::from_str(SQS_EVENT).unwrap_or_default();
        let record = &mut event["Records"][0];
        record["messageId"] = json!(message_id(key));
        record["eventSourceARN"] = json!("arn:aws:sqs:us-east-1:123456789012:orders");
        if let Some((trace, span)) = producer {
            record["messageAttributes"]["traceparent"] = json!({
                "stringValue": format!("00-{}-{}-01", hex(&trace), hex(&span)),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            });
        }
        event.to_string()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Evidence roles for `n` spans: evidence spread evenly, alternating producer and
/// consumer of the same key (an S3 object for an even key, an SQS message for an odd one).
fn roles(shape: &Shape, rng: &mut Rng) -> Vec<Role> {
    let n = shape.spans;
    let evidence = n * shape.evidence_percent.min(100) / 100;
    let mut roles = vec![Role::Filler; n];
    let base = rng.next() % 1_000_000_000;
    let mut key = 0;
    for k in 0..evidence {
        if k % 2 == 0 {
            key = match shape.key_pool {
                0 => base + (k / 2) as u64,
                pool => rng.next() % pool,
            };
            if shape.s3_only {
                // Even keys are S3 objects (producer_attributes, consumer_event).
                key = key.wrapping_mul(2);
            }
        }
        if let Some(r) = roles.get_mut(k * n / evidence) {
            *r = if k % 2 == 0 {
                Role::Producer(key)
            } else {
                Role::Consumer(key)
            };
        }
    }
    roles
}

/// Generates one batch.
pub fn request(shape: &Shape, rng: &mut Rng) -> ExportTraceServiceRequest {
    let services = shape.services.max(1);
    let mut resources: Vec<ResourceSpans> = (0..services)
        .map(|i| {
            let scopes = rng.range(1, 3);
            ResourceSpans {
                resource: Some(resource(rng, i)),
                scope_spans: SCOPES[..scopes]
                    .iter()
                    .map(|(name, version)| ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: (*name).into(),
                            version: (*version).into(),
                            ..Default::default()
                        }),
                        schema_url: "https://opentelemetry.io/schemas/1.11.0".into(),
                        ..Default::default()
                    })
                    .collect(),
                schema_url: "https://opentelemetry.io/schemas/1.11.0".into(),
            }
        })
        .collect();
    let roles = roles(shape, rng);
    let mut producers: std::collections::HashMap<u64, ([u8; 16], [u8; 8])> = Default::default();
    let (mut trace, mut root, mut in_trace, mut service) = ([0u8; 16], [0u8; 8], usize::MAX, 0);
    let mut trace_len = 0;
    for (i, role) in roles.iter().enumerate() {
        let new_trace = in_trace >= trace_len || matches!(role, Role::Consumer(_));
        if new_trace {
            trace = rng.bytes();
            root = rng.bytes();
            in_trace = 0;
            trace_len = rng.range(8, 12);
            service = rng.range(0, services - 1);
        }
        let id: [u8; 8] = if in_trace == 0 { root } else { rng.bytes() };
        let parent = if in_trace == 0 {
            Vec::new()
        } else {
            root.to_vec()
        };
        in_trace += 1;
        let start = T0 + (i as u64) * 1_000_000;
        let mut attributes = match role {
            Role::Filler => Vec::new(),
            Role::Producer(k) => {
                producers.insert(*k, (trace, id));
                producer_attributes(*k)
            }
            Role::Consumer(k) => vec![
                kv("faas.invocation_id", s(format!("{:032x}", rng.next()))),
                kv(
                    "faas.trigger",
                    s(if k % 2 == 0 { "datasource" } else { "pubsub" }),
                ),
                kv(
                    "relink.event",
                    s(consumer_event(*k, producers.get(k).copied())),
                ),
            ],
        };
        let want = rng.range(shape.attributes.0, shape.attributes.1);
        let mut j = rng.range(0, 19);
        while attributes.len() < want {
            attributes.push(filler(rng, j, shape.all_value_types));
            j += 1;
        }
        let (scope, kind, name) = match role {
            Role::Consumer(_) => (0, 2, "handler".to_string()),
            Role::Producer(k) if k % 2 == 0 => (1, 3, "S3.PutObject".into()),
            Role::Producer(_) => (1, 4, "orders send".into()),
            Role::Filler if in_trace == 1 => (0, 2, "handler".into()),
            Role::Filler => (
                rng.range(1, 3),
                3,
                format!("GET /v1/orders/{}", rng.next() % 100),
            ),
        };
        let events = if rng.chance(5) {
            vec![Event {
                time_unix_nano: start + 500,
                name: "exception".into(),
                attributes: vec![
                    kv("exception.type", s("TimeoutError")),
                    kv("exception.message", s("read timed out after 3.0s")),
                ],
                ..Default::default()
            }]
        } else {
            Vec::new()
        };
        let links = if shape.all_value_types && rng.chance(5) {
            vec![Link {
                trace_id: rng.bytes::<16>().to_vec(),
                span_id: rng.bytes::<8>().to_vec(),
                attributes: vec![kv("link.reason", s("batch"))],
                ..Default::default()
            }]
        } else {
            Vec::new()
        };
        let span = Span {
            trace_id: trace.to_vec(),
            span_id: id.to_vec(),
            parent_span_id: parent,
            name,
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 20_000_000,
            attributes,
            events,
            links,
            status: Some(Status {
                // Only bystanders fail: a failed write proves nothing.
                code: if *role == Role::Filler && rng.chance(3) {
                    status::StatusCode::Error as i32
                } else {
                    0
                },
                ..Default::default()
            }),
            flags: 0x100,
            ..Default::default()
        };
        let scopes = &mut resources[service].scope_spans;
        let at = scope.min(scopes.len() - 1);
        scopes[at].spans.push(span);
    }
    resources.retain(|r| r.scope_spans.iter().any(|s| !s.spans.is_empty()));
    ExportTraceServiceRequest {
        resource_spans: resources,
    }
}
