#!/usr/bin/env bash
# permessage-deflate with real clients against the engine: Node `ws` (three offers) and
# Python `websockets`, in shared and dedicated modes (interop/run.sh), then the
# compressed-echo load client against the engine and both compression peers (every echo
# is inflated and compared, so a failure or zero messages fails the run).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
cargo build --release -q -p deflate-load
"$ROOT/bench/peers/node-ws-deflate/run.sh" build
"$ROOT/bench/peers/python-websockets-deflate/run.sh" build
"$HERE/interop/run.sh" "${CARGO_TARGET_DIR:-$ROOT/target}/release/interop_server"

command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }
out="$("$HERE/bench.sh" --secs 2 --conns 20 --sizes "32 4096" \
  "$ROOT/bench/servers/rust-deflate" "$ROOT/bench/peers/node-ws-deflate")"
# The other offer (cached client frames, the server keeping its own context): dedicated
# mode must compress even 32 B echoes once its context is primed.
out2="$("$HERE/bench.sh" --secs 2 --conns 20 --sizes "32 4096" --offer client-nct \
  "$ROOT/bench/servers/rust-deflate-dedicated")"
echo "$out"
echo "$out2"
n_ok=$(echo "$out"$'\n'"$out2" | grep -c '"negotiated":true.*"failed_conns":0' || true)
n_z=$(echo "$out2" | grep -c '"echoes_compressed":1.000' || true)
if [ "$n_ok" -ne 6 ] || [ "$n_z" -ne 2 ]; then echo "0 passed, 1 failed: deflate-load runs ($n_ok/6 ok, $n_z/2 compressed)"; exit 1; fi
echo "6 passed, 0 failed: deflate-load runs"
