//! The relay end to end, with the built component (`dist/relink.wasm`, built by
//! `host-examples/component/build.sh` when missing; `RELINK_COMPONENT` overrides):
//! relays on 127.0.0.1 with ephemeral ports, a tiny loopback upstream that records what it
//! receives, OTLP protobuf/JSON/gzip bodies from the relink golden cases, the answers, the
//! forwarded bytes, the output file, `/metrics`, errors, concurrency and SIGTERM.
//!
//! One test binary on purpose: every binary links wasmtime, which is slow to link.

mod exporter;
mod faults;
mod receivers;
mod support;

use prost::Message;
use relink::otlp::{self, Encoding, ExportTraceServiceRequest};
use relink_relay::component::{ComponentError, EventContext, LoadedComponent};
use relink_relay::delivery::{Outputs, UpstreamOutput};
use relink_relay::export::{ExportRequest, Pipeline};
use relink_relay::{Relay, ServeOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// The golden case's batch `n` and its expected output, decoded.
fn golden(case: &str, n: u32) -> (Vec<u8>, ExportTraceServiceRequest) {
    let dir = root().join("tests/golden/relink").join(case);
    let input = read(&dir.join(format!("input-{n}.json")));
    let expected = otlp::decode_json(&read(&dir.join(format!("expected-{n}.json"))))
        .unwrap_or_else(|e| panic!("{case} expected-{n}: {e}"));
    (input, expected)
}

fn decode(bytes: &[u8], encoding: Encoding) -> ExportTraceServiceRequest {
    otlp::decode(bytes, encoding)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

#[test]
fn protobuf_requests_are_relinked_forwarded_and_written() {
    let upstream = Upstream::start(200, "application/x-protobuf", b"", Duration::ZERO);
    let dir = TempDir::new("protobuf");
    let out = dir.path("out.jsonl");
    let relay = start(Opts {
        upstream: Some(&upstream),
        out: Some(&out),
        ..Opts::default()
    });
    let mut expected = Vec::new();
    for n in 1..=2 {
        let (input, want) = golden("s3-put-then-notify", n);
        let body = otlp::encode_protobuf(&decode(&input, Encoding::Json));
        let reply = post(
            &relay,
            "/v1/traces",
            &[("content-type", "application/x-protobuf")],
            &body,
        );
        assert_eq!(
            (
                reply.status,
                reply.content_type.as_str(),
                reply.body.as_slice()
            ),
            (200, "application/x-protobuf", &b""[..])
        );
        expected.push(want);
    }
    let received = upstream.wait_received(2);
    assert_eq!(received.len(), 2);
    for (got, want) in received.iter().zip(&expected) {
        assert_eq!(
            (got.path.as_str(), got.content_type.as_str()),
            ("/v1/traces", "application/x-protobuf")
        );
        assert_eq!(&decode(&got.body, Encoding::Protobuf), want);
    }
    relay.shutdown().unwrap_or_else(|e| panic!("{e}"));
    let lines = std::fs::read_to_string(&out).unwrap_or_default();
    let decoded: Vec<_> = lines
        .lines()
        .map(|l| decode(l.as_bytes(), Encoding::Json))
        .collect();
    assert_eq!(decoded, expected);
}

#[test]
fn json_and_gzip_requests_are_answered_in_json() {
    let upstream = Upstream::start(200, "application/json", b"{}", Duration::ZERO);
    let relay = start(Opts {
        upstream: Some(&upstream),
        ..Opts::default()
    });
    let (first, want_first) = golden("s3-put-then-notify", 1);
    let reply = post(
        &relay,
        "/v1/traces",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        &otlp::gzip(&first),
    );
    assert_eq!(
        (
            reply.status,
            reply.content_type.as_str(),
            reply.body.as_slice()
        ),
        (200, "application/json", &b"{}"[..])
    );
    let (second, want_second) = golden("s3-put-then-notify", 2);
    let reply = post(
        &relay,
        "/v1/traces",
        &[("content-type", "application/json; charset=utf-8")],
        &second,
    );
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"{}"[..]));
    let received = upstream.wait_received(2);
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].content_type, "application/json");
    assert_eq!(decode(&received[0].body, Encoding::Json), want_first);
    // The second batch links to the first: the processor kept its index between requests.
    assert_eq!(decode(&received[1].body, Encoding::Json), want_second);
}

#[test]
fn untouched_requests_pass_byte_for_byte() {
    let upstream = Upstream::start(200, "application/json", b"{}", Duration::ZERO);
    let dir = TempDir::new("pass");
    let out = dir.path("out.jsonl");
    let relay = start(Opts {
        upstream: Some(&upstream),
        out: Some(&out),
        ..Opts::default()
    });
    let (input, _) = golden("pass-through", 1);
    let reply = post(
        &relay,
        "/v1/traces",
        &[("content-type", "application/json")],
        &input,
    );
    assert_eq!(reply.status, 200);
    assert_eq!(upstream.wait_received(1)[0].body, input);
    relay.shutdown().unwrap_or_else(|e| panic!("{e}"));
    // The file holds one compact line even though the input was pretty-printed.
    let line = otlp::encode_json(&decode(&input, Encoding::Json));
    assert_eq!(read(&out), [line.as_slice(), b"\n"].concat());
}

#[test]
fn undecodable_bodies_get_400_and_go_nowhere() {
    let upstream = Upstream::start(200, "application/json", b"{}", Duration::ZERO);
    let dir = TempDir::new("bad");
    let out = dir.path("out.jsonl");
    let relay = start(Opts {
        upstream: Some(&upstream),
        out: Some(&out),
        ..Opts::default()
    });
    let malformed = root().join("tests/golden/relink/malformed");
    let reply = post(
        &relay,
        "/v1/traces",
        &[("content-type", "application/json")],
        &read(&malformed.join("input-1.json")),
    );
    // Each answer is a google.rpc.Status whose BadRequest names the field, when the
    // message does (OTLP: the details of a 400 SHOULD describe the bad data).
    assert_eq!(
        (reply.status, reply.content_type.as_str()),
        (400, "application/json")
    );
    assert_eq!(
        bad_request(Encoding::Json, &reply.body),
        (
            "otlp json: EOF while parsing a string at line 1 column 63".into(),
            vec![(
                String::new(),
                "EOF while parsing a string at line 1 column 63".into()
            )]
        )
    );
    let reply = post(
        &relay,
        "/v1/traces",
        &[("content-type", "application/json")],
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}"#,
    );
    assert_eq!(
        (reply.status, bad_request(Encoding::Json, &reply.body).1),
        (
            400,
            vec![(
                "resourceSpans[0].scopeSpans[0].spans[0].traceId".into(),
                "expected 32 hex digits, got \"zz\"".into()
            )]
        )
    );
    let reply = post(
        &relay,
        "/v1/traces",
        &[("content-type", "application/x-protobuf")],
        &read(&malformed.join("input-3.json")),
    );
    assert_eq!(
        (reply.status, bad_request(Encoding::Protobuf, &reply.body)),
        (
            400,
            (
                "otlp protobuf: invalid varint".into(),
                vec![(String::new(), "invalid varint".into())]
            )
        )
    );
    let reply = post(
        &relay,
        "/v1/traces",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        b"{}",
    );
    let message = "request body: invalid gzip: unexpected end of file";
    assert_eq!(
        (reply.status, bad_request(Encoding::Json, &reply.body)),
        (400, (message.into(), vec![(String::new(), message.into())]))
    );
    relay.shutdown().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(upstream.received().len(), 0);
    assert_eq!(read(&out), b"");
}

/// The message of an OTLP error body and the (field, description) of its BadRequest's
/// violations, read the way each encoding writes a `google.rpc.Status`.
fn bad_request(encoding: Encoding, body: &[u8]) -> (String, Vec<(String, String)>) {
    use relink_relay::rpc_status::{BadRequest, Status, BAD_REQUEST};
    match encoding {
        Encoding::Protobuf => {
            let status = Status::decode(body).unwrap_or_else(|e| panic!("{e}"));
            let violations = status
                .details
                .iter()
                .filter(|d| d.type_url == BAD_REQUEST)
                .flat_map(|d| {
                    BadRequest::decode(d.value.as_slice())
                        .unwrap()
                        .field_violations
                })
                .map(|v| (v.field, v.description))
                .collect();
            (status.message, violations)
        }
        Encoding::Json => {
            let status: serde_json::Value = serde_json::from_slice(body).unwrap();
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            let violations = status["details"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["@type"] == BAD_REQUEST)
                .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
                .map(|v| (text(&v["field"]), text(&v["description"])))
                .collect();
            (text(&status["message"]), violations)
        }
    }
}

#[test]
fn strings_not_utf8_are_forwarded_repaired() {
    // A request prost refuses for one string that is not UTF-8 (which the Collector's OTLP
    // receiver accepts and forwards): answered 200 and sent on with U+FFFD in its place,
    // as the OTLP specification recommends, rather than refused whole.
    let upstream = Upstream::start(200, "application/x-protobuf", b"", Duration::ZERO);
    let dir = TempDir::new("utf8");
    let out = dir.path("out.jsonl");
    let relay = start(Opts {
        upstream: Some(&upstream),
        out: Some(&out),
        ..Opts::default()
    });
    let input = read(&root().join("tests/malformed/otlp/bitflip-utf8.pb"));
    assert!(otlp::decode_protobuf(&input).is_err());
    let reply = post(
        &relay,
        "/v1/traces",
        &[("content-type", "application/x-protobuf")],
        &input,
    );
    assert_eq!(reply.status, 200);
    // Compared as bytes: the request holds a NaN, which is not equal to itself.
    let forwarded = upstream.wait_received(1)[0].body.clone();
    let repaired = otlp::repair_strings(&input, usize::MAX).unwrap_or_default();
    let repaired = otlp::encode_protobuf(&decode(&repaired, Encoding::Protobuf));
    assert!(forwarded == repaired, "forwarded request differs");
    let text = String::from_utf8_lossy(&get(&relay, "/metrics").body).into_owned();
    assert!(
        text.lines()
            .any(|l| l == "relink_requests_repaired_total 1"),
        "{text}"
    );
    relay.shutdown().unwrap_or_else(|e| panic!("{e}"));
    let line = read(&out);
    assert!(String::from_utf8_lossy(&line).contains('\u{fffd}'));
    let written = decode(line.strip_suffix(b"\n").unwrap_or_default(), Encoding::Json);
    assert!(
        otlp::encode_protobuf(&written) == repaired,
        "written line differs"
    );
}

#[test]
fn bodies_over_the_limit_get_413() {
    let relay = start(Opts {
        max_body: 1024,
        ..Opts::default()
    });
    let reply = post(
        &relay,
        "/v1/traces",
        &[("content-type", "application/json")],
        &[b' '; 2000],
    );
    assert_eq!(
        (reply.status, String::from_utf8_lossy(&reply.body).as_ref()),
        (
            413,
            r#"{"message":"request body of 2000 bytes exceeds the limit of 1024 bytes"}"#
        )
    );
    let bomb = otlp::gzip(&[b' '; 100_000]);
    assert!(bomb.len() < 1024);
    let reply = post(
        &relay,
        "/v1/traces",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        &bomb,
    );
    assert_eq!(
        (reply.status, String::from_utf8_lossy(&reply.body).as_ref()),
        (
            413,
            r#"{"message":"request body inflates beyond the limit of 1024 bytes"}"#
        )
    );
    // No Content-Length: the limit applies while the chunked body arrives.
    let mut raw = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..3 {
        raw.extend_from_slice(b"200\r\n");
        raw.extend_from_slice(&[b' '; 512]);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let answer = raw_exchange(&relay, &raw);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(
        answer.ends_with(r#"{"message":"request body exceeds the limit of 1024 bytes"}"#),
        "{answer}"
    );
}

#[test]
fn unknown_media_types_get_415() {
    let relay = start(Opts::default());
    let reply = post(
        &relay,
        "/v1/traces",
        &[("content-type", "text/plain")],
        b"{}",
    );
    let message = "content-type `text/plain` is not supported: use application/x-protobuf or application/json";
    assert_eq!(
        (reply.status, reply.content_type.as_str(), reply.body),
        (415, "application/x-protobuf", status_protobuf(message))
    );
    let reply = post(
        &relay,
        "/v1/traces",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "br"),
        ],
        b"{}",
    );
    assert_eq!(
        (reply.status, String::from_utf8_lossy(&reply.body).as_ref()),
        (
            415,
            r#"{"message":"content-encoding `br` is not supported (use gzip, zstd, deflate, zlib, snappy, x-snappy-framed, lz4 or none)"}"#
        )
    );
}

#[test]
fn without_a_queue_upstream_answers_reach_the_client() {
    let (input, _) = golden("pass-through", 2);
    let json = [("content-type", "application/json")];
    let busy = Upstream::start(503, "text/plain", b"busy", Duration::ZERO);
    let relay = start(Opts {
        upstream: Some(&busy),
        queue_bytes: 0,
        ..Opts::default()
    });
    let reply = post(&relay, "/v1/traces", &json, &input);
    // The status and its meaning pass through; the body is a `Status` in the client's
    // encoding, as OTLP/HTTP requires, whatever the upstream (or a proxy) sent.
    assert_eq!(
        (
            reply.status,
            reply.content_type.as_str(),
            String::from_utf8_lossy(&reply.body).as_ref()
        ),
        (
            503,
            "application/json",
            format!(
                r#"{{"message":"upstream {}/v1/traces: status 503: busy"}}"#,
                busy.url()
            )
            .as_str()
        )
    );
    let quota = Upstream::start(
        429,
        "application/x-protobuf",
        &relink_relay::otlp_http::status_body(Encoding::Protobuf, "quota"),
        Duration::ZERO,
    );
    let relay = start(Opts {
        upstream: Some(&quota),
        queue_bytes: 0,
        ..Opts::default()
    });
    let reply = post(&relay, "/v1/traces", &json, &input);
    assert_eq!(
        (reply.status, String::from_utf8_lossy(&reply.body).as_ref()),
        (
            429,
            format!(
                r#"{{"message":"upstream {}/v1/traces: status 429: quota"}}"#,
                quota.url()
            )
            .as_str()
        )
    );

    let partial = Upstream::start(
        200,
        "application/json",
        br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"full"}}"#,
        Duration::ZERO,
    );
    let relay = start(Opts {
        upstream: Some(&partial),
        queue_bytes: 0,
        ..Opts::default()
    });
    let reply = post(&relay, "/v1/traces", &json, &input);
    assert_eq!(
        (reply.status, String::from_utf8_lossy(&reply.body).as_ref()),
        (
            200,
            r#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"full"}}"#
        )
    );

    let url = closed_port_url();
    let relay = start(Opts {
        upstream_url: Some(url.clone()),
        queue_bytes: 0,
        ..Opts::default()
    });
    let reply = post(&relay, "/v1/traces", &json, &input);
    let text = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 502);
    assert!(
        text.starts_with(&format!(r#"{{"message":"upstream {url}/v1/traces: "#)),
        "{text}"
    );
}

/// The status line is the upstream's answer: a 2xx whose body is over the 1 MiB the relay
/// reads is delivered once, not retried as a failure (which delivered it again and again).
#[test]
fn a_2xx_with_an_unreadable_body_is_delivered_once() {
    let (input, _) = golden("pass-through", 2);
    let json = [("content-type", "application/json")];
    let chatty = Upstream::start(
        200,
        "application/json",
        &vec![b' '; 1_100_000],
        Duration::ZERO,
    );
    let relay = start(Opts {
        upstream: Some(&chatty),
        ..Opts::default()
    });
    assert_eq!(post(&relay, "/v1/traces", &json, &input).status, 200);
    let delivered = || {
        let metrics = get(&relay, "/metrics");
        String::from_utf8_lossy(&metrics.body)
            .lines()
            .find_map(|l| l.strip_prefix("relink_relay_upstream_delivered_total "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while delivered() == 0 {
        assert!(Instant::now() < deadline, "never counted as delivered");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(chatty.received().len(), 1);
}

#[test]
fn other_routes_and_methods() {
    let relay = start(Opts::default());
    let reply = get(&relay, "/v1/traces");
    assert_eq!(
        (reply.status, reply.allow.as_deref(), reply.body.as_slice()),
        (405, Some("POST"), &b"use POST\n"[..])
    );
    let reply = post(&relay, "/metrics", &[], b"");
    assert_eq!((reply.status, reply.allow.as_deref()), (405, Some("GET")));
    let reply = get(&relay, "/");
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (404, &b"relink serves POST /v1/traces, POST /v1/events, GET /metrics, /health and /ready (and the playground with --playground DIR)\n"[..])
    );
    // An OTLP client (an SDK whose endpoint is the relay also exports metrics and logs) gets
    // a google.rpc.Status in its encoding, as OTLP/HTTP requires of every 4xx.
    let reply = post(
        &relay,
        "/v1/metrics",
        &[("content-type", "application/x-protobuf")],
        b"",
    );
    assert_eq!(
        (reply.status, reply.content_type.as_str(), reply.body),
        (
            404,
            "application/x-protobuf",
            status_protobuf("relink serves POST /v1/traces, POST /v1/events, GET /metrics, /health and /ready (and the playground with --playground DIR)")
        )
    );
    let reply = post(
        &relay,
        "/health",
        &[("content-type", "application/json")],
        b"{}",
    );
    assert_eq!(
        (
            reply.status,
            reply.allow.as_deref(),
            reply.content_type.as_str(),
            String::from_utf8_lossy(&reply.body).as_ref()
        ),
        (
            405,
            Some("GET"),
            "application/json",
            r#"{"message":"use GET"}"#
        )
    );
}

/// `--playground DIR` serves the built page next to the OTLP routes, with the media types
/// browsers insist on (module scripts, streaming wasm compilation). The Chromium test runs
/// the whole page from a relay too (host-examples/playground/test/playground.test.mjs).
#[test]
fn the_playground_is_served_with_its_media_types() {
    let dir = TempDir::new("playground");
    dir.write("index.html", b"<!doctype html><title>relink</title>");
    dir.write("js/app.js", b"import './model.js';");
    dir.write("pkg/relink_bg.wasm", b"\0asm\x01\0\0\0");
    dir.write("samples/index.json", b"[]");
    let site = dir.path("");
    let relay = start(Opts {
        playground: Some(&site),
        ..Opts::default()
    });
    for (path, content_type, body) in [
        (
            "/",
            "text/html; charset=utf-8",
            &b"<!doctype html><title>relink</title>"[..],
        ),
        (
            "/index.html",
            "text/html; charset=utf-8",
            b"<!doctype html><title>relink</title>",
        ),
        (
            "/js/app.js",
            "text/javascript; charset=utf-8",
            b"import './model.js';",
        ),
        (
            "/pkg/relink_bg.wasm",
            "application/wasm",
            b"\0asm\x01\0\0\0",
        ),
        ("/samples/index.json?v=1", "application/json", b"[]"),
    ] {
        let reply = get(&relay, path);
        assert_eq!(
            (
                reply.status,
                reply.content_type.as_str(),
                reply.body.as_slice()
            ),
            (200, content_type, body),
            "{path}"
        );
    }
    for path in [
        "/nope.js",
        "/js/../../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/js/",
    ] {
        let reply = get(&relay, path);
        assert_eq!(reply.status, 404, "{path}");
    }
    // The OTLP routes are unchanged.
    assert_eq!(
        post(
            &relay,
            "/v1/traces",
            &[("content-type", "application/json")],
            b"{}"
        )
        .status,
        200
    );
    assert_eq!(get(&relay, "/metrics").status, 200);
    let reply = post(&relay, "/", &[], b"");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body, b"relink serves POST /v1/traces, POST /v1/events, GET /metrics, /health, /ready and the playground (GET /)\n");

    let missing = dir.path("nowhere");
    let error = Relay::start(&ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        component: component(),
        playground: Some(missing.clone()),
        ..ServeOptions::default()
    })
    .err()
    .map(|e| e.message);
    assert_eq!(
        error,
        Some(format!(
            "--playground {}: no index.html (build the playground with ./build.sh or host-examples/playground/build.sh)",
            missing.display()
        ))
    );
}

#[test]
fn metrics_show_the_components_counters() {
    let relay = start(Opts::default());
    let (input, _) = golden("s3-one-batch", 1);
    assert_eq!(
        post(
            &relay,
            "/v1/traces",
            &[("content-type", "application/json")],
            &input
        )
        .status,
        200
    );
    assert_eq!(
        post(
            &relay,
            "/v1/traces",
            &[("content-type", "application/json")],
            b"[1]"
        )
        .status,
        400
    );
    let reply = get(&relay, "/metrics");
    assert_eq!(
        (reply.status, reply.content_type.as_str()),
        (200, "text/plain; version=0.0.4")
    );
    let text = String::from_utf8_lossy(&reply.body);
    for line in [
        "relink_relay_responses_total{code=\"200\"} 1",
        "relink_relay_responses_total{code=\"400\"} 1",
        "# TYPE relink_requests_total counter",
        "relink_requests_total 2",
        "relink_spans_in_total 4",
        // The write's pointer, and the notification's two (its key `Happy%20Face.jpg` also
        // hashed as written, as Datadog's Lambda consumers do).
        "relink_links_pointer_total 3",
        "relink_links_exact_total 1",
        "relink_errors_request_decode_total 1",
        "# TYPE relink_index_entries gauge",
        "relink_relay_component_restarts_total 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    // Time in the component and waiting for it: seconds, the first above zero.
    let seconds = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no `{name}` in\n{text}"))
    };
    assert!(seconds("relink_relay_component_seconds_total") > 0.0);
    assert!(seconds("relink_relay_component_wait_seconds_total") >= 0.0);
}

#[test]
fn concurrent_requests_share_one_processor() {
    let upstream = Upstream::start(200, "application/json", b"{}", Duration::from_millis(20));
    let relay = start(Opts {
        upstream: Some(&upstream),
        workers: 4,
        ..Opts::default()
    });
    let (input, _) = golden("pass-through", 2);
    let spans = otlp::decode_json(&input)
        .map(|r| count_spans(&r))
        .unwrap_or(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..10 {
                    assert_eq!(
                        post(
                            &relay,
                            "/v1/traces",
                            &[("content-type", "application/json")],
                            &input
                        )
                        .status,
                        200
                    );
                }
            });
        }
    });
    assert_eq!(upstream.wait_received(40).len(), 40);
    let text = String::from_utf8_lossy(&get(&relay, "/metrics").body).into_owned();
    assert!(
        text.lines().any(|l| l == "relink_requests_total 40"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == format!("relink_spans_in_total {}", 40 * spans)),
        "{text}"
    );
}

#[test]
fn missing_or_invalid_component_or_config_is_a_clear_error() {
    let dir = TempDir::new("errors");
    let missing = dir.path("missing.wasm");
    let error = |options: ServeOptions| match Relay::start(&options) {
        Ok(_) => panic!("started"),
        Err(e) => (e.code, e.message),
    };
    let base = ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        component: component(),
        ..ServeOptions::default()
    };
    assert_eq!(
        error(ServeOptions {
            component: missing.clone(),
            ..base.clone()
        }),
        (
            2,
            format!(
                "component {}: cannot read: No such file or directory (os error 2)",
                missing.display()
            )
        )
    );
    let text = dir.write("text.wasm", b"not wasm");
    let (code, message) = error(ServeOptions {
        component: text.clone(),
        ..base.clone()
    });
    assert_eq!(code, 2);
    assert!(
        message.starts_with(&format!(
            "component {}: not a relink component (world relink:processor/relink): ",
            text.display()
        )),
        "{message}"
    );
    let config = dir.write(
        "config.json",
        br#"{"index": {"max_entries": 0}, "attributes": {"event": ""}}"#,
    );
    assert_eq!(
        error(ServeOptions { config: Some(config.clone()), ..base.clone() }),
        (2, format!(
            "--config {}: config: `attributes.event` must not be empty; config: `index.max_entries` is 0, expected 1 to 50000000",
            config.display()
        ))
    );
    let absent = dir.path("absent.json");
    assert_eq!(
        error(ServeOptions {
            config: Some(absent.clone()),
            ..base.clone()
        }),
        (
            2,
            format!(
                "--config {}: cannot read: No such file or directory (os error 2)",
                absent.display()
            )
        )
    );
    let nowhere = dir.path("no/such/dir/out.jsonl");
    assert_eq!(
        error(ServeOptions {
            out: Some(nowhere.clone()),
            ..base.clone()
        }),
        (
            2,
            format!(
                "--out {}: cannot open for appending: No such file or directory (os error 2)",
                nowhere.display()
            )
        )
    );
}

#[test]
fn exit_codes_tell_usage_from_configuration_from_runtime_errors() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_relink-relay"))
            .arg("serve")
            .args(args)
            .arg("--component")
            .arg(component())
            .output()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )
    };
    let (code, stderr) = run(&["--no-such-flag"]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.starts_with("relink serve: "), "{stderr}");
    let (code, stderr) = run(&["--spool", "/nonexistent/spool"]);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("--spool"), "{stderr}");
    let (code, stderr) = run(&["--listen", "127.0.0.1:0", "--max-body", "1073741824"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with("relink serve: --max-body 1073741824: "),
        "{stderr}"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = taken
        .local_addr()
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string();
    let (code, stderr) = run(&["--listen", &addr, "--grpc-listen", "off"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot listen"), "{stderr}");
}

#[test]
fn settings_the_machine_lowers_are_said_at_start() {
    // Under an open-files limit of 100 the connection cap is 100 - 64; with two workers one
    // reader at most can be busy. Both are said before the listening line.
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -n 100 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_relink-relay"))
        .args(["serve", "--listen", "127.0.0.1:0", "--grpc-listen", "off"])
        .args(["--workers", "2", "--readers", "3", "--component"])
        .arg(component())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let mut said = Vec::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
        let line = line.unwrap_or_default();
        let done = line.starts_with("relink: listening on ");
        said.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        said.get(..2).unwrap_or_default(),
        [
            "relink: --readers 3 lowered to 1: at most --workers (2) - 1 can be busy",
            "relink: --max-connections 1024 lowered to 36: the open-files limit (100) less 64 \
             for the relay's own files",
        ],
        "{said:?}"
    );
    assert!(
        said.last()
            .is_some_and(|l| l.starts_with("relink: listening on ")),
        "{said:?}"
    );
}

#[test]
fn a_port_in_use_exits_1_unless_it_is_the_default_grpc_port() {
    use relink_relay::options::{GrpcListen, Receivers};
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = taken.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let free = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"));
    let options = |listen, grpc_listen| ServeOptions {
        listen,
        component: component(),
        receivers: Receivers {
            grpc_listen,
            ..Receivers::default()
        },
        ..ServeOptions::default()
    };
    let refused = |o: ServeOptions| match Relay::start(&o) {
        Ok(_) => panic!("started on a port in use"),
        Err(e) => (e.code, e.message),
    };
    let (code, message) = refused(options(addr, GrpcListen::Off));
    assert_eq!(code, 1);
    assert!(
        message.starts_with(&format!("--listen {addr}: cannot listen: ")),
        "{message}"
    );
    assert!(message.contains("in use"), "{message}");
    let (code, message) = refused(options(free, GrpcListen::Given(addr)));
    assert_eq!(code, 1);
    assert!(
        message.starts_with(&format!("--grpc-listen {addr}: cannot listen: ")),
        "{message}"
    );
    // The default gRPC port is skipped with the reason, so a second relay on a host starts.
    let relay = Relay::start(&options(free, GrpcListen::Default(addr)))
        .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(relay.grpc_addr(), None);
    let skipped = relay.grpc_skipped.clone().unwrap_or_default();
    assert!(
        skipped.starts_with(&format!("the default {addr}: "))
            && skipped.ends_with("; pass --grpc-listen ADDR, or off"),
        "{skipped}"
    );
    relay.shutdown().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn state_the_guest_memory_cannot_hold_is_refused_at_start() {
    let dir = TempDir::new("guest-memory");
    let base = ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        component: component(),
        ..ServeOptions::default()
    };
    let start = |config: &str, max_body: usize| {
        let path = dir.write("config.json", config.as_bytes());
        let options = ServeOptions {
            config: Some(path.clone()),
            max_body,
            ..base.clone()
        };
        (path, Relay::start(&options))
    };
    let refused = |config: &str, max_body: usize| match start(config, max_body) {
        (_, Ok(_)) => panic!("started with {config} and --max-body {max_body}"),
        (path, Err(e)) => (
            e.code,
            e.message.replace(&path.display().to_string(), "FILE"),
        ),
    };
    // 1 GiB less 7 x 16 MiB for a request and 32 MiB for the guest: 880 MiB for state, 112
    // bytes an index entry and 200 an adopted trace at their peaks.
    let sixteen = 16 << 20;
    assert_eq!(
        refused(r#"{"index": {"max_entries": 20000000}}"#, sixteen),
        (
            2,
            "--config FILE: index.max_entries 20000000 can take 2136 MiB of guest memory at \
             its peak, more than the 1024 MiB a component instance gets (with --max-body \
             16777216, 880 MiB are left for state); at most 8238811"
                .into()
        )
    );
    assert_eq!(
        refused(
            r#"{"adoption": {"enabled": true, "max_traces": 10000000}}"#,
            sixteen
        ),
        (
            2,
            "--config FILE: adoption.max_traces 10000000 can take 1907 MiB of guest memory \
             at its peak, more than the 1024 MiB a component instance gets (with --max-body \
             16777216, 880 MiB are left for state, 10 MiB of them for index.max_entries); at most 4557734"
                .into()
        )
    );
    assert_eq!(
        refused("{}", 200 << 20),
        (
            2,
            "--max-body 209715200: a request that large can take about 1432 MiB of guest \
             memory with the guest's own 32 MiB, more than the 1024 MiB each component \
             instance gets; at most 148598198"
                .into()
        )
    );
    // The largest index the message names starts; a smaller body leaves room for more.
    for (config, max_body) in [
        (r#"{"index": {"max_entries": 8238811}}"#, sixteen),
        (r#"{"index": {"max_entries": 9000000}}"#, 1 << 20),
    ] {
        match start(config, max_body) {
            (_, Ok(relay)) => {
                relay.shutdown().unwrap_or_else(|e| panic!("{e}"));
            }
            (_, Err(e)) => panic!("{config}, --max-body {max_body}: {}", e.message),
        }
    }
}

#[test]
fn sigterm_finishes_in_flight_requests_and_flushes_the_file() {
    let upstream = Upstream::start(200, "application/json", b"{}", Duration::from_millis(1500));
    let dir = TempDir::new("sigterm");
    let out = dir.path("out.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_relink-relay"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-interval",
            "0",
            "--upstream",
            &upstream.url(),
        ])
        .arg("--component")
        .arg(component())
        .arg("--out")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let mut stderr = BufReader::new(child.stderr.take().unwrap_or_else(|| panic!("no stderr")));
    let mut first = String::new();
    let _ = stderr.read_line(&mut first);
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in `{first}`"))
        .to_string();
    let (input, _) = golden("pass-through", 2);
    let ready_addr = addr.clone();
    assert!(ureq::get(format!("http://{ready_addr}/ready"))
        .call()
        .is_ok());
    let in_flight = std::thread::spawn(move || {
        post_to(
            &addr,
            "/v1/traces",
            &[("content-type", "application/json")],
            &input,
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(killed.is_ok_and(|s| s.success()));
    // Stopping, it is not ready: its listeners take no new connection (or a request that
    // got in is answered 503), while the request already read still gets its answer.
    std::thread::sleep(Duration::from_millis(200));
    let probe = ureq::get(format!("http://{ready_addr}/ready")).call();
    let answered_503 = matches!(probe, Err(ureq::Error::StatusCode(503)));
    assert!(
        answered_503
            || matches!(
                probe,
                Err(ureq::Error::ConnectionFailed | ureq::Error::Io(_))
            ),
        "{probe:?}"
    );
    let reply = in_flight.join().unwrap_or_else(|_| panic!("client thread"));
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"{}"[..]));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "relay did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    assert!(status.success(), "{status}: {rest}");
    // The answers: the first readiness probe, the export, and the second probe if it got in.
    let responses = if answered_503 { 3 } else { 2 };
    assert!(
        rest.starts_with(&format!(
            "relink: SIGTERM: finishing in-flight requests\nrelink: responses={responses} "
        )),
        "{rest}"
    );
    assert!(rest.contains(" requests=1 "), "{rest}");
    assert_eq!(
        std::fs::read_to_string(&out)
            .map(|s| s.lines().count())
            .unwrap_or(0),
        1
    );
}

#[test]
fn golden_cases_through_wasmtime_match_the_native_core() {
    let manifest = manifest();
    let base_now: u64 = manifest["base_now"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let golden_dir = root().join(manifest["golden"].as_str().unwrap_or_default());
    let cases = manifest["cases"].as_array().cloned().unwrap_or_default();
    // Every golden case, none left out: the manifest lists exactly the case folders.
    let mut folders: Vec<String> = std::fs::read_dir(&golden_dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    folders.sort();
    assert_eq!(serde_json::json!(folders), serde_json::json!(cases));
    assert_eq!(cases.len(), 19);
    let loaded = LoadedComponent::load(&component()).unwrap_or_else(|e| panic!("{e}"));
    for case in cases {
        let name = case.as_str().unwrap_or_default();
        let dir = golden_dir.join(name);
        let config = std::fs::read_to_string(dir.join("config.json")).unwrap_or_default();
        let mut relinker = loaded
            .processor(&config)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let summary: serde_json::Value =
            serde_json::from_slice(&read(&dir.join("counters.json"))).unwrap_or_default();
        let mut errors = Vec::new();
        for (n, path, is_event) in batches(&dir) {
            let input = read(&path);
            let now = base_now + n * 1_000_000_000;
            if is_event {
                let out = relinker
                    .process_event(&input, None, now)
                    .unwrap_or_else(|e| panic!("{name} event-{n}: {e}"));
                assert_eq!(
                    json(&out),
                    json(&read(&dir.join(format!("expected-{n}.json")))),
                    "{name} event-{n}"
                );
                continue;
            }
            match relinker.process_traces(&input, relink_relay::component::Encoding::Auto, now) {
                Err(relink_relay::component::CallError::Component(ComponentError::Decode(m))) => {
                    errors.push(format!("input-{n}: {m}"));
                }
                Err(other) => panic!("{name} input-{n}: {other}"),
                Ok(out) => {
                    let expected = read(&dir.join(format!("expected-{n}.json")));
                    if expected == input {
                        assert!(
                            out == input,
                            "{name} input-{n}: expected the input bytes back"
                        );
                    } else {
                        assert_eq!(json(&out), json(&expected), "{name} input-{n}");
                    }
                }
            }
        }
        assert_eq!(serde_json::json!(errors), summary["errors"], "{name}");
        let mut counters: Vec<(String, u64)> = relinker
            .counters()
            .into_iter()
            .filter(|c| c.name != "index.memory_bytes")
            .map(|c| (c.name, c.value))
            .collect();
        counters.sort();
        assert_eq!(counters, flatten(&summary["counters"]), "{name}");
    }
    for case in manifest["events"].as_array().cloned().unwrap_or_default() {
        let mut relinker = loaded.processor("{}").unwrap_or_else(|e| panic!("{e}"));
        let context = case["context"].as_object().map(|c| EventContext {
            invocation_start_unix_nano: c["invocation_start_unix_nano"]
                .as_str()
                .and_then(|s| s.parse().ok()),
            service_name: c["service_name"].as_str().map(String::from),
            execution_arn: c["execution_arn"].as_str().map(String::from),
        });
        let event = read(&root().join(case["event"].as_str().unwrap_or_default()));
        let out = relinker
            .process_event(&event, context.as_ref(), base_now)
            .unwrap_or_else(|e| panic!("{e}"));
        let expected = read(&root().join(case["expected"].as_str().unwrap_or_default()));
        assert_eq!(json(&out), json(&expected), "{}", case["expected"]);
    }
    for case in manifest["config_errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let problems = match loaded.processor(case["config"].as_str().unwrap_or_default()) {
            Err(relink_relay::component::LoadError::Config(problems)) => problems,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("accepted {}", case["config"]),
        };
        assert_eq!(serde_json::json!(problems), case["errors"]);
    }
}

#[test]
fn a_trapping_component_is_restarted_and_the_request_passes_through() {
    // 4 MiB of guest memory: enough to start, not enough for a 3 MB request, so the
    // guest's allocator fails and the instance traps.
    let loaded = LoadedComponent::load(&component())
        .unwrap_or_else(|e| panic!("{e}"))
        .memory_limit(4 << 20);
    let relinker = loaded.processor("{}").unwrap_or_else(|e| panic!("{e}"));
    let upstream = Upstream::start(200, "application/json", b"{}", Duration::ZERO);
    let pipeline = pipeline(relinker, Vec::new(), &upstream);
    let big = big_request(3_000_000);
    let reply = pipeline.export(ExportRequest {
        encoding: Encoding::Json,
        content_encoding: None,
        body: big.clone(),
    });
    assert_eq!(
        (reply.status, String::from_utf8_lossy(&reply.body).as_ref()),
        (
            200,
            r#"{"partialSuccess":{"errorMessage":"relink passed this request through unchanged: component trapped (restarted): wasm trap: wasm `unreachable` instruction executed"}}"#
        )
    );
    assert_eq!(upstream.received()[0].body, big);
    // The fresh instance serves the next request.
    let (small, _) = golden("pass-through", 2);
    let reply = pipeline.export(ExportRequest {
        encoding: Encoding::Json,
        content_encoding: None,
        body: small.clone(),
    });
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"{}"[..]));
    assert_eq!(upstream.received()[1].body, small);
    let metrics = pipeline.prometheus();
    assert!(
        metrics
            .lines()
            .any(|l| l == "relink_relay_component_restarts_total 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "relink_relay_passed_through_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.lines().any(|l| l == "relink_requests_total 1"),
        "{metrics}"
    );
}

/// Every golden case as protobuf through two instances: one processes each request, the
/// other is given what a third (a reader) read ahead with `prepare-traces`. Both must
/// answer the same bytes and end with the same counters.
#[test]
fn evidence_read_on_another_instance_gives_the_same_bytes() {
    let manifest = manifest();
    let golden_dir = root().join(manifest["golden"].as_str().unwrap_or_default());
    let loaded = LoadedComponent::load(&component()).unwrap_or_else(|e| panic!("{e}"));
    let wit = relink_relay::component::Encoding::Protobuf;
    let mut prepared_some = 0;
    for case in manifest["cases"].as_array().cloned().unwrap_or_default() {
        let name = case.as_str().unwrap_or_default();
        let dir = golden_dir.join(name);
        let config = std::fs::read_to_string(dir.join("config.json")).unwrap_or_default();
        let start = || loaded.processor(&config).unwrap_or_else(|e| panic!("{e}"));
        let (mut direct, mut owner, mut reader) = (start(), start(), start());
        for (n, path, is_event) in batches(&dir) {
            let now = 1_709_929_400_000_000_000 + n * 1_000_000_000;
            let input = read(&path);
            if is_event {
                let a = direct.process_event(&input, None, now);
                let b = owner.process_event(&input, None, now);
                assert_eq!(a.ok(), b.ok(), "{name} event-{n}");
                continue;
            }
            // The malformed case's inputs are not OTLP/JSON: they go in as they are.
            let body = otlp::decode_json(&input)
                .map(|r| otlp::encode_protobuf(&r))
                .unwrap_or(input);
            let ahead = reader.prepare_traces(&body, wit);
            prepared_some += usize::from(ahead.is_some());
            let a = direct.process_traces_changed(&body, wit, now);
            let b = owner.process_traces_prepared(&body, wit, &ahead.unwrap_or_default(), now);
            assert_eq!(
                format!("{a:?}"),
                format!("{b:?}"),
                "{name} input-{n}: prepared ahead or not"
            );
        }
        let counters = |r: &mut relink_relay::component::Relinker| {
            let mut c: Vec<(String, u64)> = r
                .counters()
                .into_iter()
                .map(|c| (c.name, c.value))
                .collect();
            c.sort();
            c
        };
        assert_eq!(counters(&mut direct), counters(&mut owner), "{name}");
        // The reader's counters never move: preparing changes nothing.
        assert!(
            counters(&mut reader)
                .iter()
                .all(|(k, v)| *v == 0 || k == "index.memory_bytes"),
            "{name}: {:?}",
            counters(&mut reader)
        );
    }
    assert!(prepared_some >= 20, "requests prepared: {prepared_some}");
}

/// A pipeline whose instance holding the state is `relinker`, with `readers`, forwarding
/// synchronously to `upstream`.
fn pipeline(
    relinker: relink_relay::component::Relinker,
    readers: Vec<relink_relay::component::Relinker>,
    upstream: &Upstream,
) -> Pipeline {
    let metrics = std::sync::Arc::new(Default::default());
    let config = relink_relay::upstream_config::UpstreamConfig::http_base(&upstream.url())
        .unwrap_or_else(|e| panic!("{e}"));
    let forward = relink_relay::upstream::Upstream::new(&config).unwrap_or_else(|e| panic!("{e}"));
    Pipeline {
        relinker: std::sync::Mutex::new(relinker),
        outputs: Outputs {
            upstream: Some(UpstreamOutput::Synchronous(std::sync::Arc::new(forward))),
            file: None,
            metrics: std::sync::Arc::clone(&metrics),
            abandon: Default::default(),
        },
        metrics,
        max_body: 64 << 20,
        readers: readers.into_iter().map(std::sync::Mutex::new).collect(),
    }
}

/// The golden S3 pair as protobuf, producer batch then consumer batch.
fn s3_pair() -> [Vec<u8>; 2] {
    [1, 2].map(|n| {
        let (input, _) = golden("s3-put-then-notify", n);
        otlp::encode_protobuf(&decode(&input, Encoding::Json))
    })
}

/// Exports `body` while the instance holding the state is held by the test, so the export
/// reads its evidence on a reader first; returns the reply once the instance is let go.
fn export_while_busy(p: &std::sync::Arc<Pipeline>, body: Vec<u8>) -> relink_relay::export::Reply {
    let prepared = || {
        p.metrics
            .prometheus(&[], 0, &[])
            .lines()
            .find_map(|l| l.strip_prefix("relink_relay_prepared_total "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = prepared();
    let held = p.relinker.lock().unwrap_or_else(|e| panic!("{e}"));
    let exporting = std::sync::Arc::clone(p);
    let exporter = std::thread::spawn(move || {
        exporting.export(ExportRequest {
            encoding: Encoding::Protobuf,
            content_encoding: None,
            body,
        })
    });
    // Wait until the reader is done: the export then waits for the lock.
    let deadline = Instant::now() + Duration::from_secs(30);
    while prepared() == before {
        assert!(Instant::now() < deadline, "the reader never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(held);
    exporter
        .join()
        .unwrap_or_else(|_| panic!("the export panicked"))
}

#[test]
fn a_busy_relay_reads_evidence_on_a_reader_and_forwards_the_same_bytes() {
    let loaded = LoadedComponent::load(&component()).unwrap_or_else(|e| panic!("{e}"));
    let start = || loaded.processor("{}").unwrap_or_else(|e| panic!("{e}"));
    // The producer batch relinks on the instance directly; the consumer batch arrives
    // while it is busy.
    let [producer, consumer] = s3_pair();
    let mut direct = start();
    let now = relink::time::unix_nanos(std::time::SystemTime::now());
    let wit = relink_relay::component::Encoding::Protobuf;
    let _ = direct.process_traces_changed(&producer, wit, now);
    let want = direct
        .process_traces_changed(&consumer, wit, now)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the consumer batch was not relinked"));

    let upstream = Upstream::start(200, "application/x-protobuf", b"", Duration::ZERO);
    let p = std::sync::Arc::new(pipeline(start(), vec![start()], &upstream));
    let first = p.export(ExportRequest {
        encoding: Encoding::Protobuf,
        content_encoding: None,
        body: producer,
    });
    assert_eq!(first.status, 200);
    let reply = export_while_busy(&p, consumer);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(upstream.received()[1].body, want);
    let metrics = p.prometheus();
    assert!(
        metrics
            .lines()
            .any(|l| l == "relink_relay_prepared_total 1"),
        "{metrics}"
    );
    let links = direct
        .counters()
        .into_iter()
        .find(|c| c.name == "links.pointer")
        .map_or(0, |c| c.value);
    let line = format!("relink_links_pointer_total {links}");
    assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
}

#[test]
fn a_counting_component_uses_the_same_fuel_to_read_the_same_request() {
    // Benchmarks compare two builds of the guest by the fuel a call uses. Reading evidence
    // touches no state, so it costs the same every time; a call that plans against the
    // index varies a little with the index's random hash keys, but is counted.
    let [producer, consumer] = s3_pair();
    let wit = relink_relay::component::Encoding::Protobuf;
    let fuel = |loaded: &LoadedComponent| {
        let mut p = loaded.processor("{}").unwrap_or_else(|e| panic!("{e}"));
        let mut spent = Vec::new();
        for body in [&producer, &consumer] {
            let before = p.fuel_used();
            assert!(p.prepare_traces(body, wit).is_some());
            spent.push(p.fuel_used() - before);
        }
        let before = p.fuel_used();
        let out = p.process_traces_changed(&consumer, wit, 1_709_929_400_000_000_000);
        assert!(out.is_ok(), "{out:?}");
        spent.push(u64::from(p.fuel_used() > before));
        spent
    };
    let counting = LoadedComponent::counting(&component()).unwrap_or_else(|e| panic!("{e}"));
    let first = fuel(&counting);
    assert!(first[..2].iter().all(|&f| f > 1000), "{first:?}");
    assert_eq!(first[2], 1, "a whole call used no fuel");
    assert_eq!(fuel(&counting), first);
    let plain = LoadedComponent::load(&component()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fuel(&plain), vec![0, 0, 0]);
}

#[test]
fn a_reader_that_traps_loses_nothing() {
    let loaded = LoadedComponent::load(&component()).unwrap_or_else(|e| panic!("{e}"));
    let owner = loaded.processor("{}").unwrap_or_else(|e| panic!("{e}"));
    // A reader with 4 MiB of memory traps on a 6 MB request; the instance holding the
    // state then reads the evidence itself.
    let reader = loaded
        .clone()
        .memory_limit(4 << 20)
        .processor("{}")
        .unwrap_or_else(|e| panic!("{e}"));
    let upstream = Upstream::start(200, "application/x-protobuf", b"", Duration::ZERO);
    let p = std::sync::Arc::new(pipeline(owner, vec![reader], &upstream));
    let big = otlp::encode_protobuf(&decode(&big_request(6_000_000), Encoding::Json));
    let reply = export_while_busy(&p, big.clone());
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b""[..]));
    assert_eq!(upstream.received()[0].body, big);
    let restarts = p.readers[0].lock().map(|r| r.restarts()).unwrap_or(0);
    assert_eq!(restarts, 1);
    // The restarted reader serves the next busy export.
    let [producer, _] = s3_pair();
    let reply = export_while_busy(&p, producer);
    assert_eq!(reply.status, 200);
    assert_eq!(upstream.received().len(), 2);
    let metrics = p.prometheus();
    assert!(
        metrics
            .lines()
            .any(|l| l == "relink_relay_prepared_total 2"),
        "{metrics}"
    );
}

/// A valid OTLP/JSON request of about `size` bytes (one span with a long attribute).
fn big_request(size: usize) -> Vec<u8> {
    format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"big","attributes":[{{"key":"blob","value":{{"stringValue":"{}"}}}}]}}]}}]}}]}}"#,
        "x".repeat(size)
    )
    .into_bytes()
}

fn raw_exchange(relay: &Relay, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(relay.local_addr()).unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn raw_events_become_spans_that_go_on() {
    let upstream = Upstream::start(200, "application/json", b"{}", Duration::ZERO);
    let relay = start(Opts {
        upstream: Some(&upstream),
        ..Opts::default()
    });
    let logs = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/golden/relink/serverless-demo/event-4.ndjson"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let reply = post(
        &relay,
        "/v1/events",
        &[("content-type", "application/x-ndjson")],
        &logs,
    );
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"{}"[..]));
    let forwarded = decode(&upstream.wait_received(1)[0].body, Encoding::Json);
    let spans: usize = forwarded
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    assert_eq!(
        spans, 9,
        "OrderFlow: the execution, 4 state spans (one a retry), 4 task attempts"
    );
    let reply = post(
        &relay,
        "/v1/events",
        &[("content-type", "application/json")],
        b"{\"not\": \"aws\"}",
    );
    assert_eq!(reply.status, 400);
    relay.shutdown().unwrap_or_else(|e| panic!("{e}"));
}

/// Every golden relink case over HTTP, as a deployment feeds the relay: `input-N.json` to
/// `/v1/traces`, the raw `event-N.*` payloads to `/v1/events`, in order, one relay per case
/// with the case's config. What reaches the upstream must be the golden expected output of
/// each batch (the input bytes themselves where the golden file says so); a batch the
/// golden summary counts as an error must get 400 and go nowhere.
#[test]
fn every_golden_case_over_http_gives_its_expected_outputs() {
    let golden_dir = root().join("tests/golden/relink");
    let mut cases: Vec<_> = std::fs::read_dir(&golden_dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 19, "golden relink cases");
    let (mut traces, mut events) = (0, 0);
    for dir in cases {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let config = String::from_utf8(read(&dir.join("config.json"))).unwrap_or_default();
        let summary = json(&read(&dir.join("counters.json")));
        let upstream = Upstream::start(200, "application/json", b"{}", Duration::ZERO);
        let relay = start(Opts {
            config: Some(&config),
            upstream: Some(&upstream),
            workers: 1,
            ..Opts::default()
        });
        let (mut forwarded, mut refused) = (0, 0);
        for (n, path, is_event) in batches(&dir) {
            let input = read(&path);
            let (route, media) = match (is_event, path.extension().and_then(|e| e.to_str())) {
                (false, _) => ("/v1/traces", "application/json"),
                (true, Some("ndjson")) => ("/v1/events", "application/x-ndjson"),
                (true, _) => ("/v1/events", "application/json"),
            };
            let reply = post(&relay, route, &[("content-type", media)], &input);
            if reply.status == 400 {
                refused += 1;
                continue;
            }
            assert_eq!(reply.status, 200, "{name} batch {n}");
            // A 200 means queued: the sender delivers it (one sender, in order) soon after.
            let body = upstream
                .wait_received(forwarded + 1)
                .get(forwarded)
                .map(|r| r.body.clone())
                .unwrap_or_else(|| panic!("{name} batch {n}: nothing forwarded"));
            forwarded += 1;
            let expected = read(&dir.join(format!("expected-{n}.json")));
            if expected == input {
                assert!(body == input, "{name} batch {n}: expected the input bytes");
            } else {
                assert_eq!(json(&body), json(&expected), "{name} batch {n} via {route}");
            }
            if is_event {
                events += 1;
            } else {
                traces += 1;
            }
        }
        let errors = summary["errors"].as_array().map_or(0, Vec::len);
        assert_eq!(refused, errors, "{name}: batches refused");
        relay.shutdown().unwrap_or_else(|e| panic!("{e}"));
    }
    // 53 OTLP batches less the malformed case's 4 undecodable ones, and 7 raw events.
    assert_eq!((traces, events), (49, 7), "batches through the relay");
}
