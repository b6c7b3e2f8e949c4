#!/usr/bin/env bash
# Compressed echo benchmark: starts each peer folder (run.sh contract of
# /work/shared/bench/peers/CONTRACT.md) pinned to CPU 0, drives it with deflate-load
# pinned to CPU 1, for 32 B and 4 KiB JSON-like text, and samples the server's RSS with
# the connections open (before traffic and after it, connections held). Also samples the
# server's CPU use during the measured window (server_cpu: 1.00 = its CPU fully busy), next
# to the client's own (client_cpu in the JSON), to show which side bounds the run.
# --offer browser|client-nct is passed to deflate-load (see its src/main.rs), and so is
# --client-level N (the client's own zlib level, default 6 as browsers; 1 makes the
# client cheaper where it compresses every message itself, i.e. with context kept).
# usage: bench.sh [--conns 100] [--secs 10] [--sizes "32 4096"] [--offer browser]
#                 [--client-level 6] PEER_DIR...
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CONNS=100 SECS=10 SIZES="32 4096" OFFER=browser CLEVEL=6 PORT="${PORT:-9311}"
peers=()
while [ $# -gt 0 ]; do
  case "$1" in
    --conns) CONNS="$2"; shift 2 ;;
    --secs) SECS="$2"; shift 2 ;;
    --sizes) SIZES="$2"; shift 2 ;;
    --offer) OFFER="$2"; shift 2 ;;
    --client-level) CLEVEL="$2"; shift 2 ;;
    *) peers+=("$1"); shift ;;
  esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --release -q -p deflate-load)
LOAD="$CARGO_TARGET_DIR/release/deflate-load"

cpu_ticks() { # user + system clock ticks of a process tree (all threads)
  local pids; pids="$(pgrep -g "$1" || true)"
  local t=0
  for p in $pids; do t=$((t + $(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}

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
    # The client counts from 2 s (warm-up) to 2 + SECS; sample the server inside that.
    out="$(taskset -c 1 "$LOAD" --port "$PORT" --conns "$CONNS" --size "$size" --secs "$SECS" --hold 3 --offer "$OFFER" --level "$CLEVEL" 2>/tmp/deflate-load.err &
      lp=$!; sleep 2.3; c0=$(cpu_ticks "$spid"); sleep "$(echo "$SECS - 0.6" | bc)"; c1=$(cpu_ticks "$spid")
      echo "SERVER_CPU $(echo "scale=2; ($c1 - $c0) / 100 / ($SECS - 0.6)" | bc)"
      sleep 1.5; echo "RSS_HELD $(rss_kb "$spid")"; wait $lp)" || { echo "$name: load failed"; cat /tmp/deflate-load.err; }
    held=$(echo "$out" | awk '/RSS_HELD/{print $2}')
    scpu=$(echo "$out" | awk '/SERVER_CPU/{print $2}')
    json=$(echo "$out" | grep '^{' || true)
    neg=$(grep negotiated /tmp/deflate-load.err || true)
    echo "$name size=$size offer=$OFFER client_level=$CLEVEL server_cpu=$scpu $json rss_base_kb=$base rss_held_kb=$held per_conn_bytes=$(( (held - base) * 1024 / CONNS )) $neg"
    kill -TERM -- -$spid 2>/dev/null || true
    wait $spid 2>/dev/null || true
    rm -f "$log"
  done
done
