//! wasmtime hosts that load relink's wasm plugins the way their real hosts do, so each
//! binding's ABI is tested here, where the hosts themselves cannot be installed. Each
//! module names the host source it follows.
//!
//! - [`fluent_bit`]: Fluent Bit's `filter_wasm` (WAMR), JSON event format.
//! - [`otelwasm`]: the otelwasm collector's `wasm` processor (wazero).

pub mod fluent_bit;
pub mod otelwasm;
