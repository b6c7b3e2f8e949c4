#!/usr/bin/env bash
# Real-client interop for core/src/deflate: runs interop_server in each mode and drives
# it with Node ws (three offers) and Python websockets. Needs the two peers' installs
# (bench/peers/*-deflate/run.sh build) and a release build of deflate-load.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVER="$1"
PY="$HERE/../../peers/python-websockets-deflate/.venv/bin/python"
pass=0 fail=0 port=9411
for mode in shared dedicated:12 dedicated:15 dedicated:9; do
  for thr in 0 1024; do
    port=$((port + 1))
    log="$(mktemp)"
    "$SERVER" "$port" "$mode" "$thr" >"$log" 2>&1 &
    spid=$!
    for _ in $(seq 100); do grep -q READY "$log" && break; sleep 0.05; done
    for c in "node $HERE/ws_client.js $port default" "node $HERE/ws_client.js $port nct" "node $HERE/ws_client.js $port bits10" "$PY $HERE/websockets_client.py $port"; do
      if out="$(timeout 20 $c 2>&1)"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED [$mode thr=$thr] $c"; echo "$out"; cat "$log"; fi
    done
    kill "$spid"; wait "$spid" 2>/dev/null || true
    grep -- '->' "$log" | sort -u | sed "s/^/[$mode thr=$thr] /"
    rm -f "$log"
  done
done
echo "$pass passed, $fail failed: deflate interop with real clients"
[ "$fail" -eq 0 ]
