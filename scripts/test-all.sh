#!/usr/bin/env bash
# Runs every test suite of every language, one after another, and fails if any failed.
# Each suite installs what it needs itself (crates, pip, npm, Go modules, apt packages),
# so this works on a fresh machine. `make test` and `.ci/run` call this script.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# One target folder for every suite's release builds, so the core and its dependencies
# are compiled once (the Python and Node builds still use their own feature sets).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_TERM_COLOR=never

# name | command (run from the repo root)
SUITES=(
  "rust core, demo and bench server|cargo test --release -p websock -p websock-chat -p websock-bench-server"
  "C ABI, man pages, C and Perl examples|bash bindings-c/test.sh"
  "Go binding|bash bindings-go/test.sh"
  "Python binding|bash bindings-python/test.sh"
  "Node binding|bash bindings-node/test.sh"
  "permessage-deflate with real clients (ws, websockets)|bash bench/deflate-load/test.sh"
  "websock-bench|bash bench/websock-bench/test.sh"
  "browser: chat demo and permessage-deflate in headless Chromium|bash tests/browser/test.sh"
)

failed=()
passed=0
start_all=$(date +%s)
for entry in "${SUITES[@]}"; do
  name="${entry%%|*}"
  cmd="${entry#*|}"
  echo
  echo "=== ${name}: ${cmd}"
  t0=$(date +%s)
  if bash -c "$cmd"; then
    passed=$((passed + 1))
    echo "=== ${name}: ok ($(( $(date +%s) - t0 )) s)"
  else
    failed+=("$name")
    echo "=== ${name}: FAILED ($(( $(date +%s) - t0 )) s)"
  fi
done
echo
echo "suites: ${passed} passed, ${#failed[@]} failed ($(( $(date +%s) - start_all )) s)"
for f in "${failed[@]}"; do echo "  failed: $f"; done
[ ${#failed[@]} -eq 0 ]
