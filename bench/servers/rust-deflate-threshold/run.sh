#!/usr/bin/env bash
# The Rust core with permessage-deflate in shared mode with the library's default
# threshold (1024 B: smaller messages are sent without trying to compress them), for
# compressed-echo runs: ../rust-deflate with THRESHOLD=1024. At 32 B the wire bytes are
# the same as ../rust-deflate (a 32 B message compressed without context never shrinks),
# only the wasted compression attempt is skipped.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
THRESHOLD="${THRESHOLD:-1024}" exec "$HERE/../rust-deflate/run.sh" "$@"
