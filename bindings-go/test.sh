#!/usr/bin/env bash
# One entry point for the Go binding: builds libwebsock.a (build-lib.sh), then runs
# go vet and `go test -race` on the module, and vets/builds/tests the Go examples and the
# Go bench server. Modules (gorilla/websocket for the tests) come from the Go proxy.
# Needs: cargo (Rust) and Go >= 1.21 (found on PATH or in /usr/local/go/bin).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export PATH="$PATH:/usr/local/go/bin:$HOME/.cargo/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
command -v go >/dev/null || { echo "test.sh: Go >= 1.21 is required (https://go.dev/dl)" >&2; exit 1; }

"$HERE/build-lib.sh"

cd "$HERE"
echo "== go vet (bindings-go)"
go vet ./...
echo "== go vet + build (examples/go, bench/servers/go)"
(cd "$ROOT/examples/go" && go vet ./... && go build -o /dev/null ./...)
(cd "$ROOT/bench/servers/go" && go vet ./... && go build -o /dev/null .)
echo "== go test -race (bindings-go)"
go test -race -count=1 ./...
echo "== go test -race (examples/go)"
(cd "$ROOT/examples/go" && go test -race -count=1 ./...)
