//! The upstream exporter against scripted loopback upstreams: OTLP/gRPC (h2c and TLS),
//! OTLP/HTTP over HTTPS with an API key, a test CA made at test time, mTLS. Checks the
//! OTLP/gRPC retry rules (Trailers-Only, RetryInfo, UNAVAILABLE retried, INVALID_ARGUMENT
//! not), partial success, what a wrong certificate or key does to acknowledged data, and
//! that a header's value never reaches the log or `/metrics`.

mod h2_upstream;
mod pki;

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use h2_upstream::{H2Upstream, Script};
use relink::otlp::Encoding;
use relink_relay::upstream::Upstream;
use relink_relay::upstream_config::{resolve, UpstreamFlags, GRPC_EXPORT_PATH};
use relink_relay::{grpc, Relay, ServeOptions};

use crate::faults::process::{post as post_once, RelayProcess};
use crate::faults::FAST_RETRY;
use crate::support::{component, count_spans, post, read, root, TempDir};

/// An OTLP/JSON batch of the pass-through golden case (relink changes nothing in it).
fn batch() -> Vec<u8> {
    read(&root().join("tests/golden/relink/pass-through/input-2.json"))
}

/// A relay in this process: `args` and the variables in `env` (nothing else from the
/// test process's environment).
fn relay(args: &[&str], env: &[(&str, &str)]) -> Relay {
    let mut words: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--log-interval",
        "0",
        "--senders",
        "1",
    ]
    .iter()
    .map(|w| w.to_string())
    .collect();
    words.extend(["--component".to_string(), component().display().to_string()]);
    words.extend(args.iter().map(|a| a.to_string()));
    let options = ServeOptions::parse_in(&words, &|name| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    Relay::start(&options).unwrap_or_else(|e| panic!("relay: {e}"))
}

fn metric(relay: &Relay, name: &str) -> u64 {
    relay
        .pipeline()
        .prometheus()
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits (at most 30 s) until `metric` reaches `at_least`.
fn wait_metric(relay: &Relay, name: &str, at_least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = metric(relay, name);
        if value >= at_least || Instant::now() > deadline {
            return value;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn post_json(relay: &Relay, body: &[u8]) -> u16 {
    post(
        relay,
        "/v1/traces",
        &[("content-type", "application/json")],
        body,
    )
    .status
}

fn dropped(reason: &str) -> String {
    format!("relink_relay_dropped_total{{output=\"upstream\",reason=\"{reason}\"}}")
}

#[test]
fn grpc_upstream_gets_protobuf_gzip_and_headers_and_its_partial_success_is_counted() {
    let upstream = H2Upstream::start(
        vec![Script::GrpcOk(3, "3 spans too old")],
        None,
        Some(("x-api-key", "k1")),
    );
    let url = format!("http://127.0.0.1:{}", upstream.port);
    let relay = relay(
        &[
            "--upstream",
            &url,
            "--upstream-protocol",
            "grpc",
            "--upstream-compression",
            "gzip",
            "--upstream-header",
            "x-api-key=k1",
        ],
        &[],
    );
    let input = batch();
    assert_eq!(post_json(&relay, &input), 200);
    let seen = upstream.wait_seen(1);
    let first = &seen[0];
    assert_eq!(first.path, GRPC_EXPORT_PATH);
    assert_eq!(
        ["content-type", "te", "grpc-encoding", "x-api-key"].map(|h| first.header(h)),
        [
            Some("application/grpc"),
            Some("trailers"),
            Some("gzip"),
            Some("k1")
        ]
    );
    assert_eq!(
        first.body.first(),
        Some(&1),
        "the message is flagged compressed"
    );
    let sent = relink::otlp::decode(&input, Encoding::Json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count_spans(&first.request()), count_spans(&sent));
    assert_eq!(
        wait_metric(&relay, "relink_relay_upstream_rejected_spans_total", 3),
        3
    );
    assert_eq!(
        metric(&relay, "relink_relay_upstream_partial_success_total"),
        1
    );
    assert_eq!(metric(&relay, "relink_relay_upstream_delivered_total"), 1);
}

/// A front for `port` whose first connection goes silent (accepted, never answered: a
/// dropped NAT flow, a hung backend); later connections are passed through. Returns the
/// front's port and the count of connections it accepted.
fn silent_first_connection(port: u16) -> (u16, Arc<AtomicUsize>) {
    let front = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let front_port = front.local_addr().map(|a| a.port()).unwrap_or(0);
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for client in front.incoming().flatten() {
            if count.fetch_add(1, Ordering::SeqCst) == 0 {
                held.push(client);
                continue;
            }
            let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone(), server.try_clone()),
                (server.try_clone(), client.try_clone()),
            ]
            .into_iter()
            .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
            {
                std::thread::spawn(move || std::io::copy(&mut from, &mut to));
            }
        }
    });
    (front_port, accepted)
}

#[test]
fn a_silent_upstream_connection_is_replaced() {
    // Over HTTP/2 every request shares the pooled connection: one that went silent would
    // time out every retry until the batch was given up, while a new one is answered.
    let upstream = H2Upstream::start(Vec::new(), None, None);
    let (port, accepted) = silent_first_connection(upstream.port);
    let url = format!("http://127.0.0.1:{port}");
    let relay = relay(
        &[
            "--upstream",
            &url,
            "--upstream-protocol",
            "grpc",
            "--upstream-timeout",
            "1s",
            "--retry-initial",
            "100ms",
            "--retry-max-elapsed",
            "20s",
        ],
        &[],
    );
    assert_eq!(post_json(&relay, &batch()), 200);
    assert_eq!(upstream.wait_seen(1).len(), 1);
    assert_eq!(
        wait_metric(&relay, "relink_relay_upstream_delivered_total", 1),
        1
    );
    assert!(metric(&relay, "relink_relay_upstream_retries_total") >= 1);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[test]
fn grpc_statuses_follow_the_otlp_retry_rules() {
    let upstream = H2Upstream::start(
        vec![
            Script::GrpcStatus {
                code: grpc::UNAVAILABLE,
                retry: Some(Duration::from_millis(100)),
                trailers_only: true,
            },
            Script::GrpcStatus {
                code: grpc::RESOURCE_EXHAUSTED,
                retry: Some(Duration::from_millis(400)),
                trailers_only: false,
            },
            Script::GrpcOk(0, ""),
            Script::GrpcStatus {
                code: grpc::INVALID_ARGUMENT,
                retry: None,
                trailers_only: true,
            },
            Script::GrpcStatus {
                code: grpc::RESOURCE_EXHAUSTED,
                retry: None,
                trailers_only: false,
            },
        ],
        None,
        None,
    );
    let url = format!("http://127.0.0.1:{}", upstream.port);
    // Backoff of 100 ms (50 to 150 with jitter): RetryInfo's longer 400 ms is waited
    // instead (a shorter one would not shorten the backoff).
    let relay = relay(
        &[
            "--upstream",
            &url,
            "--upstream-protocol",
            "grpc",
            "--retry-initial",
            "100ms",
            "--retry-max-interval",
            "100ms",
        ],
        &[],
    );
    assert_eq!(post_json(&relay, &batch()), 200);
    let seen = upstream.wait_seen(3);
    assert_eq!(
        seen.len(),
        3,
        "UNAVAILABLE and RESOURCE_EXHAUSTED with RetryInfo are retried"
    );
    assert!(
        seen[2].at.duration_since(seen[1].at) >= Duration::from_millis(400),
        "RetryInfo's delay is waited"
    );
    assert_eq!(
        wait_metric(&relay, "relink_relay_upstream_delivered_total", 1),
        1
    );
    assert_eq!(metric(&relay, "relink_relay_upstream_retries_total"), 2);
    // INVALID_ARGUMENT and RESOURCE_EXHAUSTED without RetryInfo: dropped, counted, not retried.
    assert_eq!(post_json(&relay, &batch()), 200);
    assert_eq!(wait_metric(&relay, &dropped("grpc_invalid_argument"), 1), 1);
    assert_eq!(post_json(&relay, &batch()), 200);
    assert_eq!(
        wait_metric(&relay, &dropped("grpc_resource_exhausted"), 1),
        1
    );
    assert_eq!(upstream.seen().len(), 5);
    assert_eq!(metric(&relay, "relink_relay_upstream_retries_total"), 2);
}

#[test]
fn without_a_queue_grpc_statuses_reach_the_client_as_http() {
    let upstream = H2Upstream::start(
        vec![
            Script::GrpcStatus {
                code: grpc::UNAVAILABLE,
                retry: Some(Duration::from_millis(1500)),
                trailers_only: true,
            },
            Script::GrpcStatus {
                code: grpc::INVALID_ARGUMENT,
                retry: None,
                trailers_only: false,
            },
        ],
        None,
        None,
    );
    let url = format!("http://127.0.0.1:{}", upstream.port);
    let relay = relay(
        &[
            "--upstream",
            &url,
            "--upstream-protocol",
            "grpc",
            "--queue-bytes",
            "0",
        ],
        &[],
    );
    let (body, _) = crate::faults::process::batch(2, 10);
    let addr = relay.local_addr().to_string();
    let busy = post_once(&addr, &body, Duration::from_secs(10));
    assert_eq!((busy.status, busy.retry_after.as_deref()), (503, Some("2")));
    let bad = post(
        &relay,
        "/v1/traces",
        &[("content-type", "application/json")],
        &batch(),
    );
    assert_eq!(bad.status, 400);
    let text = String::from_utf8_lossy(&bad.body);
    assert!(
        text.contains("grpc status INVALID_ARGUMENT: scripted INVALID_ARGUMENT"),
        "{text}"
    );
    assert_eq!(post_once(&addr, &body, Duration::from_secs(10)).status, 200);
}

#[test]
fn https_upstreams_with_a_test_ca_and_an_api_key_over_http_and_grpc() {
    let pki = pki::Pki::new();
    let ca = pki.ca.display().to_string();
    let key = Some(("x-api-key", "s3cret"));
    // OTLP/HTTP (JSON) over TLS, flags; HTTP/2 by ALPN since the upstream offers only h2.
    let partial = vec![Script::HttpPartial(2, "2 spans too large")];
    let http = H2Upstream::start(partial, Some(pki.acceptor(false)), key);
    let base = format!("https://127.0.0.1:{}", http.port);
    let relay_http = relay(
        &[
            "--upstream",
            &base,
            "--upstream-ca",
            &ca,
            "--upstream-header",
            "x-api-key=s3cret",
            "--upstream-protocol",
            "http/json",
        ],
        &[],
    );
    assert_eq!(post_json(&relay_http, &batch()), 200);
    let seen = http.wait_seen(1);
    assert_eq!(
        (seen[0].path.as_str(), seen[0].header("content-type")),
        ("/v1/traces", Some("application/json"))
    );
    assert_eq!(
        wait_metric(&relay_http, "relink_relay_upstream_delivered_total", 1),
        1
    );
    assert_eq!(
        wait_metric(&relay_http, "relink_relay_upstream_rejected_spans_total", 2),
        2
    );
    // OTLP/gRPC over TLS, configured by the OTEL_EXPORTER_OTLP_* variables alone.
    let grpc_upstream = H2Upstream::start(vec![], Some(pki.acceptor(false)), key);
    let endpoint = format!("https://localhost:{}", grpc_upstream.port);
    let relay_grpc = relay(
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=s3cr%65t"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
        ],
    );
    assert_eq!(post_json(&relay_grpc, &batch()), 200);
    let seen = grpc_upstream.wait_seen(1);
    assert_eq!(
        (seen[0].path.as_str(), seen[0].header("x-api-key")),
        (GRPC_EXPORT_PATH, Some("s3cret"))
    );
    // gRPC's own request headers; the attempt's timeout travels as `grpc-timeout`, so the
    // server gives up when the relay does.
    assert_eq!(
        ["content-type", "te", "grpc-timeout"].map(|name| seen[0].header(name)),
        [Some("application/grpc"), Some("trailers"), Some("2500m")]
    );
    assert_eq!(
        wait_metric(&relay_grpc, "relink_relay_upstream_delivered_total", 1),
        1
    );
    // The key's value is in neither the metrics nor the options' Debug form.
    assert!(!relay_grpc.pipeline().prometheus().contains("s3cret"));
}

#[test]
fn an_untrusted_certificate_is_a_clear_error_and_the_spool_keeps_the_batch() {
    let pki = pki::Pki::new();
    let upstream = H2Upstream::start(vec![], Some(pki.acceptor(false)), None);
    let base = format!("https://127.0.0.1:{}", upstream.port);
    let flags = UpstreamFlags {
        base: Some(base.clone()),
        tls: relink_relay::upstream_config::TlsFiles {
            ca: Some(pki.other_ca.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    let config = resolve(&flags, &Default::default())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no config"));
    let error = Upstream::new(&config)
        .and_then(|u| u.send_once(Encoding::Json, batch()).map(|_| ()))
        .err()
        .unwrap_or_default();
    assert!(
        error.contains("invalid peer certificate: UnknownIssuer"),
        "{error}"
    );
    assert!(
        error.contains("not trusted by --upstream-ca or the system roots"),
        "{error}"
    );

    let spool = TempDir::new("tls-spool");
    let dir = spool.path("spool").display().to_string();
    let timeouts = ["--upstream-timeout", "1s", "--shutdown-timeout", "2s"];
    let wrong = pki.other_ca.display().to_string();
    let args = [
        &[
            "--upstream",
            &base,
            "--upstream-ca",
            &wrong,
            "--spool",
            &dir,
        ][..],
        &FAST_RETRY,
        &timeouts,
    ]
    .concat();
    let first = relay(&args, &[]);
    assert_eq!(post_json(&first, &batch()), 200);
    assert!(wait_metric(&first, "relink_relay_upstream_retries_total", 1) >= 1);
    assert_eq!(metric(&first, &dropped("retries_exhausted")), 0);
    assert_eq!(
        first.shutdown().map_err(|e| e.to_string()),
        Ok(format!(
            "1 batches kept in the spool {dir} for the next start"
        ))
    );
    assert!(upstream.seen().is_empty());
    // Restarted with the right CA, the spooled batch is delivered.
    let right = pki.ca.display().to_string();
    let args = [
        &[
            "--upstream",
            &base,
            "--upstream-ca",
            &right,
            "--spool",
            &dir,
        ][..],
        &FAST_RETRY,
        &timeouts,
    ]
    .concat();
    let second = relay(&args, &[]);
    assert_eq!(
        wait_metric(&second, "relink_relay_upstream_delivered_total", 1),
        1
    );
    assert_eq!(upstream.seen().len(), 1);
}

#[test]
fn mtls_upstreams_refuse_a_relay_without_its_client_certificate() {
    let pki = pki::Pki::new();
    let upstream = H2Upstream::start(vec![], Some(pki.acceptor(true)), None);
    let base = format!("https://127.0.0.1:{}", upstream.port);
    let send = |client: bool| {
        let mut flags = UpstreamFlags {
            base: Some(base.clone()),
            ..Default::default()
        };
        flags.tls.ca = Some(pki.ca.clone());
        if client {
            flags.tls.client_cert = Some(pki.client_cert.clone());
            flags.tls.client_key = Some(pki.client_key.clone());
        }
        let config = resolve(&flags, &Default::default())
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no config"));
        Upstream::new(&config)
            .and_then(|u| u.send_once(Encoding::Json, batch()))
            .map(|a| a.reply.status)
    };
    let refused = send(false);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("upstream https://127.0.0.1")),
        "{refused:?}"
    );
    assert_eq!(upstream.seen().len(), 0);
    assert_eq!(send(true), Ok(200));
    assert_eq!(upstream.seen().len(), 1);
}

#[test]
fn a_wrong_api_key_is_logged_without_the_key_and_the_batch_is_kept() {
    let pki = pki::Pki::new();
    let upstream = H2Upstream::start(
        vec![],
        Some(pki.acceptor(false)),
        Some(("x-api-key", "right")),
    );
    let base = format!("https://127.0.0.1:{}", upstream.port);
    let ca = pki.ca.display().to_string();
    let relay = RelayProcess::spawn(
        &[
            &[
                "--upstream",
                &base,
                "--upstream-ca",
                &ca,
                "--upstream-header",
                "x-api-key=WRONG-s3cret",
            ][..],
            &FAST_RETRY,
        ]
        .concat(),
    );
    let (body, _) = crate::faults::process::batch(3, 10);
    assert_eq!(
        post_once(&relay.addr, &body, Duration::from_secs(10)).status,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while relay.metric("relink_relay_upstream_retries_total") < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = relay.log();
    assert!(
        log.contains("refused the relay's credentials (status 401"),
        "{log}"
    );
    assert!(
        log.contains(
            "check --upstream-header or OTEL_EXPORTER_OTLP_HEADERS; the batch is kept and retried"
        ),
        "{log}"
    );
    assert!(
        log.contains("/v1/traces (http, in each request's encoding, headers x-api-key) through"),
        "{log}"
    );
    let (_, metrics) = relay.get("/metrics");
    for text in [&log, &metrics] {
        assert!(!text.contains("WRONG-s3cret"), "the key leaked: {text}");
    }
    assert!(relay.metric("relink_relay_upstream_retries_total") >= 2);
    assert_eq!(relay.metric("relink_relay_upstream_delivered_total"), 0);
    assert!(
        !metrics.contains("relink_relay_dropped_total{"),
        "{metrics}"
    );
}
