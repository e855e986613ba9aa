#!/usr/bin/env bash
# Long fuzz runs, one target after another, each until RUNS executions or MAX_SECONDS,
# appending libFuzzer's final statistics to runs/<target>.log (fuzz/RESULTS.md records them).
#
#   fuzz/run.sh                          every target, 10 million executions, at most 1 hour each
#   RUNS=1000000 MAX_SECONDS=600 fuzz/run.sh processor event
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-10000000}
MAX_SECONDS=${MAX_SECONDS:-3600}
python3 seed.py >/dev/null
cargo +nightly fuzz build -s none
mkdir -p runs
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo +nightly fuzz list)
for target in "${targets[@]}"; do
  log=runs/$target.log
  echo "== $(date -u +%FT%TZ) $target: -runs=$RUNS -max_total_time=$MAX_SECONDS -max_len=4096" >>"$log"
  start=$(date +%s)
  status=0
  cargo +nightly fuzz run -s none "$target" "corpus/$target" -- \
    -runs="$RUNS" -max_total_time="$MAX_SECONDS" -max_len=4096 -print_final_stats=1 \
    >>"$log" 2>&1 || status=$?
  echo "== $target exit $status after $(( $(date +%s) - start ))s" >>"$log"
  echo "$target: exit $status, $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1)"
done
