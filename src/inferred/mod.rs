//! Inferred spans: for a decoded [`Trigger`](crate::event::Trigger), the OTLP span(s) that
//! stand for the managed service's part of the trace (the queue holding the message, the
//! bucket emitting the notification, the API receiving the request). Without them the
//! function's trace starts from nothing; with them it starts at the service, parented
//! under or linked to the producer.
//!
//! - [`options`] holds [`InferOptions`].
//! - [`request`] holds [`infer_spans`] and [`infer_request`].
//! - `assemble` builds what every span shares: ids, parent, links, times, nested payloads.
//! - `http`, `messaging`, `storage` and `logs` give each family's name, kind, attributes.
//! - [`ids`] documents the deterministic id rule.
//!
#![doc = include_str!("conventions.md")]

mod assemble;
mod attrs;
mod family;
mod http;
pub mod ids;
mod logs;
mod messaging;
pub mod options;
pub mod request;
mod shape;
mod storage;

#[cfg(test)]
mod tests;

pub use options::InferOptions;
pub use request::{infer_request, infer_spans, SCHEMA_URL, SCOPE_NAME};
