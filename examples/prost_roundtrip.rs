//! The baseline of the whole-process benchmark (benches/process.py): what any Rust OTLP
//! processor pays at least, as a program of its own: read an export request, prost
//! `ExportTraceServiceRequest::decode`, `encode_to_vec`, write it out.
//!
//!   cargo run --release --example prost_roundtrip -- IN OUT

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: prost_roundtrip IN OUT");
        return ExitCode::from(2);
    };
    match roundtrip(input, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("prost_roundtrip: {e}");
            ExitCode::from(1)
        }
    }
}

fn roundtrip(input: &str, output: &str) -> Result<(), String> {
    let bytes = std::fs::read(input).map_err(|e| format!("{input}: {e}"))?;
    let request =
        ExportTraceServiceRequest::decode(bytes.as_slice()).map_err(|e| format!("{input}: {e}"))?;
    let encoded = request.encode_to_vec();
    std::fs::write(output, encoded).map_err(|e| format!("{output}: {e}"))
}
