//! Thin per-host adapters, each behind a cargo feature: they translate a host's calling
//! convention into calls on the core and hold no AWS or tracing rule.
//!
//! - `web` (feature `web`): wasm-bindgen API for the browser playground.

#[cfg(feature = "web")]
pub mod web;
#[cfg(any(feature = "web", test))]
pub mod web_session;
