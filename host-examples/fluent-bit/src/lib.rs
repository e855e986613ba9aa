//! Fluent Bit `filter_wasm` binding (`Event_Format json`).
//!
//! ABI (fluent-bit `plugins/filter_wasm`, `src/wasm/flb_wasm.c`): for each record Fluent
//! Bit converts the record to JSON text, copies tag and record into this module's memory
//! with a NUL after each (`wasm_runtime_module_dup_data`, which calls the exported
//! `malloc`), calls `relink_filter(tag, tag_len, time_sec, time_nsec, record, record_len)`
//! and `strdup`s the NUL-terminated JSON object the returned pointer names. A NULL, an
//! empty string, a non-object or a trap drops the record, so every failure here returns
//! the input record unchanged. The returned bytes live in the filter state until the next
//! call. No plugin configuration reaches the module: the relink JSON is read from a file
//! in a directory Fluent Bit preopens (`Accessible_Paths`), else the defaults apply.
//!
//! Records are of two kinds:
//! - an OTLP/JSON export request (`in_opentelemetry` with `raw_traces on` makes the whole
//!   request one record; older versions put a body that is not a JSON object under
//!   `trace`): relinked and returned as `{"trace": "<OTLP/JSON>", "headers":
//!   {"Content-Type": "application/json"}}`, which `out_http` sends verbatim with
//!   `body_key $trace` and `headers_key $headers`. A request the core cannot process is
//!   sent on unchanged in the same shape.
//! - anything else is a log record: [`relink::logs::Enricher`] adds `trace_id`/`span_id`.

// Fluent Bit shows a wasm filter's stderr in its own log: that is this binding's only way
// to say why a record passed through unchanged.
#![allow(clippy::print_stderr)]

use relink::logs::Enricher;
use relink::otlp::Encoding;
use relink::{Config, Processor};
use serde_json::{Map, Value};
use std::cell::Cell;

/// Where the configuration is looked for, in order: a preopened `/etc/relink`, then the
/// working directory Fluent Bit preopens by default (`Accessible_Paths .`).
const CONFIG_PATHS: [&str; 2] = ["/etc/relink/relink.json", "relink.json"];

thread_local! {
    /// Taken out for a call and put back after it. A trap mid-call (wasm32 aborts on a
    /// panic, e.g. out of memory) leaves `None`, and WAMR keeps the instance: the next call
    /// then starts a fresh filter instead of finding the state still borrowed and trapping
    /// on every record after (each one dropped). The old state's memory is lost with it,
    /// and so is the stack the trapped call held (WAMR keeps the stack pointer where the
    /// trap left it), so traps add up: README, Limits.
    static FILTER: Cell<Option<Box<Filter>>> = const { Cell::new(None) };
}

/// The filter's state, built on the first call (Fluent Bit keeps one instance per filter
/// from v4.1; older versions instantiate the module per chunk, losing state between chunks).
struct Filter {
    /// `None` when the configuration file is invalid: every record passes unchanged (an
    /// export request in the shape `out_http` sends).
    core: Option<(Processor, Enricher)>,
    /// The last result, NUL-terminated; Fluent Bit copies it before the next call.
    output: Vec<u8>,
    errors: u64,
}

impl Filter {
    fn load() -> Filter {
        let core = match read_config() {
            Ok((config, source)) => Processor::new(&config)
                .map(|p| {
                    let enricher = p.settings().enricher();
                    (p, enricher)
                })
                .map_err(|e| format!("{source}: {e}")),
            Err(e) => Err(e),
        };
        let core = core
            .inspect_err(|e| eprintln!("relink: {e}; records pass through unchanged"))
            .ok();
        Filter {
            core,
            output: Vec::new(),
            errors: 0,
        }
    }

    fn run(&mut self, record: &[u8], now_unix_nano: u64) -> Result<Option<String>, String> {
        match &mut self.core {
            Some((processor, enricher)) => rewrite(processor, enricher, record, now_unix_nano),
            None => unchanged(record),
        }
    }

    /// Filters one record and returns the NUL-terminated result.
    fn filter(&mut self, record: &[u8], now_unix_nano: u64) -> &[u8] {
        let mut result = self.run(record, now_unix_nano);
        // A msgpack record (`Event_Format msgpack`) goes back as it came: in that mode
        // Fluent Bit reads nothing else either.
        if let (Err(e), false) = (&result, is_msgpack(record)) {
            // Handed back, text Fluent Bit cannot parse is dropped, and Fluent Bit 5.1.1
            // then frees its buffer twice and aborts (filter_wasm.c): give it JSON.
            if let Some(readable) = readable_json(record) {
                self.errors += 1;
                if self.errors.is_power_of_two() {
                    eprintln!(
                        "relink: record repaired into JSON ({} so far): {e}",
                        self.errors
                    );
                }
                result = match self.run(readable.as_bytes(), now_unix_nano) {
                    Ok(None) | Err(_) => Ok(Some(readable)),
                    done => done,
                };
            }
        }
        self.output.clear();
        match result {
            Ok(Some(rewritten)) => self.output.extend_from_slice(rewritten.as_bytes()),
            Ok(None) => self.output.extend_from_slice(record),
            Err(e) => {
                self.errors += 1;
                if self.errors.is_power_of_two() {
                    eprintln!(
                        "relink: record passed through unchanged ({} so far): {e}",
                        self.errors
                    );
                }
                self.output.extend_from_slice(record);
            }
        }
        self.output.push(0);
        &self.output
    }
}

/// For a record that is not JSON, JSON Fluent Bit can read back; `None` when it is JSON.
/// Fluent Bit's own msgpack-to-JSON writes a NaN or infinite float as a bare `nan`, `-nan`,
/// `inf` or `-inf` (`flb_pack.c`, "%.16g"; `json.convert_nan_to_null` covers NaN only) and
/// a msgpack ext value as a string of `\xNN` escapes, neither of them JSON: those become
/// `null` and a literal backslash. Anything else is kept whole as the string under `log`.
fn readable_json(record: &[u8]) -> Option<String> {
    if serde_json::from_slice::<Value>(record).is_ok() {
        return None;
    }
    let text = String::from_utf8_lossy(record);
    let repaired = repair(&text);
    if serde_json::from_str::<Map<String, Value>>(&repaired).is_ok() {
        return Some(repaired);
    }
    Some(serde_json::json!({ "log": text }).to_string())
}

/// `text` with bare non-finite numbers as `null`, numbers past the largest double as the
/// largest double, and escapes JSON does not have (`\x`) as a literal backslash.
fn repair(text: &str) -> String {
    const NON_FINITE: [&str; 4] = ["-nan", "-inf", "nan", "inf"];
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if in_string {
            match c {
                '\\' => {
                    let next = rest[1..].chars().next();
                    match next {
                        Some(e @ ('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' | 'u')) => {
                            out.push('\\');
                            out.push(e);
                            rest = &rest[1 + e.len_utf8()..];
                        }
                        _ => {
                            out.push_str("\\\\");
                            rest = &rest[1..];
                        }
                    }
                    continue;
                }
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(word) = NON_FINITE.iter().find(|w| rest.starts_with(**w)) {
            out.push_str("null");
            rest = &rest[word.len()..];
            continue;
        } else if c == '-' || c.is_ascii_digit() {
            // Fluent Bit's "%.16g" writes the largest double, and the one below it, as
            // 1.797693134862316e+308, past the largest, which no JSON reader takes: the
            // largest double stands for it.
            let end = rest
                .find(|c: char| !matches!(c, '0'..='9' | '-' | '+' | '.' | 'e' | 'E'))
                .unwrap_or(rest.len());
            let number = &rest[..end];
            match number.parse::<f64>() {
                Ok(v) if v.is_infinite() => {
                    out.push_str(&Value::from(f64::MAX.copysign(v)).to_string())
                }
                _ => out.push_str(number),
            }
            rest = &rest[end..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The config file and its name, or the defaults.
fn read_config() -> Result<(Config, &'static str), String> {
    for path in CONFIG_PATHS {
        // A path outside every preopened directory is not an error: try the next one.
        if std::fs::metadata(path).is_err() {
            continue;
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        return Config::from_json(&text)
            .map(|c| (c, path))
            .map_err(|e| format!("{path}: {e}"));
    }
    Ok((Config::default(), "defaults"))
}

/// What a record is to this filter.
enum Record<'a> {
    /// An OTLP/JSON export request: the record itself, or the JSON body under `trace`.
    Export(&'a str),
    /// A body under `trace` that is not JSON: kept as it is.
    Opaque,
    /// Anything else: a log record.
    Log,
}

/// Whether the record starts as a msgpack map (fixmap, map 16, map 32), which UTF-8 text
/// cannot.
fn is_msgpack(record: &[u8]) -> bool {
    matches!(record.first(), Some(0x80..=0x8f | 0xde | 0xdf))
}

/// The record as text and as a JSON object, or why it is neither.
fn parse(record: &[u8]) -> Result<(&str, Map<String, Value>), String> {
    let text = std::str::from_utf8(record).map_err(|e| match is_msgpack(record) {
        true => "record is msgpack: the filter needs `Event_Format json`".to_string(),
        false => format!("record is not UTF-8: {e}"),
    })?;
    let fields =
        serde_json::from_str(text).map_err(|e| format!("record is not a JSON object: {e}"))?;
    Ok((text, fields))
}

/// What the record is (see [`Record`]). in_opentelemetry's `raw_traces` hands on an
/// OTLP/JSON export as its JSON object (`resourceSpans`, or protobuf's JSON name
/// `resource_spans`, its one field, whatever its value: a malformed one is still an export,
/// to be sent on unchanged) or, when the body is not a JSON object, as the one-key
/// `{"trace": body}`. So a record is an export when one of those is its only key (an
/// OTLP/JSON line read by tail too); a log line that has a `trace` or `resourceSpans`
/// field among others, even an array, stays a log record, kept whole.
fn classify<'a>(text: &'a str, fields: &'a Map<String, Value>) -> Record<'a> {
    let only = |key| fields.len() == 1 && fields.contains_key(key);
    if only("resourceSpans") || only("resource_spans") {
        Record::Export(text)
    } else if let (1, Some(Value::String(body))) = (fields.len(), fields.get("trace")) {
        // Only a JSON body can be carried back in a JSON string byte for byte.
        if body.trim_start().starts_with('{') {
            Record::Export(body)
        } else {
            Record::Opaque
        }
    } else {
        Record::Log
    }
}

/// The record `out_http` sends as one request (`body_key $trace`, `headers_key $headers`).
fn envelope(body: &str) -> String {
    serde_json::json!({ "trace": body, "headers": { "Content-Type": "application/json" } })
        .to_string()
}

/// The rewritten record, `None` to keep it as it is, or why it could not be read.
fn rewrite(
    processor: &mut Processor,
    enricher: &mut Enricher,
    record: &[u8],
    now_unix_nano: u64,
) -> Result<Option<String>, String> {
    let (text, fields) = parse(record)?;
    let request = match classify(text, &fields) {
        Record::Export(request) => request,
        Record::Opaque => return Ok(None),
        // Already parsed above: the interpreter Fluent Bit runs the module in makes a
        // second parse of each log record cost as much as the first.
        Record::Log => {
            return enricher
                .enrich_record(&fields, text)
                .map_err(|e| e.to_string())
        }
    };
    let processed = processor.process_traces_as(request.as_bytes(), Encoding::Json, now_unix_nano);
    if let Some(e) = &processed.error {
        eprintln!("relink: export request sent on unchanged: {e}");
    }
    let body = std::str::from_utf8(&processed.output)
        .map_err(|e| format!("OTLP/JSON output is not UTF-8: {e}"))?;
    Ok(Some(envelope(body)))
}

/// Without a usable configuration nothing is relinked, but an export request still leaves
/// in the shape `out_http` sends (a bare request has no `$trace`, and out_http drops it
/// after its retry); any other record is kept as it is.
fn unchanged(record: &[u8]) -> Result<Option<String>, String> {
    let (text, fields) = parse(record)?;
    Ok(match classify(text, &fields) {
        Record::Export(request) => Some(envelope(request)),
        Record::Opaque | Record::Log => None,
    })
}

/// The export Fluent Bit calls (`Function_Name relink_filter`).
///
/// # Safety
///
/// `record` is NULL or points to `record_len` readable bytes that stay untouched during
/// the call, as Fluent Bit guarantees; the tag is not read.
#[no_mangle]
pub unsafe extern "C" fn relink_filter(
    _tag: *const u8,
    _tag_len: u32,
    time_sec: u32,
    time_nsec: u32,
    record: *const u8,
    record_len: u32,
) -> *const u8 {
    let now_unix_nano = u64::from(time_sec) * 1_000_000_000 + u64::from(time_nsec);
    if record.is_null() {
        // Fluent Bit could not copy the record into this module (out of memory): the
        // record is lost before relink sees it, and returning NULL says so.
        eprintln!(
            "relink: Fluent Bit passed no record ({record_len} bytes); the module is out of memory"
        );
        return std::ptr::null();
    }
    // SAFETY: Fluent Bit copied `record_len` bytes (plus a NUL) to `record` in this
    // module's memory just before the call and frees them only after it returns; nothing
    // else writes there meanwhile (wasm has one thread).
    let record = unsafe { std::slice::from_raw_parts(record, record_len as usize) };
    FILTER.with(|cell| {
        let mut filter = cell.take().unwrap_or_else(|| Box::new(Filter::load()));
        // The pointer outlives the call on purpose: it points into the output buffer's heap
        // allocation, which putting the filter back does not move and which is only
        // touched again by the next call, after Fluent Bit has copied the result.
        let output = filter.filter(record, now_unix_nano).as_ptr();
        cell.set(Some(filter));
        output
    })
}
