#!/usr/bin/env bash
# Entry script of the Python binding: installs what it needs into bindings-python/.venv
# (maturin, pytest, websockets, mypy from PyPI), builds the native module in release mode
# (maturin develop), type-checks the package and the examples with `mypy --strict`, then
# runs the pytest suite against real `websockets` clients. Exits non-zero on any failure,
# including "no tests collected".
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
VENV="$HERE/.venv"

if ! command -v python3 >/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip
fi
if ! command -v cargo >/dev/null; then
  echo "test.sh: cargo (Rust toolchain) is required to build the native module" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" 2>/dev/null || {
    apt-get update -qq && apt-get install -y -qq python3-venv
    python3 -m venv "$VENV"
  }
fi
"$VENV/bin/pip" install -q --disable-pip-version-check "maturin>=1.9,<2" "pytest>=8" "websockets>=13" "mypy>=1.10"

cd "$HERE"
VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" "$VENV/bin/maturin" develop --release -q

echo "== mypy --strict (package and examples/python)"
"$VENV/bin/mypy" --strict python/websock "$ROOT/examples/python"

echo "== pytest"
set +e
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
