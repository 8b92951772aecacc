#!/bin/sh
# build.sh OUT builds the CRI client into OUT. The one place its build flags
# live: make client-tools and cri.bats both call it, so that the second
# build is a no-op (different flags, e.g. -trimpath, would recompile gRPC).
set -e
cd "$(dirname "$0")"
CGO_ENABLED=0 exec go build -buildvcs=false -o "$1" .
