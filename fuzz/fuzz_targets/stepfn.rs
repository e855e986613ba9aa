//! The Step Functions decoders: execution log lines and GetExecutionHistory output to spans,
//! and the log-record id stamping a log shipper calls per line. The first byte picks the
//! entry point (and whether input/output data is written); the spans that come out must
//! encode.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relink::otlp;
use relink::stepfn::{self, Options};

const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1";

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    // A small event bound keeps each run fast; the bound itself is part of what is tested.
    let options = Options {
        include_data: mode & 0x10 != 0,
        max_events: 2_000,
    };
    let spans = match mode % 4 {
        0 => stepfn::spans_from_logs(rest, &options),
        1 => stepfn::spans_from_history(rest, None, &options),
        2 => stepfn::spans_from_history(rest, Some(ARN), &options),
        _ => {
            for line in String::from_utf8_lossy(rest).lines() {
                let _ = stepfn::log_record_ids(line);
            }
            return;
        }
    };
    if let Ok(request) = spans {
        let pb = otlp::encode_protobuf(&request);
        assert!(
            otlp::decode_protobuf(&pb).is_ok(),
            "step functions spans do not decode"
        );
        let _ = otlp::encode_json(&request);
    }
});
