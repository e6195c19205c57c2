#!/usr/bin/env bash
# Configures and builds into BUILD_DIR (default build/, RelWithDebInfo). Extra arguments go to
# cmake, e.g. -DLITESTASH_SANITIZE=address,undefined. LITESTASH_BUILD_TARGET="a b" builds
# those targets only (run.sh builds the engine and the cli).
# Usage: packaging/build.sh [BUILD_DIR] [cmake args...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/build}"
shift || true
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# shellcheck disable=SC2086  # a space-separated list of targets
cmake --build "$dir" -j "$(nproc)" ${LITESTASH_BUILD_TARGET:+--target $LITESTASH_BUILD_TARGET}
