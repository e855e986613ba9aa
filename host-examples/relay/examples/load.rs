//! Load benchmark of `relink serve` (not a test): spans/s and acknowledgement latency
//! (p50, p99) at 1, 8 and 32 clients, with the sending queue in memory, with `--spool`,
//! and with `--out` (queue in memory and a file), against a loopback upstream that answers
//! 200 at once. Each client sends protobuf batches of 100 spans back to back; after each
//! run the benchmark checks that the upstream received every acknowledged span, and reads
//! the share of the run the relay spent inside the component instance that holds the state
//! (`component busy`, from `relink_relay_component_seconds_total`: near 100%, that instance
//! is the ceiling) and the share of requests whose evidence a reader read ahead
//! (`read ahead`, `relink_relay_prepared_total`).
//!
//! `--spans N --evidence P` sends instead the benchmarks' generated batch
//! (benches/support/batches.rs: N realistic spans, P% with evidence), and first prints the
//! core's own spans/s on that batch (`Processor::process_traces`, one thread, native), the
//! figure the relay is compared with. `--clients 8` and `--modes memory,spool,out` pick the
//! runs; `--readers N` and `--workers N` are passed to the relay.
//!
//! ```sh
//! cargo build --release -p relink-relay && host-examples/component/build.sh
//! cargo run --release -p relink-relay --example load -- [--seconds 5] [--relay BINARY]
//! cargo run --release -p relink-relay --example load -- --spans 1000 --evidence 10 --clients 8 --modes memory
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use relink::otlp::wire::{Fields, Value};
use relink::otlp::{self, Encoding, ExportTraceServiceRequest};

#[path = "../../../benches/support/batches.rs"]
mod batches;

/// Spans per batch without `--spans`.
const SPANS: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5u64);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let relay = args
        .iter()
        .position(|a| a == "--relay")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/relink-relay"));
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (body, spans) = match value("--spans").and_then(|s| s.parse::<usize>().ok()) {
        Some(spans) => {
            let percent = value("--evidence")
                .and_then(|s| s.parse().ok())
                .unwrap_or(10);
            let shape = batches::Shape::realistic(spans, percent);
            let request = batches::request(&shape, &mut batches::Rng(spans as u64 * 1000));
            let body = otlp::encode(&request, Encoding::Protobuf);
            println!(
                "batch: {spans} generated spans, {percent}% with evidence, {} bytes",
                body.len()
            );
            core_rate(&body, spans);
            (body, spans)
        }
        None => (batch(), SPANS),
    };
    assert_eq!(
        count_spans(&body),
        Some(spans as u64),
        "the sink's span count disagrees with the batch"
    );
    let body = Arc::new(body);
    let client_counts: Vec<usize> = value("--clients")
        .map(|l| l.split(',').filter_map(|c| c.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 8, 32]);
    let modes = value("--modes").unwrap_or_else(|| "memory,spool,out".into());
    let component = root.join("dist/relink.wasm");
    let scratch = std::env::temp_dir().join(format!("relink-load-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&scratch);
    println!(
        "| output | clients | spans/s | p50 ms | p99 ms | requests | delivered | component busy | read ahead |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (mode, key) in [
        ("memory queue", "memory"),
        ("spool", "spool"),
        ("--out + memory queue", "out"),
    ] {
        if !modes.split(',').any(|m| m == key) {
            continue;
        }
        for &clients in &client_counts {
            let sink = Sink::start();
            let run = scratch.join(format!("{}-{clients}", mode.len()));
            let _ = std::fs::remove_dir_all(&run);
            let _ = std::fs::create_dir_all(&run);
            let mut command = Command::new(&relay);
            command
                .args(["serve", "--listen", "127.0.0.1:0", "--log-interval", "0"])
                .arg("--component")
                .arg(&component)
                .args(["--upstream", &format!("http://127.0.0.1:{}", sink.port)]);
            for flag in ["--readers", "--workers"] {
                if let Some(n) = value(flag) {
                    command.args([flag, &n]);
                }
            }
            match mode {
                "spool" => {
                    command.arg("--spool").arg(run.join("spool"));
                }
                "--out + memory queue" => {
                    command.arg("--out").arg(run.join("out.jsonl"));
                }
                _ => {}
            }
            let mut child = command
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("{}: {e}", relay.display()));
            let mut first = String::new();
            let stderr = child.stderr.take().unwrap_or_else(|| panic!("stderr"));
            let mut stderr = BufReader::new(stderr);
            let _ = stderr.read_line(&mut first);
            let addr = first
                .split("http://")
                .nth(1)
                .and_then(|r| r.split('/').next())
                .unwrap_or_else(|| panic!("relay did not start: {first}"))
                .to_string();
            // Keep reading stderr so the relay never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut rest = String::new();
                let _ = stderr.read_to_string(&mut rest);
            });
            let result = drive(&addr, clients, Duration::from_secs(seconds), &body, spans);
            let deadline = Instant::now() + Duration::from_secs(60);
            while sink.spans.load(Ordering::Relaxed) < result.spans && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let metrics = relay_metrics(&addr);
            let busy = metric(&metrics, "relink_relay_component_seconds_total")
                / result.elapsed.as_secs_f64();
            let ahead = metric(&metrics, "relink_relay_prepared_total")
                / (result.latencies.len() as f64).max(1.0);
            let _ = child.kill();
            let _ = child.wait();
            let mut latencies = result.latencies;
            latencies.sort_unstable();
            let pct = |p: f64| {
                let i =
                    ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
                latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
            };
            println!(
                "| {mode} | {clients} | {:.0} | {:.2} | {:.2} | {} | {} | {:.0}% | {:.0}% |",
                result.spans as f64 / result.elapsed.as_secs_f64(),
                pct(0.50),
                pct(0.99),
                latencies.len(),
                if sink.spans.load(Ordering::Relaxed) >= result.spans {
                    "all"
                } else {
                    "MISSING"
                },
                busy * 100.0,
                ahead * 100.0,
            );
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The relay's `/metrics` text (empty when it cannot be read).
fn relay_metrics(addr: &str) -> String {
    ureq::get(format!("http://{addr}/metrics"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default()
}

/// One unlabelled metric's value (0 when absent): `relink_relay_component_seconds_total`,
/// time inside the instance that holds the state, which plans and applies every batch one
/// at a time; `relink_relay_prepared_total`, requests a reader read ahead.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

struct Run {
    spans: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// `clients` threads posting back to back for `length`; only 200s count.
fn drive(addr: &str, clients: usize, length: Duration, body: &Arc<Vec<u8>>, spans: usize) -> Run {
    let acked = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (addr, body, acked) = (addr.to_string(), body.clone(), acked.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build()
                    .into();
                let mut latencies = Vec::new();
                while started.elapsed() < length {
                    let sent = Instant::now();
                    let status = agent
                        .post(format!("http://{addr}/v1/traces"))
                        .header("content-type", "application/x-protobuf")
                        .send(body.as_slice())
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    if status == 200 {
                        latencies.push(sent.elapsed());
                        acked.fetch_add(spans as u64, Ordering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    let latencies = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap_or_default())
        .collect();
    Run {
        spans: acked.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        latencies,
    }
}

/// The core natively on one thread, on the same batch: what the relay is compared with.
fn core_rate(body: &[u8], spans: usize) {
    let config = relink::config::Config::from_json("{}")
        .and_then(|c| relink::Processor::new(&c))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut processor = config;
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < Duration::from_secs(3) {
        let now = relink::time::unix_nanos(std::time::SystemTime::now());
        std::hint::black_box(processor.process_traces(body, now));
        calls += 1;
    }
    println!(
        "core, one thread, native: {:.0} spans/s ({calls} batches in {:.1} s)",
        (calls * spans as u64) as f64 / started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// 100 spans of about 150 bytes each, protobuf (about 18 KB).
fn batch() -> Vec<u8> {
    let spans = (0..SPANS as u64)
        .map(|n| Span {
            trace_id: [7u8; 16].to_vec(),
            span_id: (n + 1).to_be_bytes().to_vec(),
            name: "GET /orders".into(),
            start_time_unix_nano: 1,
            end_time_unix_nano: 2,
            attributes: vec![KeyValue {
                key_strindex: 0,
                key: "http.route".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("/orders/{id}".into())),
                }),
            }],
            ..Span::default()
        })
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    otlp::encode(&request, Encoding::Protobuf)
}

/// A loopback upstream answering 200 at once and counting spans.
struct Sink {
    port: u16,
    spans: Arc<AtomicU64>,
}

impl Sink {
    fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let spans = Arc::new(AtomicU64::new(0));
        let counted = spans.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counted = counted.clone();
                std::thread::spawn(move || serve(stream, &counted));
            }
        });
        Sink { port, spans }
    }
}

/// The spans of an `ExportTraceServiceRequest`, from its framing alone (resource spans,
/// scope spans, span: field 1, 2, 2), without reading a span's contents. The sink stands
/// in for a backend on another machine, so it should take as little of the relay's cores as
/// it can: a validating scan of every batch (as before) took a tenth of the machine with
/// nothing to relink. What the relay forwards is checked by its tests, not here.
fn count_spans(request: &[u8]) -> Option<u64> {
    fn each(
        data: &[u8],
        start: usize,
        end: usize,
        tag: u32,
        mut f: impl FnMut(usize, usize) -> Option<()>,
    ) -> Option<()> {
        let mut fields = Fields::new(data, start, end).ok()?;
        while let Some(field) = fields.next_field().ok()? {
            match field.value {
                Value::Len { start, end } if field.tag == tag => f(start, end)?,
                _ => {}
            }
        }
        Some(())
    }
    let mut n = 0u64;
    each(request, 0, request.len(), 1, |s, e| {
        each(request, s, e, 2, |s, e| {
            each(request, s, e, 2, |_, _| {
                n += 1;
                Some(())
            })
        })
    })?;
    Some(n)
}

fn serve(stream: TcpStream, spans: &AtomicU64) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut writer = stream;
    let mut body = Vec::new();
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        body.clear();
        // `take` + `read_to_end` fills the reused buffer without zeroing it first.
        match (&mut reader).take(length as u64).read_to_end(&mut body) {
            Ok(n) if n == length => {}
            _ => return,
        }
        if let Some(n) = count_spans(&body) {
            spans.fetch_add(n, Ordering::Relaxed);
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}
