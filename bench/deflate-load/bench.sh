#!/usr/bin/env bash
# Compressed echo benchmark: starts each peer folder (run.sh contract of
# /work/shared/bench/peers/CONTRACT.md) pinned to CPU 0, drives it with deflate-load
# pinned to CPU 1, for 32 B and 4 KiB JSON-like text, and samples the server's RSS with
# the connections open (before traffic and after it, connections held).
# usage: bench.sh [--conns 100] [--secs 10] [--sizes "32 4096"] PEER_DIR...
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CONNS=100 SECS=10 SIZES="32 4096" PORT="${PORT:-9311}"
peers=()
while [ $# -gt 0 ]; do
  case "$1" in
    --conns) CONNS="$2"; shift 2 ;;
    --secs) SECS="$2"; shift 2 ;;
    --sizes) SIZES="$2"; shift 2 ;;
    *) peers+=("$1"); shift ;;
  esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --release -q -p deflate-load)
LOAD="$CARGO_TARGET_DIR/release/deflate-load"

rss_kb() { # RSS of a process tree
  local pids; pids="$(pgrep -g "$1" || true)"
  local t=0
  for p in $pids; do t=$((t + $(awk '/VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done
  echo "$t"
}

for peer in "${peers[@]}"; do
  name="$(basename "$peer")"
  "$peer/run.sh" build
  for size in $SIZES; do
    log="$(mktemp)"
    PORT=$PORT setsid taskset -c 0 "$peer/run.sh" start >"$log" 2>&1 &
    spid=$!
    for _ in $(seq 600); do grep -q READY "$log" && break; sleep 0.1; done
    grep -q READY "$log" || { echo "$name did not start"; cat "$log"; kill -- -$spid; exit 1; }
    base=$(rss_kb "$spid")
    out="$(taskset -c 1 "$LOAD" --port "$PORT" --conns "$CONNS" --size "$size" --secs "$SECS" --hold 3 2>/tmp/deflate-load.err &
      lp=$!; sleep "$(echo "$SECS + 4" | bc)"; echo "RSS_HELD $(rss_kb "$spid")"; wait $lp)" || { echo "$name: load failed"; cat /tmp/deflate-load.err; }
    held=$(echo "$out" | awk '/RSS_HELD/{print $2}')
    json=$(echo "$out" | grep '^{' || true)
    neg=$(grep negotiated /tmp/deflate-load.err || true)
    echo "$name size=$size $json rss_base_kb=$base rss_held_kb=$held per_conn_bytes=$(( (held - base) * 1024 / CONNS )) $neg"
    kill -TERM -- -$spid 2>/dev/null || true
    wait $spid 2>/dev/null || true
    rm -f "$log"
  done
done
