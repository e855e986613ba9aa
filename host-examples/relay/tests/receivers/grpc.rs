//! OTLP/gRPC through the relay: the same pipeline as OTLP/HTTP behind gRPC's envelope.

use std::time::Duration;

use base64::Engine;
use prost::Message;
use relink::otlp::{self, ExportTraceServiceResponse};

use super::{decode_protobuf, golden_protobuf};
use crate::support::h2::{grpc_frame, post, Call, Client, EXPORT};
use crate::support::*;

const GRPC: [(&str, &str); 2] = [("content-type", "application/grpc"), ("te", "trailers")];

fn h2c() -> Client {
    Client {
        http2: true,
        tls: None,
    }
}

fn call(relay: &relink_relay::Relay, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Call {
    let addr = relay
        .grpc_addr()
        .unwrap_or_else(|| panic!("no gRPC listener"));
    post(addr, &h2c(), path, headers, body).unwrap_or_else(|e| panic!("{e}"))
}

/// The `ExportTraceServiceResponse` of a successful call.
fn response_of(call: &Call) -> ExportTraceServiceResponse {
    assert_eq!(
        (
            call.status,
            call.grpc_status(),
            call.header("content-type").as_deref()
        ),
        (200, Some(0), Some("application/grpc")),
        "{call:?}"
    );
    let message = call.body.get(5..).unwrap_or_default();
    assert_eq!(call.body.get(..5), Some(&grpc_frame(message, false)[..5]));
    ExportTraceServiceResponse::decode(message).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn grpc_exports_are_relinked_and_forwarded_like_http_ones() {
    let upstream = Upstream::start(200, "application/x-protobuf", b"", Duration::ZERO);
    let relay = start(Opts {
        upstream: Some(&upstream),
        grpc: true,
        ..Opts::default()
    });
    let mut expected = Vec::new();
    for n in 1..=2 {
        let (body, want) = golden_protobuf("s3-put-then-notify", n);
        // The second batch gzip-compressed, as `grpc-encoding: gzip` clients send it.
        let (framed, headers) = match n {
            1 => (grpc_frame(&body, false), GRPC.to_vec()),
            _ => (
                grpc_frame(&otlp::gzip(&body), true),
                [&GRPC[..], &[("grpc-encoding", "gzip")]].concat(),
            ),
        };
        let answer = call(&relay, EXPORT, &headers, framed);
        assert_eq!(response_of(&answer), ExportTraceServiceResponse::default());
        assert_eq!(
            answer.header("grpc-accept-encoding").as_deref(),
            Some("identity,gzip,zstd,snappy")
        );
        expected.push(want);
    }
    let received = upstream.wait_received(2);
    assert_eq!(received.len(), 2);
    for (got, want) in received.iter().zip(&expected) {
        assert_eq!(got.path, "/v1/traces");
        // The second batch links to the first: one processor behind both protocols.
        assert_eq!(&decode_protobuf(&got.body), want);
    }
    // The OTLP/HTTP port takes gRPC too, and OTLP/HTTP over h2c.
    let (body, _) = golden_protobuf("pass-through", 1);
    let on_http_port = post(
        relay.local_addr(),
        &h2c(),
        EXPORT,
        &GRPC,
        grpc_frame(&body, false),
    );
    assert_eq!(on_http_port.map(|c| c.grpc_status()), Ok(Some(0)));
    let http2 = post(
        relay.local_addr(),
        &h2c(),
        "/v1/traces",
        &[("content-type", "application/x-protobuf")],
        body,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((http2.status, http2.body.as_slice()), (200, &b""[..]));
    let metrics = String::from_utf8_lossy(&get(&relay, "/metrics").body).to_string();
    for line in [
        "relink_relay_requests_total{protocol=\"grpc\"} 3",
        "relink_relay_requests_total{protocol=\"http2\"} 1",
        "relink_relay_grpc_responses_total{grpc_code=\"OK\"} 3",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    relay.shutdown().unwrap_or_else(|e| panic!("{e}"));
}

/// The message encodings the Collector's gRPC receiver reads besides gzip: `zstd` and
/// `snappy` (the framing format, as grpc-go's snappy compressor writes it). An exporter set
/// to either gets UNIMPLEMENTED elsewhere, which it does not retry.
#[test]
fn zstd_and_snappy_messages_are_read() {
    use std::io::Write;
    let upstream = Upstream::start(200, "application/x-protobuf", b"", Duration::ZERO);
    let relay = start(Opts {
        upstream: Some(&upstream),
        grpc: true,
        ..Opts::default()
    });
    let (body, _) = golden_protobuf("pass-through", 1);
    let zstd = ruzstd::encoding::compress_to_vec(
        body.as_slice(),
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    let mut snappy = snap::write::FrameEncoder::new(Vec::new());
    snappy.write_all(&body).unwrap_or_else(|e| panic!("{e}"));
    let snappy = snappy.into_inner().unwrap_or_else(|e| panic!("{e}"));
    for (name, message) in [("zstd", zstd), ("snappy", snappy)] {
        let headers = [&GRPC[..], &[("grpc-encoding", name)]].concat();
        let answer = call(&relay, EXPORT, &headers, grpc_frame(&message, true));
        assert_eq!(
            answer.grpc_status(),
            Some(0),
            "{name}: {}",
            answer.grpc_message()
        );
    }
    let received = upstream.wait_received(2);
    assert!(received.iter().all(|r| r.body == body));
    relay.shutdown().unwrap_or_else(|e| panic!("{e}"));
}

/// `(what, path, headers, body, grpc-status, part of grpc-message)`.
type Case<'a> = (
    &'a str,
    &'a str,
    Vec<(&'a str, &'a str)>,
    Vec<u8>,
    i32,
    &'a str,
);

#[test]
fn bad_requests_get_the_grpc_status_the_spec_names() {
    let relay = start(Opts {
        grpc: true,
        max_body: 64 * 1024,
        ..Opts::default()
    });
    let (body, _) = golden_protobuf("pass-through", 1);
    let gzip = [&GRPC[..], &[("grpc-encoding", "gzip")]].concat();
    let cases: Vec<Case> = vec![
        (
            "not protobuf",
            EXPORT,
            GRPC.to_vec(),
            grpc_frame(b"\xff\xff\xff", false),
            3,
            "otlp",
        ),
        (
            "cut short",
            EXPORT,
            GRPC.to_vec(),
            grpc_frame(&body, false)[..20].to_vec(),
            3,
            "cut short",
        ),
        (
            "no message",
            EXPORT,
            GRPC.to_vec(),
            Vec::new(),
            3,
            "no complete message",
        ),
        (
            "two messages",
            EXPORT,
            GRPC.to_vec(),
            [grpc_frame(&body, false), grpc_frame(&body, false)].concat(),
            3,
            "more than one message",
        ),
        (
            "not gzip",
            EXPORT,
            gzip.clone(),
            grpc_frame(b"nope", true),
            3,
            "invalid gzip",
        ),
        (
            "over --max-body",
            EXPORT,
            GRPC.to_vec(),
            grpc_frame(&vec![0u8; 70 * 1024], false),
            8,
            "exceeds the limit of 65536 bytes",
        ),
        (
            "inflates over --max-body",
            EXPORT,
            gzip.clone(),
            grpc_frame(&otlp::gzip(&vec![0u8; 1 << 20]), true),
            8,
            "inflates beyond the limit",
        ),
        (
            "flagged compressed without an encoding",
            EXPORT,
            GRPC.to_vec(),
            grpc_frame(&otlp::gzip(&body), true),
            13,
            "no grpc-encoding",
        ),
        (
            "unknown encoding",
            EXPORT,
            [&GRPC[..], &[("grpc-encoding", "deflate")]].concat(),
            grpc_frame(&body, false),
            12,
            "grpc-encoding `deflate`",
        ),
        (
            "other method",
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            GRPC.to_vec(),
            grpc_frame(&body, false),
            12,
            "unknown method",
        ),
        (
            "JSON codec",
            EXPORT,
            vec![("content-type", "application/grpc+json")],
            grpc_frame(b"{}", false),
            12,
            "application/grpc+json",
        ),
    ];
    for (what, path, headers, framed, code, message) in cases {
        let answer = call(&relay, path, &headers, framed);
        // Trailers-Only: the status is in the headers, there is no message.
        assert_eq!(
            (
                answer.status,
                answer.header("grpc-status"),
                answer.body.len()
            ),
            (200, Some(code.to_string()), 0),
            "{what}: {answer:?}"
        );
        assert!(
            answer.grpc_message().contains(message),
            "{what}: {answer:?}"
        );
        // Not retryable: no RetryInfo. INVALID_ARGUMENT describes the bad data in a
        // BadRequest, as OTLP asks.
        let details: Vec<String> = answer
            .header("grpc-status-details-bin")
            .map(|bin| {
                let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(bin.trim_end_matches('='))
                    .unwrap();
                let status = relink_relay::rpc_status::Status::decode(bytes.as_slice()).unwrap();
                assert_eq!(status.code, code, "{what}");
                status.details.into_iter().map(|d| d.type_url).collect()
            })
            .unwrap_or_default();
        let want: &[&str] = match code {
            3 => &[relink_relay::rpc_status::BAD_REQUEST],
            _ => &[],
        };
        assert_eq!(details, want, "{what}");
    }
    // Not gRPC at all: plain HTTP statuses.
    let plain = call(
        &relay,
        EXPORT,
        &[("content-type", "application/json")],
        b"{}".to_vec(),
    );
    assert_eq!(plain.status, 415);
    let metrics = String::from_utf8_lossy(&get(&relay, "/metrics").body).to_string();
    assert!(
        metrics.contains("relink_relay_grpc_responses_total{grpc_code=\"INVALID_ARGUMENT\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("relink_relay_grpc_responses_total{grpc_code=\"UNIMPLEMENTED\"} 3"),
        "{metrics}"
    );
}

#[test]
fn a_full_queue_is_unavailable_with_retry_info() {
    // The upstream is down and retried after 5 s, so the first batch fills the queue.
    let relay = start(Opts {
        grpc: true,
        upstream_url: Some(closed_port_url()),
        queue_bytes: 100,
        ..Opts::default()
    });
    let (body, _) = golden_protobuf("pass-through", 1);
    let first = call(&relay, EXPORT, &GRPC, grpc_frame(&body, false));
    assert_eq!(first.grpc_status(), Some(0));
    let refused = call(&relay, EXPORT, &GRPC, grpc_frame(&body, false));
    assert_eq!(
        (refused.grpc_status(), refused.grpc_message().as_str()),
        (Some(14), "the sending queue is full")
    );
    // google.rpc.Status { code 14, details: [Any(RetryInfo { retry_delay: 5s })] }.
    let details = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(
            refused
                .header("grpc-status-details-bin")
                .unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let retry_info = [
        &b"\x12\x19"[..],
        b"the sending queue is full",
        b"\x1a\x30\x0a\x28type.googleapis.com/google.rpc.RetryInfo\x12\x04\x0a\x02\x08\x05",
    ]
    .concat();
    assert_eq!(details, [&b"\x08\x0e"[..], &retry_info].concat());
    let metrics = String::from_utf8_lossy(&get(&relay, "/metrics").body).to_string();
    assert!(
        metrics.contains("relink_relay_refused_total{reason=\"queue_full\"} 1"),
        "{metrics}"
    );
}

#[test]
fn without_a_queue_the_upstream_answer_becomes_a_grpc_status() {
    let (body, _) = golden_protobuf("pass-through", 1);
    let partial = otlp::encode_response(2, "two spans refused", otlp::Encoding::Protobuf);
    let accepting = Upstream::start(200, "application/x-protobuf", &partial, Duration::ZERO);
    let refusing = Upstream::start(
        400,
        "application/x-protobuf",
        &status_protobuf("bad batch"),
        Duration::ZERO,
    );
    let cases = [
        (Some(accepting.url()), 0, ""),
        (Some(refusing.url()), 3, "upstream http://127.0.0.1"),
        (Some(closed_port_url()), 14, "upstream http://127.0.0.1"),
    ];
    for (url, code, message) in cases {
        let relay = start(Opts {
            grpc: true,
            upstream_url: url,
            queue_bytes: 0,
            ..Opts::default()
        });
        let answer = call(&relay, EXPORT, &GRPC, grpc_frame(&body, false));
        assert_eq!(answer.grpc_status(), Some(code), "{answer:?}");
        assert!(answer.grpc_message().starts_with(message), "{answer:?}");
        if code == 3 {
            // The upstream's own `Status` message, in the relay's.
            assert!(
                answer.grpc_message().ends_with("status 400: bad batch"),
                "{answer:?}"
            );
        }
        if code == 0 {
            // The upstream's partial success reaches the client.
            let response = response_of(&answer);
            let partial = response.partial_success.unwrap_or_default();
            assert_eq!(
                (partial.rejected_spans, partial.error_message.as_str()),
                (2, "two spans refused")
            );
        }
    }
}

#[test]
fn the_bearer_token_guards_both_receivers() {
    let dir = TempDir::new("bearer");
    let token = dir.write("token", b"t0ken\n");
    let relay = start(Opts {
        grpc: true,
        bearer_token_file: Some(&token),
        ..Opts::default()
    });
    let (body, _) = golden_protobuf("pass-through", 1);
    let denied = call(&relay, EXPORT, &GRPC, grpc_frame(&body, false));
    assert_eq!(denied.grpc_status(), Some(16));
    let wrong = [&GRPC[..], &[("authorization", "Bearer t0kem")]].concat();
    assert_eq!(
        call(&relay, EXPORT, &wrong, grpc_frame(&body, false)).grpc_status(),
        Some(16)
    );
    let right = [&GRPC[..], &[("authorization", "Bearer t0ken")]].concat();
    assert_eq!(
        call(&relay, EXPORT, &right, grpc_frame(&body, false)).grpc_status(),
        Some(0)
    );
    let http = |auth: &[(&str, &str)]| {
        let headers = [&[("content-type", "application/x-protobuf")][..], auth].concat();
        post_to(
            &relay.local_addr().to_string(),
            "/v1/traces",
            &headers,
            &body,
        )
    };
    let refused = http(&[]);
    assert_eq!(
        (refused.status, refused.body.as_slice()),
        (
            401,
            status_protobuf("missing or wrong bearer token (authorization: Bearer ...)").as_slice()
        )
    );
    assert_eq!(refused.www_authenticate.as_deref(), Some("Bearer"));
    assert_eq!(http(&[("authorization", "bearer t0ken")]).status, 200);
    // A probe or a scraper has no token.
    for path in ["/health", "/ready", "/metrics"] {
        assert_eq!(get(&relay, path).status, 200, "{path}");
    }
    // Rotated on SIGHUP (the same reload the signal runs).
    dir.write("token", b"n3w");
    assert!(relay
        .reload_credentials()
        .iter()
        .any(|l| l == "reloaded the bearer token"));
    assert_eq!(http(&[("authorization", "Bearer t0ken")]).status, 401);
    assert_eq!(http(&[("authorization", "Bearer n3w")]).status, 200);
    let metrics = String::from_utf8_lossy(&get(&relay, "/metrics").body).to_string();
    assert!(!metrics.contains("t0ken") && !metrics.contains("n3w"));
}

#[test]
fn at_the_connection_cap_a_grpc_connection_is_closed_unanswered() {
    use std::io::Read;

    let relay = start(Opts {
        grpc: true,
        max_connections: 1,
        ..Opts::default()
    });
    let addr = relay
        .grpc_addr()
        .unwrap_or_else(|| panic!("no gRPC listener"));
    // The one slot, taken by a connection too fresh to be closed for a newcomer.
    let _holder =
        std::net::TcpStream::connect(relay.local_addr()).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(100));
    let mut refused = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
    let _ = refused.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = [0u8; 64];
    // Closed without an HTTP/1.1 answer an HTTP/2 client could not read.
    assert_eq!(refused.read(&mut buf).map_err(|e| e.kind()), Ok(0));
    let metrics = relay.pipeline().prometheus();
    assert!(
        metrics.contains("relink_relay_refused_total{reason=\"connections\"} 1"),
        "{metrics}"
    );
}

#[test]
fn an_idle_http2_connection_is_closed_after_the_header_timeout() {
    use std::io::{Read, Write};

    let relay = start(Opts {
        grpc: true,
        header_timeout: Duration::from_secs(1),
        ..Opts::default()
    });
    let addr = relay
        .grpc_addr()
        .unwrap_or_else(|| panic!("no gRPC listener"));
    let mut stream = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    // The client preface and an empty SETTINGS frame, then silence.
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    stream.write_all(&hello).unwrap_or_else(|e| panic!("{e}"));
    let mut received = Vec::new();
    let closed = stream.read_to_end(&mut received);
    assert!(closed.is_ok(), "still open after 10 s: {closed:?}");
    // Frame types in order: the server's SETTINGS (4), then GOAWAY (7) before the close
    // (and the PING of HTTP/2's graceful shutdown, which this client never answers).
    let mut types = Vec::new();
    let mut rest = received.as_slice();
    while let Some((header, after)) = rest.split_first_chunk::<9>() {
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        types.push(header[3]);
        rest = after.get(length..).unwrap_or_default();
    }
    assert!(types.first() == Some(&4) && types.contains(&7), "{types:?}");
}

#[test]
fn http2_request_headers_are_bounded_at_16_kib() {
    let relay = start(Opts {
        grpc: true,
        ..Opts::default()
    });
    let (body, _) = golden_protobuf("pass-through", 1);
    let padding = |kib: usize| "a".repeat(kib * 1024);
    let (small, large) = (padding(12), padding(20));
    let http = |pad: &str| {
        let headers = [
            ("content-type", "application/x-protobuf"),
            ("x-padding", pad),
        ];
        post(
            relay.local_addr(),
            &h2c(),
            "/v1/traces",
            &headers,
            body.clone(),
        )
    };
    let under = http(&small).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(under.status, 200);
    // Over the header list size the relay advertises: refused (431, or the stream reset),
    // never processed.
    if let Ok(over) = http(&large) {
        assert_eq!(over.status, 431, "{over:?}");
    }
    let grpc = [&GRPC[..], &[("x-padding", large.as_str())]].concat();
    let grpc_addr = relay
        .grpc_addr()
        .unwrap_or_else(|| panic!("no gRPC listener"));
    if let Ok(over) = post(grpc_addr, &h2c(), EXPORT, &grpc, grpc_frame(&body, false)) {
        assert!(
            over.status == 431 || over.grpc_status().is_some_and(|s| s != 0),
            "{over:?}"
        );
    }
}

/// What an HTTP/2 server tells a client that has just connected: its SETTINGS (id, value)
/// and the increments of its connection-level WINDOW_UPDATEs, read from the raw frames.
fn h2_handshake(addr: std::net::SocketAddr) -> (Vec<(u16, u32)>, Vec<u32>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    stream.write_all(preface).unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    // Until the server falls silent: its SETTINGS, the ACK of ours, any WINDOW_UPDATE.
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        bytes.extend_from_slice(&chunk[..n]);
    }
    let (mut settings, mut window_updates) = (Vec::new(), Vec::new());
    let mut frames = bytes.as_slice();
    while frames.len() >= 9 {
        let length =
            usize::from(frames[0]) << 16 | usize::from(frames[1]) << 8 | usize::from(frames[2]);
        let (kind, flags) = (frames[3], frames[4]);
        let stream_id =
            u32::from_be_bytes([frames[5], frames[6], frames[7], frames[8]]) & 0x7fff_ffff;
        let payload = frames
            .get(9..9 + length)
            .unwrap_or_else(|| panic!("truncated frame"));
        match (kind, flags & 1, stream_id) {
            (4, 0, 0) => settings.extend(payload.chunks_exact(6).map(|s| {
                (
                    u16::from_be_bytes([s[0], s[1]]),
                    u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
                )
            })),
            (8, _, 0) => window_updates.push(
                u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) & 0x7fff_ffff,
            ),
            _ => {}
        }
        frames = &frames[9 + length..];
    }
    (settings, window_updates)
}

/// The README's HTTP/2 bounds, as both receivers advertise them to a new client: at most
/// 100 concurrent streams, request headers of at most 16 KiB, and flow-control windows of
/// 64 KiB per stream and per connection, so an HTTP/2 connection holds no more unread body
/// than an HTTP/1.1 one.
#[test]
fn http2_connections_are_offered_100_streams_and_64_kib_windows() {
    let relay = start(Opts {
        grpc: true,
        ..Opts::default()
    });
    let grpc_addr = relay
        .grpc_addr()
        .unwrap_or_else(|| panic!("no gRPC listener"));
    for addr in [relay.local_addr(), grpc_addr] {
        let (settings, window_updates) = h2_handshake(addr);
        let setting = |id: u16| settings.iter().rev().find(|(i, _)| *i == id).map(|s| s.1);
        const MAX_CONCURRENT_STREAMS: u16 = 0x3;
        const INITIAL_WINDOW_SIZE: u16 = 0x4;
        const MAX_HEADER_LIST_SIZE: u16 = 0x6;
        assert_eq!(
            setting(MAX_CONCURRENT_STREAMS),
            Some(100),
            "{addr}: {settings:?}"
        );
        assert_eq!(
            setting(MAX_HEADER_LIST_SIZE),
            Some(16 * 1024),
            "{addr}: {settings:?}"
        );
        // Absent, the stream window is HTTP/2's default of 65,535 bytes.
        let stream_window = setting(INITIAL_WINDOW_SIZE).unwrap_or(65_535);
        assert!(stream_window <= 64 * 1024, "{addr}: {settings:?}");
        // The connection window starts at 65,535; the relay may round it up to 64 KiB.
        let connection_window = 65_535 + window_updates.iter().sum::<u32>();
        assert!(connection_window <= 64 * 1024, "{addr}: {window_updates:?}");
    }
}

/// A gRPC message that stops arriving is answered `DEADLINE_EXCEEDED` once
/// `--body-timeout` has passed (retryable in OTLP), as an HTTP body gets 503.
#[test]
fn a_grpc_message_that_stops_arriving_gets_deadline_exceeded() {
    let relay = start(Opts {
        grpc: true,
        body_timeout: Duration::from_secs(1),
        ..Opts::default()
    });
    let addr = relay
        .grpc_addr()
        .unwrap_or_else(|| panic!("no gRPC listener"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let (status, message) = runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (client, connection) = ::h2::client::handshake(tcp)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(connection);
        let mut client = client.ready().await.unwrap_or_else(|e| panic!("{e}"));
        let mut request = hyper::Request::post(format!("http://{addr}{EXPORT}"));
        for (name, value) in GRPC {
            request = request.header(name, value);
        }
        let request = request.body(()).unwrap_or_else(|e| panic!("{e}"));
        let (response, mut body) = client
            .send_request(request, false)
            .unwrap_or_else(|e| panic!("{e}"));
        // A message of 100 bytes announced, 3 sent, the stream left open.
        let mut partial = vec![0u8, 0, 0, 0, 100];
        partial.extend_from_slice(b"\x0a\x01\x00");
        body.send_data(partial.into(), false)
            .unwrap_or_else(|e| panic!("{e}"));
        let response = tokio::time::timeout(Duration::from_secs(10), response)
            .await
            .unwrap_or_else(|_| panic!("no answer within 10 s"))
            .unwrap_or_else(|e| panic!("{e}"));
        let (head, mut rest) = response.into_parts();
        let mut fields = head.headers;
        if !rest.is_end_stream() {
            while let Some(Ok(_)) = rest.data().await {}
            if let Ok(Some(trailers)) = rest.trailers().await {
                fields.extend(trailers);
            }
        }
        let field = |name: &str| {
            fields
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        (field("grpc-status"), field("grpc-message"))
    });
    assert_eq!(status, "4", "{message}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(message.contains("within 1s"), "{message}");
}
