//! The fault-injection suite: the relay as a real process between clients that send each
//! batch once and a loopback upstream that can be killed, slowed or made to refuse. Each
//! test asserts the delivery promise of the relay's README: every span of every batch
//! answered 2xx reaches the upstream once it is back (or the file, line-valid), every client
//! gets an answer, memory and connections stay bounded. Every wait is bounded, and flags
//! are short (retry delays of 100 ms, timeouts of seconds) so the suite takes about a
//! minute.

mod admission;
mod delivery;
mod durability;
mod outfile;
mod process;
mod sink;

use std::collections::HashSet;

use relink::otlp::ExportTraceServiceRequest;

/// Span ids of a request.
pub fn span_ids(request: &ExportTraceServiceRequest) -> HashSet<Vec<u8>> {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.span_id.clone())
        .collect()
}

/// Fast retries for tests: the Collector's defaults scaled down.
pub const FAST_RETRY: [&str; 6] = [
    "--retry-initial",
    "100ms",
    "--retry-max-interval",
    "500ms",
    "--retry-max-elapsed",
    "60s",
];
