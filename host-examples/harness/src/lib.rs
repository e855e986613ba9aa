//! Test hosts for relink's WebAssembly plugins.
//!
//! The hosts themselves (Envoy, Fluent Bit, the OpenTelemetry Collector) cannot run here, so
//! each module implements its host's side of the ABI on wasmtime, following that host's
//! source: the imports it provides, the order it calls the exports in, how it moves bytes
//! in and out of guest memory. Tests replay requests through the built plugins in `dist/`
//! and compare the result with the native core.
//!
//! - [`envoy`]: proxy-wasm ABI 0.2.1 as Envoy's proxy-wasm-cpp-host implements it.

pub mod envoy;
