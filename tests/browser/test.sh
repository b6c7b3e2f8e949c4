#!/usr/bin/env bash
# Entry script of the real-browser tests: installs Debian's Chromium when /usr/bin/chromium is
# missing (playwright-core never downloads a browser of its own, and could not here), installs
# playwright-core from the committed package-lock.json (npm ci), builds the chat demo
# (websock-chat) in release mode, then runs the node:test suite in chat.browser.test.mjs.
# Exits non-zero on any failure; a missing browser or binary fails the tests, never skips them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x "$CHROMIUM_PATH" ]; then
  echo "== installing Debian's chromium"
  apt_install chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing node and npm"
  apt_install nodejs npm
fi
if ! command -v cargo >/dev/null; then
  echo "test.sh: cargo (Rust toolchain) is required to build the chat demo" >&2
  exit 1
fi

echo "== npm ci (playwright-core, pinned in package-lock.json)"
cd "$HERE"
npm ci --no-audit --no-fund --loglevel=error

echo "== cargo build --release -p websock-chat"
cd "$ROOT"
cargo build --release -q -p websock-chat
# Wherever CARGO_TARGET_DIR (or a config) puts it, cargo itself says where the target dir is.
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
export CHAT_BIN="$TARGET_DIR/release/websock-chat"

echo "== node --test (headless $("$CHROMIUM_PATH" --version 2>/dev/null || echo chromium))"
cd "$HERE"
# One test file, tests in order; the timeout keeps a hung browser from stalling CI.
node --test --test-concurrency=1 --test-timeout=120000 chat.browser.test.mjs
