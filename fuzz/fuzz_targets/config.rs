//! Configuration parsing: never panics; an accepted configuration builds a processor,
//! serialises back to JSON that parses to the same configuration, and processes a real
//! request.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relink::config::Config;

const REQUEST: &[u8] = include_bytes!("../../tests/otlp/python_sdk.pb");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::from_json(text) else {
        return;
    };
    let json = serde_json::to_string(&config).unwrap_or_default();
    assert_eq!(
        Config::from_json(&json).as_ref(),
        Ok(&config),
        "config round trip"
    );
    let Ok(mut processor) = relink::Processor::new(&config) else {
        panic!("a validated configuration did not build");
    };
    let processed = processor.process_traces(REQUEST, 1_722_369_353_000_000_000);
    assert_eq!(processed.counters.spans_in, processed.counters.spans_out);
});
