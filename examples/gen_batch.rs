//! Writes one generated OTLP trace batch (benches/support/batches.rs, the whole-process
//! benchmark's shape: 20 attributes per span, evidence as S3 producer/consumer pairs) as
//! an `ExportTraceServiceRequest` in protobuf. benches/process.py runs it.
//!
//!   cargo run --release --example gen_batch -- --spans 200000 --evidence 10 --out FILE

#[path = "../benches/support/batches.rs"]
mod batches;

use batches::{Rng, Shape};
use prost::Message;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_batch: {e}");
            eprintln!("usage: gen_batch --spans N --evidence PERCENT --out FILE");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let (mut spans, mut evidence, mut out) = (None, None, None);
    let mut words = args.into_iter();
    while let Some(flag) = words.next() {
        let value = words.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--spans" => {
                spans = Some(
                    value
                        .parse::<usize>()
                        .map_err(|e| format!("--spans: {e}"))?,
                )
            }
            "--evidence" => {
                evidence = Some(
                    value
                        .parse::<usize>()
                        .map_err(|e| format!("--evidence: {e}"))?,
                )
            }
            "--out" => out = Some(value),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let spans = spans.ok_or("--spans is required")?;
    let evidence = evidence.ok_or("--evidence is required")?;
    let out = out.ok_or("--out is required")?;
    if spans == 0 || evidence > 100 {
        return Err("--spans must be at least 1 and --evidence at most 100".into());
    }
    let shape = Shape::s3_pairs(spans, evidence);
    let bytes =
        batches::request(&shape, &mut Rng(spans as u64 * 1000 + evidence as u64)).encode_to_vec();
    std::fs::write(&out, &bytes).map_err(|e| format!("{out}: {e}"))
}
