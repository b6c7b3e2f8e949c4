#!/usr/bin/env bash
# Measures server memory per idle wss:// connection (see measure.py). usage: run.sh [N]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
(cd "$ROOT" && cargo build --release -q -p websock-bench-server)
[ -x "$HERE/.venv/bin/python" ] || { python3 -m venv "$HERE/.venv" && "$HERE/.venv/bin/pip" install -q "websockets==15.0.1"; }
exec "$HERE/.venv/bin/python" "$HERE/measure.py" "${1:-2000}"
