//! relink: repairs distributed traces broken by AWS managed services.
//!
//! A Lambda writes to S3 or DynamoDB, the write triggers another Lambda, and the trace
//! context is lost on the way; Step Functions executions are a black box between the
//! Lambdas they call. relink reads the evidence that survives (AWS event payloads, SDK
//! client spans, Step Functions execution records) and relinks the traces in the
//! telemetry pipeline. This crate is the host-independent core: bytes in, bytes out,
//! no I/O, no global state, no panics on input.
//!
//! - [`otlp`]: OTLP trace codecs (protobuf and OTLP/JSON).
//! - [`event`]: AWS event payloads decoded into a typed [`event::Trigger`].
//! - [`propagation`]: W3C, X-Ray and Datadog trace context formats and carriers.
//! - [`pointer`]: span pointers (S3 objects, DynamoDB items, messages) and their hashes.
//! - [`inferred`]: OTLP spans for a trigger, following the OTel semantic conventions.
//! - [`stepfn`]: Step Functions execution logs and history as spans, with deterministic ids.
//! - [`processor`]: the processor that joins producer and consumer spans.
//! - [`logs`]: the trace and span a Lambda or Step Functions log record belongs to.
//! - [`config`]: the one configuration every host shares, documented field by field.
//! - [`settings`]: a validated configuration compiled once for the processor.
//! - [`error`]: the error values every entry point returns.
//! - [`time`]: RFC 3339 timestamps; `json` (private): strict parsing and typed field reads.
//!
//! The host adapters (the component, Envoy, Fluent Bit, the otelwasm collector, the
//! browser) are crates of their own under `host-examples/`, each depending on this one.
//! No panic may be reachable from input (docs/THREAT_MODEL.md).

// The no-panic rules are the workspace's clippy lints (Cargo.toml, denied by
// tests/clippy.sh); unit tests may unwrap.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable
    )
)]

pub mod config;
pub mod error;
pub mod event;
pub mod inferred;
mod json;
pub mod logs;
pub mod otlp;
pub mod pointer;
pub mod processor;
pub mod propagation;
pub mod settings;
pub mod stepfn;
pub mod time;

pub use config::{Config, ConfigError};
pub use error::DecodeError;
pub use event::{decode_event, Trigger, TriggerKind};
pub use processor::{Counters, EventContext, Processed, Processor};
pub use settings::Settings;
