#!/usr/bin/env bash
# Bench server contract (../../../../shared/bench/peers/CONTRACT.md): build | start.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
BIN="$ROOT/target/release/websock-bench-server"
build() { (cd "$ROOT" && cargo build --release -q -p websock-bench-server); }
case "${1:-start}" in
  build) build ;;
  start) build; exec "$BIN" ;;
  *) echo "usage: run.sh [build|start]" >&2; exit 2 ;;
esac
