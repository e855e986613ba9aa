//! What every host's harness tests share (each host folder's `tests/`): the built
//! artifacts, the golden cases, the native core's answer, requests relink changes.

use std::path::{Path, PathBuf};

/// The relink golden cases (`tests/golden/relink/<case>/`), sorted.
pub fn relink_golden_cases() -> Vec<PathBuf> {
    let dir = root().join("tests/golden/relink");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut cases: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A built artifact under `dist/`; the message says which script builds it.
pub fn artifact(name: &str, script: &str) -> Vec<u8> {
    let path = root().join("dist").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run {script} first", path.display()))
}

/// The record time every test uses, and the same instant in nanoseconds for the core.
pub const TIME_SEC: u32 = 1_700_000_000;
pub const NOW: u64 = TIME_SEC as u64 * 1_000_000_000;

/// An OTLP/JSON export request with one S3 PutObject client span, which relink gives a
/// Datadog-compatible span-pointer link.
pub fn s3_put_request() -> String {
    serde_json::json!({
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "writer"}}]},
            "scopeSpans": [{
                "scope": {"name": "opentelemetry.instrumentation.botocore"},
                "spans": [{
                    "traceId": "5b8efff798038103d269b633813fc60c",
                    "spanId": "eee19b7ec3c1b174",
                    "parentSpanId": "eee19b7ec3c1b173",
                    "name": "S3.PutObject",
                    "kind": 3,
                    "startTimeUnixNano": "1700000000000000000",
                    "endTimeUnixNano": "1700000000100000000",
                    "attributes": [
                        {"key": "rpc.system", "value": {"stringValue": "aws-api"}},
                        {"key": "rpc.service", "value": {"stringValue": "S3"}},
                        {"key": "rpc.method", "value": {"stringValue": "PutObject"}},
                        {"key": "aws.request_id", "value": {"stringValue": "REQ1"}},
                        {"key": "aws.s3.bucket", "value": {"stringValue": "some-bucket"}},
                        {"key": "aws.s3.key", "value": {"stringValue": "some-key.data"}},
                        {"key": "relink.s3.etag", "value": {"stringValue": "\"ab12ef34\""}}
                    ]
                }]
            }]
        }]
    })
    .to_string()
}

/// What the native core makes of a request.
pub fn native(config: &str, input: &[u8], encoding: relink::otlp::Encoding) -> Vec<u8> {
    let mut processor = relink::config::Config::from_json(config)
        .and_then(|c| relink::Processor::new(&c))
        .unwrap_or_else(|e| panic!("{e}"));
    processor
        .process_traces_as(input, encoding, NOW)
        .output
        .into_owned()
}

/// A fresh temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("relink-harness-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// The golden harness's clock: batch N of a relink golden case is processed at
/// `GOLDEN_BASE_NOW + N` seconds.
pub const GOLDEN_BASE_NOW: u64 = 1_709_929_300_000_000_000;

/// The `event-N.*` payloads of the relink golden cases.
pub const GOLDEN_EVENTS: usize = 7;

/// A relink golden case as a host replays it.
pub struct GoldenCase {
    pub name: String,
    pub config: String,
    /// (time in unix nanos, batch bytes) in batch order.
    pub batches: Vec<(u64, Vec<u8>)>,
}

/// A case's batches: `input-N.json` as they are, `event-N.*` as the OTLP/JSON export of the
/// spans relink makes of the payload.
pub fn golden_case(dir: std::path::PathBuf) -> GoldenCase {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let config = String::from_utf8(read(&dir.join("config.json"))).unwrap_or_default();
    let mut batches = Vec::new();
    for n in 1u64..100 {
        let now = GOLDEN_BASE_NOW + n * 1_000_000_000;
        let path = dir.join(format!("input-{n}.json"));
        if path.exists() {
            batches.push((now, read(&path)));
        }
        if let Some(event) = event_file(&dir, n) {
            let mut made = None;
            native_processor(&config)
                .process_event_observed(&read(&event), &relink::EventContext::default(), now, |m| {
                    made = Some(m.clone())
                })
                .unwrap_or_else(|e| panic!("{}: {e}", event.display()));
            let made = made.unwrap_or_else(|| panic!("{}: no spans", event.display()));
            batches.push((now, relink::otlp::encode_json(&made)));
        }
    }
    assert!(!batches.is_empty(), "{name}: no inputs");
    GoldenCase {
        name,
        config,
        batches,
    }
}

/// `event-N.*` of a case, if it has one.
pub fn event_file(dir: &Path, n: u64) -> Option<std::path::PathBuf> {
    let prefix = format!("event-{n}.");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with(&prefix))
        })
}

/// A fresh native processor with this configuration.
pub fn native_processor(config: &str) -> relink::Processor {
    relink::Config::from_json(config)
        .and_then(|c| relink::Processor::new(&c))
        .unwrap_or_else(|e| panic!("{e}"))
}
