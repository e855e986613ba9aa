#!/usr/bin/env bash
# Fuzz smoke run: every target for a few seconds on the seed corpus; fails on any crash.
#
#   fuzz/smoke.sh            5 seconds per target
#   SMOKE_SECONDS=30 fuzz/smoke.sh
#
# Needs the nightly toolchain and cargo-fuzz. Without them it says so and exits 0: CI must
# not depend on installing cargo-fuzz (`cargo install cargo-fuzz --locked` took 3.5 minutes
# on 2 cores), and a cold build of the targets takes about 5 minutes on top (1 minute
# incremental). Long runs are manual: see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${SMOKE_SECONDS:-5}

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz smoke: skipped (no nightly toolchain)"; exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz smoke: skipped (cargo-fuzz not installed: cargo install cargo-fuzz --locked)"; exit 0
fi

python3 seed.py >/dev/null
# No sanitizer: the core is safe Rust, and without ASan the runs are 2-3 times faster.
# Debug assertions and overflow checks stay on (cargo-fuzz's default).
cargo +nightly fuzz build -s none
mkdir -p runs
failed=()
for target in $(cargo +nightly fuzz list); do
  log=runs/smoke-$target.log
  if cargo +nightly fuzz run -s none "$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -print_final_stats=1 >"$log" 2>&1; then
    echo "fuzz smoke: $target ok ($(grep -o 'Done [0-9]* runs' "$log" || echo '?'))"
  else
    echo "fuzz smoke: $target FAILED, see fuzz/$log and fuzz/artifacts/$target/"
    failed+=("$target")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz smoke: crashes in ${failed[*]}"; exit 1
fi
