#!/usr/bin/env bash
# Bench server contract (../../../../shared/bench/peers/CONTRACT.md): build | start.
# The websock Python binding with handlers written in Python (server.py). Build: a local
# venv (.venv/, ignored) with the wheel maturin builds from ../../../bindings-python.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# WEBSOCK_ROOT: build from another checkout (e.g. a snapshot of a commit) instead.
ROOT="${WEBSOCK_ROOT:-$(cd "$HERE/../../.." && pwd)}"
PY="$HERE/.venv/bin/python"
build() {
  if [ ! -x "$PY" ]; then
    python3 -m venv "$HERE/.venv"
    "$HERE/.venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.9,<2" >&2
  fi
  # Rebuild the wheel only when a source of the binding or the core changed.
  local want; want="$(cd "$ROOT" && cat bindings-python/Cargo.toml bindings-python/src/*.rs bindings-python/python/websock/*.py core/Cargo.toml core/src/*.rs core/src/*/*.rs 2>/dev/null | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$HERE/.venv/.src.sha" 2>/dev/null)" = "$want" ]; then return 0; fi
  rm -rf "$HERE/.venv/wheels"
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HERE/.venv/cargo-target}" \
    "$HERE/.venv/bin/maturin" build --release -q -i "$PY" -m "$ROOT/bindings-python/Cargo.toml" -o "$HERE/.venv/wheels" >&2
  "$HERE/.venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$HERE"/.venv/wheels/*.whl >&2
  echo "$want" > "$HERE/.venv/.src.sha"
}
case "${1:-start}" in
  build) build ;;
  start) build; exec "$PY" "$HERE/server.py" ;;
  *) echo "usage: run.sh [build|start]" >&2; exit 2 ;;
esac
