#!/usr/bin/env bash
# Builds dist/relink-fluent-bit.wasm, the Fluent Bit filter_wasm module (wasm32-wasip1).
# Idempotent; build.sh at the repository root calls it. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
# Exporting wasi-libc's malloc and free makes Fluent Bit's runtime (WAMR) copy each record
# into memory from the module's own allocator instead of its fixed-size app heap
# (Wasm_Heap_Size), so record size is bounded by memory, not by that setting.
cargo rustc --quiet -p relink-fluent-bit --lib --profile wasm --target wasm32-wasip1 --crate-type cdylib \
  -- -C link-arg=--export=malloc -C link-arg=--export=free
mkdir -p dist
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip1/wasm/relink_fluent_bit.wasm" dist/relink-fluent-bit.wasm
echo "dist/relink-fluent-bit.wasm: $(wc -c <dist/relink-fluent-bit.wasm) bytes"
