//! `relink process --in FILE|- [--out FILE] [--config FILE] [--format json|protobuf]`:
//! run the processor once over an OTLP export request.
//!
//! On bad input the request is still written out unchanged (relink never loses data), the
//! error goes to stderr and the exit code is 2.

use crate::args::{read_input, write_output, Args, Output};
use crate::Failure;
use relink::config::Config;
use relink::otlp::{self, Encoding};
use relink::processor::Processor;
use std::time::SystemTime;

pub fn run(words: &[String]) -> Result<(), Failure> {
    let args = Args::parse(words, &["--in", "--out", "--config", "--format"], &[])?;
    if let Some(extra) = args.positional.first() {
        return Err(Failure::usage(format!(
            "unexpected argument `{extra}` (use --in FILE)"
        )));
    }
    let input_path = args
        .value("--in")
        .ok_or_else(|| Failure::usage("relink process needs --in FILE|-"))?;
    let format = match args.value("--format") {
        None => None,
        Some("json") => Some(Encoding::Json),
        Some("protobuf") => Some(Encoding::Protobuf),
        Some(other) => {
            return Err(Failure::usage(format!(
                "--format must be json or protobuf, not `{other}`"
            )))
        }
    };
    let mut processor = build_processor(args.value("--config"))?;

    let input = read_input(input_path)?;
    let now = now_unix_nano();
    let Some(format) = format else {
        // No conversion: the output goes to the file as it is made (for protobuf, the
        // input's bytes with the changed spans spliced in), never held whole.
        let mut out = Output::create(args.value("--out"))?;
        let written = processor
            .process_traces_to(&input, now, &mut out)
            .map_err(|e| out.failure(e))?;
        out.finish()?;
        warn_unread_events(&processor);
        warn_repaired(&processor);
        // On bad input the request was written unchanged, so a pipeline loses nothing.
        return match written.error {
            Some(error) => Err(Failure::input(format!("{input_path}: {error}"))),
            None => Ok(()),
        };
    };
    let processed = processor.process_traces(&input, now);
    warn_unread_events(&processor);
    warn_repaired(&processor);
    if let Some(error) = processed.error {
        // Pass the request through untouched so a pipeline loses nothing, then fail.
        write_output(args.value("--out"), &input)?;
        return Err(Failure::input(format!("{input_path}: {error}")));
    }
    // A gzip request comes out gzip; the format asked for is written plain.
    let plain = match otlp::is_gzip(&processed.output) {
        true => std::borrow::Cow::Owned(
            otlp::inflate(&processed.output, usize::MAX)
                .map_err(|e| Failure::input(format!("{input_path}: {e}")))?,
        ),
        false => processed.output,
    };
    if format == processed.encoding {
        return write_output(args.value("--out"), &plain);
    }
    let request = otlp::decode(&plain, processed.encoding)
        .map_err(|e| Failure::input(format!("{input_path}: {e}")))?;
    write_output(args.value("--out"), &otlp::encode(&request, format))
}

/// One stderr line when event attributes were not read, so a run that made no link says why
/// (the spans themselves pass unchanged, and the exit code stays 0). Events of no known AWS
/// shape (custom payloads) are normal and not reported.
fn warn_unread_events(processor: &Processor) {
    let e = &processor.counters().errors;
    let reasons = [
        (
            e.event_too_large,
            "over limits.max_event_bytes or limits.max_nesting",
        ),
        (e.event_json, "not JSON"),
        (e.event_invalid, "not a valid event of their kind"),
        (
            e.dynamodb_keys + e.dynamodb_key_schema,
            "DynamoDB keys unreadable",
        ),
    ];
    let said: Vec<String> = reasons
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, why)| format!("{n} {why}"))
        .collect();
    if !said.is_empty() {
        let total: u64 = reasons.iter().map(|(n, _)| n).sum();
        eprintln!(
            "relink: warning: {total} event attribute(s) not read ({}); their spans pass without those links",
            said.join(", ")
        );
    }
}

/// One stderr line when strings that are not UTF-8 were repaired: the output differs from
/// the input there, which a user comparing the two should hear about (exit code 0).
fn warn_repaired(processor: &Processor) {
    let n = processor.counters().requests_repaired;
    if n > 0 {
        eprintln!(
            "relink: warning: {n} request(s) had strings that are not UTF-8; written with U+FFFD in their place"
        );
    }
}

/// The processor of `--config FILE` (the defaults without one).
pub fn build_processor(config_path: Option<&str>) -> Result<Processor, Failure> {
    let config = match config_path {
        None => Config::default(),
        Some(path) => {
            let text = String::from_utf8(read_input(path)?)
                .map_err(|_| Failure::input(format!("{path}: not utf-8")))?;
            Config::from_json(&text).map_err(|e| Failure::input(format!("{path}: {e}")))?
        }
    };
    Processor::new(&config).map_err(|e| Failure::input(format!("config: {e}")))
}

/// The wall clock, which drives only the index expiry (no output depends on it).
pub fn now_unix_nano() -> u64 {
    relink::time::unix_nanos(SystemTime::now())
}
