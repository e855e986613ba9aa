#!/usr/bin/env bash
# The lint step of CI: formatting, then clippy with the workspace's no-panic lints
# (`[workspace.lints]` in Cargo.toml: unwrap, expect, panic, indexing, ...) and clippy's
# default set as errors, over the core and every host adapter, each on its own target.
#
#   tests/clippy.sh            formatting, the core and the host adapters (lib)
#   tests/clippy.sh --all      also tests, examples and the native tools (CLI, relay, harness)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

echo "==> cargo fmt --check (every crate of the workspace, the fuzz targets and the wasm bench host)"
cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check)
(cd benches/wasm && cargo fmt -- --check)

echo "==> cargo clippy: the core and the adapters' native parts (warnings and panic lints are errors)"
cargo clippy -p relink -p relink-envoy -p relink-fluent-bit --lib --quiet -- -D warnings
# Each adapter on the target it ships for, so the host glue (proxy-wasm calls, the otelwasm
# imports, the component's generated bindings) is linted where it compiles.
echo "==> cargo clippy: the adapters for wasm32-wasip1 (Envoy, Fluent Bit, otelwasm), wasm32-wasip2 (component), wasm32-unknown-unknown (browser)"
cargo clippy --lib --target wasm32-wasip1 -p relink-envoy -p relink-fluent-bit -p relink-collector --quiet -- -D warnings
cargo clippy --lib --target wasm32-wasip2 -p relink-component --quiet -- -D warnings
RUSTFLAGS='--cfg getrandom_backend="wasm_js"' \
  cargo clippy --lib --target wasm32-unknown-unknown -p relink-web --quiet -- -D warnings

if [ "${1:-}" = "--all" ]; then
  echo "==> cargo clippy --workspace --all-targets (panic lints only in the core and adapters)"
  cargo clippy --workspace --all-targets --quiet
fi
