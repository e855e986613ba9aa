//! The relink golden scenarios (`tests/golden/relink/<case>/`) replayed through
//! dist/relink-envoy.wasm, one VM per case as one Envoy worker, batch N at the golden test's
//! clock: every upstream body must be what the native core makes of the same batches. All
//! cases go as OTLP/JSON; the ones whose inputs are valid OTLP also go as protobuf, gzipped
//! protobuf and OTLP/gRPC. OTLP/HTTP goes as Envoy's HTTP/1 codec hands a body over: data
//! calls without `end_of_stream`, then the separate empty call that carries it; OTLP/gRPC
//! as HTTP/2 frames, the last one ending the stream. A case's raw events go as the spans
//! relink makes of them.

mod common;

use common::*;
use relink::config::Config;
use relink::otlp::{self, Encoding};
use relink::EventContext;
use relink_harness::envoy::{Request, Startup};
use std::path::Path;

/// Batches sent: the 53 `input-N.json` and 7 `event-N.*` of the golden cases, once per
/// transport: the malformed case's 4 as JSON, the other 56 four ways.
const ENVOY_BATCHES: usize = 4 + 56 * 4;

/// The golden test's clock: batch N runs at `BASE_NOW + N` seconds.
const BASE_NOW: u64 = 1_709_929_300_000_000_000;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Json,
    Protobuf,
    GzipProtobuf,
    Grpc,
}

/// The case's batches in order (`input-10` after `input-9`): `input-N.json` as they are, and
/// each raw `event-N.*` payload as the OTLP/JSON export of the spans relink makes of it (what
/// the relay or the CLI sends on to an Envoy in front of the backend).
fn inputs(case: &Path) -> Vec<(u64, Vec<u8>)> {
    let config = std::fs::read_to_string(case.join("config.json")).unwrap_or_default();
    let mut out: Vec<(u64, Vec<u8>)> = std::fs::read_dir(case)
        .unwrap_or_else(|e| panic!("{}: {e}", case.display()))
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            if let Some(n) = name.strip_prefix("event-") {
                let n: u64 = n.split_once('.')?.0.parse().ok()?;
                let bytes = std::fs::read(e.path()).ok()?;
                let mut made = None;
                Config::from_json(&config)
                    .and_then(|c| relink::Processor::new(&c))
                    .unwrap_or_else(|e| panic!("{}: {e}", case.display()))
                    .process_event_observed(
                        &bytes,
                        &EventContext::default(),
                        BASE_NOW + n * 1_000_000_000,
                        |m| made = Some(m.clone()),
                    )
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                return Some((n, otlp::encode_json(&made?)));
            }
            let n = name
                .strip_prefix("input-")?
                .strip_suffix(".json")?
                .parse()
                .ok()?;
            Some((n, std::fs::read(e.path()).ok()?))
        })
        .collect();
    out.sort();
    out
}

/// Replays a case; returns the failures and how many batches the filter rewrote.
fn replay(case: &Path, transport: Transport) -> (Vec<String>, usize) {
    let name = format!(
        "{}/{transport:?}",
        case.file_name().and_then(|n| n.to_str()).unwrap_or("?")
    );
    let config = std::fs::read_to_string(case.join("config.json")).unwrap_or_default();
    let mut native = match Config::from_json(&config).and_then(|c| relink::Processor::new(&c)) {
        Ok(p) => p,
        Err(e) => return (vec![format!("{name}: config.json: {e}")], 0),
    };
    let mut vm = host()
        .start(&settings(&config))
        .unwrap_or_else(|e| panic!("{name}: start: {e}"));
    if vm.startup() != Startup::Ready {
        return (
            vec![format!("{name}: the filter did not start: {:?}", vm.logs())],
            0,
        );
    }
    let (mut failures, mut rewritten) = (Vec::new(), 0);
    for (n, json) in inputs(case) {
        let now = BASE_NOW + n * 1_000_000_000;
        let (body, encoding) = match transport {
            Transport::Json => (json, Encoding::Json),
            _ => (to_protobuf(&json), Encoding::Protobuf),
        };
        let expected = native
            .process_traces_as(&body, encoding, now)
            .output
            .into_owned();
        let (request, expected) = match transport {
            Transport::Json => (export("application/json", &body, 2), expected),
            Transport::Protobuf => (export("application/x-protobuf", &body, 2), expected),
            Transport::GzipProtobuf => {
                let mut r = export("application/x-protobuf", &otlp::gzip(&body), 2);
                r.headers
                    .push(("content-encoding".into(), b"gzip".to_vec()));
                (r, otlp::gzip(&expected))
            }
            Transport::Grpc => {
                let r = Request::post(
                    GRPC_EXPORT,
                    &[("content-type", "application/grpc")],
                    split(&grpc_frame(&body), 2),
                )
                .over_http2();
                (r, grpc_frame(&expected))
            }
        };
        vm.set_now(now);
        let ended_apart = |exchange: &relink_harness::envoy::Exchange| {
            let ends: Vec<i32> = exchange
                .calls
                .iter()
                .filter(|c| c.export == "proxy_on_request_body")
                .map(|c| c.args[2])
                .collect();
            // HTTP/1: one or more data calls, then the empty end; HTTP/2: the last frame ends.
            let data_calls = if matches!(transport, Transport::Grpc) {
                1
            } else {
                2
            };
            ends.len() >= data_calls
                && ends.iter().rev().skip(1).all(|e| *e == 0)
                && ends.last() == Some(&1)
        };
        match vm.send(&request) {
            Ok(exchange) if !ended_apart(&exchange) => failures.push(format!(
                "{name}: input-{n}: body calls not as Envoy's codec makes them: {:?}",
                exchange.calls
            )),
            Ok(exchange) if exchange.upstream_body == expected && exchange.local_reply.is_none() => {
                rewritten += usize::from(exchange.upstream_body != request.chunks.concat());
            }
            Ok(exchange) => failures.push(format!(
                "{name}: input-{n}: the filter sent {} bytes upstream, the native core made {} (logs: {:?})",
                exchange.upstream_body.len(),
                expected.len(),
                vm.logs()
            )),
            Err(e) => failures.push(format!("{name}: input-{n}: {e}")),
        }
    }
    (failures, rewritten)
}

/// Cases whose every batch is valid OTLP, so that it can be re-encoded as protobuf.
fn valid_otlp(case: &Path) -> bool {
    inputs(case)
        .iter()
        .all(|(_, json)| otlp::decode(json, Encoding::Json).is_ok())
}

#[test]
fn golden_scenarios_through_the_filter_match_the_native_core() {
    let cases = relink_golden_cases();
    assert_eq!(cases.len(), 19, "the relink golden cases");
    let (mut failures, mut replayed, mut rewritten, mut batches) = (Vec::new(), 0, 0, 0);
    for case in &cases {
        let mut transports = vec![Transport::Json];
        if valid_otlp(case) {
            transports.extend([
                Transport::Protobuf,
                Transport::GzipProtobuf,
                Transport::Grpc,
            ]);
        }
        for transport in transports {
            let (f, r) = replay(case, transport);
            failures.extend(f);
            rewritten += r;
            replayed += 1;
            batches += inputs(case).len();
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} replays failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // 18 cases are valid OTLP throughout and go four ways, the malformed one as JSON only.
    assert_eq!(replayed, 18 * 4 + 1, "replays");
    assert_eq!(batches, ENVOY_BATCHES, "batches sent through the filter");
    assert!(
        rewritten > replayed,
        "most replays relink something: {rewritten} batches rewritten in {replayed} replays"
    );
}
