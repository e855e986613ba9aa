#!/usr/bin/env bash
# Builds every relink artifact into dist/ and runs the main job or the test suite.
#
#   ./build.sh          build everything, then run the bundled serverless scenario
#   ./build.sh test     build everything, then run the whole test suite
#
# Every install step is idempotent: a bare machine (CI, a new laptop) and a warm one run
# the same script.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
MODE=${1:-demo}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*"; }

install_rust_targets() {
  local want=(wasm32-unknown-unknown wasm32-wasip1 wasm32-wasip2) missing=()
  local have; have=$(rustup target list --installed)
  for t in "${want[@]}"; do grep -qx "$t" <<<"$have" || missing+=("$t"); done
  if ((${#missing[@]})); then
    step "installing rust targets: ${missing[*]}"
    rustup target add "${missing[@]}"
  fi
}

install_python_env() {
  # One virtualenv for the Python test clients (OTel SDK, opentelemetry-proto, moto, ...).
  if [ ! -x .venv/bin/python ]; then
    step "creating .venv"
    python3 -m venv .venv
  fi
  local req=tests/clients/requirements.txt stamp=.venv/.requirements.sha
  if [ -f "$req" ]; then
    local sum; sum=$(sha256sum "$req" | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
      step "installing python test clients"
      .venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
      echo "$sum" >"$stamp"
    fi
  fi
}

install_datadog_oracle() {
  # Datadog's Lambda library and tracer, the oracle test_datadog_oracle.py compares relink
  # with, in a virtualenv of their own (ddtrace patches libraries and adds a pytest plugin).
  local req=tests/clients/requirements-datadog.txt stamp=.venv-datadog/.requirements.sha sum
  [ -x .venv-datadog/bin/python ] || python3 -m venv .venv-datadog
  sum=$(sha256sum "$req" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    step "installing Datadog's Lambda library (the oracle's virtualenv)"
    .venv-datadog/bin/pip install --quiet --disable-pip-version-check -r "$req"
    echo "$sum" >"$stamp"
  fi
}

install_node_test_clients() {
  # The Node hooks' real-client test (OTel Node SDK, AWS SDK v3): its npm packages, from its
  # package-lock.json, only when the lock changed.
  local dir=host-examples/instrumentation/node/test/real-clients sum
  sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$dir/node_modules/.lock.sha" 2>/dev/null)" != "$sum" ]; then
    step "installing the Node real-client test's npm packages"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$sum" >"$dir/node_modules/.lock.sha"
  fi
}

build_component() {
  # dist/relink.wasm: the WebAssembly component the relay (and jco, Python wasmtime) runs.
  host-examples/component/build.sh
}

build_native() {
  step "building the core, the relay and the relink CLI (release)"
  cargo build --release --quiet -p relink-cli -p relink-relay
  mkdir -p dist
  cp target/release/relink dist/relink
}

build_web() {
  # The browser playground: relink's wasm-bindgen build and the page, into dist/web/.
  host-examples/playground/build.sh "$ROOT/dist/web"
}

build_hosts() {
  # Host plugins (wasm32-wasip1): Fluent Bit filter_wasm, the otelwasm collector
  # processor and the Envoy proxy-wasm filter.
  step "building dist/relink-fluent-bit.wasm, dist/relink-collector.wasm and dist/relink-envoy.wasm"
  host-examples/fluent-bit/build.sh
  host-examples/collector/build.sh
  host-examples/envoy/build.sh
}

start_fluent_bit_build() {
  # A real Fluent Bit 5.1.1 for host-examples/fluent-bit/tests, built once into
  # target/fluent-bit-5.1.1 (a few minutes of make, then cached). It runs in the background
  # while cargo builds; wait_fluent_bit_build collects it before the tests.
  step "building Fluent Bit 5.1.1 in the background (host-examples/fluent-bit/build-fluent-bit.sh)"
  FLUENT_BIT_LOG=$(mktemp "${TMPDIR:-/tmp}/relink-fluent-bit-build.XXXXXX")
  host-examples/fluent-bit/build-fluent-bit.sh >"$FLUENT_BIT_LOG" 2>&1 &
  FLUENT_BIT_BUILD=$!
}

wait_fluent_bit_build() {
  if ! wait "$FLUENT_BIT_BUILD"; then
    cat "$FLUENT_BIT_LOG" >&2
    echo "building Fluent Bit failed (log above)" >&2
    exit 1
  fi
  echo "Fluent Bit: $(tail -1 "$FLUENT_BIT_LOG")"
}

run_demo() {
  step "relinking the bundled serverless scenario through the relay (dist/relink serve)"
  host-examples/demo/run.sh dist/demo-relinked.jsonl
}

check_no_ignored_tests() {
  # `#[ignore]` would hide a Rust test from `cargo test`; none may exist.
  local found
  found=$(grep -rn --include='*.rs' --exclude-dir=target --exclude-dir=node_modules -E '#\[ignore' . || true)
  if [ -n "$found" ]; then
    printf 'tests hidden by #[ignore] (run them or delete them):\n%s\n' "$found" >&2
    return 1
  fi
}

run_tests() {
  step "no Rust test hidden by #[ignore]"
  check_no_ignored_tests
  step "format and clippy: every crate formatted; the core and every adapter, warnings and panic lints are errors"
  tests/clippy.sh
  step "cargo test: the core (golden files, properties, malformed corpus) and the playground session"
  cargo test -p relink -p relink-web --quiet
  # Everything that links wasmtime runs optimised, sharing build_native's release build: a
  # debug wasmtime compiles the component several times slower.
  step "cargo test --release: CLI, relay, and each host's harness tests (Envoy, Fluent Bit, otelwasm)"
  cargo test --release -p relink-cli -p relink-relay -p relink-harness \
    -p relink-envoy -p relink-fluent-bit -p relink-collector --quiet
  if [ -d tests/clients ] && ls tests/clients/test_*.py >/dev/null 2>&1; then
    step "python client tests"
    .venv/bin/python -m pytest -q tests/clients
  fi
  step "host-examples/envoy/envoy.yaml through Envoy's v3 API (envoy-data-plane)"
  .venv/bin/python -m pytest -q host-examples/envoy/tests
  host-examples/component/build.sh test
  SKIP_BUILD=1 host-examples/playground/test.sh
  wait_fluent_bit_build
  step "Fluent Bit 5.1.1 end to end: the shipped configs with dist/relink-fluent-bit.wasm"
  .venv/bin/python -m pytest -q -rs host-examples/fluent-bit/tests
  # The demo checks its own result (one trace of the expected spans).
  run_demo
}

install_rust_targets
if [ "$MODE" = test ]; then start_fluent_bit_build; fi
build_component
build_native
build_web
build_hosts
case "$MODE" in
  demo) run_demo ;;
  test) install_python_env; install_datadog_oracle; install_node_test_clients; run_tests ;;
  *) echo "usage: $0 [test]" >&2; exit 64 ;;
esac
