#!/usr/bin/env bash
# Builds the playground (build.sh) and runs its tests: the page logic under node, then the
# page itself in Debian's Chromium driven by playwright-core. Screenshots are kept in
# target/playground-screenshots/. SKIP_BUILD=1 reuses an existing dist/web.
#
# Idempotent installs: Chromium (apt) when /usr/bin/chromium is missing, the npm packages
# when node_modules does not hold the locked versions. Never `npx playwright install`: it
# downloads a browser build, which this kind of machine cannot fetch.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

step() { printf '\n==> %s\n' "$*"; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  "$HERE/build.sh"
fi

if [ ! -x /usr/bin/chromium ]; then
  step "installing chromium (Debian package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

lock_sum=$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$HERE/node_modules/.lock.sha" 2>/dev/null)" != "$lock_sum" ]; then
  step "installing the playground's npm packages"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$HERE/node_modules/.lock.sha"
fi

step "playground tests (node, Chromium)"
mkdir -p "$ROOT/target/playground-screenshots"
cd "$HERE"
# The runner's own timeout bounds each test; `timeout` bounds the whole run.
timeout 600 "$ROOT/tests/node_test.sh" --test-timeout=120000 test/model.test.mjs test/playground.test.mjs
