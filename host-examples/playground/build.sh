#!/usr/bin/env bash
# Builds the browser playground into dist/web/ (or the folder given as $1): relink's
# wasm-bindgen build (the relink-web crate here, wasm32-unknown-unknown), the page and its
# samples.
# Serve the folder with any static server, e.g. `python3 -m http.server -d dist/web`.
#
# Idempotent: the Rust target and a wasm-bindgen CLI of exactly the crate's version are
# installed only when missing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$ROOT/dist/web}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*"; }

# The CLI must equal the wasm-bindgen crate Cargo.lock resolved, or its output does not
# load. `--locked` is left out on purpose: the CLI's own lock file names a yanked crate.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

ensure_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "installing rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  local want; want=$(wasm_bindgen_version)
  if [ -z "$want" ]; then
    echo "build.sh: no wasm-bindgen in Cargo.lock" >&2
    exit 1
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $want" ]; then
    step "installing wasm-bindgen-cli $want (a few minutes, once)"
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

build_wasm() {
  step "building relink for the browser (relink-web, wasm32-unknown-unknown)"
  # getrandom 0.3 (pulled in by opentelemetry) needs its backend chosen on this target.
  # RUSTFLAGS with --target reaches only target code, so native builds keep their cache.
  (cd "$ROOT" && RUSTFLAGS='--cfg getrandom_backend="wasm_js"' \
    cargo build --quiet -p relink-web --lib --target wasm32-unknown-unknown --profile web)
  rm -rf "$OUT/pkg"
  wasm-bindgen --target web --no-typescript --out-dir "$OUT/pkg" --out-name relink \
    "${CARGO_TARGET_DIR:-$ROOT/target}/wasm32-unknown-unknown/web/relink_web.wasm"
}

copy_page() {
  step "copying the page and bundling the samples into ${OUT#"$ROOT"/}"
  mkdir -p "$OUT"
  rm -rf "$OUT/js" "$OUT/samples"
  cp "$HERE/index.html" "$HERE/style.css" "$OUT/"
  cp -r "$HERE/js" "$OUT/js"
  node "$HERE/tools/bundle-samples.mjs" "$HERE/samples/samples.json" "$OUT/samples"
}

ensure_tools
build_wasm
copy_page
echo "playground: ${OUT#"$ROOT"/}/index.html"
