//! `relink event FILE|- [--otlp]`: decode an AWS event payload.

use crate::args::{read_input, write_output, Args};
use crate::Failure;

pub fn run(words: &[String]) -> Result<(), Failure> {
    let args = Args::parse(words, &[], &["--otlp"])?;
    let [path] = args.positional.as_slice() else {
        return Err(Failure::usage("relink event needs exactly one FILE or -"));
    };
    let bytes = read_input(path)?;
    let trigger = relink::decode_event(&bytes).map_err(|e| Failure::input(format!("{path}: {e}")))?;
    let mut out = if args.switch("--otlp") {
        let request = relink::inferred::infer_request(&trigger, &relink::inferred::InferOptions::default());
        relink::otlp::encode_json(&request)
    } else {
        serde_json::to_vec_pretty(&trigger).map_err(|e| Failure::input(format!("{path}: {e}")))?
    };
    out.push(b'\n');
    write_output(None, &out)
}
