//! relink natively against the relink component (`dist/relink.wasm`) in wasmtime 48, on the
//! benchmark batches of benches/relink.rs (issue 9: the component within 1.5x of native).
//!
//! Native and component calls alternate, one of each per round, so a change in machine load
//! hits both sides alike; the figures are medians over the rounds. The component is driven
//! through the relay's embedding (`relink_relay::component`), exactly as `relink serve`
//! runs it: the request bytes are copied into the guest and the output copied out on every
//! call, which is part of what is measured.
//!
//! ```sh
//! cargo run --release --manifest-path benches/wasm/Cargo.toml -- dist/relink.wasm
//! ```
//! `ROUNDS` (default 15) sets the rounds per batch; `ONLY` keeps the batches whose name
//! contains it. benches/run.sh runs it when the
//! component has been built.
//!
//! The last three columns are the guest's work per span in fuel (about one unit per
//! WebAssembly instruction executed), from a second, counting instance
//! (`LoadedComponent::counting`): for the whole call, and split as the relay splits a
//! request between a reader (`prepare-traces`) and the instance holding the state
//! (`process-traces-prepared`). Reading evidence touches no state, so `prepare` is the
//! same on every run; the other two plan against the pointer index, whose hash keys are
//! random per instance, and vary by about 2%, so they are medians of five instances. Two
//! builds of the component compare that closely, where the timings only compare within
//! their noise.

#[path = "../../support/batches.rs"]
mod batches;

use batches::{Rng, Shape};
use prost::Message;
use relink::config::Config;
use relink::otlp::{decode_protobuf, encode_protobuf};
use relink_relay::component::{Encoding, LoadedComponent, Relinker};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// As in benches/relink.rs.
const NOW: u64 = 1_709_929_400_000_000_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The fuel of the second call of `input` on a counting instance (the first warms the
/// index, as the timed rounds do), and of the same call split into `prepare-traces` on a
/// fresh instance and `process-traces-prepared` on the first: medians of five.
fn fuel(counting: &LoadedComponent, input: &[u8]) -> [u64; 3] {
    let start = || match counting.processor("{}") {
        Ok(p) => p,
        Err(e) => panic!("counting processor: {e}"),
    };
    let whole = |p: &mut Relinker| {
        if let Err(e) = p.process_traces_changed(input, Encoding::Protobuf, NOW) {
            panic!("component: {e}")
        }
    };
    let mut runs: [Vec<u64>; 3] = Default::default();
    for _ in 0..5 {
        let (mut owner, mut reader) = (start(), start());
        whole(&mut owner);
        runs[0].push(spent(&mut owner, whole));
        let mut read = None;
        runs[1].push(spent(&mut reader, |p| {
            read = p.prepare_traces(input, Encoding::Protobuf)
        }));
        let read = read.unwrap_or_else(|| panic!("the batch could not be prepared"));
        runs[2].push(spent(&mut owner, |p| {
            if let Err(e) = p.process_traces_prepared(input, Encoding::Protobuf, &read, NOW) {
                panic!("component: {e}")
            }
        }));
    }
    runs.map(|mut v| {
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or_default()
    })
}

/// The fuel `call` uses on `p`.
fn spent(p: &mut Relinker, call: impl FnOnce(&mut Relinker)) -> u64 {
    let before = p.fuel_used();
    call(p);
    p.fuel_used() - before
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let path = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "dist/relink.wasm".into()),
    );
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    // `ONLY=10k-spans-0pct` runs the batches whose name contains it (to profile one).
    let only = std::env::var("ONLY").ok();
    let loaded = match LoadedComponent::load(&path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            std::process::exit(2);
        }
    };
    let counting = match LoadedComponent::counting(&path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            std::process::exit(2);
        }
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "component {}: {size} bytes; {rounds} alternating rounds per batch, medians",
        path.display()
    );
    println!(
        "{:<22}{:>12}{:>12}{:>14}{:>12}{:>12}{:>12}",
        "batch", "native ms", "wasm ms", "wasm/native", "fuel/span", "prepare", "prepared"
    );
    for spans in [1_000, 10_000] {
        for percent in [0, 10, 100] {
            let name = format!("otlp-{}k-spans-{percent}pct", spans / 1000);
            if only.as_deref().is_some_and(|o| !name.contains(o)) {
                continue;
            }
            let shape = Shape::realistic(spans, percent);
            let input =
                batches::request(&shape, &mut Rng((spans * 1000 + percent) as u64)).encode_to_vec();
            let mut native = match relink::Processor::new(&Config::default()) {
                Ok(p) => p,
                Err(e) => panic!("default config: {e}"),
            };
            let mut wasm = match loaded.processor("{}") {
                Ok(p) => p,
                Err(e) => panic!("component processor: {e}"),
            };
            // One warm-up call each; the outputs must agree.
            let a = native.process_traces(&input, NOW).output.into_owned();
            // As `relink serve` calls it: `None` is "forward your input".
            let b = match wasm.process_traces_changed(&input, Encoding::Protobuf, NOW) {
                Ok(b) => b.unwrap_or_else(|| input.clone()),
                Err(e) => panic!("component: {e}"),
            };
            let canonical = |x: &[u8]| decode_protobuf(x).map(|r| encode_protobuf(&r)).ok();
            assert_eq!(
                canonical(&a),
                canonical(&b),
                "native and component outputs differ"
            );
            let (mut tn, mut tw) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                let t = Instant::now();
                black_box(native.process_traces(black_box(&input), NOW).output.len());
                tn.push(t.elapsed());
                let t = Instant::now();
                black_box(
                    wasm.process_traces_changed(black_box(&input), Encoding::Protobuf, NOW)
                        .map(|o| o.map_or(input.len(), |o| o.len()))
                        .ok(),
                );
                tw.push(t.elapsed());
            }
            let (n, w) = (median(tn), median(tw));
            let [whole, prepare, prepared] = fuel(&counting, &input).map(|f| f / spans as u64);
            println!(
                "{name:<22}{:>12.3}{:>12.3}{:>13.2}x{whole:>12}{prepare:>12}{prepared:>12}",
                ms(n),
                ms(w),
                ms(w) / ms(n)
            );
        }
    }
}
