#!/usr/bin/env bash
# Bench server contract (/work/shared/bench/peers/CONTRACT.md): build | start.
# Node binding of websock (bindings-node, built from source), handlers in JS (server.js).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKG="$(cd "$HERE/../../../bindings-node" && pwd)"
build() {
  if [ ! -d "$PKG/node_modules/@napi-rs/cli" ]; then
    (cd "$PKG" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  fi
  (cd "$PKG" && node scripts/build-native.js >&2)
}
case "${1:-start}" in
  build) build ;;
  start) build; exec node "$HERE/server.js" ;;
  *) echo "usage: run.sh [build|start]" >&2; exit 2 ;;
esac
