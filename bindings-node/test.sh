#!/usr/bin/env bash
# Entry point of the Node binding's checks: install (npm ci; its install script builds the
# native addon from source with `napi build --release`), link the examples to the package
# the way a user would (`npm install` of the folder), type-check the examples with
# `tsc --noEmit`, then run the node:test suite twice, once per event path (driven loop on
# the JS thread, then loop threads), with real `ws` clients over loopback (the TLS test
# needs `openssl` for a self-signed certificate).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
command -v node >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }   # the TLS test makes its certificate
command -v cargo >/dev/null || { echo "test.sh: cargo (Rust) is needed to build the addon" >&2; exit 1; }

cd "$HERE"
echo "== npm ci (builds the native addon)"
npm ci --no-audit --no-fund --loglevel=error
echo "== examples: npm install of the package folder"
(cd "$ROOT/examples/node" && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
echo "== tsc --noEmit on the examples"
npx tsc --noEmit -p "$ROOT/examples/node/tsconfig.json"
echo "== node --test (default event path: one loop driven on the JS thread)"
node --test test/*.test.js
echo "== node --test (loop threads: WEBSOCK_NODE_EVENTS=poll, 2 loops)"
WEBSOCK_NODE_EVENTS=poll WEBSOCK_TEST_LOOPS=2 node --test test/*.test.js
