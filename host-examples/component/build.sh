#!/usr/bin/env bash
# Builds the relink WebAssembly component (dist/relink.wasm) and checks it in every
# component runtime the project supports. build.sh calls it; it also runs on its own.
#
#   host-examples/component/build.sh         build dist/relink.wasm, report its size
#   host-examples/component/build.sh test    build, then the component tests: Python
#                                                  wasmtime (and the world via wasm-tools, and
#                                                  the OTel SDK through the relay), Node (jco)
#
# Every install is idempotent: the wasm32-wasip2 target only when missing, the Python tools
# into the repo's .venv only when host-examples/component/tests/requirements.txt changed, the npm
# packages (jco, and Binaryen for the build) only when host-examples/component/tests/package-lock.json
# changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-build}

step() { printf '\n==> %s\n' "$*"; }

install_target() {
  if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    step "installing rust target wasm32-wasip2"
    rustup target add wasm32-wasip2
  fi
}

build_component() {
  step "building the relink component (wasm32-wasip2)"
  # Panic locations name their source files: the crates.io sources are mapped from the build
  # machine's $CARGO_HOME to /cargo, so the component names no path of the machine that built
  # it (and is 1.7 KB smaller: it must stay under 1 MiB, test_component.py).
  local dir remap=()
  for dir in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
    [ -d "$dir" ] && remap+=("--remap-path-prefix=${dir%/}=/cargo")
  done
  # cdylib alone: with the rlib the manifest also names, fat LTO does not run.
  CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="${remap[*]}" \
    cargo rustc --profile component --target wasm32-wasip2 -p relink-component --lib --crate-type cdylib --quiet
  mkdir -p dist
  cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/component/relink_component.wasm" dist/relink.wasm
  # wasm-opt -Oz on the core module inside: 1.16 -> 0.98 MiB at the speed of the module as
  # built. -O2 and -O3 make wasmtime's code slower (batches with nothing to relink: 1.5x
  # native as built or with -Os/-Oz, 1.9x with -O2/-O3; benches/RESULTS.md, "Component").
  # Binaryen reads no components, so optimize.py takes the module out and puts it back.
  python3 host-examples/component/optimize.py \
    host-examples/component/tests/node_modules/binaryen/bin/wasm-opt dist/relink.wasm -Oz
  local bytes; bytes=$(wc -c <dist/relink.wasm)
  echo "dist/relink.wasm: ${bytes} bytes ($((bytes / 1024)) KiB)"
}

install_python_tools() {
  if [ ! -x .venv/bin/python ]; then
    step "creating .venv"
    python3 -m venv .venv
  fi
  local req=host-examples/component/tests/requirements.txt stamp=.venv/.component-requirements.sha sum
  sum=$(sha256sum "$req" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    step "installing wasm-tools and the Python wasmtime runtime"
    .venv/bin/pip install --quiet --disable-pip-version-check -r "$req"
    echo "$sum" >"$stamp"
  fi
}

install_node_tools() {
  local dir=host-examples/component/tests stamp=host-examples/component/tests/node_modules/.lock.sha sum
  sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    step "installing jco, preview2-shim and binaryen"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$sum" >"$stamp"
  fi
}

run_tests() {
  # The OTel SDK test drives a relay binary: dist/relink (build.sh's CLI) when present.
  if [ -z "${RELINK_RELAY:-}" ] && [ ! -x dist/relink ]; then
    step "building the relay binary"
    cargo build --release -p relink-relay --quiet
    export RELINK_RELAY=target/release/relink-relay
  fi
  step "component: Python wasmtime, wasm-tools world, OTel SDK through the relay"
  .venv/bin/python -m pytest -q host-examples/component/tests
  step "component: Node (jco)"
  (cd host-examples/component/tests && ../../../tests/node_test.sh)
}

install_target
install_node_tools
build_component
case "$MODE" in
  build) ;;
  test) install_python_tools; run_tests ;;
  *) echo "usage: $0 [test]" >&2; exit 64 ;;
esac
