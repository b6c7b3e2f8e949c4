#!/usr/bin/env bash
# Peer "go-coder" for wsload; contract: /work/shared/bench/peers/CONTRACT.md.
# usage: PORT=9001 ./run.sh [build|start]   (start = build if needed, then exec the server)
# Needs Go >= 1.21 on PATH; modules come from the Go module proxy, pinned by go.sum.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH="$PATH:/usr/local/go/bin"
BIN="$HERE/build/peer"
build() { (cd "$HERE" && go build -trimpath -o "$BIN" . >&2); }
case "${1:-start}" in
  build) build ;;
  start) build; exec "$BIN" ;;
  *) echo "usage: $0 [build|start]" >&2; exit 2 ;;
esac
