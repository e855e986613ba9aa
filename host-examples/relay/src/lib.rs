//! relink-relay: an OTLP/HTTP and OTLP/gRPC relay that runs every trace export through the
//! relink WebAssembly component in wasmtime, then exports it upstream and/or appends it to a
//! file. It is what `relink serve` runs; see this crate's README for the concurrency model.
//!
//! - [`options`]: the `relink serve` command line; [`relay_config`]: the same as a file.
//! - [`upstream_config`], [`otlp_env`]: the exporter's flags and `OTEL_EXPORTER_OTLP_*`.
//! - [`component`]: the wasmtime embedding of `relink.wasm` (one processor, kept).
//! - [`otlp_http`]: OTLP/HTTP content types, bounded gzip, response bodies.
//! - [`admission`]: the budget of request bytes in flight and the body deadline.
//! - [`connections`]: accepting within a connection cap, timeouts, idle eviction, TLS,
//!   HTTP/1.1 and HTTP/2.
//! - [`grpc`]: gRPC status codes, framing and `RetryInfo`; [`grpc::receiver`] serves
//!   OTLP/gRPC.
//! - [`rpc_status`]: `google.rpc.Status` with `RetryInfo` and `BadRequest`, the error body
//!   of both protocols.
//! - [`tls`], [`auth`]: the receivers' TLS/mTLS and bearer token, reloaded on SIGHUP.
//! - [`routes`]: the HTTP routes, `/health` and `/ready`.
//! - [`export`]: one export request through the component to the outputs.
//! - [`delivery`]: the outputs and the acknowledgement rule (queued, or spooled, = 2xx).
//! - [`queue`]: the byte-bounded sending queue of each output.
//! - [`sender`], [`retry`], [`upstream`]: upstream delivery, OTLP retry rules, one attempt
//!   (OTLP/HTTP or OTLP/gRPC); [`upstream_tls`]: rustls toward the upstream.
//! - [`spool`]: the persistent spool (segments, checksums, group commit, replay).
//! - [`outfile`]: the `--out` file (whole lines, truncate on failure, SIGHUP reopen).
//! - [`memory`]: allocator settings that keep large buffers from staying resident.
//! - [`metrics`]: relay counters, Prometheus text and the periodic log line.
//! - [`serve`]: the relay process: start, signals and the shutdown order.
//! - [`site`]: the browser playground's files, served with `--playground`.
//! - [`tree`]: OTLP traces as indented trees, to show a trace before and after.
//! - [`cli`]: the `serve` and `tree` commands, shared by `relink` and `relink-relay`.

pub mod admission;
pub mod auth;
pub mod cli;
pub mod codings;
pub mod component;
pub mod connections;
pub mod delivery;
pub mod export;
pub mod grpc;
pub mod memory;
pub mod metrics;
pub mod options;
pub mod otlp_env;
pub mod otlp_http;
pub mod outfile;
pub mod queue;
pub mod relay_config;
pub mod retry;
pub mod routes;
pub mod rpc_status;
pub mod sender;
pub mod serve;
pub mod site;
pub mod spool;
pub mod tls;
pub mod tree;
pub mod upstream;
pub mod upstream_config;
pub mod upstream_tls;

pub use options::ServeOptions;
pub use serve::{serve, Relay, ServeError};
