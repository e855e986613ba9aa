//! Two tiers: a first tier stamps `relink.route`, a router spreads traces over N second-tier
//! processors, and together they must add the same links as one processor seeing everything.
//!
//! The router is the OpenTelemetry Collector's load-balancing exporter with
//! `routing_key: attributes` and `routing_attributes: [relink.route]`, reimplemented from
//! its source (exporter/loadbalancingexporter): the batch is split per trace id
//! (`batchpersignal.SplitTraces`); a trace's key is `relink.route=<value>|`, the value read
//! from the first resource's attributes, else its first scope's, else that scope's first
//! span's (`routingIdentifiersFromTraces`); the backend is the first ring position at or
//! after `crc32(key) % 36000`, the ring holding 100 positions `crc32(endpoint ++ [i]) % 36000`
//! per endpoint, duplicates skipped (`consistent_hashing.go`).
//!
//! Chains (A -> S3 -> B -> DynamoDB -> C) are left out on purpose: a trace is routed by one
//! key, so B meets A or C on the same instance, not necessarily both (see
//! `relink::processor` stamp docs).

mod common;

use opentelemetry_proto::tonic::common::v1::{any_value::Value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use relink::config::{Config, S3Route};
use relink::otlp::{self, ExportTraceServiceRequest};
use relink::processor::Processor;
use std::collections::{BTreeMap, BTreeSet};

const BASE_NOW: u64 = 1_709_929_300_000_000_000;
const CASES: &[&str] = &[
    "s3-put-then-notify",
    "s3-notify-then-put",
    "s3-request-id",
    "s3-request-id-notify-first",
    "s3-one-batch",
    "dynamodb-stream",
    "datadog-pointers",
    "sqs-batch-mixed-contexts",
    "pass-through",
];

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

struct Ring {
    items: Vec<(u32, usize)>,
}

impl Ring {
    fn new(endpoints: &[String]) -> Ring {
        let mut items = Vec::new();
        let mut used = BTreeSet::new();
        for (e, endpoint) in endpoints.iter().enumerate() {
            for i in 0..100u8 {
                let mut bytes = endpoint.as_bytes().to_vec();
                bytes.push(i);
                let pos = crc32(&bytes) % 36_000;
                if used.insert(pos) {
                    items.push((pos, e));
                }
            }
        }
        items.sort();
        Ring { items }
    }

    fn endpoint_for(&self, key: &[u8]) -> usize {
        let pos = crc32(key) % 36_000;
        let i = self.items.partition_point(|(p, _)| *p < pos);
        self.items
            .get(i)
            .or(self.items.first())
            .map_or(0, |(_, e)| *e)
    }
}

fn route_value(attrs: &[KeyValue]) -> Option<String> {
    let kv = attrs.iter().find(|kv| kv.key == "relink.route")?;
    match kv.value.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

/// `batchpersignal.SplitTraces`: one request per trace id, resources and scopes kept.
fn split_traces(req: &ExportTraceServiceRequest) -> Vec<ExportTraceServiceRequest> {
    let mut order: Vec<Vec<u8>> = Vec::new();
    let mut by_trace: BTreeMap<Vec<u8>, ExportTraceServiceRequest> = BTreeMap::new();
    for rs in &req.resource_spans {
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                let out = by_trace.entry(span.trace_id.clone()).or_insert_with(|| {
                    order.push(span.trace_id.clone());
                    ExportTraceServiceRequest::default()
                });
                let same_rs = out
                    .resource_spans
                    .last()
                    .is_some_and(|r| r.resource == rs.resource);
                if !same_rs {
                    out.resource_spans.push(ResourceSpans {
                        resource: rs.resource.clone(),
                        schema_url: rs.schema_url.clone(),
                        ..Default::default()
                    });
                }
                let Some(out_rs) = out.resource_spans.last_mut() else {
                    continue;
                };
                let same_ss = out_rs
                    .scope_spans
                    .last()
                    .is_some_and(|s| s.scope == ss.scope);
                if !same_ss {
                    out_rs.scope_spans.push(ScopeSpans {
                        scope: ss.scope.clone(),
                        schema_url: ss.schema_url.clone(),
                        ..Default::default()
                    });
                }
                if let Some(out_ss) = out_rs.scope_spans.last_mut() {
                    out_ss.spans.push(span.clone());
                }
            }
        }
    }
    order
        .into_iter()
        .filter_map(|t| by_trace.remove(&t))
        .collect()
}

/// `routingIdentifiersFromTraces` for one trace: the key of its first resource.
fn routing_key(trace: &ExportTraceServiceRequest) -> String {
    let first = trace.resource_spans.first();
    let resource = first
        .and_then(|r| r.resource.as_ref())
        .and_then(|r| route_value(&r.attributes));
    let scope = first.and_then(|r| r.scope_spans.first());
    let value = resource
        .or_else(|| {
            scope
                .and_then(|s| s.scope.as_ref())
                .and_then(|s| route_value(&s.attributes))
        })
        .or_else(|| {
            scope
                .and_then(|s| s.spans.first())
                .and_then(|s| route_value(&s.attributes))
        });
    format!("relink.route={}|", value.unwrap_or_default())
}

/// Per span id: its trace id, the targets of its links and the pointer hashes it carries.
type Links = BTreeMap<String, BTreeSet<String>>;

fn links_of(requests: &[ExportTraceServiceRequest]) -> Links {
    let mut out = BTreeMap::new();
    for req in requests {
        for s in req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
        {
            let entry: &mut BTreeSet<String> = out.entry(hex::encode(&s.span_id)).or_default();
            for l in &s.links {
                let hash = l
                    .attributes
                    .iter()
                    .find(|kv| kv.key == "ptr.hash")
                    .and_then(|kv| {
                        route_value(&[KeyValue {
                            key: "relink.route".into(),
                            value: kv.value.clone(),
                            ..Default::default()
                        }])
                    });
                entry.insert(format!(
                    "{}/{} {}",
                    hex::encode(&l.trace_id),
                    hex::encode(&l.span_id),
                    hash.unwrap_or_default()
                ));
            }
            entry.insert(format!("trace {}", hex::encode(&s.trace_id)));
        }
    }
    out
}

fn build(config: &Config) -> Processor {
    match relink::Processor::new(&config) {
        Ok(p) => p,
        Err(e) => panic!("config: {e}"),
    }
}

fn decode(bytes: &[u8]) -> ExportTraceServiceRequest {
    otlp::decode(bytes, otlp::detect(bytes)).unwrap_or_default()
}

fn inputs(case: &str) -> Vec<Vec<u8>> {
    let dir = common::root().join("tests/golden/relink").join(case);
    (1..)
        .map(|n| std::fs::read(dir.join(format!("input-{n}.json"))))
        .take_while(Result::is_ok)
        .filter_map(Result::ok)
        .collect()
}

/// Runs a case through one processor and through two tiers of `n` instances; returns the
/// links of each and the endpoints the router used.
fn run(case: &str, n: usize, s3_route: S3Route) -> (Links, Links, BTreeSet<usize>) {
    let dir = common::root().join("tests/golden/relink").join(case);
    let json = std::fs::read_to_string(dir.join("config.json")).unwrap_or_default();
    let config = Config::from_json(&json).unwrap_or_else(|e| panic!("{case}: {e}"));
    let mut tier1_config = config.clone();
    tier1_config.stamp.enabled = true;
    tier1_config.stamp.s3_route = s3_route;
    tier1_config.event_attribute.output = relink::config::EventOutput::Keep;
    tier1_config.direct_links.enabled = false;
    tier1_config.pointer_links.enabled = false;
    tier1_config.messaging.enabled = false;

    let mut single = build(&config);
    let mut tier1 = build(&tier1_config);
    let mut tier2: Vec<Processor> = (0..n).map(|_| build(&config)).collect();
    let endpoints: Vec<String> = (0..n)
        .map(|i| format!("relink-{i}.relink.svc:4317"))
        .collect();
    let ring = Ring::new(&endpoints);

    let (mut one, mut many, mut used) = (Vec::new(), Vec::new(), BTreeSet::new());
    for (i, input) in inputs(case).iter().enumerate() {
        let now = BASE_NOW + (i as u64 + 1) * 1_000_000_000;
        one.push(decode(&single.process_traces(input, now).output));
        let stamped = decode(&tier1.process_traces(input, now).output);
        let mut per_endpoint: BTreeMap<usize, ExportTraceServiceRequest> = BTreeMap::new();
        for trace in split_traces(&stamped) {
            let e = ring.endpoint_for(routing_key(&trace).as_bytes());
            used.insert(e);
            per_endpoint
                .entry(e)
                .or_default()
                .resource_spans
                .extend(trace.resource_spans);
        }
        for (e, mut req) in per_endpoint {
            if let Some(p) = tier2.get_mut(e) {
                p.process_request(&mut req, now);
            }
            many.push(req);
        }
    }
    (links_of(&one), links_of(&many), used)
}

#[test]
fn ring_matches_the_exporters_choice_rules() {
    // The standard CRC-32 check value.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    let ring = Ring::new(&["a:4317".to_string(), "b:4317".to_string()]);
    assert!(ring.items.len() <= 200 && ring.items.windows(2).all(|w| w[0].0 < w[1].0));
    // Past the last position the ring wraps to the first.
    let last = ring.items.last().map(|(p, _)| *p).unwrap_or(0);
    let first = ring.items.first().map(|(_, e)| *e);
    let key = (0u32..)
        .map(|i| i.to_string())
        .find(|k| crc32(k.as_bytes()) % 36_000 > last);
    assert_eq!(key.map(|k| ring.endpoint_for(k.as_bytes())), first);
}

#[test]
fn n_instances_behind_the_router_link_like_one() {
    let mut spread = BTreeSet::new();
    for n in [2, 3, 5] {
        for case in CASES {
            // Producers that did not record the ETag need both tiers to route S3 by request
            // id; producers that only have the pointer (Datadog's) need the pointer; with
            // both recorded, either works.
            let routes: &[S3Route] = if case.starts_with("s3-request-id") {
                &[S3Route::RequestId]
            } else if case.starts_with("s3-") {
                &[S3Route::Pointer, S3Route::RequestId]
            } else {
                &[S3Route::Pointer]
            };
            for route in routes {
                let (one, many, used) = run(case, n, *route);
                assert_eq!(one, many, "{case} with {n} instances, s3_route {route:?}");
                spread.insert(used.len());
            }
        }
    }
    assert!(
        spread.iter().any(|u| *u > 1),
        "the router must actually spread traces"
    );
}

#[test]
fn stamped_routes_are_the_join_keys() {
    let mut tier1 =
        build(&Config::from_json(r#"{"stamp": {"enabled": true}}"#).unwrap_or_default());
    let input = inputs("s3-put-then-notify");
    let mut routes = Vec::new();
    for (i, batch) in input.iter().enumerate() {
        let out = decode(&tier1.process_traces(batch, BASE_NOW + i as u64).output);
        for trace in split_traces(&out) {
            routes.push(routing_key(&trace));
        }
    }
    // Both functions' traces route on the object's pointer hash.
    assert_eq!(
        routes,
        vec![
            "relink.route=7c0bf58aea7f62b7af0f6ba91fd850ca|",
            "relink.route=7c0bf58aea7f62b7af0f6ba91fd850ca|"
        ]
    );
}
