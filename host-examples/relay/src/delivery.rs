//! Where an acknowledged batch goes: the upstream (through its sending queue and, with
//! `--spool`, the spool; or synchronously with `--queue-bytes 0`) and the `--out` file
//! (its own queue and writer thread). Each output has its own queue and counters, so one
//! failing never stops the other.
//!
//! The acknowledgement rule: a client gets 2xx only once its batch is in every output's
//! queue (and on disk when spooled). If the upstream queue or the spool cannot take it,
//! the client gets 503 with `Retry-After` and keeps the batch. The file's queue is
//! refused the same way when the file is the only output; beside an upstream, a full file
//! queue skips the file for that batch (counted as dropped, output="file") rather than
//! refuse a batch the upstream can take.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use relink::otlp::{self, Encoding};

use crate::export::Reply;
use crate::metrics::{Event, RelayMetrics};
use crate::options::ServeOptions;
use crate::outfile::FileSink;
use crate::queue::{Batch, Queue};
use crate::retry::{Backoff, Verdict};
use crate::sender::{Abandon, Senders};
use crate::spool::{Recovered, Spool};
use crate::upstream::Upstream;
use crate::ServeError;

/// How long a refused client is told to wait: the queue drains at upstream speed, the
/// spool needs an operator or a delivery to free room.
pub const RETRY_QUEUE_FULL: u32 = 5;
pub const RETRY_SPOOL: u32 = 10;

/// The upstream output.
pub enum UpstreamOutput {
    /// `--queue-bytes 0`: each request waits for the upstream's answer and gets it.
    Synchronous(Arc<Upstream>),
    Queued {
        upstream: Arc<Upstream>,
        queue: Arc<Queue>,
        spool: Option<Arc<Spool>>,
    },
}

/// The file output.
pub struct FileOutput {
    pub sink: Arc<FileSink>,
    pub queue: Arc<Queue>,
}

/// Both outputs; see the module docs.
pub struct Outputs {
    pub upstream: Option<UpstreamOutput>,
    pub file: Option<FileOutput>,
    pub metrics: Arc<RelayMetrics>,
    pub abandon: Arc<Abandon>,
}

/// Acknowledged batches an output still held when the relay stopped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Leftover {
    pub upstream: usize,
    pub file: usize,
    /// Whether the upstream's leftovers are kept in the spool.
    pub spooled: bool,
    /// Acknowledged batches lost with spool segments removed while the relay ran.
    pub lost: usize,
}

impl Outputs {
    /// Opens the upstream (queue, spool, senders, replay) and the file (queue, writer).
    pub fn open(
        options: &ServeOptions,
        metrics: &Arc<RelayMetrics>,
    ) -> Result<Outputs, ServeError> {
        let d = &options.delivery;
        let abandon = Arc::new(Abandon::default());
        let thread = |e: std::io::Error| ServeError::system(format!("cannot start a thread: {e}"));
        let open = |config| {
            Upstream::new(config)
                .map(Arc::new)
                .map_err(ServeError::input)
        };
        let upstream = match &options.upstream {
            None => None,
            Some(config) if d.queue_bytes == 0 => Some(UpstreamOutput::Synchronous(open(config)?)),
            Some(config) => {
                let upstream = open(config)?;
                let queue = Arc::new(Queue::new(d.queue_bytes));
                let spool = match &d.spool {
                    None => None,
                    Some(dir) => {
                        let (spool, recovered) =
                            Spool::open(dir, d.spool_max_bytes).map_err(ServeError::input)?;
                        let spool = Arc::new(spool);
                        replay(spool.clone(), recovered, queue.clone(), metrics.clone())
                            .map_err(thread)?;
                        Some(spool)
                    }
                };
                let senders = Senders {
                    upstream: upstream.clone(),
                    queue: queue.clone(),
                    spool: spool.clone(),
                    backoff: Backoff {
                        initial: d.retry_initial,
                        max_interval: d.retry_max_interval,
                        max_elapsed: d.retry_max_elapsed,
                    },
                    metrics: metrics.clone(),
                    abandon: abandon.clone(),
                };
                senders.spawn(d.senders).map_err(thread)?;
                Some(UpstreamOutput::Queued {
                    upstream,
                    queue,
                    spool,
                })
            }
        };
        let file = match &options.out {
            None => None,
            Some(path) => {
                let sink = Arc::new(FileSink::open(path, d.out_fsync).map_err(ServeError::input)?);
                let queue = Arc::new(Queue::new(d.out_queue_bytes));
                crate::outfile::spawn_writer(
                    sink.clone(),
                    queue.clone(),
                    metrics.clone(),
                    abandon.clone(),
                )
                .map_err(thread)?;
                Some(FileOutput { sink, queue })
            }
        };
        Ok(Outputs {
            upstream,
            file,
            metrics: metrics.clone(),
            abandon,
        })
    }

    /// Hands a relinked batch to the outputs and builds the client's answer.
    pub fn accept(&self, encoding: Encoding, body: Vec<u8>, warning: &str) -> Reply {
        let bytes = body.len();
        let file_queue = self.file.as_ref().map(|f| &f.queue);
        let file_reserved = match file_queue {
            Some(queue) if queue.reserve(bytes) => true,
            Some(_) if self.upstream.is_none() => {
                return self.refuse(
                    encoding,
                    "out_queue_full",
                    RETRY_QUEUE_FULL,
                    "the --out queue is full",
                )
            }
            Some(_) => {
                self.metrics.dropped("file", "out_queue_full");
                false
            }
            None => false,
        };
        let give_back = |queue: Option<&Arc<Queue>>| {
            if let (true, Some(queue)) = (file_reserved, queue) {
                queue.unreserve(bytes);
            }
        };
        let spooled = match &self.upstream {
            Some(UpstreamOutput::Queued { queue, spool, .. }) => {
                if !queue.reserve(bytes) {
                    give_back(file_queue);
                    return self.refuse(
                        encoding,
                        "queue_full",
                        RETRY_QUEUE_FULL,
                        "the sending queue is full",
                    );
                }
                match spool
                    .as_ref()
                    .map(|s| s.append(encoding, &body))
                    .transpose()
                {
                    Ok(record) => {
                        if record.is_some() {
                            self.metrics.count(Event::Spooled);
                        }
                        if let Some(spool) = spool.as_ref().filter(|s| s.take_removed()) {
                            respool(queue, spool);
                        }
                        record
                    }
                    Err(message) => {
                        queue.unreserve(bytes);
                        give_back(file_queue);
                        match spool.as_ref().and_then(|s| s.refusal_to_log()) {
                            Some(1) => eprintln!("relink: {message}"),
                            Some(n) => eprintln!(
                                "relink: {message} ({n} requests refused since the last such line)"
                            ),
                            None => {}
                        }
                        return self.refuse(encoding, "spool", RETRY_SPOOL, &message);
                    }
                }
            }
            _ => None,
        };
        if let Some(UpstreamOutput::Synchronous(upstream)) = &self.upstream {
            if let (true, Some(queue)) = (file_reserved, file_queue) {
                queue.push(Batch {
                    encoding,
                    body: body.clone().into(),
                    spooled: None,
                });
            }
            return self.forward(upstream, encoding, body, warning);
        }
        // The outputs share one buffer.
        let body = hyper::body::Bytes::from(body);
        if let (true, Some(queue)) = (file_reserved, file_queue) {
            queue.push(Batch {
                encoding,
                body: body.clone(),
                spooled: None,
            });
        }
        if let Some(UpstreamOutput::Queued { queue, .. }) = &self.upstream {
            queue.push(Batch {
                encoding,
                body,
                spooled,
            });
        }
        success(encoding, 0, warning)
    }

    fn refuse(
        &self,
        encoding: Encoding,
        reason: &'static str,
        seconds: u32,
        message: &str,
    ) -> Reply {
        self.metrics.refused(reason);
        Reply::busy(encoding, seconds, message)
    }

    /// Synchronous mode: sends the batch once and turns the upstream's answer into the
    /// client's. A 2xx becomes our success body (the upstream's partial success merged with
    /// our warning); any other status goes back with its `Retry-After` and a `Status` body
    /// in the client's encoding naming the upstream and what it said (OTLP/HTTP requires
    /// that body; an upstream, or a proxy before it, may answer HTML); no answer at all is
    /// a 502.
    fn forward(
        &self,
        upstream: &Upstream,
        encoding: Encoding,
        body: Vec<u8>,
        warning: &str,
    ) -> Reply {
        let answer = match upstream.send_once(encoding, body) {
            Ok(answer) => answer,
            Err(message) => {
                self.metrics.count(Event::UpstreamError);
                eprintln!("relink: {message}");
                return Reply::status(502, encoding, &message);
            }
        };
        if answer.verdict != Verdict::Delivered {
            self.metrics.count(Event::UpstreamError);
            let message = format!("upstream {}: {}", upstream.url(), answer.reason);
            return Reply {
                retry_after: answer.reply.retry_after,
                ..Reply::status(answer.reply.status, encoding, &message)
            };
        }
        self.metrics.count(Event::UpstreamDelivered);
        crate::sender::partial_success(&self.metrics, upstream.url(), answer.partial.clone());
        let (rejected, upstream_message) = answer.partial.unwrap_or_default();
        let message = [warning, upstream_message.as_str()]
            .iter()
            .filter(|m| !m.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("; ");
        success(encoding, rejected, &message)
    }

    /// Whether a queue refused a batch since it last drained below half, or the spool
    /// refused its last batch within the 10 s it asks clients to wait and deleted no
    /// segment since (not ready).
    pub fn is_full(&self) -> bool {
        let upstream_full = match &self.upstream {
            Some(UpstreamOutput::Queued { queue, spool, .. }) => {
                queue.is_full() || spool.as_ref().is_some_and(|s| s.is_refusing())
            }
            _ => false,
        };
        let file_full =
            self.upstream.is_none() && self.file.as_ref().is_some_and(|f| f.queue.is_full());
        upstream_full || file_full
    }

    /// Gauges for `/metrics`.
    pub fn gauges(&self) -> Vec<(&'static str, u64)> {
        let mut out = Vec::new();
        if let Some(UpstreamOutput::Queued { queue, spool, .. }) = &self.upstream {
            let (bytes, batches) = queue.usage();
            out.push(("relink_relay_queue_bytes", bytes as u64));
            out.push(("relink_relay_queue_batches", batches as u64));
            if let Some(spool) = spool {
                out.push(("relink_relay_spool_bytes", spool.bytes()));
            }
        }
        if let Some(file) = &self.file {
            let (bytes, batches) = file.queue.usage();
            out.push(("relink_relay_out_queue_bytes", bytes as u64));
            out.push(("relink_relay_out_queue_batches", batches as u64));
        }
        out.push(("relink_relay_ready", u64::from(!self.is_full())));
        out
    }

    /// Stops taking batches, lets both outputs drain until `deadline`, then abandons what
    /// is left (it stays in the spool when there is one).
    pub fn drain(&self, deadline: Instant) -> Leftover {
        let upstream_queue = match &self.upstream {
            Some(UpstreamOutput::Queued { queue, .. }) => Some(queue),
            _ => None,
        };
        let file_queue = self.file.as_ref().map(|f| &f.queue);
        for queue in upstream_queue.iter().chain(file_queue.iter()) {
            queue.close();
        }
        let upstream = upstream_queue.map_or(0, |q| q.drain(deadline));
        let file = file_queue.map_or(0, |q| q.drain(deadline));
        self.abandon.set();
        // With a spool, what is left is every batch it still holds: those queued and those
        // in segments replay had not reached yet. Queued batches whose segment someone
        // removed are written again first; what is lost with a removed segment (a batch
        // a sender held when abandoned) is counted.
        let (upstream, lost, spooled) = match &self.upstream {
            Some(UpstreamOutput::Queued {
                upstream,
                queue,
                spool: Some(spool),
            }) => {
                respool(queue, spool);
                // A sender holding a batch of a removed segment writes it again when its
                // attempt ends: wait for that (one attempt at most) before counting.
                if spool.lost_segments() {
                    self.abandon
                        .wait_senders(upstream.timeout() + Duration::from_secs(1));
                }
                let retired = spool.retire();
                (retired.left, retired.lost, true)
            }
            _ => (upstream, 0, false),
        };
        Leftover {
            upstream,
            file,
            spooled,
            lost,
        }
    }
}

/// Writes again every queued batch whose spool segment was removed while the relay ran, so
/// that the spool holds every batch acknowledged and not yet delivered. The queue is not
/// held while the spool writes (a sync each): the batches are found, written, then given
/// their new records, and only then are the old ones released. A batch a sender took
/// meanwhile keeps its old record (the sender writes it again itself after its attempt)
/// and the new one is released.
fn respool(queue: &Queue, spool: &Spool) {
    let mut gone: HashMap<u64, bool> = HashMap::new();
    let mut orphans = Vec::new();
    queue.for_each_waiting(|batch| {
        let Some(record) = batch.spooled else {
            return;
        };
        let missing = *gone
            .entry(record.segment)
            .or_insert_with(|| !spool.holds(record));
        if missing {
            orphans.push((record, batch.encoding, batch.body.clone()));
        }
    });
    let mut written = HashMap::new();
    for (old, encoding, body) in orphans {
        match spool.append(encoding, &body) {
            Ok(new) => {
                written.insert(old, new);
            }
            Err(e) => {
                eprintln!("relink: {e}; batches of removed segments stay in memory alone");
                break;
            }
        }
    }
    if written.is_empty() {
        return;
    }
    let mut placed = 0;
    queue.for_each_waiting(|batch| {
        let Some(new) = batch.spooled.and_then(|old| written.remove(&old)) else {
            return;
        };
        if let Some(old) = batch.spooled.replace(new) {
            spool.release(old);
        }
        placed += 1;
    });
    for new in written.into_values() {
        spool.release(new); // taken by a sender meanwhile
    }
    eprintln!(
        "relink: spool {}: {placed} queued batches written again",
        spool.dir().display()
    );
}

fn success(encoding: Encoding, rejected: i64, message: &str) -> Reply {
    Reply {
        status: 200,
        content_type: encoding.content_type().to_string(),
        retry_after: None,
        body: otlp::encode_response(rejected, message, encoding),
    }
}

/// Feeds the spool's batches from the last run into the queue, one segment at a time,
/// waiting for room rather than holding them all in memory.
fn replay(
    spool: Arc<Spool>,
    recovered: Recovered,
    queue: Arc<Queue>,
    metrics: Arc<RelayMetrics>,
) -> std::io::Result<()> {
    metrics.count(Event::SpoolTorn(recovered.torn));
    if recovered.records == 0 && recovered.torn == 0 {
        return Ok(());
    }
    eprintln!(
        "relink: spool {}: replaying {} batches ({} torn tails or damaged records skipped)",
        spool.dir().display(),
        recovered.records,
        recovered.torn
    );
    std::thread::Builder::new()
        .name("relink-replay".into())
        .spawn(move || {
            for segment in recovered.segments {
                let records = match spool.read_segment(segment) {
                    Ok(records) => records,
                    Err(message) => {
                        eprintln!("relink: {message}; its batches are lost");
                        spool.unreadable(segment);
                        continue;
                    }
                };
                for record in records {
                    if !queue.reserve_waiting(record.body.len(), None) {
                        return; // stopping: the rest stays in the spool
                    }
                    metrics.count(Event::Replayed(1));
                    queue.push(Batch {
                        encoding: record.encoding,
                        body: record.body.into(),
                        spooled: Some(record.record),
                    });
                }
            }
        })?;
    Ok(())
}
