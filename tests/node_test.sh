#!/usr/bin/env bash
# Runs `node --test ARGS...` with the TAP reporter and checks its summary: any failure fails,
# and under CI=true any skipped or todo test fails too (a skip in CI is something the suite
# claims but did not check). Skip and todo reasons are always printed.
#
#   tests/node_test.sh [node --test options] FILES...
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
node --test --test-reporter=tap "$@" | tee "$log"
status=${PIPESTATUS[0]}
count() { sed -n "s/^# $1 \([0-9][0-9]*\)$/\1/p" "$log" | tail -1; }
pass=$(count pass) fail=$(count fail) skipped=$(count skipped) todo=$(count todo)
if [ -z "$pass" ] || [ -z "$fail" ]; then
  echo "node --test $*: no TAP summary (status $status)" >&2
  exit 1
fi
if [ "${skipped:-0}" != 0 ] || [ "${todo:-0}" != 0 ]; then
  echo "node --test: ${skipped:-0} skipped, ${todo:-0} todo:" >&2
  grep -E '# (SKIP|TODO)' "$log" >&2 || true
  case "${CI:-}" in
    true | TRUE | True | 1 | yes)
      echo "CI=true: skipped or todo tests fail the run" >&2
      exit 1
      ;;
  esac
fi
if [ "$status" != 0 ] || [ "$fail" != 0 ] || [ "$pass" = 0 ]; then
  echo "node --test: $fail failed, $pass passed (status $status)" >&2
  exit 1
fi
