//! The relay's own counters and the text forms of all counters: the Prometheus exposition
//! format for `/metrics` and one `key=value` line for the periodic log.
//!
//! The component's counters arrive with dotted names (`links.pointer`); Prometheus names allow
//! only `[a-zA-Z0-9_]`, so dots become underscores under a `relink_` prefix, and counters
//! get the conventional `_total` suffix.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::component::{Counter, CounterKind};

/// Counters kept by the relay itself (the component keeps the relinking ones).
#[derive(Default)]
pub struct RelayMetrics {
    responses: Mutex<BTreeMap<u16, u64>>,
    request_bytes: AtomicU64,
    passed_through: AtomicU64,
    upstream_errors: AtomicU64,
    file_lines: AtomicU64,
    file_errors: AtomicU64,
    upstream_delivered: AtomicU64,
    retries: AtomicU64,
    spooled: AtomicU64,
    replayed: AtomicU64,
    spool_torn: AtomicU64,
    upstream_partial: AtomicU64,
    upstream_rejected_spans: AtomicU64,
    /// Requests answered 503/429 by back-pressure, by reason.
    refused: Mutex<BTreeMap<&'static str, u64>>,
    /// Acknowledged batches an output gave up, by `(output, reason)`.
    dropped: Mutex<BTreeMap<(String, String), u64>>,
    /// Requests by protocol: `http1`, `http2` (OTLP/HTTP and the other routes), `grpc`.
    requests: Mutex<BTreeMap<&'static str, u64>>,
    /// gRPC answers by status name.
    grpc_responses: Mutex<BTreeMap<&'static str, u64>>,
    tls_handshake_failures: AtomicU64,
    /// Nanoseconds inside component calls, and waiting for the component's lock: every
    /// batch is planned and applied by the one instance that holds the state, so a busy
    /// rate near one second per second is the relay's ceiling.
    component_busy_nanos: AtomicU64,
    component_wait_nanos: AtomicU64,
    /// Reading evidence ahead on the other instances (`--readers`) while the one holding
    /// the state was busy: requests, and the instances' time.
    prepared: AtomicU64,
    prepare_nanos: AtomicU64,
}

/// One relay event worth counting.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// A request body of this many bytes (after inflation) reached the component.
    RequestBytes(u64),
    /// The component could not process a request, so it went on unchanged.
    PassedThrough,
    UpstreamError,
    FileLine,
    FileError,
    /// The upstream accepted a batch (2xx).
    UpstreamDelivered,
    /// An upstream attempt failed and the batch will be sent again.
    Retry,
    /// A batch was made durable in the spool.
    Spooled,
    /// Batches read back from the spool at start.
    Replayed(u64),
    /// Spool segment tails torn, and damaged records, skipped at start.
    SpoolTorn(u64),
    /// A TLS handshake failed or timed out (an untrusted certificate, none under mTLS).
    TlsHandshakeFailed,
    /// The upstream accepted a batch with a partial success (OTLP `partial_success`).
    UpstreamPartial,
    /// Spans the upstream said it rejected in a partial success.
    UpstreamRejectedSpans(u64),
    /// Nanoseconds a component call ran.
    ComponentBusy(u64),
    /// Nanoseconds a request waited for the component's lock.
    ComponentWait(u64),
    /// A request's evidence was read ahead on a reader instance, in this many nanoseconds.
    Prepared(u64),
}

impl RelayMetrics {
    /// Counts one HTTP response by status code.
    pub fn response(&self, status: u16) {
        if let Ok(mut map) = self.responses.lock() {
            *map.entry(status).or_default() += 1;
        }
    }

    pub fn count(&self, event: Event) {
        let (cell, by) = match event {
            Event::RequestBytes(n) => (&self.request_bytes, n),
            Event::PassedThrough => (&self.passed_through, 1),
            Event::UpstreamError => (&self.upstream_errors, 1),
            Event::FileLine => (&self.file_lines, 1),
            Event::FileError => (&self.file_errors, 1),
            Event::UpstreamDelivered => (&self.upstream_delivered, 1),
            Event::Retry => (&self.retries, 1),
            Event::Spooled => (&self.spooled, 1),
            Event::Replayed(n) => (&self.replayed, n),
            Event::SpoolTorn(n) => (&self.spool_torn, n),
            Event::TlsHandshakeFailed => (&self.tls_handshake_failures, 1),
            Event::UpstreamPartial => (&self.upstream_partial, 1),
            Event::UpstreamRejectedSpans(n) => (&self.upstream_rejected_spans, n),
            Event::ComponentBusy(n) => (&self.component_busy_nanos, n),
            Event::ComponentWait(n) => (&self.component_wait_nanos, n),
            Event::Prepared(n) => {
                self.prepared.fetch_add(1, Ordering::Relaxed);
                (&self.prepare_nanos, n)
            }
        };
        cell.fetch_add(by, Ordering::Relaxed);
    }

    /// A request received, by protocol.
    pub fn request(&self, protocol: &'static str) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry(protocol).or_default() += 1;
        }
    }

    /// A gRPC answer, by status name.
    pub fn grpc_response(&self, code: &'static str) {
        if let Ok(mut map) = self.grpc_responses.lock() {
            *map.entry(code).or_default() += 1;
        }
    }

    /// A request refused by back-pressure (503/429 with `Retry-After`).
    pub fn refused(&self, reason: &'static str) {
        if let Ok(mut map) = self.refused.lock() {
            *map.entry(reason).or_default() += 1;
        }
    }

    /// An acknowledged batch `output` gave up on.
    pub fn dropped(&self, output: &str, reason: &str) {
        if let Ok(mut map) = self.dropped.lock() {
            *map.entry((output.to_string(), reason.to_string()))
                .or_default() += 1;
        }
    }

    /// Batches dropped so far, all outputs and reasons.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.lock().map(|m| m.values().sum()).unwrap_or(0)
    }

    /// The relay's counters as `(prometheus name, value)`, responses excluded.
    fn scalars(&self, restarts: u64) -> [(&'static str, u64); 15] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("relink_relay_request_bytes_total", get(&self.request_bytes)),
            (
                "relink_relay_passed_through_total",
                get(&self.passed_through),
            ),
            (
                "relink_relay_upstream_errors_total",
                get(&self.upstream_errors),
            ),
            ("relink_relay_file_lines_total", get(&self.file_lines)),
            ("relink_relay_file_errors_total", get(&self.file_errors)),
            ("relink_relay_component_restarts_total", restarts),
            (
                "relink_relay_upstream_delivered_total",
                get(&self.upstream_delivered),
            ),
            ("relink_relay_upstream_retries_total", get(&self.retries)),
            ("relink_relay_spooled_total", get(&self.spooled)),
            ("relink_relay_replayed_total", get(&self.replayed)),
            ("relink_relay_spool_torn_total", get(&self.spool_torn)),
            (
                "relink_relay_tls_handshake_failures_total",
                get(&self.tls_handshake_failures),
            ),
            (
                "relink_relay_upstream_partial_success_total",
                get(&self.upstream_partial),
            ),
            (
                "relink_relay_upstream_rejected_spans_total",
                get(&self.upstream_rejected_spans),
            ),
            ("relink_relay_prepared_total", get(&self.prepared)),
        ]
    }

    fn responses(&self) -> BTreeMap<u16, u64> {
        self.responses.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The Prometheus text exposition of the relay's and the component's counters, and
    /// the relay's gauges (queue and spool sizes) as `(name, value)`.
    pub fn prometheus(
        &self,
        component: &[Counter],
        restarts: u64,
        gauges: &[(&str, u64)],
    ) -> String {
        let mut out = String::new();
        let responses = self.responses();
        let _ = writeln!(out, "# TYPE relink_relay_responses_total counter");
        for (code, n) in &responses {
            let _ = writeln!(out, "relink_relay_responses_total{{code=\"{code}\"}} {n}");
        }
        for (name, value) in self.scalars(restarts) {
            let _ = writeln!(out, "# TYPE {name} counter\n{name} {value}");
        }
        let _ = writeln!(out, "# TYPE relink_relay_refused_total counter");
        for (reason, n) in self.refused.lock().map(|m| m.clone()).unwrap_or_default() {
            let _ = writeln!(out, "relink_relay_refused_total{{reason=\"{reason}\"}} {n}");
        }
        let _ = writeln!(out, "# TYPE relink_relay_dropped_total counter");
        let dropped = self.dropped.lock().map(|m| m.clone()).unwrap_or_default();
        for ((output, reason), n) in dropped {
            let _ = writeln!(
                out,
                "relink_relay_dropped_total{{output=\"{output}\",reason=\"{reason}\"}} {n}"
            );
        }
        for (name, label, map) in [
            ("relink_relay_requests_total", "protocol", &self.requests),
            (
                "relink_relay_grpc_responses_total",
                "grpc_code",
                &self.grpc_responses,
            ),
        ] {
            let _ = writeln!(out, "# TYPE {name} counter");
            for (value, n) in map.lock().map(|m| m.clone()).unwrap_or_default() {
                let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
            }
        }
        for (name, nanos) in [
            (
                "relink_relay_component_seconds_total",
                &self.component_busy_nanos,
            ),
            (
                "relink_relay_component_wait_seconds_total",
                &self.component_wait_nanos,
            ),
            ("relink_relay_prepare_seconds_total", &self.prepare_nanos),
        ] {
            let nanos = nanos.load(Ordering::Relaxed);
            let (s, ns) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
            let _ = writeln!(out, "# TYPE {name} counter\n{name} {s}.{ns:09}");
        }
        for (name, value) in gauges {
            let _ = writeln!(out, "# TYPE {name} gauge\n{name} {value}");
        }
        for counter in component {
            let (name, kind) = prometheus_name(counter);
            let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {}", counter.value);
        }
        out
    }

    /// One log line: `responses=N` (HTTP answers) then every component counter as
    /// `name=value`.
    pub fn log_line(&self, component: &[Counter]) -> String {
        let responses: u64 = self.responses().values().sum();
        let mut line = format!("relink: responses={responses}");
        for counter in component {
            let _ = write!(line, " {}={}", counter.name, counter.value);
        }
        line
    }
}

/// `links.pointer` (counter) -> `relink_links_pointer_total`; `index.entries` (gauge) ->
/// `relink_index_entries`.
fn prometheus_name(counter: &Counter) -> (String, &'static str) {
    let mut name = String::from("relink_");
    name.extend(counter.name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        }
    }));
    match counter.kind {
        CounterKind::Counter => (name + "_total", "counter"),
        CounterKind::Gauge => (name, "gauge"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_and_log_line() {
        let metrics = RelayMetrics::default();
        metrics.response(200);
        metrics.response(200);
        metrics.response(413);
        metrics.count(Event::RequestBytes(10));
        metrics.count(Event::FileLine);
        metrics.refused("queue_full");
        metrics.dropped("upstream", "status_400");
        metrics.request("grpc");
        metrics.grpc_response("UNAVAILABLE");
        metrics.count(Event::ComponentBusy(1_500_000_000));
        metrics.count(Event::ComponentBusy(2_000_000));
        metrics.count(Event::ComponentWait(7));
        metrics.count(Event::Prepared(250_000_000));
        let component = [
            Counter {
                name: "links.pointer".into(),
                kind: CounterKind::Counter,
                value: 7,
            },
            Counter {
                name: "index.entries".into(),
                kind: CounterKind::Gauge,
                value: 3,
            },
        ];
        assert_eq!(
            metrics.prometheus(&component, 1, &[("relink_relay_queue_bytes", 5)]),
            "# TYPE relink_relay_responses_total counter
relink_relay_responses_total{code=\"200\"} 2
relink_relay_responses_total{code=\"413\"} 1
# TYPE relink_relay_request_bytes_total counter
relink_relay_request_bytes_total 10
# TYPE relink_relay_passed_through_total counter
relink_relay_passed_through_total 0
# TYPE relink_relay_upstream_errors_total counter
relink_relay_upstream_errors_total 0
# TYPE relink_relay_file_lines_total counter
relink_relay_file_lines_total 1
# TYPE relink_relay_file_errors_total counter
relink_relay_file_errors_total 0
# TYPE relink_relay_component_restarts_total counter
relink_relay_component_restarts_total 1
# TYPE relink_relay_upstream_delivered_total counter
relink_relay_upstream_delivered_total 0
# TYPE relink_relay_upstream_retries_total counter
relink_relay_upstream_retries_total 0
# TYPE relink_relay_spooled_total counter
relink_relay_spooled_total 0
# TYPE relink_relay_replayed_total counter
relink_relay_replayed_total 0
# TYPE relink_relay_spool_torn_total counter
relink_relay_spool_torn_total 0
# TYPE relink_relay_tls_handshake_failures_total counter
relink_relay_tls_handshake_failures_total 0
# TYPE relink_relay_upstream_partial_success_total counter
relink_relay_upstream_partial_success_total 0
# TYPE relink_relay_upstream_rejected_spans_total counter
relink_relay_upstream_rejected_spans_total 0
# TYPE relink_relay_prepared_total counter
relink_relay_prepared_total 1
# TYPE relink_relay_refused_total counter
relink_relay_refused_total{reason=\"queue_full\"} 1
# TYPE relink_relay_dropped_total counter
relink_relay_dropped_total{output=\"upstream\",reason=\"status_400\"} 1
# TYPE relink_relay_requests_total counter
relink_relay_requests_total{protocol=\"grpc\"} 1
# TYPE relink_relay_grpc_responses_total counter
relink_relay_grpc_responses_total{grpc_code=\"UNAVAILABLE\"} 1
# TYPE relink_relay_component_seconds_total counter
relink_relay_component_seconds_total 1.502000000
# TYPE relink_relay_component_wait_seconds_total counter
relink_relay_component_wait_seconds_total 0.000000007
# TYPE relink_relay_prepare_seconds_total counter
relink_relay_prepare_seconds_total 0.250000000
# TYPE relink_relay_queue_bytes gauge
relink_relay_queue_bytes 5
# TYPE relink_links_pointer_total counter
relink_links_pointer_total 7
# TYPE relink_index_entries gauge
relink_index_entries 3
"
        );
        assert_eq!(
            metrics.log_line(&component),
            "relink: responses=3 links.pointer=7 index.entries=3"
        );
    }
}
