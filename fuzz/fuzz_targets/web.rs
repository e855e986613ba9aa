//! The browser playground binding (`relink_web::Session`, what its wasm-bindgen API converts
//! to wasm-bindgen types): a session per input; the first byte picks the call. Every call
//! answers (an outcome or an error string); an outcome with an error passes the input
//! through.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relink_web::session::{check_config_problems, otlp_to_json, Session};

const NOW: u64 = 1_722_369_353_000_000_000;
const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1";
const CONFIG: &str = r#"{"adoption": {"enabled": true}, "limits": {"max_request_bytes": 65536}}"#;

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 7 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            let problems = check_config_problems(&text);
            let session = Session::new(&text);
            // The page lists problems exactly when the session cannot be built.
            assert_eq!(problems == "[]", session.is_ok(), "{problems}");
        }
        1 => {
            let _ = otlp_to_json(rest);
        }
        mode => {
            let Ok(mut session) = Session::new(CONFIG) else {
                panic!("the fuzz configuration is invalid");
            };
            let outcome = match mode {
                2 => session.process_traces(rest, NOW),
                3 => session.process_event(rest, NOW),
                4 => session.process_step_functions_logs(rest, NOW),
                5 => session.process_step_functions_history(rest, None, NOW),
                _ => session.process_step_functions_history(rest, Some(ARN), NOW),
            };
            if mode == 2 && outcome.error.is_some() {
                assert!(
                    outcome.output == rest,
                    "an error did not pass the input through"
                );
            }
            let _ = session.counters_json();
        }
    }
});
