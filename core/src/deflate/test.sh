#!/usr/bin/env bash
# Runs the permessage-deflate tests. Until core/src/lib.rs declares `mod deflate;`, the
# module is compiled on its own in a generated scratch crate (target/deflate-scratch,
# which includes frame.rs and deflate/ by path); afterwards through `cargo test -p websock`.
# Then builds bench/deflate-load and checks it end to end against the two compression
# peers (Node ws with perMessageDeflate, Python websockets), which installs them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/deflate}" CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

if grep -q '^mod deflate;' "$ROOT/core/src/lib.rs"; then
  (cd "$ROOT" && cargo test -p websock --lib deflate::)
else
  S="$ROOT/target/deflate-scratch"
  mkdir -p "$S/src"
  cat > "$S/Cargo.toml" <<'TOML'
[package]
name = "deflate-scratch"
version = "0.1.0"
edition = "2024"

[workspace]

[dependencies]
flate2 = { version = "1.1", default-features = false, features = ["zlib-rs"] }
bytes = "1"
TOML
  cat > "$S/src/lib.rs" <<'RS'
#![allow(dead_code)]
#[path = "../../../core/src/frame.rs"]
mod frame;
#[path = "../../../core/src/deflate/mod.rs"]
pub mod deflate;
RS
  (cd "$S" && cargo test --lib)
fi

# Real clients against the module (interop_server compiles it by path): Node ws with three
# offers and Python websockets, in shared and dedicated modes, thresholds 0 and 1024.
(cd "$ROOT" && cargo build --release -q -p deflate-load)
"$ROOT/bench/peers/node-ws-deflate/run.sh" build
"$ROOT/bench/peers/python-websockets-deflate/run.sh" build
"$ROOT/bench/deflate-load/interop/run.sh" "$CARGO_TARGET_DIR/release/interop_server"

# Load client against both peers: every echo is inflated and compared, so a run with
# failures or zero messages exits non-zero.
command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }
out="$("$ROOT/bench/deflate-load/bench.sh" --secs 2 --conns 20 --sizes "32 4096" \
  "$ROOT/bench/peers/node-ws-deflate" "$ROOT/bench/peers/python-websockets-deflate")"
echo "$out"
n_ok=$(echo "$out" | grep -c '"negotiated":true.*"failed_conns":0' || true)
if [ "$n_ok" -ne 4 ]; then echo "0 passed, 1 failed: deflate-load against the peers"; exit 1; fi
echo "4 passed, 0 failed: deflate-load against the peers"
