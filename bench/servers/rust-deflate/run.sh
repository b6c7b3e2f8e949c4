#!/usr/bin/env bash
# The Rust core with permessage-deflate, for compressed-echo runs (bench/deflate-load):
# echo server; mode from COMPRESSION (shared | dedicated:BITS, default shared); threshold
# from THRESHOLD (default 0, so every message that shrinks is compressed, as the peers do
# with their defaults on 4 KiB messages); level from LEVEL (default: the library's, 1).
# Contract: ../../../../shared/bench/peers/CONTRACT.md. The binary is looked up where cargo
# builds it: $CARGO_TARGET_DIR if set, else the workspace's target/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
build() { (cd "$ROOT" && cargo build --release -q -p deflate-load); }
case "${1:-start}" in
  build) build ;;
  start) build; exec "${CARGO_TARGET_DIR:-$ROOT/target}/release/interop_server" "${PORT:-9001}" "${COMPRESSION:-shared}" "${THRESHOLD:-0}" ${LEVEL:+"$LEVEL"} ;;
  *) echo "usage: run.sh [build|start]" >&2; exit 2 ;;
esac
