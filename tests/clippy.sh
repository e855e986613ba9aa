#!/usr/bin/env bash
# The clippy step of CI: the core's panic lints (denied in src/lib.rs outside tests) and
# clippy's default set, as errors, over the core library and every other target.
#
#   tests/clippy.sh            the core and the host bindings (lib, all features)
#   tests/clippy.sh --all      also tests, examples and the workspace's other crates
#
# The lints that matter for robustness (`unwrap_used`, `expect_used`, `panic`,
# `indexing_slicing`, `unreachable`, ...) are attributes in src/lib.rs, so a plain
# `cargo clippy` anywhere reports them too; this script makes them (and clippy's default
# warnings on the library) fail the build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

# --all-features: the bindings live in the core crate behind features and are held to the
# same rules; natively that covers every binding's logic.
echo "==> cargo clippy --lib --all-features (core and bindings, warnings are errors)"
cargo clippy --lib --all-features --quiet -- -D warnings
# The host glue that only compiles for its wasm target (the otelwasm imports, the
# component's generated bindings), linted there.
echo "==> cargo clippy --lib for wasm32-wasip1 (fluent-bit, otelwasm) and wasm32-wasip2 (component)"
cargo clippy --lib --target wasm32-wasip1 --features fluent-bit,otelwasm --quiet -- -D warnings
cargo clippy --lib --target wasm32-wasip2 --features component --quiet -- -D warnings
# The Envoy filter's crate: its body handling natively, its proxy-wasm contexts for the
# target Envoy loads.
echo "==> cargo clippy -p relink-envoy --lib (native and wasm32-wasip1)"
cargo clippy -p relink-envoy --lib --quiet -- -D warnings
cargo clippy -p relink-envoy --lib --target wasm32-wasip1 --quiet -- -D warnings

if [ "${1:-}" = "--all" ]; then
  echo "==> cargo clippy --workspace --all-targets (panic lints only in the core)"
  cargo clippy --workspace --all-targets --quiet
fi
