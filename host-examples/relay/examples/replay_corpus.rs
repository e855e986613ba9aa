//! Differential replay: every file under the given folders (the fuzz corpora the native
//! targets grew, the golden inputs, the malformed corpus) through the shipped component in
//! wasmtime and through the native core side by side, on all three entry points:
//! `process-traces` (encoding detected), `process-event` and `process-log`, and
//! `process-traces-prepared` on a second processor given what a reader in a third instance
//! read ahead (`prepare-traces`), as the relay's readers do. Any trap or any
//! difference (output bytes, error text) is a failure. libFuzzer cannot see inside the
//! guest, so this is how the component entry is exercised with what the fuzzers found;
//! wasm-only failures (a smaller stack, 32-bit sizes) would show here and nowhere else.
//!
//! ```sh
//! python3 fuzz/seed.py   # or fuzz/run.sh, which grows the corpora
//! cargo run --release -p relink-relay --example replay_corpus -- fuzz/corpus tests/malformed
//! # then N mutated inputs (seeded): bit flips, byte sets, cuts, inserts, splices
//! MUTATE=10000000 SEED=1 cargo run --release -p relink-relay --example replay_corpus -- fuzz/corpus
//! ```
//!
//! With `MUTATE=N` the replay is followed by N executions of inputs mutated from the
//! corpus (each through the three entry points): random, not coverage-guided, since
//! libFuzzer would only see the host side.
//!
//! One component instance and one native processor (and one log enricher) see every input
//! in the same order, so their state stays equal; configuration: the defaults with
//! adoption on, as a second-tier relay runs. `RELINK_COMPONENT` overrides dist/relink.wasm.

use relink::config::Config;
use relink::processor::EventContext;
use relink_relay::component::{describe, CallError, Encoding, LoadedComponent};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const NOW: u64 = 1_722_369_353_000_000_000;
const CONFIG: &str = r#"{"adoption": {"enabled": true}}"#;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Compares one call's answers; `None` when they agree.
fn differ<T: std::fmt::Debug + std::fmt::Display>(
    got: Result<Vec<u8>, CallError>,
    want: Result<Vec<u8>, T>,
) -> Option<String> {
    match (got, want) {
        (Ok(a), Ok(b)) if a == b => None,
        (Err(CallError::Component(e)), Err(error)) if describe(&e) == error.to_string() => None,
        (Err(CallError::Trap(trap)), _) => Some(format!("component trapped: {trap}")),
        (got, want) => Some(format!(
            "component {:?}, native {:?}",
            got.map(|b| b.len()),
            want.map(|b| b.len())
        )),
    }
}

/// xorshift64*: reproducible mutations from `SEED`, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
}

/// One to four of: flip a bit, set a byte to an interesting value, cut a range, insert
/// random bytes or a copy of a range, splice in part of another input, truncate.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    const BYTES: [u8; 12] = [
        0, 1, 0x7f, 0x80, 0xff, b'"', b'{', b'}', b'[', b']', b'\\', b':',
    ];
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = BYTES[rng.below(BYTES.len())];
            }
            2 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(16)).min(len);
                out.drain(at..end);
            }
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(at..at, bytes);
            }
            4 if len > 0 => {
                let from = rng.below(len);
                let end = (from + 1 + rng.below(64)).min(len);
                let copy = out[from..end].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, copy);
            }
            5 if !other.is_empty() => {
                let at = rng.below(len + 1);
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(256)).min(other.len());
                out.truncate(at);
                out.extend_from_slice(&other[from..end]);
            }
            _ if len > 0 => out.truncate(rng.below(len)),
            _ => {}
        }
    }
    out
}

fn main() -> ExitCode {
    let dirs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        eprintln!("usage: replay_corpus DIR...");
        return ExitCode::from(64);
    }
    let component_path = std::env::var_os("RELINK_COMPONENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dist/relink.wasm")
        });
    let loaded = match LoadedComponent::load(&component_path) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{e} (build it: host-examples/component/build.sh)");
            return ExitCode::from(2);
        }
    };
    let (mut component, mut native, mut logs) =
        match (loaded.processor(CONFIG), Config::from_json(CONFIG)) {
            (Ok(component), Ok(config)) => match relink::Processor::new(&config) {
                Ok(native) => {
                    let enricher = native.settings().enricher();
                    (component, native, enricher)
                }
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            },
            (Err(e), _) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
            (_, Err(e)) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
    // The relay's split: a reader in its own instance, and a processor given its results,
    // whose state follows the native one as the first processor's does.
    let started_pair = (loaded.processor(CONFIG), loaded.processor(CONFIG));
    let (mut reader, mut owner) = match started_pair {
        (Ok(reader), Ok(owner)) => (reader, owner),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut inputs = Vec::new();
    for dir in &dirs {
        files(dir, &mut inputs);
    }
    inputs.sort();
    let started = Instant::now();
    let (mut calls, mut failures) = (0u64, Vec::new());
    let corpus: Vec<(String, Vec<u8>)> = inputs
        .iter()
        .filter_map(|p| std::fs::read(p).ok().map(|b| (p.display().to_string(), b)))
        .collect();
    let mutations: u64 = std::env::var("MUTATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut rng = Rng(std::env::var("SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        | 1);
    let mut saved = 0;
    for n in 0..corpus.len() as u64 + mutations {
        let mutated;
        let (name, input): (Cow<'_, str>, &[u8]) = match corpus.get(n as usize) {
            Some((name, input)) => (Cow::Borrowed(name), input),
            None if corpus.is_empty() => break,
            None => {
                let (base, other) = (
                    &corpus[rng.below(corpus.len())].1,
                    &corpus[rng.below(corpus.len())].1,
                );
                mutated = mutate(&mut rng, base, other);
                (
                    Cow::Owned(format!("mutation {}", n - corpus.len() as u64)),
                    &mutated,
                )
            }
        };
        let (traces, prepared) = {
            let processed = native.process_traces(input, NOW);
            let want = || match &processed.error {
                None => Ok(processed.output.to_vec()),
                Some(e) => Err(e.clone()),
            };
            let ahead = reader.prepare_traces(input, Encoding::Auto);
            let given = owner
                .process_traces_prepared(input, Encoding::Auto, &ahead.unwrap_or_default(), NOW)
                .map(|changed| changed.unwrap_or_else(|| input.to_vec()));
            (
                differ(component.process_traces(input, Encoding::Auto, NOW), want()),
                differ(given, want()),
            )
        };
        let event = differ(
            component.process_event(input, None, NOW),
            native
                .process_event(input, &EventContext::default(), NOW)
                .map(|r| relink::otlp::encode_json(&r)),
        );
        // Events are indexed too: the processor given read-ahead results sees them as well.
        let _ = owner.process_event(input, None, NOW);
        let native_log = logs
            .enrich_bytes(input)
            .map(|out| out.map_or_else(|| input.to_vec(), String::into_bytes));
        let log = differ(component.process_log(input), native_log);
        calls += 5;
        for (entry, problem) in [
            ("process-traces", traces),
            ("process-traces-prepared", prepared),
            ("process-event", event),
            ("process-log", log),
        ] {
            if let Some(problem) = problem {
                failures.push(format!("{name}: {entry}: {problem}"));
                // Keep the input that failed, to replay and minimise.
                if saved < 20 {
                    let file = std::env::temp_dir().join(format!("relink-replay-failure-{saved}"));
                    if std::fs::write(&file, input).is_ok() {
                        saved += 1;
                        failures.push(format!("  saved as {}", file.display()));
                    }
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} corpus inputs and {mutations} mutations, {calls} calls in {secs:.1} s ({:.0} calls/s) through {}; {} restarts; {} failures",
        corpus.len(),
        calls as f64 / secs.max(1e-9),
        component_path.display(),
        component.restarts() + reader.restarts() + owner.restarts(),
        failures.len()
    );
    for failure in failures.iter().take(20) {
        println!("  {failure}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
