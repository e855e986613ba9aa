//! OpenTelemetry Collector binding for the otelwasm `wasm` processor (a collector
//! distribution with `github.com/otelwasm/otelwasm/wasmprocessor`, wazero underneath).
//!
//! ABI (otelwasm `wasmplugin/plugin.go`, `wasmprocessor/processor.go`): the host calls
//! `_initialize`, then `getSupportedTelemetry() -> u32` (flags: metrics 1, logs 2, traces
//! 4) and, per batch, `processTraces() -> u32` (0 = success; any other code makes the
//! processor return an error naming the reason set by `setResultStatusReason`, and the
//! batch is not passed on: behind the `batch` processor it is logged and dropped). During
//! that call the guest may use the imports of module `opentelemetry.io/wasm`:
//! - `currentTraces(buf, limit) -> len` and `getPluginConfig(buf, limit) -> len` write the
//!   batch (pdata protobuf, the `TracesData` wire format, which equals an OTLP
//!   `ExportTraceServiceRequest`) or the processor's `plugin_config` (as JSON) into `buf`.
//!   They answer 0 without writing when the value is longer than `limit`, the same answer
//!   as for an empty value, so the guest doubles its buffer and asks again.
//! - `setResultTraces(buf, len)` hands back the batch to pass on (bytes the host cannot
//!   unmarshal fail the call). A guest that returns 0 without calling it leaves the host's
//!   zero `ptrace.Traces`, which the collector dereferences and panics on, so every path
//!   here calls it.
//!
//! The plugin configuration is readable only inside `processTraces` (the host's per-call
//! state holds it), so the processor is built on the first batch. An invalid configuration
//! passes every batch through unchanged, with the error on the collector's stderr.

// The otelwasm imports exist only in a wasm host; natively the crate is empty.
#![cfg(target_family = "wasm")]
// otelwasm gives the module the collector process's stderr (WASI stdio; not the collector's
// structured log): the binding's only log channel besides the status reason of a failed
// call.
#![allow(clippy::print_stderr)]

use relink::otlp::Encoding;
use relink::time::unix_nanos;
use relink::{Config, Processor};
use std::cell::Cell;
use std::time::SystemTime;

/// `getSupportedTelemetry` flag for traces.
const TRACES: u32 = 4;
/// Status codes of `processTraces`.
const STATUS_OK: u32 = 0;
const STATUS_ERROR: u32 = 1;
/// First buffer size for the batch; it grows (and stays grown) as batches need.
const FIRST_BUFFER: usize = 64 * 1024;
/// Largest plugin configuration read.
const MAX_CONFIG: usize = 1 << 20;

thread_local! {
    /// Taken out for a call and put back after it: a trap mid-call (wasm32 aborts on a
    /// panic, e.g. out of memory) leaves `None`, wazero keeps the module, and the next batch
    /// starts a fresh state instead of finding it still borrowed and failing every batch.
    static STATE: Cell<Option<Box<State>>> = const { Cell::new(None) };
}

struct State {
    /// `Err` holds why the configuration was rejected; batches pass unchanged.
    processor: Result<Processor, String>,
    buffer: Vec<u8>,
    errors: u64,
}

/// The relink configuration in `plugin_config`, which otelwasm marshals from the collector's
/// YAML with Go's `json.Marshal`: `plugin_config` absent is `null`, and so is a key written
/// with no value (`index:` with its fields commented out). Such a key means its defaults,
/// as an absent key does in relink's configuration, so `null` members are dropped first
/// (an array's `null` items are values, and stay).
fn config_of(json: &[u8]) -> Result<Config, String> {
    fn without_nulls(value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, without_nulls(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
            other => other,
        }
    }
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("plugin_config is not JSON: {e}"))?;
    match without_nulls(value) {
        serde_json::Value::Null => Ok(Config::default()),
        value => Config::from_json(&value.to_string()).map_err(|e| e.to_string()),
    }
}

impl State {
    fn load() -> State {
        let processor = match host::read(host::plugin_config, Vec::with_capacity(4096), MAX_CONFIG)
        {
            Ok(json) => config_of(&json)
                .and_then(|config| relink::Processor::new(&config).map_err(|e| e.to_string())),
            Err(tried) => Err(format!("plugin_config is longer than {tried} bytes")),
        };
        if let Err(e) = &processor {
            eprintln!("relink: plugin_config: {e}; traces pass through unchanged");
        }
        State {
            processor,
            buffer: Vec::with_capacity(FIRST_BUFFER),
            errors: 0,
        }
    }

    fn process(&mut self) -> u32 {
        let limit = match &self.processor {
            Ok(p) => p.settings().bounds.request_bytes,
            Err(_) => {
                usize::try_from(Config::default().limits.max_request_bytes).unwrap_or(usize::MAX)
            }
        };
        // Batches over the limit are still read, so they can be passed on unchanged.
        let cap = limit.saturating_mul(2);
        let batch = match host::read(host::current_traces, std::mem::take(&mut self.buffer), cap) {
            Ok(batch) => batch,
            Err(tried) => {
                self.buffer = Vec::with_capacity(FIRST_BUFFER);
                host::set_result(&[]);
                // The host answers 0 both for an empty batch and for one longer than the
                // buffer: say both.
                host::set_status_reason(&format!(
                    "relink: the batch is empty or larger than {tried} bytes (the buffer grows to twice limits.max_request_bytes)"
                ));
                return STATUS_ERROR;
            }
        };
        match &mut self.processor {
            Ok(processor) => {
                let processed = processor.process_traces_as(
                    &batch,
                    Encoding::Protobuf,
                    unix_nanos(SystemTime::now()),
                );
                if let Some(e) = &processed.error {
                    self.errors += 1;
                    if self.errors.is_power_of_two() {
                        eprintln!(
                            "relink: batch passed through unchanged ({} so far): {e}",
                            self.errors
                        );
                    }
                }
                host::set_result(&processed.output);
            }
            Err(_) => host::set_result(&batch),
        }
        self.buffer = batch;
        STATUS_OK
    }
}

#[export_name = "getSupportedTelemetry"]
pub extern "C" fn get_supported_telemetry() -> u32 {
    TRACES
}

#[export_name = "processTraces"]
pub extern "C" fn process_traces() -> u32 {
    STATE.with(|cell| {
        let mut state = cell.take().unwrap_or_else(|| Box::new(State::load()));
        let status = state.process();
        cell.set(Some(state));
        status
    })
}

/// The host imports and the only `unsafe` in this binding.
mod host {
    #[link(wasm_import_module = "opentelemetry.io/wasm")]
    extern "C" {
        #[link_name = "currentTraces"]
        fn current_traces_raw(buf: *mut u8, limit: u32) -> u32;
        #[link_name = "getPluginConfig"]
        fn get_plugin_config_raw(buf: *mut u8, limit: u32) -> u32;
        #[link_name = "setResultTraces"]
        fn set_result_traces_raw(buf: *const u8, len: u32);
        #[link_name = "setResultStatusReason"]
        fn set_result_status_reason_raw(buf: *const u8, len: u32);
    }

    /// Asks the host to write a value into `buf` (whose capacity is the limit given);
    /// returns the length written, 0 meaning too long or empty.
    pub(super) type Fill = fn(&mut Vec<u8>) -> usize;

    pub(super) fn current_traces(buf: &mut Vec<u8>) -> usize {
        let limit = u32::try_from(buf.capacity()).unwrap_or(u32::MAX);
        // SAFETY: `buf` owns `capacity` writable bytes and the host writes at most `limit`
        // of them (it answers 0 without writing when the value is longer).
        unsafe { current_traces_raw(buf.as_mut_ptr(), limit) as usize }
    }

    pub(super) fn plugin_config(buf: &mut Vec<u8>) -> usize {
        let limit = u32::try_from(buf.capacity()).unwrap_or(u32::MAX);
        // SAFETY: as for `current_traces`.
        unsafe { get_plugin_config_raw(buf.as_mut_ptr(), limit) as usize }
    }

    /// Reads a value, doubling the buffer while the host answers 0, up to `cap` bytes.
    /// `Err` with the last buffer size tried when the host still answers 0 at `cap` (or
    /// memory runs out first).
    pub(super) fn read(fill: Fill, mut buf: Vec<u8>, cap: usize) -> Result<Vec<u8>, usize> {
        buf.clear();
        loop {
            let len = fill(&mut buf);
            if len > 0 && len <= buf.capacity() {
                // SAFETY: the host wrote exactly `len` bytes at the start of the buffer,
                // within its capacity.
                unsafe { buf.set_len(len) };
                return Ok(buf);
            }
            let tried = buf.capacity();
            if tried >= cap {
                return Err(tried);
            }
            let next = tried.saturating_mul(2).max(4096).min(cap);
            buf.try_reserve_exact(next).map_err(|_| tried)?;
        }
    }

    pub(super) fn set_result(bytes: &[u8]) {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        // SAFETY: the host reads `len` bytes from `bytes`, which lives for the call.
        unsafe { set_result_traces_raw(bytes.as_ptr(), len) }
    }

    pub(super) fn set_status_reason(reason: &str) {
        let len = u32::try_from(reason.len()).unwrap_or(u32::MAX);
        // SAFETY: as for `set_result`.
        unsafe { set_result_status_reason_raw(reason.as_ptr(), len) }
    }
}
