//! relink-relay: an OTLP/HTTP relay that runs every trace export through the relink
//! WebAssembly component in wasmtime, then forwards it upstream and/or appends it to a
//! file. It is what `relink serve` runs; see this crate's README for the concurrency model.
//!
//! - [`options`]: the `relink serve` command line.
//! - [`component`]: the wasmtime embedding of `relink.wasm` (one processor, kept).
//! - [`otlp_http`]: OTLP/HTTP content types, bounded gzip, response bodies.
//! - [`export`]: one export request through the component and the sinks.
//! - [`sinks`]: the upstream endpoint and the OTLP/JSON lines file.
//! - [`metrics`]: relay counters, Prometheus text and the periodic log line.
//! - [`serve`]: the HTTP server, concurrency and graceful shutdown.
//! - [`site`]: the browser playground's files, served with `--playground`.
//! - [`tree`]: OTLP traces as indented trees, to show a trace before and after.
//! - [`cli`]: the `serve` and `tree` commands, shared by `relink` and `relink-relay`.

pub mod cli;
pub mod component;
pub mod export;
pub mod metrics;
pub mod options;
pub mod otlp_http;
pub mod serve;
pub mod sinks;
pub mod site;
pub mod tree;

pub use options::ServeOptions;
pub use serve::{serve, Relay, ServeError};
