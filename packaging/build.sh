#!/usr/bin/env bash
# Configures and builds into BUILD_DIR (default build/, RelWithDebInfo). Extra arguments go to
# cmake, e.g. -DLITESTASH_SANITIZE=address,undefined. LITESTASH_BUILD_TARGET=name builds one
# target only (run.sh builds just the engine).
# Usage: packaging/build.sh [BUILD_DIR] [cmake args...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/build}"
shift || true
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)" ${LITESTASH_BUILD_TARGET:+--target "$LITESTASH_BUILD_TARGET"}
