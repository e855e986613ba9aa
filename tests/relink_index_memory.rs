//! Measures the pointer index's memory at one million entries with a counting allocator
//! (not from `size_of` arithmetic) and asserts it stays within the documented bound of
//! 64 bytes per entry; then floods it, directly and through the processor, with millions
//! of unique keys crafted to collide, and asserts the bound holds and the flood stays
//! linear. Run with `--nocapture` to see the report.

use relink::processor::index::{Hit, Index, Side};
use relink::processor::key::Key;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Bytes allocated minus bytes freed by this thread: the harness runs other tests (and
    /// spawns their threads) concurrently, and those allocations must not count here.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: during thread teardown the slot may be gone; those bytes are not ours.
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

fn live() -> usize {
    LIVE.with(Cell::get).max(0) as usize
}

// SAFETY: delegates every call to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: ptr was allocated by System with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The floods are CPU-heavy: one at a time, so their timings mean something.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

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
    let _serial = serial();
    const ENTRIES: usize = 1_000_000;
    let before = live();
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
    let measured = live() - before;
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
    // The count is this thread's alone (see `LIVE`), so the harness's other threads cannot
    // inflate it: the check is exact.
    assert!(
        index.memory_bytes() >= measured,
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

/// Keys crafted against a fixed table hash (the index's before it was seeded): every key
/// folds to the same value, so all of them would share one probe run. Datadog span-pointer
/// links carry their hash from the input, so an attacker can send exactly these.
fn colliding_key(i: u64) -> Key {
    let a = i;
    let b = (i ^ 0x1234_5678_9abc_def0).rotate_right(29);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_le_bytes());
    out[8..].copy_from_slice(&b.to_le_bytes());
    Key(out)
}

#[test]
fn pointer_flood_of_colliding_keys_stays_within_the_bound() {
    let _serial = serial();
    const BOUND: usize = 500_000;
    const FLOOD: u64 = 4_000_000;
    let before = live();
    let start = std::time::Instant::now();
    let mut index = Index::new(BOUND, 900);
    let mut peak = 0usize;
    for i in 0..FLOOD {
        let side = if i % 3 == 0 {
            Side::Consumer
        } else {
            Side::Producer
        };
        let hit = Hit {
            trace: [2; 16],
            span: i.to_be_bytes(),
            linked: false,
        };
        index.insert(colliding_key(i), side, hit, 1_000);
        if i % 65_536 == 0 {
            peak = peak.max(live().saturating_sub(before));
        }
    }
    let elapsed = start.elapsed();
    let measured = live() - before;
    peak = peak.max(measured);
    println!(
        "flood: {FLOOD} colliding keys into a {BOUND}-entry index in {elapsed:?}: \
         {measured} bytes ({:.1} per entry), peak {peak}, {} evicted",
        measured as f64 / BOUND as f64,
        index.evicted()
    );
    assert_eq!(index.len(), BOUND);
    assert_eq!(index.evicted(), FLOOD - BOUND as u64);
    assert!(peak <= 64 * BOUND, "peak {peak} bytes");
    assert!(index.memory_bytes() <= 64 * BOUND);
    // Linear: about 2 s in a debug build. With the unseeded fold, 20,000 of these keys
    // took 10 s and the whole flood would take hours.
    assert!(elapsed.as_secs() < 120, "{elapsed:?}");
    // The newest entries are all found, the oldest are gone.
    for i in FLOOD - 1000..FLOOD {
        let side = if i % 3 == 0 {
            Side::Consumer
        } else {
            Side::Producer
        };
        assert!(
            index.get(colliding_key(i), side, 1_000).is_some(),
            "entry {i}"
        );
    }
    assert!(index.get(colliding_key(1), Side::Producer, 1_000).is_none());
}

/// The same flood as Datadog span-pointer links on spans, through the processor: the
/// index stays at `index.max_entries`, its reported memory within 64 bytes per entry.
#[test]
fn pointer_links_flood_through_the_processor_stays_within_the_configured_bound() {
    let _serial = serial();
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::span::Link;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use relink::otlp::ExportTraceServiceRequest;

    const MAX_ENTRIES: u64 = 20_000;
    const BATCHES: u64 = 25;
    const SPANS: u64 = 8_000;
    let config = format!(r#"{{"index": {{"max_entries": {MAX_ENTRIES}}}}}"#);
    let mut processor =
        match relink::config::Config::from_json(&config).and_then(|c| relink::Processor::new(&c)) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
    let s = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    };
    let start = std::time::Instant::now();
    for batch in 0..BATCHES {
        let spans = (0..SPANS)
            .map(|n| {
                let i = batch * SPANS + n;
                Span {
                    trace_id: [3; 16].to_vec(),
                    span_id: (i + 1).to_be_bytes().to_vec(),
                    links: vec![Link {
                        trace_id: vec![0; 16],
                        span_id: vec![0; 8],
                        attributes: vec![
                            s("link.kind", "span-pointer"),
                            s("ptr.kind", "aws.s3.object"),
                            s("ptr.dir", if i.is_multiple_of(2) { "d" } else { "u" }),
                            s("ptr.hash", &colliding_key(i).to_hex()),
                        ],
                        ..Link::default()
                    }],
                    ..Span::default()
                }
            })
            .collect();
        let mut request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        let now = 1_722_369_353_000_000_000 + batch * 1_000_000_000;
        let outcome = processor.process_request(&mut request, now);
        let gauges = &outcome.counters.index;
        assert!(
            gauges.entries <= MAX_ENTRIES,
            "batch {batch}: {} entries",
            gauges.entries
        );
        assert!(
            gauges.memory_bytes <= 64 * MAX_ENTRIES,
            "batch {batch}: {} bytes",
            gauges.memory_bytes
        );
    }
    let total = processor.counters();
    println!(
        "processor flood: {} pointer links in {:?}; index {} entries, {} bytes, {} evicted",
        BATCHES * SPANS,
        start.elapsed(),
        total.index.entries,
        total.index.memory_bytes,
        total.index.evicted
    );
    assert_eq!(total.index.entries, MAX_ENTRIES);
    assert_eq!(total.index.evicted, BATCHES * SPANS - MAX_ENTRIES);
}
