#!/usr/bin/env bash
# Builds the Envoy filter into dist/relink-envoy.wasm: this crate (relink-envoy, the relink
# core with the proxy-wasm binding) for wasm32-wasip1, which Envoy's V8 runtime loads.
# Honours CARGO_TARGET_DIR; every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
cargo build -p relink-envoy --lib --profile wasm --target wasm32-wasip1 --quiet
mkdir -p dist
cp "$TARGET_DIR/wasm32-wasip1/wasm/relink_envoy.wasm" dist/relink-envoy.wasm
echo "dist/relink-envoy.wasm: $(wc -c <dist/relink-envoy.wasm) bytes"
