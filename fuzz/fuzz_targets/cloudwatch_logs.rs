//! CloudWatch Logs subscription data: base64 of gzip of JSON. The first byte picks the
//! layer the rest of the input reaches: the base64 text itself, a gzip stream (wrapped in
//! base64 and an `awslogs` event, so the inflated JSON is what the fuzzer shapes), or the
//! inflated JSON documents as Firehose writes them.

#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use relink::event::{decode_logs_json, inflate_logs_data};

/// Small, so that bombs are cut quickly.
const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            if let Ok(inflated) = inflate_logs_data(&text, LIMIT) {
                assert!(inflated.len() <= LIMIT, "inflated past the limit");
            }
        }
        1 => {
            let data = base64::engine::general_purpose::STANDARD.encode(rest);
            if let Ok(inflated) = inflate_logs_data(&data, LIMIT) {
                assert!(inflated.len() <= LIMIT, "inflated past the limit");
            }
        }
        2 => {
            let gz = relink::otlp::gzip(rest);
            let data = base64::engine::general_purpose::STANDARD.encode(gz);
            let event = format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#);
            let _ = relink::decode_event(event.as_bytes());
        }
        _ => {
            let _ = decode_logs_json(rest);
        }
    }
});
