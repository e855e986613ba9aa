//! Thin per-host adapters, each behind a cargo feature: they translate a host's calling
//! convention into calls on the core and hold no AWS or tracing rule. A binding parses its
//! configuration once, holds the built processor, and per call decodes, calls the core and
//! encodes.
//!
//! - `component` (feature `component`): the WebAssembly component of `wit/relink.wit`,
//!   built for wasm32-wasip2 and loaded by wasmtime, jco and Python `wasmtime`.
//! - `web` (feature `web`): wasm-bindgen API for the browser playground.

#[cfg(feature = "component")]
pub mod component;
#[cfg(feature = "web")]
pub mod web;
#[cfg(any(feature = "web", test))]
pub mod web_session;
