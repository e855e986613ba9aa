//! Admission control for request bodies: a budget of bytes in flight (bodies being read
//! and bodies waiting for or in processing) and a deadline for reading a whole body, like
//! the Collector's `memory_limiter` in front of its pipeline. A body takes its declared
//! length from the budget before a byte is read (a chunked body takes it as it arrives);
//! the reservation travels with the body until its batch is queued, where the queue's own
//! byte bound takes over. Over budget the client gets 503 with `Retry-After`, so
//! concurrent large bodies wait at the client instead of piling up in the relay's memory.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in KiB so a `u32` permit count covers any body.
const UNIT: usize = 1024;
/// What a body of unknown length takes first, and then per step as it grows.
const STEP: usize = 256 * 1024;
/// How long a client refused for the in-flight budget is asked to wait.
pub const RETRY_INFLIGHT: u32 = 1;

/// Bytes reserved from the budget; given back when dropped.
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
}

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Over `--max-body`: 413.
    TooLarge(String),
    /// Over the in-flight budget: 503 with `Retry-After`.
    Busy(String),
    /// Not read within `--body-timeout`: 503 with `Retry-After` (gRPC `DEADLINE_EXCEEDED`),
    /// both retryable in OTLP.
    Timeout(String),
    /// The connection failed mid-body.
    Broken(String),
}

/// The in-flight budget and the body limits.
pub struct Admission {
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    pub max_body: usize,
    pub body_timeout: Duration,
}

fn units(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

impl Admission {
    pub fn new(budget_bytes: usize, max_body: usize, body_timeout: Duration) -> Admission {
        Admission {
            budget: Arc::new(Semaphore::new(units(budget_bytes) as usize)),
            budget_bytes,
            max_body,
            body_timeout,
        }
    }

    /// Bytes of the budget in use.
    pub fn in_flight(&self) -> usize {
        (units(self.budget_bytes) as usize).saturating_sub(self.budget.available_permits()) * UNIT
    }

    fn take(&self, bytes: usize) -> Result<OwnedSemaphorePermit, Refusal> {
        // A body larger than the whole budget may still enter an idle relay.
        let wanted = units(bytes).min(units(self.budget_bytes));
        self.budget
            .clone()
            .try_acquire_many_owned(wanted.max(1))
            .map_err(|_| {
                Refusal::Busy(format!(
                    "the relay is at its limit of {} bytes of request bodies in flight; retry later",
                    self.budget_bytes
                ))
            })
    }

    /// Reads a whole body of `declared` length (if the request said) within the budget,
    /// `--max-body` and `--body-timeout`.
    pub async fn read(
        &self,
        body: Incoming,
        declared: Option<u64>,
    ) -> Result<(Vec<u8>, Reservation), Refusal> {
        let too_large = || {
            Refusal::TooLarge(format!(
                "request body exceeds the limit of {} bytes",
                self.max_body
            ))
        };
        let declared = match declared {
            Some(n) if n > self.max_body as u64 => {
                return Err(Refusal::TooLarge(format!(
                    "request body of {n} bytes exceeds the limit of {} bytes",
                    self.max_body
                )))
            }
            Some(n) => Some(n as usize),
            None => None,
        };
        let mut reserved = declared.unwrap_or(STEP).min(self.max_body);
        let mut body = body;
        let mut permit = match self.take(reserved) {
            Ok(permit) => permit,
            Err(refusal) => {
                self.discard(&mut body).await;
                return Err(refusal);
            }
        };
        let mut out = Vec::with_capacity(declared.unwrap_or(0));
        let read = async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| Refusal::Broken(format!("request body: {e}")))?;
                let Ok(data) = frame.into_data() else {
                    continue; // trailers
                };
                if out.len() + data.len() > self.max_body {
                    return Err(too_large());
                }
                if out.len() + data.len() > reserved {
                    // Grow by half again (at least a step) so a long chunked body is not
                    // copied once per step.
                    let more = (out.len() + data.len() - reserved)
                        .max(STEP)
                        .max(out.len() / 2);
                    permit.merge(self.take(more)?);
                    reserved += more;
                }
                // Never hold more capacity than is reserved (Vec would double past it).
                if out.capacity() < out.len() + data.len() {
                    out.reserve_exact(reserved.min(self.max_body) - out.len());
                }
                out.extend_from_slice(&data);
            }
            Ok(())
        };
        let outcome = tokio::time::timeout(self.body_timeout, read).await;
        match outcome {
            Ok(Ok(())) => Ok((out, Reservation { _permit: permit })),
            Ok(Err(refusal @ Refusal::Busy(_))) => {
                drop(out);
                self.discard(&mut body).await;
                Err(refusal)
            }
            Ok(Err(refusal)) => Err(refusal),
            Err(_) => Err(Refusal::Timeout(format!(
                "request body not received within {:?}",
                self.body_timeout
            ))),
        }
    }
}

impl Admission {
    /// Reads and forgets the rest of a refused body (up to `--max-body`, within
    /// `--body-timeout`), so the client, still sending, reads the 503 instead of a reset.
    async fn discard(&self, body: &mut Incoming) {
        let drain = async {
            let mut seen = 0usize;
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map_or(0, |d| d.len());
                if seen > self.max_body {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(self.body_timeout, drain).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_counted_in_kib_and_given_back() {
        let admission = Admission::new(10 * UNIT, 100 * UNIT, Duration::from_secs(1));
        let first = admission.take(6 * UNIT);
        assert!(first.is_ok());
        assert_eq!(admission.in_flight(), 6 * UNIT);
        assert!(matches!(admission.take(5 * UNIT), Err(Refusal::Busy(_))));
        drop(first);
        // Larger than the budget: admitted alone.
        let whole = admission.take(50 * UNIT);
        assert!(whole.is_ok());
        assert!(admission.take(1).is_err());
        drop(whole);
        assert_eq!(admission.in_flight(), 0);
    }
}
