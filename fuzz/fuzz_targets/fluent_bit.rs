//! The Fluent Bit `filter_wasm` export (`relink_filter`), called as Fluent Bit calls it:
//! the record copied into a buffer with a NUL after it, its length, the record time. Every
//! record must come back (never NULL: Fluent Bit would drop it), NUL-terminated, and be the
//! input unchanged, the input with `trace_id`/`span_id` appended (a log record), or the
//! `{"trace", "headers"}` envelope `out_http` sends (an OTLP/JSON export request). The
//! filter keeps state across calls (request ids, the index), as in Fluent Bit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relink_fluent_bit::relink_filter;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let tag = b"lambda.logs\0";
    let mut record = data.to_vec();
    record.push(0);
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    // SAFETY: both pointers name live buffers of the lengths given, NUL-terminated as
    // Fluent Bit's copies are; the result is read before the next call.
    let output = unsafe {
        let out = relink_filter(tag.as_ptr(), 11, 1_722_369_353, 0, record.as_ptr(), len);
        assert!(!out.is_null(), "NULL drops the record in Fluent Bit");
        std::ffi::CStr::from_ptr(out.cast()).to_bytes().to_vec()
    };
    let input = data.split(|b| *b == 0).next().unwrap_or_default();
    if output == input {
        return;
    }
    let text =
        std::str::from_utf8(&output).unwrap_or_else(|e| panic!("changed record is not UTF-8: {e}"));
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) else {
        panic!("changed record is not a JSON object: {text}");
    };
    if let Some(Value::String(trace)) = fields.get("trace") {
        assert!(
            fields.get("headers").is_some_and(Value::is_object),
            "envelope without headers"
        );
        assert!(
            serde_json::from_str::<Value>(trace).is_ok(),
            "envelope body is not JSON"
        );
    } else {
        // Log enrichment appends the ids and keeps every byte before them.
        let text_in = std::str::from_utf8(input).unwrap_or_default().trim_end();
        let kept = text_in
            .strip_suffix('}')
            .unwrap_or_else(|| panic!("enriched a non-object: {text_in}"));
        assert!(
            output.starts_with(kept.as_bytes()),
            "enrichment changed the record's bytes"
        );
        assert!(
            fields
                .get("trace_id")
                .and_then(Value::as_str)
                .is_some_and(|t| t.len() == 32),
            "no trace_id"
        );
    }
});
