#!/usr/bin/env bash
# Peer "node-ws-deflate": Node ws with perMessageDeflate; contract: /work/shared/bench/peers/CONTRACT.md.
# usage: PORT=9001 ./run.sh [build|start]   (start = build if needed, then exec the server)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PORT="${PORT:-9001}"
build() {
  # npm install the exact versions of package.json, once per content.
  local stamp="$HERE/node_modules/.pkg.sha" want
  want="$(sha256sum "$HERE/package.json" | cut -d' ' -f1)"
  if [ -d "$HERE/node_modules" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  (cd "$HERE" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >&2)
  echo "$want" > "$stamp"
}
case "${1:-start}" in
  build) build ;;
  start) build; exec node "$HERE/server.js" ;;
  *) echo "usage: $0 [build|start]" >&2; exit 2 ;;
esac
