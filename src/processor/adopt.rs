//! The adoption remap: consumer trace id -> producer trace id and the span its roots are
//! parented under, remembered for a TTL so spans of an adopted trace that arrive in later
//! batches are rewritten too.
//!
//! Chains are followed (C adopted into B, then B into A: C's spans end up in A), at most
//! [`MAX_HOPS`] deep; an entry is only ever added from a final trace id to another final
//! trace id, so chains cannot loop.

use std::collections::{HashMap, VecDeque};

/// Longest chain followed.
pub const MAX_HOPS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    to: [u8; 16],
    parent: [u8; 8],
    at: u32,
}

/// Where an adopted trace's spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The final trace id.
    pub trace: [u8; 16],
    /// The span the adopted trace's roots get as parent (first hop).
    pub parent: [u8; 8],
}

/// Bounded remap table, oldest entries forgotten first.
pub struct Remap {
    map: HashMap<[u8; 16], Entry>,
    order: VecDeque<([u8; 16], u32)>,
    max: usize,
    ttl_secs: u32,
}

impl Remap {
    pub fn new(max: usize, ttl_secs: u32) -> Remap {
        Remap {
            map: HashMap::new(),
            order: VecDeque::new(),
            max: max.max(1),
            ttl_secs: ttl_secs.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Where spans of `trace` go, if it was adopted.
    pub fn resolve(&self, trace: [u8; 16]) -> Option<Target> {
        let first = self.map.get(&trace)?;
        let mut to = first.to;
        for _ in 1..MAX_HOPS {
            match self.map.get(&to) {
                Some(next) => to = next.to,
                None => break,
            }
        }
        Some(Target {
            trace: to,
            parent: first.parent,
        })
    }

    /// The trace id spans of `trace` end up with.
    pub fn current(&self, trace: [u8; 16]) -> [u8; 16] {
        self.resolve(trace).map_or(trace, |t| t.trace)
    }

    /// Adopts `from` into `to` under `parent`. Both must be final (not adopted
    /// themselves) and different; returns whether the entry was added.
    pub fn adopt(&mut self, from: [u8; 16], to: [u8; 16], parent: [u8; 8], now_secs: u32) -> bool {
        if from == to || self.map.contains_key(&from) || self.map.contains_key(&to) {
            return false;
        }
        while self.map.len() >= self.max {
            let Some((old, _)) = self.order.pop_front() else {
                break;
            };
            self.map.remove(&old);
        }
        self.map.insert(
            from,
            Entry {
                to,
                parent,
                at: now_secs,
            },
        );
        self.order.push_back((from, now_secs));
        true
    }

    /// Forgets entries older than the TTL.
    pub fn expire(&mut self, now_secs: u32) {
        while let Some((trace, at)) = self.order.front().copied() {
            if now_secs.saturating_sub(at) <= self.ttl_secs {
                break;
            }
            self.order.pop_front();
            if self.map.get(&trace).is_some_and(|e| e.at == at) {
                self.map.remove(&trace);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_resolve_to_the_final_trace_with_the_first_parent() {
        let mut r = Remap::new(10, 60);
        assert!(r.adopt([3; 16], [2; 16], [22; 8], 0));
        assert!(r.adopt([2; 16], [1; 16], [11; 8], 0));
        assert_eq!(
            r.resolve([3; 16]),
            Some(Target {
                trace: [1; 16],
                parent: [22; 8]
            })
        );
        assert_eq!(
            r.resolve([2; 16]),
            Some(Target {
                trace: [1; 16],
                parent: [11; 8]
            })
        );
        assert_eq!(r.current([1; 16]), [1; 16]);
        // Non-final ids and self-adoption are refused.
        assert!(!r.adopt([3; 16], [9; 16], [0; 8], 0));
        assert!(!r.adopt([9; 16], [3; 16], [0; 8], 0));
        assert!(!r.adopt([9; 16], [9; 16], [0; 8], 0));
    }

    #[test]
    fn bounded_and_expiring() {
        let mut r = Remap::new(2, 60);
        r.adopt([1; 16], [10; 16], [0; 8], 0);
        r.adopt([2; 16], [10; 16], [0; 8], 5);
        r.adopt([3; 16], [10; 16], [0; 8], 10);
        assert_eq!(r.len(), 2);
        assert_eq!(r.resolve([1; 16]), None);
        r.expire(66);
        assert_eq!(r.resolve([2; 16]), None);
        assert!(r.resolve([3; 16]).is_some());
        r.expire(71);
        assert_eq!(r.len(), 0);
    }
}
