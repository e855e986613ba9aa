//! Counters a host exposes (as metrics, a status endpoint, a log line): per call in
//! [`super::Processed`] and cumulative on the [`super::Processor`]. Serialized with serde
//! so every host prints the same names.

use serde::Serialize;

/// Everything relink counts. Gauges (`index`) are the state after the call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Requests processed (including those passed through on error).
    pub requests: u64,
    /// Requests returned byte-identical because nothing applied.
    pub requests_unchanged: u64,
    /// Binary requests with strings that are not UTF-8 (protobuf forbids them; prost and
    /// strict backends refuse the whole request), relinked and written with U+FFFD in
    /// place of each invalid sequence, as the OTLP specification recommends.
    pub requests_repaired: u64,
    pub spans_in: u64,
    /// Always equal to `spans_in`: relink never drops a span.
    pub spans_out: u64,
    /// Spans with any change (links, attributes, adoption).
    pub spans_changed: u64,
    pub links: LinkCounters,
    /// Consumer traces re-parented under a producer (new remap entries).
    pub traces_adopted: u64,
    /// Spans whose trace id adoption rewrote (this batch and later ones).
    pub spans_adopted: u64,
    pub errors: ErrorCounters,
    pub index: IndexGauges,
}

/// Links added, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinkCounters {
    /// Datadog span-pointer links.
    pub pointer: u64,
    /// Direct links on the same pointer hash or message id.
    pub exact: u64,
    /// Direct links on a request id: an S3 write's, or a Lambda `Invoke` call's.
    pub request_id: u64,
    /// Direct links on bucket and key alone.
    pub heuristic: u64,
    /// Links to contexts found in messages.
    pub context: u64,
    /// Links from Lambda invocations to the Step Functions state span that invoked them.
    pub deterministic: u64,
    /// Links from an adopted root to its original trace.
    pub adoption: u64,
    /// Links not added because the span reached `limits.max_links_per_span`.
    pub over_limit: u64,
}

/// Problems, by kind. None of them loses data. The `event_*` counters count event
/// attributes that could not be read and inputs the event entry point refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErrorCounters {
    /// Requests over `limits.max_request_bytes`, passed through.
    pub request_too_large: u64,
    /// Requests that are not OTLP (or gzip that does not inflate within
    /// `limits.max_decompressed_bytes`, or values nested deeper than `limits.max_nesting`),
    /// passed through.
    pub request_decode: u64,
    /// Event attributes over `limits.max_event_bytes` or `limits.max_nesting`, not read.
    pub event_too_large: u64,
    pub event_json: u64,
    /// Event attributes of no known AWS event shape (custom invocation payloads).
    pub event_unknown: u64,
    pub event_invalid: u64,
    pub dynamodb_keys: u64,
    pub dynamodb_key_schema: u64,
}

/// State sizes after the call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexGauges {
    pub entries: u64,
    pub evicted: u64,
    pub expired: u64,
    pub memory_bytes: u64,
    /// Adopted traces still being rewritten.
    pub remapped_traces: u64,
}

impl Counters {
    /// Adds a call's counts to the cumulative ones; gauges are replaced.
    pub fn add(&mut self, call: &Counters) {
        self.requests += call.requests;
        self.requests_unchanged += call.requests_unchanged;
        self.requests_repaired += call.requests_repaired;
        self.spans_in += call.spans_in;
        self.spans_out += call.spans_out;
        self.spans_changed += call.spans_changed;
        let (l, c) = (&mut self.links, &call.links);
        l.pointer += c.pointer;
        l.exact += c.exact;
        l.request_id += c.request_id;
        l.heuristic += c.heuristic;
        l.context += c.context;
        l.deterministic += c.deterministic;
        l.adoption += c.adoption;
        l.over_limit += c.over_limit;
        self.traces_adopted += call.traces_adopted;
        self.spans_adopted += call.spans_adopted;
        let (e, c) = (&mut self.errors, &call.errors);
        e.request_too_large += c.request_too_large;
        e.request_decode += c.request_decode;
        e.event_too_large += c.event_too_large;
        e.event_json += c.event_json;
        e.event_unknown += c.event_unknown;
        e.event_invalid += c.event_invalid;
        e.dynamodb_keys += c.dynamodb_keys;
        e.dynamodb_key_schema += c.dynamodb_key_schema;
        self.index = call.index.clone();
    }

    pub(crate) fn problem(&mut self, p: super::claims::Problem) {
        use super::claims::Problem;
        let e = &mut self.errors;
        match p {
            Problem::EventTooLarge => e.event_too_large += 1,
            Problem::EventJson => e.event_json += 1,
            Problem::EventUnknown => e.event_unknown += 1,
            Problem::EventInvalid => e.event_invalid += 1,
            Problem::DynamodbKeys => e.dynamodb_keys += 1,
            Problem::DynamodbKeySchema => e.dynamodb_key_schema += 1,
        }
    }

    pub(crate) fn link(&mut self, kind: super::links::LinkKind) {
        use super::key::Match;
        use super::links::LinkKind;
        let l = &mut self.links;
        match kind {
            LinkKind::Pointer => l.pointer += 1,
            LinkKind::Direct(Match::Exact) => l.exact += 1,
            LinkKind::Direct(Match::RequestId) => l.request_id += 1,
            LinkKind::Direct(Match::Heuristic) => l.heuristic += 1,
            LinkKind::Direct(Match::Context) | LinkKind::Context => l.context += 1,
            LinkKind::State => l.deterministic += 1,
            LinkKind::Adoption => l.adoption += 1,
        }
    }
}
