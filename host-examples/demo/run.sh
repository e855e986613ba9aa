#!/usr/bin/env bash
# The bundled serverless scenario through the relay (the README's main command runs this).
#
# API Gateway -> orders-api puts an object to S3 -> the notification invokes order-indexer,
# which writes DynamoDB -> the stream invokes order-workflow, which starts a Step Functions
# execution -> its states invoke validate-order and charge-card. Every function exports its
# own spans, as OpenTelemetry instrumentation does; the execution's CloudWatch log lines
# arrive as a raw payload. The inputs are the golden case tests/golden/relink/serverless-demo
# (the tests check the exact output), replayed over HTTP in arrival order.
set -euo pipefail
cd "$(dirname "$0")/../.."
CASE=tests/golden/relink/serverless-demo
OUT=${1:-dist/demo-relinked.jsonl}
RELINK=dist/relink
LOG=$(mktemp)
rm -f "$OUT"

"$RELINK" serve --listen 127.0.0.1:0 --component dist/relink.wasm --config "$CASE/config.json" \
  --out "$OUT" 2>"$LOG" &
RELAY=$!
trap 'kill "$RELAY" 2>/dev/null || true; rm -f "$LOG"' EXIT
ADDR=""
for _ in $(seq 1 100); do
  ADDR=$(sed -n 's|.*listening on http://\([^/]*\)/.*|\1|p' "$LOG" | head -1)
  [ -n "$ADDR" ] && break
  kill -0 "$RELAY" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
[ -n "$ADDR" ] || { echo "the relay did not start:" >&2; cat "$LOG" >&2; exit 1; }

printf '\n--- before: what the backend shows without relink (each function its own trace) ---\n'
"$RELINK" tree "$CASE"/input-*.json

post() { # path file content-type
  curl -sS --fail-with-body -o /dev/null -X POST "http://$ADDR$1" -H "Content-Type: $3" --data-binary "@$2"
}
for n in 1 2 3 4 5; do
  if [ -f "$CASE/input-$n.json" ]; then
    post /v1/traces "$CASE/input-$n.json" application/json
  else
    post /v1/events "$(ls "$CASE"/event-"$n".*)" application/json
  fi
done
kill -TERM "$RELAY"
wait "$RELAY" || true
trap 'rm -f "$LOG"' EXIT

printf '\n--- after: the same spans through relink (one trace, with the Step Functions workflow) ---\n'
"$RELINK" tree "$OUT"
printf '\nrelay: %s\n' "$(grep -m1 'listening on' "$LOG" || true)"
printf 'relinked OTLP/JSON (one export request per line): %s\n' "$OUT"

# The demo checks its own result: one trace of exactly the spans the golden case expects.
python3 host-examples/demo/check.py "$OUT" "$CASE"
