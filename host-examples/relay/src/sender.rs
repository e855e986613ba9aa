//! The upstream senders: `--senders` threads that take batches off the sending queue and
//! deliver them, retrying what OTLP calls retryable ([`crate::retry`]). Clients were
//! answered when their batch was queued, so a slow or absent upstream delays delivery,
//! never an acknowledgement; with several senders one slow batch does not hold up the
//! others.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use relink::otlp::Encoding;

use crate::metrics::{Event, RelayMetrics};
use crate::queue::{Popped, Queue};
use crate::retry::{Backoff, Verdict};
use crate::spool::Spool;
use crate::upstream::Upstream;

/// Set when the shutdown timeout has passed: senders stop retrying and leave what they
/// hold to the spool (or to the count of undelivered batches).
#[derive(Default)]
pub struct Abandon {
    set: Mutex<bool>,
    changed: Condvar,
    /// Sender threads still running, and its own condition (a condvar serves one mutex).
    running: Mutex<usize>,
    exited: Condvar,
}

impl Abandon {
    pub fn set(&self) {
        *self.set.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.changed.notify_all();
    }

    pub fn is_set(&self) -> bool {
        *self.set.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits up to `limit` for every sender thread to return; whether they all did.
    pub fn wait_senders(&self, limit: Duration) -> bool {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let (running, _) = self
            .exited
            .wait_timeout_while(running, limit, |n| *n > 0)
            .unwrap_or_else(PoisonError::into_inner);
        *running == 0
    }

    /// Sleeps `wait` unless abandoned first; `true` when abandoned.
    pub fn sleep(&self, wait: Duration) -> bool {
        let set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        let (set, _) = self
            .changed
            .wait_timeout_while(set, wait, |set| !*set)
            .unwrap_or_else(PoisonError::into_inner);
        *set
    }
}

/// Counts a sender thread out when it ends, however it ends.
struct Running<'a>(&'a Abandon);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        *self
            .0
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner) -= 1;
        self.0.exited.notify_all();
    }
}

/// What every sender shares.
pub struct Senders {
    pub upstream: Arc<Upstream>,
    pub queue: Arc<Queue>,
    pub spool: Option<Arc<Spool>>,
    pub backoff: Backoff,
    pub metrics: Arc<RelayMetrics>,
    pub abandon: Arc<Abandon>,
}

impl Senders {
    /// Starts `count` sender threads.
    pub fn spawn(self, count: usize) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
        let shared = Arc::new(self);
        (0..count)
            .map(|n| {
                let shared = shared.clone();
                *shared
                    .abandon
                    .running
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) += 1;
                std::thread::Builder::new()
                    .name(format!("relink-send-{n}"))
                    .spawn(move || {
                        let _running = Running(&shared.abandon);
                        shared.run();
                    })
            })
            .collect()
    }

    fn run(&self) {
        loop {
            match self.queue.pop(Duration::from_millis(200)) {
                Popped::Batch(batch) => {
                    let (bytes, mut spooled) = (batch.bytes(), batch.spooled);
                    // To write again should its spool segment be removed while the batch is
                    // retried (shared with the request, not copied).
                    let copy = self.spool.as_ref().and(spooled).map(|_| batch.body.clone());
                    let encoding = batch.encoding;
                    let mut respool = || {
                        let (Some(spool), Some(record), Some(body)) = (&self.spool, spooled, &copy)
                        else {
                            return;
                        };
                        match spool.respool(encoding, body, record) {
                            Ok(Some(again)) => spooled = Some(again),
                            Ok(None) => {}
                            Err(e) => {
                                eprintln!("relink: {e}; a batch being retried is in memory alone")
                            }
                        }
                    };
                    // Its bytes stay reserved in the queue until the sender is done with it.
                    if !self.deliver(encoding, batch.body, &mut respool) {
                        // Abandoned at shutdown: the batch stays counted (and spooled).
                        return;
                    }
                    if let (Some(spool), Some(record)) = (&self.spool, spooled) {
                        spool.release(record);
                    }
                    self.queue.finish(bytes);
                }
                Popped::Empty if self.abandon.is_set() => return,
                Popped::Empty => {}
                Popped::Closed => return,
            }
        }
    }

    /// Sends one batch until it is delivered, refused for good or out of time; `false`
    /// when the shutdown timeout cut it short. `failed` runs after each failed attempt.
    fn deliver(&self, encoding: Encoding, body: Bytes, failed: &mut dyn FnMut()) -> bool {
        let url = self.upstream.url();
        let prepared = match self.upstream.prepare(encoding, body) {
            Ok(prepared) => prepared,
            Err(message) => {
                eprintln!("relink: upstream {url}: {message}: the batch is dropped");
                self.metrics.dropped("upstream", "transcode");
                return true;
            }
        };
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (reason, retry_after, credentials) = match self.upstream.send(&prepared) {
                Ok(answer) => match answer.verdict {
                    Verdict::Delivered => {
                        self.metrics.count(Event::UpstreamDelivered);
                        partial_success(&self.metrics, url, answer.partial);
                        return true;
                    }
                    Verdict::Permanent => {
                        eprintln!(
                                "relink: upstream {url} answered {}; not retryable, the batch is dropped",
                                answer.reason
                            );
                        self.metrics.dropped("upstream", &answer.label);
                        return true;
                    }
                    Verdict::Retry => (answer.reason, answer.retry_after, false),
                    Verdict::Credentials => (answer.reason, answer.retry_after, true),
                },
                Err(message) => (message, None, false),
            };
            failed();
            if self.abandon.is_set() {
                return false;
            }
            let elapsed = started.elapsed();
            let Some(wait) = self.backoff.delay(attempt, elapsed, retry_after) else {
                let why = match retry_after {
                    Some(asked) if elapsed < self.backoff.max_elapsed => format!(
                        "it asks to wait {asked:?}, past --retry-max-elapsed {:?}",
                        self.backoff.max_elapsed
                    ),
                    _ => format!("retried for {:?}", self.backoff.max_elapsed),
                };
                eprintln!("relink: upstream {url}: {reason}; {why}, the batch is dropped");
                self.metrics.dropped("upstream", "retries_exhausted");
                return true;
            };
            if attempt == 1 && credentials {
                eprintln!(
                    "relink: upstream {url} refused the relay's credentials ({reason}): check --upstream-header or OTEL_EXPORTER_OTLP_HEADERS; the batch is kept and retried in {wait:?}"
                );
            } else if attempt == 1 {
                eprintln!("relink: upstream {url}: {reason}; retrying in {wait:?}");
            }
            self.metrics.count(Event::Retry);
            if self.abandon.sleep(wait) {
                // Its segment may have gone during the wait.
                failed();
                return false;
            }
        }
    }
}

/// Counts and logs an upstream's partial success: the batch was delivered, but the
/// upstream says it rejected some spans (or warns).
pub fn partial_success(metrics: &RelayMetrics, url: &str, partial: Option<(i64, String)>) {
    let Some((rejected, message)) = partial else {
        return;
    };
    if rejected == 0 && message.is_empty() {
        return;
    }
    metrics.count(Event::UpstreamPartial);
    metrics.count(Event::UpstreamRejectedSpans(
        u64::try_from(rejected).unwrap_or(0),
    ));
    let message: String = message.chars().take(200).collect();
    eprintln!("relink: upstream {url} accepted the batch but rejected {rejected} spans: {message}");
}
