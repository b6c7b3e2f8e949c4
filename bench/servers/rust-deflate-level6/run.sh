#!/usr/bin/env bash
# The Rust core with permessage-deflate in shared mode at zlib level 6 (zlib's own default,
# what ws and websockets use), for compressed-echo runs: ../rust-deflate with LEVEL=6.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LEVEL="${LEVEL:-6}" exec "$HERE/../rust-deflate/run.sh" "$@"
