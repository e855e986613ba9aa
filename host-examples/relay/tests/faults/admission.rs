//! Admission control: many concurrent large bodies stay under the README's memory bound
//! (refused ones get 503 with `Retry-After`), and idle or slowloris connections cannot
//! lock a new client out.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use super::process::{batch, post, RelayProcess};
use super::sink::Sink;

/// The bound the README states for the default flags.
const RSS_BOUND: u64 = 640 << 20;

/// Sends `request` on a new connection and reads the answer until the relay closes it (as
/// it does after refusing a connection, and after an HTTP/1.0 answer).
fn exchange(addr: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn sixty_four_concurrent_13_mb_bodies_stay_under_the_memory_bound() {
    let sink = Sink::start();
    let url = sink.url();
    let relay = RelayProcess::spawn(&["--upstream", url.as_str()]);
    // About 13 MB of protobuf: 40,000 spans with a 300-byte attribute each.
    let (body, _) = batch(40_000, 300);
    assert!(
        body.len() > 13_000_000 && body.len() < 16 << 20,
        "{}",
        body.len()
    );
    let body = Arc::new(body);
    let clients: Vec<_> = (0..64)
        .map(|_| {
            let (addr, body) = (relay.addr.clone(), body.clone());
            std::thread::spawn(move || post(&addr, &body, Duration::from_secs(120)))
        })
        .collect();
    let answers: Vec<_> = clients
        .into_iter()
        .map(|c| c.join().unwrap_or_else(|_| panic!("client")))
        .collect();
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let busy: Vec<_> = answers.iter().filter(|a| a.status == 503).collect();
    assert!(ok >= 1, "{answers:?}");
    assert_eq!(ok + busy.len(), 64, "{answers:?}");
    assert!(busy.iter().all(|a| a.retry_after.is_some()), "{answers:?}");
    let peak = relay.peak_rss();
    assert!(peak > 0 && peak < RSS_BOUND, "peak RSS {} MiB", peak >> 20);
    eprintln!(
        "64 x {} bytes: {ok} accepted, {} refused, peak RSS {} MiB",
        body.len(),
        busy.len(),
        peak >> 20
    );
}

#[test]
fn idle_and_slowloris_connections_do_not_lock_out_a_new_client() {
    let sink = Sink::start();
    let url = sink.url();
    let relay = RelayProcess::spawn(&[
        "--upstream",
        url.as_str(),
        "--max-connections",
        "50",
        "--header-timeout",
        "30s",
    ]);
    let mut held = Vec::new();
    for n in 0..120 {
        let Ok(mut stream) = TcpStream::connect(&relay.addr) else {
            continue;
        };
        if n % 2 == 0 {
            // Slowloris: a request line and half a header, never finished.
            let _ = stream.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Ty");
        }
        held.push(stream);
    }
    // Old enough to be closed for a newcomer.
    std::thread::sleep(Duration::from_millis(1200));
    let answer = post(&relay.addr, &batch(5, 10).0, Duration::from_secs(10));
    assert_eq!(answer.status, 200, "{}", relay.log());
    assert!(relay.metric("relink_relay_open_connections") <= 50);
    drop(held);
}

#[test]
fn the_header_timeout_closes_silent_connections() {
    let sink = Sink::start();
    let url = sink.url();
    let relay = RelayProcess::spawn(&["--upstream", url.as_str(), "--header-timeout", "1s"]);
    let mut silent = TcpStream::connect(&relay.addr).unwrap_or_else(|e| panic!("{e}"));
    let _ = silent.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = [0u8; 256];
    // The relay closes it (read returns 0 or an error) well before the 10 s read timeout.
    let started = std::time::Instant::now();
    let read = std::io::Read::read(&mut silent, &mut buf);
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() < Duration::from_secs(9));
}

#[test]
fn a_body_that_stops_arriving_gets_a_retryable_503() {
    let relay = RelayProcess::spawn(&["--body-timeout", "1s"]);
    let mut stream = TcpStream::connect(&relay.addr).unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.write_all(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"resourceSp",
    );
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n @ 1..) = std::io::Read::read(&mut stream, &mut chunk) {
        bytes.extend_from_slice(&chunk[..n]);
        if bytes.windows(4).any(|w| w == b"\r\n\r\n") && bytes.ends_with(b"}") {
            break;
        }
    }
    let answer = String::from_utf8_lossy(&bytes);
    // Retryable in OTLP (408 is not): the client keeps the batch and sends it again.
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(
        answer.contains("request body not received within 1s"),
        "{answer}"
    );
}

/// At the connection cap the relay is alive and busy: the liveness probe and the metrics
/// scrape are still answered; everything else (`/ready` too) gets 503.
#[test]
fn health_and_metrics_are_answered_at_the_connection_cap() {
    let relay = RelayProcess::spawn(&[
        "--max-connections",
        "2",
        "--header-timeout",
        "30s",
        "--body-timeout",
        "30s",
    ]);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&relay.addr).unwrap_or_else(|e| panic!("{e}"));
        // Mid-body: busy, so not closed for a newcomer.
        let _ = stream.write_all(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        );
        held.push(stream);
    }
    std::thread::sleep(Duration::from_millis(300));
    let ask = |request: &[u8]| exchange(&relay.addr, request);
    let health = ask(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        health.starts_with("HTTP/1.1 200 ") && health.ends_with("ok\n"),
        "{health}"
    );
    let metrics = ask(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(metrics.starts_with("HTTP/1.1 200 "), "{metrics}");
    assert!(
        metrics.contains("relink_relay_open_connections 2"),
        "{metrics}"
    );
    for refused in [
        &b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    ] {
        let answer = ask(refused);
        assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
        assert!(answer.contains("Retry-After: 1"), "{answer}");
    }
    // An OTLP/HTTP export gets a `Status` in its own encoding, as OTLP/HTTP requires.
    let answer = ask(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    );
    assert!(
        answer.contains("Content-Type: application/json"),
        "{answer}"
    );
    assert!(
        answer.ends_with(r#"{"message":"relink: too many connections; retry later"}"#),
        "{answer}"
    );
    drop(held);
}

/// HTTP/1.0 has no chunked coding: a POST without `Content-Length` would read as an empty
/// export and be acknowledged unread, so it gets 411; with the length it is taken.
#[test]
fn an_http_1_0_post_needs_its_length() {
    let sink = Sink::start();
    let url = sink.url();
    let relay = RelayProcess::spawn(&["--upstream", url.as_str()]);
    let ask = |request: &[u8]| exchange(&relay.addr, request);
    let body = r#"{"resourceSpans":[]}"#;
    let without = ask(format!(
        "POST /v1/traces HTTP/1.0\r\nContent-Type: application/json\r\n\r\n{body}"
    )
    .as_bytes());
    assert!(without.contains(" 411 "), "{without}");
    assert!(without.contains("needs Content-Length"), "{without}");
    let with = ask(
        format!(
            "POST /v1/traces HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert!(with.contains(" 200 "), "{with}");
}

/// A client that shuts its write side once its request is sent (HTTP/1.0 tools and some
/// proxies do) still gets its answer: without it the batch went on while the client saw
/// the connection close and sent it again.
#[test]
fn a_client_that_half_closes_after_its_request_is_answered() {
    let sink = Sink::start();
    let url = sink.url();
    let relay = RelayProcess::spawn(&["--upstream", url.as_str()]);
    let (body, ids) = batch(5, 10);
    for version in ["1.1", "1.0"] {
        let mut stream = TcpStream::connect(&relay.addr).unwrap_or_else(|e| panic!("{e}"));
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let head = format!(
            "POST /v1/traces HTTP/{version}\r\nHost: relay\r\nContent-Type: application/x-protobuf\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream
            .write_all(&[head.as_bytes(), &body].concat())
            .unwrap_or_else(|e| panic!("{e}"));
        stream
            .shutdown(std::net::Shutdown::Write)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut answer = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.contains(" 200 "), "HTTP/{version}: {answer:?}");
    }
    assert_eq!(sink.wait_for(&ids, Duration::from_secs(10)), 0);
}
