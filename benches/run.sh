#!/usr/bin/env bash
# Runs relink's benchmark suite (benches/relink.rs, benches/index.rs) and prints the
# issue 9 ratios: relink against the prost decode+encode baseline measured in the same
# run, spans/s, and the index's size and throughput as it fills.
#
#   benches/run.sh                 # the whole suite, a few minutes on 2 cores
#   WARM=2 MEASURE=5 benches/run.sh   # longer, steadier measurements
#   benches/run.sh otlp-10k        # only benchmarks whose name matches a filter
#
# Criterion's own report is in target/criterion (or $CARGO_TARGET_DIR/criterion); the
# log with the batch descriptions is written to target/bench.log.
#
# When the component has been built (dist/relink.wasm, host-examples/component/build.sh),
# the same batches then run natively and in wasmtime 48 (benches/wasm), which also prints the
# guest's work per span in fuel (the same on every run: compare two component builds with it,
# not with the timings alone). Its wasmtime build is
# long when cold (about 8 minutes on 2 cores): HOSTS_TARGET_DIR=/work/target-hosts reuses the
# one the relay and harness builds keep there.
#
# When the Envoy and collector modules have been built (dist/relink-envoy.wasm,
# dist/relink-collector.wasm: host-examples/envoy/build.sh, host-examples/collector/build.sh),
# the same batches then run natively, through the proxy-wasm module in the Envoy harness and
# through the otelwasm module in the collector harness (the harness crate's example
# plugin_overhead; it reuses the workspace's wasmtime build, so it costs no second one).
set -euo pipefail
cd "$(dirname "$0")/.."

WARM=${WARM:-1}
MEASURE=${MEASURE:-2}
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$TARGET"
LOG="$TARGET/bench.log"

cargo bench --bench relink --bench index -- \
    --warm-up-time "$WARM" --measurement-time "$MEASURE" --noplot "$@" 2>&1 | tee "$LOG"

python3 - "$TARGET/criterion" "$LOG" <<'PY'
import json, os, re, sys

root, log = sys.argv[1], sys.argv[2]
mean = {}
for dirpath, _, files in os.walk(root):
    if os.path.basename(dirpath) == "new" and "estimates.json" in files:
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        mean[bench["full_id"]] = est["mean"]["point_estimate"]  # nanoseconds

def ms(ns):
    return f"{ns / 1e6:9.3f}"

print()
print("relink vs the prost round-trip (decode + encode), same run; mean times in ms")
print(f"{'batch':<22}{'memcpy':>10}{'prost':>10}{'scan':>10}{'relink':>10}{'full':>10}"
      f"{'relink/prost':>14}{'full/prost':>12}{'relink spans/s':>16}")
for spans in ("1k", "10k"):
    for pct in ("0", "10", "100"):
        group = f"otlp-{spans}-spans-{pct}pct"
        m = {k: mean.get(f"{group}/{k}") for k in ("memcpy", "prost-roundtrip", "scan", "relink", "relink-full")}
        if None in m.values():
            continue
        n = 1000 if spans == "1k" else 10000
        print(f"{group:<22}{ms(m['memcpy']):>10}{ms(m['prost-roundtrip']):>10}{ms(m['scan']):>10}{ms(m['relink']):>10}"
              f"{ms(m['relink-full']):>10}{m['relink'] / m['prost-roundtrip']:>13.2f}x"
              f"{m['relink-full'] / m['prost-roundtrip']:>11.2f}x{n / (m['relink'] / 1e9):>16,.0f}")

fills = [(k.rsplit("/", 1)[1], v) for k, v in mean.items() if k.startswith("relink-index-filled/")]
if fills:
    print()
    print("relink on the 10k-span 10% batch as the index fills (limit 1M entries)")
    for fill, ns in sorted(fills, key=lambda x: int(x[0])):
        print(f"  {int(fill):>9,} entries: {ms(ns)} ms, {10000 / (ns / 1e9):>12,.0f} spans/s")

ops = [(k.rsplit("/", 1)[1], v) for k, v in mean.items() if k.startswith("index/insert+get/")]
sizes = {}
with open(log) as f:
    for line in f:
        m = re.match(r"index at (\d+) entries: (\d+) bytes allocated, ([\d.]+) bytes/entry", line)
        if m:
            sizes[m.group(1)] = m.group(3)
if ops:
    print()
    print("index alone: 1000 inserts (evicting at capacity) + 1000 lookups per iteration")
    for fill, ns in sorted(ops, key=lambda x: int(x[0])):
        print(f"  {int(fill):>9,} entries: {sizes.get(fill, '?'):>6} bytes/entry, "
              f"{2000 / (ns / 1e9) / 1e6:6.1f} M ops/s")
PY

if [ -f dist/relink.wasm ]; then
    echo
    CARGO_TARGET_DIR=${HOSTS_TARGET_DIR:-$TARGET} \
        cargo run --quiet --release --manifest-path benches/wasm/Cargo.toml -- dist/relink.wasm
else
    echo
    echo "dist/relink.wasm not built: run host-examples/component/build.sh for the wasm figures"
fi

if [ -f dist/relink-envoy.wasm ] && [ -f dist/relink-collector.wasm ]; then
    echo
    CARGO_TARGET_DIR=${HOSTS_TARGET_DIR:-$TARGET} \
        cargo run --quiet --release -p relink-harness --example plugin_overhead
else
    echo
    echo "dist/relink-envoy.wasm or dist/relink-collector.wasm not built: run host-examples/envoy/build.sh" \
        "and host-examples/collector/build.sh for the plugin figures"
fi
