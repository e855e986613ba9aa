//! One `POST /v1/traces`, from request headers and body to the reply: negotiate the
//! encoding, inflate the body (bounded), run the component (the only step under the
//! lock), hand the result to the outputs ([`crate::delivery`]), and build the OTLP/HTTP
//! answer.
//!
//! Failure policy: a body that is not OTLP gets 400 and goes nowhere. Any other component
//! failure (a limit, a trap) forwards the input unchanged, because relink never loses data,
//! and says so in the response's `partial_success.error_message`.

use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant, SystemTime};

use std::sync::Arc;

use relink::otlp::Encoding;

use crate::component::{self, CallError, ComponentError, Relinker};
use crate::delivery::Outputs;
use crate::metrics::{Event, RelayMetrics};
use crate::otlp_http::{self, BodyError};
use crate::rpc_status::{Any, Status};

/// An HTTP answer, independent of the server library.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// `Retry-After` (seconds or an HTTP date) for 429/503 answers.
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn status(status: u16, encoding: Encoding, message: &str) -> Reply {
        let mut body = Status::new(message);
        // OTLP: the details of a 400 SHOULD hold a BadRequest that describes the bad data.
        if status == 400 {
            body.details.push(Any::bad_request(message));
        }
        Reply {
            status,
            content_type: encoding.content_type().to_string(),
            retry_after: None,
            body: otlp_http::encode_status(encoding, &body),
        }
    }

    /// A back-pressure answer: 503 with `Retry-After: seconds`.
    pub fn busy(encoding: Encoding, seconds: u32, message: &str) -> Reply {
        Reply {
            retry_after: Some(seconds.to_string()),
            ..Reply::status(503, encoding, message)
        }
    }
}

/// What the handler needs, shared by every worker.
pub struct Pipeline {
    /// The instance that holds the pipeline's state (index, remap table, counters).
    pub relinker: Mutex<Relinker>,
    /// Instances that read a request's evidence ahead while `relinker` is busy, so that it
    /// only plans and applies (`prepare-traces`); they hold no state. Empty: none.
    pub readers: Vec<Mutex<Relinker>>,
    pub outputs: Outputs,
    pub metrics: Arc<RelayMetrics>,
    pub max_body: usize,
}

/// The request facts the handler reads; `body` as received (at most the limit, maybe gzip).
pub struct ExportRequest<'a> {
    pub encoding: Encoding,
    pub content_encoding: Option<&'a str>,
    pub body: Vec<u8>,
}

impl Pipeline {
    /// The body encoding a `Content-Type` announces, or the 415 answer (checked before the
    /// body is read).
    pub fn negotiate(content_type: Option<&str>) -> Result<Encoding, Reply> {
        content_type.and_then(Encoding::from_content_type).ok_or_else(|| {
            let message = format!(
                "content-type `{}` is not supported: use application/x-protobuf or application/json",
                content_type.unwrap_or("")
            );
            Reply::status(415, Encoding::Protobuf, &message)
        })
    }

    /// Handles one export request whose encoding was negotiated.
    pub fn export(&self, request: ExportRequest<'_>) -> Reply {
        let encoding = request.encoding;
        let body =
            match otlp_http::decode_body(request.body, request.content_encoding, self.max_body) {
                Ok(body) => body,
                Err(BodyError::TooLarge(m)) => return Reply::status(413, encoding, &m),
                Err(BodyError::UnsupportedEncoding(m)) => return Reply::status(415, encoding, &m),
                Err(BodyError::BadCoding(m)) => return Reply::status(400, encoding, &m),
            };
        self.metrics.count(Event::RequestBytes(body.len() as u64));

        let (relinked, warning) = match self.relink(&body, encoding) {
            Ok(Some(out)) => (out, String::new()),
            // Nothing to relink: forward the body as it came (as inflated).
            Ok(None) => (body, String::new()),
            Err(CallError::Component(ComponentError::Decode(m))) => {
                return Reply::status(400, encoding, &m)
            }
            Err(other) => {
                self.metrics.count(Event::PassedThrough);
                (
                    body,
                    format!("relink passed this request through unchanged: {other}"),
                )
            }
        };
        self.deliver(encoding, relinked, warning)
    }

    /// Handles one `POST /v1/events`: a raw AWS payload (a Lambda trigger event, Step
    /// Functions execution log lines or history, CloudWatch Logs subscription data) becomes
    /// spans (OTLP/JSON) that go on like an export. A payload relink cannot read is a 400:
    /// there are no spans to forward.
    pub fn event(&self, request: ExportRequest<'_>) -> Reply {
        let body =
            match otlp_http::decode_body(request.body, request.content_encoding, self.max_body) {
                Ok(body) => body,
                Err(BodyError::TooLarge(m)) => return Reply::status(413, Encoding::Json, &m),
                Err(BodyError::UnsupportedEncoding(m)) => {
                    return Reply::status(415, Encoding::Json, &m)
                }
                Err(BodyError::BadCoding(m)) => return Reply::status(400, Encoding::Json, &m),
            };
        self.metrics.count(Event::RequestBytes(body.len() as u64));
        let spans = self.timed(|relinker| relinker.process_event(&body, None, now_unix_nano()));
        let spans = match spans {
            Ok(spans) => spans,
            Err(e) => return Reply::status(400, Encoding::Json, &format!("relink: {e}")),
        };
        self.deliver(Encoding::Json, spans, String::new())
    }

    /// Hands the batch to the outputs.
    fn deliver(&self, encoding: Encoding, relinked: Vec<u8>, warning: String) -> Reply {
        self.outputs.accept(encoding, relinked, &warning)
    }

    /// The Prometheus text of the relay's and the component's counters.
    pub fn prometheus(&self) -> String {
        let (counters, restarts) = self.component_counters();
        self.metrics
            .prometheus(&counters, restarts, &self.outputs.gauges())
    }

    /// The periodic log line.
    pub fn log_line(&self) -> String {
        self.metrics.log_line(&self.component_counters().0)
    }

    fn component_counters(&self) -> (Vec<crate::component::Counter>, u64) {
        match self.relinker.lock() {
            Ok(mut relinker) => (relinker.counters(), relinker.restarts()),
            Err(_) => (Vec::new(), 0),
        }
    }

    /// The component call: the lock is held for this alone. When the instance holding the
    /// state is busy, a free reader reads the request's evidence meanwhile, and the
    /// instance is handed what it read (the same result, in less of its time).
    fn relink(&self, body: &[u8], encoding: Encoding) -> Result<Option<Vec<u8>>, CallError> {
        let wit_encoding = match encoding {
            Encoding::Protobuf => component::Encoding::Protobuf,
            Encoding::Json => component::Encoding::Json,
        };
        let asked = Instant::now();
        let prepared = match self.relinker.try_lock() {
            Ok(relinker) => {
                return self.run(asked, relinker, |relinker| {
                    relinker.process_traces_changed(body, wit_encoding, now_unix_nano())
                })
            }
            Err(TryLockError::Poisoned(_)) => return Err(poisoned()),
            Err(TryLockError::WouldBlock) if encoding == Encoding::Protobuf => {
                self.prepare(body, wit_encoding)
            }
            Err(TryLockError::WouldBlock) => None,
        };
        self.timed(|relinker| match &prepared {
            Some(prepared) => {
                relinker.process_traces_prepared(body, wit_encoding, prepared, now_unix_nano())
            }
            None => relinker.process_traces_changed(body, wit_encoding, now_unix_nano()),
        })
    }

    /// The request's evidence, read on the first free reader; `None` when every reader is
    /// busy or the request cannot be prepared.
    fn prepare(&self, body: &[u8], encoding: component::Encoding) -> Option<Vec<u8>> {
        let mut reader = self.readers.iter().find_map(|r| r.try_lock().ok())?;
        let started = Instant::now();
        let prepared = reader.prepare_traces(body, encoding);
        drop(reader);
        self.metrics
            .count(Event::Prepared(nanos(started.elapsed())));
        prepared
    }

    /// One call into the component under its lock, counting the wait for the lock and the
    /// call's own time (`relink_relay_component_wait_seconds_total`,
    /// `relink_relay_component_seconds_total`).
    fn timed<T>(
        &self,
        call: impl FnOnce(&mut Relinker) -> Result<T, CallError>,
    ) -> Result<T, CallError> {
        let asked = Instant::now();
        let relinker = self.relinker.lock().map_err(|_| poisoned())?;
        self.run(asked, relinker, call)
    }

    /// [`Pipeline::timed`] once the lock, asked for at `asked`, is held.
    fn run<T>(
        &self,
        asked: Instant,
        mut relinker: MutexGuard<'_, Relinker>,
        call: impl FnOnce(&mut Relinker) -> Result<T, CallError>,
    ) -> Result<T, CallError> {
        let got = Instant::now();
        let result = call(&mut relinker);
        let busy = got.elapsed();
        drop(relinker);
        self.metrics
            .count(Event::ComponentWait(nanos(got.duration_since(asked))));
        self.metrics.count(Event::ComponentBusy(nanos(busy)));
        result
    }
}

fn poisoned() -> CallError {
    CallError::Trap("component lock poisoned".to_string())
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn now_unix_nano() -> u64 {
    relink::time::unix_nanos(SystemTime::now())
}
