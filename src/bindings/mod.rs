//! Thin per-host adapters, each behind its own cargo feature and built for its host's
//! target. A binding translates its host's calling convention into calls on the core
//! (config in, processor built once, bytes in and out) and holds no AWS or tracing rule.
//!
//! - `envoy` (feature `envoy`, wasm32-wasip1): Envoy HTTP filter over proxy-wasm ABI 0.2.1.

#[cfg(all(feature = "envoy", target_os = "wasi"))]
mod envoy;
