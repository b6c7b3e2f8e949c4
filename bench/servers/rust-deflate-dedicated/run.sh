#!/usr/bin/env bash
# The Rust core with permessage-deflate in dedicated mode (4 KiB windows, context kept),
# for compressed-echo runs: ../rust-deflate with COMPRESSION=dedicated:12.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPRESSION="${COMPRESSION:-dedicated:12}" exec "$HERE/../rust-deflate/run.sh" "$@"
