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
//! - [`relink`]: the processor that joins producer and consumer spans.
//! - [`logs`]: the trace and span a Lambda or Step Functions log record belongs to.
//! - [`config`]: the one configuration every host shares; builds the processor.
//! - [`bindings`]: thin per-host adapters, each behind a cargo feature.
//! - [`error`]: the error values every entry point returns.
//! - [`bindings`]: per-host adapters (the WebAssembly component), each behind a feature.
//!
//! No panic may be reachable from input, so the lints below are denied outside tests
//! (`tests/clippy.sh` runs them; see docs/THREAT_MODEL.md).

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::get_unwrap,
        clippy::unwrap_in_result,
        clippy::panic_in_result_fn,
        clippy::exit,
        clippy::dbg_macro,
        clippy::print_stdout,
        clippy::print_stderr
    )
)]

pub mod bindings;
pub mod config;
pub mod error;
pub mod event;
pub mod inferred;
pub mod logs;
pub mod otlp;
pub mod pointer;
pub mod propagation;
pub mod relink;
pub mod stepfn;
mod strict_json;

pub use error::DecodeError;
pub use event::{decode_event, Trigger, TriggerKind};
