//! The filter's host options and buffer-limit rule, natively (`relink_envoy::body`).

use relink_envoy::body::{fits, parse_options, BufferLimit, Options};

#[test]
fn the_defaults_are_envoys_defaults() {
    let options = parse_options("{}").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(options.per_connection_buffer_limit_bytes, 1 << 20);
    assert_eq!(options.initial_stream_window_size, 256 << 20);
    assert_eq!(options.max_body_bytes, 512 << 10);
    assert_eq!(options.traces_path, "/v1/traces");
}

#[test]
fn the_limit_is_chosen_by_the_request_protocol() {
    let options = Options {
        per_connection_buffer_limit_bytes: 1000,
        initial_stream_window_size: 500,
        ..Options::default()
    };
    let limit = |p: Option<&[u8]>| options.buffer_limit(p);
    let http1 = BufferLimit {
        bytes: 1000,
        setting: "per_connection_buffer_limit_bytes",
    };
    let http2 = BufferLimit {
        bytes: 500,
        setting: "initial_stream_window_size",
    };
    assert_eq!(limit(Some(b"HTTP/1.1")), http1);
    assert_eq!(limit(Some(b"HTTP/1.0")), http1);
    assert_eq!(limit(Some(b"HTTP/2")), http2);
    assert_eq!(limit(Some(b"HTTP/3")), http2, "unknown: the smaller");
    assert_eq!(limit(None), http2);
    let wide = Options {
        initial_stream_window_size: 5000,
        ..options.clone()
    };
    assert_eq!(wide.buffer_limit(None), http1);
}

#[test]
fn only_a_buffered_body_must_fit() {
    let limit = BufferLimit {
        bytes: 100,
        setting: "per_connection_buffer_limit_bytes",
    };
    assert!(fits(100, true, limit));
    assert!(!fits(101, true, limit));
    assert!(fits(101, false, limit));
}

#[test]
fn max_body_bytes_must_stay_below_both_limits() {
    for json in [
        r#"{"max_body_bytes": 100, "per_connection_buffer_limit_bytes": 100}"#,
        r#"{"max_body_bytes": 100, "initial_stream_window_size": 99}"#,
    ] {
        assert!(parse_options(json).is_err(), "{json}");
    }
    assert!(parse_options(
        r#"{"max_body_bytes": 99, "per_connection_buffer_limit_bytes": 100, "initial_stream_window_size": 100}"#
    )
    .is_ok());
}

#[test]
fn the_traces_path_matches_without_its_query_string() {
    use relink_envoy::body::{classify, Framing};
    let options =
        parse_options(r#"{"traces_path": "/otlp/v1/traces"}"#).unwrap_or_else(|e| panic!("{e}"));
    let kind = |path: &str| {
        classify(
            &options,
            b"POST",
            path.as_bytes(),
            b"application/x-protobuf",
            b"",
        )
        .map(|e| e.map(|e| matches!(e.framing, Framing::Http(_))))
    };
    assert_eq!(kind("/otlp/v1/traces"), Ok(Some(true)));
    assert_eq!(kind("/otlp/v1/traces?tenant=a&x=1"), Ok(Some(true)));
    assert_eq!(kind("/otlp/v1/traces/"), Ok(None));
    assert_eq!(kind("/v1/traces"), Ok(None));
}
