//! A compiled core module (wasm32-wasip1), shared by the hosts that instantiate one per
//! filter or processor: Fluent Bit and otelwasm.

use wasmtime::{Engine, Module, Store};

/// The module and its engine; each host instantiates it in a store of its own.
pub struct Plugin {
    pub(crate) engine: Engine,
    pub(crate) module: Module,
    fuel: bool,
}

impl Plugin {
    pub fn new(wasm: &[u8]) -> wasmtime::Result<Plugin> {
        Self::build(wasm, false)
    }

    /// The module on an engine that meters fuel, so a test can make a guest call trap part
    /// way through (`trap_after` on the host's instance) as an out-of-memory abort would in
    /// the real host. Not a host setting.
    pub fn with_trap_injection(wasm: &[u8]) -> wasmtime::Result<Plugin> {
        Self::build(wasm, true)
    }

    fn build(wasm: &[u8], fuel: bool) -> wasmtime::Result<Plugin> {
        let mut config = wasmtime::Config::new();
        config.consume_fuel(fuel);
        // Only what both real hosts run: wazero (otelwasm) implements WebAssembly 2.0 and
        // no later proposal, WAMR's interpreter (Fluent Bit) builds without tail calls or
        // multiple memories. wasmtime enables these by default (threads are not built in
        // here), and a module that used one would load here and fail in the host.
        config
            .wasm_tail_call(false)
            .wasm_multi_memory(false)
            .wasm_relaxed_simd(false)
            .wasm_extended_const(false)
            .wasm_memory64(false);
        let engine = Engine::new(&config)?;
        let module = Module::new(&engine, wasm)?;
        Ok(Plugin {
            engine,
            module,
            fuel,
        })
    }

    /// A store for one instance; with trap injection, with unlimited fuel to begin with.
    pub(crate) fn store<T>(&self, data: T) -> wasmtime::Result<Store<T>> {
        let mut store = Store::new(&self.engine, data);
        if self.fuel {
            store.set_fuel(u64::MAX)?;
        }
        Ok(store)
    }
}
