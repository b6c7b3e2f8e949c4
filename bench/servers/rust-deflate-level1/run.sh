#!/usr/bin/env bash
# The Rust core with permessage-deflate in shared mode at zlib level 1 (fastest), for
# compressed-echo runs: ../rust-deflate with LEVEL=1.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LEVEL="${LEVEL:-1}" exec "$HERE/../rust-deflate/run.sh" "$@"
