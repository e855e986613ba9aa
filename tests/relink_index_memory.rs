//! Measures the pointer index's memory at one million entries with a counting allocator
//! (not from `size_of` arithmetic) and asserts it stays within the documented bound of
//! 64 bytes per entry. Run with `--nocapture` to see the report.

use relink::relink::index::{Hit, Index, Side};
use relink::relink::key::Key;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates every call to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: ptr was allocated by System with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Uniform 16-byte keys, like SHA-256 prefixes, without hashing a million strings.
fn key(i: u64) -> Key {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b) = (
        mix(i.wrapping_mul(2).wrapping_add(0x9e37_79b9_7f4a_7c15)),
        mix(i.wrapping_mul(2) + 1),
    );
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_le_bytes());
    out[8..].copy_from_slice(&b.to_le_bytes());
    Key(out)
}

#[test]
fn one_million_entries_fit_in_64_bytes_each() {
    const ENTRIES: usize = 1_000_000;
    let before = LIVE.load(Ordering::Relaxed);
    let mut index = Index::new(ENTRIES, 900);
    // More writes than fit, so eviction runs and the index is at capacity.
    for i in 0..(ENTRIES as u64 + ENTRIES as u64 / 5) {
        let side = if i % 2 == 0 {
            Side::Producer
        } else {
            Side::Consumer
        };
        let hit = Hit {
            trace: [1; 16],
            span: i.to_be_bytes(),
            linked: false,
        };
        index.insert(key(i), side, hit, 1_000);
    }
    let measured = LIVE.load(Ordering::Relaxed) - before;
    assert_eq!(index.len(), ENTRIES);
    let per_entry = measured as f64 / ENTRIES as f64;
    println!(
        "index: {ENTRIES} entries, {measured} bytes allocated, {per_entry:.1} bytes per entry \
         (memory_bytes() = {}), {} evicted",
        index.memory_bytes(),
        index.evicted()
    );
    assert!(measured <= 64 * ENTRIES, "{per_entry:.1} bytes per entry");
    assert!(index.memory_bytes() <= 64 * ENTRIES);
    // The counter is process-wide: the test harness's own threads allocate a few hundred
    // bytes meanwhile (seen: 796), so allow 64 KiB of unrelated noise.
    assert!(
        index.memory_bytes() + 64 * 1024 >= measured,
        "memory_bytes() must not under-report"
    );
    // Every recent entry is still found.
    for i in (ENTRIES as u64 / 5)..(ENTRIES as u64 / 5 + 1000) {
        let side = if i % 2 == 0 {
            Side::Producer
        } else {
            Side::Consumer
        };
        assert!(index.get(key(i), side, 1_000).is_some(), "entry {i}");
    }
    assert!(
        index.get(key(0), Side::Producer, 1_000).is_none(),
        "the oldest were evicted"
    );
}
