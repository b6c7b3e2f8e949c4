#!/usr/bin/env bash
# Bench server contract (/work/shared/bench/peers/CONTRACT.md): build | start.
# Builds libwebsock.a through bindings-go/build-lib.sh, then the Go program.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
export PATH="$PATH:/usr/local/go/bin"
BIN="$HERE/build/websock-bench-server-go"
build() {
  "$ROOT/bindings-go/build-lib.sh" >&2
  (cd "$HERE" && go build -trimpath -o "$BIN" . >&2)
}
case "${1:-start}" in
  build) build ;;
  start) build; exec "$BIN" ;;
  *) echo "usage: run.sh [build|start]" >&2; exit 2 ;;
esac
