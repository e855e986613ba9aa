//! relink natively against its proxy-wasm module (`dist/relink-envoy.wasm`) in the Envoy
//! harness and its otelwasm module (`dist/relink-collector.wasm`) in the collector harness,
//! on the benchmark batches of benches/relink.rs (issue 9: the proxy-wasm module within
//! 1.5x of native; benches/RESULTS.md, "Plugins in their host harnesses").
//!
//! It lives in the harness crate, whose wasmtime 48 build the workspace already has, so
//! measuring costs no second wasmtime build (benches/wasm, for the component, has its own
//! workspace). Per batch: a fresh native processor, Envoy VM and collector processor; one
//! untimed call each, whose outputs must equal the native one; then rounds of one native,
//! one Envoy and one collector call, so a change in machine load hits all alike; the
//! figures are medians over the rounds, and the last round's outputs are checked again.
//!
//! - Envoy: the filter configured with `{}`, `vm_config` `max_body_bytes` set to the batch
//!   size (the default, 512 KiB, passes every batch here through untouched) and a listener
//!   buffer limit at least that large (Envoy's default, 1 MiB, answers 413 to the 1k-span
//!   100% batch and every 10k-span one); a `POST /v1/traces`, `application/x-protobuf`, the
//!   body in one chunk with end of stream; the output is the body sent upstream. What is
//!   timed is the whole stream as the harness runs it (context create, headers, body,
//!   response, log, done, delete), including the body copies into and out of the guest.
//! - Collector: `processTraces` with plugin config `{}`. The harness marshals the batch as
//!   the collector's Go host marshals pdata (protobuf decode + encode of the input, and of
//!   the result the guest sets), which native relink does not pay, so that marshalling is
//!   also timed alone in the same round (`pdata ms`); the last ratio is the median over
//!   rounds of (collector − pdata) / native, the guest's share.
//!
//! ```sh
//! cargo run --release -p relink-harness --example plugin_overhead
//! ```
//! `ROUNDS` (default 15) sets the rounds per batch; `RELINK_ENVOY_WASM` and
//! `RELINK_COLLECTOR_WASM` point at other builds of the modules (default: `dist/`), e.g.
//! the output of `wasm-opt -Oz`.

#[path = "../../../benches/support/batches.rs"]
mod batches;

use batches::{Rng, Shape};
use relink::config::Config;
use relink::otlp::{decode_protobuf, encode_protobuf, Encoding};
use relink_harness::envoy::{Host, Request, Settings, Startup, Vm};
use relink_harness::otelwasm::{self, Plugin};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// As in benches/relink.rs.
const NOW: u64 = 1_709_929_400_000_000_000;

fn main() {
    if let Err(e) = run() {
        eprintln!("plugin_overhead: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15)
        .max(1);
    let envoy_path = artifact("RELINK_ENVOY_WASM", "relink-envoy.wasm");
    let collector_path = artifact("RELINK_COLLECTOR_WASM", "relink-collector.wasm");
    let envoy_wasm = read(&envoy_path)?;
    let collector_wasm = read(&collector_path)?;
    let host = Host::load(&envoy_wasm).map_err(|e| format!("{}: {e:#}", envoy_path.display()))?;
    let plugin =
        Plugin::new(&collector_wasm).map_err(|e| format!("{}: {e:#}", collector_path.display()))?;
    println!(
        "envoy module {}: {} bytes",
        envoy_path.display(),
        envoy_wasm.len()
    );
    println!(
        "collector module {}: {} bytes",
        collector_path.display(),
        collector_wasm.len()
    );
    println!(
        "{rounds} alternating rounds per batch, medians; load average {} at the start",
        loadavg()
    );
    println!();
    println!("| batch | bytes | native ms | envoy ms | **envoy / native** | collector ms | collector / native | pdata ms | (collector − pdata) / native | outputs (envoy, collector) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for spans in [1_000, 10_000] {
        for percent in [0, 10, 100] {
            let row = measure(&host, &plugin, spans, percent, rounds)?;
            println!("{row}");
        }
    }
    println!();
    println!("load average {} at the end", loadavg());
    Ok(())
}

/// One batch: warm-up calls checked against native, then the timed rounds.
fn measure(
    host: &Host,
    plugin: &Plugin,
    spans: usize,
    percent: usize,
    rounds: usize,
) -> Result<String, String> {
    let name = format!("{}k spans, {percent}%", spans / 1000);
    let shape = Shape::realistic(spans, percent);
    let input = encode_protobuf(&batches::request(
        &shape,
        &mut Rng((spans * 1000 + percent) as u64),
    ));
    let mut native =
        relink::Processor::new(&Config::default()).map_err(|e| format!("default config: {e}"))?;
    let mut vm = envoy_vm(host, input.len())?;
    let request = Request::post(
        "/v1/traces",
        &[
            ("content-type", "application/x-protobuf"),
            ("content-length", &input.len().to_string()),
        ],
        vec![input.clone()],
    );
    let mut collector = otelwasm::Processor::new(plugin, b"{}", Some(Duration::from_nanos(NOW)))
        .map_err(|e| format!("collector processor: {e:#}"))?;

    let expected = native
        .process_traces_as(&input, Encoding::Protobuf, NOW)
        .output
        .into_owned();
    let mut envoy_agrees = agree(&name, "envoy", &expected, &send(&mut vm, &request)?)?;
    let mut collector_agrees = agree(
        &name,
        "collector",
        &expected,
        &process(&mut collector, &input)?,
    )?;

    let (mut tn, mut te, mut tc, mut tp) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let t = Instant::now();
        let n = native.process_traces_as(black_box(&input), Encoding::Protobuf, NOW);
        tn.push(t.elapsed());
        let t = Instant::now();
        let e = send(&mut vm, black_box(&request))?;
        te.push(t.elapsed());
        let t = Instant::now();
        let c = process(&mut collector, black_box(&input))?;
        tc.push(t.elapsed());
        let t = Instant::now();
        black_box(pdata(&input)?.len() + pdata(&c)?.len());
        tp.push(t.elapsed());
        if round == rounds {
            envoy_agrees = envoy_agrees.max(agree(&name, "envoy", &n.output, &e)?);
            collector_agrees = collector_agrees.max(agree(&name, "collector", &n.output, &c)?);
        }
    }
    // Per round, so that the subtraction pairs measurements taken together.
    let guest: Vec<f64> = tn
        .iter()
        .zip(&tc)
        .zip(&tp)
        .map(|((n, c), p)| (ms(*c) - ms(*p)) / ms(*n))
        .collect();
    let (n, e, c, p) = (
        ms(median(tn)),
        ms(median(te)),
        ms(median(tc)),
        ms(median(tp)),
    );
    Ok(format!(
        "| {name} | {} | {n:.3} | {e:.3} | **{:.2}x** | {c:.3} | {:.2}x | {p:.3} | {:.2}x | {}, {} |",
        thousands(input.len()),
        e / n,
        c / n,
        median_f64(guest),
        envoy_agrees.label(),
        collector_agrees.label(),
    ))
}

/// A VM whose filter handles bodies up to `body_bytes` (see the module header).
fn envoy_vm(host: &Host, body_bytes: usize) -> Result<Vm, String> {
    let mut settings = Settings::new("{}");
    // Room for the relinked body too: past the buffer limit the filter would keep the
    // original, and the comparison with the native core would fail.
    let limit = settings.buffer_limit.max(body_bytes * 2);
    settings.vm_configuration = format!(
        r#"{{"max_body_bytes": {body_bytes}, "per_connection_buffer_limit_bytes": {limit}}}"#
    )
    .into_bytes();
    settings.buffer_limit = limit;
    settings.now_unix_nano = NOW;
    let vm = host
        .start(&settings)
        .map_err(|e| format!("envoy start: {e:#}"))?;
    if vm.startup() != Startup::Ready {
        return Err(format!(
            "envoy start: {:?}, logs {:?}",
            vm.startup(),
            vm.logs()
        ));
    }
    Ok(vm)
}

/// The body the filter sends upstream; anything but a plain pass (a log line, a local
/// reply, a stalled stream) is an error, since it means the body was not processed.
fn send(vm: &mut Vm, request: &Request) -> Result<Vec<u8>, String> {
    let exchange = vm.send(request).map_err(|e| format!("envoy: {e:#}"))?;
    let logs = vm.take_logs();
    if exchange.local_reply.is_some() || exchange.stalled || !logs.is_empty() {
        return Err(format!(
            "envoy: local reply {:?}, stalled {}, logs {logs:?}",
            exchange.local_reply, exchange.stalled
        ));
    }
    Ok(exchange.upstream_body)
}

fn process(collector: &mut otelwasm::Processor, input: &[u8]) -> Result<Vec<u8>, String> {
    let output = collector
        .process_traces(input)
        .map_err(|e| format!("collector: {e:?}"))?;
    let stderr = collector.stderr();
    if !stderr.is_empty() {
        return Err(format!("collector stderr: {stderr}"));
    }
    Ok(output)
}

/// The harness's marshalling of one batch (decode + encode), as its otelwasm host does.
fn pdata(bytes: &[u8]) -> Result<Vec<u8>, String> {
    decode_protobuf(bytes)
        .map(|r| encode_protobuf(&r))
        .map_err(|e| format!("pdata: {e}"))
}

/// How a plugin's output compares with native relink's; ordered so that `max` keeps the
/// weaker agreement seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Agreement {
    /// The same bytes.
    Identical,
    /// Different bytes that decode to the same request.
    SameDecoded,
}

impl Agreement {
    fn label(self) -> &'static str {
        match self {
            Agreement::Identical => "identical",
            Agreement::SameDecoded => "same decoded",
        }
    }
}

fn agree(batch: &str, plugin: &str, native: &[u8], wasm: &[u8]) -> Result<Agreement, String> {
    if native == wasm {
        return Ok(Agreement::Identical);
    }
    let decode = |side: &str, bytes: &[u8]| {
        decode_protobuf(bytes)
            .map_err(|e| format!("{batch}: {plugin}: {side} output does not decode: {e}"))
    };
    if decode("native", native)? == decode(plugin, wasm)? {
        Ok(Agreement::SameDecoded)
    } else {
        Err(format!(
            "{batch}: {plugin} output differs from native ({} bytes, native {} bytes)",
            wasm.len(),
            native.len()
        ))
    }
}

fn artifact(var: &str, name: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../dist")
            .join(name),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "{}: {e}; build it (host-examples/*/build.sh) or set its variable",
            path.display()
        )
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .take(3)
                .map(str::to_owned)
                .reduce(|a, b| format!("{a} {b}"))
        })
        .unwrap_or_else(|| "unknown".into())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn median_f64(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
