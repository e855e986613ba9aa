//! The pointer index on its own (issue 9): operations per second and bytes per entry as
//! it fills to 1k, 100k and 1M entries. Each iteration inserts 1000 new keys (at capacity
//! each insert evicts the oldest, so the fill level stays put) and looks up 1000 live ones.
//! The allocator-measured bound is asserted in tests/relink_index_memory.rs; here the
//! index's own `memory_bytes` (allocated capacity) is printed for the table.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use relink::processor::index::{Hit, Index, Side};
use relink::processor::key::Key;
use std::hint::black_box;

/// Uniform 16-byte keys, as SHA-256 prefixes are.
fn key(i: u64) -> Key {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let a = mix(i.wrapping_mul(2).wrapping_add(0x9e37_79b9_7f4a_7c15)).to_le_bytes();
    let b = mix(i.wrapping_mul(2) + 1).to_le_bytes();
    let mut out = [0u8; 16];
    for (o, v) in out.iter_mut().zip(a.iter().chain(b.iter())) {
        *o = *v;
    }
    Key(out)
}

const HIT: Hit = Hit {
    trace: [7; 16],
    span: [9; 8],
    linked: false,
};

fn filled_index(fill: u64) -> Index {
    let mut index = Index::new(fill as usize, 900);
    for i in 0..fill {
        index.insert(key(i), Side::Producer, HIT, 0);
    }
    eprintln!(
        "index at {fill} entries: {} bytes allocated, {:.1} bytes/entry",
        index.memory_bytes(),
        index.memory_bytes() as f64 / index.len().max(1) as f64
    );
    index
}

fn index(c: &mut Criterion) {
    let mut group = c.benchmark_group("index");
    const OPS: u64 = 1_000;
    group.throughput(Throughput::Elements(2 * OPS));
    for fill in [1_000u64, 100_000, 1_000_000] {
        // Filled on the first call only, so a filtered-out benchmark costs nothing.
        let mut filled = None;
        let mut next = fill;
        group.bench_function(BenchmarkId::new("insert+get", fill), |b| {
            let index = filled.get_or_insert_with(|| filled_index(fill));
            b.iter(|| {
                let mut found = 0;
                for _ in 0..OPS {
                    index.insert(key(next), Side::Producer, HIT, 0);
                    let live = key(next - fill / 2);
                    found += usize::from(index.get(live, Side::Producer, 0).is_some());
                    next += 1;
                }
                black_box(found)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, index);
criterion_main!(benches);
