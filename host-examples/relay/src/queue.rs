//! A sending queue bounded in bytes, one per output (upstream, file), shared by that
//! output's sender threads. Like the Collector's `sending_queue` (sized in bytes here, so
//! the memory it can hold is known), a batch's bytes count from the moment room is
//! reserved for it until its sender finishes with it, delivered or given up: a batch being
//! retried still holds memory. Full means refuse, never drop: the client gets 503 with
//! `Retry-After` and keeps the batch.
//!
//! Readiness has hysteresis: once a reservation is refused the queue reports full until it
//! drains below half its capacity, so a load balancer does not flap on every batch.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use relink::otlp::Encoding;

/// One acknowledged export on its way to an output.
#[derive(Debug)]
pub struct Batch {
    pub encoding: Encoding,
    /// Shared, so that the file output, a sender's copy for the spool and the request
    /// sent hold one buffer.
    pub body: hyper::body::Bytes,
    /// Where the spool holds it, to release once it is delivered or given up.
    pub spooled: Option<crate::spool::Record>,
}

impl Batch {
    pub fn bytes(&self) -> usize {
        self.body.len()
    }
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Batch>,
    /// Reserved bytes: batches waiting, being pushed or being sent.
    bytes: usize,
    /// Batches accepted and not yet finished (waiting or being sent).
    batches: usize,
    full: bool,
    closed: bool,
}

/// The queue; see the module docs.
pub struct Queue {
    capacity: usize,
    state: Mutex<State>,
    changed: Condvar,
}

/// What [`Queue::pop`] found.
pub enum Popped {
    Batch(Batch),
    /// Nothing within the wait; try again.
    Empty,
    /// Closed and empty: the sender may exit.
    Closed,
}

impl Queue {
    pub fn new(capacity: usize) -> Queue {
        Queue {
            capacity,
            state: Mutex::default(),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the counts half-updated (each update
        // is one statement), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserves room for `bytes`; `false` when the queue is full or closed. A batch larger
    /// than the whole queue is admitted into an empty queue, so no size is refused forever.
    pub fn reserve(&self, bytes: usize) -> bool {
        let mut state = self.lock();
        let fits = state.bytes == 0 || state.bytes.saturating_add(bytes) <= self.capacity;
        if state.closed || !fits {
            state.full = true;
            return false;
        }
        state.bytes += bytes;
        state.batches += 1;
        true
    }

    /// Like [`Queue::reserve`] but waits (bounded by `deadline`) for room: the spool's
    /// replay fills the queue this way instead of being refused.
    pub fn reserve_waiting(&self, bytes: usize, deadline: Option<Instant>) -> bool {
        let mut state = self.lock();
        loop {
            if state.closed {
                return false;
            }
            if state.bytes == 0 || state.bytes.saturating_add(bytes) <= self.capacity {
                state.bytes += bytes;
                state.batches += 1;
                return true;
            }
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(Duration::from_millis(200)),
                    _ => return false,
                },
                None => Duration::from_millis(200),
            };
            state = match self.changed.wait_timeout(state, wait) {
                Ok((s, _)) => s,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Gives back a reservation that will not be pushed (the spool refused the batch).
    pub fn unreserve(&self, bytes: usize) {
        self.finish(bytes);
    }

    /// Queues a batch whose room was reserved.
    pub fn push(&self, batch: Batch) {
        self.lock().waiting.push_back(batch);
        self.changed.notify_one();
    }

    /// Calls `f` on every batch waiting (not being sent), oldest first.
    pub fn for_each_waiting(&self, f: impl FnMut(&mut Batch)) {
        self.lock().waiting.iter_mut().for_each(f);
    }

    /// The oldest batch, waiting up to `wait` for one.
    pub fn pop(&self, wait: Duration) -> Popped {
        let mut state = self.lock();
        if state.waiting.is_empty() && !state.closed {
            state = match self.changed.wait_timeout(state, wait) {
                Ok((s, _)) => s,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        match state.waiting.pop_front() {
            Some(batch) => Popped::Batch(batch),
            None if state.closed => Popped::Closed,
            None => Popped::Empty,
        }
    }

    /// A sender is done with a batch of `bytes` (delivered or given up).
    pub fn finish(&self, bytes: usize) {
        let mut state = self.lock();
        state.bytes = state.bytes.saturating_sub(bytes);
        state.batches = state.batches.saturating_sub(1);
        if state.bytes <= self.capacity / 2 {
            state.full = false;
        }
        drop(state);
        self.changed.notify_all();
    }

    /// No more batches will be accepted; senders exit once the queue is empty.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// `(bytes, batches)` accepted and not finished.
    pub fn usage(&self) -> (usize, usize) {
        let state = self.lock();
        (state.bytes, state.batches)
    }

    /// Whether a reservation was refused since the queue last drained below half.
    pub fn is_full(&self) -> bool {
        self.lock().full
    }

    /// Waits until every accepted batch is finished or `deadline` passes; returns the
    /// number of batches still unfinished.
    pub fn drain(&self, deadline: Instant) -> usize {
        let mut state = self.lock();
        while state.batches > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            if left.is_zero() {
                break;
            }
            state = match self
                .changed
                .wait_timeout(state, left.min(Duration::from_millis(100)))
            {
                Ok((s, _)) => s,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        state.batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> Batch {
        Batch {
            encoding: Encoding::Json,
            body: vec![b'x'; n].into(),
            spooled: None,
        }
    }

    #[test]
    fn bounded_in_bytes_with_hysteresis() {
        let queue = Queue::new(100);
        assert!(queue.reserve(60));
        queue.push(batch(60));
        assert!(!queue.reserve(60));
        assert!(queue.is_full());
        assert!(queue.reserve(40));
        queue.push(batch(40));
        assert_eq!(queue.usage(), (100, 2));
        let Popped::Batch(first) = queue.pop(Duration::ZERO) else {
            panic!("empty")
        };
        assert_eq!(first.bytes(), 60);
        queue.finish(60);
        assert!(!queue.is_full());
        assert_eq!(queue.drain(Instant::now()), 1);
        queue.close();
        assert!(!queue.reserve(1));
        assert!(matches!(queue.pop(Duration::ZERO), Popped::Batch(_)));
        queue.finish(40);
        assert!(matches!(queue.pop(Duration::ZERO), Popped::Closed));
        assert_eq!(queue.drain(Instant::now()), 0);
    }

    #[test]
    fn an_oversized_batch_enters_an_empty_queue() {
        let queue = Queue::new(10);
        assert!(queue.reserve(50));
        assert!(!queue.reserve(1));
        assert!(!queue.reserve_waiting(1, Some(Instant::now() + Duration::from_millis(10))));
        queue.finish(50);
        assert!(queue.reserve_waiting(5, None));
    }
}
