//! dist/relink-envoy.wasm through the proxy-wasm host, as Envoy would run it: start-up,
//! configuration errors, pass-through, protobuf, JSON, gzip, gRPC framing over HTTP/2,
//! chunked HTTP/1 bodies (ended by Envoy's separate empty call), request trailers, over-size
//! bodies, and per-worker state; every relinked body must equal what the native core makes
//! of the same input.

mod common;

use common::*;
use relink::config::Config;
use relink::otlp::{self, Encoding};
use relink_harness::envoy::{Exchange, LogLine, Request, Startup, Vm};

fn vm(plugin_configuration: &str) -> Vm {
    let vm = host()
        .start(&settings(plugin_configuration))
        .unwrap_or_else(|e| panic!("start: {e}"));
    assert_eq!(vm.startup(), Startup::Ready, "logs: {:?}", vm.logs());
    vm
}

fn send(vm: &mut Vm, request: &Request) -> Exchange {
    vm.send(request).unwrap_or_else(|e| panic!("send: {e}"))
}

fn calls(exchange: &Exchange) -> Vec<String> {
    exchange.calls.iter().map(ToString::to_string).collect()
}

fn warn(message: &str) -> LogLine {
    LogLine {
        level: 3,
        message: message.to_string(),
    }
}

#[test]
fn starts_like_envoy_starts_a_plugin() {
    let vm = vm("{}");
    let calls: Vec<String> = vm.startup_calls().iter().map(ToString::to_string).collect();
    assert_eq!(
        calls,
        [
            "proxy_on_context_create(1, 0)",
            "proxy_on_vm_start(1, 0) -> 1",
            "proxy_on_configure(1, 2) -> 1"
        ]
    );
    assert_eq!(vm.logs(), []);
    assert_eq!(vm.unimplemented_calls(), [] as [String; 0]);
}

#[test]
fn imports_only_what_envoy_provides() {
    let imports = host().imports();
    let modules: std::collections::BTreeSet<&str> =
        imports.iter().filter_map(|i| i.split('.').next()).collect();
    assert_eq!(
        modules.into_iter().collect::<Vec<_>>(),
        ["env", "wasi_snapshot_preview1"]
    );
    assert!(
        imports.iter().any(|i| i == "env.proxy_get_buffer_bytes"),
        "{imports:?}"
    );
    // The harness links the WASI functions of the cpp-host commit it follows, which has more
    // than the one Envoy's releases build with (beb8a4e, `FOR_ALL_WASI_FUNCTIONS` in
    // include/proxy-wasm/exports.h): a module importing one outside this list would load
    // here and fail to load in Envoy ("missing import").
    const RELEASED_WASI: [&str; 18] = [
        "fd_write",
        "fd_read",
        "fd_seek",
        "fd_close",
        "fd_fdstat_get",
        "fd_fdstat_set_flags",
        "environ_get",
        "environ_sizes_get",
        "args_get",
        "args_sizes_get",
        "clock_time_get",
        "random_get",
        "sched_yield",
        "poll_oneoff",
        "proc_exit",
        "path_open",
        "fd_prestat_get",
        "fd_prestat_dir_name",
    ];
    let outside: Vec<&String> = imports
        .iter()
        .filter(|i| {
            i.strip_prefix("wasi_snapshot_preview1.")
                .is_some_and(|name| !RELEASED_WASI.contains(&name))
        })
        .collect();
    assert_eq!(outside, [] as [&String; 0]);
}

#[test]
fn an_empty_configuration_means_the_defaults() {
    let vm = vm("");
    assert_eq!(
        vm.startup_calls()
            .last()
            .map(ToString::to_string)
            .as_deref(),
        Some("proxy_on_configure(1, 0) -> 1")
    );
}

#[test]
fn an_invalid_configuration_fails_on_configure_with_the_error_logged() {
    for config in [
        r#"{"index": {"max_entries": 0}}"#,
        r#"{"indx": {}}"#,
        "not json",
    ] {
        let expected = match Config::from_json(config).and_then(|c| relink::Processor::new(&c)) {
            Err(e) => format!("invalid plugin configuration: {e}"),
            Ok(_) => panic!("{config} should be invalid"),
        };
        let vm = host()
            .start(&settings(config))
            .unwrap_or_else(|e| panic!("start: {e}"));
        assert_eq!(vm.startup(), Startup::ConfigureFailed, "{config}");
        assert_eq!(
            vm.logs(),
            [LogLine {
                level: 4,
                message: expected
            }],
            "{config}"
        );
    }
    let vm = host()
        .start(&settings(r#"{"index": {"max_entries": 0}}"#))
        .unwrap_or_else(|e| panic!("start: {e}"));
    assert_eq!(
        vm.logs()[0].message,
        "invalid plugin configuration: config: `index.max_entries` is 0, expected 1 to 50000000"
    );
}

#[test]
fn an_invalid_vm_configuration_fails_on_vm_start() {
    let cases = [
        (r#"{"max_body_bytes": 0}"#, "invalid vm configuration: `max_body_bytes` must be at least 1"),
        (r#"{"traces_path": "v1/traces"}"#, "invalid vm configuration: `traces_path` \"v1/traces\" must start with /"),
        (r#"{"path": "/x"}"#, "invalid vm configuration: unknown field `path`, expected one of `traces_path`, `max_body_bytes`, `per_connection_buffer_limit_bytes`, `initial_stream_window_size` at line 1 column 7"),
        (r#"{"max_body_bytes": 1048576}"#, "invalid vm configuration: `max_body_bytes` (1048576) must be below `per_connection_buffer_limit_bytes` (1048576): Envoy refuses a buffered body past it"),
        (r#"{"initial_stream_window_size": 65536}"#, "invalid vm configuration: `max_body_bytes` (524288) must be below `initial_stream_window_size` (65536): Envoy refuses a buffered body past it"),
    ];
    for (vm_configuration, message) in cases {
        let mut s = settings("{}");
        s.vm_configuration = vm_configuration.as_bytes().to_vec();
        let vm = host().start(&s).unwrap_or_else(|e| panic!("start: {e}"));
        assert_eq!(vm.startup(), Startup::VmStartFailed, "{vm_configuration}");
        assert_eq!(
            vm.logs(),
            [LogLine {
                level: 4,
                message: message.to_string()
            }]
        );
    }
}

#[test]
fn a_request_with_nothing_to_relink_passes_byte_for_byte() {
    let mut vm = vm("{}");
    let body = to_protobuf(&plain());
    let exchange = send(&mut vm, &export("application/x-protobuf", &body, 1));
    assert_eq!(exchange.upstream_body, body);
    assert_eq!(
        exchange.upstream_header("content-length"),
        None,
        "removed: the body may change size"
    );
    assert_eq!(
        exchange.upstream_header("content-type"),
        Some(&b"application/x-protobuf"[..])
    );
    let n = body.len();
    assert_eq!(
        calls(&exchange),
        [
            "proxy_on_context_create(2, 1)".to_string(),
            "proxy_on_request_headers(2, 6, 0) -> 0".into(),
            format!("proxy_on_request_body(2, {n}, 0) -> 1"),
            format!("proxy_on_request_body(2, {n}, 1) -> 0"),
            "proxy_on_response_headers(2, 2, 1) -> 0".into(),
            "proxy_on_log(2)".into(),
            "proxy_on_done(2) -> 1".into(),
            "proxy_on_delete(2)".into(),
        ]
    );
    assert_eq!(vm.logs(), []);
}

#[test]
fn other_requests_are_not_touched() {
    let mut vm = vm("{}");
    let body = to_protobuf(&consumer());
    let len = body.len().to_string();
    let other_path = Request::post(
        "/v1/metrics",
        &[
            ("content-type", "application/x-protobuf"),
            ("content-length", &len),
        ],
        vec![body.clone()],
    );
    let mut get = Request::post(TRACES, &[], Vec::new());
    get.headers[2].1 = b"GET".to_vec();
    for request in [other_path, get] {
        let exchange = send(&mut vm, &request);
        assert_eq!(exchange.upstream_headers.as_ref(), Some(&request.headers));
        assert_eq!(exchange.upstream_body, request.chunks.concat());
    }
    assert_eq!(vm.logs(), []);
}

#[test]
fn protobuf_exports_are_relinked_as_the_native_core_does_with_state_kept_per_worker() {
    let (producer, consumer) = (to_protobuf(&producer()), to_protobuf(&consumer()));
    let expected = native(
        "{}",
        &[
            (&producer, Encoding::Protobuf),
            (&consumer, Encoding::Protobuf),
        ],
    );
    assert_ne!(
        expected[0], producer,
        "the producer gets a span-pointer link"
    );
    let mut vm = vm("{}");
    for (input, expected) in [&producer, &consumer].into_iter().zip(&expected) {
        let exchange = send(&mut vm, &export("application/x-protobuf", input, 1));
        assert_eq!(&exchange.upstream_body, expected);
    }
    let relinked = otlp::decode(&expected[1], Encoding::Protobuf).unwrap_or_else(|e| panic!("{e}"));
    let span = &relinked.resource_spans[0].scope_spans[0].spans[0];
    let peers: Vec<String> = span
        .links
        .iter()
        .flat_map(|l| &l.attributes)
        .filter(|a| a.key == "relink.peer")
        .map(|a| format!("{:?}", a.value))
        .collect();
    assert_eq!(
        peers.len(),
        1,
        "the consumer links the producer seen in the earlier request: {:?}",
        span.links
    );
    assert_eq!(vm.logs(), []);
}

#[test]
fn json_exports_stay_json() {
    let (producer, consumer) = (producer(), consumer());
    let expected = native(
        "{}",
        &[(&producer, Encoding::Json), (&consumer, Encoding::Json)],
    );
    let mut vm = vm("{}");
    for (input, expected) in [&producer, &consumer].into_iter().zip(&expected) {
        let exchange = send(
            &mut vm,
            &export("application/json; charset=utf-8", input, 1),
        );
        assert_eq!(&exchange.upstream_body, expected);
        assert!(exchange.upstream_body.starts_with(b"{"));
    }
}

#[test]
fn gzip_bodies_are_inflated_and_the_output_deflated() {
    let producer = to_protobuf(&producer());
    let expected = native("{}", &[(&producer, Encoding::Protobuf)]);
    let gzipped = otlp::gzip(&producer);
    let mut request = export("application/x-protobuf", &gzipped, 3);
    request
        .headers
        .push(("content-encoding".into(), b"gzip".to_vec()));
    let mut vm = vm("{}");
    let exchange = send(&mut vm, &request);
    assert_eq!(exchange.upstream_body, otlp::gzip(&expected[0]));
    assert_eq!(
        exchange.upstream_header("content-encoding"),
        Some(&b"gzip"[..])
    );
}

#[test]
fn grpc_exports_are_reframed() {
    let (producer, consumer) = (to_protobuf(&producer()), to_protobuf(&consumer()));
    let expected = native(
        "{}",
        &[
            (&producer, Encoding::Protobuf),
            (&consumer, Encoding::Protobuf),
        ],
    );
    let mut vm = vm("{}");
    for (input, expected) in [&producer, &consumer].into_iter().zip(&expected) {
        let request = Request::post(
            GRPC_EXPORT,
            &[("content-type", "application/grpc"), ("te", "trailers")],
            split(&grpc_frame(input), 2),
        )
        .over_http2();
        let exchange = send(&mut vm, &request);
        assert_eq!(exchange.upstream_body, grpc_frame(expected));
    }
    assert_eq!(vm.logs(), []);
}

#[test]
fn compressed_grpc_messages_pass_through_with_a_log_line() {
    let mut frame = grpc_frame(&otlp::gzip(&to_protobuf(&producer())));
    frame[0] = 1;
    let request = Request::post(
        GRPC_EXPORT,
        &[
            ("content-type", "application/grpc"),
            ("grpc-encoding", "gzip"),
        ],
        vec![frame.clone()],
    )
    .over_http2();
    let mut vm = vm("{}");
    let exchange = send(&mut vm, &request);
    assert_eq!(exchange.upstream_body, frame);
    assert_eq!(
        vm.logs(),
        [warn(
            "grpc: compressed message (grpc-encoding); body passed through unchanged"
        )]
    );
}

#[test]
fn chunked_http1_bodies_are_buffered_and_end_with_envoys_empty_call() {
    let producer = to_protobuf(&producer());
    let expected = native("{}", &[(&producer, Encoding::Protobuf)]);
    let chunks = split(&producer, 3);
    let (a, b) = (chunks[0].len(), chunks[0].len() + chunks[1].len());
    let mut vm = vm("{}");
    let exchange = send(&mut vm, &export("application/x-protobuf", &producer, 3));
    assert_eq!(exchange.upstream_body, expected[0]);
    let body_calls: Vec<String> = calls(&exchange)
        .into_iter()
        .filter(|c| c.starts_with("proxy_on_request_body"))
        .collect();
    let n = producer.len();
    assert_eq!(
        body_calls,
        [
            format!("proxy_on_request_body(2, {a}, 0) -> 1"),
            format!("proxy_on_request_body(2, {b}, 0) -> 1"),
            format!("proxy_on_request_body(2, {n}, 0) -> 1"),
            format!("proxy_on_request_body(2, {n}, 1) -> 0")
        ],
        "the last chunk does not end the stream: the empty call after it does"
    );
}

#[test]
fn http2_bodies_end_on_their_last_frame() {
    let producer = to_protobuf(&producer());
    let expected = native("{}", &[(&producer, Encoding::Protobuf)]);
    let chunks = split(&producer, 2);
    let a = chunks[0].len();
    let mut vm = vm("{}");
    let exchange = send(
        &mut vm,
        &export("application/x-protobuf", &producer, 2).over_http2(),
    );
    assert_eq!(exchange.upstream_body, expected[0]);
    let body_calls: Vec<String> = calls(&exchange)
        .into_iter()
        .filter(|c| c.starts_with("proxy_on_request_body"))
        .collect();
    let n = producer.len();
    assert_eq!(
        body_calls,
        [
            format!("proxy_on_request_body(2, {a}, 0) -> 1"),
            format!("proxy_on_request_body(2, {n}, 1) -> 0")
        ]
    );
}

#[test]
fn request_trailers_keep_end_of_stream_off_the_body_and_the_export_passes_unchanged() {
    let producer = to_protobuf(&producer());
    let mut vm = vm("{}");
    // HTTP/2: the trailers reach the filter, the body never ends, Envoy sends the buffered
    // body on when the trailers continue the stream.
    let request = export("application/x-protobuf", &producer, 2)
        .over_http2()
        .with_trailers(&[("x-checksum", "1")]);
    let exchange = send(&mut vm, &request);
    assert_eq!(
        exchange.upstream_body, producer,
        "the filter never saw the end, Envoy let the buffered body go at the trailers"
    );
    assert_eq!(exchange.upstream_trailers, request.trailers);
    let calls = calls(&exchange);
    assert!(
        calls
            .iter()
            .filter(|c| c.starts_with("proxy_on_request_body"))
            .all(|c| c.contains(", 0) -> ")),
        "no body call with end_of_stream: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("proxy_on_request_trailers")),
        "{calls:?}"
    );
    assert_eq!(exchange.local_reply, None);
    // HTTP/1: Envoy's codec drops request trailers (`enable_trailers` is off), so the
    // export is relinked as one without them, and no trailers go upstream.
    let plain = send(&mut vm, &export("application/x-protobuf", &producer, 2));
    let request =
        export("application/x-protobuf", &producer, 2).with_trailers(&[("x-checksum", "1")]);
    let exchange = send(&mut vm, &request);
    assert_ne!(
        plain.upstream_body, producer,
        "the producer gets its span pointer"
    );
    assert_eq!(exchange.upstream_body, plain.upstream_body);
    assert_eq!(exchange.upstream_trailers, None);
    let http1_calls = self::calls(&exchange);
    assert!(
        !http1_calls
            .iter()
            .any(|c| c.starts_with("proxy_on_request_trailers")),
        "{http1_calls:?}"
    );
    assert_eq!(vm.logs(), []);
}

#[test]
fn over_size_bodies_pass_through_untouched_with_a_log_line() {
    let mut s = settings("{}");
    s.vm_configuration = br#"{"max_body_bytes": 100}"#.to_vec();
    let mut vm = host().start(&s).unwrap_or_else(|e| panic!("start: {e}"));
    let producer = to_protobuf(&producer());
    let chunks: Vec<Vec<u8>> = producer.chunks(64).map(<[u8]>::to_vec).collect();
    let len = producer.len().to_string();
    let request = Request::post(
        TRACES,
        &[
            ("content-type", "application/x-protobuf"),
            ("content-length", &len),
        ],
        chunks.clone(),
    );
    let exchange = send(&mut vm, &request);
    assert_eq!(exchange.upstream_body, producer);
    let body_calls: Vec<String> = calls(&exchange)
        .into_iter()
        .filter(|c| c.starts_with("proxy_on_request_body"))
        .collect();
    let mut expected = vec![
        "proxy_on_request_body(2, 64, 0) -> 1".to_string(),
        "proxy_on_request_body(2, 128, 0) -> 0".into(),
    ];
    for chunk in chunks.iter().skip(2) {
        expected.push(format!("proxy_on_request_body(2, {}, 0) -> 0", chunk.len()));
    }
    expected.push("proxy_on_request_body(2, 0, 1) -> 0".into());
    assert_eq!(
        body_calls, expected,
        "after the limit, each chunk goes on as it comes"
    );
    assert_eq!(
        vm.logs(),
        [warn(
            "request body of 128 bytes exceeds max_body_bytes (100); passed through unchanged"
        )]
    );
}

#[test]
fn envoy_answers_413_when_a_buffered_body_passes_a_limit_the_filter_was_not_told() {
    let mut s = settings("{}");
    s.buffer_limit = 100;
    s.vm_configuration = br#"{"max_body_bytes": 100000}"#.to_vec();
    let mut vm = host().start(&s).unwrap_or_else(|e| panic!("start: {e}"));
    let producer = to_protobuf(&producer());
    let exchange = send(&mut vm, &export("application/x-protobuf", &producer, 5));
    assert_eq!(exchange.local_reply, Some(413));
    assert_eq!(exchange.upstream_body, b"");
}

#[test]
fn an_undecodable_body_passes_through_with_the_error_logged() {
    let body = b"\x0a\xff\xff\xff\xff\x0fnot protobuf".to_vec();
    let expected = match Config::from_json("{}").and_then(|c| relink::Processor::new(&c)) {
        Ok(mut p) => p
            .process_traces_as(&body, Encoding::Protobuf, NOW)
            .error
            .map(|e| e.to_string()),
        Err(e) => panic!("{e}"),
    };
    let mut vm = vm("{}");
    let exchange = send(&mut vm, &export("application/x-protobuf", &body, 1));
    assert_eq!(exchange.upstream_body, body);
    let message = format!(
        "{}; body passed through unchanged",
        expected.unwrap_or_default()
    );
    assert_eq!(vm.logs(), [warn(&message)]);
}

#[test]
fn unsupported_encodings_pass_through_with_a_log_line() {
    let body = to_protobuf(&producer());
    let mut vm = vm("{}");
    let mut brotli = export("application/x-protobuf", &body, 1);
    brotli
        .headers
        .push(("content-encoding".into(), b"br".to_vec()));
    let exchange = send(&mut vm, &brotli);
    assert_eq!(exchange.upstream_body, body);
    assert_eq!(
        exchange.upstream_headers.as_ref(),
        Some(&brotli.headers),
        "content-length kept"
    );
    let mut yaml = export("application/yaml", &body, 1);
    yaml.headers[4].1 = vec![b'a', 0xff, b'b'];
    let exchange = send(&mut vm, &yaml);
    assert_eq!(exchange.upstream_body, body);
    assert_eq!(
        vm.logs(),
        [
            warn("trace export: content-encoding `br` is not supported (use gzip or none); passed through unchanged"),
            warn("trace export with content-type \"a\u{fffd}b\"; passed through unchanged"),
        ]
    );
}

#[test]
fn a_header_only_export_never_reaches_the_body_callback() {
    let mut vm = vm("{}");
    let exchange = send(
        &mut vm,
        &Request::post(
            TRACES,
            &[("content-type", "application/x-protobuf")],
            Vec::new(),
        ),
    );
    assert_eq!(
        calls(&exchange),
        [
            "proxy_on_context_create(2, 1)",
            "proxy_on_request_headers(2, 5, 1) -> 0",
            "proxy_on_response_headers(2, 2, 1) -> 0",
            "proxy_on_log(2)",
            "proxy_on_done(2) -> 1",
            "proxy_on_delete(2)",
        ]
    );
}
