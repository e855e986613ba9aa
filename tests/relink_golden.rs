//! The relink golden scenarios: `tests/golden/relink/<case>/` holds `config.json`, the
//! batches processed in order by one processor (batch N at `BASE_NOW + N` seconds), the
//! outputs `expected-N.json` and `counters.json` (cumulative counters and per-batch errors).
//! A batch is `input-N.json`, an OTLP/JSON request (`process_traces`), or `event-N.<ext>`,
//! a raw input for the event entry point (`process_event`: a Lambda trigger event, Step
//! Functions log lines or history), whose spans are stored pretty-printed as OTLP/JSON
//! (`{"error": ...}` when refused).
//!
//! An output that is the input itself (nothing applied, or an error) is stored verbatim and
//! must match byte for byte; a rewritten output is stored pretty-printed. Inputs are built
//! by `make_inputs.py` from the shared fixtures; `UPDATE_GOLDEN=1` rewrites the expected
//! files for review.

mod common;

use relink::config::Config;
use relink::processor::{EventContext, Processor};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// 2024-03-08T20:21:40Z.
const BASE_NOW: u64 = 1_709_929_300_000_000_000;

/// The case's batches in order (`input-10` after `event-9`); `true` for raw event inputs.
fn inputs(case: &Path) -> Vec<(u64, PathBuf, bool)> {
    let mut out: Vec<(u64, PathBuf, bool)> = common::files_under(case, "")
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            if let Some(n) = name
                .strip_prefix("input-")
                .and_then(|r| r.strip_suffix(".json"))
            {
                return Some((n.parse().ok()?, p, false));
            }
            let (n, _ext) = name.strip_prefix("event-")?.split_once('.')?;
            Some((n.parse().ok()?, p, true))
        })
        .collect();
    out.sort();
    out
}

/// A raw input through the event entry point: its spans as pretty OTLP/JSON, or the error.
fn event_output(processor: &mut Processor, input: &[u8], now: u64) -> Result<String, String> {
    match processor.process_event(input, &EventContext::default(), now) {
        Ok(request) => {
            let json = relink::otlp::encode_json(&request);
            let value: serde_json::Value =
                serde_json::from_slice(&json).map_err(|e| e.to_string())?;
            Ok(common::pretty(&value))
        }
        Err(e) => Err(e.to_string()),
    }
}

fn run_case(case: &Path, failures: &mut Vec<String>) {
    let name = case
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("?")
        .to_string();
    let config = std::fs::read_to_string(case.join("config.json")).unwrap_or_default();
    let mut processor = match Config::from_json(&config).and_then(|c| relink::Processor::new(&c)) {
        Ok(p) => p,
        Err(e) => {
            failures.push(format!("{name}: config.json: {e}"));
            return;
        }
    };
    let mut errors = Vec::new();
    for (n, path, raw) in inputs(case) {
        let input = std::fs::read(&path).unwrap_or_default();
        let expected = case.join(format!("expected-{n}.json"));
        if raw {
            let actual = match event_output(&mut processor, &input, BASE_NOW + n * 1_000_000_000) {
                Ok(spans) => spans,
                Err(e) => {
                    errors.push(format!("event-{n}: {e}"));
                    common::pretty(&serde_json::json!({ "error": e }))
                }
            };
            if let Err(e) = common::check(&expected, &actual) {
                failures.push(e);
            }
            continue;
        }
        let out = processor.process_traces(&input, BASE_NOW + n * 1_000_000_000);
        if let Some(e) = &out.error {
            errors.push(format!("input-{n}: {e}"));
        }
        let actual = match &out.output {
            Cow::Borrowed(bytes) => {
                if *bytes != input.as_slice() {
                    failures.push(format!(
                        "{name}: input-{n}: borrowed output is not the input"
                    ));
                }
                String::from_utf8_lossy(&input).into_owned()
            }
            Cow::Owned(bytes) => match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(v) => common::pretty(&v),
                Err(e) => {
                    failures.push(format!("{name}: input-{n}: output is not JSON: {e}"));
                    continue;
                }
            },
        };
        if let Err(e) = common::check(&expected, &actual) {
            failures.push(e);
        }
        // A verbatim expectation means the output must be the input's bytes.
        let verbatim = std::fs::read(&expected)
            .map(|want| want == input)
            .unwrap_or(false);
        if verbatim && !matches!(out.output, Cow::Borrowed(_)) {
            failures.push(format!(
                "{name}: input-{n}: expected the input bytes, got a re-encoding"
            ));
        }
    }
    let mut counters = serde_json::to_value(processor.counters()).unwrap_or_default();
    // Allocation sizes depend on the platform; the bound is tested in relink_index_memory.
    if let Some(index) = counters.get_mut("index").and_then(|i| i.as_object_mut()) {
        index.remove("memory_bytes");
    }
    let summary = serde_json::json!({ "counters": counters, "errors": errors });
    if let Err(e) = common::check(&case.join("counters.json"), &common::pretty(&summary)) {
        failures.push(e);
    }
}

fn cases() -> Vec<PathBuf> {
    common::case_dirs(&common::root().join("tests/golden/relink"))
}

#[test]
fn relink_scenarios_match_golden() {
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        run_case(case, &mut failures);
    }
    common::report(failures, cases.len());
}

/// Processing a case's outputs again, with the same processor state or a fresh one, adds
/// nothing: every output comes back unchanged.
#[test]
fn outputs_processed_again_are_unchanged() {
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        let config = std::fs::read_to_string(case.join("config.json")).unwrap_or_default();
        let Ok(config) = Config::from_json(&config) else {
            continue;
        };
        let (Ok(mut first), Ok(mut fresh)) = (
            relink::Processor::new(&config),
            relink::Processor::new(&config),
        ) else {
            continue;
        };
        for (n, path, raw) in inputs(case) {
            let input = std::fs::read(&path).unwrap_or_default();
            let now = BASE_NOW + n * 1_000_000_000;
            let once = match raw {
                true => match first.process_event(&input, &EventContext::default(), now) {
                    Ok(request) => relink::otlp::encode_json(&request),
                    Err(_) => continue,
                },
                false => first.process_traces(&input, now).output.into_owned(),
            };
            for (who, p) in [("same", &mut first), ("fresh", &mut fresh)] {
                let again = p.process_traces(&once, now);
                if !matches!(again.output, Cow::Borrowed(_)) {
                    failures.push(format!(
                        "{}: input-{n}: processing the output again ({who} state) changed it: {:?}",
                        case.display(),
                        again.counters
                    ));
                }
            }
        }
    }
    common::report(failures, cases.len());
}
