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
# same rules. Every feature builds natively today; one that needs a wasm target would be
# checked with `--target wasm32-...` here instead.
echo "==> cargo clippy --lib --all-features (core and bindings, warnings are errors)"
cargo clippy --lib --all-features --quiet -- -D warnings

if [ "${1:-}" = "--all" ]; then
  echo "==> cargo clippy --workspace --all-targets (panic lints only in the core)"
  cargo clippy --workspace --all-targets --quiet
fi
