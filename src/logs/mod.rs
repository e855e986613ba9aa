//! Log enrichment: the trace and span a Lambda or Step Functions log record belongs to,
//! so a log shipper can stamp `trace_id` and `span_id` (W3C hex, the OpenTelemetry log
//! data model's names) on it and a backend can jump from a span to its logs.
//!
//! Where the ids come from, in order:
//! 1. A Step Functions execution log line (the record itself, or a JSON line under `log`
//!    or `message`): the deterministic ids of the span relink builds for it
//!    ([`crate::stepfn::log_record_ids`]).
//! 2. What a Lambda record states itself ([`lambda::context`]): X-Ray ids converted to W3C.
//! 3. The record's Lambda request id, when an earlier record of the same invocation stated
//!    its trace (a `platform.start` event comes before the function's own lines, which
//!    carry only the request id). The [`Enricher`] remembers a bounded number of requests.
//!
//! A record that already has a `trace_id` is left alone, and so is one with no evidence.

pub mod lambda;

#[cfg(test)]
mod tests;

pub use lambda::Context;

use crate::error::DecodeError;
use crate::propagation::{SpanId, TraceId};
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};

/// Where a record's ids came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Step Functions execution log line: the ids of its state or execution span.
    StepFunctions,
    /// The record's own trace header, tracing field or REPORT line.
    Record,
    /// An earlier record of the same Lambda request.
    RequestId,
}

/// The ids of one log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub trace_id: TraceId,
    /// `None` when the evidence names only the trace (a bare X-Ray root).
    pub span_id: Option<SpanId>,
    pub source: Source,
}

/// Finds the ids of log records, remembering the trace of recent Lambda requests.
#[derive(Debug, Clone, Default)]
pub struct Enricher {
    requests: HashMap<String, Context>,
    order: VecDeque<String>,
    max_requests: usize,
}

/// Request ids are UUIDs; anything longer is not one and is not remembered.
const MAX_REQUEST_ID: usize = 64;

impl Enricher {
    /// `max_requests` bounds the request ids remembered (oldest forgotten first); 0
    /// remembers none.
    pub fn new(max_requests: usize) -> Enricher {
        Enricher {
            requests: HashMap::new(),
            order: VecDeque::new(),
            max_requests,
        }
    }

    /// Request ids currently remembered.
    pub fn remembered(&self) -> usize {
        self.requests.len()
    }

    /// The ids of a record given as a JSON object and its text.
    pub fn ids(&mut self, record: &Map<String, Value>, text: &str) -> Option<Ids> {
        if let Some((trace_id, span_id)) = step_functions(record, text) {
            return Some(Ids {
                trace_id,
                span_id: Some(span_id),
                source: Source::StepFunctions,
            });
        }
        if let Some(ctx) = lambda::context(record) {
            if let Some(id) = lambda::request_id(record) {
                self.remember(id, ctx);
            }
            return Some(Ids {
                trace_id: ctx.trace_id,
                span_id: ctx.span_id,
                source: Source::Record,
            });
        }
        let ctx = self.requests.get(lambda::request_id(record)?)?;
        Some(Ids {
            trace_id: ctx.trace_id,
            span_id: ctx.span_id,
            source: Source::RequestId,
        })
    }

    /// Enriches a record given as JSON object text: `Ok(Some(text))` with `trace_id` and
    /// `span_id` appended, `Ok(None)` when the record has a `trace_id` already or no ids.
    /// The rest of the text is kept byte for byte (key order, number formats, escapes).
    pub fn enrich_json(&mut self, text: &str) -> Result<Option<String>, DecodeError> {
        let record: Map<String, Value> =
            serde_json::from_str(text).map_err(|e| DecodeError::Json {
                input: "log record",
                message: e.to_string(),
            })?;
        self.enrich_record(&record, text)
    }

    /// [`Enricher::enrich_json`] for a record its caller has parsed already (`record` is
    /// `text` parsed as an object), so a host that reads the record itself does not pay
    /// for a second parse.
    pub fn enrich_record(
        &mut self,
        record: &Map<String, Value>,
        text: &str,
    ) -> Result<Option<String>, DecodeError> {
        if record.contains_key("trace_id") {
            return Ok(None);
        }
        let Some(ids) = self.ids(record, text) else {
            return Ok(None);
        };
        let mut added = format!("\"trace_id\":\"{}\"", ids.trace_id.to_hex());
        if let Some(span_id) = ids.span_id.filter(|_| !record.contains_key("span_id")) {
            added.push_str(&format!(",\"span_id\":\"{}\"", span_id.to_hex()));
        }
        // A parsed object's text ends with `}` once trailing whitespace is trimmed.
        let body = text
            .trim_end()
            .strip_suffix('}')
            .ok_or_else(|| DecodeError::Json {
                input: "log record",
                message: "not a JSON object".into(),
            })?;
        let separator = if record.is_empty() { "" } else { "," };
        Ok(Some(format!("{body}{separator}{added}}}")))
    }

    /// [`Enricher::enrich_json`] on bytes as a host hands them over: a record that is not
    /// UTF-8 is the same `log record` JSON error as any other unreadable record.
    pub fn enrich_bytes(&mut self, bytes: &[u8]) -> Result<Option<String>, DecodeError> {
        let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::Json {
            input: "log record",
            message: e.to_string(),
        })?;
        self.enrich_json(text)
    }

    fn remember(&mut self, request_id: &str, ctx: Context) {
        if self.max_requests == 0 || request_id.len() > MAX_REQUEST_ID {
            return;
        }
        if let Some(known) = self.requests.get_mut(request_id) {
            *known = ctx;
            return;
        }
        self.requests.insert(request_id.to_string(), ctx);
        self.order.push_back(request_id.to_string());
        while self.order.len() > self.max_requests {
            if let Some(oldest) = self.order.pop_front() {
                self.requests.remove(&oldest);
            }
        }
    }
}

/// The ids of a Step Functions execution log line: the record itself, or a line of text
/// in one of its text fields.
fn step_functions(record: &Map<String, Value>, text: &str) -> Option<(TraceId, SpanId)> {
    if record.contains_key("execution_arn") {
        return crate::stepfn::log_record_ids(text);
    }
    lambda::TEXT_FIELDS
        .iter()
        .filter_map(|key| record.get(*key).and_then(Value::as_str))
        .filter(|line| line.trim_start().starts_with('{') && line.contains("\"execution_arn\""))
        .find_map(crate::stepfn::log_record_ids)
}
