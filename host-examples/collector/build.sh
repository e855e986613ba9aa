#!/usr/bin/env bash
# Builds dist/relink-collector.wasm, the module for the otelwasm collector's `wasm`
# processor (wasm32-wasip1). Idempotent; build.sh at the repository root calls it.
# Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
# cdylib alone: with the rlib beside it fat LTO does not run (0.76 MiB -> 0.83 MiB).
cargo rustc --quiet -p relink-collector --lib --profile wasm --target wasm32-wasip1 --crate-type cdylib
mkdir -p dist
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip1/wasm/relink_collector.wasm" dist/relink-collector.wasm
echo "dist/relink-collector.wasm: $(wc -c <dist/relink-collector.wasm) bytes"
