//! A wasmtime host that runs a processor module the way the otelwasm collector's `wasm`
//! processor does (`wasmplugin/plugin.go`, `wasmplugin/memory.go`,
//! `wasmprocessor/processor.go`, wazero underneath):
//! - Instantiation: WASI preview1 (stdout and stderr passed through, captured here; no
//!   preopened directories), the host module `opentelemetry.io/wasm`, then the guest with
//!   `_initialize` as its start function. `processTraces`, `getSupportedTelemetry` and the
//!   `memory` export are required; `getSupportedTelemetry` must include the traces flag (4).
//! - Host functions read and write the per-call state ("stack"), which exists only while
//!   the host calls an export; outside a call (`_initialize`) they panic, which traps.
//!   `current*(buf, limit)` and `getPluginConfig(buf, limit)` write the value and return
//!   its length, or return 0 without writing when it is longer than `limit` or does not
//!   fit in memory. `setResult*(buf, len)` unmarshal pdata protobuf and panic on bad
//!   input or a range outside memory. `getShutdownRequested` answers 0.
//! - Per batch: the batch is marshalled (pdata protobuf) into the stack with the plugin
//!   configuration (`json.Marshal` of `plugin_config`: `null` when absent), then
//!   `processTraces()` is called. A trap is an error; a non-zero status is an error
//!   carrying the reason from `setResultStatusReason`; otherwise the result is the batch
//!   the guest set. A guest that returns 0 without calling `setResultTraces` leaves the
//!   host's zero `ptrace.Traces` (no backing request), which the processor helper's
//!   `SpanCount` dereferences: a Go panic in the collector, reported here as an error.
//!
//! Follows otelwasm commit `4161e88c2e24b268b622cc32ab6451feeb515c12` (2026-04-08; the
//! collector README pins it). pdata's marshalling is played by prost and the
//! `opentelemetry-proto` types, a codec independent of relink's own, so a fault in relink's
//! protobuf encoder cannot hide behind the same fault in the host.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Caller, Linker, Store, TypedFunc};

pub use crate::plugin::Plugin;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostWallClock, WasiCtxBuilder};

const MODULE: &str = "opentelemetry.io/wasm";
const TRACES: u32 = 4;

/// Why a batch did not come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The call trapped (a guest trap or a host-function panic).
    Trap(String),
    /// `processTraces` returned a non-zero status.
    Status { code: u32, reason: String },
    /// `processTraces` returned 0 without calling `setResultTraces`.
    NoResult,
}

/// The per-call state of the Go host.
#[derive(Default)]
struct Stack {
    current_traces: Vec<u8>,
    result_traces: Option<Vec<u8>>,
    status_reason: String,
    plugin_config: Vec<u8>,
}

struct Host {
    wasi: WasiP1Ctx,
    stack: Option<Stack>,
}

/// One processor instance (one per pipeline in the collector).
pub struct Processor {
    store: Store<Host>,
    process: TypedFunc<(), u32>,
    plugin_config: Vec<u8>,
    stderr: MemoryOutputPipe,
    clock: Option<Arc<AtomicU64>>,
}

/// A wall clock the test sets (nanoseconds since the Unix epoch), so the guest's `now` is
/// the one the native core is given.
struct SetClock(Arc<AtomicU64>);

impl HostWallClock for SetClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

impl Processor {
    /// `plugin_config` is the JSON the host passes (`null` when the config has none);
    /// `now` sets the guest's wall clock (time since the Unix epoch) until [`Self::set_now`]
    /// moves it; `None` leaves the real clock.
    pub fn new(
        plugin: &Plugin,
        plugin_config: &[u8],
        now: Option<Duration>,
    ) -> wasmtime::Result<Processor> {
        let stderr = MemoryOutputPipe::new(1 << 20);
        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stdout().stderr(stderr.clone());
        let clock = now.map(|now| {
            Arc::new(AtomicU64::new(
                u64::try_from(now.as_nanos()).unwrap_or(u64::MAX),
            ))
        });
        if let Some(clock) = &clock {
            wasi.wall_clock(SetClock(clock.clone()));
        }
        let host = Host {
            wasi: wasi.build_p1(),
            stack: None,
        };
        let mut store = plugin.store(host)?;
        let mut linker: Linker<Host> = Linker::new(&plugin.engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |host: &mut Host| &mut host.wasi)?;
        add_host_module(&mut linker)?;
        let instance = linker.instantiate(&mut store, &plugin.module)?;
        if instance.get_memory(&mut store, "memory").is_none() {
            return Err(wasmtime::Error::msg(
                "wasm: guest doesn't export memory[memory]",
            ));
        }
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ())?;
        }
        let process = instance.get_typed_func::<(), u32>(&mut store, "processTraces")?;
        let supported = instance.get_typed_func::<(), u32>(&mut store, "getSupportedTelemetry")?;
        store.data_mut().stack = Some(Stack::default());
        let flags = supported.call(&mut store, ());
        store.data_mut().stack = None;
        if flags? & TRACES == 0 {
            return Err(wasmtime::Error::msg("signal not supported"));
        }
        Ok(Processor {
            store,
            process,
            plugin_config: plugin_config.to_vec(),
            stderr,
            clock,
        })
    }

    /// Moves the guest's wall clock, when the processor was made with one.
    pub fn set_now(&self, now: Duration) {
        if let Some(clock) = &self.clock {
            clock.store(
                u64::try_from(now.as_nanos()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    }

    /// Runs one batch (OTLP protobuf) through `processTraces`.
    pub fn process_traces(&mut self, batch: &[u8]) -> Result<Vec<u8>, Error> {
        // The collector holds pdata, which it marshals for the guest.
        let request = ExportTraceServiceRequest::decode(batch)
            .map_err(|e| Error::Trap(format!("input: {e}")))?;
        self.store.data_mut().stack = Some(Stack {
            current_traces: request.encode_to_vec(),
            plugin_config: self.plugin_config.clone(),
            ..Stack::default()
        });
        let status = self.process.call(&mut self.store, ());
        let stack = self.store.data_mut().stack.take().unwrap_or_default();
        match status {
            Err(trap) => Err(Error::Trap(format!("{trap:#}"))),
            Ok(0) => stack.result_traces.ok_or(Error::NoResult),
            Ok(code) => Err(Error::Status {
                code,
                reason: stack.status_reason,
            }),
        }
    }

    /// With [`Plugin::with_trap_injection`]: the guest traps once it has run `fuel` more
    /// units (`u64::MAX` for no limit). Not a collector setting.
    pub fn trap_after(&mut self, fuel: u64) -> wasmtime::Result<()> {
        self.store.set_fuel(fuel)
    }

    /// What the module wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }
}

fn stack<'a>(caller: &'a mut Caller<'_, Host>) -> wasmtime::Result<&'a mut Stack> {
    caller.data_mut().stack.as_mut().ok_or_else(|| {
        wasmtime::Error::msg("host function called outside a guest call (no stack in context)")
    })
}

/// `writeBytesIfUnderLimit`: 0 when longer than the limit or outside memory.
fn write_if_under_limit(caller: &mut Caller<'_, Host>, bytes: &[u8], buf: u32, limit: u32) -> u32 {
    let Ok(len) = u32::try_from(bytes.len()) else {
        return 0;
    };
    if len > limit {
        return 0;
    }
    let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
        return 0;
    };
    match memory.write(&mut *caller, buf as usize, bytes) {
        Ok(()) => len,
        Err(_) => 0,
    }
}

/// `mod.Memory().Read(buf, len)`, panicking (trapping) outside memory as the host does.
fn read_memory(
    caller: &mut Caller<'_, Host>,
    buf: u32,
    len: u32,
    what: &str,
) -> wasmtime::Result<Vec<u8>> {
    let memory = caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| wasmtime::Error::msg("no memory"))?;
    let data = memory.data(&*caller);
    let range = (buf as usize)..(buf as usize).saturating_add(len as usize);
    data.get(range)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| wasmtime::Error::msg(format!("out of memory reading {what}")))
}

fn add_host_module(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "currentTraces",
        |mut caller: Caller<'_, Host>, buf: u32, limit: u32| {
            let bytes = stack(&mut caller)?.current_traces.clone();
            Ok(write_if_under_limit(&mut caller, &bytes, buf, limit))
        },
    )?;
    // Metrics and logs are empty for a traces processor: an empty pdata marshals to nothing.
    for name in ["currentMetrics", "currentLogs"] {
        linker.func_wrap(
            MODULE,
            name,
            |mut caller: Caller<'_, Host>, _buf: u32, _limit: u32| stack(&mut caller).map(|_| 0u32),
        )?;
    }
    linker.func_wrap(
        MODULE,
        "getPluginConfig",
        |mut caller: Caller<'_, Host>, buf: u32, limit: u32| {
            let bytes = stack(&mut caller)?.plugin_config.clone();
            Ok(write_if_under_limit(&mut caller, &bytes, buf, limit))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "setResultTraces",
        |mut caller: Caller<'_, Host>, buf: u32, len: u32| {
            let bytes = read_memory(&mut caller, buf, len, "result traces")?;
            let request = ExportTraceServiceRequest::decode(bytes.as_slice())
                .map_err(|e| wasmtime::Error::msg(format!("unmarshal result traces: {e}")))?;
            stack(&mut caller)?.result_traces = Some(request.encode_to_vec());
            Ok(())
        },
    )?;
    for name in ["setResultMetrics", "setResultLogs"] {
        linker.func_wrap(
            MODULE,
            name,
            |mut caller: Caller<'_, Host>, buf: u32, len: u32| {
                read_memory(&mut caller, buf, len, "result").map(|_| ())
            },
        )?;
    }
    linker.func_wrap(
        MODULE,
        "setResultStatusReason",
        |mut caller: Caller<'_, Host>, buf: u32, len: u32| {
            let bytes = read_memory(&mut caller, buf, len, "status reason")?;
            stack(&mut caller)?.status_reason = String::from_utf8_lossy(&bytes).into_owned();
            Ok(())
        },
    )?;
    linker.func_wrap(
        MODULE,
        "getShutdownRequested",
        |mut caller: Caller<'_, Host>| stack(&mut caller).map(|_| 0u32),
    )?;
    Ok(())
}
