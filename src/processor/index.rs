//! The pointer index: recent producer and consumer spans by join key, bounded in entries,
//! age and memory.
//!
//! Layout, chosen for size (about 56 bytes per entry at capacity, measured by
//! `tests/relink_index_memory.rs`):
//! - a ring of fixed-size entries (key, trace id, span id, time, side, flag: 48 bytes) in
//!   insertion order, so the oldest entry is always at the head: eviction when full and
//!   TTL expiry are both "drop from the head", with no per-entry list pointers;
//! - an open-addressing table of `u32` ring positions (load at most 3/4, so 5.3 to 8
//!   bytes per entry), probed linearly and cleaned by backward shift, so there are no
//!   tombstones to accumulate.
//!
//! Re-inserting a key moves it to the newest position (its old ring slot becomes dead and
//! is skipped when it reaches the head), so eviction is oldest-first by last write.
//!
//! Keys are SHA-256 prefixes when relink computes them, but a Datadog span-pointer link
//! brings its `ptr.hash` from the input, so an attacker chooses key bytes freely. The table
//! slot is therefore SipHash with per-index random keys (std's `RandomState`, as `HashMap`
//! uses): a fixed fold let crafted keys share one probe run, and 20,000 of them took 10 s
//! to insert (quadratic; `tests/relink_index_memory.rs` floods it with such keys). The
//! layout is the only thing the seed changes: which entry a lookup finds and which entry
//! is evicted do not depend on it, so output stays deterministic.

use super::key::Key;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// Which side of a join an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Producer,
    Consumer,
}

/// A span found in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub trace: [u8; 16],
    pub span: [u8; 8],
    /// The span was already joined to the other side for this key when it was recorded,
    /// so the other side must not link back (that would duplicate the relation when
    /// output is processed again).
    pub linked: bool,
}

#[derive(Clone, Copy)]
struct Entry {
    key: [u8; 16],
    trace: [u8; 16],
    span: [u8; 8],
    /// Unix seconds of the last write.
    at: u32,
    side: u8,
    linked: bool,
}

/// The bounded index.
pub struct Index {
    slots: Vec<Entry>,
    head: usize,
    /// Ring slots in use, live or dead.
    used: usize,
    capacity: usize,
    ttl_secs: u32,
    /// Ring position + 1 per table slot; 0 is empty.
    table: Vec<u32>,
    live: usize,
    evicted: u64,
    expired: u64,
    hasher: RandomState,
}

impl Index {
    /// An empty index holding at most `max_entries` entries for `ttl_secs` seconds.
    /// Memory grows with use, up to the bound.
    pub fn new(max_entries: usize, ttl_secs: u32) -> Index {
        let capacity = max_entries.clamp(1, u32::MAX as usize - 1);
        Index {
            slots: Vec::new(),
            head: 0,
            used: 0,
            capacity,
            ttl_secs: ttl_secs.max(1),
            table: vec![0; 16],
            live: 0,
            evicted: 0,
            expired: 0,
            hasher: RandomState::new(),
        }
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Entries dropped because the index was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Entries dropped because they outlived the TTL.
    pub fn expired(&self) -> u64 {
        self.expired
    }

    /// Bytes held by the index's buffers (by capacity, i.e. what is allocated).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Index>()
            + self.slots.capacity() * std::mem::size_of::<Entry>()
            + self.table.capacity() * std::mem::size_of::<u32>()
    }

    /// The span recorded for `key` on `side`, if it is younger than the TTL.
    pub fn get(&self, key: Key, side: Side, now_secs: u32) -> Option<Hit> {
        let pos = self.find(&key.0, side as u8)?.1;
        let e = self.slots.get(pos)?;
        if now_secs.saturating_sub(e.at) > self.ttl_secs {
            return None;
        }
        Some(Hit {
            trace: e.trace,
            span: e.span,
            linked: e.linked,
        })
    }

    /// Records a span for `key` on `side`, replacing (and refreshing) an earlier one.
    pub fn insert(&mut self, key: Key, side: Side, hit: Hit, now_secs: u32) {
        // The key's hash, once: finding its old slot and placing it again both start there
        // (removals keep the table's size, so its home slot stays).
        let hash = self.hash(&key.0, side as u8);
        // The old ring slot becomes dead; it is skipped when it reaches the head.
        if let Some((table_slot, _)) = self.find_hashed(hash, &key.0, side as u8) {
            self.remove_table_slot(table_slot);
        }
        if self.used == self.capacity && self.drop_head() {
            self.evicted += 1;
        }
        let pos = (self.head + self.used) % self.capacity;
        let entry = Entry {
            key: key.0,
            trace: hit.trace,
            span: hit.span,
            at: now_secs,
            side: side as u8,
            linked: hit.linked,
        };
        if pos == self.slots.len() {
            if self.slots.len() == self.slots.capacity() {
                let room = self.capacity - self.slots.len();
                self.slots
                    .reserve_exact(room.min(self.slots.len().max(1024)));
            }
            self.slots.push(entry);
        } else if let Some(slot) = self.slots.get_mut(pos) {
            *slot = entry;
        }
        self.used += 1;
        if (self.live + 1) * 4 > self.table.len() * 3 {
            self.grow_table();
        }
        self.place_hashed(hash, pos);
        self.live += 1;
    }

    /// Drops entries older than the TTL (they are at the head, in insertion order).
    pub fn expire(&mut self, now_secs: u32) {
        while self.used > 0 {
            let Some(e) = self.slots.get(self.head) else {
                break;
            };
            if now_secs.saturating_sub(e.at) <= self.ttl_secs {
                break;
            }
            if self.drop_head() {
                self.expired += 1;
            }
        }
    }

    /// Removes the oldest ring slot; returns whether it was live.
    fn drop_head(&mut self) -> bool {
        let pos = self.head;
        let mut was_live = false;
        if let Some(e) = self.slots.get(pos).copied() {
            if let Some((table_slot, found)) = self.find(&e.key, e.side) {
                if found == pos {
                    self.remove_table_slot(table_slot);
                    was_live = true;
                }
            }
        }
        self.head = (self.head + 1) % self.capacity;
        self.used -= 1;
        was_live
    }

    fn hash(&self, key: &[u8; 16], side: u8) -> u64 {
        self.hasher.hash_one((key, side))
    }

    fn home(&self, key: &[u8; 16], side: u8) -> usize {
        self.hash(key, side) as usize & (self.table.len() - 1)
    }

    /// (table slot, ring position) of a live entry.
    fn find(&self, key: &[u8; 16], side: u8) -> Option<(usize, usize)> {
        self.find_hashed(self.hash(key, side), key, side)
    }

    /// [`Index::find`] with the key's hash given.
    fn find_hashed(&self, hash: u64, key: &[u8; 16], side: u8) -> Option<(usize, usize)> {
        let mask = self.table.len() - 1;
        let mut i = hash as usize & mask;
        for _ in 0..self.table.len() {
            let v = *self.table.get(i)?;
            if v == 0 {
                return None;
            }
            let pos = (v - 1) as usize;
            if let Some(e) = self.slots.get(pos) {
                if e.key == *key && e.side == side {
                    return Some((i, pos));
                }
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Puts ring position `pos` into the table (its key is not there).
    fn place(&mut self, pos: usize) {
        let Some(e) = self.slots.get(pos) else {
            return;
        };
        self.place_hashed(self.hash(&e.key, e.side), pos);
    }

    /// [`Index::place`] with the hash of the entry's key given.
    fn place_hashed(&mut self, hash: u64, pos: usize) {
        let mask = self.table.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            match self.table.get_mut(i) {
                Some(v) if *v == 0 => {
                    *v = pos as u32 + 1;
                    return;
                }
                Some(_) => i = (i + 1) & mask,
                None => return,
            }
        }
    }

    /// Empties a table slot and shifts later members of its probe run back, so lookups
    /// never stop early at the hole.
    fn remove_table_slot(&mut self, slot: usize) {
        let mask = self.table.len() - 1;
        let mut hole = slot;
        if let Some(v) = self.table.get_mut(hole) {
            *v = 0;
        }
        self.live -= 1;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let v = match self.table.get(j) {
                Some(v) if *v != 0 => *v,
                _ => return,
            };
            let Some(e) = self.slots.get((v - 1) as usize).copied() else {
                return;
            };
            let home = self.home(&e.key, e.side);
            // The member at j may move to the hole unless its home lies cyclically in
            // (hole, j].
            let stays = if hole <= j {
                home > hole && home <= j
            } else {
                home > hole || home <= j
            };
            if !stays {
                if let Some(h) = self.table.get_mut(hole) {
                    *h = v;
                }
                if let Some(t) = self.table.get_mut(j) {
                    *t = 0;
                }
                hole = j;
            }
        }
    }

    fn grow_table(&mut self) {
        let doubled = vec![0; self.table.len() * 2];
        let old = std::mem::replace(&mut self.table, doubled);
        for v in old.into_iter().filter(|v| *v != 0) {
            self.place((v - 1) as usize);
        }
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
