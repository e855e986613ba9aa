//! `relink event FILE|- [--otlp] [--config FILE] [--execution-arn ARN]`: what relink makes
//! of a raw input.
//!
//! A Lambda trigger event prints as the decoded trigger (JSON); anything else the event
//! entry point accepts (Step Functions execution log lines, CloudWatch Logs subscription
//! data, GetExecutionHistory output) prints as its spans in OTLP/JSON. `--otlp` prints
//! spans for triggers too: every input goes through `Processor::process_event`, the call
//! every host binding makes, with the configuration of `--config`.

use crate::args::{read_input, write_output, Args};
use crate::process::{build_processor, now_unix_nano};
use crate::Failure;
use relink::processor::EventContext;

pub fn run(words: &[String]) -> Result<(), Failure> {
    let args = Args::parse(words, &["--config", "--execution-arn"], &["--otlp"])?;
    let [path] = args.positional.as_slice() else {
        return Err(Failure::usage("relink event needs exactly one FILE or -"));
    };
    let bytes = read_input(path)?;
    let trigger = match args.switch("--otlp") {
        true => None,
        false => relink::decode_event(&bytes).ok(),
    };
    let mut out = match trigger {
        Some(trigger) => serde_json::to_vec_pretty(&trigger)
            .map_err(|e| Failure::input(format!("{path}: {e}")))?,
        None => {
            let mut processor = build_processor(args.value("--config"))?;
            let ctx = match args.value("--execution-arn") {
                Some(arn) => EventContext::default().with_execution_arn(arn),
                None => EventContext::default(),
            };
            let request = processor
                .process_event(&bytes, &ctx, now_unix_nano())
                .map_err(|e| Failure::input(format!("{path}: {e}")))?;
            relink::otlp::encode_json(&request)
        }
    };
    out.push(b'\n');
    write_output(None, &out)
}
