#!/usr/bin/env bash
# websock-bench: build and run every test (statistics, recommendation arithmetic,
# client framing, real runs against the embedded server, the CLI's fixed interface).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
if ! command -v cargo >/dev/null; then
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  . "$HOME/.cargo/env"
fi
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cd "$ROOT"
cargo test --release -p websock-bench
