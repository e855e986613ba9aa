//! A proxy-wasm ABI 0.2.1 host that runs an Envoy HTTP filter module the way Envoy does.
//! The rules below follow, file by file: proxy-wasm-cpp-host at 52a0291 (`src/wasm.cc`,
//! `src/context.cc`, `src/exports.cc`, `include/proxy-wasm/limits.h`); Envoy at b40935a,
//! `source/extensions/common/wasm/context.cc` (`Context::decodeData`, `Context::getBuffer`,
//! `Context::failStream`); Envoy at 832d750, `source/common/buffer/watermark_buffer.cc`
//! (`checkHighAndOverflowWatermarks`: a callback above the high watermark, not at it); and
//! Envoy's `source/common/http/filter_manager.cc` (`commonHandleBufferData`,
//! `requestDataTooLarge`: a 413 for a buffering filter), `source/common/http/http1/
//! codec_impl.cc` (`ServerConnectionImpl::onMessageComplete(Base)`: an empty `decodeData`
//! with `end_stream`, or `decodeTrailers`, alike in every version read) and
//! `source/common/http/http2/codec_impl.cc` (`per_stream_buffer_limit_` is
//! `initial_stream_window_size`). [`failure`] names its own sources.
//!
//! - Imports: every `env.proxy_*` function Envoy registers for ABI 0.2.1 and its WASI
//!   subset; a module importing anything else fails to link, as in Envoy. Functions the
//!   harness does not model answer `Unimplemented` (12) and are recorded.
//! - Start: `_initialize` (or `_start`) with only logging, clock, random and stdio allowed,
//!   then the root context (id 1): `proxy_on_context_create(1, 0)`, `proxy_on_vm_start(1,
//!   vm configuration size)`, `proxy_on_configure(1, plugin configuration size)`. Linear
//!   memory is capped at 1 GiB (`PROXY_WASM_HOST_MAX_WASM_MEMORY_SIZE_BYTES`, V8's
//!   `--wasm_max_mem_pages`): a `memory.grow` past it fails, and the Rust allocator traps.
//! - Per request, a new context (ids 2, 3, ...): `proxy_on_context_create(id, 1)`,
//!   `proxy_on_request_headers(id, headers, end_of_stream)`, then `proxy_on_request_body`
//!   per `decodeData` the codec makes. HTTP/1 delivers the body's chunks with
//!   `end_of_stream` false and ends it with a separate, empty call with `end_of_stream`
//!   true (`onMessageCompleteBase`); HTTP/2 sets it on the last DATA frame. With HTTP/2
//!   request trailers no body call ever has it: `proxy_on_request_trailers` follows. The
//!   HTTP/1 codec drops request trailers unless `enable_trailers` is set, which the
//!   shipped config does not (`onHeaderFieldImpl`: "Ignore trailers"): the body ends as
//!   without them, and they never reach the filter or the upstream.
//! - Buffering: while the filter answers Pause (1, StopIterationAndBuffer) each new chunk
//!   is added to Envoy's buffer (`addDecodedData`) and the filter sees the whole buffer;
//!   the buffer's watermark is the stream's limit (HTTP/1: the listener's
//!   `per_connection_buffer_limit_bytes`; HTTP/2: `initial_stream_window_size`), and going
//!   past it, by a chunk or by the filter replacing the buffered body with a larger one
//!   (`proxy_set_buffer_bytes`), is a 413 local reply: the request never goes upstream. A
//!   body handed over in one call is the codec's chunk, not the buffer, and is not checked.
//! - Then the response headers (and body of a local reply), `proxy_on_log`,
//!   `proxy_on_done`, `proxy_on_delete` (Envoy logs the stream before it destroys the
//!   filters).
//! - Request headers are forwarded when `proxy_on_request_headers` returns Continue and
//!   cannot be read or changed afterwards (BadArgument); `proxy_set_buffer_bytes` edits a
//!   body like Envoy's `Buffer::copyFrom` (start 0: drain `length` bytes, prepend the data).
//! - A failed VM (any trap) follows [`failure`]: the stream gets a 503 (or goes on with the
//!   legacy `fail_open`), and later streams meet the configured failure policy, including a
//!   new, empty VM under `FAIL_RELOAD`.

mod abi;
pub mod failure;
mod guest;
pub mod pairs;
mod wasi;

pub use failure::{AfterFailure, EnvoyRelease, FailurePolicy, Policy};
pub use pairs::HeaderMap;

use std::fmt;
use wasmtime::{
    Engine, Instance, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, TypedFunc,
    Val,
};

/// `WasmResult` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    Ok = 0,
    NotFound = 1,
    BadArgument = 2,
    InvalidMemoryAccess = 6,
    Unimplemented = 12,
}

/// The ABI version export a module must have.
pub const ABI_VERSION_EXPORT: &str = "proxy_abi_version_0_2_1";

/// V8's cap on a module's linear memory in Envoy (`PROXY_WASM_HOST_MAX_WASM_MEMORY_SIZE_BYTES`).
pub const V8_MEMORY_LIMIT: usize = 1024 * 1024 * 1024;
/// Envoy's default `per_connection_buffer_limit_bytes`.
pub const DEFAULT_BUFFER_LIMIT: usize = 1024 * 1024;
/// Envoy's default HTTP/2 `initial_stream_window_size`.
pub const DEFAULT_STREAM_WINDOW: usize = 256 * 1024 * 1024;

/// What the filter is configured with in Envoy.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `vm_config.configuration` (a StringValue's bytes).
    pub vm_configuration: Vec<u8>,
    /// The filter's `configuration` (a StringValue's bytes).
    pub plugin_configuration: Vec<u8>,
    /// The listener's `per_connection_buffer_limit_bytes`: an HTTP/1 stream's buffer limit.
    pub buffer_limit: usize,
    /// `http2_protocol_options.initial_stream_window_size`: an HTTP/2 stream's buffer limit.
    pub stream_window: usize,
    /// The VM's linear memory cap (V8: 1 GiB).
    pub memory_limit: usize,
    /// `PluginConfig.fail_open` (deprecated since 1.33).
    pub fail_open: bool,
    /// `PluginConfig.failure_policy` (1.33 and later).
    pub failure_policy: FailurePolicy,
    /// The Envoy release whose failure rules apply.
    pub release: EnvoyRelease,
    /// `reload_config.backoff.base_interval` in milliseconds (default 1000).
    pub reload_backoff_ms: u64,
    /// What `proxy_get_current_time_nanoseconds` answers (Envoy: the system clock).
    pub now_unix_nano: u64,
}

impl Settings {
    pub fn new(plugin_configuration: &str) -> Settings {
        Settings {
            vm_configuration: Vec::new(),
            plugin_configuration: plugin_configuration.as_bytes().to_vec(),
            buffer_limit: DEFAULT_BUFFER_LIMIT,
            stream_window: DEFAULT_STREAM_WINDOW,
            memory_limit: V8_MEMORY_LIMIT,
            fail_open: false,
            failure_policy: FailurePolicy::Unspecified,
            release: EnvoyRelease::Current,
            reload_backoff_ms: 1000,
            now_unix_nano: 1_700_000_000_000_000_000,
        }
    }
}

/// A line the module logged (`proxy_log`, or stdout/stderr, which Envoy logs at info/error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// proxy-wasm level: 0 trace, 1 debug, 2 info, 3 warn, 4 error, 5 critical.
    pub level: u32,
    pub message: String,
}

/// One call into the module and what it returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub export: &'static str,
    pub args: Vec<i32>,
    pub result: Option<i32>,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<String> = self.args.iter().map(i32::to_string).collect();
        write!(f, "{}({})", self.export, args.join(", "))?;
        match self.result {
            Some(r) => write!(f, " -> {r}"),
            None => Ok(()),
        }
    }
}

/// The downstream protocol, which decides how the body arrives and the buffer limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
}

impl Protocol {
    /// The `request.protocol` property.
    fn property(self) -> &'static [u8] {
        match self {
            Protocol::Http1 => b"HTTP/1.1",
            Protocol::Http2 => b"HTTP/2",
        }
    }
}

/// A downstream request: headers (pseudo-headers first, lowercase names), body chunks as
/// they arrive (none: a header-only request), the protocol, and request trailers.
#[derive(Debug, Clone)]
pub struct Request {
    pub headers: HeaderMap,
    pub chunks: Vec<Vec<u8>>,
    pub protocol: Protocol,
    pub trailers: Option<HeaderMap>,
}

impl Request {
    /// An HTTP/1.1 `POST` with the given headers after the pseudo-headers, split into chunks.
    pub fn post(path: &str, headers: &[(&str, &str)], chunks: Vec<Vec<u8>>) -> Request {
        let mut all: HeaderMap = [
            (":authority", "collector:4318"),
            (":path", path),
            (":method", "POST"),
            (":scheme", "http"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_string(), v.as_bytes().to_vec()))
        .collect();
        all.extend(
            headers
                .iter()
                .map(|(n, v)| ((*n).to_string(), v.as_bytes().to_vec())),
        );
        Request {
            headers: all,
            chunks,
            protocol: Protocol::Http1,
            trailers: None,
        }
    }

    /// The same request over HTTP/2 (as every OTLP/gRPC export arrives).
    pub fn over_http2(mut self) -> Request {
        self.protocol = Protocol::Http2;
        self
    }

    /// The trailers Envoy hands on: HTTP/1's are dropped by the codec
    /// (`http1_protocol_options.enable_trailers` is off by default and in the shipped
    /// config), HTTP/2's reach the filter and the upstream.
    pub fn delivered_trailers(&self) -> Option<&HeaderMap> {
        match self.protocol {
            Protocol::Http1 => None,
            Protocol::Http2 => self.trailers.as_ref(),
        }
    }

    /// The same request with trailers after the body.
    pub fn with_trailers(mut self, trailers: &[(&str, &str)]) -> Request {
        self.trailers = Some(
            trailers
                .iter()
                .map(|(n, v)| ((*n).to_string(), v.as_bytes().to_vec()))
                .collect(),
        );
        self
    }
}

/// What came of a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exchange {
    /// The headers sent upstream; `None` if the filter stopped them.
    pub upstream_headers: Option<HeaderMap>,
    /// The body sent upstream.
    pub upstream_body: Vec<u8>,
    /// The trailers sent upstream.
    pub upstream_trailers: Option<HeaderMap>,
    /// Envoy's own answer instead of the upstream's (413 past the buffer limit, 503 from a
    /// failed VM).
    pub local_reply: Option<u16>,
    /// True when the filter stopped the stream and never let it go on.
    pub stalled: bool,
    /// The trap that failed the VM during this request.
    pub vm_failure: Option<String>,
    /// True when a failed VM's filter was left out of the chain (`FAIL_OPEN`).
    pub filter_skipped: bool,
    /// The calls made into the module for this request, in order (with a new VM's start-up
    /// calls when `FAIL_RELOAD` replaced it first).
    pub calls: Vec<Call>,
}

impl Exchange {
    pub fn upstream_header(&self, name: &str) -> Option<&[u8]> {
        let headers = self.upstream_headers.as_ref()?;
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// The host's state, reached from every import.
#[derive(Default)]
pub struct HostState {
    memory: Option<Memory>,
    malloc: Option<TypedFunc<u32, u32>>,
    /// V8's memory cap.
    limits: StoreLimits,
    /// Inside `_initialize`: only the calls Envoy allows while a module starts.
    initializing: bool,
    vm_configuration: Vec<u8>,
    /// Set only during `proxy_on_configure`.
    plugin_configuration: Option<Vec<u8>>,
    /// Mutable while the filter holds them (header callbacks until Continue).
    request_headers: Option<HeaderMap>,
    request_trailers: Option<HeaderMap>,
    response_headers: Option<HeaderMap>,
    /// Read-only views during `proxy_on_log` (request as forwarded, response).
    access_log: Option<(HeaderMap, HeaderMap)>,
    /// `HttpRequestBody` / `HttpResponseBody` during body callbacks.
    request_body: Option<Vec<u8>>,
    response_body: Option<Vec<u8>>,
    /// Set while `request_body` is Envoy's buffer: its watermark (the stream's limit).
    request_body_watermark: Option<usize>,
    /// The filter grew the buffered body past its watermark (`requestDataTooLarge`).
    request_too_large: bool,
    /// `request.protocol` during a stream.
    protocol: Option<&'static [u8]>,
    /// Custom metrics (`proxy_define_metric`): name, type, value; index = id >> 2.
    metrics: Vec<(String, i32, u64)>,
    now_unix_nano: u64,
    logs: Vec<LogLine>,
    unimplemented: Vec<String>,
}

/// A compiled module, ready to start VMs from.
pub struct Host {
    engine: Engine,
    module: Module,
}

/// How the root context came up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Startup {
    Ready,
    /// `proxy_on_vm_start` returned false: Envoy rejects the VM.
    VmStartFailed,
    /// `proxy_on_configure` returned false: Envoy rejects the filter configuration.
    ConfigureFailed,
}

/// The filter on one Envoy worker: its VM with the root context, and what Envoy keeps
/// around it (the failure policy, the failed state, the time of the last load, the stats).
pub struct Vm {
    engine: Engine,
    module: Module,
    settings: Settings,
    policy: Policy,
    store: Store<HostState>,
    instance: Instance,
    next_context_id: i32,
    startup: Startup,
    calls: Vec<Call>,
    /// The trap that failed the current VM (Envoy's `FailState::RuntimeError`).
    failed: Option<String>,
    /// When the current VM was loaded, or a reload last attempted.
    last_load: u64,
    reloads: usize,
}

const ROOT_CONTEXT_ID: i32 = 1;

/// What a stream callback came to: the filter's answer, or the end of the stream with
/// Envoy's local reply.
enum Step {
    Go(i32),
    Reply(u16),
}

impl Host {
    /// Compiles a module and checks what Envoy checks before starting it: the ABI version
    /// export and an allocator export.
    pub fn load(wasm: &[u8]) -> wasmtime::Result<Host> {
        let engine = Engine::default();
        let module = Module::new(&engine, wasm)?;
        let has = |name: &str| module.exports().any(|e| e.name() == name);
        if !has(ABI_VERSION_EXPORT) {
            return Err(wasmtime::Error::msg(format!(
                "module does not export {ABI_VERSION_EXPORT}"
            )));
        }
        if !has("malloc") && !has("proxy_on_memory_allocate") {
            return Err(wasmtime::Error::msg(
                "Wasm module is missing malloc function.",
            ));
        }
        Ok(Host { engine, module })
    }

    /// Every import of the module, as `module.name`.
    pub fn imports(&self) -> Vec<String> {
        self.module
            .imports()
            .map(|i| format!("{}.{}", i.module(), i.name()))
            .collect()
    }

    /// Checks the plugin configuration as Envoy does, instantiates the module and brings up
    /// its root context. `Err` is a configuration Envoy rejects or a VM that trapped while
    /// starting (Envoy does not start with it either).
    pub fn start(&self, settings: &Settings) -> wasmtime::Result<Vm> {
        let policy = failure::resolve(
            settings.release,
            settings.fail_open,
            settings.failure_policy,
        )
        .map_err(wasmtime::Error::msg)?;
        let (store, instance) = instantiate(&self.engine, &self.module, settings, Vec::new())?;
        let mut vm = Vm {
            engine: self.engine.clone(),
            module: self.module.clone(),
            settings: settings.clone(),
            policy,
            store,
            instance,
            next_context_id: 2,
            startup: Startup::Ready,
            calls: Vec::new(),
            failed: None,
            last_load: settings.now_unix_nano,
            reloads: 0,
        };
        vm.boot()?;
        Ok(vm)
    }
}

/// A fresh instance of the module in its own store, with the host's imports; `metrics`
/// carries Envoy's stats over a reload (they live in Envoy's stats scope, not in the VM).
fn instantiate(
    engine: &Engine,
    module: &Module,
    settings: &Settings,
    metrics: Vec<(String, i32, u64)>,
) -> wasmtime::Result<(Store<HostState>, Instance)> {
    let state = HostState {
        vm_configuration: settings.vm_configuration.clone(),
        now_unix_nano: settings.now_unix_nano,
        limits: StoreLimitsBuilder::new()
            .memory_size(settings.memory_limit)
            .build(),
        metrics,
        ..HostState::default()
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    let mut linker = Linker::new(engine);
    abi::define(&mut linker, module)?;
    wasi::define(&mut linker, module)?;
    let instance = linker.instantiate(&mut store, module)?;
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| wasmtime::Error::msg("no memory export"))?;
    let malloc = match instance.get_typed_func::<u32, u32>(&mut store, "malloc") {
        Ok(f) => f,
        Err(_) => instance.get_typed_func::<u32, u32>(&mut store, "proxy_on_memory_allocate")?,
    };
    store.data_mut().memory = Some(memory);
    store.data_mut().malloc = Some(malloc);
    Ok((store, instance))
}

impl Vm {
    pub fn startup(&self) -> Startup {
        self.startup
    }

    /// The calls made while starting (`_initialize` is not recorded).
    pub fn startup_calls(&self) -> &[Call] {
        &self.calls
    }

    /// The resolved failure policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The trap that failed the current VM, if it failed.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// How many times `FAIL_RELOAD` replaced the VM.
    pub fn reloads(&self) -> usize {
        self.reloads
    }

    /// Moves the host clock (`proxy_get_current_time_nanoseconds`, WASI clocks, and the
    /// reload backoff).
    pub fn set_now(&mut self, now_unix_nano: u64) {
        self.settings.now_unix_nano = now_unix_nano;
        self.store.data_mut().now_unix_nano = now_unix_nano;
    }

    /// Everything logged so far (over reloads too).
    pub fn logs(&self) -> &[LogLine] {
        &self.store.data().logs
    }

    /// Takes the log lines so far.
    pub fn take_logs(&mut self) -> Vec<LogLine> {
        std::mem::take(&mut self.store.data_mut().logs)
    }

    /// Imports the module called that the harness answers with `Unimplemented`.
    pub fn unimplemented_calls(&self) -> &[String] {
        &self.store.data().unimplemented
    }

    /// A custom metric's value as Envoy's stats show it (`wasmcustom.<name>`).
    pub fn metric(&self, stat: &str) -> Option<u64> {
        let name = stat.strip_prefix("wasmcustom.")?;
        self.store
            .data()
            .metrics
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, v)| *v)
    }

    /// The current size of the VM's linear memory.
    pub fn memory_bytes(&self) -> usize {
        self.store
            .data()
            .memory
            .map_or(0, |m| m.data_size(&self.store))
    }

    /// Caps the current VM's memory (the V8 cap is [`Settings::memory_limit`]); a reloaded
    /// VM gets the settings' cap again.
    pub fn set_memory_limit(&mut self, bytes: usize) {
        self.store.data_mut().limits = StoreLimitsBuilder::new().memory_size(bytes).build();
    }

    /// Runs one HTTP stream through the filter, as Envoy's HTTP connection manager would.
    /// `Err` only for a filter that never started (Envoy would not have started either).
    pub fn send(&mut self, request: &Request) -> wasmtime::Result<Exchange> {
        if self.startup != Startup::Ready {
            return Err(wasmtime::Error::msg(format!(
                "the filter did not start: {:?}",
                self.startup
            )));
        }
        self.calls.clear();
        let mut exchange = Exchange::default();
        if self.failed.is_some() && !self.recover(request, &mut exchange) {
            exchange.calls = std::mem::take(&mut self.calls);
            return Ok(exchange);
        }
        let id = self.next_context_id;
        self.next_context_id += 1;
        self.store.data_mut().protocol = Some(request.protocol.property());
        let failed_before = self.failed.is_some();
        if let Some(code) = self.stream(id, request, &mut exchange) {
            exchange.local_reply = Some(code);
        }
        if !exchange.stalled && self.failed.is_none() {
            self.response(id, &mut exchange);
        }
        if self.failed.is_none() {
            let forwarded = exchange
                .upstream_headers
                .clone()
                .unwrap_or_else(|| request.headers.clone());
            let response = response_headers(exchange.local_reply);
            self.store.data_mut().access_log = Some((forwarded, response));
            self.step("proxy_on_log", &[id]);
            self.store.data_mut().access_log = None;
        }
        // Envoy skips these on a failed VM (`if (!isFailed() ...)`).
        if self.failed.is_none() {
            self.step("proxy_on_done", &[id]);
        }
        if self.failed.is_none() {
            self.step("proxy_on_delete", &[id]);
        }
        self.store.data_mut().protocol = None;
        if !failed_before {
            exchange.vm_failure = self.failed.clone();
        }
        exchange.calls = std::mem::take(&mut self.calls);
        Ok(exchange)
    }

    /// A stream on a worker whose VM failed (`PluginConfig::createContext`): true when a
    /// reloaded VM takes it; otherwise the exchange is Envoy's own answer.
    fn recover(&mut self, request: &Request, exchange: &mut Exchange) -> bool {
        match self.policy.after_failure {
            AfterFailure::Open => {
                exchange.filter_skipped = true;
                exchange.upstream_headers = Some(request.headers.clone());
                exchange.upstream_body = request.chunks.concat();
                exchange.upstream_trailers = request.delivered_trailers().cloned();
                false
            }
            AfterFailure::Closed => {
                exchange.local_reply = Some(503);
                false
            }
            AfterFailure::Reload => {
                let now = self.settings.now_unix_nano;
                if failure::reload_due(now, self.last_load, self.settings.reload_backoff_ms)
                    && self.reload().is_ok()
                {
                    return true;
                }
                exchange.local_reply = Some(503);
                false
            }
        }
    }

    /// `FAIL_RELOAD`: a new VM from the same module and configuration, with nothing of the
    /// old one's state; Envoy's stats and the harness's log carry over. A VM that does not
    /// come up leaves the worker failed.
    fn reload(&mut self) -> wasmtime::Result<()> {
        self.last_load = self.settings.now_unix_nano;
        let metrics = std::mem::take(&mut self.store.data_mut().metrics);
        let logs = self.take_logs();
        let unimplemented = std::mem::take(&mut self.store.data_mut().unimplemented);
        let (store, instance) = instantiate(&self.engine, &self.module, &self.settings, metrics)?;
        self.store = store;
        self.instance = instance;
        self.store.data_mut().logs = logs;
        self.store.data_mut().unimplemented = unimplemented;
        self.failed = None;
        self.reloads += 1;
        let booted = self.boot();
        if booted.is_err() || self.startup != Startup::Ready {
            // The worker keeps a failed VM: Envoy logs "Failed to reload" and fails closed.
            self.failed = Some(match booted {
                Err(trap) => format!("reload: {trap:#}"),
                Ok(()) => format!("reload: {:?}", self.startup),
            });
            self.startup = Startup::Ready;
            return Err(wasmtime::Error::msg("the reloaded VM did not start"));
        }
        Ok(())
    }

    /// `_initialize`, then the root context: create, VM start, configure.
    fn boot(&mut self) -> wasmtime::Result<()> {
        self.initialize()?;
        self.call("proxy_on_context_create", &[ROOT_CONTEXT_ID, 0])?;
        let vm_config_size = size(self.settings.vm_configuration.len());
        if self.call("proxy_on_vm_start", &[ROOT_CONTEXT_ID, vm_config_size])? == Some(0) {
            self.startup = Startup::VmStartFailed;
            return Ok(());
        }
        let plugin_configuration = self.settings.plugin_configuration.clone();
        let n = size(plugin_configuration.len());
        self.store.data_mut().plugin_configuration = Some(plugin_configuration);
        let configured = self.call("proxy_on_configure", &[ROOT_CONTEXT_ID, n]);
        self.store.data_mut().plugin_configuration = None;
        if configured? == Some(0) {
            self.startup = Startup::ConfigureFailed;
        }
        Ok(())
    }

    /// The request side of a stream; `Some` is Envoy's local reply, which ends it.
    fn stream(&mut self, id: i32, request: &Request, exchange: &mut Exchange) -> Option<u16> {
        // `onCreate` has no failure check of its own: a trap here fails the stream's first
        // callback below.
        if let Err(trap) = self.call("proxy_on_context_create", &[id, ROOT_CONTEXT_ID]) {
            self.failed = Some(trap.to_string());
        }
        // Trailers mean a body (HTTP/1: chunked), even one the HTTP/1 codec then drops.
        let header_only = request.chunks.is_empty() && request.trailers.is_none();
        self.store.data_mut().request_headers = Some(request.headers.clone());
        let step = self.step(
            "proxy_on_request_headers",
            &[id, size(request.headers.len()), i32::from(header_only)],
        );
        let forwarded = self.store.data_mut().request_headers.take();
        match step {
            Step::Reply(code) => return Some(code),
            Step::Go(0) => exchange.upstream_headers = forwarded,
            Step::Go(_) => {
                exchange.stalled = true;
                return None;
            }
        }
        self.request_body(id, request, exchange)
    }

    /// Envoy's `decodeData` for each call the codec makes, then the trailers.
    fn request_body(&mut self, id: i32, request: &Request, exchange: &mut Exchange) -> Option<u16> {
        let limit = match request.protocol {
            Protocol::Http1 => self.settings.buffer_limit,
            Protocol::Http2 => self.settings.stream_window,
        };
        let ends = request.delivered_trailers().is_none();
        let mut frames: Vec<(&[u8], bool)> = request
            .chunks
            .iter()
            .map(|c| (c.as_slice(), false))
            .collect();
        match (request.protocol, frames.last_mut()) {
            // A chunked HTTP/1 body of trailers alone still ends with the codec's call.
            (Protocol::Http1, None) if request.trailers.is_some() => frames.push((&[], ends)),
            (_, None) => {}
            (Protocol::Http1, Some(_)) => frames.push((&[], ends)),
            (Protocol::Http2, Some(last)) => last.1 = ends,
        }
        // Envoy's buffer of the request body, once the filter has asked for buffering.
        let mut buffered: Option<Vec<u8>> = None;
        for (chunk, end) in frames {
            let is_buffer = buffered.is_some();
            let view = match buffered.take() {
                Some(mut body) => {
                    body.extend_from_slice(chunk);
                    if body.len() > limit {
                        return Some(413);
                    }
                    body
                }
                None => chunk.to_vec(),
            };
            let n = size(view.len());
            let state = self.store.data_mut();
            state.request_body = Some(view);
            state.request_body_watermark = is_buffer.then_some(limit);
            state.request_too_large = false;
            let step = self.step("proxy_on_request_body", &[id, n, i32::from(end)]);
            let state = self.store.data_mut();
            let view = state.request_body.take().unwrap_or_default();
            state.request_body_watermark = None;
            if std::mem::take(&mut state.request_too_large) {
                return Some(413);
            }
            match step {
                Step::Reply(code) => return Some(code),
                Step::Go(0) => exchange.upstream_body.extend_from_slice(&view),
                // StopIterationAndBuffer: the chunk moves into Envoy's buffer.
                Step::Go(1) if !is_buffer && view.len() > limit => return Some(413),
                Step::Go(1) => buffered = Some(view),
                Step::Go(_) => {
                    exchange.stalled = true;
                    return None;
                }
            }
        }
        let Some(trailers) = request.delivered_trailers() else {
            exchange.stalled = buffered.is_some();
            return None;
        };
        self.store.data_mut().request_trailers = Some(trailers.clone());
        let step = self.step("proxy_on_request_trailers", &[id, size(trailers.len())]);
        let forwarded = self.store.data_mut().request_trailers.take();
        match step {
            Step::Reply(code) => Some(code),
            Step::Go(0) => {
                exchange
                    .upstream_body
                    .extend_from_slice(&buffered.unwrap_or_default());
                exchange.upstream_trailers = forwarded;
                None
            }
            Step::Go(_) => {
                exchange.stalled = true;
                None
            }
        }
    }

    /// The response: the upstream's 200, or Envoy's local reply with its body.
    fn response(&mut self, id: i32, exchange: &mut Exchange) {
        let response = response_headers(exchange.local_reply);
        self.store.data_mut().response_headers = Some(response.clone());
        self.step(
            "proxy_on_response_headers",
            &[
                id,
                size(response.len()),
                i32::from(exchange.local_reply.is_none()),
            ],
        );
        self.store.data_mut().response_headers = None;
        if let Some(code) = exchange.local_reply {
            let body = local_reply_body(code);
            self.store.data_mut().response_body = Some(body.to_vec());
            self.step("proxy_on_response_body", &[id, size(body.len()), 1]);
            self.store.data_mut().response_body = None;
        }
    }

    /// One stream callback as proxy-wasm-cpp-host's `ContextBase` makes it: not into a
    /// failed VM; a trap fails the VM; then `CHECK_FAIL_HTTP`: the stream goes on only with
    /// the legacy `fail_open`, otherwise it ends with a 503.
    fn step(&mut self, export: &'static str, args: &[i32]) -> Step {
        if self.failed.is_none() {
            match self.call(export, args) {
                Ok(result) => return Step::Go(result.unwrap_or(0)),
                Err(trap) => self.failed = Some(format!("{export}: {trap:#}")),
            }
        }
        if self.policy.failing_stream_continues {
            Step::Go(0)
        } else {
            Step::Reply(503)
        }
    }

    fn initialize(&mut self) -> wasmtime::Result<()> {
        self.store.data_mut().initializing = true;
        let entry = ["_initialize", "_start"]
            .into_iter()
            .find_map(|name| self.instance.get_func(&mut self.store, name));
        let outcome = match entry {
            Some(f) => f.call(&mut self.store, &[], &mut []),
            None => Ok(()),
        };
        self.store.data_mut().initializing = false;
        outcome
    }

    /// Calls an export if the module has it (Envoy skips missing callbacks) and records it.
    fn call(&mut self, export: &'static str, args: &[i32]) -> wasmtime::Result<Option<i32>> {
        let Some(func) = self.instance.get_func(&mut self.store, export) else {
            return Ok(None);
        };
        let params: Vec<Val> = args.iter().map(|a| Val::I32(*a)).collect();
        let mut results = vec![Val::I32(0); func.ty(&self.store).results().len()];
        let outcome = func.call(&mut self.store, &params, &mut results);
        let result = results.first().and_then(Val::i32);
        self.calls.push(Call {
            export,
            args: args.to_vec(),
            result: outcome.is_ok().then_some(result).flatten(),
        });
        outcome.map(|()| result)
    }
}

fn response_headers(local_reply: Option<u16>) -> HeaderMap {
    match local_reply {
        Some(code) => vec![
            (":status".into(), code.to_string().into_bytes()),
            ("content-type".into(), b"text/plain".to_vec()),
        ],
        None => vec![
            (":status".into(), b"200".to_vec()),
            ("content-type".into(), b"application/x-protobuf".to_vec()),
        ],
    }
}

/// Envoy's local reply bodies (`CodeUtility::toString`).
fn local_reply_body(code: u16) -> &'static [u8] {
    match code {
        413 => b"Payload Too Large",
        503 => b"Service Unavailable",
        _ => b"",
    }
}

fn size(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}
