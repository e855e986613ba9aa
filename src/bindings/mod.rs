//! Thin per-host adapters, each behind a cargo feature: they translate a host's calling
//! convention into calls on the core and hold no AWS or tracing rule. A binding parses its
//! configuration once, holds the built processor, and per call decodes, calls the core and
//! encodes.
//!
//! - `component` (feature `component`): the WebAssembly component of `wit/relink.wit`,
//!   built for wasm32-wasip2 and loaded by wasmtime, jco and Python `wasmtime`.
//! - `web` (feature `web`): wasm-bindgen API for the browser playground.
//! - `fluent_bit` (feature `fluent-bit`): Fluent Bit's `filter_wasm`, JSON events (plain
//!   Rust, so it also builds natively for the fuzzer).
//! - `otelwasm` (feature `otelwasm`, wasm only): the otelwasm collector's `wasm` processor.
//!
//! The Envoy filter is its own crate, `host-examples/envoy/` (`relink-envoy`).

#[cfg(feature = "component")]
pub mod component;
#[cfg(feature = "fluent-bit")]
pub mod fluent_bit;
#[cfg(all(feature = "otelwasm", target_family = "wasm"))]
pub mod otelwasm;
#[cfg(feature = "web")]
pub mod web;
#[cfg(any(feature = "web", test))]
pub mod web_session;
