#!/usr/bin/env bash
# Peer "python-websockets-deflate": websockets with its default compression;
# contract: /work/shared/bench/peers/CONTRACT.md.
# usage: PORT=9001 ./run.sh [build|start]   (start = build if needed, then exec the server)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PORT="${PORT:-9001}"
build() {
  # A venv with requirements.txt installed, once per content.
  local stamp="$HERE/.venv/.req.sha" want
  want="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
  if [ -x "$HERE/.venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  python3 -m venv "$HERE/.venv"
  "$HERE/.venv/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt" >&2
  echo "$want" > "$stamp"
}
case "${1:-start}" in
  build) build ;;
  start) build; exec "$HERE/.venv/bin/python" "$HERE/server.py" ;;
  *) echo "usage: $0 [build|start]" >&2; exit 2 ;;
esac
