//! `relink`: the command-line face of the core.
//!
//! - `relink event FILE|-` prints a Lambda trigger event as the decoded trigger (JSON), and
//!   Step Functions execution logs, subscription data and execution history as their spans
//!   (OTLP/JSON); `--otlp` prints spans for triggers too (the event entry point every host
//!   binding calls).
//! - `relink process --in FILE|- [--out FILE] [--config FILE] [--format json|protobuf]` runs
//!   the processor on an OTLP export request.
//! - `relink serve [--listen ADDR] [--component FILE] [--config FILE] [--upstream URL]
//!   [--out FILE] [--max-body BYTES]` runs the OTLP/HTTP relay (`relink-relay`), which
//!   relinks every export through the WebAssembly component.
//! - `relink tree FILE...` prints OTLP traces as indented trees.
//!
//! Bad input prints one line on stderr naming the input and the field and exits with 2;
//! usage errors exit with 64.

mod args;
mod event;
mod pages;
mod process;

use std::process::ExitCode;

/// A failure to report: the message (one line) and the exit code.
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    /// Bad input data: exit code 2.
    pub fn input(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 2,
        }
    }
    /// Bad command line: exit code 64 (EX_USAGE).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 64,
        }
    }
}

const USAGE: &str = "usage:
  relink event FILE|- [--otlp] [--config FILE] [--execution-arn ARN]
      A Lambda trigger event prints as the decoded trigger (JSON): its pointers with their
      Datadog hashes, its contexts with Datadog's ids (the state span for a Step Functions
      context object, also one a state sent in a message). An EventBridge Pipes array of
      SQS, Kinesis or DynamoDB stream records, or one such record, decodes as their
      event. Step Functions execution log lines (one, NDJSON, a JSON array), CloudWatch
      Logs subscription data of them (the awslogs event, or inflated as a Firehose
      delivery holds it) and GetExecutionHistory output print as their spans (OTLP/JSON).
      History needs its execution ARN: a top-level `executionArn` field, or
      --execution-arn.
      --otlp   print spans for a trigger too: its inferred spans, processed
  relink process --in FILE|- [--out FILE] [--config FILE] [--format json|protobuf]
      Relink one OTLP export request.
  relink serve [--listen ADDR] [--component FILE] [--config FILE] [--upstream URL]
               [--upstream-protocol grpc|http/protobuf|http/json] [--upstream-header K=V]
               [--relay-config FILE] [--out FILE] ... (relink serve --help lists all)
      Run the OTLP/HTTP relay: every export goes through dist/relink.wasm, then to an
      OTLP/HTTP or OTLP/gRPC upstream (http:// or https://) and/or a file.
  relink tree FILE|-...
      Print OTLP traces (protobuf, OTLP/JSON or JSON lines) as indented trees.";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let rest = argv.get(1..).unwrap_or_default();
    let result = match argv.first().map(String::as_str) {
        // The relay and the tree printer keep their own flags and exit codes.
        Some("serve") => return relink_relay::cli::serve_main(rest),
        Some("tree") => return relink_relay::cli::tree_main(rest),
        Some("event") => event::run(argv.get(1..).unwrap_or_default()),
        Some("process") => process::run(argv.get(1..).unwrap_or_default()),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(Failure::usage(format!(
            "unknown command `{other}`\n{USAGE}"
        ))),
        None => Err(Failure::usage(USAGE)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("relink: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
