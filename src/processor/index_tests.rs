use super::*;
use crate::processor::key::Rule;

fn key(i: u64) -> Key {
    Key::of_id(Rule::SqsMessage, &i.to_string())
}

fn hit(i: u64) -> Hit {
    let mut trace = [0u8; 16];
    trace[8..].copy_from_slice(&i.to_be_bytes());
    Hit {
        trace,
        span: i.to_be_bytes(),
        linked: i.is_multiple_of(2),
    }
}

#[test]
fn sides_are_separate_and_reinsert_replaces() {
    let mut ix = Index::new(10, 60);
    ix.insert(key(1), Side::Producer, hit(1), 100);
    assert_eq!(ix.get(key(1), Side::Producer, 100), Some(hit(1)));
    assert_eq!(ix.get(key(1), Side::Consumer, 100), None);
    ix.insert(key(1), Side::Consumer, hit(2), 100);
    ix.insert(key(1), Side::Producer, hit(3), 101);
    assert_eq!(ix.get(key(1), Side::Producer, 101), Some(hit(3)));
    assert_eq!(ix.get(key(1), Side::Consumer, 101), Some(hit(2)));
    assert_eq!(ix.len(), 2);
}

#[test]
fn full_index_evicts_the_oldest_write() {
    let mut ix = Index::new(3, 60);
    for i in 0..3 {
        ix.insert(key(i), Side::Producer, hit(i), 10);
    }
    // Refreshing key 0 makes key 1 the oldest.
    ix.insert(key(0), Side::Producer, hit(0), 11);
    ix.insert(key(3), Side::Producer, hit(3), 12);
    assert_eq!(ix.get(key(1), Side::Producer, 12), None);
    for i in [0, 2, 3] {
        assert_eq!(ix.get(key(i), Side::Producer, 12), Some(hit(i)), "key {i}");
    }
    assert_eq!(ix.len(), 3);
    assert_eq!(ix.evicted(), 1);
}

#[test]
fn entries_older_than_the_ttl_are_not_found_and_expire() {
    let mut ix = Index::new(100, 60);
    ix.insert(key(1), Side::Producer, hit(1), 1_000);
    ix.insert(key(2), Side::Producer, hit(2), 1_050);
    assert_eq!(ix.get(key(1), Side::Producer, 1_060), Some(hit(1)));
    assert_eq!(ix.get(key(1), Side::Producer, 1_061), None);
    ix.expire(1_061);
    assert_eq!(ix.len(), 1);
    assert_eq!(ix.expired(), 1);
    assert_eq!(ix.get(key(2), Side::Producer, 1_061), Some(hit(2)));
    // A clock that goes backwards expires nothing.
    ix.expire(5);
    assert_eq!(ix.len(), 1);
}

#[test]
fn many_inserts_and_removals_keep_every_live_key_findable() {
    // Exercises table growth and backward-shift deletion against a model.
    // The ring holds the last 500 writes; a key is live when its latest write is among
    // them (earlier writes of the same key are dead slots).
    let mut ix = Index::new(500, 1_000_000);
    let mut last_write = std::collections::HashMap::new();
    let rounds = 5_000u64;
    for round in 0..rounds {
        let k = if round % 3 == 0 {
            (round * round) % 200
        } else {
            (round * 7919) % 1_300
        };
        ix.insert(key(k), Side::Producer, hit(round), 1);
        last_write.insert(k, round);
    }
    let mut live = 0;
    for (k, round) in &last_write {
        let got = ix.get(key(*k), Side::Producer, 1);
        if *round >= rounds - 500 {
            live += 1;
            assert_eq!(got, Some(hit(*round)), "recent key {k}");
        } else {
            assert_eq!(got, None, "old key {k}");
        }
    }
    assert_eq!(live, 360, "the sequence repeats keys within the window");
    assert_eq!(ix.len(), live);
}

#[test]
fn capacity_one_and_memory_bound() {
    let mut ix = Index::new(1, 10);
    ix.insert(key(1), Side::Producer, hit(1), 0);
    ix.insert(key(2), Side::Consumer, hit(2), 0);
    assert_eq!(ix.get(key(1), Side::Producer, 0), None);
    assert_eq!(ix.get(key(2), Side::Consumer, 0), Some(hit(2)));
    assert_eq!(std::mem::size_of::<Entry>(), 48);
    let mut big = Index::new(10_000, 10);
    for i in 0..20_000 {
        big.insert(key(i), Side::Producer, hit(i), 0);
    }
    assert_eq!(big.len(), 10_000);
    assert!(
        big.memory_bytes() <= 10_000 * 64,
        "{} bytes",
        big.memory_bytes()
    );
}
