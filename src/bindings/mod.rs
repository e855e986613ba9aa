//! Thin adapters from a host's calling convention to the core, one per host, each behind
//! its cargo feature. A binding parses its configuration once, holds the built processor,
//! and per call decodes, calls the core and encodes; no AWS or tracing rule lives here.
//!
//! - `component` (feature `component`): the WebAssembly component of `wit/relink.wit`,
//!   built for wasm32-wasip2 and loaded by wasmtime, jco and Python `wasmtime`.

#[cfg(feature = "component")]
pub mod component;
