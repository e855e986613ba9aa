//! The wasmtime embedding: loads `relink.wasm` (the `relink:processor/relink` world, see
//! `wit/relink.wit`), builds one `processor` resource from the relink configuration, and
//! calls it.
//!
//! One [`Relinker`] owns one store, one instance and one processor, so the pointer index
//! and the counters persist across calls. The component is single-threaded: callers share a
//! `Relinker` behind a lock. A trap poisons a component instance for good, so after a trap
//! the relinker instantiates the component afresh with the same configuration (the index
//! starts empty again) and reports the trap to the caller, which forwards the input
//! unchanged.

use std::fmt;
use std::path::{Path, PathBuf};

use wasmtime::component::{Component, InstancePre, Linker, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "relink",
});

use self::exports::relink::processor::relinker::GuestProcessor;
pub use self::relink::processor::types::{
    Counter, CounterKind, Encoding, Error as ComponentError, EventContext,
};

/// Linear memory one component instance may use by default; far above what a bounded
/// index and a bounded request need, low enough that a runaway guest cannot take the host
/// down. A guest that needs more fails to allocate and traps.
pub const MAX_GUEST_MEMORY: usize = 1 << 30;

/// Guest bytes an index entry can take at its peak: a 48-byte ring entry and a `u32` table
/// slot (about 56 bytes at capacity), both grown by doubling; while the ring's last growth
/// copies, its old buffer (up to the whole ring) and the new one are both allocated, beside
/// a table that may be growing too: at most 96 + 16 bytes an entry.
const INDEX_PEAK_BYTES: u64 = 112;
/// The same for an adopted trace: a hash map bucket (44 bytes and a control byte, at most
/// 7/8 full, old and new table during growth: about 154) and an age queue entry (20 bytes,
/// doubling: up to 40).
const ADOPTION_PEAK_BYTES: u64 = 200;
/// What a request takes in the instance holding the state, as a multiple of its body (a
/// request of the most spans per byte takes 6.45x; the README's memory bound says 7x).
const REQUEST_PEAK_FACTOR: u64 = 7;
/// The guest's own code, stacks and allocator.
const GUEST_BASE_BYTES: u64 = 32 << 20;

/// Whether a request of `max_body` bytes fits in [`MAX_GUEST_MEMORY`] at its peak.
pub fn request_fits(max_body: usize) -> Result<(), String> {
    let need = REQUEST_PEAK_FACTOR
        .saturating_mul(max_body as u64)
        .saturating_add(GUEST_BASE_BYTES);
    let limit = MAX_GUEST_MEMORY as u64;
    match need <= limit {
        true => Ok(()),
        false => Err(format!(
            "--max-body {max_body}: a request that large can take about {} MiB of guest \
             memory with the guest's own {} MiB, more than the {} MiB each component \
             instance gets; at most {}",
            need >> 20,
            GUEST_BASE_BYTES >> 20,
            limit >> 20,
            (limit - GUEST_BASE_BYTES) / REQUEST_PEAK_FACTOR
        )),
    }
}

/// Whether the state a configuration allows fits in [`MAX_GUEST_MEMORY`] beside the
/// largest request (which [`request_fits`] checks alone): an index or adoption table that
/// could outgrow it would trap the instance each time it filled, losing the state with
/// it, long after start. The larger of the two is named, with the most it can be beside
/// the other.
pub fn state_fits(config: &::relink::config::Config, max_body: usize) -> Result<(), String> {
    let limit = MAX_GUEST_MEMORY as u64;
    let mib = |b: u64| b >> 20;
    // Room for state beside the largest request and the guest's own needs.
    let room = limit
        .saturating_sub(REQUEST_PEAK_FACTOR.saturating_mul(max_body as u64))
        .saturating_sub(GUEST_BASE_BYTES);
    let adopting = config.adoption.enabled
        || config.messaging.parent_single_message
        || config.stepfunctions_parent();
    let index = (
        "index.max_entries",
        config.index.max_entries,
        INDEX_PEAK_BYTES,
    );
    let adoption = (
        "adoption.max_traces",
        if adopting {
            config.adoption.max_traces
        } else {
            0
        },
        ADOPTION_PEAK_BYTES,
    );
    let bytes = |(_, n, per): (&str, u64, u64)| n.saturating_mul(per);
    if bytes(index).saturating_add(bytes(adoption)) <= room {
        return Ok(());
    }
    let (big, other) = match bytes(adoption) > bytes(index) {
        true => (adoption, index),
        false => (index, adoption),
    };
    let beside = match bytes(other) {
        0 => String::new(),
        b => format!(", {} MiB of them for {}", mib(b), other.0),
    };
    Err(format!(
        "{} {} can take {} MiB of guest memory at its peak, more than the {} MiB a \
         component instance gets (with --max-body {max_body}, {} MiB are left for \
         state{beside}); at most {}",
        big.0,
        big.1,
        mib(bytes(big)),
        mib(limit),
        mib(room),
        room.saturating_sub(bytes(other)) / big.2
    ))
}

/// Why the component could not be loaded or started.
#[derive(Debug)]
pub enum LoadError {
    /// The component file is missing or unreadable.
    Read { path: PathBuf, message: String },
    /// The file is not a component of the `relink` world (or not WebAssembly at all).
    Invalid { path: PathBuf, message: String },
    /// The component rejected the configuration; one entry per problem.
    Config(Vec<String>),
    /// The component failed while building the processor.
    Start(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, message } => {
                write!(f, "component {}: cannot read: {message}", path.display())
            }
            LoadError::Invalid { path, message } => write!(
                f,
                "component {}: not a relink component (world relink:processor/relink): {message}",
                path.display()
            ),
            LoadError::Config(problems) => f.write_str(&problems.join("; ")),
            LoadError::Start(message) => write!(f, "component: cannot start: {message}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// The outcome of one call that reached the component.
#[derive(Debug)]
pub enum CallError {
    /// The component answered with an error value.
    Component(ComponentError),
    /// The component trapped; it has been instantiated afresh.
    Trap(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Component(e) => write!(f, "{}", describe(e)),
            CallError::Trap(message) => write!(f, "component trapped (restarted): {message}"),
        }
    }
}

/// One line for a component error value.
pub fn describe(error: &ComponentError) -> String {
    match error {
        ComponentError::Config(problems) => format!("config: {}", problems.join("; ")),
        ComponentError::Decode(message) => message.clone(),
        ComponentError::TooLarge(message) => message.clone(),
    }
}

struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A compiled component, ready to instantiate: compile once, then build as many
/// independent processors as needed (one per pipeline, or one per test).
#[derive(Clone)]
pub struct LoadedComponent {
    pre: RelinkPre<HostState>,
    memory_limit: usize,
    /// Instances count their work in fuel ([`LoadedComponent::counting`]).
    counting: bool,
}

impl LoadedComponent {
    /// Reads and compiles the component at `path`.
    pub fn load(path: &Path) -> Result<LoadedComponent, LoadError> {
        LoadedComponent::compile(path, &read(path)?, false)
    }

    /// As [`LoadedComponent::load`], from bytes already read; `path` only names them in
    /// errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<LoadedComponent, LoadError> {
        LoadedComponent::compile(path, bytes, false)
    }

    /// As [`LoadedComponent::load`], on an engine whose instances count their work in fuel
    /// (wasmtime charges about one unit per WebAssembly instruction executed;
    /// [`Relinker::fuel_used`]): the same number on every run, where wall time is noisy,
    /// so a benchmark can compare two builds of the guest exactly. Counting makes the code
    /// slower: never for serving or timing.
    pub fn counting(path: &Path) -> Result<LoadedComponent, LoadError> {
        LoadedComponent::compile(path, &read(path)?, true)
    }

    fn compile(path: &Path, bytes: &[u8], counting: bool) -> Result<LoadedComponent, LoadError> {
        let invalid = |e: wasmtime::Error| LoadError::Invalid {
            path: path.to_path_buf(),
            message: format!("{e:#}"),
        };
        let engine = if counting {
            Engine::new(wasmtime::Config::new().consume_fuel(true)).map_err(invalid)?
        } else {
            Engine::default()
        };
        let component = Component::new(&engine, bytes).map_err(invalid)?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(invalid)?;
        let instance_pre: InstancePre<HostState> =
            linker.instantiate_pre(&component).map_err(invalid)?;
        let pre = RelinkPre::new(instance_pre).map_err(invalid)?;
        Ok(LoadedComponent {
            pre,
            memory_limit: MAX_GUEST_MEMORY,
            counting,
        })
    }

    /// Caps each instance's linear memory at `bytes` instead of [`MAX_GUEST_MEMORY`].
    pub fn memory_limit(mut self, bytes: usize) -> LoadedComponent {
        self.memory_limit = bytes;
        self
    }

    /// A new instance with a processor built from `config_json`.
    pub fn processor(&self, config_json: &str) -> Result<Relinker, LoadError> {
        let live = start(self, config_json)?;
        Ok(Relinker {
            loaded: self.clone(),
            config_json: config_json.to_string(),
            live,
            restarts: 0,
        })
    }
}

/// One component instance with one live processor.
pub struct Relinker {
    loaded: LoadedComponent,
    config_json: String,
    live: Live,
    restarts: u64,
}

struct Live {
    store: Store<HostState>,
    bindings: Relink,
    processor: ResourceAny,
}

impl Relinker {
    /// Compiles the component at `path` and builds a processor from `config_json`.
    pub fn load(path: &Path, config_json: &str) -> Result<Relinker, LoadError> {
        LoadedComponent::load(path)?.processor(config_json)
    }

    /// Runs one OTLP export request through the processor.
    pub fn process_traces(
        &mut self,
        otlp: &[u8],
        encoding: Encoding,
        now_unix_nano: u64,
    ) -> Result<Vec<u8>, CallError> {
        self.call(|p, store, r| p.call_process_traces(store, r, otlp, encoding, now_unix_nano))
    }

    /// Runs one OTLP export request through the processor: the output when relink changed
    /// it, `None` when the caller is to forward its input (not copied out of the guest).
    pub fn process_traces_changed(
        &mut self,
        otlp: &[u8],
        encoding: Encoding,
        now_unix_nano: u64,
    ) -> Result<Option<Vec<u8>>, CallError> {
        self.call(|p, store, r| {
            p.call_process_traces_changed(store, r, otlp, encoding, now_unix_nano)
        })
    }

    /// Reads a request's evidence without changing the processor (see `prepare-traces` in
    /// the WIT), for [`Relinker::process_traces_prepared`] on another instance. `None` when
    /// the request cannot be prepared, or when the component trapped (it is instantiated
    /// afresh; the owner then reads the evidence itself).
    pub fn prepare_traces(&mut self, otlp: &[u8], encoding: Encoding) -> Option<Vec<u8>> {
        self.call(|p, store, r| p.call_prepare_traces(store, r, otlp, encoding).map(Ok))
            .ok()
            .flatten()
    }

    /// [`Relinker::process_traces_changed`] given what [`Relinker::prepare_traces`] read
    /// from these same bytes: the same result, without reading the evidence again.
    pub fn process_traces_prepared(
        &mut self,
        otlp: &[u8],
        encoding: Encoding,
        prepared: &[u8],
        now_unix_nano: u64,
    ) -> Result<Option<Vec<u8>>, CallError> {
        self.call(|p, store, r| {
            p.call_process_traces_prepared(store, r, otlp, encoding, prepared, now_unix_nano)
        })
    }

    /// Spans (OTLP/JSON) for one raw AWS payload (see `process-event` in the WIT).
    pub fn process_event(
        &mut self,
        event_json: &[u8],
        context: Option<&EventContext>,
        now_unix_nano: u64,
    ) -> Result<Vec<u8>, CallError> {
        self.call(|p, store, r| p.call_process_event(store, r, event_json, context, now_unix_nano))
    }

    /// One log record (a JSON object) with `trace_id`/`span_id` added when relink can know
    /// them (see `process-log` in the WIT); the relay itself does not route logs.
    pub fn process_log(&mut self, record_json: &[u8]) -> Result<Vec<u8>, CallError> {
        self.call(|p, store, r| p.call_process_log(store, r, record_json))
    }

    /// The processor's counters; empty when the component trapped while answering.
    pub fn counters(&mut self) -> Vec<Counter> {
        self.call(|p, store, r| p.call_counters(store, r).map(Ok))
            .unwrap_or_default()
    }

    /// The fuel this instance has used since it started (creating its processor included),
    /// for a component loaded with [`LoadedComponent::counting`]; 0 otherwise.
    pub fn fuel_used(&self) -> u64 {
        self.live.store.get_fuel().map_or(0, |left| u64::MAX - left)
    }

    /// How many times the component was instantiated afresh after a trap.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// One method of the processor resource (a generated `call_*` binding, given the
    /// store and the resource), settled: a trap instantiates the component afresh.
    fn call<T>(
        &mut self,
        method: impl FnOnce(
            GuestProcessor<'_>,
            &mut Store<HostState>,
            ResourceAny,
        ) -> wasmtime::Result<Result<T, ComponentError>>,
    ) -> Result<T, CallError> {
        let live = &mut self.live;
        let processor = live.bindings.relink_processor_relinker().processor();
        let result = method(processor, &mut live.store, live.processor);
        self.settle(result)
    }

    fn settle<T>(
        &mut self,
        result: wasmtime::Result<Result<T, ComponentError>>,
    ) -> Result<T, CallError> {
        match result {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(error)) => Err(CallError::Component(error)),
            Err(trap) => Err(self.restart(trap)),
        }
    }

    fn restart(&mut self, trap: wasmtime::Error) -> CallError {
        self.restarts += 1;
        // The full error carries the guest backtrace: log it, answer with the cause.
        eprintln!("relink: component trapped, instantiating it afresh: {trap:?}");
        let message = trap.root_cause().to_string();
        match start(&self.loaded, &self.config_json) {
            Ok(live) => self.live = live,
            // The configuration was accepted before, so this only fails if instantiation
            // itself fails; keep the poisoned instance, whose calls then trap again.
            Err(e) => return CallError::Trap(format!("{message}; restart failed: {e}")),
        }
        CallError::Trap(message)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|e| LoadError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn start(loaded: &LoadedComponent, config_json: &str) -> Result<Live, LoadError> {
    let pre = &loaded.pre;
    let state = HostState {
        wasi: WasiCtxBuilder::new().inherit_stderr().build(),
        table: ResourceTable::new(),
        limits: StoreLimitsBuilder::new()
            .memory_size(loaded.memory_limit)
            .build(),
    };
    let mut store = Store::new(pre.engine(), state);
    store.limiter(|s| &mut s.limits);
    if loaded.counting {
        store
            .set_fuel(u64::MAX)
            .map_err(|e| LoadError::Start(format!("{e:#}")))?;
    }
    let bindings = pre
        .instantiate(&mut store)
        .map_err(|e| LoadError::Start(format!("{e:#}")))?;
    let created = bindings
        .relink_processor_relinker()
        .processor()
        .call_create(&mut store, config_json)
        .map_err(|e| LoadError::Start(format!("{e:#}")))?;
    match created {
        Ok(processor) => Ok(Live {
            store,
            bindings,
            processor,
        }),
        Err(ComponentError::Config(problems)) => Err(LoadError::Config(problems)),
        Err(other) => Err(LoadError::Config(vec![describe(&other)])),
    }
}
