//! Robustness of `decode_event` over every real event fixture: truncated at many points,
//! and with every node replaced by hostile values. Each variant decodes or fails with an
//! error naming the input it was reading; none panics or half-decodes.

mod common;

use serde_json::{json, Value};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let root = common::root().join("tests/fixtures");
    let mut out = Vec::new();
    for source in common::EVENT_SOURCES {
        for path in common::files_under(&root.join(source), ".json") {
            let name = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            out.push((name, std::fs::read(&path).unwrap_or_default()));
        }
    }
    assert!(out.len() > 100, "fixtures missing: {}", out.len());
    out
}

#[test]
fn truncated_events_are_json_errors() {
    for (name, bytes) in fixtures() {
        let end = bytes.iter().rposition(|b| *b == b'}').unwrap_or(0);
        for cut in (0..end).step_by(61).chain(std::iter::once(end)) {
            let result = relink::decode_event(bytes.get(..cut).unwrap_or_default());
            assert!(
                matches!(
                    result,
                    Err(relink::DecodeError::Json { input: "event", .. })
                ),
                "{name} cut at {cut}: {result:?}"
            );
        }
    }
}

/// Every node path of a JSON document, as JSON pointers.
fn node_paths(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                node_paths(child, format!("{at}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                node_paths(child, format!("{at}/{index}"), out);
            }
        }
        _ => {}
    }
    if !at.is_empty() {
        out.push(at);
    }
}

#[test]
fn mutated_events_decode_or_fail_naming_the_input() {
    let hostile = [
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1e300),
        json!(u64::MAX),
        json!(""),
        json!("x"),
        json!("%FF+%"),
        json!("{\"Records\": [{\"eventSource\": \"aws:s3\"}]}"),
        json!([]),
        json!({}),
    ];
    let (mut variants, mut decoded) = (0usize, 0usize);
    for (name, bytes) in fixtures() {
        let Ok(original) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        if relink::event::decode_event_value(&original).is_err() {
            continue; // not a trigger event (a Lambda response, a lone record)
        }
        let mut paths = Vec::new();
        node_paths(&original, String::new(), &mut paths);
        for path in &paths {
            for bad in &hostile {
                let mut event = original.clone();
                if let Some(slot) = event.pointer_mut(path) {
                    *slot = bad.clone();
                }
                variants += 1;
                match relink::event::decode_event_value(&event) {
                    Ok(_) => decoded += 1,
                    Err(e) => {
                        let message = e.to_string();
                        let input = message.split(':').next().unwrap_or_default();
                        assert!(
                            input == "event"
                                || input.ends_with(" event")
                                || input.ends_with(" context"),
                            "{name} {path} = {bad}: {message}"
                        );
                    }
                }
            }
        }
    }
    // Optional fields tolerate most replacements; the counts guard against a harness that
    // silently checks nothing.
    assert!(
        variants > 10_000 && decoded > 1_000,
        "{variants} variants, {decoded} decoded"
    );
}
