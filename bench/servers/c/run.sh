#!/usr/bin/env bash
# Bench server contract (../shared/bench/peers/CONTRACT.md): build | start.
# Builds libwebsock.a (websock-ffi, release) and links server.c into build/server.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
LIB="$TARGET/release/libwebsock.a"
BIN="$HERE/build/server"
build() {
  (cd "$ROOT" && cargo build --release -q -p websock-ffi)
  mkdir -p "$HERE/build"
  if [ ! -x "$BIN" ] || [ "$LIB" -nt "$BIN" ] || [ "$HERE/server.c" -nt "$BIN" ]; then
    gcc -O2 -Wall -Wextra -Werror -std=c11 -I"$ROOT/bindings-c/include" "$HERE/server.c" \
      -o "$BIN" "$LIB" -lpthread -ldl -lm
  fi
}
case "${1:-start}" in
  build) build ;;
  start) build; exec "$BIN" ;;
  *) echo "usage: run.sh [build|start]" >&2; exit 2 ;;
esac
