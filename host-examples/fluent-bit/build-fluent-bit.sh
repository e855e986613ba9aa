#!/usr/bin/env bash
# Builds a real Fluent Bit 5.1.1 (with filter_wasm, WAMR 2.4.1) for the end-to-end tests in
# host-examples/fluent-bit/tests, once, into a cache under the cargo target directory:
#
#   target/fluent-bit-5.1.1/bin/fluent-bit
#
# Idempotent: a cached binary built from SOURCE_TREE_SHA256 with CMAKE_FLAGS is kept.
# The source is the vendored archive (../shared/vendor relative to the clone root, or
# $FLUENT_BIT_ARCHIVE) checked against its sha256; without it, the v5.1.1 release archive is
# downloaded from GitHub. That archive still holds the folders the vendored one leaves out
# (see ../shared/vendor/README.md), so it cannot match the vendored file's sha256 byte for
# byte: both are checked instead against one content hash of the source tree after those
# folders are removed (SOURCE_TREE_SHA256, computed by tree_sha256 below).
#
# Prints the binary's path as its last line of output.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

VERSION=5.1.1
ARCHIVE_SHA256=0bbcf955f669f5d5d4a52e314d2640187c505c18a4590b11816b80f86d85d330
SOURCE_TREE_SHA256=a8430aadc22628de7d5dc9f1c0fc3bf98b4a60840b5275fb7be13ada9bddcce4
RELEASE_URL=${FLUENT_BIT_URL:-https://github.com/fluent/fluent-bit/archive/refs/tags/v$VERSION.tar.gz}
# The vendored archive sits next to the clone (../shared/vendor); a git worktree looks next
# to the main clone it belongs to.
ARCHIVE=${FLUENT_BIT_ARCHIVE:-$ROOT/../shared/vendor/fluent-bit-$VERSION.tar.gz}
if [ -z "${FLUENT_BIT_ARCHIVE:-}" ] && [ ! -f "$ARCHIVE" ]; then
  common=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  if [ -n "$common" ] && [ -f "$common/../../shared/vendor/fluent-bit-$VERSION.tar.gz" ]; then
    ARCHIVE=$(cd "$common/../../shared/vendor" && pwd)/fluent-bit-$VERSION.tar.gz
  fi
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
CACHE=$TARGET/fluent-bit-$VERSION
BIN=$CACHE/bin/fluent-bit
STAMP=$CACHE/source.sha256

# The recipe verified in ../shared/vendor/README.md: the plugins the examples and tests use
# (forward too: the README's Threaded workaround is tested in the real binary), SQLDB on
# against the system sqlite (SQLDB off does not compile in 5.1.1).
CMAKE_FLAGS=(
  -DFLB_MINIMAL=On
  -DFLB_IN_TAIL=On -DFLB_IN_OPENTELEMETRY=On -DFLB_IN_HTTP=On -DFLB_IN_DUMMY=On -DFLB_IN_FORWARD=On
  -DFLB_FILTER_WASM=On -DFLB_WASM=On
  -DFLB_OUT_HTTP=On -DFLB_OUT_STDOUT=On -DFLB_OUT_FILE=On -DFLB_OUT_OPENTELEMETRY=On
  -DFLB_SQLDB=On -DFLB_PREFER_SYSTEM_LIB_SQLITE=On
  -DFLB_LUAJIT=Off -DFLB_KAFKA=Off -DFLB_ZIG=Off -DFLB_PROXY_GO=Off -DFLB_EXAMPLES=Off
  -DFLB_SHARED_LIB=Off -DFLB_DEBUG=Off -DFLB_RELEASE=On -DFLB_BACKTRACE=Off
  -DFLB_STREAM_PROCESSOR=Off -DFLB_CUSTOM_CALYPTIA=Off
)
# What the cached binary was built from: the source tree and the recipe.
BUILT_FROM="$SOURCE_TREE_SHA256 $(printf '%s\n' "${CMAKE_FLAGS[@]}" | sha256sum | cut -c1-16)"

log() { printf '==> fluent-bit: %s\n' "$*" >&2; }

# What the vendored archive leaves out (and Debian's libsqlite3 replaces the amalgamation).
strip_unvendored() {
  local src=$1
  rm -rf "$src/.github" "$src/documentation" "$src/dockerfiles" "$src/packaging" "$src/snap" \
    "$src/lib/sqlite-amalgamation-3510100/sqlite3.c"
}

# One sha256 over the tree: every regular file's sha256 and every symlink's target, sorted
# by path, so the same source gives the same hash whatever archive or gzip level carried it.
tree_sha256() {
  (
    cd "$1"
    {
      find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
      find . -type l -printf 'link %p -> %l\n' | LC_ALL=C sort
    } | sha256sum | cut -d' ' -f1
  )
}

if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$BUILT_FROM" ]; then
  echo "$BIN"
  exit 0
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs the Debian packages of "$@" that are missing.
install_packages() {
  local want=("$@") missing=() p
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null
  fi
}

mkdir -p "$TARGET"
# Worktrees share one target directory: one build at a time, the others wait for it.
exec 9>"$TARGET/fluent-bit-$VERSION.lock"
flock 9
if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$BUILT_FROM" ]; then
  echo "$BIN"
  exit 0
fi

# The build dependencies of the recipe in ../shared/vendor/README.md.
install_packages cmake flex bison libyaml-dev libssl-dev libsqlite3-dev pkg-config make gcc g++
rm -rf "$CACHE"
mkdir -p "$CACHE"
if [ -f "$ARCHIVE" ]; then
  got=$(sha256sum "$ARCHIVE" | cut -d' ' -f1)
  if [ "$got" != "$ARCHIVE_SHA256" ]; then
    echo "fluent-bit: $ARCHIVE has sha256 $got, expected $ARCHIVE_SHA256" >&2
    exit 1
  fi
  log "unpacking $ARCHIVE"
  tar -xzf "$ARCHIVE" -C "$CACHE"
else
  log "no vendored archive at $ARCHIVE; downloading $RELEASE_URL"
  install_packages curl ca-certificates
  curl -fsSL --retry 3 --max-time 600 -o "$CACHE/download.tar.gz" "$RELEASE_URL"
  tar -xzf "$CACHE/download.tar.gz" -C "$CACHE"
  rm -f "$CACHE/download.tar.gz"
fi
SRC=$CACHE/fluent-bit-$VERSION
strip_unvendored "$SRC"
got=$(tree_sha256 "$SRC")
if [ "$got" != "$SOURCE_TREE_SHA256" ]; then
  echo "fluent-bit: source tree hash $got, expected $SOURCE_TREE_SHA256" >&2
  exit 1
fi

log "cmake + make (a few minutes on 2 cores; cached afterwards)"
mkdir -p "$CACHE/build"
cd "$CACHE/build"
# The source sits inside this repository's target/: stop git there, or the binary would
# report this repository's commit as its own.
GIT_CEILING_DIRECTORIES=$CACHE cmake "$SRC" "${CMAKE_FLAGS[@]}" >"$CACHE/cmake.log" 2>&1 ||
  { tail -40 "$CACHE/cmake.log" >&2; exit 1; }
make -j"$(nproc)" fluent-bit-bin >"$CACHE/make.log" 2>&1 || { tail -60 "$CACHE/make.log" >&2; exit 1; }
mkdir -p "$CACHE/bin"
cp bin/fluent-bit "$BIN"
# Keep the binary and the logs; the sources and objects are ~1 GB the tests never read.
rm -rf "$SRC" "$CACHE/build"
echo "$BUILT_FROM" >"$STAMP"
log "built $("$BIN" --version | head -1)"
echo "$BIN"
