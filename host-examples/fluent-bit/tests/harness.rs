//! dist/relink-fluent-bit.wasm run the way Fluent Bit's filter_wasm runs it.

use relink::logs::Enricher;
use relink::otlp::Encoding;
use relink_harness::fluent_bit::{Dropped, Filter, Outcome, Plugin, Preopen, Settings};
use relink_harness::testing::{artifact, native, s3_put_request, temp_dir, TIME_SEC};
use serde_json::{json, Value};
use std::sync::OnceLock;

fn plugin() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let wasm = artifact(
            "relink-fluent-bit.wasm",
            "host-examples/fluent-bit/build.sh",
        );
        Plugin::new(&wasm).unwrap_or_else(|e| panic!("{e:#}"))
    })
}

fn filter(settings: &Settings) -> Filter {
    Filter::new(plugin(), settings).unwrap_or_else(|e| panic!("{e:#}"))
}

fn kept(outcome: Outcome) -> String {
    match outcome {
        Outcome::Kept(text) => text,
        Outcome::Dropped(why) => panic!("record dropped: {why:?}"),
    }
}

const START: &str = r#"{"time":"2022-10-12T00:00:15.064Z","type":"platform.start","record":{"requestId":"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa","version":"$LATEST","tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}}}"#;
const APP: &str = r#"{"timestamp":"2022-10-12T00:00:15.100Z","level":"INFO","requestId":"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa","message":"hi"}"#;

#[test]
fn lambda_logs_get_the_same_ids_as_the_native_core() {
    let mut f = filter(&Settings::default());
    let mut native = Enricher::new(10_000);
    for record in [START, APP, r#"{"log":"plain"}"#] {
        let expected = native
            .enrich_json(record)
            .ok()
            .flatten()
            .unwrap_or_else(|| record.to_string());
        assert_eq!(kept(f.filter("lambda", TIME_SEC, 0, record)), expected);
    }
    let app: Value =
        serde_json::from_str(&kept(f.filter("lambda", TIME_SEC, 0, APP))).unwrap_or_default();
    assert_eq!(
        (app["trace_id"].as_str(), app["span_id"].as_str()),
        (
            Some("62e900b2710d76f009d6e7785905449a"),
            Some("54565fb41ac79632")
        )
    );
}

#[test]
fn raw_traces_come_back_for_out_http_relinked_as_the_core_does() {
    let mut f = filter(&Settings::default());
    let request = s3_put_request();
    let out: Value = serde_json::from_str(&kept(f.filter("v1_traces", TIME_SEC, 0, &request)))
        .unwrap_or_default();
    let expected =
        String::from_utf8(native("{}", request.as_bytes(), Encoding::Json)).unwrap_or_default();
    assert_ne!(expected, request, "the request is one relink changes");
    assert_eq!(
        out,
        json!({ "trace": expected, "headers": { "Content-Type": "application/json" } })
    );
    // A body in_opentelemetry could not parse arrives under `trace`; a JSON one is relinked.
    let wrapped = json!({ "trace": request }).to_string();
    let out: Value = serde_json::from_str(&kept(f.filter("v1_traces", TIME_SEC, 0, &wrapped)))
        .unwrap_or_default();
    assert_eq!(out["trace"].as_str(), Some(expected.as_str()));
}

#[test]
fn malformed_records_pass_unchanged() {
    let mut f = filter(&Settings::default());
    // Not OTLP: the export request is sent on unchanged, with the error on stderr.
    for bad in [r#"{"resourceSpans":[1]}"#, r#"{"resourceSpans":"oops"}"#] {
        let out: Value = serde_json::from_str(&kept(f.filter("v1_traces", TIME_SEC, 0, bad)))
            .unwrap_or_default();
        assert_eq!(out["trace"].as_str(), Some(bad));
    }
    assert!(
        f.stderr()
            .contains("relink: export request sent on unchanged: otlp json"),
        "{}",
        f.stderr()
    );
    // A binary body under `trace` is left as it is.
    let binary = r#"{"trace":"\n\u0012binary"}"#;
    assert_eq!(kept(f.filter("v1_traces", TIME_SEC, 0, binary)), binary);
    // Log lines with a `trace` or `resourceSpans` field of their own, even an array, are
    // log records, kept whole (in_opentelemetry's raw traces are the one-key `{"trace":
    // ...}` and the export object, whose one field is `resourceSpans`).
    for line in [
        r#"{"level":"info","message":"user log","trace":"{\"error\":\"boom\"}","requestId":"abc"}"#,
        r#"{"level":"info","resourceSpans":"n/a"}"#,
        r#"{"level":"info","msg":"otel payload dump","resourceSpans":[]}"#,
        r#"{"resource_spans":[],"level":"debug"}"#,
    ] {
        assert_eq!(kept(f.filter("app", TIME_SEC, 0, line)), line);
    }
}

#[test]
fn records_fluent_bit_could_not_read_back_are_given_json() {
    let mut f = filter(&Settings::default());
    // Fluent Bit writes NaN and infinities bare and msgpack ext values as `\xNN` escapes;
    // handed back as they are, Fluent Bit drops the record and, after a good record in the
    // same chunk, aborts on a double free (5.1.1).
    let floats = r#"{"a":nan,"b":-nan,"c":inf,"d":[-inf,1.5],"e":"inf nan \x01\xffffff80"}"#;
    let out: Value = serde_json::from_str(&kept(f.filter("app", TIME_SEC, 0, floats)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out,
        json!({"a": null, "b": null, "c": null, "d": [null, 1.5], "e": "inf nan \\x01\\xffffff80"})
    );
    // "%.16g" writes the largest double (and the one below) past it: the largest double.
    let huge = r#"{"max":1.797693134862316e+308,"min":[-1.797693134862316e+308],"ok":1e308}"#;
    let out: Value = serde_json::from_str(&kept(f.filter("app", TIME_SEC, 0, huge)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out,
        json!({"max": f64::MAX, "min": [f64::MIN], "ok": 1e308})
    );
    // Anything else that is not JSON is kept whole under `log`.
    let out: Value = serde_json::from_str(&kept(f.filter("app", TIME_SEC, 0, "{\"a\":")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out, json!({"log": "{\"a\":"}));
    // JSON that is not an object comes back as it is (Fluent Bit then drops it).
    let outcome = f.filter("x", TIME_SEC, 0, "[1]");
    assert!(
        matches!(outcome, Outcome::Dropped(Dropped::NotAnObject(_))),
        "{outcome:?}"
    );
    let stderr = f.stderr();
    assert!(
        stderr
            .contains("relink: record repaired into JSON (1 so far): record is not a JSON object"),
        "{stderr}"
    );
    assert!(
        stderr.contains("relink: record repaired into JSON (2 so far)"),
        "{stderr}"
    );
    // A msgpack record (`Event_Format msgpack`, here `{"a": 1}`) comes back as it came,
    // and says what to change.
    let mut f = filter(&Settings::default());
    f.filter("app", TIME_SEC, 0, [0x81, 0xa1, b'a', 0x01]);
    assert!(
        f.stderr().contains(
            "record passed through unchanged (1 so far): record is msgpack: the filter needs \
             `Event_Format json`"
        ),
        "{}",
        f.stderr()
    );
}

#[test]
fn records_far_over_the_default_heap_size_pass() {
    let mut f = filter(&Settings::default());
    let big = json!({ "log": "x".repeat(4 << 20), "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8" }).to_string();
    let out: Value =
        serde_json::from_str(&kept(f.filter("big", TIME_SEC, 0, &big))).unwrap_or_default();
    assert_eq!(
        out["trace_id"].as_str(),
        Some("5759e988bd862e3fe1be46a994272793")
    );
    assert_eq!(out["log"].as_str().map(str::len), Some(4 << 20));
}

#[test]
fn without_its_malloc_export_the_module_is_bound_by_wasm_heap_size() {
    // The same module with `malloc` renamed in its export section: WAMR would then copy
    // records into its own heap of Wasm_Heap_Size bytes (whole pages, less 1 KiB).
    let mut wasm = artifact(
        "relink-fluent-bit.wasm",
        "host-examples/fluent-bit/build.sh",
    );
    let export = b"\x06malloc\x00";
    let at = wasm
        .windows(export.len())
        .position(|w| w == export)
        .unwrap_or_else(|| panic!("no malloc export"));
    wasm[at + 6] = b'x';
    let plugin = Plugin::new(&wasm).unwrap_or_else(|e| panic!("{e:#}"));
    let record = json!({ "log": "x".repeat(100_000) }).to_string();
    let mut small = Filter::new(&plugin, &Settings::default()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(kept(small.filter("t", TIME_SEC, 0, APP)), APP);
    // The record does not fit: the module gets no record and returns NULL, which Fluent Bit
    // reads as the empty string at address 0 and skips.
    assert_eq!(
        small.filter("t", TIME_SEC, 0, &record),
        Outcome::Dropped(Dropped::Empty)
    );
    assert!(
        small
            .stderr()
            .contains("Fluent Bit passed no record (100010 bytes)"),
        "{}",
        small.stderr()
    );
    let settings = Settings {
        heap_size: 1 << 20,
        ..Settings::default()
    };
    let mut large = Filter::new(&plugin, &settings).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(kept(large.filter("t", TIME_SEC, 0, &record)), record);
}

#[test]
fn configuration_file_in_a_preopened_directory() {
    let request = s3_put_request();
    // Pointer links off: nothing applies, the request comes back as it was.
    let off = r#"{"pointer_links": {"enabled": false}, "logs": {"max_requests": 0}}"#;
    for (name, guest) in [("etc", "/etc/relink"), ("cwd", ".")] {
        let dir = temp_dir(name);
        std::fs::write(dir.join("relink.json"), off).unwrap_or_else(|e| panic!("{e}"));
        let settings = Settings {
            accessible_paths: vec![Preopen {
                host: dir,
                guest: guest.into(),
            }],
            ..Settings::default()
        };
        let mut f = filter(&settings);
        let out: Value = serde_json::from_str(&kept(f.filter("v1_traces", TIME_SEC, 0, &request)))
            .unwrap_or_default();
        assert_eq!(out["trace"].as_str(), Some(request.as_str()), "{guest}");
        // max_requests 0: the request id of a platform.start is not remembered.
        kept(f.filter("lambda", TIME_SEC, 0, START));
        assert_eq!(kept(f.filter("lambda", TIME_SEC, 0, APP)), APP, "{guest}");
    }
    // An invalid file: every record passes unchanged, and stderr says why.
    let dir = temp_dir("invalid");
    std::fs::write(dir.join("relink.json"), r#"{"index": {"max_entries": 0}}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let settings = Settings {
        accessible_paths: vec![Preopen {
            host: dir,
            guest: "/etc/relink".into(),
        }],
        ..Settings::default()
    };
    let mut f = filter(&settings);
    assert_eq!(kept(f.filter("lambda", TIME_SEC, 0, START)), START);
    // An export request leaves unchanged in the shape out_http sends; a bare request has
    // no `$trace` and a real Fluent Bit's out_http drops it.
    let out: Value = serde_json::from_str(&kept(f.filter("v1_traces", TIME_SEC, 0, &request)))
        .unwrap_or_default();
    assert_eq!(
        out,
        json!({ "trace": request, "headers": { "Content-Type": "application/json" } })
    );
    assert!(
        f.stderr()
            .starts_with("relink: /etc/relink/relink.json: config: `index.max_entries`"),
        "{}",
        f.stderr()
    );
}

/// A call that traps part way (in Fluent Bit: wasm32 aborts on a panic such as running out of
/// memory; WAMR keeps the instance) loses that record only: the next records are filtered
/// by a fresh filter state, not refused because the old one is still borrowed.
#[test]
fn a_trapped_call_costs_one_record_not_the_filter() {
    let wasm = artifact(
        "relink-fluent-bit.wasm",
        "host-examples/fluent-bit/build.sh",
    );
    let plugin = Plugin::with_trap_injection(&wasm).unwrap_or_else(|e| panic!("{e:#}"));
    let mut f = Filter::new(&plugin, &Settings::default()).unwrap_or_else(|e| panic!("{e:#}"));
    let mut native = Enricher::new(10_000);
    let expected = native.enrich_json(START).ok().flatten().unwrap_or_default();
    assert_eq!(kept(f.filter("lambda", TIME_SEC, 0, START)), expected);
    // Early in the parse, and late in the call (a call on START costs 40,000 to 50,000).
    for fuel in [1_000, 30_000] {
        f.trap_after(fuel).unwrap_or_else(|e| panic!("{e:#}"));
        let outcome = f.filter("lambda", TIME_SEC, 0, START);
        assert!(
            matches!(&outcome, Outcome::Dropped(Dropped::Trap(t)) if t.contains("fuel")),
            "{outcome:?}"
        );
        f.trap_after(u64::MAX).unwrap_or_else(|e| panic!("{e:#}"));
        // A fresh state: the first record after the trap is enriched again.
        assert_eq!(
            kept(f.filter("lambda", TIME_SEC, 0, START)),
            expected,
            "after a trap at {fuel}"
        );
        assert_eq!(
            kept(f.filter("lambda", TIME_SEC, 0, r#"{"log":"plain"}"#)),
            r#"{"log":"plain"}"#
        );
    }
}
