//! A proxy-wasm ABI 0.2.1 host that runs an Envoy HTTP filter module the way Envoy does
//! (Envoy's `extensions/common/wasm/context.cc` over proxy-wasm-cpp-host's `wasm.cc`,
//! `context.cc` and `exports.cc`):
//!
//! - Imports: every `env.proxy_*` function Envoy registers for ABI 0.2.1 and its WASI
//!   subset; a module importing anything else fails to link, as in Envoy. Functions the
//!   harness does not model answer `Unimplemented` (12) and are recorded.
//! - Start: `_initialize` (or `_start`) with only logging, clock, random and stdio allowed,
//!   then the root context (id 1): `proxy_on_context_create(1, 0)`, `proxy_on_vm_start(1,
//!   vm configuration size)`, `proxy_on_configure(1, plugin configuration size)`.
//! - Per request, a new context (ids 2, 3, ...): `proxy_on_context_create(id, 1)`,
//!   `proxy_on_request_headers(id, headers, end_of_stream)`, then per body chunk
//!   `proxy_on_request_body(id, size, end_of_stream)`: while the filter answers Pause (1,
//!   StopIterationAndBuffer) the chunks accumulate and the size is cumulative; past the
//!   buffer limit Envoy answers 413 without calling the filter again. Then the response
//!   headers (and body of a local reply), `proxy_on_log`, `proxy_on_done`, `proxy_on_delete`
//!   (Envoy logs the stream before it destroys the filters).
//! - Request headers are forwarded when `proxy_on_request_headers` returns Continue and
//!   cannot be read or changed afterwards (BadArgument); `HttpRequestBody` is the chunk, or
//!   everything buffered so far, and `proxy_set_buffer_bytes` edits it like Envoy's
//!   `Buffer::copyFrom` (start 0: drain `length` bytes, prepend the data).

mod abi;
mod guest;
pub mod pairs;
mod wasi;

pub use pairs::HeaderMap;

use std::fmt;
use wasmtime::{Engine, Instance, Linker, Memory, Module, Store, TypedFunc, Val};

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

/// What the filter is configured with in Envoy.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `vm_config.configuration` (a StringValue's bytes).
    pub vm_configuration: Vec<u8>,
    /// The filter's `configuration` (a StringValue's bytes).
    pub plugin_configuration: Vec<u8>,
    /// The listener's `per_connection_buffer_limit_bytes` (Envoy's default: 1 MiB).
    pub buffer_limit: usize,
    /// What `proxy_get_current_time_nanoseconds` answers (Envoy: the system clock).
    pub now_unix_nano: u64,
}

impl Settings {
    pub fn new(plugin_configuration: &str) -> Settings {
        Settings {
            vm_configuration: Vec::new(),
            plugin_configuration: plugin_configuration.as_bytes().to_vec(),
            buffer_limit: 1024 * 1024,
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

/// A downstream request: headers (pseudo-headers first, lowercase names) and body chunks as
/// they arrive (none: a header-only request).
#[derive(Debug, Clone)]
pub struct Request {
    pub headers: HeaderMap,
    pub chunks: Vec<Vec<u8>>,
}

impl Request {
    /// A `POST` with the given headers after the pseudo-headers, split into chunks.
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
        }
    }
}

/// What came of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The headers sent upstream; `None` if the filter stopped them.
    pub upstream_headers: Option<HeaderMap>,
    /// The body sent upstream.
    pub upstream_body: Vec<u8>,
    /// Envoy's own answer instead of the upstream's (413 past the buffer limit).
    pub local_reply: Option<u16>,
    /// True when the filter stopped the stream and never let it go on.
    pub stalled: bool,
    /// The calls made into the module for this request, in order.
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
    /// Inside `_initialize`: only the calls Envoy allows while a module starts.
    initializing: bool,
    vm_configuration: Vec<u8>,
    /// Set only during `proxy_on_configure`.
    plugin_configuration: Option<Vec<u8>>,
    /// Mutable while the filter holds them (header callbacks until Continue).
    request_headers: Option<HeaderMap>,
    response_headers: Option<HeaderMap>,
    /// Read-only views during `proxy_on_log` (request as forwarded, response).
    access_log: Option<(HeaderMap, HeaderMap)>,
    /// `HttpRequestBody` / `HttpResponseBody` during body callbacks.
    request_body: Option<Vec<u8>>,
    response_body: Option<Vec<u8>>,
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

/// One started VM with its root context, as on one Envoy worker.
pub struct Vm {
    store: Store<HostState>,
    instance: Instance,
    buffer_limit: usize,
    next_context_id: i32,
    startup: Startup,
    calls: Vec<Call>,
}

const ROOT_CONTEXT_ID: i32 = 1;

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

    /// Instantiates the module and brings up its root context.
    pub fn start(&self, settings: &Settings) -> wasmtime::Result<Vm> {
        let state = HostState {
            vm_configuration: settings.vm_configuration.clone(),
            now_unix_nano: settings.now_unix_nano,
            ..HostState::default()
        };
        let mut store = Store::new(&self.engine, state);
        let mut linker = Linker::new(&self.engine);
        abi::define(&mut linker, &self.module)?;
        wasi::define(&mut linker, &self.module)?;
        let instance = linker.instantiate(&mut store, &self.module)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| wasmtime::Error::msg("no memory export"))?;
        let malloc = match instance.get_typed_func::<u32, u32>(&mut store, "malloc") {
            Ok(f) => f,
            Err(_) => {
                instance.get_typed_func::<u32, u32>(&mut store, "proxy_on_memory_allocate")?
            }
        };
        store.data_mut().memory = Some(memory);
        store.data_mut().malloc = Some(malloc);
        let mut vm = Vm {
            store,
            instance,
            buffer_limit: settings.buffer_limit,
            next_context_id: 2,
            startup: Startup::Ready,
            calls: Vec::new(),
        };
        vm.initialize()?;
        vm.call("proxy_on_context_create", &[ROOT_CONTEXT_ID, 0])?;
        let vm_config_size = size(settings.vm_configuration.len());
        if vm.call("proxy_on_vm_start", &[ROOT_CONTEXT_ID, vm_config_size])? == Some(0) {
            vm.startup = Startup::VmStartFailed;
            return Ok(vm);
        }
        vm.store.data_mut().plugin_configuration = Some(settings.plugin_configuration.clone());
        let configured = vm.call(
            "proxy_on_configure",
            &[ROOT_CONTEXT_ID, size(settings.plugin_configuration.len())],
        );
        vm.store.data_mut().plugin_configuration = None;
        if configured? == Some(0) {
            vm.startup = Startup::ConfigureFailed;
        }
        Ok(vm)
    }
}

impl Vm {
    pub fn startup(&self) -> Startup {
        self.startup
    }

    /// The calls made while starting (`_initialize` is not recorded).
    pub fn startup_calls(&self) -> &[Call] {
        &self.calls
    }

    /// Moves the host clock (`proxy_get_current_time_nanoseconds`, WASI clocks).
    pub fn set_now(&mut self, now_unix_nano: u64) {
        self.store.data_mut().now_unix_nano = now_unix_nano;
    }

    /// Everything logged so far.
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

    /// Runs one HTTP stream through the filter, as Envoy's HTTP connection manager would.
    pub fn send(&mut self, request: &Request) -> wasmtime::Result<Exchange> {
        if self.startup != Startup::Ready {
            return Err(wasmtime::Error::msg(format!(
                "the filter did not start: {:?}",
                self.startup
            )));
        }
        self.calls.clear();
        let id = self.next_context_id;
        self.next_context_id += 1;
        let mut exchange = Exchange {
            upstream_headers: None,
            upstream_body: Vec::new(),
            local_reply: None,
            stalled: false,
            calls: Vec::new(),
        };
        self.call("proxy_on_context_create", &[id, ROOT_CONTEXT_ID])?;
        let header_only = request.chunks.is_empty();
        self.store.data_mut().request_headers = Some(request.headers.clone());
        let headers_result = self.call(
            "proxy_on_request_headers",
            &[id, size(request.headers.len()), i32::from(header_only)],
        )?;
        let forwarded = self.store.data_mut().request_headers.take();
        if headers_result.unwrap_or(0) == 0 {
            exchange.upstream_headers = forwarded;
            self.request_body(id, request, &mut exchange)?;
        } else {
            exchange.stalled = true;
        }
        let response: HeaderMap = match exchange.local_reply {
            Some(code) => vec![
                (":status".into(), code.to_string().into_bytes()),
                ("content-type".into(), b"text/plain".to_vec()),
            ],
            None => vec![
                (":status".into(), b"200".to_vec()),
                ("content-type".into(), b"application/x-protobuf".to_vec()),
            ],
        };
        if !exchange.stalled {
            let local_body: &[u8] = b"Payload Too Large";
            self.store.data_mut().response_headers = Some(response.clone());
            let n = size(response.len());
            self.call(
                "proxy_on_response_headers",
                &[id, n, i32::from(exchange.local_reply.is_none())],
            )?;
            self.store.data_mut().response_headers = None;
            if exchange.local_reply.is_some() {
                self.store.data_mut().response_body = Some(local_body.to_vec());
                self.call("proxy_on_response_body", &[id, size(local_body.len()), 1])?;
                self.store.data_mut().response_body = None;
            }
        }
        let forwarded_headers = exchange
            .upstream_headers
            .clone()
            .unwrap_or_else(|| request.headers.clone());
        self.store.data_mut().access_log = Some((forwarded_headers, response));
        self.call("proxy_on_log", &[id])?;
        self.store.data_mut().access_log = None;
        self.call("proxy_on_done", &[id])?;
        self.call("proxy_on_delete", &[id])?;
        exchange.calls = std::mem::take(&mut self.calls);
        Ok(exchange)
    }

    /// Envoy's `decodeData` for each chunk: the filter sees the chunk, or everything
    /// buffered since it first answered Pause; what it lets go is sent upstream.
    fn request_body(
        &mut self,
        id: i32,
        request: &Request,
        exchange: &mut Exchange,
    ) -> wasmtime::Result<()> {
        let mut buffered: Option<Vec<u8>> = None;
        let last = request.chunks.len().saturating_sub(1);
        for (i, chunk) in request.chunks.iter().enumerate() {
            let view = match buffered.take() {
                Some(mut b) => {
                    b.extend_from_slice(chunk);
                    if b.len() > self.buffer_limit {
                        exchange.local_reply = Some(413);
                        return Ok(());
                    }
                    b
                }
                None => chunk.clone(),
            };
            let end = i == last;
            let body_size = size(view.len());
            self.store.data_mut().request_body = Some(view);
            let result = self.call("proxy_on_request_body", &[id, body_size, i32::from(end)])?;
            let view = self
                .store
                .data_mut()
                .request_body
                .take()
                .unwrap_or_default();
            match result.unwrap_or(0) {
                0 => exchange.upstream_body.extend_from_slice(&view),
                1 if view.len() > self.buffer_limit => {
                    exchange.local_reply = Some(413);
                    return Ok(());
                }
                1 => buffered = Some(view),
                _ => buffered = None,
            }
            if end && result.unwrap_or(0) != 0 {
                exchange.stalled = true;
            }
        }
        Ok(())
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
        func.call(&mut self.store, &params, &mut results)?;
        let result = results.first().and_then(Val::i32);
        self.calls.push(Call {
            export,
            args: args.to_vec(),
            result,
        });
        Ok(result)
    }
}

fn size(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}
