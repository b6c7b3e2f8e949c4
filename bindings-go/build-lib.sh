#!/usr/bin/env bash
# Builds the C ABI crate (websock-ffi) in release mode and copies what cgo needs into
# this module: lib/<goos>_<goarch>/libwebsock.a and include/websock.h (both git-ignored
# on main; committed only on release tags so `go get` users need no Rust).
# Env: CARGO_TARGET_DIR (default: <repo>/target/go), CARGO_BUILD_JOBS (default 2).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/go}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export PATH="$PATH:$HOME/.cargo/bin:/usr/local/go/bin"
GOOS_ARCH="$(go env GOOS)_$(go env GOARCH)"

(cd "$ROOT" && cargo build --release --quiet -p websock-ffi)

mkdir -p "$HERE/lib/$GOOS_ARCH" "$HERE/include"
# Copy only when changed, so go's build cache stays warm when nothing was rebuilt.
cp -u "$CARGO_TARGET_DIR/release/libwebsock.a" "$HERE/lib/$GOOS_ARCH/libwebsock.a"
cp -u "$ROOT/bindings-c/include/websock.h" "$HERE/include/websock.h"
echo "build-lib.sh: lib/$GOOS_ARCH/libwebsock.a and include/websock.h are up to date" >&2
