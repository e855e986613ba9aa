#!/usr/bin/env bash
# Builds the Envoy filter into dist/relink-envoy.wasm: the relink core with the proxy-wasm
# binding (cargo feature `envoy`), for wasm32-wasip1, which Envoy's V8 runtime loads.
# Honours CARGO_TARGET_DIR; every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
cargo build --lib --profile wasm --target wasm32-wasip1 --features envoy --quiet
mkdir -p dist
cp "$TARGET_DIR/wasm32-wasip1/wasm/relink.wasm" dist/relink-envoy.wasm
echo "dist/relink-envoy.wasm: $(wc -c <dist/relink-envoy.wasm) bytes"
