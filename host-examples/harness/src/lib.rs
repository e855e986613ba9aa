//! wasmtime hosts that load relink's wasm plugins the way their real hosts do, so each
//! binding's ABI is tested here, where the hosts themselves cannot be installed. Each
//! module names the host source it follows: the imports it provides, the order it calls the
//! exports in, how it moves bytes in and out of guest memory.
//!
//! - [`envoy`]: Envoy's proxy-wasm ABI 0.2.1 (proxy-wasm-cpp-host, V8).
//! - [`fluent_bit`]: Fluent Bit's `filter_wasm` (WAMR), JSON event format.
//! - [`otelwasm`]: the otelwasm collector's `wasm` processor (wazero).
//! - [`testing`]: what the hosts' tests share (artifacts, golden cases, the native answer).
//!
//! The tests that drive each host live in that host's folder (`host-examples/<host>/tests`);
//! this crate is the shared wasmtime pieces they stand on.

pub mod envoy;
pub mod fluent_bit;
pub mod otelwasm;
pub mod plugin;
pub mod testing;
